"""``sdinterp fusion-study`` as a user runs it (a subprocess), and ``sdinterp twostream-train`` and the
one-line errors through the same entry point in-process (each subprocess pays torch's import)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from _paths import VIDEOS
from sdinterp.cli import main

pytestmark = pytest.mark.usefixtures("single_thread")  # one torch thread per module (tests/conftest.py)

VIDEO = str(VIDEOS / "tree.avi")
MODELS = ["twostream:gated-unidirectional-r18-w8", "twostream:convex_gated-bidirectional-r18-w8"]
LAYERS = [f"{s}.stage{k}" for s in ("appearance", "motion") for k in range(1, 6)] + [f"fusion{k}" for k in range(2, 6)]


def _run(*args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, OMP_NUM_THREADS="1")  # shared cores: one thread is much faster here
    return subprocess.run(
        [sys.executable, "-m", "sdinterp", *args], capture_output=True, text=True, env=env, timeout=300
    )


@pytest.mark.slow  # 24 s measured on 2 shared cores
def test_fusion_study_table_and_json(tmp_path, capsys):
    out = tmp_path / "study.json"
    weights = tmp_path / "w.pt"
    assert (
        main(["twostream-train", MODELS[0], "--out", str(weights), "--steps", "2", "--batch-size", "2", "--size", "32"])
        == 0
    )
    assert weights.is_file() and f"{MODELS[0]}:{weights}" in capsys.readouterr().out
    trained = f"{MODELS[0]}:{weights}"
    proc = _run(
        "fusion-study",
        *MODELS,
        trained,
        VIDEO,
        "--n-pairs",
        "8",
        "--frames-per-item",
        "2",
        "--size",
        "32",
        "32",
        "--cascades",
        "1",
        "--batch-size",
        "8",
        "--flow-cache",
        str(tmp_path / "flow"),
        "--json",
        str(out),
        "--figure",
        str(tmp_path / "study"),
        "--quiet",
    )
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    for model in (*MODELS, trained):
        rows = [line.split() for line in lines if line.startswith(model + " ")]
        assert [r[1] for r in rows] == LAYERS, (model, rows)
    data = json.loads(out.read_text())
    assert data["models"] == [*MODELS, trained]
    assert {(r["model"], r["layer"]) for r in data["rows"]} == {(m, n) for m in data["models"] for n in LAYERS}
    gated = {r["layer"]: r for r in data["rows"] if r["model"] == MODELS[0]}
    convex = {r["layer"]: r for r in data["rows"] if r["model"] == MODELS[1]}
    assert (
        gated["fusion5"]["units"] == 128 and convex["fusion5"]["units"] == 64
    )  # G doubles the channels, CCG (sum) does not
    for row in data["rows"]:
        assert abs(row["dynamic_%"] + row["static_%"] + row["identical_%"] - 100) < 0.2
        assert (
            sum(row[f"n_{c}"] for c in ("dynamic", "static", "joint", "residual", "unassigned", "constant"))
            == row["units"]
        )
    report = data["reports"][MODELS[0]]
    assert (
        report["identity"]["protocol"] == "vos-alternating"
        and report["identity"]["static_sampler"]["name"] == "flow_jitter"
    )
    # the trained weights were loaded: same architecture, other parameters
    assert data["reports"][trained]["identity"]["model"]["state_sha256"] != report["identity"]["model"]["state_sha256"]
    assert any(Path(tmp_path / "flow").rglob("*.npy"))
    for kind in ("layers", "units"):  # every model in one figure
        svg = (tmp_path / f"study_{kind}.svg").read_text()
        assert (tmp_path / f"study_{kind}.png").stat().st_size > 0
        assert "G+U" in svg and "CCG+B" in svg and "G+U*" in svg  # the paper's short names; * = trained weights


def test_fusion_study_errors_are_one_line(tmp_path, capsys):
    assert main(["fusion-study", "twostream:gated-sideways", VIDEO, "--size", "32", "32"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [err[0]] and err[0].startswith(
        "sdinterp fusion-study: error: model spec 'twostream:gated-sideways': unknown cross"
    )
    assert main(["fusion-study", MODELS[0], str(tmp_path / "nope.avi")]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "nope.avi: no such file or folder" in err[0]
    assert main(["twostream-train", MODELS[0], "--out", str(tmp_path / "w.pt"), "--batch-size", "1"]) == 1
    assert "--batch-size must be at least 2" in capsys.readouterr().err


def test_flow_at_size_computes_the_flow_at_the_models_size_and_records_it(tmp_path, capsys):
    """--flow-at-size: frames shrink to --size as they are read and the flow cache holds flow of that
    size; the reports' inputs say so. Without it the flow is the video's own size (tree.avi 240x320)."""
    import numpy as np

    shapes, sizes = {}, {}
    for flag in ([], ["--flow-at-size"]):
        cache, out = tmp_path / f"flow{len(flag)}", tmp_path / f"s{len(flag)}.json"
        argv = ["fusion-study", MODELS[0], VIDEO, "--n-pairs", "4", "--frames-per-item", "2", "--size", "32", "40"]
        argv += ["--batch-size", "4", "--flow-cache", str(cache), "--json", str(out), "--quiet", *flag]
        assert main(argv) == 0, capsys.readouterr().err
        shapes[bool(flag)] = {np.load(f).shape[:2] for f in cache.rglob("*.npy")}
        sizes[bool(flag)] = json.loads(out.read_text())["reports"][MODELS[0]]["identity"]["inputs"].get("size")
    assert shapes == {False: {(240, 320)}, True: {(32, 40)}}, shapes
    assert sizes == {False: None, True: [32, 40]}
