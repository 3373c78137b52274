"""The functional core of the estimators: pure functions of :class:`~sdinterp.stats.PairMoments`.

The scorer classes (:mod:`sdinterp.scoring.scorers`) and :class:`~sdinterp.scoring.BiasMetric` are
thin shells over these functions. Two estimators (``docs/method.md`` §1 has the full comparison):

* ``official`` (default) — what ``utils.dim_est`` of the official code
  (github.com/YorkUCVIL/Static-Dynamic-Interpretability) computes. Layer score
  S_F = Σ_i mean_n[(a-m_F)(b-m_F)]_i / Σ_i Var_all[i], the numerator centred on the factor's pooled
  mean m_F and the denominator a single variance over the samples of *both* factors; unit score
  s_F = mean_n[(a-m_F)(b-m_F)] / Var(stack(a, b)).
* ``pearson`` — paper-literal: Eq. 1 S_F = Σ_i Pearson_i, Eq. 2 s_F = Pearson.

Both then take a max-subtracted softmax over (S_dyn, S_stat, S_identical = 1), truncate
softmax·D to int per factor (the identical factor takes the remainder), and categorise units with
strict inequalities at λ (Eq. 3).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast

import numpy as np
import torch

from sdinterp.errors import DegenerateLayerError
from sdinterp.interfaces import ESTIMATED_FACTORS, Factor
from sdinterp.report import LayerBias
from sdinterp.stats import PairMoments

__all__ = [
    "official_scores",
    "pearson_scores",
    "softmax_dims",
    "unit_softmax",
    "categorize",
    "check_threshold",
    "layer_bias",
    "DegenerateLayerError",
]

# A unit is constant when its spread is below this fraction of its magnitude: float64 sums of n
# equal values are not always exactly n·x, so exact zero is too strict a test.
_CONST_RTOL = 1e-9


def _check(layer: str, moments: Mapping[Factor, PairMoments]) -> tuple[PairMoments, PairMoments]:
    missing = [f.value for f in ESTIMATED_FACTORS if f not in moments or moments[f].n == 0]
    if missing:
        have = {f.value: (moments[f].n if f in moments else 0) for f in ESTIMATED_FACTORS}
        raise DegenerateLayerError(
            f"layer {layer!r}: no pairs of factor(s) {', '.join(missing)} (pairs per factor: {have}); "
            f"both the static and the dynamic factor need pairs"
        )
    dyn, stat = moments[Factor.DYNAMIC], moments[Factor.STATIC]
    if dyn.dim != stat.dim:
        raise ValueError(f"layer {layer!r}: {dyn.dim} units in dynamic pairs but {stat.dim} in static pairs")
    return dyn, stat


def _scale_free(moments: Mapping[Factor, PairMoments]) -> dict[Factor, PairMoments]:
    """Both factors' moments divided by one common power of two: every score is a ratio of second
    moments, so this changes no digit, and features of any magnitude (1e200, 1e-300) score alike."""
    exponent = max(moments[f].exponent for f in ESTIMATED_FACTORS)
    return {f: moments[f].normalised(exponent) for f in ESTIMATED_FACTORS}


def _constant(var: torch.Tensor, mean: torch.Tensor) -> torch.Tensor:
    return var <= (_CONST_RTOL * mean.abs()) ** 2


def official_scores(layer: str, moments: Mapping[Factor, PairMoments]) -> dict[str, Any]:
    """The official estimator (``utils.dim_est``) from moments.

    Returns:
        dict with ``scores`` (S per factor, float), ``unit_scores`` ((D,) float64 arrays per
        estimated factor, 0 where invalid) and ``valid`` ((D,) bool).
    """
    dyn, stat = _check(layer, moments)
    pooled = _scale_free(moments)
    # Total variance over all 2N rows of both factors: combine each factor's (2N_f, m_f, v_f) group.
    counts = {f: 2.0 * pm.n for f, pm in pooled.items()}
    total = sum(counts.values())
    mu = sum(counts[f] * pm.pooled_mean for f, pm in pooled.items()) / total
    var_all = cast(
        torch.Tensor, sum(counts[f] * (pm.pooled_var + (pm.pooled_mean - mu) ** 2) for f, pm in pooled.items()) / total
    )
    mu = cast(torch.Tensor, mu)
    v_tot = float(var_all.sum())
    if not v_tot > 0.0 or bool(torch.all(_constant(var_all, mu))):
        raise DegenerateLayerError(f"layer {layer!r}: every unit is constant over all pairs; nothing to score")
    assert dyn.dim is not None  # _check saw pairs, and the first pair sets dim
    valid = torch.ones(dyn.dim, dtype=torch.bool)
    for pm in pooled.values():
        valid &= ~_constant(pm.pooled_var, pm.pooled_mean)
    scores: dict[str, float] = {}
    unit: dict[str, np.ndarray] = {}
    for f, pm in pooled.items():
        cross = pm.pooled_cross_cov
        scores[f.value] = float(cross.sum()) / v_tot
        s = torch.where(
            valid, cross / torch.where(valid, pm.pooled_var, torch.ones_like(cross)), torch.zeros_like(cross)
        )
        unit[f.value] = s.numpy().copy()
    scores[Factor.IDENTICAL.value] = 1.0
    return {"scores": scores, "unit_scores": unit, "valid": valid.numpy().copy()}


def pearson_scores(layer: str, moments: Mapping[Factor, PairMoments]) -> dict[str, Any]:
    """Paper-literal estimator: Eq. 2 Pearson per unit, Eq. 1 their sum over valid units."""
    dyn, _ = _check(layer, moments)
    moments = _scale_free(moments)
    assert dyn.dim is not None  # _check saw pairs, and the first pair sets dim
    valid = torch.ones(dyn.dim, dtype=torch.bool)
    for f in ESTIMATED_FACTORS:
        pm = moments[f]
        valid &= ~_constant(pm.var_a, pm.mean_a) & ~_constant(pm.var_b, pm.mean_b)
    if not bool(valid.any()):
        raise DegenerateLayerError(f"layer {layer!r}: every unit is constant within a factor; nothing to score")
    scores: dict[str, float] = {}
    unit: dict[str, np.ndarray] = {}
    for f in ESTIMATED_FACTORS:
        pm = moments[f]
        denom = torch.sqrt(pm.var_a * pm.var_b)
        r = torch.where(valid, pm.cov / torch.where(valid, denom, torch.ones_like(denom)), torch.zeros_like(denom))
        unit[f.value] = r.numpy().copy()
        scores[f.value] = float(r[valid].sum())
    scores[Factor.IDENTICAL.value] = 1.0
    return {"scores": scores, "unit_scores": unit, "valid": valid.numpy().copy()}


def softmax_dims(
    scores: Mapping[str, float], n_units: int
) -> tuple[dict[str, float], dict[str, int], dict[str, float]]:
    """Softmax over (dynamic, static, identical) with max subtraction, then units per factor.

    ``dims[F] = int(p_F · D)`` (truncation toward zero) for dynamic and static; the identical factor
    takes the remainder so the dims sum to D; percent = ``round(100·dims/D, 1)`` (Python round).
    """
    names = [f.value for f in (Factor.DYNAMIC, Factor.STATIC, Factor.IDENTICAL)]
    s = np.array([scores[n] for n in names], dtype=np.float64)
    e = np.exp(s - s.max())
    p = e / e.sum()
    d0, d1 = int(p[0] * n_units), int(p[1] * n_units)
    dims = [d0, d1, n_units - d0 - d1]
    shares = {n: float(v) for n, v in zip(names, p)}
    dim_map = {n: int(v) for n, v in zip(names, dims)}
    pct = {n: round(100.0 * v / n_units, 1) for n, v in zip(names, dims)}
    return shares, dim_map, pct


def unit_softmax(unit_scores: Mapping[str, np.ndarray], valid: np.ndarray) -> np.ndarray:
    """Per-unit softmax over (s_dyn, s_stat, 1) with max subtraction; rows of invalid units are 0."""
    s = np.stack([unit_scores["dynamic"], unit_scores["static"], np.ones_like(unit_scores["dynamic"])], axis=1)
    e = np.exp(s - s.max(axis=1, keepdims=True))
    out = e / e.sum(axis=1, keepdims=True)
    out[~valid] = 0.0
    return out


def check_threshold(threshold: Any) -> float:
    """λ as a float, refused unless it is a finite number (as ``--threshold`` is on the command line).

    Raises:
        ValueError: not a number, or nan or an infinity (every unit would be ``unassigned`` or fall
            in one category, silently).

    Examples:
        >>> check_threshold(0.5)
        0.5
        >>> check_threshold(float("nan"))
        Traceback (most recent call last):
        ...
        ValueError: threshold must be a finite number (λ of the unit categories, 0.5 in the paper), got nan
    """
    try:
        lam = float(threshold)
    except (TypeError, ValueError):
        lam = float("nan")
    if isinstance(threshold, bool) or not np.isfinite(lam):
        raise ValueError(
            f"threshold must be a finite number (λ of the unit categories, 0.5 in the paper), got {threshold!r}"
        )
    return lam


def categorize(s_dyn: np.ndarray, s_stat: np.ndarray, valid: np.ndarray, threshold: float = 0.5) -> np.ndarray:
    """Eq. 3 with the official strict inequalities.

    dynamic: s_dyn > λ and s_stat < λ; static: s_dyn < λ and s_stat > λ; joint: both > λ;
    residual: both < λ; a score exactly at λ -> ``unassigned``; invalid units -> ``constant``.
    """
    lam = check_threshold(threshold)
    cats = np.full(s_dyn.shape, "unassigned", dtype="<U10")
    cats[(s_dyn > lam) & (s_stat < lam)] = "dynamic"
    cats[(s_dyn < lam) & (s_stat > lam)] = "static"
    cats[(s_dyn > lam) & (s_stat > lam)] = "joint"
    cats[(s_dyn < lam) & (s_stat < lam)] = "residual"
    cats[~valid] = "constant"
    return cats


def layer_bias(
    layer: str,
    raw: Mapping[str, Any],
    moments: Mapping[Factor, PairMoments],
    scorer: str,
    threshold: float = 0.5,
    info: Mapping[str, Any] | None = None,
) -> LayerBias:
    """Assemble a :class:`LayerBias` from an estimator's raw output.

    Args:
        layer: the layer's name.
        raw: ``{"scores": {factor: S}, "unit_scores": {factor: (D,)}, "valid": (D,)}``, as
            :func:`official_scores` and :func:`pearson_scores` return.
        moments: the moments the scores came from (for the pair counts).
        scorer: the scorer's registered name, recorded in the result.
        threshold: λ of the unit categories (0.5 in the paper).
        info: layer metadata to keep in the result.
    """
    n_units = int(np.asarray(raw["valid"]).shape[0])
    shares, dims, pct = softmax_dims(raw["scores"], n_units)
    return LayerBias(
        layer=layer,
        scorer=scorer,
        threshold=float(threshold),
        n_units=n_units,
        n_pairs={f.value: int(moments[f].n) for f in ESTIMATED_FACTORS},
        scores=dict(raw["scores"]),
        shares=shares,
        dims=dims,
        percent=pct,
        unit_scores=dict(raw["unit_scores"]),
        unit_softmax=unit_softmax(raw["unit_scores"], raw["valid"]),
        categories=categorize(raw["unit_scores"]["dynamic"], raw["unit_scores"]["static"], raw["valid"], threshold),
        valid=np.asarray(raw["valid"]),
        info=dict(info or {}),
    )
