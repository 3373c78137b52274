"""Modules that run more than once per forward, and the generic adapter's default layers (issue 23,
item 4): a shared module is no default layer, is named ``NAME@k`` (0-based) in the API and on the
command line, and ``sdinterp layers`` shows its calls; a transformer's defaults are its blocks,
read along their channels, never their token count."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
import torch
from torch import nn

import sdinterp
from _paths import VIDEOS
from sdinterp.adapters.generic import GenericVideoAdapter
from sdinterp.capture import LayerCapture, resolve_layer, split_call
from sdinterp.cli import main
from sdinterp.errors import UnknownLayerError
from sdinterp.interfaces import LayerInfo, ModelAdapter
from sdinterp.probe import CHANNELS_FIRST, CHANNELS_LAST, trace
from sdinterp.testing.planted import make_planted_clips

pytestmark = pytest.mark.usefixtures("single_thread")  # one torch thread per module (tests/conftest.py)

CLIPS = make_planted_clips(6, size=16)


class SharedRelu(nn.Module):
    """C3D's head in small: one ``relu`` after fc6 and after fc7 (so it runs twice), fc7 narrower."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv3d(3, 4, 3, padding=1)
        self.fc6, self.fc7 = nn.Linear(4, 6), nn.Linear(6, 5)
        self.relu = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.relu(self.fc7(self.relu(self.fc6(self.conv(x).mean(dim=(2, 3, 4))))))


