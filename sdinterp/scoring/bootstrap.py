"""Bootstrap intervals of one layer's bias, from the Poisson replicates carried in its moments.

Each replicate k of a layer's :class:`~sdinterp.stats.PairMoments` (both factors) is scored by the
same scorer as the point estimate; the interval of a number is the percentile interval of its B
replicate values (Efron & Tibshirani 1993, §13.3), and a unit's *category stability* is the share of
replicates that put it in the category the point estimate gives it (``docs/confidence.md``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from sdinterp.errors import DegenerateLayerError
from sdinterp.interfaces import ESTIMATED_FACTORS, Factor, UnitScorer
from sdinterp.report import LayerBias
from sdinterp.report.layer_bias import CATEGORIES, FACTOR_COLUMNS
from sdinterp.scoring.batched import batched_scores
from sdinterp.scoring.functional import categorize, softmax_dims
from sdinterp.scoring.scorers import MomentScorer, OfficialScorer, PearsonScorer
from sdinterp.stats import PairMoments

__all__ = ["percentile_interval", "replicate_moments", "replicate_values", "layer_intervals"]


def percentile_interval(values: Sequence[float] | np.ndarray, level: float = 0.95) -> list[float]:
    """The two-sided percentile interval ``[q((1-level)/2), q((1+level)/2)]`` of some values.

    Examples:
        >>> percentile_interval(list(range(101)), 0.5)
        [25.0, 75.0]
    """
    v = np.asarray(values, dtype=np.float64)
    if v.size == 0:
        raise ValueError("no replicate values to take an interval of")
    lo, hi = np.quantile(v, [(1.0 - level) / 2.0, (1.0 + level) / 2.0])
    return [float(lo), float(hi)]


def replicate_moments(moments: Mapping[Factor, PairMoments], k: int) -> dict[Factor, PairMoments]:
    """Replicate ``k`` of a layer's per-factor moments, as plain moments a scorer reads."""
    return {f: moments[f].replicate(k) for f in ESTIMATED_FACTORS}


def _replicate_bias(
    scorer: UnitScorer,
    layer: str,
    moments: Mapping[Factor, PairMoments],
    threshold: float,
    info: Mapping[str, Any] | None,
) -> tuple[dict[str, float], dict[str, float], np.ndarray]:
    """(percent, scores, categories) of one replicate. A :class:`MomentScorer` skips building a
    LayerBias (the same functions, less overhead); any other scorer is run as it is."""
    if isinstance(scorer, MomentScorer):
        raw = scorer.unit_scores(layer, moments)
        n_units = int(np.asarray(raw["valid"]).shape[0])
        _, _, pct = softmax_dims(raw["scores"], n_units)
        cats = categorize(raw["unit_scores"]["dynamic"], raw["unit_scores"]["static"], raw["valid"], threshold)
        return pct, dict(raw["scores"]), cats
    lb = scorer.score(layer, moments, threshold, info)
    return dict(lb.percent), dict(lb.scores), np.asarray(lb.categories)


def replicate_values(
    scorer: UnitScorer,
    layer: str,
    moments: Mapping[Factor, PairMoments],
    threshold: float = 0.5,
    info: Mapping[str, Any] | None = None,
) -> tuple[int, list[dict[str, float]], list[dict[str, float]], list[np.ndarray]]:
    """Every bootstrap replicate of a layer, scored: ``(B, percents, scores, categories)``, one
    entry per replicate that could be scored (a replicate in which no pair drew a count, or every
    unit is constant, is left out).

    Raises:
        ValueError: the moments carry no (or unequal) replicates.
        DegenerateLayerError: no replicate could be scored.
    """
    counts = {moments[f].replicates for f in ESTIMATED_FACTORS}
    if len(counts) != 1 or not next(iter(counts)):
        raise ValueError(f"layer {layer!r}: the moments carry no (or unequal) bootstrap replicates: {sorted(counts)}")
    n_rep = counts.pop()
    percents: list[dict[str, float]] = []
    scores: list[dict[str, float]] = []
    cats: list[np.ndarray] = []
    if type(scorer) in (OfficialScorer, PearsonScorer):  # exactly the built-ins: a subclass may score otherwise
        return (n_rep, *_batched_values(scorer.name, moments, threshold))
    for k in range(n_rep):
        try:
            pct, sc, cat = _replicate_bias(scorer, layer, replicate_moments(moments, k), threshold, info)
        except DegenerateLayerError:
            continue
        percents.append(pct)
        scores.append(sc)
        cats.append(cat)
    if not percents:
        raise DegenerateLayerError(f"layer {layer!r}: none of the {n_rep} bootstrap replicates could be scored")
    return n_rep, percents, scores, cats


