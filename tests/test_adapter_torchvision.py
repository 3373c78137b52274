"""The torchvision video adapter on the real torchvision models (weights=None, small inputs, real clips)."""

from __future__ import annotations

import pytest
import torch

import sdinterp
from _ar_helpers import capture_all, check_architecture, real_clips, stages
from sdinterp.adapters.torchvision_video import TorchvisionVideoAdapter, build_torchvision
from sdinterp.cli import main

pytestmark = pytest.mark.usefixtures("single_thread")  # one torch thread per module (tests/conftest.py)

R18 = [64, 64, 128, 256, 512]
# torchvision's block settings: MViT-v1 widens in the block before a stage, MViT-v2 in its first block.
MVIT_V1_B = [192, 192] + [384] * 11 + [768] * 3
MVIT_V2_S = [96, 192, 192] + [384] * 11 + [768] * 2
SWIN_T = [96] * 2 + [192] * 2 + [384] * 6 + [768] * 2

ARCHITECTURES = {
    "r3d_18": (8, 64, stages(R18)),
    "mc3_18": (8, 64, stages(R18)),
    "r2plus1d_18": (8, 64, stages(R18)),
    "s3d": (8, 64, stages([64, 192, 480, 832, 1024])),
    "mvit_v1_b": (4, 64, stages(MVIT_V1_B, "block", 0)),
    "mvit_v2_s": (4, 64, stages(MVIT_V2_S, "block", 0)),
    "swin3d_t": (4, 64, stages(SWIN_T, "block", 0)),
}


@pytest.fixture(scope="module")
def clips() -> list[sdinterp.Sample]:
    return real_clips(num_frames=16, short_side=72, n=4)


@pytest.mark.slow  # 39 s measured on 2 shared cores
@pytest.mark.parametrize("name", list(ARCHITECTURES))
def test_architecture_channels_and_conformance(name: str, clips: list[sdinterp.Sample]) -> None:
    frames, crop, expected = ARCHITECTURES[name]
    adapter = build_torchvision(name, num_frames=frames, crop_size=crop)
    assert adapter.family == "torchvision"
    check_architecture(adapter, clips, expected)


@pytest.mark.slow  # 13 s measured on 2 shared cores
def test_report_over_every_r3d_layer(clips: list[sdinterp.Sample]) -> None:
    adapter = build_torchvision("r3d_18", num_frames=8, crop_size=64)
    report = sdinterp.StaticDynamic(adapter).attribute(clips, n_pairs=4, batch_size=12, seed=0, show_progress=False)
    assert {n: report.layers[n].n_units for n in report.layers} == stages(R18)
    assert all(0 <= b.dynamic_percent + b.static_percent <= 100 for b in report.layers.values())


def test_native_preprocessing_comes_from_the_weights_preset() -> None:
    clip = build_torchvision("r3d_18").clip
    assert (clip.num_frames, clip.crop_size, clip.short_side) == (16, 112, 128)
    assert clip.mean == pytest.approx((0.43216, 0.394666, 0.37645))
    s3d = build_torchvision("s3d").clip
    assert (s3d.num_frames, s3d.crop_size, s3d.short_side) == (16, 224, 256)
    # A custom crop without a short side resizes the short side to the crop.
    assert build_torchvision("s3d", num_frames=8, crop_size=64).clip.short_side is None


def test_mvit_size_substitution_is_scoped() -> None:
    import torchvision.models.video.mvit as tv_mvit

    original = tv_mvit._mvit
    adapter = build_torchvision("mvit_v2_s", num_frames=4, crop_size=64)
    assert tv_mvit._mvit is original, "the size substitution must be undone after building"
    assert adapter.model.pos_encoding.temporal_size == 2 and adapter.model.pos_encoding.spatial_size == (16, 16)


def test_swin_pools_channels_last_blocks(clips: list[sdinterp.Sample]) -> None:
    adapter = build_torchvision("swin3d_t", num_frames=4, crop_size=64)
    block = adapter.model.get_submodule(adapter.layers()["block11"].module)
    seen: list[torch.Tensor] = []
    handle = block.register_forward_hook(lambda m, a, out: seen.append(out.detach()))
    try:
        feats = capture_all(adapter, clips[:2], {"block11": adapter.layers()["block11"]})
    finally:
        handle.remove()
    (raw,) = seen
    assert raw.shape[-1] == 768  # (B, T, H, W, C)
    torch.testing.assert_close(feats["block11"], raw.mean(dim=(1, 2, 3)))


def test_plugin_hooks_adapt_and_load() -> None:
    from torchvision.models.video import r2plus1d_18

    adapter = sdinterp.adapt(r2plus1d_18(weights=None), num_frames=8, crop_size=64)
    assert isinstance(adapter, TorchvisionVideoAdapter) and adapter.clip.crop_size == 64
    loaded = sdinterp.load_model("torchvision:mc3_18", num_frames=8, crop_size=64)
    assert isinstance(loaded, TorchvisionVideoAdapter) and loaded.kind == "VideoResNet"
    with pytest.raises(ValueError, match="supported: r3d_18"):
        sdinterp.load_model("torchvision:resnet50")


def test_checkpoint_roundtrip(tmp_path) -> None:
    a = build_torchvision("r3d_18", num_frames=8, crop_size=64)
    path = tmp_path / "r3d.pth"
    torch.save({"module." + k: v for k, v in a.model.state_dict().items()}, path)  # DataParallel names
    b = sdinterp.load_model(f"torchvision:r3d_18:{path}", num_frames=8, crop_size=64)
    assert all(torch.equal(v, b.model.state_dict()[k]) for k, v in a.model.state_dict().items())


def test_cli_layers_lists_r3d(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["layers", "torchvision:r3d_18"]) == 0
    out = capsys.readouterr().out
    assert "torchvision adapter for VideoResNet: 5 canonical layers" in out
    assert "stage5  layer4  512" in out
