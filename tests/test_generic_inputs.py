"""Users' own models: the generic adapter lists only modules that run, explains a model it cannot
feed, and the documented subclasses (docs/your_model.md) adapt dict- and list-input models with
their options honoured."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import torch
from torch import nn

import sdinterp
from sdinterp.adapters.generic import GenericVideoAdapter
from sdinterp.errors import UnsupportedModelError
from sdinterp.testing import check_adapter
from sdinterp.testing.planted import make_planted_clips

CLIPS = make_planted_clips(4, size=16)


class WithUnusedContainer(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Conv3d(3, 4, 3, padding=1), nn.ReLU(), nn.Conv3d(4, 6, 3, stride=2))
        self.aux = nn.ModuleDict({"never": nn.Conv3d(6, 2, 1)})  # an auxiliary head a forward never uses

    def forward(self, x):
        return self.body(x).mean(dim=(2, 3, 4))


class DictModel(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv3d(3, 5, 3, padding=1)

    def forward(self, inputs):
        return self.conv(inputs["video"]).mean(dim=(2, 3, 4)) * inputs["fps"][:, None] / 25.0


class TwoPathwayModel(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.slow, self.fast = nn.Conv3d(3, 4, 3, padding=1), nn.Conv3d(3, 2, 3, padding=1)

    def forward(self, pathways):
        slow, fast = pathways
        assert fast.shape[2] == 4 * slow.shape[2]
        return torch.cat([self.slow(slow).mean(dim=(2, 3, 4)), self.fast(fast).mean(dim=(2, 3, 4))], 1)


class DictInputAdapter(GenericVideoAdapter):
    def prepare(self, samples):
        return {"inputs": {"video": self.clip.batch(samples, 0), "fps": torch.full((len(samples),), 25.0)}}


class TwoPathwayAdapter(GenericVideoAdapter):
    def views(self, sample):
        if sample.views is not None and len(sample.views) == 2:
            return sample
        fast = super().views(sample).views[0]
        return sample.replace(views=(fast[::4], fast))

    def prepare(self, samples):
        return [self.clip.batch(samples, 0), self.clip.batch(samples, 1)]


def test_only_modules_that_run_are_listed_with_their_widths():
    layers = sdinterp.adapt(WithUnusedContainer()).layers()
    assert list(layers) == ["body", "body.0", "body.1", "body.2"]
    assert {n: i.channels for n, i in layers.items()} == {"body": 6, "body.0": 4, "body.1": 4, "body.2": 6}
    assert "aux" not in layers and "aux.never" not in layers


def test_a_model_the_generic_adapter_cannot_feed_is_explained():
    with pytest.raises(UnsupportedModelError) as err:
        sdinterp.adapt(DictModel()).layers()
    text = str(err.value)
    assert "cannot feed DictModel" in text and "(2, 3, 8, 112, 112) tensor" in text
    assert "subclass GenericVideoAdapter" in text and "docs/your_model.md" in text


@pytest.mark.parametrize(
    "make",
    [
        lambda: DictInputAdapter(DictModel(), num_frames=4, crop_size=12),
        lambda: TwoPathwayAdapter(TwoPathwayModel(), num_frames=8, crop_size=12),
    ],
)
def test_documented_subclasses_conform_and_honour_options(make):
    adapter = make()
    observed = check_adapter(adapter, CLIPS, n_pairs=2, batch_size=6)
    assert observed
    prepared = adapter.prepare([adapter.views(s) for s in CLIPS[:2]])
    tensors = list(prepared["inputs"].values())[:1] if isinstance(prepared, dict) else prepared
    assert all(t.shape[-2:] == (12, 12) for t in tensors)
    frames = [t.shape[2] for t in tensors]
    assert frames == [4] or frames == [2, 8]


def test_ready_adapter_refuses_options_it_was_not_built_with():
    adapter = DictInputAdapter(DictModel(), num_frames=4, crop_size=12)
    assert sdinterp.adapt(adapter, num_frames=4) is adapter
    with pytest.raises(ValueError, match=r"num_frames=8 \(it has 4\) cannot be applied"):
        sdinterp.adapt(adapter, num_frames=8)


@pytest.mark.slow  # 21 s measured on 2 shared cores
def test_cli_layers_of_a_python_spec_and_its_clear_error(tmp_path):
    (tmp_path / "mymodels.py").write_text(
        "from torch import nn\n"
        "class G(nn.Module):\n"
        "    def __init__(self):\n"
        "        super().__init__()\n"
        "        self.conv, self.act, self.spare = nn.Conv3d(3, 4, 3), nn.ReLU(), nn.ModuleList([nn.Linear(2, 2)])\n"
        "    def forward(self, x):\n        return self.act(self.conv(x))\n"
        "def good():\n    return G()\n"
        "class D(nn.Module):\n    def forward(self, inputs):\n        return inputs['video']\n"
        "def bad():\n    return D()\n"
    )
    env = dict(os.environ, PYTHONPATH=str(tmp_path))
    ok = subprocess.run(
        [sys.executable, "-m", "sdinterp", "layers", "python:mymodels:good"], capture_output=True, text=True, env=env
    )
    assert ok.returncode == 0, ok.stderr
    rows = [l.split() for l in ok.stdout.splitlines()[3:] if l and not l.startswith("Raw")]
    # the conv and the ReLU, with their widths; the ModuleList never runs and is not listed
    assert [(r[0], r[2]) for r in rows] == [("conv", "4"), ("act", "4")], ok.stdout
    bad = subprocess.run(
        [sys.executable, "-m", "sdinterp", "layers", "python:mymodels:bad"], capture_output=True, text=True, env=env
    )
    errors = [l for l in bad.stderr.splitlines() if "error:" in l]
    assert bad.returncode == 1 and len(errors) == 1 and "docs/your_model.md" in errors[0], bad.stderr