def _batched_values(
    name: str, moments: Mapping[Factor, PairMoments], threshold: float
) -> tuple[list[dict[str, float]], list[dict[str, float]], list[np.ndarray]]:
    """:func:`replicate_values` of a built-in scorer, from one batched pass (:mod:`.batched`)."""
    raw = batched_scores(name, moments)
    keep = np.flatnonzero(raw["ok"])
    if keep.size == 0:
        raise DegenerateLayerError(f"none of the {len(raw['ok'])} bootstrap replicates could be scored")
    dyn, stat = raw["scores"]["dynamic"], raw["scores"]["static"]
    valid = raw["valid"]
    all_cats = categorize(raw["unit_scores"]["dynamic"], raw["unit_scores"]["static"], valid, threshold)
    n_units = valid.shape[1]
    percents, scores, cats = [], [], []
    for k in keep:
        sc = {"dynamic": float(dyn[k]), "static": float(stat[k]), "identical": 1.0}
        percents.append(softmax_dims(sc, n_units)[2])
        scores.append(sc)
        cats.append(all_cats[k])
    return percents, scores, cats


def layer_intervals(
    scorer: UnitScorer,
    layer: str,
    moments: Mapping[Factor, PairMoments],
    point: LayerBias,
    threshold: float = 0.5,
    info: Mapping[str, Any] | None = None,
    level: float = 0.95,
) -> dict[str, Any]:
    """Bootstrap intervals of one layer: the value of :attr:`LayerBias.intervals`.

    Args:
        scorer: the scorer of the point estimate.
        layer: the layer's name.
        moments: its per-factor moments, carrying replicates (``PairMoments(replicates=B)``).
        point: the point estimate (its categories are what stability is measured against).
        threshold: λ of the unit categories.
        info: the layer's metadata.
        level: two-sided level of the intervals.

    Returns:
        dict as documented at :attr:`LayerBias.intervals`. A replicate the scorer cannot score (no
        pairs drew a count, every unit constant) is left out; ``scored`` says how many were used.

    Raises:
        DegenerateLayerError: no replicate could be scored.

    Examples:
        >>> import numpy as np, sdinterp
        >>> from sdinterp.stats import factor_moments
        >>> from sdinterp.replicates import poisson_weights
        >>> from sdinterp.interfaces import Factor
        >>> rng = np.random.default_rng(0)
        >>> z1 = rng.normal(size=(64, 4)); z2 = z1 + rng.normal(size=(64, 4))
        >>> m = {f: sdinterp.stats.PairMoments(replicates=50) for f in (Factor.DYNAMIC, Factor.STATIC)}
        >>> w = poisson_weights(0, range(32), 50)
        >>> _ = m[Factor.DYNAMIC].update(z1[:32], z2[:32], weights=w)
        >>> _ = m[Factor.STATIC].update(z1[32:], z2[32:], weights=w)
        >>> scorer = sdinterp.scoring.get_scorer("pearson")
        >>> point = scorer.score("x", m)
        >>> iv = layer_intervals(scorer, "x", m, point)
        >>> iv["replicates"], iv["scores"]["dynamic"][0] <= point.scores["dynamic"] <= iv["scores"]["dynamic"][1]
        (50, True)
    """
    n_rep, percents, scores, cats = replicate_values(scorer, layer, moments, threshold, info)
    ref = np.asarray(point.categories)
    agree = np.mean([c == ref for c in cats], axis=0) if point.n_units else np.zeros(0)
    cat_pct = []
    for c in cats:
        counted = [int(np.sum(c == k)) for k in CATEGORIES[:4]]
        total = sum(counted)
        cat_pct.append({k: (100.0 * n / total if total else 0.0) for k, n in zip(CATEGORIES[:4], counted)})
    return {
        "level": float(level),
        "replicates": int(n_rep),
        "scored": len(percents),
        "method": "poisson bootstrap over clips, percentile intervals",
        "percent": {f: percentile_interval([p[f] for p in percents], level) for f in FACTOR_COLUMNS},
        "scores": {f.value: percentile_interval([s[f.value] for s in scores], level) for f in ESTIMATED_FACTORS},
        "category_percent": {c: percentile_interval([p[c] for p in cat_pct], level) for c in CATEGORIES[:4]},
        "category_stability": [float(a) for a in agree],
    }
