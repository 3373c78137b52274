"""BiasReport/LayerBias: lossless JSON, tables, CSV."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

import sdinterp
from sdinterp.plugins.samplers import Restyle
from sdinterp.report import BiasReport
from sdinterp.testing.planted import PLANTED_TRUTH, PlantedNet, make_planted_clips


@pytest.fixture(scope="module")
def report():
    sd = sdinterp.StaticDynamic(
        PlantedNet(),
        layers=list(PLANTED_TRUTH),
        dynamic_sampler=Restyle(restyler="level_permutation"),
        **PlantedNet.adapter_options(),
    )
    return sd.attribute(make_planted_clips(16), n_pairs=16, batch_size=24, seed=7, show_progress=False)


def test_json_round_trip_is_lossless(report, tmp_path):
    path = tmp_path / "r.json"
    report.to_json(path)
    back = BiasReport.from_json(path)
    assert back == report and back.to_json() == report.to_json()
    for name, lb in report.layers.items():
        for f in ("dynamic", "static"):
            assert np.array_equal(back[name].unit_scores[f], lb.unit_scores[f])  # bit-exact floats
        assert np.array_equal(back[name].unit_softmax, lb.unit_softmax)
        assert list(back[name].categories) == list(lb.categories)
    d = json.loads(path.read_text())
    assert d["seed"] == 7 and d["identity"]["n_pairs"] == 16 and d["identity"]["protocol"] == "shared-anchor"
    assert {"sdinterp", "torch", "numpy", "python"} <= set(d["versions"])
    assert d["identity"]["dynamic_sampler"]["restyler"]["name"] == "level_permutation"


def test_from_json_rejects_foreign_files(tmp_path):
    (tmp_path / "x.json").write_text('{"format": "other"}')
    with pytest.raises(ValueError, match="not an sdinterp report"):
        BiasReport.from_json(tmp_path / "x.json")


def test_frame_csv_and_units(report, tmp_path):
    df = report.to_frame()
    assert list(df["layer"]) == list(PLANTED_TRUTH)
    assert {"dynamic_%", "static_%", "identical_%", "n_joint", "n_constant", "pairs_static"} <= set(df.columns)
    report.to_csv(tmp_path / "r.csv")
    assert pd.read_csv(tmp_path / "r.csv").shape[0] == 3
    units = report.units_frame()
    assert units.shape[0] == 9 + 9 + 5 and list(units.loc[units.layer == "static_heavy", "unit"]) == list(range(9))


def test_printed_table(report):
    text = str(report)
    lines = text.splitlines()
    head = next(l for l in lines if l.startswith("layer"))
    assert head.split()[:5] == ["layer", "units", "dyn", "%", "stat"]
    row = next(l for l in lines if l.startswith("static_heavy"))
    lb = report["static_heavy"]
    assert f"{lb.percent['static']:.1f}" in row and f"{lb.percent['dynamic']:.1f}" in row
    # unit-category counts with their share of the categorised units
    counts, pct = lb.category_counts, lb.category_percent
    assert f"{counts['static']} ({pct['static']:.0f}%)" in row
    assert "16 static and 16 dynamic pairs" in text and "seed 7" in text
    # provenance above the table, legend below it
    # a network with no parameters has no state to hash: said so, not the hash of nothing
    assert next(l for l in lines if l.startswith("model:")).endswith("no parameters or buffers")
    assert any(l.startswith("scorer:") for l in lines) and any(l.startswith("versions:") for l in lines)
    legend = text[text.index("legend:") :]
    assert "softmax" in legend and "not a unit count" in legend and "unasg" in legend and "const" in legend


def test_categories_are_plain_strings_and_softmax_is_labelled(report):
    lb = report["static_heavy"]
    assert type(lb.categories[0]) is str and repr(list(lb.categories)[0]).startswith("'")
    data = json.loads(report.to_json())
    softmax = data["layers"][0]["unit_softmax"]
    assert set(softmax) == {"dynamic", "static", "identical"} and len(softmax["static"]) == lb.n_units
    assert np.allclose(lb.unit_softmax_by_factor["static"], lb.unit_softmax[:, 1])


def test_category_percent_follows_official_denominator(report):
    lb = report["dynamic_heavy"]
    pct = lb.category_percent
    assert sum(pct.values()) == pytest.approx(100.0)
    assert pct["dynamic"] == pytest.approx(100 * 6 / 9)
