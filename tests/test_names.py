"""One name per concept: `weights`, `resume`, `scorer`; the 0.1 spellings still work and warn."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

import sdinterp
from sdinterp.cli import main
from sdinterp.testing.planted import make_planted_clips

VIDEO = Path(__file__).resolve().parents[2] / "shared" / "data" / "videos" / "tree.avi"


def _pairs():
    rng = np.random.default_rng(0)
    z1 = rng.normal(size=(20, 4))
    return z1, z1 + 0.3 * rng.normal(size=(20, 4)), ["static", "dynamic"] * 10


def test_scorer_is_the_name_and_method_warns():
    z1, z2, f = _pairs()
    new = sdinterp.estimate(z1, z2, f, scorer="pearson")
    with pytest.deprecated_call(match="'method' is deprecated, use 'scorer'"):
        old = sdinterp.estimate(z1, z2, f, method="pearson")
    assert old == new and new.scorer == "pearson"
    with pytest.deprecated_call():
        assert sdinterp.BiasMetric(method="pearson").update(z1, z2, f).compute() == new
    with pytest.raises(TypeError, match="give only 'scorer'"):
        sdinterp.estimate(z1, z2, f, scorer="pearson", method="official")
    with pytest.raises(TypeError, match="unexpected keyword"):
        sdinterp.estimate(z1, z2, f, methd="pearson")
    with pytest.deprecated_call():
        assert new.method == "pearson"
    metric = sdinterp.BiasMetric().update(z1, z2, f)
    with pytest.deprecated_call():
        metric.sync()


def test_report_json_reads_the_old_method_key():
    z1, z2, f = _pairs()
    d = sdinterp.estimate(z1, z2, f).to_dict()
    d["method"] = d.pop("scorer")
    assert sdinterp.LayerBias.from_dict(d).scorer == "official"


def test_resume_is_the_name_and_checkpoint_warns(tmp_path):
    clips = make_planted_clips(4)
    sd = sdinterp.StaticDynamic(sdinterp.load_model("example:tiny"))
    new = sd.attribute(clips, n_pairs=4, batch_size=9, show_progress=False, resume=str(tmp_path / "a.state"))
    with pytest.deprecated_call(match="'checkpoint' is deprecated, use 'resume'"):
        old = sd.attribute(clips, n_pairs=4, batch_size=9, show_progress=False, checkpoint=str(tmp_path / "b.state"))
    assert (tmp_path / "b.state").is_file() and old.to_json() == new.to_json()
    with pytest.raises(TypeError, match="unknown run option"):
        sd.attribute(clips, n_pairs=4, n_pair=3)


def test_weights_is_the_name_and_checkpoint_warns(tmp_path):
    torch.manual_seed(1)
    source = sdinterp.load_model("torchvision:r3d_18", num_frames=4, crop_size=32)
    path = tmp_path / "w.pth"
    torch.save(source.model.state_dict(), path)
    new = sdinterp.load_model("torchvision:r3d_18", num_frames=4, crop_size=32, weights=str(path))
    with pytest.deprecated_call(match="'checkpoint' is deprecated, use 'weights'"):
        old = sdinterp.load_model("torchvision:r3d_18", num_frames=4, crop_size=32, checkpoint=str(path))
    for a, b in zip(new.model.state_dict().values(), old.model.state_dict().values()):
        assert torch.equal(a, b)


def test_cli_weights_flag_and_deprecated_alias(tmp_path, capsys):
    args = ["report", "example:tiny", str(VIDEO), "--n-pairs", "2", "--clip-length", "8", "--no-progress"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # example:tiny takes no weights option: the flag reaches the loader under its new name.
        (tmp_path / "w.pth").write_bytes(b"")
        assert main(args + ["--checkpoint-file", str(tmp_path / "w.pth")]) == 0
    assert "--checkpoint-file is deprecated, use --weights" in capsys.readouterr().err
