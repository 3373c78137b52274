"""Every pytorchvideo hub video classifier through the spec loader, models as objects at reduced input
sizes, and the generic fallback for pytorchvideo objects the family adapter cannot name.

All models are built with ``pretrained=False`` while ``socket.socket.connect`` raises, so a download
attempt would fail the test.
"""

from __future__ import annotations

import math
import re
import socket
import warnings
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import torch
from torch import nn

import sdinterp
from _ar_helpers import R50, SLOWFAST_R50, real_clips, stages
from sdinterp.adapters._compat import ensure_pytorchvideo
from sdinterp.adapters._pytorchvideo_resize import ResizedClsPositionalEncoding
from sdinterp.adapters.generic import GenericVideoAdapter
from sdinterp.adapters.pytorchvideo import (
    PYTORCHVIDEO_MODELS,
    PYTORCHVIDEO_REFUSED,
    PyTorchVideoAdapter,
    native_size,
)

ensure_pytorchvideo()
import pytorchvideo.models.hub as hub  # noqa: E402 - needs the compat fix first

pytestmark = pytest.mark.usefixtures("single_thread")  # one torch thread per module (tests/conftest.py)

X3D = [24, 24, 48, 96, 192]
MVIT_B = [192, 192] + [384] * 11 + [768] * 3
EXPECTED = {
    **{n: stages(R50) for n in ("slow_r50", "c2d_r50", "i3d_r50", "csn_r101", "r2plus1d_r50")},
    **{n: stages(X3D) for n in ("x3d_xs", "x3d_s", "x3d_m", "x3d_l", "efficient_x3d_xs", "efficient_x3d_s")},
    **{n: SLOWFAST_R50 for n in ("slowfast_r50", "slowfast_r101", "slowfast_16x8_r101_50_50")},
    **{n: stages(MVIT_B, "block", 0) for n in ("mvit_base_16x4", "mvit_base_32x3")},
}
# Reduced sizes: enough frames for every temporal stride (CSN 8, R(2+1)D 4, SlowFast alpha 4).
FRAMES = {"csn_r101": 8, "r2plus1d_r50": 8, "slowfast_r50": 8, "slowfast_r101": 8, "slowfast_16x8_r101_50_50": 8}
CROP = 64


@pytest.fixture(scope="module", autouse=True)
def no_network() -> Any:
    """Any connection attempt (a weight download) raises."""

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("network access attempted")

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(socket.socket, "connect", refuse)
        mp.setattr(socket.socket, "connect_ex", refuse)
        yield


@cache
def _built(name: str) -> PyTorchVideoAdapter:
    """Each classifier built once, through the spec loader, at a reduced size."""
    return sdinterp.load_model(f"pytorchvideo:{name}", num_frames=FRAMES.get(name, 4), crop_size=CROP)


@pytest.fixture(scope="module")
def clips() -> list[sdinterp.Sample]:
    return real_clips(num_frames=16, short_side=72, n=3)


def _logits(adapter: Any, samples: list[sdinterp.Sample]) -> torch.Tensor:
    with torch.inference_mode():
        return adapter.forward(adapter.prepare([adapter.views(s) for s in samples]))


def test_network_is_refused_here() -> None:
    with pytest.raises(AssertionError, match="network access"):
        socket.create_connection(("127.0.0.1", 9), timeout=0.1)


def test_every_hub_builder_is_a_listed_classifier_or_refused_by_name() -> None:
    builders = {n for n in dir(hub) if not n.startswith("_") and callable(getattr(hub, n))}
    assert builders == set(PYTORCHVIDEO_MODELS) | set(PYTORCHVIDEO_REFUSED)
    assert not set(PYTORCHVIDEO_MODELS) & set(PYTORCHVIDEO_REFUSED)
    assert set(EXPECTED) == set(PYTORCHVIDEO_MODELS)
    for name, reason in [
        ("slow_r50_detection", "detection"),
        ("slowfast_r50_detection", "boxes"),
        ("mvit_base_16", "image"),
    ]:
        with pytest.raises(ValueError, match=f"pytorchvideo:{name} is not supported: .*{reason}"):
            sdinterp.load_model(f"pytorchvideo:{name}")


def test_non_classifier_objects_are_refused_with_the_reason() -> None:
    with pytest.raises(ValueError, match="action-detection network whose forward takes person boxes"):
        sdinterp.adapt(hub.slow_r50_detection(pretrained=False))
    with pytest.raises(ValueError, match="no 3-D patch embedding: it is an image classifier"):
        sdinterp.adapt(hub.mvit_base_16(pretrained=False))


