"""`sdinterp report` checks its flags and outputs before loading anything, and a random
initialisation is seeded and recorded (a first part of the trustworthy-runs work)."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest

from _paths import VIDEOS, small_report_flags

VIDEO = VIDEOS / "tree.avi"
SMALL = small_report_flags(2)


def _report(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "sdinterp", "report", *args], capture_output=True, text=True, timeout=300
    )


@pytest.mark.slow  # 61 s measured on 2 shared cores
def test_same_command_twice_gives_identical_json_and_records_the_init(tmp_path):
    outs = []
    for name in ("a.json", "b.json"):
        run = _report("torchvision:r3d_18", str(VIDEO), *SMALL, "--seed", "5", "--json", str(tmp_path / name))
        assert run.returncode == 0, run.stderr
        outs.append((tmp_path / name).read_text())
    assert outs[0] == outs[1]
    model = json.loads(outs[0])["identity"]["model"]
    assert model["spec"] == "torchvision:r3d_18" and model["weights"] == {"source": "random init", "seed": 5}
    assert model["class"] == "torchvision.models.video.resnet.VideoResNet" and len(model["state_sha256"]) == 64
    other = _report("torchvision:r3d_18", str(VIDEO), *SMALL, "--seed", "6", "--json", str(tmp_path / "c.json"))
    assert other.returncode == 0 and (tmp_path / "c.json").read_text() != outs[0]
    assert json.loads((tmp_path / "c.json").read_text())["identity"]["model"]["state_sha256"] != model["state_sha256"]


@pytest.mark.slow  # 51 s measured on 2 shared cores
def test_weights_file_is_recorded_with_its_hash(tmp_path):
    import hashlib

    import torch

    import sdinterp

    adapter = sdinterp.load_adapter("torchvision:r3d_18", num_frames=4, crop_size=32)
    torch.save(adapter.model.state_dict(), tmp_path / "w.pth")
    run = _report(
        "torchvision:r3d_18",
        str(VIDEO),
        *SMALL,
        "--weights",
        str(tmp_path / "w.pth"),
        "--json",
        str(tmp_path / "r.json"),
    )
    assert run.returncode == 0, run.stderr
    weights = json.loads((tmp_path / "r.json").read_text())["identity"]["model"]["weights"]
    assert weights["sha256"] == hashlib.sha256((tmp_path / "w.pth").read_bytes()).hexdigest()


@pytest.mark.slow  # 92 s measured on 2 shared cores
@pytest.mark.parametrize(
    "extra, message",
    [
        (["--json", "{tmp}/missing/r.json"], "--json {tmp}/missing/r.json: folder {tmp}/missing does not exist"),
        (["--json", "{tmp}"], "is a folder"),
        (["--csv", "{tmp}/file.txt/r.csv"], "folder {tmp}/file.txt does not exist"),
        (["--threshold", "nan"], "--threshold must be a finite number"),
        (["--frames", "0"], "--frames must be a positive integer"),
        (["--crop-size", "-3"], "--crop-size must be a positive integer"),
        (["--n-pairs", "0"], "--n-pairs must be a positive integer"),
        (["--weights", "{tmp}/nope.pth"], "no such file"),
    ],
)
def test_bad_flags_fail_in_one_line_before_any_work(tmp_path, extra, message):
    (tmp_path / "file.txt").write_text("")
    extra = [e.format(tmp=tmp_path) for e in extra]
    t0 = time.perf_counter()
    # The model is never built: a spec whose family does not exist would fail later with another
    # message, so the expected line proves the check ran first.
    run = _report("nosuchfamily:model", str(VIDEO), "--no-progress", *extra)
    assert run.returncode == 1, run.stdout + run.stderr
    err = run.stderr.strip().splitlines()
    assert len(err) == 1 and message.format(tmp=tmp_path) in err[0] and "Traceback" not in run.stderr
    assert time.perf_counter() - t0 < 30


def test_unsupported_model_is_one_clear_line(capsys):
    from sdinterp.cli import main

    assert main(["layers", "python:collections:OrderedDict"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no adapter plugin recognises a collections.OrderedDict" in err[0]


def test_bfloat16_features_are_accepted():
    import numpy as np
    import torch

    import sdinterp

    rng = np.random.default_rng(0)
    z1 = torch.tensor(rng.normal(size=(30, 5)), dtype=torch.bfloat16)
    z2 = (z1.float() + 0.2 * torch.randn(30, 5)).to(torch.bfloat16)
    factors = ["static", "dynamic"] * 15
    lb = sdinterp.estimate(z1, z2, factors)
    assert lb == sdinterp.estimate(z1.double().numpy(), z2.double().numpy(), factors)


@pytest.mark.slow  # 21 s measured on 2 shared cores
def test_a_model_with_no_layers_says_so_instead_of_counting_no_pairs():
    run = _report("python:torch.nn:Identity", str(VIDEO), "--n-pairs", "2", "--clip-length", "8", "--no-progress")
    assert run.returncode == 1
    lines = run.stderr.strip().splitlines()
    assert "lists no layers for Identity" in lines[-1] and "input:<path>" in lines[-1]
    assert "Traceback" not in run.stderr
