"""The built-in estimators over all bootstrap replicates at once: (B, D) arrays instead of B calls.

:func:`batched_scores` computes what :func:`~sdinterp.scoring.functional.official_scores` and
:func:`~sdinterp.scoring.functional.pearson_scores` compute, with the same formulas in the same
order, for every replicate of a layer in one pass over (B, D) tensors (``docs/method.md`` §1 has the
formulas). Scoring B replicates one by one costs B times the per-call overhead of a few dozen small
tensor operations; here it is paid once. Results agree with the per-replicate scorers to rounding
(``tests/test_bootstrap.py`` checks 1e-12).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TypedDict

import numpy as np

from sdinterp.interfaces import ESTIMATED_FACTORS, Factor
from sdinterp.stats import PairMoments, _pow2

__all__ = ["batched_scores", "BATCHED_SCORERS"]

#: Scorer names with a batched form (the built-ins).
BATCHED_SCORERS = ("official", "pearson")

# The same constant-unit tolerance as the per-replicate scorers (functional._CONST_RTOL).
_CONST_RTOL = 1e-9


def _constant(var: np.ndarray, mean: np.ndarray) -> np.ndarray:
    return var <= (_CONST_RTOL * np.abs(mean)) ** 2


def _replicate_fields(moments: Mapping[Factor, PairMoments]) -> dict[Factor, dict[str, np.ndarray]]:
    """Per factor, the replicates' scale-free moments (one common power of two, as the scorers'
    ``_scale_free``) as (B, D) arrays, plus the counts ``n`` as (B, 1). numpy, as the replicate
    updates: many small operations, which torch would split over threads for nothing."""
    exponent = max(moments[f].exponent for f in ESTIMATED_FACTORS)
    out = {}
    for f in ESTIMATED_FACTORS:
        pm = moments[f]
        if pm.boot is None:
            raise ValueError(f"{pm.name or 'layer'}: no bootstrap replicates to score (run with bootstrap=B)")
        k = pm.exponent - exponent
        t = {name: _pow2(v, k if name.startswith("mean") else 2 * k).numpy() for name, v in pm.boot.fields.items()}
        n = pm.boot.weight.numpy()[:, None]
        safe = np.where(n > 0, n, 1.0)
        half = 0.5 * (t["mean_a"] - t["mean_b"])
        var_a, var_b, cov = t["m2_a"] / safe, t["m2_b"] / safe, t["c_ab"] / safe
        out[f] = {
            "n": n,
            "mean_a": t["mean_a"],
            "mean_b": t["mean_b"],
            "var_a": var_a,
            "var_b": var_b,
            "cov": cov,
            "pooled_mean": 0.5 * (t["mean_a"] + t["mean_b"]),
            "pooled_var": 0.5 * (var_a + var_b) + half * half,
            "pooled_cross_cov": cov - half * half,
        }
    return out


class BatchedScores(TypedDict):
    """What :func:`batched_scores` returns (shapes in its docstring)."""

    ok: np.ndarray
    scores: dict[str, np.ndarray]
    unit_scores: dict[str, np.ndarray]
    valid: np.ndarray


def batched_scores(name: str, moments: Mapping[Factor, PairMoments]) -> BatchedScores:
    """Raw scores of every replicate of a layer under a built-in estimator.

    Args:
        name: ``"official"`` or ``"pearson"``.
        moments: the layer's per-factor moments, carrying replicates.

    Returns:
        ``{"ok": (B,) bool (False: the replicate is degenerate, as the scorer would refuse it),
        "scores": {"dynamic": (B,), "static": (B,)}, "unit_scores": {factor: (B, D)},
        "valid": (B, D) bool}``.
    """
    if name not in BATCHED_SCORERS:
        raise ValueError(f"no batched form of scorer {name!r}; batched: {', '.join(BATCHED_SCORERS)}")
    m = _replicate_fields(moments)
    dyn, stat = m[Factor.DYNAMIC], m[Factor.STATIC]
    ok = (dyn["n"][:, 0] > 0) & (stat["n"][:, 0] > 0)
    scores: dict[str, np.ndarray] = {}
    unit: dict[str, np.ndarray] = {}
    if name == "official":
        counts = {f: 2.0 * m[f]["n"] for f in ESTIMATED_FACTORS}
        total = sum(counts.values())
        total = np.where(total > 0, total, 1.0)
        mu = sum(counts[f] * m[f]["pooled_mean"] for f in ESTIMATED_FACTORS) / total
        var_all = (
            sum(counts[f] * (m[f]["pooled_var"] + (m[f]["pooled_mean"] - mu) ** 2) for f in ESTIMATED_FACTORS) / total
        )
        v_tot = var_all.sum(1)
        ok &= (v_tot > 0.0) & ~np.all(_constant(var_all, mu), axis=1)
        valid = np.ones(var_all.shape, dtype=bool)
        for f in ESTIMATED_FACTORS:
            valid &= ~_constant(m[f]["pooled_var"], m[f]["pooled_mean"])
        safe_tot = np.where(v_tot > 0, v_tot, 1.0)
        for f in ESTIMATED_FACTORS:
            cross, pvar = m[f]["pooled_cross_cov"], m[f]["pooled_var"]
            scores[f.value] = cross.sum(1) / safe_tot
            unit[f.value] = np.where(valid, cross / np.where(valid, pvar, 1.0), 0.0)
    else:
        valid = np.ones(dyn["var_a"].shape, dtype=bool)
        for f in ESTIMATED_FACTORS:
            valid &= ~_constant(m[f]["var_a"], m[f]["mean_a"]) & ~_constant(m[f]["var_b"], m[f]["mean_b"])
        ok &= valid.any(axis=1)
        for f in ESTIMATED_FACTORS:
            denom = np.sqrt(m[f]["var_a"] * m[f]["var_b"])
            r = np.where(valid, m[f]["cov"] / np.where(valid, denom, 1.0), 0.0)
            unit[f.value] = r
            scores[f.value] = np.where(valid, r, 0.0).sum(1)
    return {"ok": ok, "scores": scores, "unit_scores": unit, "valid": valid}
