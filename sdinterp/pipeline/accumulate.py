"""A run, composed: plan -> warnings -> resume -> shard -> execute (with progress and saves) -> reduce.

Each step is a named function below; :class:`~sdinterp.pipeline.plan.RunPlan` holds what the run
will do and :class:`~sdinterp.pipeline.executor.Executor` does it. :class:`~sdinterp.StaticDynamic`
only wires the parts together.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Generator, Iterator, Mapping, Sequence
from typing import Any, TypeVar

from sdinterp.errors import ReliabilityWarning
from sdinterp.interfaces import LayerInfo, ModelAdapter, PairProtocol, PairSampler, Sample
from sdinterp.pipeline.config import RunConfig
from sdinterp.pipeline.executor import Executor, RunObserver
from sdinterp.pipeline.inputs import load_batches
from sdinterp.pipeline.plan import RunPlan
from sdinterp.pipeline.prefetch import prefetched
from sdinterp.pipeline.progress import run_progress
from sdinterp.pipeline.run_state import RunState
from sdinterp.stats import MomentStore

__all__ = ["accumulate", "MIN_RELIABLE_PAIRS", "MIN_INDEPENDENT_VIDEOS"]

T = TypeVar("T")

#: Fewer pairs per factor than this draws a ReliabilityWarning: correlations over a handful of pairs
#: swing widely from seed to seed (docs/method.md, "How many pairs").
MIN_RELIABLE_PAIRS = 16

#: Fewer distinct source videos than this draws a ReliabilityWarning: the scores are correlations
#: across videos, and with bootstrap intervals each video is one observation (docs/confidence.md,
#: "Reused videos"); 30 is the usual floor for a percentile bootstrap to approach its nominal level.
MIN_INDEPENDENT_VIDEOS = 30


#: Most memory the bootstrap replicates of a run may take before the run is refused.
MAX_REPLICATE_BYTES = 8 << 30


def check_replicate_memory(layers: Mapping[str, LayerInfo], replicates: int) -> None:
    """Refuse, before any forward, a bootstrap whose replicates would not fit in memory."""
    if not replicates:
        return
    units = sum(info.channels or 0 for info in layers.values())
    need = units * int(replicates) * 5 * 8 * 2  # five float64 fields per unit, two factors
    if need > MAX_REPLICATE_BYTES:
        raise ValueError(
            f"bootstrap={replicates} replicates of {units} units would take {need / (1 << 30):.1f} GiB "
            f"(limit {MAX_REPLICATE_BYTES >> 30} GiB); use fewer replicates (1,000 suffice for a 95% interval) "
            "or fewer layers"
        )


def warn_about_plan(plan: RunPlan, n_pairs: int, protocol: PairProtocol) -> None:
    """Warn about pair counts and clips the plan leaves unused or reuses."""
    if n_pairs < MIN_RELIABLE_PAIRS:
        warnings.warn(
            f"n_pairs={n_pairs} is below {MIN_RELIABLE_PAIRS}: the scores are correlations over so few "
            "pairs that they are unreliable (docs/method.md, 'How many pairs'); use 64 or more for results",
            ReliabilityWarning,
            stacklevel=4,
        )
    if plan.n_sources > plan.n_clips:
        warnings.warn(
            f"{plan.n_clips} of the {plan.n_sources} clips are used (clip i of the run is data[i] for i < "
            f"{plan.n_clips}: n_pairs={n_pairs} under the {protocol.describe()['name']} protocol needs "
            f"{plan.n_clips}); raise n_pairs to use them all",
            ReliabilityWarning,
            stacklevel=4,
        )
    if plan.n_sources < plan.n_clips:
        warnings.warn(
            f"{plan.n_sources} clips for {plan.n_clips} pairs: clips are reused (clip i of the run is data[i % "
            f"{plan.n_sources}]), so pairs are not independent; give at least n_pairs distinct clips "
            "(e.g. VideoClipDataset(..., repeats=k))",
            stacklevel=4,
        )


def warn_about_videos(store: MomentStore) -> None:
    """Warn when the run's clips come from fewer independent videos than :data:`MIN_INDEPENDENT_VIDEOS`."""
    videos, clips = len(store.clusters), sum(store.clusters.values())
    if 0 < videos < MIN_INDEPENDENT_VIDEOS:
        intervals = (
            "bootstrap intervals resample these videos, so they are wide or, below 2 videos, not given"
            if store.replicates
            else "scores from so few videos may not hold for others"
        )
        warnings.warn(
            f"the run's {clips} clips come from {videos} independent video{'s' if videos != 1 else ''} "
            f"(fewer than {MIN_INDEPENDENT_VIDEOS}): {intervals} (docs/confidence.md, 'Reused videos')",
            ReliabilityWarning,
            stacklevel=4,
        )


