"""MATNet adapter (adapters/matnet.py) against the MATNet stand-in (tests/seg_models/matnet.py: same
attribute paths, signatures and layouts as tfzhou/MATNet and the study's variants; not the real code)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from sdinterp import StaticDynamic, adapt
from sdinterp.adapters.matnet import MATNetAdapter
from sdinterp.capture import LayerCapture
from sdinterp.errors import ReliabilityWarning
from sdinterp.interfaces import Sample
from sdinterp.testing import check_adapter
from seg_models.clips import image_flow_samples
from seg_models.matnet import Encoder, MATNet, study_args

pytestmark = pytest.mark.usefixtures("single_thread")  # one torch thread per module (tests/conftest.py)

TINY = dict(blocks=(1, 1, 1, 1), width=8)
NAMES = [f"{s}.stage{k}" for s in ("appearance", "motion") for k in range(1, 6)] + [f"fusion{k}" for k in (2, 3, 4, 5)]


@pytest.fixture(scope="module")
def samples() -> list[Sample]:
    return image_flow_samples(1, 4)


def _shapes(model: torch.nn.Module, adapter: MATNetAdapter, side: tuple[int, int]) -> dict[str, tuple[int, ...]]:
    """Per-sample shape of every canonical layer in one forward (hooks only: runs on meta tensors)."""
    shapes, handles = {}, []
    for name, info in adapter.layers().items():
        module = model.get_submodule(info.module)

        def record(value, name=name, info=info):
            x = info.select(value) if info.select is not None else value
            shapes[name] = tuple(x.shape[1:])

        if info.where == "input":
            handles.append(module.register_forward_pre_hook(lambda m, a, f=record, i=info: f(a if i.select else a[0])))
        else:
            handles.append(module.register_forward_hook(lambda m, a, o, f=record: f(o)))
    try:
        with torch.no_grad():
            model(torch.empty(1, 3, *side, device="meta"), torch.empty(1, 3, *side, device="meta"))
    finally:
        for h in handles:
            h.remove()
    return shapes


def test_matnet_r101_layers_have_the_shapes_of_method_md_8() -> None:
    with torch.device("meta"):  # ResNet-101 streams: shapes only, no memory, no arithmetic
        encoder = Encoder()
    adapter = adapt(encoder)
    assert isinstance(adapter, MATNetAdapter) and list(adapter.layers()) == NAMES
    widths = (64, 256, 512, 1024, 2048)
    for side, spatial in (
        ((473, 473), [(237, 237), (119, 119), (60, 60), (30, 30), (15, 15)]),
        ((480, 854), [(240, 427), (120, 214), (60, 107), (30, 54), (15, 27)]),
    ):
        shapes = _shapes(encoder, adapter, side)
        for stream in ("appearance", "motion"):
            for k in range(1, 6):
                assert shapes[f"{stream}.stage{k}"] == (widths[k - 1], *spatial[k - 1]), (side, stream, k)
                assert adapter.layers()[f"{stream}.stage{k}"].channels == widths[k - 1]
        for k in (2, 3, 4, 5):  # a gated fusion output has twice the stream channels
            assert shapes[f"fusion{k}"] == (2 * widths[k - 1], *spatial[k - 1])
            assert adapter.layers()[f"fusion{k}"].channels == 2 * widths[k - 1]


def test_module_paths_follow_the_cross_connection() -> None:
    adapter = adapt(Encoder(**TINY))
    where = {n: (i.module, i.where) for n, i in adapter.layers().items()}
    assert where["appearance.stage1"] == ("conv1_1", "output")  # conv1 before BN
    assert where["appearance.stage2"] == ("res2_1", "output")
    assert where["appearance.stage3"] == ("res4_1", "input")  # after coa_res3: only res4's input
    assert where["motion.stage4"] == ("res5_2", "input")
    assert where["motion.stage5"] == ("gated_res5", "input")
    assert where["fusion3"] == ("gated_res3", "output")
    raw = adapter.resolve("input:gated_res5")  # a raw path is the whole input, not a stream's part
    assert raw.module == "gated_res5" and raw.where == "input" and raw.select is None


def _cross_features(
    encoder: Encoder, image: torch.Tensor, flow: torch.Tensor, reciprocal: bool
) -> dict[str, torch.Tensor]:
    """The stream features after each cross connection, recomputed from the modules' own outputs."""
    out = {}
    ra, rm = encoder.forward_res2(image, flow)
    for k in (3, 4, 5):
        ra, rm = getattr(encoder, f"res{k}_1")(ra), getattr(encoder, f"res{k}_2")(rm)
        za, zb, _, qb = getattr(encoder, f"coa_res{k}")(ra, rm)
        ra, rm = F.relu(zb + ra), F.relu((za if reciprocal else qb) + rm)
        out[f"appearance.stage{k}"], out[f"motion.stage{k}"] = ra.mean((2, 3)), rm.mean((2, 3))
    return out


