"""`sdinterp report --out/--config`, `sdinterp plot`, `sdinterp compare`, `sdinterp demo` through
the installed entry point, and the progress bar counting pairs and forwards."""

from __future__ import annotations

import io
import json
import subprocess
import sys

import pandas as pd
import pytest
import yaml

from _paths import VIDEOS
from _report_helpers import SDINTERP, path_vertices, png_variance, svg_groups
from sdinterp.cli import build_parser, main
from sdinterp.commands._checks import UsageError
from sdinterp.commands._config import resolve_config
from sdinterp.report import BiasReport
from sdinterp.report.compare import ReportMismatchError, compare_reports

RUN_YAML = """\
# a user's settings file; paths are relative to this file
model: example:tiny
inputs: [data/tree.avi]
n-pairs: 6
batch_size: 9
clip_length: 8
seed: 9
"""


def _sdinterp(*args, cwd) -> subprocess.CompletedProcess:
    return subprocess.run([str(SDINTERP), *map(str, args)], capture_output=True, text=True, timeout=300, cwd=cwd)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Run 1 from a settings file with one flag overriding it; run 2 from run 1's saved config."""
    work = tmp_path_factory.mktemp("cfg")
    (work / "data").mkdir()
    (work / "data" / "tree.avi").symlink_to(VIDEOS / "tree.avi")
    (work / "run.yaml").write_text(RUN_YAML)
    elsewhere = tmp_path_factory.mktemp("elsewhere")  # relative paths in the file must not depend on the cwd
    first = _sdinterp("report", "--config", work / "run.yaml", "--seed", "2", "--out", work / "A", cwd=elsewhere)
    second = _sdinterp("report", "--config", work / "A" / "config.yaml", "--out", work / "B", cwd=work / "data")
    return work, first, second


@pytest.mark.slow  # 37 s measured on 2 shared cores
def test_report_out_writes_json_csvs_figures_html_and_config(runs):
    work, first, _ = runs
    assert first.returncode == 0, first.stderr[-3000:]
    out = work / "A"
    data = json.loads((out / "report.json").read_text())
    assert data["seed"] == 2  # the flag overrode the file's seed 9
    assert [l["layer"] for l in data["layers"]] == ["early", "late"] and data["layers"][0]["n_pairs"]["static"] == 6
    assert pd.read_csv(out / "layers.csv").shape[0] == 2 and pd.read_csv(out / "units.csv").shape[0] == 16
    html = (out / "report.html").read_text()
    assert html.count("<tr data-i=") == 16 and "data:image/png;base64," in html
    for name in ("layers", "units", "scatter"):
        assert png_variance(out / "figures" / f"{name}.png") > 100
    groups = svg_groups((out / "figures" / "layers.svg").read_text(), "series-")
    assert set(groups) == {"series-dynamic", "series-static"} and all(path_vertices(g) == 2 for g in groups.values())
    units_svg = (out / "figures" / "units.svg").read_text()
    assert len(svg_groups(units_svg, "series-")) == 4 * 2  # four categories, two layers
    saved = yaml.safe_load((out / "config.yaml").read_text())
    assert (
        saved["seed"] == 2
        and saved["n_pairs"] == 6
        and saved["inputs"] == [str((work / "data" / "tree.avi").resolve())]
    )
    # The settings line comes first; no bar, since stderr is not a terminal here.
    assert (
        "sdinterp report: model example:tiny; weights random init (seed 2); layers early, late; pairs 6 (shared-anchor)"
        in first.stderr
    )
    assert "pairs/s" not in first.stderr


def test_saved_config_repeats_the_run_bit_for_bit(runs):
    work, first, second = runs
    assert second.returncode == 0, second.stderr[-3000:]
    assert (work / "B" / "report.json").read_bytes() == (work / "A" / "report.json").read_bytes()
    a, b = (yaml.safe_load((work / d / "config.yaml").read_text()) for d in ("A", "B"))
    assert a.pop("out") != b.pop("out") and a == b


