"""Host <-> device copies on a device that is not the CPU (issue 21, item 4), counted on ``meta``.

``meta`` tensors have shapes and no data: any read back to the host (``.item()``, ``.cpu()``,
``float(t)``) fails, and every copy onto the device is an ``aten._to_copy`` / ``aten.copy_`` that a
dispatch mode sees. The counts: a restyle or a flow jitter of a clip already on the device copies
nothing (per-style constants go there once, on first use); a run copies each batch's prepared input
to the device once, whatever the number of pairs in it, and reads nothing back but the pooled features.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pytest
import torch
from torch.utils._python_dispatch import TorchDispatchMode

import sdinterp
from sdinterp.plugin_manager import get_registry
from sdinterp.plugins.samplers.flow_jitter import jitter_frame
from sdinterp.validity import CONTROLS

aten = torch.ops.aten
META = torch.device("meta")


class Transfers(TorchDispatchMode):
    """Counts copies between devices (by direction) and reads of a device value by the host."""

    def __init__(self) -> None:
        super().__init__()
        self.up = self.down = self.reads = 0

    def __torch_dispatch__(self, func: Any, types: Any, args: Any = (), kwargs: Any = None) -> Any:
        packet = func.overloadpacket
        if packet in (aten._local_scalar_dense, aten.item):  # item() is not decomposed under inference mode
            self.reads += args[0].device.type != "cpu"  # counted before it runs: on meta it raises
        out = func(*args, **(kwargs or {}))
        if packet in (aten._to_copy, aten.to, aten.copy_):
            src, dst = (args[1], args[0]) if packet is aten.copy_ else (args[0], out)
            if isinstance(src, torch.Tensor) and src.device != dst.device:
                self.up += dst.device.type != "cpu"
                self.down += dst.device.type == "cpu"
        return out


def test_the_counter_sees_copies_and_reads() -> None:
    with Transfers() as seen:
        x = torch.ones(3).to(META)
        with pytest.raises((RuntimeError, NotImplementedError)):
            x.sum().item()  # a meta tensor has no value to read
    assert (seen.up, seen.reads) == (1, 1)


@pytest.mark.parametrize("name", sorted(get_registry().names("restyler")))
def test_a_restyle_on_the_device_copies_nothing(name: str) -> None:
    restyler = get_registry().create("restyler", name)
    clip = torch.zeros((4, 16, 24, 3), dtype=torch.uint8, device=META)
    restyler(clip, 1)  # first use: the style's constants (kernel, tables, spectrum) go to the device
    with Transfers() as seen:
        out = restyler(clip, 1)
    assert (seen.up, seen.down, seen.reads) == (0, 0, 0)
    assert out.device == META and out.dtype == torch.uint8 and tuple(out.shape) == (4, 16, 24, 3)
    with Transfers() as first:
        restyler(clip, 2)  # a new style: its constants, nothing read back
    assert first.down == first.reads == 0


def test_a_flow_jitter_on_the_device_copies_nothing() -> None:
    flow = torch.zeros((32, 40, 3), dtype=torch.uint8, device=META)
    jitter_frame(flow, 0.2, 1.3, True)
    with Transfers() as seen:
        out = [jitter_frame(flow, h, s, first) for h, s, first in ((0.2, 1.3, True), (-0.4, 0.1, False))]
    assert (seen.up, seen.down, seen.reads) == (0, 0, 0)
    assert all(o.device == META and o.dtype == torch.uint8 and tuple(o.shape) == (32, 40, 3) for o in out)


def test_the_torch_jitter_gives_the_opencv_jitters_values() -> None:
    from sdinterp.data.flow import flow_to_rgb

    img = flow_to_rgb(np.random.default_rng(0).normal(size=(48, 64, 2)))
    for params in ((0.25, 1.7, True), (-0.4, 0.3, False), (0.5, 0.0, True)):
        cpu = jitter_frame(img, *params).astype(int)
        torch_out = jitter_frame(torch.from_numpy(img), *params).numpy().astype(int)
        # one grey level apart after the hue rotation, at most two after a saturation factor up to 2
        assert np.abs(cpu - torch_out).max() <= 2 and (cpu != torch_out).mean() < 0.02, params


def test_pairs_made_on_the_host_go_to_the_device_once_per_batch(monkeypatch) -> None:
    from sdinterp.pipeline import RunPlan, executor, get_protocol
    from sdinterp.pipeline.accumulate import prepared_batches
    from sdinterp.stats import MomentStore

    adapter = sdinterp.load_adapter("tiny:i3d-motion", crop_size=32)
    adapter.model.to(META)
    sd = sdinterp.StaticDynamic(adapter, layers=["stage2", "stage3"])
    rng = np.random.default_rng(0)
    clips = [
        sdinterp.Sample(frames=rng.integers(0, 256, (8, 40, 48, 3), dtype=np.uint8), video_id=f"v{i}") for i in range(6)
    ]
    plan = RunPlan.build(get_protocol("shared-anchor"), len(clips), 6, 9, 0)
    ex = executor.Executor(adapter, sd.layer_infos, sd.static_sampler, sd.dynamic_sampler, pair_device="host")
    batches = list(prepared_batches(ex, plan, clips, 0))  # the data side, on the host
    downloads: list[int] = []

    def features(feats: Any, layers: Any, batch: int, where: int) -> dict[str, torch.Tensor]:
        # the one read back per batch and layer: pooled (rows, C) features (meta has no values)
        downloads.append(len(feats))
        assert all(z.device == META for z in feats.values())
        return {
            k: torch.zeros((batch, layers[k].channels or z.shape[1]), dtype=torch.float64) for k, z in feats.items()
        }

    monkeypatch.setattr(executor, "checked_features", features)
    with warnings.catch_warnings(), Transfers() as seen:
        warnings.simplefilter("ignore")
        ex.run(plan, iter(batches), MomentStore(sd.layer_infos))
    pairs = sum(b.pairs for b in plan.batches)
    assert len(plan.batches) == 2 and pairs == 12  # several pairs per batch
    assert seen.up == len(plan.batches)  # one upload per batch: anchors and partners together
    assert seen.down == seen.reads == 0 and downloads == [2] * len(plan.batches)


def _run_on_meta(
    monkeypatch, adapter: Any, sd: Any, clips: list, plan: Any, observers: list
) -> tuple[Transfers, list[int]]:
    """One run of ``plan`` with the data side in this thread (a dispatch mode is per thread)."""
    from sdinterp.pipeline import executor
    from sdinterp.pipeline.accumulate import prepared_batches
    from sdinterp.stats import MomentStore

    downloads: list[int] = []

    def to_host(feats: Any) -> dict[str, torch.Tensor]:
        # what a run reads back: pooled (rows, units) features (meta has no values to read)
        # (an observer may also hand back host tensors it built from features already read)
        downloads.append(sum(z.device == META for z in feats.values()))
        assert all(z.dim() == 2 for z in feats.values())
        return {k: torch.zeros(tuple(z.shape), dtype=torch.float64) for k, z in feats.items()}

    monkeypatch.setattr(executor, "to_host", to_host)
    ex = executor.Executor(adapter, sd.layer_infos, sd.static_sampler, sd.dynamic_sampler, observers=observers)
    assert ex.pair_device == META  # "auto": the model's device
    with warnings.catch_warnings(), Transfers() as seen:
        warnings.simplefilter("ignore")
        ex.run(plan, prepared_batches(ex, plan, clips, 0), MomentStore(sd.layer_infos))
    return seen, downloads


@pytest.mark.parametrize("dynamic", ["restyle", "restyle_reference"])
def test_pairs_are_made_on_the_models_device_from_one_upload_per_clip(monkeypatch, dynamic: str) -> None:
    """On a device, each clip's frames go there once; its pairs (shuffles, restyles), the model's
    input and the validity controls are made there, and only pooled features come back."""
    from sdinterp.pipeline import RunPlan, get_protocol

    adapter = sdinterp.load_adapter("tiny:i3d-motion", crop_size=32)
    adapter.model.to(META)
    sd = sdinterp.StaticDynamic(adapter, layers=["stage2", "stage3"], dynamic_sampler=dynamic)
    rng = np.random.default_rng(0)
    clips = [
        sdinterp.Sample(frames=rng.integers(0, 256, (12, 40, 48, 3), dtype=np.uint8), video_id=f"v{i}")
        for i in range(6)
    ]
    plan = RunPlan.build(get_protocol("shared-anchor"), len(clips), 6, 9, 0)
    _run_on_meta(monkeypatch, adapter, sd, clips, plan, [sd.validity_monitor()])  # per-style constants go once
    seen, downloads = _run_on_meta(monkeypatch, adapter, sd, clips, plan, [sd.validity_monitor()])
    assert len(plan.batches) == 2 and sum(b.pairs for b in plan.batches) == 12
    # one upload per clip (its frames) and one per batch (the frame orders of all its inputs)
    assert seen.up == len(clips) + len(plan.batches)
    assert seen.reads == 0  # nothing read back to decide anything
    # read back once per batch: the two layers' pooled features, then the validity controls'; with
    # a restyled anchor, the check's forward of the original frames (the two layers) comes between
    reference = [2] if dynamic == "restyle_reference" else []
    assert seen.down == 0 and downloads == [2, *reference, len(CONTROLS)] * len(plan.batches)


def test_pairs_stay_on_the_host_where_a_part_cannot_take_device_frames() -> None:
    """ "auto" keeps the host for a sampler (or adapter) that does not declare device frames, and for
    a subclass that overrides ``partner`` without restating it; an explicit device is refused."""
    from sdinterp.interfaces import PairSampler, takes_device_frames
    from sdinterp.pipeline.executor import resolve_pair_device
    from sdinterp.plugins.samplers.basic import FrameShuffle, Restyle

    class MyShuffle(FrameShuffle):
        def partner(self, anchor: Any, rng: Any) -> Any:
            return super().partner(anchor, rng)

    class HostRestyler:
        name = "host_only"

        def __call__(self, frames: Any, style: Any) -> Any:
            return np.asarray(frames)[..., ::-1].copy()

    adapter = sdinterp.load_adapter("tiny:i3d-motion", crop_size=32)
    adapter.model.to(META)
    assert resolve_pair_device(adapter, FrameShuffle(), Restyle()) == META
    assert resolve_pair_device(adapter, FrameShuffle(), Restyle(), "host") is None
    assert not takes_device_frames(MyShuffle(), ["anchor", "partner"])
    assert not takes_device_frames(Restyle(restyler=HostRestyler()), ["anchor", "partner"])
    assert isinstance(MyShuffle(), PairSampler)
    assert resolve_pair_device(adapter, MyShuffle(), Restyle()) is None
    assert resolve_pair_device(adapter, FrameShuffle(), Restyle(restyler=HostRestyler())) is None
    with pytest.raises(ValueError, match="static sampler MyShuffle cannot take frames on a device"):
        resolve_pair_device(adapter, MyShuffle(), Restyle(), "meta")
    cpu = sdinterp.load_adapter("tiny:i3d-motion", crop_size=32)
    assert resolve_pair_device(cpu, FrameShuffle(), Restyle()) is None  # "auto" on a CPU model: the host


@pytest.mark.parametrize("dynamic", ["restyle", "restyle_reference"])
def test_pairs_made_as_tensors_give_the_hosts_report(dynamic: str) -> None:
    """The device path (clips uploaded, pairs and the model's input made from tensors) run on the CPU
    gives the host's report number for number; only the identity says where the pairs were made."""
    adapter = sdinterp.load_adapter("tiny:i3d-motion", crop_size=32)
    sd = sdinterp.StaticDynamic(adapter, dynamic_sampler=dynamic)
    rng = np.random.default_rng(1)
    clips = [
        sdinterp.Sample(frames=rng.integers(0, 256, (12, 40, 56, 3), dtype=np.uint8), video_id=f"v{i // 2}")
        for i in range(10)
    ]
    run = dict(n_pairs=10, batch_size=4, seed=3, show_progress=False, bootstrap=20)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        host = sd.attribute(clips, pair_device="host", **run).to_dict()
        tensors = sd.attribute(clips, pair_device="cpu", **run).to_dict()
    assert "pair_device" not in host["identity"] and tensors["identity"].pop("pair_device") == "cpu"
    assert tensors == host


def test_view_frames_give_the_same_frames_for_numpy_and_tensor_clips() -> None:
    """``Sample.view_frames``: in-order views of a tensor clip are the clip itself (no copy), other
    orders (a reversed, negatively strided view among them) gather the frames the numpy clip gives."""
    frames = np.random.default_rng(0).integers(0, 256, (6, 4, 5, 3), dtype=np.uint8)
    views = (np.arange(6), np.arange(6)[::-1], np.array([4, 0, 0, 5]))
    host = sdinterp.Sample(frames=frames, views=views)
    tensor = host.replace(frames=torch.from_numpy(frames))
    for k in range(len(views)):
        assert np.array_equal(tensor.view_frames(k).numpy(), host.view_frames(k)), k
    assert tensor.view_frames(0) is tensor.frames
