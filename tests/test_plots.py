"""Figures (sdinterp.report.plots, .study_plots): the drawn data are the report's numbers, one point
per layer and one series per factor and report; bands appear exactly where intervals exist; files
are non-empty and the SVG is reproducible."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from _report_helpers import path_vertices, png_variance, svg_groups, synthetic_report
from sdinterp.report.plots import (
    COLORS,
    layer_interval,
    plot_layers,
    plot_unit_categories,
    plot_unit_scatter,
    report_figures,
)
from sdinterp.report.study_plots import plot_ablation, plot_training


@pytest.fixture(scope="module")
def report():
    return synthetic_report()


def _lines(fig):
    return {line.get_gid(): line for ax in fig.axes for line in ax.get_lines() if line.get_gid()}


def test_layer_lines_are_the_reports_percentages_static_red_dynamic_blue(report):
    fig = plot_layers(report)
    lines = _lines(fig)
    assert set(lines) == {"series-dynamic", "series-static"}
    for f in ("dynamic", "static"):
        assert list(lines[f"series-{f}"].get_ydata()) == [lb.percent[f] for lb in report]
        assert lines[f"series-{f}"].get_color() == COLORS[f]
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == list(report.layers)
    assert ax.get_xlabel() == "layer" and "%" in ax.get_ylabel()
    assert COLORS["static"] == "#d62728" and COLORS["dynamic"] == "#1f5fbf"  # red and blue, as the paper


def test_several_reports_share_one_figure_over_the_union_of_layers(report):
    other = synthetic_report(layers=("stage1", "stage2", "stage3", "stage4"), seed=1)
    fig = plot_layers({"A": report, "B": other})
    lines = _lines(fig)
    assert set(lines) == {"series-dynamic-A", "series-static-A", "series-dynamic-B", "series-static-B"}
    assert list(lines["series-static-A"].get_xdata()) == [0, 1, 2]
    assert list(lines["series-static-B"].get_xdata()) == [0, 1, 2, 3]
    assert len(fig.axes[0].get_legend().get_texts()) == 4


def test_bands_are_drawn_from_given_arrays_or_the_layers_intervals_and_only_then(report):
    assert not [c for c in fig_collections(plot_layers(report)) if (c.get_gid() or "").startswith("band-")]
    lo = [lb.percent["dynamic"] - 2 for lb in report]
    hi = [lb.percent["dynamic"] + 3 for lb in report]
    fig = plot_layers(report, bands={"dynamic": (lo, hi)})
    bands = {c.get_gid(): c for c in fig_collections(fig) if (c.get_gid() or "").startswith("band-")}
    assert set(bands) == {"band-dynamic"}
    ys = bands["band-dynamic"].get_paths()[0].vertices[:, 1]
    assert np.isclose(ys.min(), min(lo)) and np.isclose(ys.max(), max(hi))
    # The bootstrap's format (LayerBias.intervals): percent intervals per factor.
    with_iv = synthetic_report()
    for lb in with_iv:
        lb.intervals = {
            "level": 0.95,
            "percent": {f: [lb.percent[f] - 1, lb.percent[f] + 1] for f in ("dynamic", "static")},
        }
    assert layer_interval(with_iv["stage2"], "static") == (
        with_iv["stage2"].percent["static"] - 1,
        with_iv["stage2"].percent["static"] + 1,
    )
    gids = {c.get_gid() for c in fig_collections(plot_layers(with_iv))}
    assert {"band-dynamic", "band-static"} <= gids


def fig_collections(fig):
    return [c for ax in fig.axes for c in ax.collections]


def test_unit_category_bars_stack_the_category_shares(report):
    fig = plot_unit_categories(report)
    patches = [p for p in fig.axes[0].patches if (p.get_gid() or "").startswith("series-")]
    assert len(patches) == 4 * len(report)
    for lb in report:
        mine = {
            p.get_gid().split("__")[0][len("series-") :]: p for p in patches if p.get_gid().endswith("__" + lb.layer)
        }
        assert set(mine) == {"dynamic", "static", "joint", "residual"}
        for c, p in mine.items():
            assert np.isclose(p.get_height(), lb.category_percent[c])
        assert np.isclose(sum(p.get_height() for p in mine.values()), 100.0)
    two = plot_unit_categories({"A": report, "B": synthetic_report(seed=3)})
    assert len([p for p in two.axes[0].patches if (p.get_gid() or "").startswith("series-dynamic-")]) == 2 * len(report)


def test_scatter_colours_categories_and_draws_the_lambda_lines(report):
    fig = plot_unit_scatter(report)
    panels = [ax for ax in fig.axes if ax.get_visible() and ax.get_xlabel()]
    assert len(panels) == len(report)
    for ax, lb in zip(panels, report):
        counts = {c.get_gid().split("-")[1]: len(c.get_offsets()) for c in ax.collections}
        assert counts == {k: v for k, v in lb.category_counts.items() if v and k != "constant"}
        xs = {tuple(l.get_xdata()) for l in ax.get_lines()}
        assert (lb.threshold, lb.threshold) in xs  # the vertical λ line
        assert ax.get_xlabel() == "static unit score" and ax.get_ylabel() == "dynamic unit score"


def test_training_curves_follow_the_sequence_of_reports():
    reps = [synthetic_report(seed=s) for s in range(4)]
    fig = plot_training(reps, steps=[1, 2, 5, 10])
    lines = _lines(fig)
    assert len(lines) == 2 * 3  # two factors per layer
    assert list(lines["series-dynamic-stage3"].get_xdata()) == [1, 2, 5, 10]
    assert list(lines["series-static-stage1"].get_ydata()) == [r["stage1"].percent["static"] for r in reps]
    assert list(_lines(plot_training({0: reps[0], 3: reps[1]}))["series-static-stage2"].get_xdata()) == [0, 3]
    with pytest.raises(ValueError, match="one step per report"):
        plot_training(reps, steps=[1, 2])


def test_ablation_curves_from_a_dict_or_a_table_with_seed_spread():
    curves = {
        "dynamic": {0: 0.8, 10: 0.5, 20: 0.3},
        "static": {0: 0.8, 10: 0.7, 20: 0.6},
        "random": {0: [0.8, 0.8], 10: [0.74, 0.78], 20: [0.7, 0.76]},
    }
    fig = plot_ablation(curves, metric="top-1 accuracy")
    lines = _lines(fig)
    assert set(lines) == {"series-dynamic", "series-static", "series-random"}
    assert list(lines["series-random"].get_ydata()) == pytest.approx([0.8, 0.76, 0.73])
    assert lines["series-dynamic"].get_color() == COLORS["dynamic"]
    assert len(fig_collections(fig)) == 1  # only the random baseline has a spread
    assert fig.axes[0].get_ylabel() == "top-1 accuracy" and "%" in fig.axes[0].get_xlabel()
    long = pd.DataFrame(
        {
            "selection": ["dynamic"] * 3 + ["random"] * 4,
            "percent": [0, 10, 20, 0, 0, 10, 10],
            "metric": [0.8, 0.5, 0.3, 0.8, 0.8, 0.7, 0.8],
        }
    )
    lines = _lines(plot_ablation(long))
    assert list(lines["series-random"].get_xdata()) == [0, 10] and list(
        lines["series-random"].get_ydata()
    ) == pytest.approx([0.8, 0.75])
    wide = pd.DataFrame({"dynamic": [0.8, 0.4], "static": [0.8, 0.7]}, index=[0, 25])
    assert list(_lines(plot_ablation(wide))["series-static"].get_ydata()) == [0.8, 0.7]


def test_saved_files_are_non_empty_searchable_and_reproducible(report, tmp_path):
    paths = report_figures(report, tmp_path)
    assert set(paths) == {"layers", "units", "scatter"}
    for png, svg in paths.values():
        assert png.suffix == ".png" and png.stat().st_size > 5000 and png_variance(png) > 100
        text = svg.read_text()
        assert all(layer in text for layer in report.layers)  # text kept as text
    groups = svg_groups(paths["layers"][1].read_text(), "series-")
    assert set(groups) == {"series-dynamic", "series-static"}
    assert all(path_vertices(g) == len(report) for g in groups.values())
    (tmp_path / "again").mkdir()
    again = report_figures(report, tmp_path / "again")
    assert all(again[k][1].read_text() == paths[k][1].read_text() for k in paths)  # same report, same SVG