def resume(
    plan: RunPlan,
    config: RunConfig,
    identity: Mapping[str, Any],
    layers: Mapping[str, LayerInfo],
    observers: Sequence[RunObserver],
) -> tuple[RunState | None, MomentStore, RunPlan]:
    """The run state (if resuming), the store to continue, and the plan left to run."""
    store = MomentStore(layers, replicates=config.bootstrap)
    if not config.resume:
        return None, store, plan
    state = RunState(config.resume, dict(identity))
    loaded = state.load()
    if loaded is None:
        return state, store, plan
    store, next_clip = loaded
    for observer in observers:
        if observer.name in state.observers:
            observer.load_state_dict(state.observers[observer.name])
    return state, store, plan.after(next_clip)


def prepared_batches(
    executor: Executor, plan: RunPlan, clips: Sequence[Sample], num_workers: int
) -> Generator[Any, None, None]:
    """The data side of each batch of the plan, in order: (batch, model input, samples, pairs, keys)."""
    ranges = [batch.indices for batch in plan.batches]
    for batch, sources in zip(plan.batches, load_batches(clips, ranges, num_workers)):
        inputs, pairs, keys = executor.prepare(plan, batch, sources)
        yield batch, executor.adapter.prepare(inputs), inputs, pairs, keys


def accumulate(
    adapter: ModelAdapter,
    layers: Mapping[str, LayerInfo],
    static_sampler: PairSampler,
    dynamic_sampler: PairSampler,
    protocol: PairProtocol,
    clips: Sequence[Sample],
    config: RunConfig,
    identity: Mapping[str, Any],
    observers: Sequence[RunObserver] = (),
    timings: dict[str, float] | None = None,
) -> MomentStore:
    """Run the forwards of a run and return its moments (mergeable; all-reduced when distributed).

    Under ``torch.distributed`` each process takes every world-size-th batch and the moments are
    all-reduced at the end, so ``torchrun`` shards a run without changing its result.

    Args:
        identity: what makes this run this run; a saved run state is resumed only if it matches.
        observers: see :class:`~sdinterp.pipeline.executor.RunObserver`.
        timings: given, ``timings["waiting_for_data"]`` is set to the seconds the forwards waited for
            the data side (decoding, pairs, prepare): near zero when the data side keeps up; on a
            fast device, a large share of the run says to add reader processes (``num_workers``).
    """
    check_replicate_memory(layers, config.bootstrap)
    plan = RunPlan.build(protocol, len(clips), config.n_pairs, config.batch_size, config.seed)
    warn_about_plan(plan, config.n_pairs, protocol)
    state, store, plan = resume(plan, config, identity, layers, observers)
    rank, world = _rank_world()
    plan = plan.shard(rank, world)
    saving = state is not None and world == 1
    executor = Executor(
        adapter,
        layers,
        static_sampler,
        dynamic_sampler,
        config.bootstrap,
        config.early_exit,
        observers,
        config.pair_device,
    )
    progress = run_progress(plan, config.show_progress if rank == 0 else False)
    done = {"next_clip": plan.done[-1].index + 1 if plan.done else 0, "since_save": 0}

    def save(complete: bool = False) -> None:
        assert state is not None
        state.save(
            store,
            plan.n_clips if complete else done["next_clip"],
            complete=complete,
            observers={o.name: o.state_dict() for o in observers},
        )

    def after_batch(batch: Any, pairs: int, forwards: int) -> None:
        done["next_clip"] = batch.clips[-1].index + 1
        progress.update(pairs, forwards)
        done["since_save"] += 1
        if saving and done["since_save"] >= config.save_every:
            save()
            done["since_save"] = 0

    batches = prefetched(prepared_batches(executor, plan, clips, config.num_workers), config.prefetch)
    waited = [0.0]
    try:
        executor.run(plan, _timed(batches, waited), store, after_batch)
    except KeyboardInterrupt:
        if saving and not executor.updating:
            save()
        raise
    finally:
        batches.close()  # stops the data thread at once, also on an error
        progress.close()
        if timings is not None:
            timings["waiting_for_data"] = waited[0]
    store.all_reduce()
    for observer in observers:
        observer.all_reduce()
    if saving:
        save(complete=True)
    warn_about_videos(store)
    return store


def _timed(items: Iterator[T], waited: list[float]) -> Generator[T, None, None]:
    """``items``, adding to ``waited[0]`` the seconds each one took to arrive."""
    while True:
        t0 = time.perf_counter()
        try:
            item = next(items)
        except StopIteration:
            return
        finally:
            waited[0] += time.perf_counter() - t0
        yield item


def _rank_world() -> tuple[int, int]:
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1
