"""Figures of bias reports as the paper draws them: layer-wise dynamic/static percentages (Fig. 3
left), unit categories per layer (Fig. 3 right), models side by side and the per-unit scores against λ
(Eq. 3); training dynamics (Fig. 10) and unit-removal curves (Fig. 11) are in
:mod:`sdinterp.report.study_plots`.

Every function returns a :class:`matplotlib.figure.Figure` drawn on the Agg canvas, without pyplot,
so importing this module never changes a notebook's or a GUI's backend. :func:`save_figure` writes
PNG and SVG; in the SVG, text stays text and every data series is a group whose id names it
(``series-dynamic``, ``series-static-B``…), so a figure can be checked or restyled afterwards.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from sdinterp.report.bias_report import BiasReport
from sdinterp.report.layer_bias import CATEGORIES, LayerBias

__all__ = [
    "COLORS",
    "FIGURE_CAPTIONS",
    "VALIDITY_COLORS",
    "mark_validity",
    "layer_interval",
    "plot_layers",
    "plot_unit_categories",
    "plot_unit_scatter",
    "save_figure",
    "report_figures",
    "standard_figures",
]

#: The paper's colours: static red, dynamic blue (Fig. 1, 3); joint and residual in between / neutral.
COLORS = {
    "dynamic": "#1f5fbf",
    "static": "#d62728",
    "joint": "#8e44ad",
    "residual": "#9e9e9e",
    "unassigned": "#222222",
    "random": "#555555",
}
#: Captions of the standard figures of a report (:func:`report_figures`), used by the HTML page.
FIGURE_CAPTIONS = {
    "layers": "Layer-wise encoding (paper Fig. 3 left)",
    "units": "Unit categories per layer (paper Fig. 3 right)",
    "scatter": "Per-unit scores and the \u03bb lines (paper Eq. 3)",
}
_MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")
_STYLES = ("-", "--", ":", "-.")
_FACTORS = ("dynamic", "static")


def _figure(width: float, height: float) -> Any:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", str(text)).strip("_") or "x"


def _as_reports(reports: BiasReport | Mapping[str, BiasReport] | Sequence[BiasReport]) -> dict[str, BiasReport]:
    if isinstance(reports, BiasReport):
        return {"": reports}
    if isinstance(reports, Mapping):
        return {str(k): v for k, v in reports.items()}
    return {f"run {i}": r for i, r in enumerate(reports)}


def _layer_ticks(ax: Any, names: Sequence[str]) -> None:
    ax.set_xticks(range(len(names)))
    rotate = len(names) > 6 or max((len(n) for n in names), default=0) > 12
    ax.set_xticklabels(names, rotation=35 if rotate else 0, ha="right" if rotate else "center")
    ax.set_xlim(-0.5, len(names) - 0.5)


def layer_interval(lb: LayerBias, factor: str) -> tuple[float, float] | None:
    """The confidence interval of a layer's ``percent[factor]`` if the layer carries one.

    Reads ``lb.intervals`` (filled by a bootstrap when the run had one; absent or None otherwise):
    ``intervals["percent"][factor]`` or ``intervals[factor]``, each a ``(lower, upper)`` pair or a
    mapping with ``lower``/``upper`` (or ``low``/``high``).

    Args:
        lb: the layer.
        factor: ``"dynamic"`` or ``"static"``.

    Returns:
        ``(lower, upper)`` in percent, or None.

    Examples:
        >>> layer_interval(report["stage5"], "dynamic")   # doctest: +SKIP
        (8.1, 12.4)
    """
    intervals = getattr(lb, "intervals", None)
    if not intervals or not isinstance(intervals, Mapping):
        return None
    if isinstance(intervals.get("percent"), Mapping):
        intervals = intervals["percent"]
    value = intervals.get(factor)
    if value is None:
        return None
    if isinstance(value, Mapping):
        lo, hi = value.get("lower", value.get("low")), value.get("upper", value.get("high"))
    else:
        lo, hi = tuple(value)[:2]
    return None if lo is None or hi is None else (float(lo), float(hi))


def _bands_of(
    report: BiasReport, names: Sequence[str], given: Mapping[str, Any] | None
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per factor, lower and upper arrays over ``names`` (NaN where a layer has none)."""
    out = {}
    for f in _FACTORS:
        if given and given.get(f) is not None:
            lo, hi = given[f]
            out[f] = (np.asarray(lo, float), np.asarray(hi, float))
            continue
        pairs = [layer_interval(report[n], f) if n in report.layers else None for n in names]
        if any(p is not None for p in pairs):
            out[f] = (
                np.array([p[0] if p else np.nan for p in pairs]),
                np.array([p[1] if p else np.nan for p in pairs]),
            )
    return out