def test_config_keys_are_checked_before_the_model_loads(tmp_path, capsys, monkeypatch):
    import importlib

    def no_loading(*a, **k):
        raise AssertionError("the model was loaded before the config was checked")

    monkeypatch.setattr(importlib.import_module("sdinterp.adapt"), "load_model", no_loading)
    bad = tmp_path / "bad.yaml"
    bad.write_text(RUN_YAML.replace("n-pairs: 6", "n_pair: 6"))
    assert main(["report", "--config", str(bad)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(
        f"sdinterp report: error: --config {bad}: unknown key 'n_pair'; did you mean 'n_pairs'?"
    )
    typed = tmp_path / "typed.toml"
    typed.write_text('model = "example:tiny"\ninputs = ["x.avi"]\nn_pairs = 2.5\n')
    assert main(["report", "--config", str(typed)]) == 1
    assert "n_pairs must be an integer, got 2.5" in capsys.readouterr().err
    assert main(["report"]) == 1
    assert "give MODEL and INPUT" in capsys.readouterr().err


def test_yaml_and_toml_give_the_same_settings_and_flags_win(tmp_path):
    (tmp_path / "run.yaml").write_text(RUN_YAML)
    (tmp_path / "run.toml").write_text(
        '[report]\nmodel = "example:tiny"\ninputs = ["data/tree.avi"]\n"n-pairs" = 6\n'
        "batch_size = 9\nclip_length = 8\nseed = 9\n"
    )
    resolved = {}
    for ext in ("yaml", "toml"):
        args = build_parser().parse_args(["report", "--config", str(tmp_path / f"run.{ext}"), "--threshold", "0.4"])
        resolved[ext] = resolve_config(args)
    assert resolved["yaml"] == resolved["toml"]
    r = resolved["yaml"]
    assert (r["n_pairs"], r["seed"], r["threshold"], r["batch_size"]) == (6, 9, 0.4, 9)
    assert r["inputs"] == [str(tmp_path / "data" / "tree.avi")] and r["scorer"] == "official"  # default kept
    with pytest.raises(UsageError, match="scorer 'nosuch' is not one of"):
        (tmp_path / "s.yaml").write_text("scorer: nosuch\n")
        resolve_config(build_parser().parse_args(["report", "--config", str(tmp_path / "s.yaml")]))


def test_plot_redraws_the_same_figures_from_the_saved_report(runs, tmp_path):
    work, first, _ = runs
    proc = _sdinterp("plot", work / "A" / "report.json", "--out", tmp_path / "p", "--html", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    for name in ("layers", "units", "scatter"):
        assert (tmp_path / "p" / f"{name}.svg").read_text() == (work / "A" / "figures" / f"{name}.svg").read_text()
        assert (tmp_path / "p" / f"{name}.png").stat().st_size > 5000
    assert (tmp_path / "p" / "report.html").read_text().count("<tr data-i=") == 16


def test_compare_puts_reports_side_by_side_and_refuses_mismatches(runs, tmp_path, capsys):
    work, *_ = runs
    a = work / "A" / "report.json"
    fewer = json.loads(a.read_text())
    fewer["layers"] = fewer["layers"][:1]
    (tmp_path / "early_only.json").write_text(json.dumps(fewer))
    assert main(["compare", str(a), str(tmp_path / "early_only.json")]) == 1
    assert "different layers (only in A: late; only in early_only: -); pass --align" in capsys.readouterr().err

    proc = _sdinterp("compare", a, work / "B" / "report.json", "--out", tmp_path / "cmp", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    frame = pd.read_csv(tmp_path / "cmp" / "compare.csv")
    assert list(frame["report"]) == ["A", "B", "A", "B"] and list(frame["layer"]) == ["early", "early", "late", "late"]
    groups = svg_groups((tmp_path / "cmp" / "compare_layers.svg").read_text(), "series-")
    assert set(groups) == {f"series-{f}-{r}" for f in ("dynamic", "static") for r in ("A", "B")}
    assert all(path_vertices(g) == 2 for g in groups.values())
    assert '<table id="compare">' in (tmp_path / "cmp" / "compare.html").read_text()


def test_compare_refuses_other_scorers_and_thresholds_unless_aligned(runs):
    work, *_ = runs
    rep = BiasReport.from_json(work / "A" / "report.json")
    other = BiasReport.from_json(work / "A" / "report.json")
    other.identity["scorer"] = "pearson"
    with pytest.raises(ReportMismatchError, match="A is scored by official, B by pearson"):
        compare_reports({"A": rep, "B": other})
    lam = BiasReport.from_json(work / "A" / "report.json")
    for lb in lam:
        lb.threshold = 0.3
    with pytest.raises(ReportMismatchError, match="threshold"):
        compare_reports({"A": rep, "C": lam})
    early = BiasReport.from_json(work / "A" / "report.json")
    del early.layers["late"]
    cmp = compare_reports({"A": rep, "E": early, "P": other}, align=True)
    assert cmp.layers == ["early"] and len(cmp.to_frame()) == 3
    assert any("different layers" in n for n in cmp.notes) and any("pearson" in n for n in cmp.notes)


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_counts_pairs_and_forwards_on_a_terminal_and_is_quiet_otherwise(monkeypatch, tmp_path):
    base = [
        "report",
        "example:tiny",
        str(VIDEOS / "tree.avi"),
        "--n-pairs",
        "6",
        "--batch-size",
        "9",
        "--clip-length",
        "8",
    ]
    err = _Terminal()
    monkeypatch.setattr(sys, "stderr", err)
    assert main(base) == 0
    text = err.getvalue()
    # shared-anchor: 6 clips, each a static and a dynamic pair (12 pairs) from 3 forwards (18).
    assert "12/12 pairs" in text and "18/18 forwards" in text and "pairs/s" in text
    assert "sdinterp report: model example:tiny" in text
    quiet = _Terminal()
    monkeypatch.setattr(sys, "stderr", quiet)
    assert main(base[:3] + ["--n-pairs", "2", "--batch-size", "6", "--clip-length", "8", "--quiet"]) == 0
    assert "pairs/s" not in quiet.getvalue() and "sdinterp report: model" not in quiet.getvalue()


def test_progress_callback_sees_every_pair_of_the_protocol():
    from sdinterp.pipeline import StaticDynamic
    from sdinterp.testing.planted import PLANTED_TRUTH, PlantedNet, make_planted_clips

    sd = StaticDynamic(
        PlantedNet(), layers=list(PLANTED_TRUTH), dynamic_sampler="restyle", **PlantedNet.adapter_options()
    )
    for protocol, pairs, forwards in (("shared-anchor", 32, 48), ("official", 16, 32)):
        calls = []
        sd.attribute(
            make_planted_clips(16),
            n_pairs=16,
            batch_size=12,
            protocol=protocol,
            show_progress=lambda *c, calls=calls: calls.append(c),
        )
        assert calls[-1] == (pairs, pairs, forwards, forwards) and len(calls) > 1


@pytest.mark.slow  # 18 s measured on 2 shared cores
def test_demo_writes_table_figures_and_html_under_out_from_any_folder(tmp_path):
    proc = _sdinterp("demo", "--clips", "64", "--pairs", "64", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = tmp_path / "out"
    assert f"written to {out}/" in proc.stdout
    assert "unit categories recovered: 23/23" in proc.stdout and "static_heavy" in (out / "table.txt").read_text()
    assert (out / "report.html").read_text().count("<tr data-i=") == 23
    assert all(png_variance(out / "figures" / f"{n}.png") > 100 for n in ("layers", "units", "scatter"))
    # away from the repository there are no real clips beside it: the trained part says so and is skipped
    assert (
        "trained models on real clips: not run, no clip folder at ../shared/data/videos (pass --videos DIR)"
        in proc.stdout
    )
