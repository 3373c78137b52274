"""``estimate``: score features computed elsewhere, through the same path a pipeline run takes."""

from __future__ import annotations

from typing import Any, Sequence

from sdinterp.metric import BiasMetric
from sdinterp.report import LayerBias

__all__ = ["estimate"]


def estimate(
    z1: Any,
    z2: Any,
    factors: Sequence[Any],
    method: str = "official",
    threshold: float = 0.5,
    layer: str = "features",
) -> LayerBias:
    """Static/dynamic bias of one layer from pooled features of pairs.

    Args:
        z1: (N, C) features of the first element of each pair (array or tensor).
        z2: (N, C) features of the second element.
        factors: N labels, ``"static"``/``"dynamic"`` (or :class:`Factor`) or the reference
            code's integers (0 = dynamic, 1 = static).
        method: ``"official"`` (default, the reference code's estimator) or ``"pearson"``.
        threshold: λ of the unit categories.
        layer: name to give the result.

    Returns:
        LayerBias — the same object a pipeline run produces for a layer.

    Examples:
        >>> import numpy as np, sdinterp
        >>> rng = np.random.default_rng(0)
        >>> z1 = rng.normal(size=(40, 8)); z2 = z1 + rng.normal(scale=0.1, size=(40, 8))
        >>> lb = sdinterp.estimate(z1, z2, ["static", "dynamic"] * 20)
        >>> lb.n_units
        8
    """
    return BiasMetric(method=method, threshold=threshold, layer=layer).update(z1, z2, factors).compute()