def plot_layers(
    reports: BiasReport | Mapping[str, BiasReport] | Sequence[BiasReport],
    bands: Mapping[str, Any] | None = None,
    title: str | None = None,
) -> Any:
    """Layer-wise dynamic (blue) and static (red) percentages across layers (paper Fig. 3 left).

    Several reports (models, checkpoints, seeds) share the figure: colour says the factor, marker and
    line style say the report. Layers are the union of the reports' layers, in order of appearance.

    Args:
        reports: one BiasReport, or ``{label: BiasReport}``.
        bands: confidence bands, ``{"dynamic": (lower, upper), "static": (lower, upper)}`` (arrays
            over the report's layers, in percent); with several reports, ``{label: {...}}``.
            Default: the layers' own intervals (:func:`layer_interval`) where they carry them.
        title: figure title.

    Returns:
        The Figure; its series have gids ``series-<factor>[-<label>]``.

    Examples:
        >>> fig = plot_layers(report)                     # doctest: +SKIP
        >>> fig = plot_layers({"R3D": a, "SlowFast": b})  # doctest: +SKIP
    """
    runs = _as_reports(reports)
    names = list(dict.fromkeys(n for r in runs.values() for n in r.layers))
    fig = _figure(max(4.5, 0.75 * len(names) + 2.5), 3.6)
    ax = fig.add_subplot()
    for k, (label, rep) in enumerate(runs.items()):
        given = (bands.get(label) if len(runs) > 1 else bands) if bands else None
        band = _bands_of(rep, [n for n in names if n in rep.layers], given)
        xs = [i for i, n in enumerate(names) if n in rep.layers]
        for f in _FACTORS:
            ys = [rep[n].percent[f] for n in names if n in rep.layers]
            name = f"{f} ({label})" if label else f
            (line,) = ax.plot(
                xs,
                ys,
                color=COLORS[f],
                marker=_MARKERS[k % len(_MARKERS)],
                linestyle=_STYLES[k % len(_STYLES)],
                label=name,
            )
            line.set_gid(f"series-{f}" + (f"-{_slug(label)}" if label else ""))
            if f in band:
                lo, hi = band[f]
                fill = ax.fill_between(xs, lo, hi, color=COLORS[f], alpha=0.18, linewidth=0, label=f"{name}: interval")
                fill.set_gid(f"band-{f}" + (f"-{_slug(label)}" if label else ""))
    _layer_ticks(ax, names)
    ax.set_xlabel("layer")
    ax.set_ylabel("units encoding the factor (%)")
    ax.set_ylim(bottom=0)
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize="small", ncol=2 if len(runs) > 2 else 1)
    ax.set_title(title or "Layer-wise encoding (paper Eq. 1, Fig. 3 left)", fontsize="medium")
    return fig


