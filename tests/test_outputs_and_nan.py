"""Results lost or mixed without a word (issue 23, item 5): outputs that are one file (or an input)
are refused before any work; ``ablate --report`` refuses a report of another model, weights or
layer; a metric returning nan fails the command and writes nothing; the API refuses a λ the CLI
refuses; ``compare``/``plot``/``ablate`` refuse a file that is not a report, or holds a nan."""

from __future__ import annotations

import argparse
import json
import os
import warnings
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
import torch
from torch import nn

import _tiny_tasks as tt
import sdinterp
from _report_helpers import synthetic_report
from sdinterp.cli import main
from sdinterp.cli_kit.outputs import OutputPathError, check_outputs, check_run_outputs
from sdinterp.interfaces import LayerInfo
from sdinterp.pipeline.config import RunConfig
from sdinterp.plugins.ablation.report_check import report_differences
from sdinterp.report.compare import ReportMismatchError, compare_reports

pytestmark = pytest.mark.usefixtures("single_thread")  # one torch thread per module (tests/conftest.py)


def test_outputs_that_are_one_file_are_refused_whatever_the_spelling(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "out").mkdir()
    check_outputs({"--json": "out/r.json", "--csv": "out/r.csv", "--resume": "out/state"})  # distinct: fine
    with pytest.raises(
        OutputPathError, match=r"--json out/r\.json and --csv \./out/\.\./out/r\.json are the same file"
    ):
        check_outputs({"--json": "out/r.json", "--csv": "./out/../out/r.json"})
    os.symlink(tmp_path / "out", tmp_path / "link")
    with pytest.raises(OutputPathError, match="--json out/r.json and --resume link/r.json are the same file"):
        check_outputs({"--json": "out/r.json", "--resume": "link/r.json"})
    (tmp_path / "out" / "state").write_text("{}")
    os.link(tmp_path / "out" / "state", tmp_path / "hard")
    with pytest.raises(OutputPathError, match="same file"):
        check_outputs({"--resume": "out/state", "--units-csv": str(tmp_path / "hard")})
    with pytest.raises(OutputPathError, match=r"--out out \(its report\.json\) are the same file"):
        check_outputs({"--json": "out/report.json", "--out": "out"}, folders={"--out": ["report.json"]})
    # `report --config DIR/config.yaml` repeats the run that wrote DIR: rewriting its config is the point
    check_run_outputs(argparse.Namespace(out="out", config="link/config.yaml", json=None))
    with pytest.raises(OutputPathError, match="--json out/config.yaml is --config link/config.yaml"):
        check_run_outputs(argparse.Namespace(json="out/config.yaml", config="link/config.yaml"))
    (tmp_path / "clip.avi").write_bytes(b"0")
    with pytest.raises(OutputPathError, match="--json link/../clip.avi is INPUT clip.avi, which the command reads"):
        check_outputs({"--json": "link/../clip.avi"}, {"INPUT": ["clip.avi"]})


def test_report_refuses_colliding_outputs_before_loading_anything(tmp_path, capsys) -> None:
    video = tmp_path / "clip.avi"
    video.write_bytes(b"not read: the check comes first")
    same = [str(tmp_path / "r.json"), str(tmp_path / "." / "r.json")]
    cases = [
        (["--json", same[0], "--csv", same[1]], "are the same file"),
        (["--json", same[0], "--resume", same[1]], "are the same file"),
        (["--units-csv", str(video)], "which the command reads"),
        (["--out", str(tmp_path / "o"), "--json", str(tmp_path / "o" / "report.json")], "its report.json"),
    ]
    (tmp_path / "o").mkdir()
    for flags, message in cases:
        assert main(["report", "no_such_family:model", str(video), *flags]) == 1
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and message in err[0], err
    assert not (tmp_path / "r.json").exists() and not any((tmp_path / "o").iterdir())


def _write_models(tmp_path) -> None:
    (tmp_path / "ablate_models.py").write_text(
        "import math\nimport torch\nfrom torch import nn\n\n"
        "class Net(nn.Module):\n"
        "    def __init__(self, width, kernel=3):\n"
        "        super().__init__()\n"
        "        self.conv = nn.Conv3d(3, width, kernel, padding=kernel // 2)\n"
        "        self.fc = nn.Linear(width, 2)\n"
        "        self.feat = nn.Identity()\n"
        "    def forward(self, x):\n"
        "        return self.fc(self.feat(torch.relu(self.conv(x)).mean(dim=(2, 3, 4))))\n\n"
        "def net_a():\n    return Net(8)\n\n"
        "def net_b():\n    return Net(8, kernel=1)\n\n"
        "def score(adapter, clips):\n    return 0.5\n\n"
        "def nan_score(adapter, clips):\n    return math.nan\n"
    )


