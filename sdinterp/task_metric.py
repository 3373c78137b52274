"""A task metric: a user's callable ``metric(adapter, data) -> number`` (accuracy, mIoU...), and the
one check of what it returns, shared by the removal sweep and the shuffled-frame experiments.

A metric must return a finite number: a nan or an infinity (or something that is not a number) is
refused where it is returned, with a :class:`MetricError` saying when it was evaluated, never
written into a result as a number.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from sdinterp.errors import SdinterpError
from sdinterp.interfaces import ModelAdapter

__all__ = ["Metric", "MetricError", "finite_metric"]

#: A task metric: ``metric(adapter, data) -> float`` (higher is better).
Metric = Callable[[ModelAdapter, Any], float]


class MetricError(SdinterpError, ValueError):
    """A metric returned something other than a finite number; the message says where."""


def finite_metric(value: Any, metric: Any, where: str) -> float:
    """``value`` as a float, refused unless it is a finite number.

    Args:
        value: what the metric returned.
        metric: the metric (named in the message).
        where: when it was evaluated, e.g. ``"with nothing removed"``.

    Raises:
        MetricError: not a number, or nan or an infinity.

    Examples:
        >>> finite_metric(0.5, len, "on normal clips")
        0.5
        >>> finite_metric(float("nan"), len, "on normal clips")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        sdinterp.task_metric.MetricError: metric len returned nan on normal clips; a metric must ...
    """
    name = getattr(metric, "__name__", type(metric).__name__)
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise MetricError(
            f"metric {name} returned {type(value).__name__} {value!r:.60} {where}, not a number; a metric must "
            "return a finite number (e.g. an accuracy)"
        ) from None
    if not math.isfinite(number):
        raise MetricError(
            f"metric {name} returned {number} {where}; a metric must return a finite number (e.g. an accuracy), "
            "so nothing is written"
        )
    return number
