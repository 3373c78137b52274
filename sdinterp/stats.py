"""Mergeable running moments of paired pooled features.

The estimators of Kowal et al. need, per unit, only first and second moments of the two elements
of each pair: means, variances and the cross-covariance. :class:`PairMoments` keeps exactly those in
float64, updated batch by batch and merged with the pairwise formulas of Chan, Golub & LeVeque
(1979) — never raw sums of squares, which lose every digit when a unit's mean is large next to its
spread. So a run never stores per-pair activations, can be saved and resumed, and can be
sharded over processes and merged (``all_reduce``) with the same result up to rounding.

:class:`PairMoments` is the one mergeable state of the project: :class:`MomentStore` (every layer
and factor of a run) and :class:`~sdinterp.scoring.BiasMetric` only hold PairMoments and delegate
``merge``, ``state_dict`` and ``all_reduce`` (the one reduce verb) to them.

With ``replicates=B`` a PairMoments also carries B Poisson-bootstrap replicates of the same moments
(:class:`~sdinterp.replicates.ReplicateMoments`): every update takes a (B, n) matrix of per-pair
counts, and merges, saves and reduces move the replicates with the point estimate.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

import numpy as np
import torch

from sdinterp.errors import NonFiniteActivationError
from sdinterp.interfaces import ESTIMATED_FACTORS, Factor
from sdinterp.replicates import ReplicateMoments

__all__ = ["PairMoments", "MomentStore", "NonFiniteActivationError", "split_by_factor", "factor_moments"]

_FIELDS = ("mean_a", "mean_b", "m2_a", "m2_b", "c_ab")


def _pow2(t: torch.Tensor, k: int) -> torch.Tensor:
    """``t * 2**k``, exact (a power of two only moves exponents), in steps that never overflow the
    factor itself."""
    while k:
        step = max(-1000, min(1000, k))
        t = t * (2.0**step)
        k -= step
    return t


def _exponent(*xs: torch.Tensor) -> int:
    """The binary exponent e of the largest magnitude (max |x| in [2**(e-1), 2**e)), 0 for all zeros."""
    peak = max(float(x.abs().max()) if x.numel() else 0.0 for x in xs)
    return math.frexp(peak)[1] if peak > 0.0 else 0


def _as_float64(x: Any) -> torch.Tensor:
    if isinstance(x, torch.Tensor):
        return x.detach().to(device="cpu", dtype=torch.float64)
    return torch.as_tensor(np.asarray(x), dtype=torch.float64)


class PairMoments:
    """Per-unit running moments of pairs (a, b), a and b of shape (N, D).

    Kept per unit: the pair count ``n``, the means of a and b, their centred sums of squares
    (``m2_a``, ``m2_b``) and the centred cross-product ``c_ab`` (all float64, CPU).

    The moments are kept for the features times ``2**-exponent``, the exponent taken from the
    largest magnitude seen, so features of 1e200 or 1e-300 do not overflow or underflow their
    squares. A power of two changes no digit, and every score is a ratio of second moments, so
    reports are identical at any scale. The properties (``mean_a``, ``var_a``, ...) are in the
    features' own units; :meth:`normalised` gives the scale-free moments the estimators use.

    Example::

        pm = PairMoments()
        pm.update(z1_batch, z2_batch)        # (B, D) tensors or arrays, any float dtype
        other.merge_into(pm)                 # or pm.merge(other)
        pm.cov, pm.var_a, pm.pooled_cross_cov

    With bootstrap replicates (``replicates=B``), each update also takes ``weights``, the (B, N)
    Poisson counts of its pairs, and :meth:`replicate` gives replicate k as a plain PairMoments::

        pm = PairMoments(replicates=100)
        pm.update(z1_batch, z2_batch, weights=w)   # w: (100, B) counts, e.g. replicates.poisson_weights
        pm.replicate(0).cov
    """

    def __init__(self, dim: int | None = None, name: str = "", replicates: int = 0):
        self.name = name
        self.n = 0
        self.dim = dim
        self.exponent = 0
        self.replicates = int(replicates)
        self.boot: ReplicateMoments | None = None
        self._t: dict[str, torch.Tensor] = {}
        if dim is not None:
            self._init(dim)

    def _init(self, dim: int) -> None:
        self.dim = int(dim)
        self._t = {k: torch.zeros(self.dim, dtype=torch.float64) for k in _FIELDS}
        self.boot = ReplicateMoments(self.replicates, self.dim) if self.replicates else None

    # -- accumulation -------------------------------------------------------------------------
    def update(self, a: Any, b: Any, batch: int | None = None, weights: Any = None) -> PairMoments:
        """Add a batch of pairs. ``a`` and ``b`` are (B, D); row k of each is one pair.

        ``weights`` (only with bootstrap replicates, and then required): the (replicates, B) counts
        of the pairs in each replicate.

        Raises:
            NonFiniteActivationError: if any value is NaN or inf (naming the layer and the batch).
            ValueError: on shapes that do not fit.
        """
        a64, b64 = _as_float64(a), _as_float64(b)
        if a64.dim() != 2 or a64.shape != b64.shape:
            raise ValueError(
                f"{self._where(batch)}: pairs must be two (N, D) arrays of the same shape, "
                f"got {tuple(a64.shape)} and {tuple(b64.shape)}"
            )
        if self.dim is not None and a64.shape[1] != self.dim:
            raise ValueError(f"{self._where(batch)}: got {a64.shape[1]} units, expected {self.dim}")
        if (weights is None) != (self.replicates == 0):
            raise ValueError(
                f"{self._where(batch)}: bootstrap weights are given exactly when the moments carry replicates "
                f"(replicates={self.replicates}, weights {'missing' if weights is None else 'given'})"
            )
        if a64.shape[0] == 0:
            return self
        for side, x in (("first", a64), ("second", b64)):
            bad = ~torch.isfinite(x)
            if bool(bad.any()):
                rows, cols = torch.nonzero(bad, as_tuple=True)
                raise NonFiniteActivationError(
                    f"{self._where(batch)}: {int(bad.sum())} non-finite activation(s) (NaN/inf) in the "
                    f"{side} element of the pairs, e.g. pair {int(rows[0])} unit {int(cols[0])}"
                )
        n2 = a64.shape[0]
        e = _exponent(a64, b64)
        if self.n == 0:
            self.exponent = e
        elif e > self.exponent:
            self._rebase(e)
        a64, b64 = _pow2(a64, -self.exponent), _pow2(b64, -self.exponent)
        if self.dim is None:
            self._init(int(a64.shape[1]))
        if self.boot is not None:
            self.boot.update(a64, b64, _as_float64(weights))
        mean_a, mean_b = a64.mean(0), b64.mean(0)
        da, db = a64 - mean_a, b64 - mean_b
        batch_stats = {
            "mean_a": mean_a,
            "mean_b": mean_b,
            "m2_a": (da * da).sum(0),
            "m2_b": (db * db).sum(0),
            "c_ab": (da * db).sum(0),
        }
        self._merge_stats(n2, batch_stats)
        return self

    def _rebase(self, exponent: int) -> None:
        """Express the kept moments at a larger exponent (exact, up to underflow of tiny values)."""
        k = self.exponent - exponent
        self._t = {f: _pow2(v, k if f.startswith("mean") else 2 * k) for f, v in self._t.items()}
        if self.boot is not None:
            self.boot = self.boot.rescaled(_pow2, k)
        self.exponent = exponent

    def _scaled_fields(self, exponent: int) -> dict[str, torch.Tensor]:
        k = self.exponent - exponent
        return {f: _pow2(v, k if f.startswith("mean") else 2 * k) for f, v in self._t.items()}

    def normalised(self, exponent: int | None = None) -> PairMoments:
        """A copy whose features are divided by ``2**exponent`` (default: its own exponent), with
        exponent 0, so its properties are scale-free moments. Estimators normalise the factors of
        a layer to one common exponent before taking ratios."""
        out = PairMoments(self.dim, name=self.name)
        out.n = self.n
        if self.dim is not None:
            out._t = self._scaled_fields(self.exponent if exponent is None else exponent)
        return out

    def _where(self, batch: int | None) -> str:
        where = f"layer {self.name!r}" if self.name else "PairMoments"
        return f"{where}, batch {batch}" if batch is not None else where

    def _merge_stats(
        self,
        n2: int,
        s2: Mapping[str, torch.Tensor],
        exponent2: int | None = None,
        boot2: ReplicateMoments | None = None,
    ) -> None:
        # boot2: the other side's replicates (merge, all_reduce); update() adds its own beforehand.
        if n2 == 0:
            return
        if exponent2 is not None:
            if self.n == 0:
                self.exponent = exponent2
            elif exponent2 > self.exponent:
                self._rebase(exponent2)
            if exponent2 != self.exponent:
                k = exponent2 - self.exponent
                s2 = {f: _pow2(v, k if f.startswith("mean") else 2 * k) for f, v in s2.items()}
                boot2 = boot2.rescaled(_pow2, k) if boot2 is not None else None
        if self.dim is None:
            self._init(int(s2["mean_a"].shape[0]))
        elif int(s2["mean_a"].shape[0]) != self.dim:
            raise ValueError(f"{self._where(None)}: cannot merge {int(s2['mean_a'].shape[0])} units into {self.dim}")
        if self.boot is not None and boot2 is not None:
            self.boot.merge(boot2)
        n1 = self.n
        if n1 == 0:
            self._t = {k: s2[k].clone() for k in _FIELDS}
            self.n = n2
            return
        n = n1 + n2
        t = self._t
        delta_a = s2["mean_a"] - t["mean_a"]
        delta_b = s2["mean_b"] - t["mean_b"]
        w = n1 * n2 / n
        # Chan et al. pairwise update: exact in exact arithmetic, stable in floating point.
        t["m2_a"] = t["m2_a"] + s2["m2_a"] + delta_a * delta_a * w
        t["m2_b"] = t["m2_b"] + s2["m2_b"] + delta_b * delta_b * w
        t["c_ab"] = t["c_ab"] + s2["c_ab"] + delta_a * delta_b * w
        t["mean_a"] = t["mean_a"] + delta_a * (n2 / n)
        t["mean_b"] = t["mean_b"] + delta_b * (n2 / n)
        self.n = n

    def merge(self, other: PairMoments) -> PairMoments:
        """Fold ``other`` into this one (in place) and return self."""
        if other.n:
            if other.replicates != self.replicates:
                raise ValueError(
                    f"{self._where(None)}: cannot merge moments with {other.replicates} bootstrap replicates "
                    f"into {self.replicates}"
                )
            self._merge_stats(other.n, other._t, other.exponent, other.boot)
        return self

    def replicate(self, k: int) -> PairMoments:
        """Bootstrap replicate ``k`` as a plain PairMoments (n = its total count; 0 when every
        pair drew a zero count), to be scored like the point estimate."""
        if self.boot is None:
            raise ValueError(f"{self._where(None)}: these moments carry no bootstrap replicates")
        out = PairMoments(self.dim, name=self.name)
        out.n = int(round(float(self.boot.weight[k])))
        out.exponent = self.exponent
        out._t = {f: self.boot.fields[f][k].clone() for f in _FIELDS}
        return out

    @classmethod
    def merged(cls, parts: Iterable[PairMoments], name: str = "") -> PairMoments:
        out = cls(name=name)
        for p in parts:
            out.merge(p)
        return out

    # -- (de)serialisation and distribution ------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "n": self.n,
            "dim": self.dim,
            "name": self.name,
            "exponent": self.exponent,
            **{k: v.clone() for k, v in self._t.items()},
        }
        if self.replicates:  # only then: a state without the bootstrap is as it always was
            out["replicates"] = self.replicates
            out["bootstrap"] = self.boot.state_dict() if self.boot is not None else None
        return out

    def load_state_dict(self, state: Mapping[str, Any]) -> PairMoments:
        self.name = state.get("name", self.name)
        self.n = int(state["n"])
        self.exponent = int(state.get("exponent", 0))
        self.dim = None if state["dim"] is None else int(state["dim"])
        self._t = {k: _as_float64(state[k]).clone() for k in _FIELDS} if self.dim is not None else {}
        self.replicates = int(state.get("replicates", 0))
        boot = state.get("bootstrap")
        self.boot = ReplicateMoments.from_state_dict(boot) if boot is not None else None
        return self

    @classmethod
    def from_state_dict(cls, state: Mapping[str, Any]) -> PairMoments:
        return cls().load_state_dict(state)

    def all_reduce(self, group: Any = None) -> PairMoments:
        """Merge the moments of every process of a ``torch.distributed`` group into each process.

        Every rank gathers every rank's state and merges them in rank order, so all ranks hold the
        same bits. A no-op when torch.distributed is not initialised or has one process.
        """
        import torch.distributed as dist

        if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size(group) == 1:
            return self
        dims = [torch.zeros(2, dtype=torch.float64) for _ in range(dist.get_world_size(group))]
        mine = torch.tensor(
            [-1.0 if self.dim is None else float(self.dim), float(self.replicates)], dtype=torch.float64
        )
        dist.all_gather(dims, mine, group=group)
        known = {int(d[0].item()) for d in dims if d[0].item() >= 0}
        if len(known) > 1:
            raise ValueError(f"{self._where(None)}: ranks disagree on the number of units: {sorted(known)}")
        if len({int(d[1].item()) for d in dims}) > 1:
            raise ValueError(
                f"{self._where(None)}: ranks disagree on the bootstrap replicates: "
                f"{sorted({int(d[1].item()) for d in dims})}"
            )
        if not known:
            return self
        dim = known.pop()
        if self.dim is None:
            self._init(dim)
        head = torch.tensor([float(self.n), float(self.exponent)], dtype=torch.float64)
        packed = torch.cat(
            [head] + [self._t[k] for k in _FIELDS] + ([self.boot.packed()] if self.boot is not None else [])
        )
        gathered = [torch.zeros_like(packed) for _ in dims]
        dist.all_gather(gathered, packed, group=group)
        out = PairMoments(dim, name=self.name, replicates=self.replicates)
        base = 2 + len(_FIELDS) * dim
        for g in gathered:  # rank order: every rank merges the same parts in the same order
            parts = g[2:base].split(dim)
            boot = ReplicateMoments.unpacked(g[base:], self.replicates, dim) if self.replicates else None
            out._merge_stats(int(round(g[0].item())), dict(zip(_FIELDS, parts)), int(round(g[1].item())), boot)
        self.n, self._t, self.exponent, self.boot = out.n, out._t, out.exponent, out.boot
        return self

    # -- derived moments (biased, 1/N, as the official estimator) ---------------------------------
    def _need(self) -> None:
        if self.n == 0:
            raise ValueError(f"{self._where(None)}: no pairs were accumulated")

    @property
    def mean_a(self) -> torch.Tensor:
        self._need()
        return _pow2(self._t["mean_a"], self.exponent)

    @property
    def mean_b(self) -> torch.Tensor:
        self._need()
        return _pow2(self._t["mean_b"], self.exponent)

    @property
    def var_a(self) -> torch.Tensor:
        self._need()
        return _pow2(self._t["m2_a"] / self.n, 2 * self.exponent)

    @property
    def var_b(self) -> torch.Tensor:
        self._need()
        return _pow2(self._t["m2_b"] / self.n, 2 * self.exponent)

    @property
    def cov(self) -> torch.Tensor:
        """Cov(a, b) about each side's own mean (Pearson's numerator, paper Eq. 2)."""
        self._need()
        return _pow2(self._t["c_ab"] / self.n, 2 * self.exponent)

    @property
    def pooled_mean(self) -> torch.Tensor:
        """Mean of the 2N values of both sides (the official code's ``m_f``)."""
        return 0.5 * (self.mean_a + self.mean_b)

    @property
    def pooled_cross_cov(self) -> torch.Tensor:
        """mean_n (a - m)(b - m) about the pooled mean m: the official per-unit numerator.

        Equals Cov(a, b) - (mean_a - mean_b)^2 / 4.
        """
        half = 0.5 * (self.mean_a - self.mean_b)
        return self.cov - half * half

    @property
    def pooled_var(self) -> torch.Tensor:
        """Variance of the 2N stacked values of both sides (the official per-unit denominator).

        Equals (Var a + Var b) / 2 + (mean_a - mean_b)^2 / 4.
        """
        half = 0.5 * (self.mean_a - self.mean_b)
        return 0.5 * (self.var_a + self.var_b) + half * half

    def __repr__(self) -> str:
        return f"PairMoments(name={self.name!r}, n={self.n}, dim={self.dim})"


class MomentStore:
    """PairMoments for every (layer, factor) of a run, saved, merged and reduced together
    (``replicates=B``: each carries B bootstrap replicates).

    Attributes:
        clusters: source video (cluster key) -> clips of the run drawn from it; merged by adding,
            so a resumed, merged or sharded run counts its independent videos as one run would.
    """

    def __init__(
        self,
        layers: Iterable[str] = (),
        factors: Iterable[Factor] = (Factor.DYNAMIC, Factor.STATIC),
        replicates: int = 0,
    ):
        self.factors = tuple(Factor.parse(f) for f in factors)
        self.replicates = int(replicates)
        self.moments: dict[str, dict[Factor, PairMoments]] = {}
        self.clusters: dict[str, int] = {}
        for layer in layers:
            self.add_layer(layer)

    def add_layer(self, layer: str, replicates: int | None = None) -> None:
        """Add a layer (``replicates``: its own bootstrap replicate count, default the store's)."""
        b = self.replicates if replicates is None else int(replicates)
        self.moments.setdefault(layer, {f: PairMoments(name=layer, replicates=b) for f in self.factors})

    def __getitem__(self, layer: str) -> dict[Factor, PairMoments]:
        return self.moments[layer]

    def layers(self) -> list[str]:
        return list(self.moments)

    def n_pairs(self) -> dict[str, int]:
        first = next(iter(self.moments.values()), {})
        return {f.value: pm.n for f, pm in first.items()}

    def merge(self, other: MomentStore) -> MomentStore:
        for layer, per_factor in other.moments.items():
            b = next((pm.replicates for pm in per_factor.values()), self.replicates)
            self.add_layer(layer, replicates=b)
            for f, pm in per_factor.items():
                self.moments[layer].setdefault(f, PairMoments(name=layer, replicates=b)).merge(pm)
        for key, n in other.clusters.items():
            self.clusters[key] = self.clusters.get(key, 0) + n
        return self

    def all_reduce(self, group: Any = None) -> MomentStore:
        for per_factor in self.moments.values():
            for pm in per_factor.values():
                pm.all_reduce(group)
        import torch.distributed as dist

        if dist.is_available() and dist.is_initialized() and dist.get_world_size(group) > 1:
            parts: list[Any] = [None] * dist.get_world_size(group)
            dist.all_gather_object(parts, self.clusters, group=group)
            merged: dict[str, int] = {}
            for part in parts:
                for key, n in part.items():
                    merged[key] = merged.get(key, 0) + n
            self.clusters = merged
        return self

    def state_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "factors": [f.value for f in self.factors],
            "moments": {l: {f.value: pm.state_dict() for f, pm in d.items()} for l, d in self.moments.items()},
        }
        if self.replicates:
            out["replicates"] = self.replicates
        if self.clusters:
            out["clusters"] = dict(self.clusters)
        return out

    @classmethod
    def from_state_dict(cls, state: Mapping[str, Any]) -> MomentStore:
        store = cls(factors=state["factors"], replicates=int(state.get("replicates", 0)))
        for layer, d in state["moments"].items():
            store.moments[layer] = {Factor.parse(f): PairMoments.from_state_dict(s) for f, s in d.items()}
        store.clusters = {str(k): int(n) for k, n in dict(state.get("clusters", {})).items()}
        return store