@pytest.fixture(scope="module")
def saved(tmp_path_factory) -> Iterator[dict]:
    """Task videos, a models module on the path, and a report of net_a (seed 0) on feat."""
    root = tmp_path_factory.mktemp("ablate")
    _write_models(root)
    tt.write_task_videos(root / "videos", 6)
    mp = pytest.MonkeyPatch()
    mp.syspath_prepend(str(root))
    flags = ["--n-pairs", "6", "--clip-length", "8", "--no-progress", "--quiet", "--no-validity"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        code = main(
            [
                "report",
                "python:ablate_models:net_a",
                str(root / "videos"),
                "--layers",
                "feat",
                *flags,
                "--json",
                str(root / "a.json"),
            ]
        )
    assert code == 0
    yield {"root": root, "report": root / "a.json"}
    mp.undo()


def _ablate(saved: dict, *extra: str, model: str = "python:ablate_models:net_a", metric: str = "score") -> list[str]:
    root = saved["root"]
    return [
        "ablate",
        model,
        str(root / "videos"),
        "--layer",
        "feat",
        "--percent",
        "50",
        "--seeds",
        "1",
        "--clip-length",
        "8",
        "--no-progress",
        "--metric",
        f"python:ablate_models:{metric}",
        *extra,
    ]


def test_ablate_refuses_a_report_of_another_model_or_initialisation(saved, capsys) -> None:
    report = str(saved["report"])
    assert main(_ablate(saved, "--report", report, model="python:ablate_models:net_b")) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "model python:ablate_models:net_a vs python:ablate_models:net_b" in err[0], err
    assert main(_ablate(saved, "--report", report, "--seed", "1")) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "random init (seed 0) vs random init (seed 1)" in err[0], err
    out = saved["root"] / "curves.json"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert main(_ablate(saved, "--report", report, "--json", str(out))) == 0  # the report's own model: used
    assert json.loads(out.read_text())["bias"] == json.loads(saved["report"].read_text())["layers"][0]


def test_report_differences_name_the_layer_too() -> None:
    report = synthetic_report(layers=("feat",), units=8)
    report.identity["model"] = {"spec": "x:a", "class": "m.Net", "state_sha256": "ab" * 32}
    report["feat"].info = {"module": "feat", "call": None, "where": "output"}
    state = {"class": "m.Net", "state_sha256": "ab" * 32}
    same = LayerInfo("feat", "feat", channels=8)
    assert report_differences(report, "x:a-spelled-otherwise", {}, state, "feat", same) == []
    other = LayerInfo("feat", "block.feat", channels=6, call=1)
    assert report_differences(report, "x:a", {}, state, "feat", other) == [
        "layer feat has 8 units vs 6",
        "layer feat module 'feat' vs 'block.feat'",
        "layer feat call None vs 1",
    ]


def test_ablate_and_shuffle_test_fail_on_a_nan_metric_and_write_nothing(saved, capsys) -> None:
    out = saved["root"] / "nan.json"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert main(_ablate(saved, "--report", str(saved["report"]), "--json", str(out), metric="nan_score")) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "metric nan_score returned nan with nothing removed" in err[0], err
    shuffle = [
        "shuffle-test",
        "python:ablate_models:net_a",
        str(saved["root"] / "videos"),
        "--clip-length",
        "8",
        "--metric",
        "python:ablate_models:nan_score",
        "--json",
        str(out),
    ]
    assert main(shuffle) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "metric nan_score returned nan on normal clips" in err[0], err
    assert not out.exists()


def test_ablate_refuses_its_report_as_output_and_a_json_list_as_report(saved, capsys) -> None:
    report = str(saved["report"])
    assert main(_ablate(saved, "--report", report, "--json", report)) == 1
    assert "which the command reads" in capsys.readouterr().err
    listing = saved["root"] / "list.json"
    listing.write_text("[1, 2]")
    assert main(_ablate(saved, "--report", str(listing))) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--report " + str(listing) + ": not an sdinterp report (a JSON list)" in err[0], err


def test_compare_and_plot_refuse_non_reports_and_nan_reports(tmp_path, capsys) -> None:
    good = tmp_path / "good.json"
    synthetic_report().to_json(good)
    listing, nan = tmp_path / "list.json", tmp_path / "nan.json"
    listing.write_text(json.dumps([json.loads(good.read_text())]))
    data = json.loads(good.read_text())
    data["layers"][1]["scores"]["dynamic"] = float("nan")
    nan.write_text(json.dumps(data))  # json writes NaN unless told not to
    for command in (["compare", str(good)], ["plot"]):
        assert main([*command, str(listing)]) == 1
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and f"{listing}: not an sdinterp report (a JSON list)" in err[0], err
        assert main([*command, str(nan)]) == 1
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and "non-finite number (layers[1].scores.dynamic = nan)" in err[0], err
    assert not (tmp_path / "figures").exists()
    # an output that is an input: a report kept as DIR/compare.csv with --out DIR
    (tmp_path / "d").mkdir()
    kept = tmp_path / "d" / "compare.csv"
    kept.write_text(good.read_text())
    assert main(["compare", str(good), str(kept), "--out", str(tmp_path / "d")]) == 1
    assert "(its compare.csv) is REPORT.json" in capsys.readouterr().err


def test_compare_reports_refuses_a_report_holding_a_nan() -> None:
    a, b = synthetic_report(seed=0), synthetic_report(seed=1)
    b["stage2"].percent["dynamic"] = float("inf")
    with pytest.raises(
        ReportMismatchError, match=r"report b: holds a non-finite number \(layer stage2.percent.dynamic"
    ):
        compare_reports({"a": a, "b": b})


def test_the_api_refuses_what_the_cli_refuses() -> None:
    rng = np.random.default_rng(0)
    z1 = rng.normal(size=(8, 3))
    factors = ["static", "dynamic"] * 4
    bads: list[Any] = [float("nan"), float("inf"), "half", True]
    for bad in bads:
        with pytest.raises(ValueError, match="threshold must be a finite number"):
            sdinterp.estimate(z1, z1 + 0.1, factors, threshold=bad)
    assert sdinterp.estimate(z1, z1 + 0.1, factors, threshold=0.25).threshold == 0.25

    class Counting(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv, self.forwards = nn.Conv3d(3, 2, 1), 0

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            self.forwards += 1
            return self.conv(x)

    model = Counting()
    with pytest.raises(ValueError, match="threshold must be a finite number"):
        sdinterp.StaticDynamic(model, threshold=float("nan"))
    assert model.forwards == 0  # refused before the model was probed
    seeds: list[Any] = [-1, 2**32, 1.5]
    for seed in seeds:
        with pytest.raises(ValueError, match=r"seed must be an integer from 0 to 4294967295"):
            RunConfig(seed=seed)
    assert RunConfig(seed=np.int64(3)).seed == 3


def test_the_plugins_own_outputs_are_checked_too(tmp_path, capsys) -> None:
    """demo, track, fusion-study and twostream-train: an output that is another output or an input is
    refused in one line before any work, and the input is left as it was."""
    from _paths import VIDEOS

    video = tmp_path / "clip.avi"
    video.write_bytes((VIDEOS / "tree.avi").read_bytes())
    weights = tmp_path / "w.pt"
    torch.save({}, weights)  # a weights file by its format: the output check is what refuses
    before = {p: p.read_bytes() for p in (video, weights)}
    spec = f"twostream:gated-unidirectional-r18-w8:{weights}"
    cases = [
        (["demo", "--out", str(tmp_path / "d"), "--json", str(tmp_path / "d" / "report.json")], "are the same file"),
        (
            ["track", str(weights), str(video), "--model", "tiny:i3d-motion", "--json", str(video)],
            "which the command reads",
        ),
        (
            ["track", str(weights), str(video), "--model", "tiny:i3d-motion", "--json", str(weights)],
            "which the command reads",
        ),
        (
            ["fusion-study", "twostream:gated-unidirectional-r18-w8", str(video), "--json", str(video)],
            "which the command reads",
        ),
        (["fusion-study", spec, str(video), "--json", str(weights)], "which the command reads"),
        (
            [
                "fusion-study",
                "twostream:fusionseg-r18-w8",
                str(video),
                "--json",
                str(tmp_path / "s_layers.png"),
                "--figure",
                str(tmp_path / "s"),
            ],
            "are the same file",
        ),
        (["twostream-train", spec, "--out", str(weights)], "which the command reads"),
    ]
    for argv, expected in cases:
        assert main(argv) == 1, argv
        err = capsys.readouterr().err
        lines = [line for line in err.splitlines() if "error:" in line]
        assert len(lines) == 1 and expected in lines[0] and "Traceback" not in err, (argv, err)
    assert {p: p.read_bytes() for p in (video, weights)} == before
    assert not (tmp_path / "d").exists()


def test_a_setting_a_two_stream_model_cannot_take_is_said_not_dropped() -> None:
    """cascades configures cross connections: FusionSeg and ``-none`` models have none, so a cascades
    given to them is left out with a warning naming it; the fusion study and the tiny AVOS task, which
    set one cascades for many models, pass it only to the models that have cross connections."""
    from sdinterp.plugins.twostream.spec import build_model, options_for

    for spec in ("twostream:fusionseg-r18-w8", "twostream:gated-none-r18-w8"):
        with pytest.warns(UserWarning, match="has no cross connections: cascades=3 does not apply and is left out"):
            build_model(spec, cascades=3)
        assert options_for(spec, {"cascades": 3, "weights": None}) == {"weights": None}
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert build_model("twostream:gated-bidirectional-r18-w8", cascades=1).cross3 is not None
    assert options_for("twostream:gated-bidirectional-r18-w8", {"cascades": 3}) == {"cascades": 3}
