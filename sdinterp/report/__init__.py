"""Results of a run: :class:`LayerBias` (one layer), :class:`BiasReport` (a run) and their exports.
Plots and the HTML report join this package."""

from sdinterp.report.bias_report import BiasReport
from sdinterp.report.layer_bias import CATEGORIES, FACTOR_COLUMNS, LayerBias

__all__ = ["BiasReport", "LayerBias", "CATEGORIES", "FACTOR_COLUMNS"]
