"""Findings judged as statistics (issue #22): a pre-stated criterion on a continuous per-seed
quantity, decided by its across-seed 95% interval.

Every finding of ``reproduce_findings.py`` measures, per training seed, a few numbers; a
:class:`Criterion` names one quantity (a number, or the difference of two) and the side of a
threshold its interval must lie on. The interval is Student-t over the training seeds (mean ± t_{0.975,
n-1} · sd / √n, sd with ddof 1): the seeds are independent trainings, so the interval says where the
mean over trainings lies, not how one training behaves. A criterion is data: it is written in the
script before anything is measured, and the verdict is read off the interval, never tuned.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

__all__ = ["Criterion", "t_interval", "judge", "value", "INTERVAL_METHOD", "LEVEL"]

LEVEL = 0.95
INTERVAL_METHOD = "Student-t 95% interval over training seeds (mean ± t·sd/√n, sd ddof 1)"


@dataclasses.dataclass(frozen=True)
class Criterion:
    """One pre-stated pass criterion.

    Attributes:
        name: short label (shown in the table).
        a: the per-seed key judged.
        b: subtract this per-seed key from ``a`` (a paired difference: same seed), or ``None``.
        above: the interval must lie above ``threshold`` (``False``: below).
        threshold: the bound the interval must clear.
        pairs: which dynamic pairs the quantity was measured with (``"ground truth"``, ``"default"``
            or ``""`` when no pairs are involved); the verdict of a finding is read from the
            criteria whose ``judged`` is true.
        judged: counts toward the finding's verdict (``False``: the same test, reported beside).
    """

    name: str
    a: str
    b: str | None = None
    above: bool = True
    threshold: float = 0.0
    pairs: str = ""
    judged: bool = True

    @property
    def quantity(self) -> str:
        return f"{self.a} − {self.b}" if self.b else self.a

    def text(self) -> str:
        """The criterion in words, e.g. ``95% interval of motion_sdyn − appearance_sdyn > 0``."""
        side = ">" if self.above else "<"
        return f"95% interval of {self.quantity} {side} {self.threshold:g}"


def value(row: Mapping[str, float], criterion: Criterion) -> float:
    """The criterion's quantity in one seed's row."""
    v = float(row[criterion.a])
    return v - float(row[criterion.b]) if criterion.b else v


def t_interval(values: Sequence[float], level: float = LEVEL) -> tuple[float, float, float]:
    """(mean, low, high): the Student-t interval of the mean of ``values`` (NaN bounds for one value).

    Examples:
        >>> m, lo, hi = t_interval([1.0, 2.0, 3.0])
        >>> m, round(lo, 3), round(hi, 3)
        (2.0, -0.484, 4.484)
    """
    from scipy import stats

    v = np.asarray(values, dtype=float)
    m = float(v.mean())
    if len(v) < 2:
        return m, math.nan, math.nan
    half = float(stats.t.ppf(0.5 + level / 2, len(v) - 1) * v.std(ddof=1) / math.sqrt(len(v)))
    return m, m - half, m + half


def judge(criterion: Criterion, rows: Sequence[Mapping[str, float]]) -> dict[str, Any]:
    """The criterion over the seeds' rows.

    Returns:
        ``{"name", "criterion", "quantity", "pairs", "judged", "values", "mean", "low", "high",
        "passed"}``; ``passed`` is false when the interval is undefined (fewer than 2 seeds).
    """
    vals = [value(r, criterion) for r in rows]
    m, lo, hi = t_interval(vals)
    passed = bool(lo > criterion.threshold) if criterion.above else bool(hi < criterion.threshold)
    return {
        "name": criterion.name,
        "criterion": criterion.text(),
        "quantity": criterion.quantity,
        "pairs": criterion.pairs,
        "judged": criterion.judged,
        "values": vals,
        "mean": m,
        "low": lo,
        "high": hi,
        "passed": passed and not math.isnan(lo),
    }


def fmt_interval(mean: float, low: float, high: float, digits: int = 3) -> str:
    """``0.123 [0.045, 0.201]`` (just the mean when the interval is undefined)."""
    if math.isnan(low):
        return f"{mean:.{digits}f}"
    return f"{mean:.{digits}f} [{low:.{digits}f}, {high:.{digits}f}]"


def summary(rows: Sequence[Mapping[str, float]], key: str, digits: int = 3) -> str:
    """``key = mean [low, high]`` over the seeds (a reported number, not judged)."""
    m, lo, hi = t_interval([float(r[key]) for r in rows])
    return f"{key} = {fmt_interval(m, lo, hi, digits)}"