def plot_unit_categories(
    reports: BiasReport | Mapping[str, BiasReport] | Sequence[BiasReport], title: str | None = None
) -> Any:
    """Stacked bars of the unit categories per layer (paper Fig. 3 right, Eq. 3 at the report's λ).

    Bars show the share of the categorised units (dynamic, static, joint, residual; unassigned and
    constant units are left out of the denominator as the official code does). Several reports give
    one bar each per layer, side by side, labelled below.

    Args:
        reports: one BiasReport, or ``{label: BiasReport}``.
        title: figure title.

    Returns:
        The Figure; each bar has gid ``series-<category>[-<label>]__<layer>``.

    Examples:
        >>> fig = plot_unit_categories(report)   # doctest: +SKIP
    """
    runs = _as_reports(reports)
    names = list(dict.fromkeys(n for r in runs.values() for n in r.layers))
    n_runs = len(runs)
    width = 0.8 / n_runs
    fig = _figure(max(4.5, (0.55 + 0.35 * n_runs) * len(names) + 2.5), 3.8)
    ax = fig.add_subplot()
    for k, (label, rep) in enumerate(runs.items()):
        xs = np.array([i for i, n in enumerate(names) if n in rep.layers], float) + (k - (n_runs - 1) / 2) * width
        bottom = np.zeros(len(xs))
        for c in CATEGORIES[:4]:
            vals = np.array([rep[n].category_percent[c] for n in names if n in rep.layers])
            bars = ax.bar(
                xs,
                vals,
                width * 0.92,
                bottom=bottom,
                color=COLORS[c],
                label=c if k == 0 else None,
                edgecolor="white",
                linewidth=0.5,
            )
            for patch, n in zip(bars, [n for n in names if n in rep.layers]):
                patch.set_gid(f"series-{c}" + (f"-{_slug(label)}" if label else "") + f"__{_slug(n)}")
            bottom += vals
        if n_runs > 1:
            for x in xs:
                ax.text(x, 101, label, rotation=90, ha="center", va="bottom", fontsize="x-small")
    _layer_ticks(ax, names)
    ax.set_xlabel("layer")
    ax.set_ylabel("categorised units (%)")
    ax.set_ylim(0, 100 if n_runs == 1 else 125)
    lam = next(iter(next(iter(runs.values())).layers.values())).threshold if names else 0.5
    ax.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.0, 1.0))
    ax.set_title(title or f"Unit categories at \u03bb = {lam} (paper Eq. 3)", fontsize="medium")
    return fig


def plot_unit_scatter(report: BiasReport | LayerBias, layers: Iterable[str] | None = None, ncols: int = 4) -> Any:
    """Per-unit static score against dynamic score, one panel per layer, the λ lines drawn and the
    categories coloured (paper Eq. 3). Constant units are not drawn (their count is in the title).

    Args:
        report: a BiasReport (or one LayerBias).
        layers: which layers (default: all).
        ncols: panels per row.

    Returns:
        The Figure; each panel's categories are groups with gid ``series-<category>-<layer>``.

    Examples:
        >>> fig = plot_unit_scatter(report, layers=["stage5"])   # doctest: +SKIP
    """
    lbs = [report] if isinstance(report, LayerBias) else [report[n] for n in (layers or report.layers)]
    ncols = max(1, min(ncols, len(lbs)))
    nrows = math.ceil(len(lbs) / ncols)
    fig = _figure(3.0 * ncols + 1.4, 2.9 * nrows + 0.3)
    axes = fig.subplots(nrows, ncols, squeeze=False)
    for ax in axes.ravel()[len(lbs) :]:
        ax.set_visible(False)
    for ax, lb in zip(axes.ravel(), lbs):
        x, y = lb.unit_scores["static"], lb.unit_scores["dynamic"]
        for c in CATEGORIES[:5]:
            sel = lb.categories == c
            if sel.any():
                pts = ax.scatter(x[sel], y[sel], s=18, color=COLORS[c], label=c, alpha=0.8, linewidths=0)
                pts.set_gid(f"series-{c}-{_slug(lb.layer)}")
        ax.axvline(lb.threshold, color="black", linewidth=0.8, linestyle="--")
        ax.axhline(lb.threshold, color="black", linewidth=0.8, linestyle="--")
        const = f", {lb.n_constant} constant" if lb.n_constant else ""
        ax.set_title(f"{lb.layer} ({lb.n_units} units{const})", fontsize="small")
        ax.set_xlabel("static unit score")
        ax.set_ylabel("dynamic unit score")
    handles: dict[str, Any] = {}
    for ax in axes.ravel():
        for h, lab in zip(*ax.get_legend_handles_labels()):
            handles.setdefault(lab, h)
    order = [c for c in CATEGORIES if c in handles]
    fig.legend([handles[c] for c in order], order, loc="outside right upper", fontsize="small")
    return fig


