"""The accumulation loop: pairs -> batched forwards -> pooled features -> per-factor moments.

Batching, per-clip seeds, early exit, progress, saving the run state and sharding over
``torch.distributed`` live here; :class:`~sdinterp.StaticDynamic` only wires the parts together.
"""

from __future__ import annotations

import warnings
from typing import Any, Mapping, Sequence

import numpy as np
import torch

from sdinterp.capture import CaptureError, LayerCapture
from sdinterp.errors import ReliabilityWarning
from sdinterp.interfaces import Factor, LayerInfo, ModelAdapter, PairProtocol, PairSampler, Sample
from sdinterp.pipeline.config import RunConfig
from sdinterp.pipeline.inputs import compact_to_views, load_batches, to_device
from sdinterp.pipeline.progress import run_progress
from sdinterp.pipeline.run_state import RunState
from sdinterp.replicates import poisson_weights
from sdinterp.stats import MomentStore

__all__ = ["accumulate", "build_batch", "MIN_RELIABLE_PAIRS"]

#: Fewer pairs per factor than this draws a ReliabilityWarning: correlations over a handful of pairs
#: swing widely from seed to seed (docs/method.md, "How many pairs").
MIN_RELIABLE_PAIRS = 16

Plan = list[tuple[Factor, torch.Tensor, torch.Tensor]]


def build_batch(
    adapter: ModelAdapter,
    protocol: PairProtocol,
    static_sampler: PairSampler,
    dynamic_sampler: PairSampler,
    sources: Sequence[Sample],
    clip_indices: range,
    seed: int,
) -> tuple[list[Sample], Plan]:
    """The inputs of one forward and, per factor, which rows pair with which.

    Layout: every clip's anchor, then the static partners, then the dynamic partners (clip order
    within each). Clip ``i`` draws everything from ``default_rng([seed, i])``: the protocol's
    factors first, then the anchor, then one partner per factor in the protocol's order.
    """
    anchors: list[Sample] = []
    partners: dict[Factor, list[Sample]] = {f: [] for f in (Factor.STATIC, Factor.DYNAMIC)}
    rows: dict[Factor, list[int]] = {f: [] for f in partners}
    samplers = {Factor.STATIC: static_sampler, Factor.DYNAMIC: dynamic_sampler}
    for j, (i, sample) in enumerate(zip(clip_indices, sources)):
        rng = np.random.default_rng([seed, i])
        factors = protocol.factors(i, rng)
        # Views first, then drop frames no view uses: a 64-frame window feeding an 8-frame model
        # would otherwise be restyled (and copied) in full for nothing.
        anchor = compact_to_views(adapter.views(sample))
        anchor = static_sampler.anchor(dynamic_sampler.anchor(anchor, rng), rng)
        anchors.append(anchor)
        for factor in factors:
            partners[factor].append(samplers[factor].partner(anchor, rng))
            rows[factor].append(j)
    inputs, plan, offset = list(anchors), [], len(anchors)
    for factor, made in partners.items():
        plan.append((factor, torch.tensor(rows[factor], dtype=torch.long), offset + torch.arange(len(made))))
        inputs.extend(made)
        offset += len(made)
    return inputs, plan


def _checked(feats: Mapping[str, torch.Tensor], layers: Mapping[str, LayerInfo], batch: int, where: int) -> dict[str, torch.Tensor]:
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
        out[name] = z.detach().to("cpu", torch.float64)
    return out


def accumulate(
    adapter: ModelAdapter,
    layers: Mapping[str, LayerInfo],
    static_sampler: PairSampler,
    dynamic_sampler: PairSampler,
    protocol: PairProtocol,
    clips: Sequence[Sample],
    config: RunConfig,
    identity: Mapping[str, Any],
) -> MomentStore:
    """Run the forwards of a run and return its moments (mergeable; all-reduced when distributed).

    Under ``torch.distributed`` each process takes every world-size-th batch and the moments are
    all-reduced at the end, so ``torchrun`` shards a run without changing its result.

    Args:
        identity: what makes this run this run; a saved run state is resumed only if it matches.
    """
    n_clips = protocol.n_clips(config.n_pairs)
    if config.n_pairs < MIN_RELIABLE_PAIRS:
        warnings.warn(
            f"n_pairs={config.n_pairs} is below {MIN_RELIABLE_PAIRS}: the scores are correlations over so few "
            "pairs that they are unreliable (docs/method.md, 'How many pairs'); use 64 or more for results",
            ReliabilityWarning,
            stacklevel=3,
        )
    if len(clips) > n_clips:
        warnings.warn(
            f"{n_clips} of the {len(clips)} clips are used (clip i of the run is data[i] for i < {n_clips}: "
            f"n_pairs={config.n_pairs} under the {protocol.describe()['name']} protocol needs {n_clips}); "
            f"raise n_pairs to use them all",
            ReliabilityWarning,
            stacklevel=3,
        )
    if len(clips) < n_clips:
        warnings.warn(
            f"{len(clips)} clips for {n_clips} pairs: clips are reused (clip i of the run is data[i % "
            f"{len(clips)}]), so pairs are not independent; give at least n_pairs distinct clips "
            "(e.g. VideoClipDataset(..., repeats=k))",
            stacklevel=3,
        )
    clips_per_batch = max(1, config.batch_size // protocol.max_forwards_per_clip())
    store, start = MomentStore(layers, replicates=config.bootstrap), 0
    state = RunState(config.resume, dict(identity)) if config.resume else None
    if state is not None:
        loaded = state.load()
        if loaded is not None:
            store, start = loaded
    rank, world = _rank_world()
    starts = [b for k, b in enumerate(range(0, n_clips, clips_per_batch)) if k % world == rank and b >= start]
    batches = [range(b0, min(b0 + clips_per_batch, n_clips)) for b0 in starts]
    progress = run_progress(protocol, batches, config.seed, config.show_progress if rank == 0 else False,
                            done=range(0, start) if start else None)
    model, device = adapter.model, adapter.device
    was_training = model.training
    model.eval()
    done_upto, since_save, updating = start, 0, False
    try:
        with torch.inference_mode(), LayerCapture(model, layers, early_exit=config.early_exit) as cap:
            for idx, sources in zip(batches, load_batches(clips, batches, config.num_workers)):
                inputs, plan = build_batch(adapter, protocol, static_sampler, dynamic_sampler, sources, idx, config.seed)
                cap.run(lambda: adapter.forward(to_device(adapter.prepare(inputs), device)))
                feats = _checked(cap.collect(), layers, len(inputs), idx.start // clips_per_batch)
                # A pair's bootstrap counts are its clip's (``first`` are the anchors' rows = clip
                # positions in the batch), keyed by the clip index, never by the batch.
                counts = poisson_weights(config.seed, idx, config.bootstrap) if config.bootstrap else None
                updating = True
                for name, z in feats.items():
                    for factor, first, second in plan:
                        w = counts[:, first] if counts is not None else None
                        store[name][factor].update(z[first], z[second], batch=idx.start // clips_per_batch, weights=w)
                updating = False
                done_upto = idx.stop
                progress.update(sum(len(first) for _, first, _ in plan), len(inputs))
                since_save += 1
                if state is not None and world == 1 and since_save >= config.save_every:
                    state.save(store, done_upto)
                    since_save = 0
    except KeyboardInterrupt:
        if state is not None and world == 1 and not updating:
            state.save(store, done_upto)
        raise
    finally:
        progress.close()
        model.train(was_training)
    store.all_reduce()
    if state is not None and world == 1:
        state.save(store, n_clips, complete=True)
    return store


def _rank_world() -> tuple[int, int]:
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1
