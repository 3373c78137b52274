"""A result is never silently wrong, and bad input gets one clear line: the cases of the
trustworthy-runs issue, run through the CLI as a user runs it."""

from __future__ import annotations

import json
import resource
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from _paths import VIDEOS, small_report_flags
from _videotools import moving_texture, write_frames, write_video

TREE, VTEST = VIDEOS / "tree.avi", VIDEOS / "vtest.avi"
SMALL = small_report_flags()


def _report(*args: str, timeout: int = 300) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "sdinterp", "report", *map(str, args)], capture_output=True, text=True, timeout=timeout
    )


def _one_line_error(run: subprocess.CompletedProcess) -> str:
    assert run.returncode == 1, run.stdout + run.stderr
    errors = [l for l in run.stderr.splitlines() if "error:" in l]
    assert len(errors) == 1 and "Traceback" not in run.stderr, run.stderr
    return errors[0]


# -- 1. a run's identity covers inputs, model and weights ------------------------------------------
@pytest.mark.slow  # 68 s measured on 2 shared cores
def test_resume_of_another_run_is_refused_naming_what_differs(tmp_path):
    state = tmp_path / "run.state"
    first = _report("torchvision:r3d_18", TREE, *SMALL, "--resume", state, "--json", tmp_path / "a.json")
    assert first.returncode == 0, first.stderr
    again = _report("torchvision:r3d_18", TREE, *SMALL, "--resume", state, "--json", tmp_path / "b.json")
    assert again.returncode == 0, again.stderr  # the same run resumes (here: is already complete)
    assert (tmp_path / "a.json").read_text() == (tmp_path / "b.json").read_text()

    line = _one_line_error(_report("torchvision:r3d_18", VTEST, *SMALL, "--resume", state))
    assert "belongs to another run" in line and "inputs.videos[0].id: 'tree' -> 'vtest'" in line
    line = _one_line_error(_report("torchvision:mc3_18", TREE, *SMALL, "--resume", state))
    assert "model.class" in line or "model.state_sha256" in line
    line = _one_line_error(_report("torchvision:r3d_18", TREE, *SMALL, "--resume", state, "--seed", "1"))
    assert "seed: 0 -> 1" in line
    # other weights, same everything else
    torch.manual_seed(9)
    import sdinterp

    torch.save(
        sdinterp.load_adapter("torchvision:r3d_18", num_frames=4, crop_size=32).model.state_dict(), tmp_path / "w.pth"
    )
    line = _one_line_error(
        _report("torchvision:r3d_18", TREE, *SMALL, "--resume", state, "--weights", tmp_path / "w.pth")
    )
    assert "model.state_sha256" in line


def test_identity_has_no_false_differences():
    from sdinterp.pipeline.identity import differences

    assert differences({"a": (1, 2), "b": {"c": [3]}}, {"a": [1, 2], "b": {"c": (3,)}}) == []
    assert differences({"a": 1}, {"a": 2, "b": 3}) == ["a: 1 -> 2", "b: '<absent>' -> 3"]


# -- 2. safe files ---------------------------------------------------------------------------------
class _Plant:
    """Unpickling this creates a file: the proof that a loader ran code."""

    def __init__(self, marker: str):
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (Path(self.marker),))


@pytest.mark.slow  # 24 s measured on 2 shared cores
@pytest.mark.parametrize("flag", ["--weights", "--resume"])
def test_a_planted_pickle_never_runs(tmp_path, flag):
    marker = tmp_path / "pwned"
    planted = tmp_path / "planted.pth"
    torch.save({"state_dict": _Plant(str(marker))}, planted)
    line = _one_line_error(_report("torchvision:r3d_18", TREE, *SMALL, flag, planted))
    assert not marker.exists()
    if flag == "--weights":
        assert "--trust-weights" in line and "run any code" in line
    else:
        assert "cannot read run state" in line


@pytest.mark.slow  # 13 s measured on 2 shared cores
def test_resume_file_of_the_wrong_shape_is_one_line(tmp_path):
    bad = tmp_path / "list.state"
    torch.save([1, 2, 3], bad)
    assert "not an sdinterp run-state file" in _one_line_error(
        _report("torchvision:r3d_18", TREE, *SMALL, "--resume", bad)
    )


# -- 4. bounded work per clip ------------------------------------------------------------------------
@pytest.mark.slow  # 29 s measured on 2 shared cores
def test_memory_does_not_grow_with_clip_length(tmp_path):
    # 100000 frames of tree.avi (68 frames of 240x320 looped) would need ~23 GB if decoded.
    args = [
        "torchvision:r3d_18",
        TREE,
        "--layers",
        "stage2",
        "--frames",
        "4",
        "--crop-size",
        "32",
        "--n-pairs",
        "4",
        "--no-progress",
    ]
    small = _report(*args, "--clip-length", "8")
    assert small.returncode == 0, small.stderr
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    big = _report(*args, "--clip-length", "100000")
    assert big.returncode == 0, big.stderr
    after = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    assert after - before < 200_000, f"peak RSS grew by {(after - before) / 1e3:.0f} MB"  # KiB on Linux
    warned = [l for l in big.stderr.splitlines() if "fewer than the 100000-frame clip window" in l]
    assert len(warned) == 1 and "tree.avi" in warned[0]