def save_figure(fig: Any, stem: str | Path, formats: Sequence[str] = ("png", "svg"), dpi: int = 110) -> list[Path]:
    """Write ``fig`` as ``stem.png``, ``stem.svg``… (SVG text kept as text, no timestamp, so the
    same report gives the same SVG).

    Args:
        fig: a Figure from this module.
        stem: path without extension.
        formats: any of ``png``, ``svg``, ``pdf``.
        dpi: resolution of raster formats.

    Returns:
        The written paths.
    """
    import matplotlib

    paths = []
    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": "sdinterp"}):
        for ext in formats:
            path = Path(f"{stem}.{ext}")
            meta = {"Date": None} if ext in ("svg", "pdf") else {"Software": None}
            fig.savefig(path, format=ext, dpi=dpi, metadata=meta)
            paths.append(path)
    return paths


def report_figures(
    report: BiasReport, out_dir: str | Path, formats: Sequence[str] = ("png", "svg"), prefix: str = ""
) -> dict[str, list[Path]]:
    """Draw a report's standard figures into ``out_dir``: ``layers`` (Fig. 3 left), ``units``
    (Fig. 3 right) and ``scatter`` (per-unit scores).

    Args:
        report: the report.
        out_dir: an existing folder.
        formats: file formats.
        prefix: prepended to each file name (e.g. ``"demo_"``).

    Returns:
        ``{figure name: [paths]}``.

    Examples:
        >>> report_figures(BiasReport.from_json("out/report.json"), "out/figures")  # doctest: +SKIP
    """
    out = Path(out_dir)
    return {name: save_figure(fig, out / f"{prefix}{name}", formats) for name, fig in standard_figures(report).items()}


def standard_figures(report: BiasReport) -> dict[str, Any]:
    """``{name: Figure}`` of :data:`FIGURE_CAPTIONS` for a report (empty if no layer was scored);
    each carries the run's validity verdict above it (:func:`mark_validity`)."""
    if not report.layers:
        return {}
    figs = {"layers": plot_layers(report), "units": plot_unit_categories(report), "scatter": plot_unit_scatter(report)}
    for fig in figs.values():
        mark_validity(fig, report)
    return figs


#: Colours of the validity verdicts on figures.
VALIDITY_COLORS = {"ok": "#2e7d32", "doubtful": "#b36b00", "invalid": "#c62828"}


def mark_validity(fig: Any, report: BiasReport) -> Any:
    """Write the report's validity verdict above a figure (nothing when the run had no check), so a
    figure that leaves the report still says whether its numbers can be trusted. The note is short
    (status and which pairs); the reasons are in the report.

    Args:
        fig: a Figure of this module.
        report: the report it shows.

    Returns:
        ``fig``; the note is a text with gid ``validity-<status>``.

    Examples:
        >>> fig = mark_validity(plot_layers(report), report)   # doctest: +SKIP
    """
    import textwrap

    v = getattr(report, "validity", None)
    if v is None:
        return fig
    if v.status == "ok":
        text = "validity: ok"
    else:
        lead = "INVALID: do not trust these scores" if v.status == "invalid" else "DOUBTFUL: read with care"
        bad = ", ".join(f"{f.factor} pairs ({f.sampler}) {f.status}" for f in v.factors.values() if f.status != "ok")
        text = f"validity: {lead} -- {bad} (reasons: the report's validity section)"
    # about 14 characters per inch at this size; 11 keeps the note off a narrow figure's edges and
    # off a legend placed outside the axes
    width = max(30, int(fig.get_figwidth() * 11))
    title = fig.suptitle(
        "\n".join(textwrap.wrap(text, width)),
        color=VALIDITY_COLORS.get(v.status, "black"),
        fontsize="small",
        fontweight="bold" if v.status != "ok" else "normal",
    )
    title.set_gid(f"validity-{v.status}")
    return fig
