"""Scoring: the functional core (:mod:`.functional`, pure functions of moments), the scorer classes
found by name through the registry (:mod:`.scorers`), the functional entry points
(:func:`estimate`, :func:`score_layer`) and the stateful :class:`BiasMetric` over the same core."""

from sdinterp.errors import DegenerateLayerError
from sdinterp.scoring.estimate import estimate, score_layer
from sdinterp.scoring.functional import (
    categorize,
    layer_bias,
    official_scores,
    pearson_scores,
    softmax_dims,
    unit_softmax,
)
from sdinterp.scoring.metric import BiasMetric
from sdinterp.scoring.scorers import MomentScorer, OfficialScorer, PearsonScorer, get_scorer, scorer_names

__all__ = [
    "BiasMetric",
    "DegenerateLayerError",
    "MomentScorer",
    "OfficialScorer",
    "PearsonScorer",
    "categorize",
    "estimate",
    "get_scorer",
    "layer_bias",
    "official_scores",
    "pearson_scores",
    "score_layer",
    "scorer_names",
    "softmax_dims",
    "unit_softmax",
]
