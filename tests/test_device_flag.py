"""`sdinterp report --device` (issue 21): a device this torch cannot use is refused in one line before
any model loads; a run on the CPU records no device, one off it records where the model ran."""

from __future__ import annotations

import json

import pytest
import torch

from _paths import VIDEOS
from sdinterp.cli import main

pytestmark = pytest.mark.usefixtures("single_thread")  # one torch thread per module (tests/conftest.py)

VIDEO = str(VIDEOS / "tree.avi")
#: A model spec whose loading fails with its own message: a check that names --device ran first.
UNLOADABLE = "python:sdinterp_no_such_package:build"


@pytest.mark.parametrize(
    ("device", "expected"),
    [
        ("gpu", "--device gpu: not a device name; give cpu, cuda, cuda:N or mps"),
        ("meta", "--device meta: sdinterp runs models on cpu, cuda or mps, not meta"),
        pytest.param(
            "cuda",
            "--device cuda: this torch sees no CUDA device",
            marks=[
                pytest.mark.skipif(torch.cuda.is_available(), reason="a CUDA device is there"),
                pytest.mark.optional_env("a machine without CUDA"),
            ],
        ),
        pytest.param(
            "cuda:64",
            "--device cuda:64: this machine has",
            marks=[
                pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device"),
                pytest.mark.optional_env("a CUDA device"),
            ],
        ),
    ],
)
def test_a_device_that_cannot_be_used_is_refused_before_the_model_loads(device, expected, tmp_path, capsys):
    assert main(["report", UNLOADABLE, VIDEO, "--device", device, "--json", str(tmp_path / "r.json")]) == 1
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if "error:" in line]
    assert len(lines) == 1 and expected in lines[0] and "Traceback" not in err, err
    assert "sdinterp_no_such_package" not in err and list(tmp_path.iterdir()) == []


def test_a_cpu_report_records_no_device(tmp_path, capsys):
    out = tmp_path / "r.json"
    argv = ["report", "tiny:i3d-motion", VIDEO, "--n-pairs", "4", "--device", "cpu", "--json", str(out), "--quiet"]
    assert main(argv) == 0
    identity = json.loads(out.read_text())["identity"]
    assert "device" not in identity and "pair_device" not in identity


def test_track_takes_device_too(tmp_path, capsys):
    """`sdinterp track` builds its model through the kit too: the same check, before any checkpoint loads."""
    checkpoint = tmp_path / "epoch_1.pt"
    torch.save({}, checkpoint)
    argv = ["track", str(checkpoint), VIDEO, "--model", "tiny:i3d-motion", "--device", "gpu"]
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert "--device gpu: not a device name" in err and "Traceback" not in err


@pytest.mark.parametrize(
    "argv",
    [
        ["ablate", UNLOADABLE, VIDEO, "--layer", "stage5", "--metric", "python:sdinterp_no_such_package:top1"],
        ["shuffle-test", UNLOADABLE, VIDEO, "--metric", "python:sdinterp_no_such_package:top1"],
        ["fusion-study", "twostream:gated-unidirectional-r18-w8", VIDEO],
    ],
    ids=["ablate", "shuffle-test", "fusion-study"],
)
def test_every_command_that_runs_a_model_checks_device_first(argv, tmp_path, capsys):
    """ablate and shuffle-test (the kit's EVALUATION_FLAGS) and fusion-study take --device too, and
    refuse one they cannot use in one line before the metric, the model or any flow is loaded."""
    assert main([*argv, "--device", "gpu", "--json", str(tmp_path / "out.json")]) == 1
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if "error:" in line]
    assert len(lines) == 1 and "--device gpu: not a device name" in lines[0] and "Traceback" not in err, err
    assert list(tmp_path.iterdir()) == []


def _fusion_argv(tmp_path, device: str) -> list[str]:
    return [
        "fusion-study",
        "twostream:gated-unidirectional-r18-w8",
        VIDEO,
        "--n-pairs",
        "4",
        "--frames-per-item",
        "2",
        "--size",
        "32",
        "40",
        "--cascades",
        "1",
        "--device",
        device,
        "--json",
        str(tmp_path / f"{device.replace(':', '_')}.json"),
        "--quiet",
    ]


def _identities(path) -> list[dict]:
    return [r["identity"] for r in json.loads(path.read_text())["reports"].values()]


def test_a_cpu_fusion_study_records_no_device(tmp_path, capsys):
    assert main(_fusion_argv(tmp_path, "cpu")) == 0
    (identity,) = _identities(tmp_path / "cpu.json")
    assert "device" not in identity and "pair_device" not in identity


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.optional_env("a CUDA device")
def test_a_cuda_fusion_study_runs_there_and_matches_the_cpu(tmp_path, capsys):
    assert main(_fusion_argv(tmp_path, "cpu")) == 0
    assert main(_fusion_argv(tmp_path, "cuda")) == 0
    cpu = json.loads((tmp_path / "cpu.json").read_text())["rows"]
    (identity,) = _identities(tmp_path / "cuda.json")
    assert identity["device"].startswith("cuda")
    gpu = json.loads((tmp_path / "cuda.json").read_text())["rows"]
    for a, b in zip(cpu, gpu):
        for key, value in a.items():
            if isinstance(value, float):
                assert b[key] == pytest.approx(value, abs=0.02), key  # TF32 convolutions on a GPU