@pytest.mark.parametrize("cc_type, fusion_type", [(None, None), ("coatt_gated_recip", "convex_gated")])
def test_captured_stream_features_are_those_after_the_cross_connection(samples, cc_type, fusion_type) -> None:
    torch.manual_seed(0)
    if cc_type is None:
        model = Encoder(**TINY).eval()
        encoder = model
    else:  # the study's MATNet(args) wrapper, called with {"Image", "Flow"} and stages
        model = MATNet(study_args(cc_type, fusion_type), out_side=32, **TINY).eval()
        encoder = model.encoder
    adapter = adapt(model, size=64)
    assert adapter.resolve("appearance.stage3").module == ("res4_1" if cc_type is None else "encoder.res4_1")
    x = adapter.prepare([adapter.views(s) for s in samples[:2]])
    assert x[0].shape == x[1].shape == (2, 3, 64, 64)
    names = [n for n in NAMES if n[-1] in "345" and "fusion" not in n]
    with torch.no_grad(), LayerCapture(model, {n: adapter.resolve(n) for n in names}) as cap:
        adapter.forward(x)
        got = cap.collect()
        expected = _cross_features(encoder, *x, reciprocal=cc_type is not None)
    for n in names:
        torch.testing.assert_close(got[n], expected[n].double().float(), rtol=1e-5, atol=1e-6)
    # the streams really differ after the cross connection (the check above could not pass by accident)
    assert not torch.allclose(got["appearance.stage5"], got["motion.stage5"][:, : got["appearance.stage5"].shape[1]])


def test_conformance_and_report_on_real_clips_with_flow_jitter(samples) -> None:
    torch.manual_seed(0)
    adapter = adapt(Encoder(**TINY).eval(), frame_size=(64, 64))
    observed = check_adapter(
        adapter, samples, n_pairs=2, batch_size=6, static_sampler="flow_jitter", dynamic_sampler="restyle"
    )
    assert observed == {n: i.channels for n, i in adapter.layers().items()}
    assert observed["fusion5"] == 2 * observed["appearance.stage5"] == 512
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ReliabilityWarning)
        report = StaticDynamic(adapter, static_sampler="flow_jitter", dynamic_sampler="restyle").attribute(
            samples, n_pairs=4, batch_size=12, seed=1, show_progress=False
        )
    assert list(report.layers) == NAMES
    for n in NAMES:
        lb = report[n]
        assert lb.n_units == observed[n] and lb.n_pairs == {"dynamic": 4, "static": 4}
        assert np.isfinite([lb.percent["dynamic"], lb.percent["static"]]).all()


def test_input_convention_and_errors(samples) -> None:
    adapter = adapt(Encoder(**TINY), frame_size=(32, 48))
    white = Sample(frames=np.zeros((1, 8, 8, 3), np.uint8), flow=np.full((1, 8, 8, 3), 255, np.uint8), video_id="w")
    image, flow = adapter.prepare([adapter.views(white)])
    assert image.shape == flow.shape == (1, 3, 32, 48)
    # the flow image is ImageNet-normalised like the image (reference VOS transform, method.md §2)
    mean, std = torch.tensor([0.485, 0.456, 0.406]), torch.tensor([0.229, 0.224, 0.225])
    torch.testing.assert_close(flow[0, :, 0, 0], (1 - mean) / std)
    torch.testing.assert_close(image[0, :, 0, 0], -mean / std)
    # float (u, v) flow is RGB-encoded first: zero motion is white
    still = white.replace(flow=np.zeros((1, 8, 8, 2), np.float32))
    torch.testing.assert_close(adapter.prepare([adapter.views(still)])[1], flow)
    moving = white.replace(flow=np.ones((1, 8, 8, 2), np.float32))  # 1.4 px everywhere
    per_frame = adapter.prepare([adapter.views(moving)])[1]  # saturated: its own maximum
    fixed = adapt(Encoder(**TINY), frame_size=(32, 48), flow_max_magnitude=14.0).prepare([adapter.views(moving)])[1]
    assert (fixed - flow).abs().max() < (per_frame - flow).abs().max()  # a tenth of the range: nearly white
    with pytest.raises(ValueError, match="has no flow"):
        adapter.prepare([adapter.views(white.replace(flow=None))])
    assert adapter.describe()["frame_size"] == [32, 48]
    with pytest.raises(ValueError, match="num_frames=8 does not apply to MATNet"):  # never silently ignored
        adapt(Encoder(**TINY), num_frames=8)


def test_only_matnet_structures_are_claimed() -> None:
    encoder = Encoder(**TINY)
    del encoder.coa_res4
    assert not isinstance(adapt(encoder), MATNetAdapter)  # the generic adapter answers instead
    with pytest.raises(ValueError, match="not a MATNet encoder"):
        MATNetAdapter(torch.nn.Conv2d(3, 3, 1))
