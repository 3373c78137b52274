"""Issue 19 item 2: one (image, flow) input path and one probe for every two-stream family, RTNet's R34
variant, RTNet in the fusion study (two frames and backward flow from the data tools), VisTR's
consecutive frames, and ready adapters that refuse a size they do not have.

Models are the stand-ins of tests/seg_models (same attribute paths as the public code; not it)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from torch import nn

from _paths import VIDEOS
from sdinterp import adapt
from sdinterp.adapters.image_flow import ImageFlowPreprocessor, TwoStreamAdapter
from sdinterp.adapters.matnet import MATNetAdapter
from sdinterp.adapters.rtnet import RTNetAdapter, rtnet_variant
from sdinterp.adapters.vistr import VisTRAdapter
from sdinterp.capture import LayerCapture
from sdinterp.errors import ReliabilityWarning, UnsupportedModelError
from sdinterp.interfaces import Sample
from sdinterp.plugins.twostream.adapter import TwoStreamFamilyAdapter
from sdinterp.testing import check_adapter
from seg_models.clips import clip_samples, image_flow_samples
from seg_models.matnet import Encoder
from seg_models.rtnet_r34 import InteractiveR34, tiny_rtnet_r34
from seg_models.vistr import build_vistr

pytestmark = pytest.mark.usefixtures("single_thread")

NAMES = [f"{s}.stage{k}" for s in ("appearance", "motion") for k in range(1, 6)] + [f"fusion{k}" for k in (2, 3, 4, 5)]


def test_every_two_stream_adapter_shares_the_one_input_path() -> None:
    from sdinterp import load_model

    torch.manual_seed(0)
    adapters = [
        adapt(Encoder(blocks=(1, 1, 1, 1), width=8), frame_size=(32, 48)),
        adapt(tiny_rtnet_r34(), frame_size=(32, 48)),
        adapt(load_model("twostream:gated-none-r18-w8"), frame_size=(32, 48)),
    ]
    assert [type(a) for a in adapters] == [MATNetAdapter, RTNetAdapter, TwoStreamFamilyAdapter]
    sample = image_flow_samples(2, 1, size=(40, 56), backward=True)[0]
    images = []
    for a in adapters:
        assert isinstance(a, TwoStreamAdapter) and isinstance(a.preprocessor, ImageFlowPreprocessor)
        x = a.prepare([a.views(sample)])
        image = x[0][0][:, 0] if isinstance(x, list) else x[0]  # RTNet: per-sample (img (1, 2, 3, H, W), flow)
        images.append(image)
        assert a.describe()["frame_size"] == [32, 48] and a.describe()["mean"] == [0.485, 0.456, 0.406]
    for image in images[1:]:
        torch.testing.assert_close(image, images[0], rtol=0, atol=0)  # the same current-frame tensor


def test_rtnet_r34_is_recognised_with_its_own_paths() -> None:
    with torch.device("meta"):  # the published ResNet-34 widths, shapes only
        model = InteractiveR34()
    assert rtnet_variant(model) == "R34"
    adapter = adapt(model)
    assert isinstance(adapter, RTNetAdapter) and list(adapter.layers()) == NAMES
    info = adapter.layers()
    assert info["appearance.stage5"].module == "spatial_net.dilation1" and info["appearance.stage5"].where == "input"
    assert [info[f"appearance.stage{k}"].channels for k in range(1, 6)] == [64, 64, 128, 256, 512]
    assert [info[f"fusion{k}"].channels for k in (2, 3, 4)] == [64, 128, 256]  # STAFMs keep the encoder width
    assert adapter.describe()["frame_size"] == [480, 854]


def test_rtnet_r34_features_are_the_encoder_features_on_real_clips() -> None:
    samples = image_flow_samples(2, 3, size=(48, 64), backward=True)
    model = tiny_rtnet_r34()
    adapter = adapt(model, frame_size=(48, 64))
    observed = check_adapter(
        adapter, samples, n_pairs=2, batch_size=6, static_sampler="flow_jitter", dynamic_sampler="restyle"
    )
    assert observed == {n: i.channels for n, i in adapter.layers().items()}
    s = samples[0]
    img, flow = adapter.prepare([adapter.views(s)])[0]
    with torch.no_grad(), LayerCapture(model, {"a5": adapter.resolve("appearance.stage5")}) as cap:
        adapter.forward([(img, flow)])
        got = cap.collect()["a5"]
        s5, _, _, _ = model.encoder(img, flow)  # level-4 features are s5's first channels
    c4 = adapter.layers()["appearance.stage5"].channels
    torch.testing.assert_close(got, s5[:1, :c4].mean(dim=(2, 3)))


def test_an_rtnet_of_neither_layout_is_refused_by_name_not_handed_to_the_generic_adapter() -> None:
    model = tiny_rtnet_r34()
    del model.spatial_net.dilation1  # neither RX50 (bridges) nor R34 (dilation1..4)
    assert rtnet_variant(model) is None
    with pytest.raises(UnsupportedModelError, match="RTNet's streams and STAFMs but neither the RX50 layout"):
        adapt(model)


def test_fusion_study_gives_rtnet_two_frames_and_backward_flow(tmp_path) -> None:
    from sdinterp.data.flow import compute_flow
    from sdinterp.data.video import open_video
    from sdinterp.plugin_manager import get_registry
    from sdinterp.plugins.twostream.data import TwoStreamFrames
    from sdinterp.plugins.twostream.protocol import VosAlternating
    from sdinterp.plugins.twostream.study import run_study

    data = TwoStreamFrames(VIDEOS / "tree.avi", frames_per_item=2, num_items=2, flow_cache=tmp_path)
    adapter = adapt(tiny_rtnet_r34(), frame_size=(48, 64))
    pairs = data.for_adapter(adapter)
    assert data.for_adapter(adapt(Encoder(blocks=(1, 1, 1, 1), width=8))) is data  # one-frame models: unchanged
    s = pairs[1]
    f, g = (int(i) for i in s.frame_indices)
    assert s.frames.shape[0] == s.flow.shape[0] == s.meta["backward_flow"].shape[0] == 2
    assert f == int(data[1].frame_indices[0]) and g != f and abs(g - f) <= 10  # reference offset in [-10, 10)
    source = open_video(VIDEOS / "tree.avi")
    back = compute_flow(*source.read([f, f - 1])) if f >= 1 else compute_flow(*source.read([1, 0]))
    np.testing.assert_allclose(s.meta["backward_flow"][0], back)
    registry = get_registry()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ReliabilityWarning)
        reports = run_study(
            ["python:seg_models.rtnet_r34:tiny_rtnet_r34"],
            data,
            registry.create("sampler", "flow_jitter"),
            registry.create("sampler", "restyle"),
            VosAlternating(2),
            4,
            batch_size=4,
            frame_size=(48, 64),
            layers=["appearance.stage5", "motion.stage5", "fusion5"],
        )
    report = reports["python:seg_models.rtnet_r34:tiny_rtnet_r34"]
    assert report.n_pairs == {"static": 2, "dynamic": 2} and report["fusion5"].n_units == 32


def test_vistr_reads_consecutive_frames_cycled_when_short() -> None:
    adapter = adapt(build_vistr(num_frames=4, d_model=32, nhead=4, dim_feedforward=64, blocks=(1, 1, 1, 1), width=8))
    assert isinstance(adapter, VisTRAdapter)
    long, short = clip_samples(9, 1)[0], clip_samples(3, 1)[0]
    assert adapter.views(long).views[0].tolist() == [0, 1, 2, 3]  # inference.py: file_names[:num_frames]
    assert adapter.views(short).views[0].tolist() == [0, 1, 2, 0]  # file_names * k, cut to num_frames


def test_a_ready_adapter_refuses_a_size_it_does_not_have() -> None:
    adapter = adapt(Encoder(blocks=(1, 1, 1, 1), width=8), frame_size=(32, 32))
    assert adapt(adapter, size=32) is adapter and adapt(adapter, frame_size=(32, 32)) is adapter
    with pytest.raises(ValueError, match=r"size=64 \(it has \[32, 32\]\)"):
        adapt(adapter, size=64)
    clip = adapt(nn.Sequential(nn.Conv3d(3, 4, 3), nn.ReLU()), num_frames=4, crop_size=32)
    with pytest.raises(ValueError, match="size=48"):
        adapt(clip, size=48)


def test_clip_options_are_refused_and_size_is_applied_never_ignored() -> None:
    from sdinterp import load_model

    with pytest.raises(ValueError, match="num_frames=8 does not apply to two-stream models"):
        adapt(load_model("twostream:gated-none-r18-w8"), num_frames=8)
    assert adapt(load_model("twostream:gated-none-r18-w8"), size=40).describe()["frame_size"] == [40, 40]  # --size
    sample = Sample(frames=np.zeros((1, 8, 8, 3), np.uint8), video_id="no-flow")
    with pytest.raises(ValueError, match="has no flow"):
        adapt(Encoder(blocks=(1, 1, 1, 1), width=8)).prepare([sample.replace(views=(np.array([0]),))])