def split_by_factor(z1: Any, z2: Any, factors: Sequence[Any] | Any) -> Iterator[tuple[Factor, Any, Any]]:
    """Group the rows of pairs ``(z1[k], z2[k])`` by their factor label, in the order dynamic, static.

    Args:
        z1, z2: (N, C) arrays or tensors, row k of each is pair k.
        factors: N labels (``"static"``/``"dynamic"``, :class:`Factor`, or the reference code's
            0 = dynamic / 1 = static), or one label for every row.

    Yields:
        ``(factor, rows of z1, rows of z2)`` for each factor that has rows.
    """
    a, b = _as_float64(z1).numpy(), _as_float64(z2).numpy()  # any float dtype, bfloat16 included
    if a.ndim != 2 or a.shape != b.shape:
        raise ValueError(f"z1 and z2 must both be (N, C), got {a.shape} and {b.shape}")
    if isinstance(factors, (str, Factor, int, np.integer)):
        factors = [factors] * a.shape[0]
    labels = [Factor.parse(f) for f in factors]
    if len(labels) != a.shape[0]:
        raise ValueError(f"got {len(labels)} factor labels for {a.shape[0]} pairs")
    if any(f is Factor.IDENTICAL for f in labels):
        raise ValueError("pairs cannot be labelled 'identical': that factor is the constant S = 1 baseline")
    codes = np.array([f.code for f in labels])
    for f in ESTIMATED_FACTORS:
        rows = codes == f.code
        if rows.any():
            yield f, a[rows], b[rows]


def factor_moments(z1: Any, z2: Any, factors: Sequence[Any] | Any, layer: str = "") -> dict[Factor, PairMoments]:
    """The per-factor moments of a set of pairs: ``{Factor.DYNAMIC: PairMoments, Factor.STATIC: ...}``."""
    out = {f: PairMoments(name=layer) for f in ESTIMATED_FACTORS}
    for f, a, b in split_by_factor(z1, z2, factors):
        out[f].update(a, b)
    return out
