"""The command line: demo, layers, report (in-process through sdinterp.cli.main)."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from _paths import VIDEOS, small_report_flags
from sdinterp.cli import main


@pytest.mark.slow  # 44 s measured on 2 shared cores
def test_demo_recovers_planted_units_and_compares_the_trained_nets_on_real_clips(capsys, tmp_path):
    assert (
        main(
            [
                "demo",
                "--clips",
                "64",
                "--pairs",
                "64",
                "--out",
                str(tmp_path),
                "--videos",
                str(VIDEOS),
                "--trained-pairs",
                "32",
                "--probe-pairs",
                "96",
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "unit categories recovered: 23/23" in out
    assert "static_heavy" in out and "dynamic_heavy" in out and "motion_energy" in out
    assert "motion-class: tiny:i3d-motion" in out and "appearance-class: tiny:i3d-appearance" in out
    # what the method can see: the nets on their own probe videos, ground-truth pairs beside the default
    probe = out[out.index("unseen probe videos") : out.index("the same nets on the real clips")]
    rows = {
        tuple(line.split()[:2]): line
        for line in probe.splitlines()
        if line.startswith(("motion-class", "appearance-class"))
    }
    assert rows[("motion-class", "ground")].rstrip().endswith("ok") and rows[
        ("appearance-class", "ground")
    ].rstrip().endswith("ok")
    motion_gt_dynamic = int(rows[("motion-class", "ground")].split()[4].split("/")[0])
    appearance_gt_dynamic = int(rows[("appearance-class", "ground")].split()[4].split("/")[0])
    assert motion_gt_dynamic >= 12 and appearance_gt_dynamic == 0, rows
    # the real-clip part carries each net's verdict, and a warning shared by both nets is printed once
    assert "validity (motion-class): " in out and "validity (appearance-class): " in out
    assert out.count("clips are reused") <= 1
    frame = pd.read_csv(tmp_path / "trained" / "compare.csv")
    assert sorted(set(frame["report"])) == ["appearance-class", "motion-class"]
    assert list(frame["layer"].unique()) == ["stage1", "stage2", "stage3"] and frame["dynamic_%"].notna().all()
    assert (tmp_path / "trained" / "compare.html").stat().st_size > 10_000
    for label in ("motion-class", "appearance-class"):
        report = json.loads((tmp_path / "trained" / label / "report.json").read_text())
        assert report["identity"]["model"]["weights"]["source"] == "embedded"


def test_demo_flags_are_checked_before_any_work(capsys, tmp_path):
    assert main(["demo", "--videos", str(tmp_path / "nope"), "--out", str(tmp_path)]) != 0
    assert "--videos" in capsys.readouterr().err and not (tmp_path / "report.html").exists()
    assert main(["demo", "--trained-pairs", "1", "--out", str(tmp_path)]) != 0
    assert "--trained-pairs" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    assert main(["demo", "--videos", str(tmp_path / "empty"), "--out", str(tmp_path)]) != 0
    assert "no video files there" in capsys.readouterr().err and not (tmp_path / "report.html").exists()


def test_layers_lists_canonical_layers(capsys):
    assert main(["layers", "example:tiny"]) == 0
    out = capsys.readouterr().out
    assert "early" in out and "stem" in out and "10" in out


def test_layers_unknown_spec_is_one_clear_line(capsys):
    assert main(["layers", "nosuchfamily:thing"]) == 1
    err = capsys.readouterr().err
    assert "no plugin can load model spec 'nosuchfamily:thing'" in err and "Traceback" not in err


def test_report_on_a_real_video_writes_json_and_csv(tmp_path, capsys):
    out_json, out_csv, units_csv = tmp_path / "r.json", tmp_path / "r.csv", tmp_path / "u.csv"
    code = main(
        [
            "report",
            "example:tiny",
            str(VIDEOS / "tree.avi"),
            "--n-pairs",
            "6",
            "--batch-size",
            "9",
            "--clip-length",
            "8",
            "--no-progress",
            "--json",
            str(out_json),
            "--csv",
            str(out_csv),
            "--units-csv",
            str(units_csv),
            "--seed",
            "2",
        ]
    )
    assert code == 0
    printed = capsys.readouterr().out
    assert "early" in printed and "6 static and 6 dynamic pairs" in printed
    data = json.loads(out_json.read_text())
    assert [l["layer"] for l in data["layers"]] == ["early", "late"] and data["seed"] == 2
    assert pd.read_csv(out_csv).shape[0] == 2
    assert pd.read_csv(units_csv).shape[0] == 16


def test_report_unknown_layer_lists_valid_ones(capsys):
    code = main(
        ["report", "example:tiny", str(VIDEOS / "tree.avi"), "--layers", "erly", "--n-pairs", "2", "--no-progress"]
    )
    assert code == 1
    err = capsys.readouterr().err
    assert "unknown layer 'erly'" in err and "Did you mean 'early'" in err and "late" in err


def test_report_on_missing_input_is_clear(tmp_path, capsys):
    code = main(["report", "example:tiny", str(tmp_path / "nothing.mp4"), "--n-pairs", "2", "--no-progress"])
    assert code == 1
    assert "nothing.mp4" in capsys.readouterr().err


def test_report_carries_a_validity_verdict_unless_no_validity(capsys, tmp_path):
    small = small_report_flags()
    cmd = ["report", "torchvision:r3d_18", str(VIDEOS / "tree.avi"), *small, "--json"]
    assert main([*cmd, str(tmp_path / "on.json")]) == 0
    assert "validity:" in capsys.readouterr().out
    assert json.loads((tmp_path / "on.json").read_text())["validity"]["status"] in ("ok", "doubtful", "invalid")
    assert main([*cmd, str(tmp_path / "off.json"), "--no-validity"]) == 0
    assert "validity:" not in capsys.readouterr().out
    assert "validity" not in json.loads((tmp_path / "off.json").read_text())
