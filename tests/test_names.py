"""One name per concept: `weights`, `resume`, `scorer`; the 0.1 spellings are gone (no release shipped them)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import sdinterp
from _paths import VIDEOS
from sdinterp.cli import main
from sdinterp.testing.planted import make_planted_clips

VIDEO = VIDEOS / "tree.avi"


def _pairs():
    rng = np.random.default_rng(0)
    z1 = rng.normal(size=(20, 4))
    return z1, z1 + 0.3 * rng.normal(size=(20, 4)), ["static", "dynamic"] * 10


def test_scorer_is_the_name_and_method_is_refused():
    z1, z2, f = _pairs()
    new = sdinterp.estimate(z1, z2, f, scorer="pearson")
    assert new.scorer == "pearson"
    assert sdinterp.BiasMetric(scorer="pearson").update(z1, z2, f).compute() == new
    with pytest.raises(TypeError, match="unexpected keyword argument 'method'"):
        sdinterp.estimate(z1, z2, f, method="pearson")
    with pytest.raises(TypeError, match="unexpected keyword argument 'method'"):
        sdinterp.BiasMetric(method="pearson")
    assert not hasattr(new, "method")
    metric = sdinterp.BiasMetric().update(z1, z2, f)
    assert not hasattr(metric, "method") and not hasattr(metric, "sync")


def test_report_json_needs_the_scorer_key():
    z1, z2, f = _pairs()
    d = sdinterp.estimate(z1, z2, f).to_dict()
    assert sdinterp.LayerBias.from_dict(d).scorer == "official"
    d["method"] = d.pop("scorer")
    with pytest.raises(KeyError, match="scorer"):
        sdinterp.LayerBias.from_dict(d)


def test_resume_is_the_name_and_checkpoint_is_refused(tmp_path, example_model):
    clips = make_planted_clips(4)
    sd = sdinterp.StaticDynamic(example_model)
    sd.attribute(clips, n_pairs=4, batch_size=9, show_progress=False, resume=str(tmp_path / "a.state"))
    assert (tmp_path / "a.state").is_file()
    for old in ("checkpoint", "checkpoint_every"):
        with pytest.raises(TypeError, match=f"unknown run option.*{old}"):
            sd.attribute(clips, n_pairs=4, **{old: str(tmp_path / "b.state")})
    with pytest.raises(TypeError, match="unknown run option"):
        sd.attribute(clips, n_pairs=4, n_pair=3)


def test_weights_is_the_name(tmp_path):
    torch.manual_seed(1)
    source = sdinterp.load_model("torchvision:r3d_18", num_frames=4, crop_size=32)
    path = tmp_path / "w.pth"
    torch.save(source.model.state_dict(), path)
    loaded = sdinterp.load_model("torchvision:r3d_18", num_frames=4, crop_size=32, weights=str(path))
    for a, b in zip(source.model.state_dict().values(), loaded.model.state_dict().values()):
        assert torch.equal(a, b)


def test_cli_weights_flag_and_the_old_flag_is_refused(tmp_path, capsys):
    args = ["report", "example:tiny", str(VIDEO), "--n-pairs", "2", "--clip-length", "8", "--no-progress"]
    (tmp_path / "w.pth").write_bytes(b"")
    with pytest.raises(SystemExit) as exit_:
        main(args + ["--checkpoint-file", str(tmp_path / "w.pth")])
    assert exit_.value.code == 2 and "--checkpoint-file" in capsys.readouterr().err
