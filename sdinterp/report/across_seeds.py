"""Across-seed intervals: the spread of the same report repeated with several seeds.

A bootstrap interval says how much a number moves with the clips of one run; repeating the run with
other seeds (other clips, pairs and — for trained models — other weights) says how much it moves
with everything the seed draws. The interval here is the normal one over the n runs,
``mean ± z·std/√n`` with the sample std (ddof = 1) and z = 1.96 for 95% (issue #13; the form the
paper's VOS numbers use).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from sdinterp.report.bias_report import BiasReport
from sdinterp.report.layer_bias import CATEGORIES, FACTOR_COLUMNS, LayerBias

__all__ = ["across_seeds", "mean_interval"]


def mean_interval(values: Sequence[float], z: float = 1.96) -> dict[str, Any]:
    """``{"mean", "std", "half_width", "interval": [lo, hi], "n"}`` of some repeated measurements.

    Examples:
        >>> iv = mean_interval([1.0, 2.0, 3.0])
        >>> iv["mean"], iv["std"], round(iv["half_width"], 4)
        (2.0, 1.0, 1.1316)
    """
    v = np.asarray(values, dtype=np.float64)
    if v.size < 2:
        raise ValueError(f"an across-seed interval needs at least 2 runs, got {v.size}")
    mean, std = float(v.mean()), float(v.std(ddof=1))
    half = z * std / math.sqrt(v.size)
    return {"mean": mean, "std": std, "half_width": half, "interval": [mean - half, mean + half], "n": int(v.size)}


def _numbers(lb: LayerBias) -> dict[str, dict[str, float]]:
    return {
        "percent": {f: float(lb.percent[f]) for f in FACTOR_COLUMNS},
        "scores": {f: float(lb.scores[f]) for f in ("dynamic", "static")},
        "category_percent": {c: float(v) for c, v in lb.category_percent.items()},
        "category_counts": {c: float(lb.category_counts[c]) for c in CATEGORIES[:4]},
    }


def across_seeds(reports: Sequence[BiasReport], z: float = 1.96) -> dict[str, dict[str, Any]]:
    """Per layer, the across-run interval of every layer number of several reports.

    Args:
        reports: two or more reports of the same layers (typically the same run with other seeds).
        z: the normal quantile (1.96: 95%).

    Returns:
        ``{layer: {"runs": n, "seeds": [...], "percent": {factor: mean_interval}, "scores": {...},
        "category_percent": {...}, "category_counts": {...}}}`` for the layers every report has.

    Raises:
        ValueError: fewer than two reports, or no layer common to all.

    Examples:
        >>> import numpy as np, sdinterp
        >>> reps = []
        >>> for seed in range(3):
        ...     rng = np.random.default_rng(seed)
        ...     z1 = rng.normal(size=(40, 6)); z2 = z1 + rng.normal(size=(40, 6))
        ...     lb = sdinterp.estimate(z1, z2, ["static", "dynamic"] * 20, layer="x")
        ...     reps.append(sdinterp.BiasReport(layers={"x": lb}, seed=seed))
        >>> out = across_seeds(reps)
        >>> out["x"]["runs"], out["x"]["seeds"]
        (3, [0, 1, 2])
    """
    if len(reports) < 2:
        raise ValueError(f"across_seeds needs at least 2 reports, got {len(reports)}")
    common = [l for l in reports[0].layers if all(l in r.layers for r in reports[1:])]
    if not common:
        raise ValueError("the reports have no layer in common")
    out: dict[str, dict[str, Any]] = {}
    for layer in common:
        per_run = [_numbers(r[layer]) for r in reports]
        entry: dict[str, Any] = {"runs": len(reports), "seeds": [r.seed for r in reports], "z": float(z)}
        for group, keys in per_run[0].items():
            entry[group] = {k: mean_interval([p[group][k] for p in per_run], z) for k in keys}
        out[layer] = entry
    return out
