"""The MMAction2 adapter on real recognizers built from the config files the mmaction2 wheel ships
(random init, pretrained references removed, small inputs, real clips)."""

from __future__ import annotations

import argparse

import numpy as np
import pytest
import torch

import sdinterp
from _ar_helpers import R50, SLOWFAST_R50, capture_all, check_architecture, real_clips, stages
from sdinterp.adapters._mmaction_config import find_config, strip_pretrained
from sdinterp.adapters.mmaction2 import MMAction2Adapter, build_mmaction2
from sdinterp.cli import main

pytestmark = pytest.mark.usefixtures("single_thread")  # one torch thread per module (tests/conftest.py)

SLOWFAST = "slowfast_r50_8xb8-8x8x1-256e_kinetics400-rgb"
TSN = "tsn_imagenet-pretrained-r50_8xb32-1x1x8-100e_kinetics400-rgb"
TSM = "tsm_imagenet-pretrained-r50_8xb16-1x1x8-100e_kinetics400-rgb"
SWIN_T = [96] * 2 + [192] * 2 + [384] * 6 + [768] * 2
# mmaction's MViT widens in the first block of a stage: 96 at block 0, x2 at blocks 1, 3 and 14
# (docs/method.md §3).
MVIT_S = [96, 192, 192] + [384] * 11 + [768] * 2

ARCHITECTURES = {
    # key: (config name, frames, crop, expected canonical layers)
    "i3d": ("i3d_imagenet-pretrained-r50_8xb8-32x2x1-100e_kinetics400-rgb", 8, 64, stages(R50)),
    "c2d": ("c2d_r50-in1k-pre_8xb32-8x8x1-100e_kinetics400-rgb", 4, 64, stages(R50)),
    "slowonly": ("slowonly_imagenet-pretrained-r50_8xb16-8x8x1-steplr-150e_kinetics400-rgb", 4, 64, stages(R50)),
    "slowfast": (SLOWFAST, 8, 64, SLOWFAST_R50),
    "x3d": ("x3d_m_16x5x1_facebook-kinetics400-rgb", 4, 64, stages([24, 24, 48, 96, 192])),
    "timesformer": ("timesformer_divST_8xb8-8x32x1-15e_kinetics400-rgb", 4, 64, stages([768] * 12, "block", 0)),
    "mvit": ("mvit-small-p244_32xb16-16x4x1-200e_kinetics400-rgb", 4, 64, stages(MVIT_S, "block", 0)),
    "videoswin": (
        "swin-tiny-p244-w877_in1k-pre_8xb8-amp-32x2x1-30e_kinetics400-rgb",
        4,
        64,
        stages(SWIN_T, "block", 0),
    ),
    "tsn": (TSN, 4, 64, stages(R50)),
    "tsm": (TSM, 4, 64, stages(R50)),
}


@pytest.fixture(scope="module")
def clips() -> list[sdinterp.Sample]:
    return real_clips(num_frames=16, short_side=72, n=4)


@pytest.fixture(scope="module")
def slowfast() -> MMAction2Adapter:
    return build_mmaction2(SLOWFAST, num_frames=8, crop_size=64)


@pytest.mark.slow  # 24 s measured on 2 shared cores
@pytest.mark.parametrize("key", list(ARCHITECTURES))
def test_architecture_channels_and_conformance(key: str, clips: list[sdinterp.Sample]) -> None:
    config, frames, crop, expected = ARCHITECTURES[key]
    adapter = build_mmaction2(config, num_frames=frames, crop_size=crop)
    assert adapter.family == "mmaction2"
    check_architecture(adapter, clips, expected)


def test_report_over_every_slowfast_layer(slowfast: MMAction2Adapter, clips: list[sdinterp.Sample]) -> None:
    report = sdinterp.StaticDynamic(slowfast).attribute(clips, n_pairs=4, batch_size=12, seed=1, show_progress=False)
    assert {n: report.layers[n].n_units for n in report.layers} == SLOWFAST_R50
    assert all(0 <= b.dynamic_percent + b.static_percent <= 100 for b in report.layers.values())


def test_slowfast_views_reproduce_mmactions_own_subsampling(
    slowfast: MMAction2Adapter, clips: list[sdinterp.Sample]
) -> None:
    viewed = [slowfast.views(c) for c in clips[:2]]
    slow, fast = viewed[0].views
    np.testing.assert_array_equal(slow, fast[::4])  # resample_rate 4, speed_ratio 4
    with torch.inference_mode():
        ours = slowfast.forward(slowfast.prepare(viewed))
        clip = torch.stack([slowfast.clip.clip_tensor(s.frames[s.views[1]]) for s in viewed]).unsqueeze(1)
        native = slowfast.model(clip, mode="tensor")  # mmaction picks the slow frames itself
    for a, b in zip(ours, native):
        torch.testing.assert_close(a, b, rtol=0, atol=0)


