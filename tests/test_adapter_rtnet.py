"""RTNet adapter (adapters/rtnet.py) against the RTNet stand-in (tests/seg_models/rtnet.py: same
attribute paths, signatures and layouts as OliverRensu/RTNet and the study's copy; not the real code)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

from sdinterp import StaticDynamic, adapt
from sdinterp.adapters.rtnet import RTNetAdapter
from sdinterp.capture import LayerCapture
from sdinterp.errors import ReliabilityWarning
from sdinterp.interfaces import Sample
from sdinterp.testing import check_adapter
from seg_models.clips import image_flow_samples
from seg_models.rtnet import Interactive, StudyInteractive

pytestmark = pytest.mark.usefixtures("single_thread")  # one torch thread per module (tests/conftest.py)

TINY = dict(blocks=(1, 1, 1, 1), width=8, groups=2, width_per_group=32)
NAMES = [f"{s}.stage{k}" for s in ("appearance", "motion") for k in range(1, 6)] + [f"fusion{k}" for k in (2, 3, 4, 5)]


@pytest.fixture(scope="module")
def samples() -> list[Sample]:
    return image_flow_samples(2, 3, size=(48, 64), backward=True)


def _capture(adapter: RTNetAdapter, samples: list[Sample], names: list[str]) -> dict[str, torch.Tensor]:
    with torch.no_grad(), LayerCapture(adapter.model, {n: adapter.resolve(n) for n in names}) as cap:
        adapter.forward(adapter.prepare([adapter.views(s) for s in samples]))
        return cap.collect()


def test_rtnet_x50_layers_have_the_shapes_of_method_md_8() -> None:
    with torch.device("meta"):  # ResNeXt-50 32x4d streams: shapes only
        model = Interactive()
    adapter = adapt(model)
    assert isinstance(adapter, RTNetAdapter) and list(adapter.layers()) == NAMES
    shapes, handles = {}, []

    def keep(name: str, x: torch.Tensor) -> None:  # hooks must return None, or they replace the value
        shapes.setdefault(name, tuple(x.shape))

    for name, info in adapter.layers().items():
        module = model.get_submodule(info.module)
        if info.where == "input":
            handles.append(module.register_forward_pre_hook(lambda m, a, n=name: keep(n, a[0])))
        else:
            handles.append(module.register_forward_hook(lambda m, a, o, n=name: keep(n, o)))
    h, w = 384, 672  # RTNet's test size
    with torch.no_grad():
        model(torch.empty(1, 2, 3, h, w, device="meta"), torch.empty(1, 2, 6, h, w, device="meta"), train_flow=False)
    for handle in handles:
        handle.remove()
    expected = {
        "stage1": (64, 2),
        "stage2": (256, 4),
        "stage3": (512, 8),
        "stage4": (1024, 16),
        "stage5": (2048, 32),
        "fusion2": (64, 4),
        "fusion3": (128, 8),
        "fusion4": (256, 16),
        "fusion5": (256, 32),
    }
    for name, shape in shapes.items():
        channels, stride = expected[name.split(".")[-1]]
        assert shape == (2, channels, h // stride, w // stride), name  # batch 2B: the two frames folded in
        assert adapter.layers()[name].channels == channels


def test_module_paths() -> None:
    adapter = adapt(Interactive(**TINY))
    where = {n: (i.module, i.where) for n, i in adapter.layers().items()}
    assert where["appearance.stage1"] == ("spatial_net.inconv.0", "output")  # conv1 before BN
    assert where["appearance.stage2"] == ("spatial_net.encoder2", "input")  # after level-1 interaction
    assert where["motion.stage5"] == ("temporal_net.dilation0", "input")
    assert where["fusion2"] == ("Transformerstafm1", "output")
    assert where["fusion5"] == ("spatial_net.decoder4", "output")
    assert "once per sample" in adapter.describe()["note"] and adapter.describe()["samples_per_forward"] == 1


def test_one_sample_per_forward(samples) -> None:
    torch.manual_seed(0)
    model = Interactive(**TINY).eval()
    adapter = adapt(model, frame_size=(48, 64))
    inputs = adapter.prepare([adapter.views(s) for s in samples])
    img, flow = torch.cat([x[0] for x in inputs]), torch.cat([x[1] for x in inputs])
    level2 = []
    hook = model.spatial_net.encoder3.register_forward_pre_hook(lambda m, a: level2.append(a[0][0]))
    with torch.no_grad():  # the model itself mixes samples when B > 1 (why the adapter runs one at a time)
        model(img, flow, train_flow=False)
        model(img[:1], flow[:1], train_flow=False)
    hook.remove()
    assert not torch.allclose(level2[0], level2[1], atol=1e-4)  # sample 0, frame 1, after level 2
    together = _capture(adapter, samples, NAMES)
    for i, s in enumerate(samples):
        single = _capture(adapter, [s], NAMES)
        for n in NAMES:
            assert together[n].shape == (len(samples), adapter.layers()[n].channels)
            torch.testing.assert_close(together[n][i : i + 1], single[n], rtol=1e-5, atol=1e-6)
    raw = _capture(adapter, samples, ["spatial_net.bridge1"])  # raw module paths are run per sample too
    assert raw["spatial_net.bridge1"].shape == (len(samples), 8)


def test_study_copy_and_repeated_calls(samples) -> None:
    torch.manual_seed(0)
    real = Interactive(**TINY).eval()
    study = StudyInteractive(**TINY).eval()
    study.load_state_dict(real.state_dict())
    counts: dict[str, int] = {}
    hooks = [
        real.get_submodule(p).register_forward_hook(lambda m, a, o, p=p: counts.__setitem__(p, counts.get(p, 0) + 1))
        for p in ("Transformerstafm1", "SselfTransformer1", "STTransformer2")
    ]
    with torch.no_grad():
        real(torch.zeros(1, 2, 3, 32, 32), torch.zeros(1, 2, 6, 32, 32), train_flow=False)
    for h in hooks:
        h.remove()
    assert counts == {"Transformerstafm1": 1, "SselfTransformer1": 2, "STTransformer2": 2}  # once per frame
    a, b = adapt(real, frame_size=(48, 64)), adapt(study, frame_size=(48, 64))
    assert b._study and not a._study
    got_a, got_b = _capture(a, samples, NAMES), _capture(b, samples, NAMES)
    for n in NAMES:  # inconv[0] runs twice per sample in the study copy: its first call is the sample's row
        torch.testing.assert_close(got_a[n], got_b[n])


def test_frames_and_backward_flow(samples) -> None:
    torch.manual_seed(0)
    model = Interactive(**TINY).eval()
    current = _capture(adapt(model, frame_size=(48, 64)), samples, ["appearance.stage3"])["appearance.stage3"]
    both = _capture(adapt(model, frame_size=(48, 64), frame_pooling="both"), samples, ["appearance.stage3"])[
        "appearance.stage3"
    ]
    assert not torch.allclose(current, both)
    adapter = adapt(model, frame_size=(48, 64))
    img, flow = adapter.prepare([adapter.views(samples[0])])[0]
    assert img.shape == (1, 2, 3, 48, 64) and flow.shape == (1, 2, 6, 48, 64)
    assert not torch.equal(flow[:, :, :3], flow[:, :, 3:])  # forward vs backward flow
    no_backward = samples[0].replace(meta={})
    with pytest.raises(ValueError, match="backward_flow"):
        adapter.prepare([adapter.views(no_backward)])
    with pytest.raises(ValueError, match="does not apply to RTNet"):
        adapt(model, crop_size=32)
    reuse = adapt(model, frame_size=(48, 64), backward_flow="forward")
    _, flow2 = reuse.prepare([reuse.views(no_backward)])[0]
    assert torch.equal(flow2[:, :, :3], flow2[:, :, 3:])


def test_conformance_and_report_on_real_clips_with_flow_jitter(samples) -> None:
    torch.manual_seed(0)
    adapter = adapt(Interactive(**TINY).eval(), frame_size=(48, 64))
    observed = check_adapter(
        adapter, samples, n_pairs=2, batch_size=6, static_sampler="flow_jitter", dynamic_sampler="restyle"
    )
    assert observed == {n: i.channels for n, i in adapter.layers().items()}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ReliabilityWarning)
        report = StaticDynamic(
            adapter,
            layers=["appearance.stage5", "motion.stage5", "fusion5"],
            static_sampler="flow_jitter",
            dynamic_sampler="restyle",
        ).attribute(samples, n_pairs=3, batch_size=9, seed=2, show_progress=False)
    for n in ("appearance.stage5", "motion.stage5", "fusion5"):
        assert report[n].n_units == observed[n] and np.isfinite(report[n].percent["static"])