def test_the_docs_table_lists_every_builder_with_its_native_size() -> None:
    text = (Path(__file__).resolve().parents[1] / "docs" / "adapters.md").read_text()
    section = text.split("## pytorchvideo hub builders", 1)[1].split("\n## ", 1)[0]
    documented = {}
    for row in re.findall(r"^\| (`.*?) \| (\d+)(?: fast \(\d+ slow\))? × (\d+) \((\d+)\) \|", section, re.M):
        for name in re.findall(r"`(\w+)`", row[0]):
            documented[name] = tuple(int(v) for v in row[1:])
    assert documented == PYTORCHVIDEO_MODELS
    for name in PYTORCHVIDEO_REFUSED:
        assert f"`{name}`" in section


@pytest.mark.slow  # 20 s measured on 2 shared cores
@pytest.mark.parametrize("name", list(PYTORCHVIDEO_MODELS))
def test_spec_builds_names_layers_and_runs_at_reduced_size(name: str, clips: list[sdinterp.Sample]) -> None:
    adapter = _built(name)
    assert isinstance(adapter, PyTorchVideoAdapter)
    declared = {n: i.channels for n, i in adapter.layers().items()}
    assert declared == EXPECTED[name], f"{name}: {declared}"
    logits = _logits(adapter, clips[:2])  # the whole model, head included: no shape error
    assert logits.shape == (2, 400) and torch.isfinite(logits).all()
    assert adapter.describe()["native_size"] == dict(zip(("num_frames", "crop_size"), PYTORCHVIDEO_MODELS[name][:2]))


@pytest.mark.parametrize("name", [n for n in PYTORCHVIDEO_MODELS if not n.startswith("efficient")])
def test_native_sizes_agree_with_head_pools_and_patch_grids(name: str) -> None:
    frames, crop, short = PYTORCHVIDEO_MODELS[name]
    derived = native_size(_built(name).model)  # head kernel x measured strides (MViT: patch grid)
    assert derived is not None and derived[0] == frames
    assert derived[1] == (crop if name.startswith("mvit") else math.ceil(crop / 32) * 32)
    assert short >= crop


def test_efficient_x3d_has_an_adaptive_head_and_x3d_sizes() -> None:
    for size in ("xs", "s"):
        assert native_size(_built(f"efficient_x3d_{size}").model) is None
        assert PYTORCHVIDEO_MODELS[f"efficient_x3d_{size}"] == PYTORCHVIDEO_MODELS[f"x3d_{size}"]
        assert _built(f"efficient_x3d_{size}").describe()["input_adaptation"] == []


@pytest.mark.parametrize("name", ["x3d_xs", "efficient_x3d_xs", "slowfast_r50", "mvit_base_16x4"])
def test_two_pair_report_at_reduced_size(name: str, clips: list[sdinterp.Sample]) -> None:
    adapter = _built(name)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # 2 pairs: the reliability warning is expected
        report = sdinterp.StaticDynamic(adapter).attribute(clips, n_pairs=2, batch_size=6, seed=0, show_progress=False)
    assert list(report.layers) == list(EXPECTED[name])
    for layer in report.layers.values():
        assert math.isfinite(layer.dynamic_percent) and math.isfinite(layer.static_percent)


def test_cnn_object_at_reduced_size_gets_a_global_head_pool_then_restores(clips: list[sdinterp.Sample]) -> None:
    model = hub.x3d_xs(pretrained=False).eval()
    native_x = torch.randn(1, 3, 4, 160, 160)
    with torch.inference_mode():
        before = model(native_x)
    adapter = sdinterp.adapt(model, num_frames=4, crop_size=64)
    assert isinstance(adapter, PyTorchVideoAdapter) and adapter.native == (4, 160)
    assert any("blocks.5.pool.pool" in c for c in adapter.describe()["input_adaptation"])
    with torch.inference_mode():
        torch.testing.assert_close(model(native_x), before, rtol=0, atol=0)  # the hook is inert at 4x160
    seen: dict[str, torch.Tensor] = {}
    pool = model.blocks[5].pool
    handle = pool.pool.register_forward_hook(lambda m, a, out: seen.update(out=out))
    pre = pool.pre_act.register_forward_hook(lambda m, a, out: seen.update(inp=out))
    logits = _logits(adapter, clips[:2])
    handle.remove(), pre.remove()
    assert logits.shape == (2, 400) and seen["inp"].shape[2:] == (4, 2, 2)
    torch.testing.assert_close(seen["out"], seen["inp"].mean(dim=(2, 3, 4), keepdim=True))
    adapter.restore_model()
    with pytest.raises(RuntimeError):  # without the hook the fixed 4x5x5 pool cannot take 2x2 features
        _logits(adapter, clips[:2])


