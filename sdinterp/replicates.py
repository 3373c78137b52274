"""Poisson-bootstrap replicates of paired moments, carried inside the mergeable statistics.

A Poisson bootstrap (Hanley & MacGibbon 2006; Chamandy et al. 2012) gives every observation an
independent Poisson(1) count per replicate instead of drawing n rows with replacement: the counts of
one observation do not depend on any other, so they can be drawn where a clip is processed, and a
replicate is an ordinary weighted moment state that merges like the point estimate.

The observation is the *source video*, not the clip: clips cut from one video (several windows,
or one clip reused because the run asks for more pairs than there are clips) are not independent,
so they share one count — a cluster bootstrap (Field & Welsh 2007; Cameron, Gelbach & Miller 2008).
Resampling clips instead would make an interval as narrow for 16 videos used 8 times as for 128
videos, and it would not cover the truth (docs/confidence.md, "Reused videos"). A video's counts
come from ``default_rng([seed, key, WEIGHT_STREAM])`` with ``key`` a stable 64-bit hash of its id:
the same replicates whatever the batch size, the sharding over processes, or an interrupt and resume.

:class:`ReplicateMoments` holds B weighted copies of the five moment fields of
:class:`~sdinterp.stats.PairMoments` as (B, D) float64 tensors, in the owner's scaled units (the
owner rescales them with its power-of-two exponent). A batch costs one matmul of the (B, n) weight
matrix with the (n, 5D) centred features; batches and shards combine with the frequency-weighted
Chan, Golub & LeVeque merge, exactly as if each pair had been repeated ``w`` times.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import torch

__all__ = ["ReplicateMoments", "poisson_weights", "cluster_weights", "cluster_seed", "WEIGHT_STREAM", "FIELDS"]

FIELDS = ("mean_a", "mean_b", "m2_a", "m2_b", "c_ab")

#: Third word of the seed of a clip's bootstrap counts, so they are a stream of their own, apart
#: from the clip's pair draws (``default_rng([seed, clip])``): turning the bootstrap on changes no pair.
WEIGHT_STREAM = 0xB0075


def poisson_weights(seed: int, clips: Iterable[int], replicates: int) -> torch.Tensor:
    """The bootstrap counts of some clips of a run: a (replicates, n_clips) float64 tensor.

    Column j holds the Poisson(1) counts of clip ``clips[j]``, drawn from
    ``default_rng([seed, clip, WEIGHT_STREAM])`` — a function of the run seed and the clip index
    only, never of the batch the clip falls in.

    Args:
        seed: the run's seed.
        clips: clip indices of the run.
        replicates: B, the number of bootstrap replicates.

    Returns:
        (B, n) tensor of non-negative integer counts (as float64).

    Examples:
        >>> w = poisson_weights(0, range(3), 4)
        >>> tuple(w.shape), torch.equal(w[:, 2], poisson_weights(0, [2], 4)[:, 0])
        ((4, 3), True)
    """
    cols = [np.random.default_rng([int(seed), int(i), WEIGHT_STREAM]).poisson(1.0, int(replicates)) for i in clips]
    if not cols:
        return torch.zeros((int(replicates), 0), dtype=torch.float64)
    return torch.from_numpy(np.stack(cols, axis=1).astype(np.float64))


def cluster_seed(key: str) -> int:
    """A stable 64-bit integer for a cluster's id (the same in every process and Python session,
    unlike ``hash``).

    Examples:
        >>> cluster_seed("a.mp4") == cluster_seed("a.mp4") != cluster_seed("b.mp4")
        True
    """
    return int.from_bytes(hashlib.sha256(str(key).encode()).digest()[:8], "little")


def cluster_weights(seed: int, replicates: int) -> Callable[[Sequence[str]], torch.Tensor]:
    """The bootstrap counts of a run's clips by their cluster (source video).

    Returns a function mapping the cluster keys of some clips to their (replicates, n) float64
    counts; clips with one key get one column of counts, drawn once from
    ``default_rng([seed, cluster_seed(key), WEIGHT_STREAM])``.

    Examples:
        >>> w = cluster_weights(0, 5)(["a", "b", "a"])
        >>> tuple(w.shape), torch.equal(w[:, 0], w[:, 2]), torch.equal(w[:, 1], cluster_weights(0, 5)(["b"])[:, 0])
        ((5, 3), True, True)
    """
    cache: dict[str, torch.Tensor] = {}

    def counts(keys: Sequence[str]) -> torch.Tensor:
        for key in keys:
            if key not in cache:
                rng = np.random.default_rng([int(seed), cluster_seed(key), WEIGHT_STREAM])
                cache[key] = torch.from_numpy(rng.poisson(1.0, int(replicates)).astype(np.float64))
        if not keys:
            return torch.zeros((int(replicates), 0), dtype=torch.float64)
        return torch.stack([cache[k] for k in keys], dim=1)

    return counts


def _np(x: Any) -> np.ndarray:
    """A float64 numpy view (no copy) of a CPU tensor or array."""
    return x.detach().numpy() if isinstance(x, torch.Tensor) else np.asarray(x, dtype=np.float64)


def _safe_div(x: np.ndarray, n: np.ndarray) -> np.ndarray:
    """x / n row-wise, 0 where n == 0 (an empty replicate has no mean, and contributes nothing)."""
    return np.where(n > 0, x / np.where(n > 0, n, 1.0), 0.0)


class ReplicateMoments:
    """B frequency-weighted moment states of one unit set (the bootstrap replicates of a PairMoments).

    Attributes:
        replicates: B.
        dim: units D.
        weight: (B,) total count of each replicate (integer-valued float64).
        fields: ``mean_a``, ``mean_b``, ``m2_a``, ``m2_b``, ``c_ab``, each (B, D), in the owner's
            scaled units.

    Examples:
        >>> r = ReplicateMoments(2, 3)
        >>> a = torch.randn(5, 3, dtype=torch.float64); b = a + 1
        >>> _ = r.update(a, b, torch.ones(2, 5, dtype=torch.float64))
        >>> r.weight.tolist()
        [5.0, 5.0]
    """

    def __init__(self, replicates: int, dim: int):
        self.replicates, self.dim = int(replicates), int(dim)
        self.weight = torch.zeros(self.replicates, dtype=torch.float64)
        self.fields = {k: torch.zeros(self.replicates, self.dim, dtype=torch.float64) for k in FIELDS}

    def update(self, a: torch.Tensor, b: torch.Tensor, weights: torch.Tensor) -> ReplicateMoments:
        """Add a batch of (already scaled) pairs ``a``, ``b`` (n, D) with counts ``weights`` (B, n)."""
        if tuple(weights.shape) != (self.replicates, a.shape[0]):
            raise ValueError(
                f"bootstrap weights must be ({self.replicates}, {a.shape[0]}) for {a.shape[0]} pairs, got "
                f"{tuple(weights.shape)}"
            )
        # numpy, not torch, for the arithmetic: these are many small (B, D) operations, which torch
        # splits over threads; on a busy machine the thread hand-offs cost more than the work.
        a_np, b_np = _np(a), _np(b)
        # Centre on the batch's own (unweighted) mean first: the raw weighted sums below are then of
        # small deviations, so m2 = S2 - S1^2/W loses no more digits than a two-pass variance would.
        shift_a, shift_b = a_np.mean(0), b_np.mean(0)
        da, db = a_np - shift_a, b_np - shift_b
        w_np = _np(weights)
        sums = w_np @ np.concatenate([da, db, da * da, db * db, da * db], axis=1)
        s1a, s1b, s2a, s2b, sab = np.split(sums, 5, axis=1)
        w = w_np.sum(1)
        col = w[:, None]
        ma, mb = _safe_div(s1a, col), _safe_div(s1b, col)
        batch = {
            "mean_a": shift_a + ma,
            "mean_b": shift_b + mb,
            "m2_a": s2a - s1a * ma,
            "m2_b": s2b - s1b * mb,
            "c_ab": sab - s1a * mb,
        }
        return self._merge_np(w, batch)

    def merge_fields(self, w2: torch.Tensor, s2: Mapping[str, torch.Tensor]) -> ReplicateMoments:
        """Fold in another replicate state (counts ``w2`` (B,), fields (B, D), same scale)."""
        return self._merge_np(_np(w2), {k: _np(v) for k, v in s2.items()})

    def _merge_np(self, w2: np.ndarray, s2: Mapping[str, np.ndarray]) -> ReplicateMoments:
        n1, n2 = _np(self.weight)[:, None], w2[:, None]
        n = n1 + n2
        t = {k: _np(v) for k, v in self.fields.items()}
        delta_a = s2["mean_a"] - t["mean_a"]
        delta_b = s2["mean_b"] - t["mean_b"]
        # Chan et al. pairwise update with frequency weights, per replicate; a replicate that is
        # empty on either side takes the other side as it is (the factors below are then 0 or 1).
        cross = _safe_div(n1 * n2, n)
        frac = _safe_div(np.broadcast_to(n2, n.shape), n)
        merged = {
            "m2_a": t["m2_a"] + s2["m2_a"] + delta_a * delta_a * cross,
            "m2_b": t["m2_b"] + s2["m2_b"] + delta_b * delta_b * cross,
            "c_ab": t["c_ab"] + s2["c_ab"] + delta_a * delta_b * cross,
            "mean_a": t["mean_a"] + delta_a * frac,
            "mean_b": t["mean_b"] + delta_b * frac,
        }
        self.fields = {k: torch.from_numpy(np.ascontiguousarray(merged[k])) for k in FIELDS}
        self.weight = torch.from_numpy(_np(self.weight) + w2)
        return self

    def merge(self, other: ReplicateMoments) -> ReplicateMoments:
        self._check_same(other)
        return self.merge_fields(other.weight, other.fields)

    def rescaled(self, scale: Callable[[torch.Tensor, int], torch.Tensor], k: int) -> ReplicateMoments:
        """A copy with means times ``2**k`` and second moments times ``2**(2k)``; ``scale(t, p)``
        is the owner's exact power-of-two multiply."""
        out = ReplicateMoments(self.replicates, self.dim)
        out.weight = self.weight.clone()
        out.fields = {f: scale(v, k if f.startswith("mean") else 2 * k) for f, v in self.fields.items()}
        return out

    def _check_same(self, other: ReplicateMoments) -> None:
        if (other.replicates, other.dim) != (self.replicates, self.dim):
            raise ValueError(
                f"cannot merge bootstrap replicates of shape ({other.replicates}, {other.dim}) into "
                f"({self.replicates}, {self.dim})"
            )

    # -- (de)serialisation ------------------------------------------------------------------------
    def packed(self) -> torch.Tensor:
        """Everything as one flat float64 tensor (for all_gather): weights, then the fields."""
        return torch.cat([self.weight] + [self.fields[k].reshape(-1) for k in FIELDS])

    @classmethod
    def unpacked(cls, flat: torch.Tensor, replicates: int, dim: int) -> ReplicateMoments:
        out = cls(replicates, dim)
        out.weight = flat[:replicates].clone()
        parts = flat[replicates:].split(replicates * dim)
        out.fields = {k: p.reshape(replicates, dim).clone() for k, p in zip(FIELDS, parts)}
        return out

    def state_dict(self) -> dict[str, Any]:
        return {
            "replicates": self.replicates,
            "dim": self.dim,
            "weight": self.weight.clone(),
            **{k: v.clone() for k, v in self.fields.items()},
        }

    @classmethod
    def from_state_dict(cls, state: Mapping[str, Any]) -> ReplicateMoments:
        out = cls(int(state["replicates"]), int(state["dim"]))
        out.weight = torch.as_tensor(state["weight"], dtype=torch.float64).clone()
        out.fields = {k: torch.as_tensor(state[k], dtype=torch.float64).clone() for k in FIELDS}
        return out
