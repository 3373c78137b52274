"""Scorer classes: thin shells over the functional core, found by name through the registry.

A scorer is any :class:`~sdinterp.interfaces.UnitScorer`. :class:`MomentScorer` is the convenient
base: implement :meth:`MomentScorer.unit_scores` (raw per-unit and layer scores from moments) and
the softmax, dims and unit categories come from the shared core, exactly as for the built-ins.
"""

from __future__ import annotations

import abc
from collections.abc import Mapping
from typing import Any

from sdinterp.interfaces import Factor, UnitScorer
from sdinterp.plugin_manager import get_registry
from sdinterp.report import LayerBias
from sdinterp.scoring.functional import layer_bias, official_scores, pearson_scores
from sdinterp.stats import PairMoments

__all__ = ["MomentScorer", "OfficialScorer", "PearsonScorer", "get_scorer", "scorer_names"]


class MomentScorer(UnitScorer):
    """A scorer defined by its raw scores; everything after them is shared."""

    @abc.abstractmethod
    def unit_scores(self, layer: str, moments: Mapping[Factor, PairMoments]) -> dict[str, Any]:
        """``{"scores": {"dynamic": S, "static": S, "identical": 1.0}, "unit_scores": {"dynamic":
        (D,), "static": (D,)}, "valid": (D,) bool}`` for one layer."""

    def score(
        self, layer: str, moments: Mapping[Factor, Any], threshold: float = 0.5, info: Mapping[str, Any] | None = None
    ) -> LayerBias:
        raw = self.unit_scores(layer, moments)
        return layer_bias(layer, raw, moments, self.name or type(self).__name__, threshold, info)


class OfficialScorer(MomentScorer):
    """The official estimator (default); ``docs/method.md`` §1. See
    :func:`~sdinterp.scoring.functional.official_scores`."""

    name = "official"

    def unit_scores(self, layer: str, moments: Mapping[Factor, PairMoments]) -> dict[str, Any]:
        return official_scores(layer, moments)


class PearsonScorer(MomentScorer):
    """Paper-literal estimator (Eq. 1 and 2 with Pearson correlations). See
    :func:`~sdinterp.scoring.functional.pearson_scores`."""

    name = "pearson"

    def unit_scores(self, layer: str, moments: Mapping[Factor, PairMoments]) -> dict[str, Any]:
        return pearson_scores(layer, moments)


def get_scorer(scorer: str | UnitScorer) -> UnitScorer:
    """A scorer object from a registered name (built-in or a plugin's) or a UnitScorer instance.

    Raises:
        UnknownComponentError: no loaded plugin registered that name (the message lists the valid ones).
        TypeError: the object is not a UnitScorer.
    """
    return get_registry().instance("scorer", scorer, UnitScorer)


def scorer_names() -> list[str]:
    """The names of every registered scorer."""
    return get_registry().names("scorer")
