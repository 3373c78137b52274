"""The pytorchvideo adapter on the real pytorchvideo models (random init, small inputs, real clips)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import sdinterp
from _ar_helpers import R50, SLOWFAST_R50, capture_all, check_architecture, real_clips, stages
from sdinterp.adapters.pytorchvideo import PyTorchVideoAdapter, build_pytorchvideo
from sdinterp.cli import main

pytestmark = pytest.mark.usefixtures("single_thread")  # one torch thread per module (tests/conftest.py)

X3D = [24, 24, 48, 96, 192]
# pytorchvideo widens MViT in the block *before* each new stage (blocks 0, 2, 13).
MVIT_B = [192, 192] + [384] * 11 + [768] * 3

ARCHITECTURES = {
    # name: (frames, crop, expected canonical layers)
    "slow_r50": (4, 64, stages(R50)),
    "slowfast_r50": (8, 64, SLOWFAST_R50),
    "x3d_s": (4, 64, stages(X3D)),
    "x3d_m": (4, 64, stages(X3D)),
    "c2d_r50": (4, 64, stages(R50)),
    "i3d_r50": (4, 64, stages(R50)),
    "csn_r101": (8, 64, stages(R50)),
    "r2plus1d_r50": (8, 64, stages(R50)),
    "mvit_base_16x4": (4, 64, stages(MVIT_B, "block", 0)),
}


@pytest.fixture(scope="module")
def clips() -> list[sdinterp.Sample]:
    return real_clips(num_frames=16, short_side=72, n=4)


@pytest.fixture(scope="module")
def slowfast() -> PyTorchVideoAdapter:
    return build_pytorchvideo("slowfast_r50", num_frames=8, crop_size=64)


@pytest.mark.slow  # 12 s measured on 2 shared cores
@pytest.mark.parametrize("name", list(ARCHITECTURES))
def test_architecture_channels_and_conformance(name: str, clips: list[sdinterp.Sample]) -> None:
    frames, crop, expected = ARCHITECTURES[name]
    adapter = build_pytorchvideo(name, num_frames=frames, crop_size=crop)
    assert adapter.family == "pytorchvideo"
    check_architecture(adapter, clips, expected)


def test_report_over_every_slowfast_layer(slowfast: PyTorchVideoAdapter, clips: list[sdinterp.Sample]) -> None:
    report = sdinterp.StaticDynamic(slowfast).attribute(clips, n_pairs=4, batch_size=12, seed=0, show_progress=False)
    assert list(report.layers) == list(SLOWFAST_R50)
    for name, width in SLOWFAST_R50.items():
        layer = report.layers[name]
        assert layer.n_units == width
        assert 0.0 <= layer.dynamic_percent + layer.static_percent <= 100.0


def test_slowfast_views_are_two_pathways_of_one_window(
    slowfast: PyTorchVideoAdapter, clips: list[sdinterp.Sample]
) -> None:
    anchor = slowfast.views(clips[0])
    slow, fast = anchor.views
    assert len(fast) == 8 and len(slow) == 2  # alpha = 4, read from the fusion conv's temporal stride
    assert set(slow.tolist()) <= set(fast.tolist()), "the slow pathway must subsample the fast frames"
    shuffled = sdinterp.get_registry().create("sampler", "frame_shuffle").partner(anchor, np.random.default_rng(3))
    for a, b in zip(anchor.views, shuffled.views):
        assert sorted(a.tolist()) == sorted(b.tolist())  # each pathway permuted within itself
    x = slowfast.prepare([anchor])
    assert [tuple(t.shape) for t in x] == [(1, 3, 2, 64, 64), (1, 3, 8, 64, 64)]


def test_fused_is_slow_plus_lateral_and_cat_is_both(
    slowfast: PyTorchVideoAdapter, clips: list[sdinterp.Sample]
) -> None:
    feats = capture_all(slowfast, clips[:2])
    for k in range(1, 5):
        slow = feats[f"slow.stage{k}"]
        fused = feats[f"fused.stage{k}"]
        # FuseFastToSlow concatenates [slow, fast->slow]: its first channels are the unfused slow ones.
        torch.testing.assert_close(fused[:, : slow.shape[1]], slow)
    torch.testing.assert_close(feats["cat.stage5"], torch.cat([feats["slow.stage5"], feats["fast.stage5"]], dim=1))


def test_forward_leaves_the_prepared_input_intact(slowfast: PyTorchVideoAdapter, clips: list[sdinterp.Sample]) -> None:
    x = slowfast.prepare([slowfast.views(c) for c in clips[:2]])
    before = [t.clone() for t in x]
    with torch.inference_mode():
        y1, y2 = slowfast.forward(x), slowfast.forward(x)
    assert all(torch.equal(a, b) for a, b in zip(x, before))
    torch.testing.assert_close(y1, y2)


def test_checkpoint_roundtrip(tmp_path) -> None:
    a = build_pytorchvideo("x3d_s", num_frames=4, crop_size=64)
    path = tmp_path / "x3d_s.pyth"
    torch.save({"model_state": a.model.state_dict(), "epoch": 3}, path)  # SlowFast-style container
    b = build_pytorchvideo("x3d_s", num_frames=4, crop_size=64, weights=str(path))
    for (k, v), (k2, v2) in zip(a.model.state_dict().items(), b.model.state_dict().items()):
        assert k == k2 and torch.equal(v, v2)
    with pytest.raises(FileNotFoundError, match="never downloads"):
        build_pytorchvideo("x3d_s", weights="https://example.org/x3d_s.pyth")


def test_plugin_hooks_adapt_and_load() -> None:
    from pytorchvideo.models.hub import x3d_s

    adapter = sdinterp.adapt(x3d_s(pretrained=False), num_frames=4, crop_size=64)
    assert isinstance(adapter, PyTorchVideoAdapter) and adapter.clip.num_frames == 4
    loaded = sdinterp.load_model("pytorchvideo:x3d_s", num_frames=4, crop_size=64)
    assert isinstance(loaded, PyTorchVideoAdapter) and list(loaded.layers()) == list(stages(X3D))
    with pytest.raises(ValueError, match="supported: slow_r50"):
        sdinterp.load_model("pytorchvideo:no_such_net")


def test_cli_layers_lists_slowfast(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["layers", "pytorchvideo:slowfast_r50"]) == 0
    out = capsys.readouterr().out
    assert "fused.stage1  blocks.0.multipathway_fusion    80" in out
    assert "cat.stage5" in out and "2304" in out
