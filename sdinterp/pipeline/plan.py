"""The plan of a run: which clips, in which batches, making which pairs, from which random streams.

A run is a plan plus an executor (:mod:`sdinterp.pipeline.executor`). The plan is built once from
the protocol, the number of source clips, the pair count, the batch size and the seed; everything
that needs to know the run's work reads it from here — the executor, the progress bar, resuming,
sharding over processes and training-dynamics tracking — so the randomness of a run is drawn in one
place: :meth:`RunPlan.stream`.

Clip ``i`` of a run is source clip ``i % n_sources`` and draws every random choice from
``default_rng([seed, i])``: first the protocol's factors, then (in the executor) the anchor, then one
partner per factor in the protocol's order. A clip's draws depend only on the seed and ``i``, never
on the batch it falls in, so batch size, sharding and resuming cannot change a result.

Examples:
    >>> from sdinterp.pipeline.protocols import get_protocol
    >>> plan = RunPlan.build(get_protocol("shared-anchor"), n_sources=5, n_pairs=8, batch_size=6, seed=0)
    >>> len(plan.batches), plan.clips_per_batch, plan.work()
    (4, 2, (16, 24))
    >>> [c.source for c in plan.batches[2].clips]
    [4, 0]
    >>> len(plan.after(4).batches), len(plan.shard(1, 2).batches)
    (2, 2)
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import numpy as np

from sdinterp.interfaces import Factor, PairProtocol

__all__ = ["ClipPlan", "BatchPlan", "RunPlan"]


@dataclasses.dataclass(frozen=True)
class ClipPlan:
    """One clip of a run.

    Attributes:
        index: the clip's index in the run (its random stream's key).
        source: the index of the source clip it reads (``index % n_sources``).
        factors: the pairs it makes, in the protocol's order.
    """

    index: int
    source: int
    factors: tuple[Factor, ...]


@dataclasses.dataclass(frozen=True)
class BatchPlan:
    """The clips of one forward, and what they cost."""

    number: int
    clips: tuple[ClipPlan, ...]

    @property
    def indices(self) -> range:
        """The run indices of the batch's clips (consecutive)."""
        return range(self.clips[0].index, self.clips[-1].index + 1)

    @property
    def pairs(self) -> int:
        return sum(len(c.factors) for c in self.clips)

    @property
    def forwards(self) -> int:
        """One forward per pair plus the anchor each clip's pairs share."""
        return sum(1 + len(c.factors) for c in self.clips)


@dataclasses.dataclass(frozen=True)
class RunPlan:
    """Every batch of a run (or of the part of it this process runs).

    Build it with :meth:`build`; :meth:`after` and :meth:`shard` slice it for resuming and for
    ``torch.distributed``, keeping every clip's plan as it was.

    Attributes:
        seed: the run's seed.
        n_clips: clips of the whole run (not of this slice).
        n_sources: distinct source clips (clip ``i`` reads source ``i % n_sources``).
        clips_per_batch: clips per forward (``batch_size // protocol.max_forwards_per_clip()``).
        batches: the batches of this slice, in order.
        done: clips of the run already accumulated before this slice starts (a resumed run).
    """

    protocol: PairProtocol
    seed: int
    n_clips: int
    n_sources: int
    clips_per_batch: int
    batches: tuple[BatchPlan, ...]
    done: tuple[ClipPlan, ...] = ()

    @classmethod
    def build(cls, protocol: PairProtocol, n_sources: int, n_pairs: int, batch_size: int, seed: int) -> RunPlan:
        """The plan of a whole run.

        Args:
            protocol: the pair protocol (how many clips ``n_pairs`` takes, which factors each makes).
            n_sources: how many source clips the data holds (> 0).
            n_pairs: pairs per factor.
            batch_size: forwards per batch (anchors and partners together).
            seed: the run's seed.
        """
        if n_sources <= 0:
            raise ValueError("a run needs at least one clip")
        n_clips = protocol.n_clips(n_pairs)
        per_batch = max(1, int(batch_size) // protocol.max_forwards_per_clip())
        clips = [ClipPlan(i, i % n_sources, tuple(protocol.factors(i, cls._rng(seed, i)))) for i in range(n_clips)]
        batches = tuple(
            BatchPlan(k, tuple(clips[b0 : b0 + per_batch])) for k, b0 in enumerate(range(0, n_clips, per_batch))
        )
        return cls(protocol, int(seed), n_clips, int(n_sources), per_batch, batches)

    @staticmethod
    def _rng(seed: int, clip: int) -> np.random.Generator:
        return np.random.default_rng([int(seed), int(clip)])

    def stream(self, clip: ClipPlan) -> np.random.Generator:
        """Clip ``clip``'s random stream, positioned after its factor draw (the one place a run's
        pair randomness comes from)."""
        rng = self._rng(self.seed, clip.index)
        drawn = tuple(self.protocol.factors(clip.index, rng))
        if drawn != clip.factors:  # a protocol whose draw is not a function of (seed, clip)
            raise RuntimeError(
                f"protocol {self.protocol.describe()['name']!r} drew {drawn} for clip {clip.index} but planned "
                f"{clip.factors}: a protocol's factors must depend only on the clip's random stream"
            )
        return rng

    def clips(self) -> Iterator[ClipPlan]:
        """The clips of this slice, in run order."""
        for batch in self.batches:
            yield from batch.clips

    def work(self) -> tuple[int, int]:
        """(pairs, forwards) of this slice."""
        return sum(b.pairs for b in self.batches), sum(b.forwards for b in self.batches)

    def done_work(self) -> tuple[int, int]:
        """(pairs, forwards) accumulated before this slice (a resumed run)."""
        return sum(len(c.factors) for c in self.done), sum(1 + len(c.factors) for c in self.done)

    def after(self, next_clip: int) -> RunPlan:
        """The rest of the run from clip ``next_clip`` on (a saved state holds whole batches)."""
        if next_clip <= 0:
            return self
        rest = tuple(b for b in self.batches if b.clips[0].index >= next_clip)
        done = tuple(c for b in self.batches if b.clips[0].index < next_clip for c in b.clips)
        return dataclasses.replace(self, batches=rest, done=self.done + done)

    def shard(self, rank: int, world: int) -> RunPlan:
        """The batches process ``rank`` of ``world`` runs: every ``world``-th, by batch number."""
        if world <= 1:
            return self
        return dataclasses.replace(self, batches=tuple(b for b in self.batches if b.number % world == rank))

    def describe(self) -> dict[str, int]:
        """The plan's shape, for reports."""
        return {
            "n_clips": self.n_clips,
            "n_sources": self.n_sources,
            "clips_per_batch": self.clips_per_batch,
            "batches": len(self.batches),
        }