def test_views_only_decode_gives_the_same_report():
    import sdinterp
    from sdinterp.data import VideoClipDataset

    ds = VideoClipDataset(str(TREE), clip_length=24, seed=3, style=None, num_clips=6)
    sd = sdinterp.StaticDynamic(
        sdinterp.load_adapter("torchvision:r3d_18", num_frames=4, crop_size=32), layers=["stage2"]
    )
    bounded = sd.attribute(ds, n_pairs=6, batch_size=6, show_progress=False)
    full = sd.attribute([ds[i] for i in range(6)], n_pairs=6, batch_size=6, show_progress=False)
    assert bounded["stage2"].scores == full["stage2"].scores
    assert ds.with_views(lambda n: (np.array([0, n - 1]),))[0].num_frames == 2


# -- 5. nothing silently dropped or degenerate ---------------------------------------------------------
@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    root = tmp_path_factory.mktemp("inputs")
    for k in range(3):
        write_video(root / f"v{k}.mkv", moving_texture(t=12, h=40, w=48, seed=k))
    return root


def test_unused_inputs_and_few_pairs_warn(folder):
    run = _report("torchvision:r3d_18", folder, *SMALL[:6], "--n-pairs", "2", "--clip-length", "8", "--no-progress")
    assert run.returncode == 0, run.stderr
    assert "2 of the 3 videos are used" in run.stderr and "--n-pairs 3" in run.stderr
    assert "n_pairs=2 is below 16" in run.stderr and "unreliable" in run.stderr


@pytest.mark.slow  # 22 s measured on 2 shared cores
def test_one_frame_video_is_refused_by_name_or_skipped(folder, tmp_path):
    root = tmp_path / "data"
    root.mkdir()
    for f in folder.iterdir():
        (root / f.name).symlink_to(f)
    write_video(root / "still.mkv", moving_texture(t=1, h=40, w=48))
    line = _one_line_error(_report("torchvision:r3d_18", root, *SMALL))
    assert "still.mkv" in line and "--skip-bad" in line
    ok = _report("torchvision:r3d_18", root, *SMALL, "--skip-bad", "--json", tmp_path / "r.json")
    assert ok.returncode == 0, ok.stderr
    config = json.loads((tmp_path / "r.json").read_text())["identity"]
    assert any("still.mkv" in s for s in config["skipped_inputs"])
    assert "still" not in [v["id"] for v in config["inputs"]["videos"]]


@pytest.mark.slow  # 20 s measured on 2 shared cores
def test_stylized_frame_count_mismatch_is_refused_unless_skipped(tmp_path):
    for style, t in ((0, 10), (1, 9)):
        write_frames(tmp_path / "ds" / f"style_{style}" / "clipA", moving_texture(t=t, h=40, w=48))
        write_frames(tmp_path / "ds" / f"style_{style}" / "clipB", moving_texture(t=10, h=40, w=48, seed=1))
    line = _one_line_error(_report("torchvision:r3d_18", tmp_path / "ds", *SMALL))
    assert "clipA" in line and "frames" in line
    ok = _report("torchvision:r3d_18", tmp_path / "ds", *SMALL, "--skip-bad", "--json", tmp_path / "r.json")
    assert ok.returncode == 0, ok.stderr
    assert [v["id"] for v in json.loads((tmp_path / "r.json").read_text())["identity"]["inputs"]["videos"]] == ["clipB"]


def test_python_api_refuses_non_positive_sizes():
    import sdinterp

    for option in ("num_frames", "crop_size", "short_side"):
        with pytest.raises(ValueError, match=f"{option} must be a positive integer"):
            sdinterp.load_adapter("torchvision:r3d_18", **{option: 0})


# -- 6. a run never ends in losing its results ------------------------------------------------------
def test_output_failure_after_the_run_saves_the_report_elsewhere(tmp_path, monkeypatch, capsys):
    from sdinterp.cli import main
    from sdinterp.report import BiasReport

    real = BiasReport.to_json

    def disk_full(self, path=None, *args, **kwargs):
        if path is not None and str(path).endswith("out.json"):
            raise OSError(28, "No space left on device")
        return real(self, path, *args, **kwargs)

    monkeypatch.setattr(BiasReport, "to_json", disk_full)
    state = tmp_path / "run.state"
    code = main(
        [
            "report",
            "torchvision:r3d_18",
            str(TREE),
            *SMALL,
            "--resume",
            str(state),
            "--json",
            str(tmp_path / "out.json"),
        ]
    )
    err = capsys.readouterr().err
    assert code == 1 and "No space left on device" in err
    saved = tmp_path / "run.state.report.json"
    assert str(saved) in err and BiasReport.from_json(saved)["stage2"].n_units == 64


# -- 7. one line for every user error ---------------------------------------------------------------
def test_unexpected_exception_types_are_one_line(monkeypatch, capsys):
    import sdinterp.commands.report as report_cmd
    from sdinterp.cli import main

    def boom(args):
        raise AttributeError("'list' object has no attribute 'get'")

    monkeypatch.setattr(report_cmd, "_check", boom)
    assert main(["report", "torchvision:r3d_18", str(TREE)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "AttributeError" in err and "--debug" in err


# -- 9. every option says what it does and its default ------------------------------------------------
def test_every_report_option_has_help_and_default():
    import argparse

    from sdinterp.cli import build_parser

    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    report = sub.choices["report"]
    for action in report._actions:
        if not action.option_strings or action.help in (argparse.SUPPRESS,) or "--help" in action.option_strings:
            continue
        assert action.help and "default" in action.help, action.option_strings
        if action.choices:
            assert all(str(c) in action.help for c in action.choices if ":" not in str(c)), action.option_strings
