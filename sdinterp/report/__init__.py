"""Results of a run: :class:`LayerBias` (one layer), :class:`BiasReport` (a run) and their exports.
Figures: :mod:`sdinterp.report.plots` and :mod:`sdinterp.report.study_plots`; the HTML page:
:mod:`sdinterp.report.html`; reports side by side: :mod:`sdinterp.report.compare`."""

from sdinterp.report.bias_report import BiasReport
from sdinterp.report.bundle import write_report_folder
from sdinterp.report.compare import Comparison, compare_reports
from sdinterp.report.html import render_html, write_html
from sdinterp.report.layer_bias import CATEGORIES, FACTOR_COLUMNS, LayerBias

__all__ = [
    "BiasReport",
    "LayerBias",
    "CATEGORIES",
    "FACTOR_COLUMNS",
    # figures (sdinterp.report.plots, .study_plots), the HTML page and side-by-side comparisons
    "write_report_folder",
    "render_html",
    "write_html",
    "Comparison",
    "compare_reports",
]
