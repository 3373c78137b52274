"""``estimate``: score features computed elsewhere, through the same path a pipeline run takes."""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from sdinterp.interfaces import ESTIMATED_FACTORS, Factor
from sdinterp.report import LayerBias
from sdinterp.scoring import score_layer
from sdinterp.stats import PairMoments

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
    a = np.asarray(z1.detach().cpu() if hasattr(z1, "detach") else z1)
    b = np.asarray(z2.detach().cpu() if hasattr(z2, "detach") else z2)
    if a.ndim != 2 or a.shape != b.shape:
        raise ValueError(f"z1 and z2 must both be (N, C), got {a.shape} and {b.shape}")
    labels = [Factor.parse(f) for f in factors]
    if len(labels) != a.shape[0]:
        raise ValueError(f"got {len(labels)} factor labels for {a.shape[0]} pairs")
    if any(f is Factor.IDENTICAL for f in labels):
        raise ValueError("pairs cannot be labelled 'identical': that factor is the constant S = 1 baseline")
    codes = np.array([f.code for f in labels])
    moments = {}
    for f in ESTIMATED_FACTORS:
        pm = PairMoments(name=layer)
        rows = codes == f.code
        if rows.any():
            pm.update(a[rows], b[rows])
        moments[f] = pm
    return score_layer(layer, moments, method=method, threshold=threshold)