def test_slowfast_object_at_reduced_size(clips: list[sdinterp.Sample]) -> None:
    adapter = sdinterp.adapt(_built("slowfast_r50").model, num_frames=8, crop_size=64)
    assert adapter.native == (32, 224) and adapter.pathway_ratios == (4, 1)
    assert _logits(adapter, clips[:2]).shape == (2, 400)


def test_mvit_object_at_reduced_size_interpolates_shared_positional_embeddings(clips: list[sdinterp.Sample]) -> None:
    model = hub.mvit_base_16x4(pretrained=False).eval()
    state = {k: v.clone() for k, v in model.state_dict().items()}
    original = model.cls_positional_encoding
    adapter = sdinterp.adapt(model, num_frames=4, crop_size=64)
    assert adapter.native == (16, 224) and [i.channels for i in adapter.layers().values()] == MVIT_B
    enc = model.cls_positional_encoding
    assert isinstance(enc, ResizedClsPositionalEncoding) and enc.grid == (2, 16, 16) and enc.native == (8, 56, 56)
    assert "8x56x56 patch grid to 2x16x16" in adapter.describe()["input_adaptation"][0]
    assert list(model.state_dict()) == list(state)  # same keys, the same parameter objects
    assert enc.pos_embed_spatial is original.pos_embed_spatial
    model.load_state_dict(state)  # native weights still load
    pos = enc.position_embedding()
    assert pos.shape == (1, 1 + 2 * 16 * 16, 768 // 8) and torch.equal(pos[:, :1], original.pos_embed_class)
    logits = _logits(adapter, clips[:2])
    assert logits.shape == (2, 400) and torch.isfinite(logits).all()
    adapter.restore_model()
    assert model.cls_positional_encoding is original


@pytest.mark.parametrize("sep", [True, False])
def test_positional_interpolation_is_exact_at_the_native_grid(sep: bool) -> None:
    from pytorchvideo.models.vision_transformers import create_multiscale_vision_transformers

    model = create_multiscale_vision_transformers(spatial_size=32, temporal_size=4, depth=1, sep_pos_embed=sep)
    original = model.cls_positional_encoding
    for p in original.parameters():
        nn.init.normal_(p)
    x = torch.randn(2, 2 * 8 * 8, 96)
    same = ResizedClsPositionalEncoding(original, original.patch_embed_shape)
    torch.testing.assert_close(same(x), original(x))
    smaller = ResizedClsPositionalEncoding(original, (1, 4, 4))
    assert smaller(torch.randn(2, 16, 96)).shape == (2, 17, 96)


def test_a_size_the_model_cannot_take_is_refused_naming_the_native_size() -> None:
    # C2D's temporal max-pool (stride 2) cannot take a single frame.
    with pytest.raises(ValueError, match=r"cannot take 1 frames at 64 px .*native input is 8 frames at 224 px") as err:
        sdinterp.adapt(_built("c2d_r50").model, num_frames=1, crop_size=64)
    assert "\n" not in str(err.value)


def _tiny_stage() -> nn.Module:
    from pytorchvideo.models.resnet import create_bottleneck_block, create_res_stage

    return create_res_stage(depth=1, dim_in=3, dim_inner=4, dim_out=8, bottleneck=create_bottleneck_block)


def test_unnamed_pytorchvideo_objects_fall_back_to_the_generic_adapter(clips: list[sdinterp.Sample]) -> None:
    from pytorchvideo.models.net import Net

    custom = Net(blocks=nn.ModuleList([nn.Conv3d(3, 3, 3, padding=1), _tiny_stage()]))
    for model, why in [
        (_tiny_stage(), "ResStage has no .blocks"),
        (custom, "not a ResNetBasicStem followed by ResStages"),
    ]:
        with pytest.warns(UserWarning, match=f"cannot name the layers .*{why}.*generic adapter"):
            adapter = sdinterp.adapt(model, num_frames=4, crop_size=32)
        assert isinstance(adapter, GenericVideoAdapter)
        assert adapter.layers(), "the generic adapter lists the modules that ran"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        report = sdinterp.StaticDynamic(adapter, list(adapter.layers())[:2]).attribute(
            clips, n_pairs=2, batch_size=6, seed=0, show_progress=False
        )
    assert all(math.isfinite(layer.dynamic_percent) for layer in report.layers.values())
