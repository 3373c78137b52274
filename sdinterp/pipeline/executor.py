"""The executor of a run: the plan's batches -> pairs -> forwards -> pooled features -> moments.

:class:`Executor` runs whatever :class:`~sdinterp.pipeline.plan.RunPlan` it is given (a whole run, the
rest of a resumed one, one process's shard) into a :class:`~sdinterp.stats.MomentStore`. It owns
nothing about warnings, resuming or saving: :func:`~sdinterp.pipeline.accumulate.accumulate` composes
those around it, and training-dynamics tracking calls it directly with prepared batches.

Observers (:class:`RunObserver`) see every batch after its forward and may add pseudo-layers, named
``validity:*``, that are accumulated over the same pairs with the same bootstrap weights as the
requested layers — so what they measure resumes, merges and all-reduces with the run.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Protocol, runtime_checkable

import numpy as np
import torch

from sdinterp.capture import CaptureError, LayerCapture
from sdinterp.interfaces import (
    DEVICE_VIEWS,
    Factor,
    LayerInfo,
    ModelAdapter,
    PairSampler,
    Sample,
    takes_device_frames,
)
from sdinterp.pipeline.inputs import compact_to_views, to_device, to_working_size
from sdinterp.pipeline.plan import BatchPlan, RunPlan
from sdinterp.replicates import cluster_weights
from sdinterp.stats import MomentStore

__all__ = [
    "BatchResult",
    "RunObserver",
    "Executor",
    "at_working_size",
    "build_batch",
    "checked_features",
    "with_device_views",
    "resolve_pair_device",
    "to_host",
    "upload_frames",
    "cluster_key",
    "PSEUDO_PREFIX",
]

#: Names of pseudo-layers added by observers; :meth:`StaticDynamic.score` leaves them out of the layers.
PSEUDO_PREFIX = "validity:"

#: (factor, anchor rows, partner rows) of one batch's inputs.
Pairs = list[tuple[Factor, torch.Tensor, torch.Tensor]]


def cluster_key(sample: Sample, source: int) -> str:
    """The independent unit a clip belongs to: its source video (``Sample.video_id``), or its index
    in the data when the sample names none. Clips of one key share their bootstrap weight."""
    return sample.video_id or f"data[{source}]"


@dataclasses.dataclass
class BatchResult:
    """What one forward of a run produced, as observers see it.

    Attributes:
        batch: the batch's plan.
        inputs: anchors (clip order), then static partners, then dynamic partners.
        pairs: (factor, anchor rows, partner rows), long tensors indexing ``inputs``.
        features: requested layer -> pooled (len(inputs), C) float64 CPU features.
        output: what the adapter's forward returned when it ran to the end; ``None`` when it stopped
            early.
        clusters: the cluster key (source video) of each clip of the batch, in anchor order.
    """

    batch: BatchPlan
    inputs: list[Sample]
    pairs: Pairs
    features: dict[str, torch.Tensor]
    output: Any | None
    clusters: list[str]


@runtime_checkable
class RunObserver(Protocol):
    """Sees every batch of a run; what :meth:`observe` returns is accumulated as pseudo-layers."""

    name: str
    #: True: the executor turns early exit off so :attr:`BatchResult.output` is filled.
    needs_output: bool

    def observe(self, result: BatchResult) -> Mapping[str, torch.Tensor]:
        """Extra features, ``"validity:…"`` name -> (len(inputs), k) float64 CPU tensor."""

    def state_dict(self) -> dict[str, Any]:
        """Any other state (saved with a resumable run's state)."""

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore :meth:`state_dict`."""

    def all_reduce(self) -> None:
        """Sum the state over ``torch.distributed`` processes (may do nothing)."""


def at_working_size(sample: Sample, size: tuple[int, int] | None) -> Sample:
    """The sample shrunk to the adapter's working size (:func:`~sdinterp.pipeline.inputs.to_working_size`),
    and a two-stream sample's flow with it: ``flow`` and any ``meta["backward_flow"]`` aligned with the
    frames are resized as :func:`sdinterp.data.flow.resize_flow` does (an RGB flow image as an image,
    a (u, v) field resampled and its vectors rescaled into the new pixels)."""
    if sample.flow is None:
        return to_working_size(sample, size)
    from sdinterp.data.flow import resize_flow, shrink_size

    shape = sample.frames.shape[:3]
    small = shrink_size(shape[1], shape[2], size)
    if small is None:
        return sample
    out = to_working_size(sample.replace(flow=None), small)
    meta = dict(out.meta)
    back = meta.get("backward_flow")
    if isinstance(back, np.ndarray) and back.shape[:3] == shape:
        meta["backward_flow"] = resize_flow(back, small)
    return out.replace(flow=resize_flow(sample.flow, small), meta=meta)


def build_batch(
    adapter: ModelAdapter,
    plan: RunPlan,
    batch: BatchPlan,
    sources: Sequence[Sample],
    static_sampler: PairSampler,
    dynamic_sampler: PairSampler,
    device: torch.device | None = None,
) -> tuple[list[Sample], Pairs]:
    """The inputs of one forward and, per factor, which rows pair with which.

    Layout: every clip's anchor, then the static partners, then the dynamic partners (clip order
    within each). Each clip draws from :meth:`RunPlan.stream`: the anchor, then one partner per
    factor in the protocol's order.

    With a ``device`` (:func:`resolve_pair_device`), each clip's frames are copied there once, after they are
    cut to their views and shrunk to the working size, and the samplers make the pairs there.
    """
    anchors: list[Sample] = []
    rngs: list[np.random.Generator] = []
    partners: dict[Factor, list[Sample]] = {f: [] for f in (Factor.STATIC, Factor.DYNAMIC)}
    rows: dict[Factor, list[int]] = {f: [] for f in partners}
    samplers = {Factor.STATIC: static_sampler, Factor.DYNAMIC: dynamic_sampler}
    shrink = static_sampler.model_resolution and dynamic_sampler.model_resolution
    for clip, sample in zip(batch.clips, sources):
        rng = plan.stream(clip)
        # Views first, then drop frames no view uses: a 64-frame window feeding an 8-frame model
        # would otherwise be restyled (and copied) in full for nothing. Then, where both samplers
        # allow it, down to the size the adapter would resize to anyway: pairs cost what the model sees.
        anchor = compact_to_views(adapter.views(sample))
        if shrink:
            anchor = at_working_size(anchor, adapter.working_size(*anchor.frames.shape[1:3]))
        if device is not None:
            anchor = anchor.replace(frames=upload_frames(anchor.frames, device))
        anchors.append(static_sampler.anchor(dynamic_sampler.anchor(anchor, rng), rng))
        rngs.append(rng)
    # The partners a factor at a time over the batch (PairSampler.partners), so a sampler can make
    # them in one go (the restyles of a batch: each kernel once, not once per clip). Each clip still
    # draws from its own stream in its protocol's order: its k-th partner comes in round k.
    drawn: dict[tuple[int, int], Sample] = {}
    for k in range(max(len(c.factors) for c in batch.clips)):
        for factor, sampler in samplers.items():
            js = [j for j, c in enumerate(batch.clips) if len(c.factors) > k and c.factors[k] == factor]
            if js:
                out = sampler.partners([anchors[j] for j in js], [rngs[j] for j in js])
                if len(out) != len(js):
                    name = sampler.name or type(sampler).__name__
                    raise ValueError(f"sampler {name}: partners() returned {len(out)} partners for {len(js)} anchors")
                drawn.update(zip(((j, k) for j in js), out))
    for j, clip in enumerate(batch.clips):
        for k, factor in enumerate(clip.factors):
            partners[factor].append(drawn[j, k])
            rows[factor].append(j)
    inputs: list[Sample] = list(anchors)
    pairs: Pairs = []
    offset = len(anchors)
    for factor, made in partners.items():
        pairs.append((factor, torch.tensor(rows[factor], dtype=torch.long), offset + torch.arange(len(made))))
        inputs.extend(made)
        offset += len(made)
    if device is not None:
        inputs = with_device_views(inputs, device)
    return inputs, pairs


def with_device_views(inputs: list[Sample], device: torch.device) -> list[Sample]:
    """The inputs with their views also on ``device`` (``meta["device_views"]``), every input's in
    one copy: the frame orders of a batch (a shuffled partner's among them) cost one upload, not one
    per input and per reader (``prepare``, the validity controls)."""
    views = [s.view_indices() for s in inputs]
    flat = torch.from_numpy(np.concatenate([v for vs in views for v in vs])).to(device, non_blocking=True)
    parts = iter(torch.split(flat, [len(v) for vs in views for v in vs]))
    return [s.replace(meta={**s.meta, DEVICE_VIEWS: tuple(next(parts) for _ in vs)}) for s, vs in zip(inputs, views)]


def upload_frames(frames: np.ndarray | torch.Tensor, device: torch.device) -> torch.Tensor:
    """A clip's uint8 frames as a tensor on ``device``: the one host-to-device copy of its pixels."""
    if isinstance(frames, torch.Tensor):
        return frames.to(device)
    return torch.from_numpy(np.ascontiguousarray(frames)).to(device, non_blocking=True)


def resolve_pair_device(
    adapter: ModelAdapter, static_sampler: PairSampler, dynamic_sampler: PairSampler, setting: str | None = "auto"
) -> torch.device | None:
    """Where a run makes its pairs: ``None`` for the host (numpy frames), else the device the clips
    are copied to before the samplers see them.

    ``setting``: ``"auto"`` (the default) is the model's device when it is not the CPU and the adapter
    and both samplers take device frames (:func:`~sdinterp.interfaces.takes_device_frames`), else the
    host; ``"host"`` (or ``None``) is always the host; a device name (``"cuda:1"``, ``"cpu"``) is that
    device, and is refused when a sampler or the adapter cannot work there.
    """
    if setting is None or setting == "host":
        return None
    parts = {
        "adapter": (adapter, ["prepare"]),
        "static sampler": (static_sampler, ["anchor", "partner", "partners"]),
        "dynamic sampler": (dynamic_sampler, ["anchor", "partner", "partners"]),
    }
    unable = [
        f"{what} {type(obj).__name__}"
        for what, (obj, methods) in parts.items()
        if not takes_device_frames(obj, methods)
    ]
    if setting == "auto":
        device = adapter.device
        return None if device.type == "cpu" or unable else device
    if unable:
        raise ValueError(
            f"pair_device={setting!r}: {', '.join(unable)} cannot take frames on a device (device_frames); "
            "use pair_device='host' or 'auto'"
        )
    return torch.device(setting)


def checked_features(
    feats: Mapping[str, torch.Tensor], layers: Mapping[str, LayerInfo], batch: int, where: int
) -> dict[str, torch.Tensor]:
    """Pooled features as float64 CPU tensors, checked against the batch size and declared widths."""
    out = {}
    for name, z in feats.items():
        info = layers[name]
        if z.shape[0] != batch:
            raise CaptureError(
                f"layer {name!r}: pooled features have {z.shape[0]} rows for a batch of {batch} clips "
                f"(batch {where}); a layer that folds time into the batch (2D models) needs a pooling "
                f"that unfolds it"
            )
        if info.channels is not None and z.shape[1] != info.channels:
            raise CaptureError(f"layer {name!r}: declared {info.channels} channels but produced {z.shape[1]}")
        out[name] = z
    return to_host(out)


def to_host(feats: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Pooled (rows, units) features as float64 CPU tensors: what a run reads back from the device."""
    return {name: z.detach().to("cpu", torch.float64) for name, z in feats.items()}


class Executor:
    """Runs a plan's forwards into moments.

    Args:
        adapter: the model's adapter.
        layers: the requested layers.
        static_sampler: makes static partners.
        dynamic_sampler: makes dynamic partners.
        replicates: Poisson-bootstrap replicates (0: none); a pair's weight is its source video's.
        early_exit: stop each forward once every layer is captured (turned off when an observer
            needs the model's output).
        observers: see :class:`RunObserver`.
        pair_device: where pairs are made (:func:`resolve_pair_device`: ``"auto"``, ``"host"`` or a
            device name).

    Examples:
        >>> ex = Executor(adapter, layers, static, dynamic)                     # doctest: +SKIP
        >>> store = ex.run(plan, clips, MomentStore(layers))                     # doctest: +SKIP
    """

    def __init__(
        self,
        adapter: ModelAdapter,
        layers: Mapping[str, LayerInfo],
        static_sampler: PairSampler,
        dynamic_sampler: PairSampler,
        replicates: int = 0,
        early_exit: bool = True,
        observers: Sequence[RunObserver] = (),
        pair_device: str | None = "auto",
    ):
        self.adapter, self.layers = adapter, dict(layers)
        #: The device pairs are made on (``None``: the host).
        self.pair_device = resolve_pair_device(adapter, static_sampler, dynamic_sampler, pair_device)
        self.static_sampler, self.dynamic_sampler = static_sampler, dynamic_sampler
        self.replicates = int(replicates)
        self.observers = list(observers)
        self.early_exit = bool(early_exit) and not any(o.needs_output for o in self.observers)
        #: True while a batch is being added to the store (an interrupt then leaves it half-added).
        self.updating = False

    def prepare(
        self, plan: RunPlan, batch: BatchPlan, sources: Sequence[Sample]
    ) -> tuple[list[Sample], Pairs, list[str]]:
        """A batch's inputs, pairs and cluster keys (the data side, before the forward)."""
        inputs, pairs = build_batch(
            self.adapter, plan, batch, sources, self.static_sampler, self.dynamic_sampler, self.pair_device
        )
        return inputs, pairs, [cluster_key(s, c.source) for s, c in zip(sources, batch.clips)]

    def run(
        self,
        plan: RunPlan,
        batches: Iterable[tuple[BatchPlan, Any, list[Sample] | None, Pairs, list[str]]],
        store: MomentStore,
        after_batch: Callable[[BatchPlan, int, int], None] | None = None,
    ) -> MomentStore:
        """Run prepared batches into ``store``.

        Args:
            plan: the run's plan (its seed keys the bootstrap weights).
            batches: ``(batch, model input, samples or None, pairs, cluster keys)`` per forward; the
                model input is what ``adapter.prepare`` made of the samples.
            store: the moments to add to (a resumed run's, or a new one).
            after_batch: called as ``after_batch(batch, pairs, forwards)`` once a batch is in the store.

        Returns:
            ``store``.
        """
        model, device = self.adapter.model, self.adapter.device
        was_training = model.training
        model.eval()
        weights = cluster_weights(plan.seed, self.replicates) if self.replicates else None
        try:
            with torch.inference_mode(), LayerCapture(model, self.layers, early_exit=self.early_exit) as cap:
                for batch, x, samples, pairs, keys in batches:
                    out: list[Any] = []
                    cap.run(lambda: out.append(self.adapter.forward(to_device(x, device))))  # noqa: B023 - run now, in this iteration
                    n_rows = sum(len(second) for _, _, second in pairs) + len(batch.clips)
                    feats = checked_features(cap.collect(), self.layers, n_rows, batch.number)
                    if self.observers and samples is not None:
                        result = BatchResult(batch, samples, pairs, feats, out[0] if out else None, keys)
                        for observer in self.observers:
                            feats.update(to_host(observer.observe(result)))
                    counts = weights(keys) if weights is not None else None
                    self.updating = True
                    for key in keys:
                        store.clusters[key] = store.clusters.get(key, 0) + 1
                    for name, z in feats.items():
                        # An observer's pseudo-layers are judged on their point values: no replicates.
                        pseudo = name.startswith(PSEUDO_PREFIX)
                        if name not in store.layers():
                            store.add_layer(name, replicates=0 if pseudo else None)
                        for factor, first, second in pairs:
                            w = counts[:, first] if counts is not None and not pseudo else None
                            store[name][factor].update(z[first], z[second], batch=batch.number, weights=w)
                    if after_batch is not None:
                        after_batch(batch, batch.pairs, n_rows)
                    self.updating = False
        finally:
            model.train(was_training)
        return store
