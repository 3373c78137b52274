"""Figures of studies built on reports: the bias over training (paper Fig. 10) and task metric
against units removed (paper Fig. 11). Same conventions as :mod:`sdinterp.report.plots`."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from sdinterp.report.bias_report import BiasReport
from sdinterp.report.plots import _FACTORS, COLORS, _figure, _slug, layer_interval

__all__ = ["plot_training", "plot_ablation"]


def plot_training(
    reports: Mapping[Any, BiasReport] | Sequence[BiasReport],
    steps: Sequence[float] | None = None,
    layers: Iterable[str] | None = None,
    xlabel: str = "epoch",
) -> Any:
    """Dynamic and static percentages over training, one panel per layer (paper Fig. 10).

    Args:
        reports: ``{step: BiasReport}`` or a sequence of reports in training order.
        steps: the x value of each report of a sequence (default: 0, 1, 2…).
        layers: which layers (default: those of the first report).
        xlabel: what a step is (``"epoch"``, ``"iteration"``).

    Returns:
        The Figure; series gids ``series-<factor>-<layer>``; bands where the layers carry intervals.

    Examples:
        >>> fig = plot_training({1: r1, 5: r5, 10: r10})   # doctest: +SKIP
    """
    if isinstance(reports, Mapping):
        xs, reps = [float(s) for s in reports], list(reports.values())
    else:
        reps = list(reports)
        xs = [float(s) for s in steps] if steps is not None else [float(i) for i in range(len(reps))]
    if len(xs) != len(reps) or not reps:
        raise ValueError(f"plot_training: {len(reps)} reports for {len(xs)} steps; give one step per report")
    names = list(layers or reps[0].layers)
    ncols = min(3, len(names))
    nrows = math.ceil(len(names) / ncols)
    fig = _figure(3.4 * ncols + 0.6, 2.8 * nrows + 0.4)
    axes = fig.subplots(nrows, ncols, squeeze=False, sharey=True)
    for ax in axes.ravel()[len(names) :]:
        ax.set_visible(False)
    for ax, name in zip(axes.ravel(), names):
        for f in _FACTORS:
            pts = [(x, r[name]) for x, r in zip(xs, reps) if name in r.layers]
            (line,) = ax.plot(
                [p[0] for p in pts],
                [lb.percent[f] for _, lb in pts],
                color=COLORS[f],
                marker="o",
                markersize=3,
                label=f,
            )
            line.set_gid(f"series-{f}-{_slug(name)}")
            iv = [layer_interval(lb, f) for _, lb in pts]
            if any(iv):
                lo = [i[0] if i else np.nan for i in iv]
                hi = [i[1] if i else np.nan for i in iv]
                ax.fill_between([p[0] for p in pts], lo, hi, color=COLORS[f], alpha=0.18, linewidth=0)
        ax.set_title(name, fontsize="small")
        ax.set_xlabel(xlabel)
        ax.set_ylabel("units (%)")
        ax.set_ylim(bottom=0)
        ax.grid(alpha=0.3)
    axes.ravel()[0].legend(fontsize="small")
    fig.suptitle("Static and dynamic encoding during training", fontsize="medium")
    return fig


def _ablation_series(curves: Any) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray | None, np.ndarray | None]]:
    """``{name: (percent, mean, low, high)}`` from ``{name: {percent: value or [values]}}`` or a
    DataFrame (wide: index percent, one column per selection; long: selection/percent/metric)."""
    if hasattr(curves, "columns"):
        cols = list(curves.columns)
        if {"selection", "percent"} <= set(cols):
            metric = next(c for c in cols if c not in ("selection", "percent", "seed"))
            curves = {
                s: {p: list(g2[metric]) for p, g2 in g.groupby("percent")}
                for s, g in curves.groupby("selection", sort=False)
            }
        else:
            curves = {c: dict(zip(curves.index, curves[c])) for c in cols}
    out = {}
    for name, series in curves.items():
        ps = sorted(series)
        vals = [np.atleast_1d(np.asarray(series[p], float)) for p in ps]
        mean = np.array([v.mean() for v in vals])
        spread = any(v.size > 1 for v in vals)
        lo = np.array([v.min() for v in vals]) if spread else None
        hi = np.array([v.max() for v in vals]) if spread else None
        out[str(name)] = (np.asarray(ps, float), mean, lo, hi)
    return out


def plot_ablation(curves: Any, metric: str = "accuracy", title: str | None = None) -> Any:
    """Task metric against the percent of units removed, one line per selection (paper Fig. 11).

    Selections named ``static``/``dynamic`` (or starting so) are red/blue, ``random`` grey; a
    selection with several values per percent (seeds) is drawn as its mean with a min–max band.

    Args:
        curves: ``{selection: {percent: metric or [metric per seed]}}``, or a pandas DataFrame (wide:
            index = percent, one column per selection; long: columns ``selection``, ``percent`` and
            the metric).
        metric: the y-axis label.
        title: figure title.

    Returns:
        The Figure; series gids ``series-<selection>``.

    Examples:
        >>> fig = plot_ablation({"dynamic": {0: .8, 10: .5}, "random": {0: .8, 10: [.75, .78]}})  # doctest: +SKIP
    """
    series = _ablation_series(curves)
    fig = _figure(5.0, 3.6)
    ax = fig.add_subplot()
    for k, (name, (ps, mean, lo, hi)) in enumerate(series.items()):
        key = next((c for c in ("dynamic", "static", "random") if name.lower().startswith(c)), None)
        color = COLORS[key] if key else f"C{k + 2}"
        (line,) = ax.plot(ps, mean, marker="o", color=color, label=name, linestyle="--" if key == "random" else "-")
        line.set_gid(f"series-{_slug(name)}")
        if lo is not None:
            ax.fill_between(ps, lo, hi, color=color, alpha=0.18, linewidth=0)
    ax.set_xlabel("units removed (%)")
    ax.set_ylabel(metric)
    ax.grid(alpha=0.3)
    ax.legend(fontsize="small")
    ax.set_title(title or "Top-k unit removal", fontsize="medium")
    return fig