def test_slowfast_pathways_are_fed_independently(slowfast: MMAction2Adapter, clips: list[sdinterp.Sample]) -> None:
    anchor = slowfast.views(clips[0])
    slow, fast = anchor.views
    only_slow_changed = anchor.replace(views=(slow[::-1].copy(), fast))
    a = capture_all(slowfast, [anchor])
    b = capture_all(slowfast, [only_slow_changed])
    torch.testing.assert_close(a["fast.stage3"], b["fast.stage3"])  # the fast pathway never sees slow frames
    assert not torch.allclose(a["slow.stage3"], b["slow.stage3"])


def test_2d_features_are_unfolded_before_pooling(clips: list[sdinterp.Sample]) -> None:
    adapter = build_mmaction2(TSN, num_frames=4, crop_size=64)
    stage5 = adapter.layers()["stage5"]  # the widths' probe forward runs here, before the hook below
    seen: list[torch.Tensor] = []
    handle = adapter.model.backbone.layer4.register_forward_hook(lambda m, a, out: seen.append(out.detach()))
    try:
        feats = capture_all(adapter, clips[:2], {"stage5": stage5})
    finally:
        handle.remove()
    (raw,) = seen
    assert raw.shape[:2] == (2 * 4, 2048)  # (B*T, C, H, W)
    expected = raw.reshape(2, 4, *raw.shape[1:]).mean(dim=(1, 3, 4))
    torch.testing.assert_close(feats["stage5"], expected)


def test_input_settings_come_from_the_config() -> None:
    sf = build_mmaction2(SLOWFAST)
    assert (sf.clip.num_frames, sf.clip.crop_size, sf.clip.short_side) == (32, 256, 256)
    assert sf.clip.mean == pytest.approx((123.675 / 255, 116.28 / 255, 103.53 / 255))
    assert sf.pathway_ratios == (4, 1) and sf.input_format == "NCTHW"
    tsm = build_mmaction2(TSM)
    assert (tsm.clip.num_frames, tsm.clip.crop_size, tsm.input_format) == (8, 224, "NCHW")
    assert tsm.model.backbone.num_segments == 8


def test_nothing_is_downloaded(monkeypatch: pytest.MonkeyPatch, clips: list[sdinterp.Sample]) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("a download was attempted")

    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", refuse)
    monkeypatch.setattr(torch.hub, "download_url_to_file", refuse)
    # The TimeSformer config points its backbone at a URL; building must not fetch it.
    adapter = build_mmaction2("timesformer_divST_8xb8-8x32x1-15e_kinetics400-rgb", num_frames=2, crop_size=32)
    assert adapter.model.backbone.pretrained is None
    cfg = {
        "backbone": {"pretrained": "https://x/y.pth", "init_cfg": {"type": "Pretrained", "checkpoint": "z"}},
        "depth": 50,
    }
    assert strip_pretrained(cfg) == {"backbone": {"pretrained": None, "init_cfg": None}, "depth": 50}


def test_config_lookup() -> None:
    assert find_config(SLOWFAST).name == SLOWFAST + ".py"
    assert find_config("recognition/tsn/" + TSN + ".py").is_file()
    with pytest.raises(FileNotFoundError, match="not found"):
        find_config("no_such_config")


def test_plugin_hooks_adapt_and_load(tmp_path) -> None:
    built = build_mmaction2(TSN, num_frames=4, crop_size=64).model
    adapter = sdinterp.adapt(built, num_frames=4, crop_size=64)
    assert isinstance(adapter, MMAction2Adapter) and adapter.input_format == "NCHW"
    # MMEngine checkpoints carry non-tensor metadata: loading them must be an explicit choice.
    path = tmp_path / "tsn.pth"
    torch.save({"state_dict": built.state_dict(), "meta": {"args": argparse.Namespace(lr=0.1)}}, path)
    with pytest.raises(ValueError, match="trust_weights"):
        sdinterp.load_model(f"mmaction2:{TSN}:{path}", num_frames=4, crop_size=64)
    loaded = sdinterp.load_model(f"mmaction2:{TSN}:{path}", num_frames=4, crop_size=64, trust_weights=True)
    assert all(torch.equal(v, loaded.model.state_dict()[k]) for k, v in built.state_dict().items())


@pytest.mark.slow  # 11 s measured on 2 shared cores
def test_cli_layers_lists_slowfast(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["layers", f"mmaction2:{SLOWFAST}"]) == 0
    out = capsys.readouterr().out
    assert "mmaction2 adapter for Recognizer3D: 15 canonical layers" in out
    assert "fused.stage2  backbone.slow_path.layer2" in out and "320" in out