class Attention(nn.Module):
    """Self-attention on (B, N, C) tokens (a class named like timm's and mmaction's)."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.qkv, self.proj = nn.Linear(dim, 3 * dim), nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        q, k, v = self.qkv(x).chunk(3, dim=-1)
        return self.proj(torch.softmax(q @ k.transpose(1, 2) / q.shape[-1] ** 0.5, dim=-1) @ v)


class Block(nn.Module):
    def __init__(self, dim: int) -> None:
        super().__init__()
        self.norm1, self.attn = nn.LayerNorm(dim), Attention(dim)
        self.norm2, self.mlp = (
            nn.LayerNorm(dim),
            nn.Sequential(nn.Linear(dim, 2 * dim), nn.GELU(), nn.Linear(2 * dim, dim)),
        )
        self.drop_path = nn.Identity()  # shared by both residual branches, as in timm: runs twice

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.drop_path(self.attn(self.norm1(x)))
        return x + self.drop_path(self.mlp(self.norm2(x)))


class TinyViT(nn.Module):
    """Patch embedding to (B, N, C) tokens with N = 2 x 4 x 4 = 32 tokens and C = 12 channels."""

    def __init__(self, dim: int = 12) -> None:
        super().__init__()
        self.patch_embed = nn.Conv3d(3, dim, (2, 4, 4), stride=(2, 4, 4))
        self.blocks = nn.ModuleList([Block(dim), Block(dim)])
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.patch_embed(x).flatten(2).transpose(1, 2)
        for block in self.blocks:
            x = block(x)
        return self.head(self.norm(x).mean(1))


def test_call_names_are_split_counted_from_zero() -> None:
    assert split_call("relu@2") == ("relu", 2) and split_call("blocks.0.drop_path@all") == ("blocks.0.drop_path", "all")
    assert split_call("stage3") == ("stage3", None)
    with pytest.raises(UnknownLayerError, match=r"after '@' give the call to capture, counted from 0 \(relu@0"):
        split_call("relu@second")


def test_a_shared_module_is_no_default_layer_and_each_call_is_named() -> None:
    torch.manual_seed(0)
    adapter = GenericVideoAdapter(SharedRelu(), num_frames=4, crop_size=12)
    assert "relu" not in adapter.layers() and {"conv", "fc6", "fc7"} <= set(adapter.layers())
    assert adapter.module_calls()["relu"] == 2 and adapter.module_calls()["fc7"] == 1
    with pytest.raises(UnknownLayerError, match=r"runs 2 times in one forward.*relu@0 \.\. relu@1 \(--layers relu@1"):
        resolve_layer(adapter, "relu")
    first, second, both = (resolve_layer(adapter, n) for n in ("relu@0", "relu@1", "relu@all"))
    assert (first.call, first.channels, second.call, second.channels) == (0, 6, 1, 5)  # each call's own width
    assert both.call == "all" and both.channels == 11
    with pytest.raises(UnknownLayerError, match=r"runs 2 time\(s\).*relu@0 \.\. relu@1 \(counted from 0\)"):
        resolve_layer(adapter, "relu@2")
    # what is captured for relu@1 is the second call's output: relu(fc7(...))
    x = adapter.prepare([adapter.views(c) for c in CLIPS[:2]])
    model = adapter.model.eval()
    with torch.no_grad(), LayerCapture(model, {"relu@1": second, "fc7": adapter.resolve("fc7")}) as cap:
        model(x)
        feats = cap.collect()
    torch.testing.assert_close(feats["relu@1"], torch.relu(feats["fc7"]))


def test_a_report_on_the_default_layers_and_on_one_call_runs() -> None:
    torch.manual_seed(0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        default = sdinterp.StaticDynamic(SharedRelu(), num_frames=4, crop_size=12).attribute(
            CLIPS, n_pairs=6, batch_size=6, seed=0, show_progress=False, validity=False
        )
        calls = sdinterp.StaticDynamic(SharedRelu(), layers=["relu@1", "relu@0"], num_frames=4, crop_size=12).attribute(
            CLIPS, n_pairs=6, batch_size=6, seed=0, show_progress=False, validity=False
        )
    assert "relu" not in default.layers and "fc7" in default.layers
    assert {n: lb.n_units for n, lb in calls.layers.items()} == {"relu@1": 5, "relu@0": 6}


def test_transformer_defaults_are_its_blocks_read_along_channels_not_tokens() -> None:
    torch.manual_seed(0)
    adapter = GenericVideoAdapter(TinyViT(), num_frames=4, crop_size=16)
    layers = adapter.layers()
    assert list(layers) == ["patch_embed", "blocks.0", "blocks.1", "norm", "head"]
    assert {n: i.channels for n, i in layers.items()} == {
        "patch_embed": 12,
        "blocks.0": 12,
        "blocks.1": 12,
        "norm": 12,
        "head": 3,
    }  # 12 channels, never the 32 tokens
    assert layers["blocks.0"].pooling == "tokens" and layers["patch_embed"].pooling == "channels_first"
    # a module inside a block is still a layer by its path, read along its channels
    assert adapter.resolve("blocks.0.norm1").channels == 12 and adapter.resolve("blocks.0.mlp.1").channels == 24
    assert adapter.module_calls()["blocks.0.drop_path"] == 2
    assert resolve_layer(adapter, "blocks.1.drop_path@1").channels == 12


def test_trace_counts_calls_and_tells_the_channel_axis() -> None:
    model = TinyViT().eval()
    with torch.no_grad():
        ran = trace(model, lambda: model(torch.randn(2, 3, 4, 16, 16)))
    assert ran["patch_embed"].layout == CHANNELS_FIRST and ran["patch_embed"].shape == (2, 12, 2, 4, 4)
    assert ran["blocks.0.norm1"].layout == CHANNELS_LAST and ran["blocks.0.mlp.1"].layout == CHANNELS_LAST  # GELU
    assert ran["blocks.0"].layout == CHANNELS_LAST  # a block keeps the layout of what ran last inside it
    assert ran["blocks.0.drop_path"].calls == 2 and len(ran["blocks.0.drop_path"].outputs) == 2
    assert ran["head"].calls == 1


class _Plain(ModelAdapter):
    """An adapter that does not count calls: ``NAME@k`` replaces the call of the layer it names."""

    def layers(self) -> dict[str, LayerInfo]:
        return {"act": LayerInfo("act", "relu", channels=6)}

    def prepare(self, samples):  # pragma: no cover - never called
        raise NotImplementedError


def test_call_names_work_for_any_adapter() -> None:
    adapter = _Plain(SharedRelu())
    zero, one = resolve_layer(adapter, "act@0"), resolve_layer(adapter, "act@1")
    assert (zero.module, zero.call, zero.channels) == ("relu", 0, 6)
    assert (one.call, one.channels) == (1, None)  # another call's width is read from the first forward
    assert resolve_layer(adapter, "fc7@all").call == "all"
    with pytest.raises(UnknownLayerError, match="unknown layer 'nope'"):
        resolve_layer(adapter, "nope@1")


def _write_factory(tmp_path) -> None:
    (tmp_path / "shared_relu_models.py").write_text(
        "import torch\nfrom torch import nn\n\n"
        "class SharedRelu(nn.Module):\n"
        "    def __init__(self):\n"
        "        super().__init__()\n"
        "        self.conv = nn.Conv3d(3, 4, 3, padding=1)\n"
        "        self.fc6, self.fc7, self.relu = nn.Linear(4, 6), nn.Linear(6, 5), nn.ReLU()\n"
        "    def forward(self, x):\n"
        "        return self.relu(self.fc7(self.relu(self.fc6(self.conv(x).mean(dim=(2, 3, 4))))))\n\n"
        "def build():\n    return SharedRelu()\n"
    )


def test_cli_layers_shows_calls_and_report_takes_name_at_k(tmp_path, monkeypatch, capsys) -> None:
    _write_factory(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    spec = "python:shared_relu_models:build"
    assert main(["layers", spec, "--frames", "4", "--crop-size", "12"]) == 0
    out = capsys.readouterr().out
    assert "relu  2 calls: relu@0 .. relu@1" in out and "counted from 0" in out
    assert main(["layers", spec, "--frames", "4", "--crop-size", "12", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert {r["name"]: r.get("calls") for r in rows if not r["default"]} == {"relu": 2}
    assert [r["name"] for r in rows if r["default"]] == ["conv", "fc6", "fc7"]
    flags = ["--frames", "4", "--crop-size", "12", "--n-pairs", "4", "--clip-length", "8", "--quiet", "--no-validity"]
    video = str(VIDEOS / "tree.avi")
    assert main(["report", spec, video, "--layers", "relu", *flags]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert "runs 2 times in one forward" in err[-1] and "--layers relu@1" in err[-1]
    out_json = tmp_path / "r.json"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert main(["report", spec, video, "--layers", "relu@1", "fc6", *flags, "--json", str(out_json)]) == 0
    data = json.loads(out_json.read_text())
    assert [(l["layer"], l["n_units"]) for l in data["layers"]] == [("relu@1", 5), ("fc6", 6)]
    assert np.isfinite(data["layers"][0]["scores"]["dynamic"])
