"""The trainable two-stream family: every variant builds with the paper's layer names and widths,
the adapter conforms, a report runs on (image, flow) pairs of a real clip with computed flow, the
vos-alternating protocol alternates per sequence item, the pairs isolate their factor, Stylized-DAVIS
flow folders are read, and a few training steps lower the loss."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

from _paths import VIDEOS
from sdinterp.adapt import adapt, load_model
from sdinterp.errors import ReliabilityWarning
from sdinterp.interfaces import Factor
from sdinterp.pipeline import StaticDynamic
from sdinterp.plugins.samplers.basic import Restyle
from sdinterp.plugins.samplers.flow_jitter import FlowJitter
from sdinterp.plugins.twostream.adapter import TwoStreamFamilyAdapter
from sdinterp.plugins.twostream.data import TwoStreamFrames
from sdinterp.plugins.twostream.protocol import VosAlternating
from sdinterp.plugins.twostream.spec import options_for, parse_spec

pytestmark = pytest.mark.usefixtures("single_thread")  # one torch thread per module (tests/conftest.py)

VIDEO = VIDEOS / "tree.avi"
STAGES = [f"{s}.stage{k}" for s in ("appearance", "motion") for k in range(1, 6)]


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    """(image, flow) samples of a real clip, OpenCV DIS flow computed and cached."""
    cache = tmp_path_factory.mktemp("flow")
    data = TwoStreamFrames(VIDEO, frames_per_item=2, repeats=6, seed=0, flow="dis", flow_cache=cache)
    return data, cache


def _adapter(spec: str, size: int = 32) -> TwoStreamFamilyAdapter:
    torch.manual_seed(0)
    return adapt(load_model(spec, **options_for(spec, {"cascades": 1, "decoder_channels": 8})), frame_size=(size, size))


@pytest.mark.parametrize("fusion", ["gated", "convex_gated"])
@pytest.mark.parametrize("cross", ["none", "unidirectional", "bidirectional"])
def test_every_variant_builds_with_the_paper_names(fusion, cross):
    adapter = _adapter(f"twostream:{fusion}-{cross}-r18-w8")
    layers = adapter.layers()
    assert list(layers) == STAGES + ["fusion2", "fusion3", "fusion4", "fusion5"]
    widths = {1: 8, 2: 8, 3: 16, 4: 32, 5: 64}  # ResNet-18 at base width 8
    for k in range(1, 6):
        assert layers[f"appearance.stage{k}"].channels == layers[f"motion.stage{k}"].channels == widths[k]
    for k in range(2, 6):  # gated fusion has twice the stream channels (method.md §6), the summing CCG as many
        assert layers[f"fusion{k}"].channels == widths[k] * (2 if fusion == "gated" else 1)
    assert layers["appearance.stage1"].module == "appearance.conv1"  # conv1 before BN (method.md §3)
    for k in (3, 4, 5):
        info = layers[f"motion.stage{k}"]
        if cross == "none":
            assert info.module == f"motion.layer{k - 1}" and info.select is None
        else:  # after the cross connection: its (appearance, motion) output
            assert info.module == f"cross{k}" and info.select == 1 and layers[f"appearance.stage{k}"].select == 0
    image = torch.rand(2, 3, 32, 32)
    assert adapter.model(image, image).shape == (2, 1, 32, 32)


def test_fusionseg_and_depths():
    fs = _adapter("twostream:fusionseg-r18-w8")
    assert [n for n in fs.layers() if n.startswith("fusion")] == ["fusion2", "fusion5"]
    assert not any(n.startswith("cross") for n, _ in fs.model.named_children())
    assert fs.model.decoder.aspp is not None  # DeepLabV3+ decoder (torchvision ASPP)
    r50 = parse_spec("twostream:gated-bidirectional-r50-w8")
    assert (r50.depth, r50.width, r50.fusion, r50.cross) == (50, 8, "gated", "bidirectional")
    net = load_model("twostream:gated-bidirectional-r50-w8", cascades=1)
    assert net.appearance.stage_channels == {1: 8, 2: 32, 3: 64, 4: 128, 5: 256} and net.fusion5.out_channels == 512
    assert load_model("twostream:convex_gated-none-r34-w8").appearance.layer3[5] is not None  # 6 blocks in stage 4
    with pytest.raises(ValueError, match="unknown fusion 'gatd'.*gated"):
        parse_spec("twostream:gatd-none")
    with pytest.raises(ValueError, match="r101"):
        parse_spec("twostream:gated-none-r101")


def test_stage1_is_conv1_before_batch_norm(clips):
    from sdinterp.capture import LayerCapture

    data, _ = clips
    adapter = _adapter("twostream:gated-unidirectional-r18-w8")
    adapter.model.eval()
    image, flow = adapter.prepare([adapter.views(data[i]) for i in range(2)])
    infos = {n: adapter.resolve(n) for n in ("appearance.stage1", "motion.stage3", "fusion5")}
    with torch.inference_mode(), LayerCapture(adapter.model, infos) as cap:
        adapter.forward((image, flow))
        feats = cap.collect()
        conv = adapter.model.appearance.conv1(image).mean(dim=(2, 3))
        a, m = adapter.model.appearance.stem(image), adapter.model.motion.stem(flow)
        for k in (2, 3):
            a, m = adapter.model.appearance.stage(k)(a), adapter.model.motion.stage(k)(m)
        _, m3 = adapter.model.cross3(a, m)
    torch.testing.assert_close(feats["appearance.stage1"].float(), conv)
    assert (conv < 0).any()  # raw convolution output: before BN and ReLU
    torch.testing.assert_close(feats["motion.stage3"].float(), m3.mean(dim=(2, 3)))
    assert feats["fusion5"].shape == (2, 128)


def test_conformance(clips):
    from sdinterp.testing import check_adapter

    data, _ = clips
    adapter = _adapter("twostream:gated-bidirectional-r18-w8")
    observed = check_adapter(
        adapter,
        [data[i] for i in range(4)],
        n_pairs=4,
        batch_size=4,
        static_sampler=FlowJitter(),
        dynamic_sampler=Restyle(),
    )
    assert observed["fusion5"] == 128 and observed["motion.stage5"] == 64


def test_report_on_real_clip_pairs_with_computed_flow(clips):
    data, cache = clips
    assert any(cache.rglob("*.npy"))  # the flow was computed once and cached
    sample = data[0]
    assert sample.flow.shape == (1, 240, 320, 2) and sample.flow.dtype == np.float32 and np.abs(sample.flow).max() > 0.1
    adapter = _adapter("twostream:convex_gated-unidirectional-r18-w8")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ReliabilityWarning)
        report = StaticDynamic(adapter, static_sampler="flow_jitter", dynamic_sampler="restyle").attribute(
            data, n_pairs=12, batch_size=8, seed=0, protocol=VosAlternating(frames_per_item=2), show_progress=False
        )
    assert list(report.layers) == list(adapter.layers())
    # frames_per_item=2: factors S S D D S S D D S S D D -> 6 pairs each
    assert report.n_pairs == {"dynamic": 6, "static": 6}
    for lb in report:
        assert abs(sum(lb.percent.values()) - 100.0) < 0.2
        assert lb.info["stream"] in ("appearance", "motion", "fused")
    assert report.identity["protocol"] == "vos-alternating"


def test_protocol_alternates_per_item_static_first():
    p = VosAlternating(frames_per_item=3)
    got = [p.factors(i, np.random.default_rng(i))[0] for i in range(12)]
    assert got == [Factor.STATIC] * 3 + [Factor.DYNAMIC] * 3 + [Factor.STATIC] * 3 + [Factor.DYNAMIC] * 3
    assert [VosAlternating().factors(i, None)[0].code for i in range(4)] == [1, 0, 1, 0]  # the reference's 1, 0, 1, ...
    from sdinterp.pipeline.protocols import get_protocol

    assert isinstance(get_protocol("vos-alternating"), VosAlternating)
    with pytest.raises(ValueError, match="frames_per_item"):
        VosAlternating(0)


def test_pairs_isolate_their_factor(clips):
    from sdinterp.pipeline import BatchPlan, RunPlan, build_batch

    data, _ = clips
    adapter = _adapter("twostream:gated-none-r18-w8")
    for protocol in (VosAlternating(frames_per_item=2), "shared-anchor"):
        from sdinterp.pipeline.protocols import get_protocol

        proto = get_protocol(protocol)
        run = RunPlan.build(proto, n_sources=len(data), n_pairs=8, batch_size=1000, seed=0)
        batch = BatchPlan(0, run.batches[0].clips[:4])
        sources = [data[c.source] for c in batch.clips]
        inputs, plan = build_batch(adapter, run, batch, sources, FlowJitter(), Restyle())
        seen = set()
        for factor, first, second in plan:
            for i, j in zip(first.tolist(), second.tolist()):
                a, b = inputs[i], inputs[j]
                seen.add(factor)
                if factor is Factor.STATIC:  # same image (in the anchor's style), jittered flow
                    assert np.array_equal(a.frames, b.frames) and not np.array_equal(a.flow, b.flow)
                    assert a.style == b.style
                else:  # same flow, the image in another style
                    assert np.array_equal(a.flow, b.flow) and not np.array_equal(a.frames, b.frames)
                    assert a.style != b.style
        assert seen == {Factor.STATIC, Factor.DYNAMIC}


def test_stylized_davis_flow_folders_are_read(tmp_path):
    from PIL import Image

    from sdinterp.data.layouts import DAVIS_STYLES

    rng = np.random.default_rng(0)
    flows = rng.integers(0, 256, (3, 16, 20, 3), dtype=np.uint8)
    for style in DAVIS_STYLES:
        (tmp_path / "JPEGImages" / style / "seq").mkdir(parents=True)
        for t in range(4):
            Image.fromarray(rng.integers(0, 256, (16, 20, 3), dtype=np.uint8)).save(
                tmp_path / "JPEGImages" / style / "seq" / f"{t:05d}.png"
            )
    (tmp_path / "FlowImages_gap1" / "seq").mkdir(parents=True)
    for t in range(3):  # the last frame has no forward flow
        Image.fromarray(flows[t]).save(tmp_path / "FlowImages_gap1" / "seq" / f"{t:05d}.png")
    data = TwoStreamFrames(tmp_path, frames_per_item=3, repeats=2, flow="images", style="random")
    assert len(data) == 6
    got = [data[i] for i in range(6)]
    assert [int(s.frame_indices[0]) for s in got] == [0, 1, 2, 0, 1, 2]  # frame 3 (no flow) is never used
    for s in got:
        assert s.style in DAVIS_STYLES and s.flow.dtype == np.uint8
        assert np.array_equal(s.flow[0], flows[int(s.frame_indices[0])])
    from sdinterp.plugins.samplers.prestylized import PreStylized

    partner = PreStylized().partner(got[0], np.random.default_rng(1))  # dynamic pairs from the real style folders
    assert partner.style != got[0].style and np.array_equal(partner.flow, got[0].flow)


def test_a_few_training_steps_lower_the_loss():
    import torch.nn.functional as F

    from sdinterp.plugins.twostream.synthetic import synthetic_batch
    from sdinterp.plugins.twostream.train import train_synthetic

    adapter = _adapter("twostream:gated-unidirectional-r18-w8")
    held_out = synthetic_batch(np.random.default_rng(99), 8, size=32)
    masks = torch.from_numpy(np.stack([s.meta["mask"] for s in held_out])).float()[:, None]

    def loss() -> float:  # batch statistics in both measurements: a function of the weights only
        adapter.model.train()
        with torch.no_grad():
            return float(
                F.binary_cross_entropy_with_logits(
                    adapter.forward(adapter.prepare([adapter.views(s) for s in held_out])), masks
                )
            )

    before = loss()
    result = train_synthetic(adapter, steps=15, batch_size=4, size=32, lr=3e-3, seed=0)
    assert len(result.losses) == 15 and all(np.isfinite(result.losses))
    assert not adapter.model.training
    assert loss() < 0.9 * before
