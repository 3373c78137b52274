"""``estimate`` and ``score_layer``: score features or moments computed elsewhere, functionally."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sdinterp.interfaces import Factor, UnitScorer
from sdinterp.report import LayerBias
from sdinterp.scoring.functional import check_threshold
from sdinterp.scoring.scorers import get_scorer
from sdinterp.stats import PairMoments, factor_moments

__all__ = ["estimate", "score_layer"]


def score_layer(
    layer: str,
    moments: Mapping[Factor, PairMoments],
    scorer: str | UnitScorer = "official",
    threshold: float = 0.5,
    info: Mapping[str, Any] | None = None,
) -> LayerBias:
    """Score one layer from its per-factor moments.

    Args:
        layer: the layer's name (used in messages and the result).
        moments: ``{Factor.DYNAMIC: PairMoments, Factor.STATIC: PairMoments}``.
        scorer: a registered scorer name (``"official"`` default, ``"pearson"``, or a plugin's) or
            a :class:`~sdinterp.interfaces.UnitScorer`.
        threshold: λ for the unit categories (0.5 in the paper).
        info: layer metadata to keep in the result.

    Raises:
        DegenerateLayerError: a factor without pairs, or every unit constant.
    """
    return get_scorer(scorer).score(layer, moments, check_threshold(threshold), info)


def estimate(
    z1: Any,
    z2: Any,
    factors: Sequence[Any],
    scorer: str | UnitScorer = "official",
    threshold: float = 0.5,
    layer: str = "features",
) -> LayerBias:
    """Static/dynamic bias of one layer from pooled features of pairs.

    The features become per-factor :class:`~sdinterp.stats.PairMoments`, scored by the named scorer:
    the same path a pipeline run takes.

    Args:
        z1: (N, C) features of the first element of each pair (array or tensor).
        z2: (N, C) features of the second element.
        factors: N labels, ``"static"``/``"dynamic"`` (or :class:`Factor`) or the reference
            code's integers (0 = dynamic, 1 = static).
        scorer: a registered scorer name (``"official"`` default, ``"pearson"``, or a plugin's) or
            a UnitScorer.
        threshold: λ of the unit categories, a finite number (as ``--threshold``).
        layer: name to give the result.

    Returns:
        LayerBias — the same object a pipeline run produces for a layer.

    Raises:
        ValueError: a threshold that is not a finite number.

    Examples:
        >>> import numpy as np, sdinterp
        >>> rng = np.random.default_rng(0)
        >>> z1 = rng.normal(size=(40, 8)); z2 = z1 + rng.normal(scale=0.1, size=(40, 8))
        >>> lb = sdinterp.estimate(z1, z2, ["static", "dynamic"] * 20)
        >>> lb.n_units, lb.scorer
        (8, 'official')
    """
    lam = check_threshold(threshold)  # before the features are read: a bad λ costs nothing
    return get_scorer(scorer).score(layer, factor_moments(z1, z2, factors, layer), lam)
