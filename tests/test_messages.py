"""Bad input is one line naming the flag or file and saying what to do (issue #23, item 6): seeds
refused before any model loads, a missing file named with the flag that gave it, fusion-study's
pair count refused before any work, truncated run-state files, and a plugin that failed to load
named by every command (not only `sdinterp plugins`)."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import pytest

from _paths import VIDEOS
from sdinterp import plugin_manager
from sdinterp.cli import _os_error_line, main
from sdinterp.errors import RunStateError
from sdinterp.pipeline.run_state import RunState
from sdinterp.stats import MomentStore

pytestmark = pytest.mark.usefixtures("single_thread")  # one torch thread per module (tests/conftest.py)

VIDEO = str(VIDEOS / "tree.avi")
TWOSTREAM = "twostream:gated-unidirectional-r18-w8"
#: A model spec whose loading fails with its own message: a check that names --seed ran first.
UNLOADABLE = "python:sdinterp_no_such_package:build"
#: `sdinterp ablate` up to its --report flag (read before any clip or model).
ABLATE = ["ablate", "example:tiny", VIDEO, "--layer", "late", "--metric", "python:os.path:join"]


def _error_line(err: str) -> str:
    lines = [line for line in err.splitlines() if "error:" in line]
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


# -- seeds ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("seed", ["-1", str(2**70)])
@pytest.mark.parametrize(
    "command",
    [
        ["report", UNLOADABLE, VIDEO],
        ["ablate", UNLOADABLE, VIDEO, "--layer", "x", "--metric", "python:os.path:join"],
        ["fusion-study", TWOSTREAM, VIDEO],
        ["twostream-train", UNLOADABLE, "--out", "{tmp}/w.pt"],
        ["synth", "--out", "{tmp}/synth"],  # a command's own --seed, not the kit's
    ],
    ids=lambda c: c[0],
)
def test_a_seed_out_of_range_is_refused_before_anything_loads(command, seed, tmp_path, capsys):
    argv = [a.format(tmp=tmp_path) for a in command] + ["--seed", seed]
    assert main(argv) == 1
    line = _error_line(capsys.readouterr().err)
    assert f"--seed must be an integer from 0 to {2**32 - 1}" in line and line.endswith(f"got {seed}"), line
    assert "sdinterp_no_such_package" not in line and "Overflow" not in line
    assert list(tmp_path.iterdir()) == []  # nothing written


def test_the_largest_seed_is_accepted(capsys):
    # The check lets the run go on: the error is then the model's, not the seed's.
    assert main(["report", UNLOADABLE, VIDEO, "--seed", str(2**32 - 1)]) == 1
    assert "sdinterp_no_such_package" in _error_line(capsys.readouterr().err)


# -- missing files ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "command, named",
    [
        ([*ABLATE, "--report", "{gone}"], "--report"),
        (["report", "example:tiny", VIDEO, "--config", "{gone}"], "--config"),
        (["report", "example:tiny", VIDEO, "--weights", "{gone}"], "--weights"),
        (["report", "example:tiny", "{gone}"], "input"),
        (["plot", "{gone}"], "report"),
        (["compare", "{gone}", "{gone}"], "report"),
        (["demo", "--videos", "{gone}"], "--videos"),
        (["fusion-study", TWOSTREAM, "{gone}"], "input"),
    ],
    ids=lambda c: c[0] if isinstance(c, list) else None,
)
def test_a_missing_file_is_named_with_the_flag_that_gave_it(command, named, tmp_path, capsys):
    gone = str(tmp_path / "gone" / "thing.json")
    assert main([a.format(gone=gone) for a in command]) == 1
    line = _error_line(capsys.readouterr().err)
    assert named in line and gone in line and "[Errno" not in line, line


def test_an_os_error_names_the_flag_the_spec_or_the_folder_it_came_from(tmp_path):
    parser = argparse.ArgumentParser()
    parser.add_argument("model")
    parser.add_argument("--cache")
    parser.add_argument("--out")
    weights, out = str(tmp_path / "w.pt"), str(tmp_path / "out")
    # --cache (the outer folder) first: the innermost folder holding a path is named, not the first
    args = parser.parse_args([f"twostream:gated:{weights}", "--cache", str(tmp_path), "--out", out])

    def line(exc: OSError) -> str:
        return _os_error_line(exc, parser, args)

    assert line(FileNotFoundError(2, "No such file or directory", weights)) == (
        f"argument model twostream:gated:{weights}: {weights}: no such file or folder; check the path"
    )
    assert line(PermissionError(13, "Permission denied", out)) == (
        f"--out {out}: permission denied; choose a path you can read and write"
    )
    inner = os.path.join(out, "figures", "a.png")
    assert line(OSError(28, "No space left on device", inner)) == (
        f"--out {out}: {inner}: no space left on the device; free some space or choose another path"
    )
    assert line(FileNotFoundError(2, "No such file or directory", "/elsewhere/x")) == (
        "/elsewhere/x: no such file or folder; check the path"
    )


# -- fusion-study's pair count ----------------------------------------------------------------------
@pytest.fixture()
def no_work(monkeypatch):
    """fusion-study's first piece of work (reading frames, computing flow) raises instead."""
    import sdinterp.plugins.twostream.data as data

    def refuse(*args, **kwargs):
        raise RuntimeError("the work started")

    monkeypatch.setattr(data, "TwoStreamFrames", refuse)


@pytest.mark.parametrize("n_pairs, refused", [(4, True), (8, True), (9, False)])
def test_fusion_study_refuses_pairs_that_make_one_factor_before_any_work(n_pairs, refused, no_work, capsys):
    argv = ["fusion-study", TWOSTREAM, VIDEO, "--frames-per-item", "8", "--n-pairs", str(n_pairs)]
    assert main([*argv, "--size", "32", "32"]) == 1
    line = _error_line(capsys.readouterr().err)
    if refused:
        assert f"--n-pairs {n_pairs} with --frames-per-item 8 makes no dynamic pairs" in line, line
        assert "pass --n-pairs above 8 (e.g. 16)" in line and "the work started" not in line
    else:  # one dynamic pair: the check lets it through to the work
        assert "the work started" in line, line


def test_fusion_study_refuses_a_flow_cache_that_is_a_file_before_any_work(tmp_path, no_work, capsys):
    cache = tmp_path / "cache"
    cache.write_text("")
    assert main(["fusion-study", TWOSTREAM, VIDEO, "--flow-cache", str(cache)]) == 1
    line = _error_line(capsys.readouterr().err)
    assert line.endswith(f"--flow-cache {cache}: is a file; give a folder (it is created if missing)"), line


def test_run_study_refuses_before_building_a_model():
    from sdinterp.plugins.twostream import VosAlternating, run_study

    with pytest.raises(ValueError, match="makes no dynamic pairs"):
        # an unparsable spec: had a model been built first, the error would be about the spec
        run_study(["twostream:not-a-spec"], None, None, None, VosAlternating(4), n_pairs=4)


# -- run-state files --------------------------------------------------------------------------------
@pytest.fixture()
def saved_state(tmp_path) -> Path:
    path = tmp_path / "run.state"
    RunState(path, {"run": 1}).save(MomentStore(["layer"]), next_clip=3)
    assert RunState(path, {"run": 1}).load()[1] == 3
    return path


@pytest.mark.parametrize(
    "cut, expected",
    [
        (lambda b: b"", "the file is empty (0 bytes)"),
        (lambda b: b[: len(b) // 2], "the file is truncated or corrupt"),
        (lambda b: b[:-10], "the file is truncated or corrupt"),
        (lambda b: b"not a run state", "it is not a file sdinterp wrote"),
        (lambda b: b"hello world", "the file is truncated or corrupt"),
    ],
    ids=["empty", "half", "tail-cut", "text", "other-text"],
)
def test_a_damaged_run_state_is_one_line_naming_resume_and_the_file(saved_state, cut, expected):
    saved_state.write_bytes(cut(saved_state.read_bytes()))
    with pytest.raises(RunStateError) as info:
        RunState(saved_state, {"run": 1}).load()
    text = str(info.value)
    assert text.startswith(f"--resume {saved_state}: cannot read run state: {expected}"), text
    assert text.endswith("delete it to start afresh or pass another --resume path") and "\n" not in text
    assert "Errno" not in text


def test_report_with_an_empty_resume_file_says_so(tmp_path, capsys):
    state = tmp_path / "run.state"
    state.write_bytes(b"")
    argv = ["report", "example:tiny", VIDEO, "--n-pairs", "2", "--clip-length", "8", "--batch-size", "2"]
    assert main([*argv, "--no-progress", "--no-validity", "--resume", str(state)]) == 1
    line = _error_line(capsys.readouterr().err)
    assert f"--resume {state}: cannot read run state: the file is empty (0 bytes)" in line, line


# -- a plugin that failed to load -------------------------------------------------------------------
@pytest.fixture()
def broken_plugin(tmp_path, monkeypatch):
    """An installed distribution whose plugin imports a module sdinterp does not have."""
    (tmp_path / "broken_plugin_mod.py").write_text("import sdinterp.no_such_module\n")
    info = tmp_path / "broken_dist-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: broken-dist\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[sdinterp]\nbroken = broken_plugin_mod\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    plugin_manager.reset()
    yield
    plugin_manager.reset()  # the next use reads the entry points again, without this one
    sys.modules.pop("broken_plugin_mod", None)


def _plugin_warnings(err: str) -> list[str]:
    return [line for line in err.splitlines() if "warning: plugin 'broken'" in line]


@pytest.mark.parametrize(
    "argv",
    [
        ["layers", "example:tiny"],
        ["report", "example:tiny", VIDEO, "--n-pairs", "2", "--clip-length", "8", "--batch-size", "2", "--no-progress"],
    ],
    ids=lambda a: a[0],
)
def test_every_command_names_a_plugin_that_failed_and_runs_on(argv, broken_plugin, capsys):
    assert main(argv) == 0
    captured = capsys.readouterr()
    (line,) = _plugin_warnings(captured.err)
    assert line.startswith(f"sdinterp {argv[0]}: warning: plugin 'broken' (broken-dist 1.0) failed to load"), line
    assert "ModuleNotFoundError: No module named 'sdinterp.no_such_module'" in line and "docs/api.md" in line
    assert "`sdinterp plugins`" in line and captured.out  # the command's own output is there


def test_plugins_lists_the_failure_without_a_warning_and_an_unknown_command_names_it(broken_plugin, capsys):
    assert main(["plugins"]) == 0
    captured = capsys.readouterr()
    assert not _plugin_warnings(captured.err)
    assert "broken-dist" in captured.out and "sdinterp.no_such_module" in captured.out
    with pytest.raises(SystemExit) as exc:
        main(["command-the-broken-plugin-would-add"])
    assert exc.value.code == 2
    (line,) = _plugin_warnings(capsys.readouterr().err)
    assert line.startswith("sdinterp: warning: plugin 'broken'")


def test_a_model_taking_more_frames_than_the_clip_holds_is_refused_or_warned(tmp_path, capsys):
    """r3d_18 takes 16 frames: from 4-frame clips every frame would appear 4 times. The command line
    refuses it naming both ways out; the API (the reference's subsampling, which repeats) warns."""
    import numpy as np

    import sdinterp
    from sdinterp.errors import ShortVideoWarning

    out = tmp_path / "r.json"
    argv = ["report", "torchvision:r3d_18", VIDEO, "--clip-length", "4", "--crop-size", "32", "--json", str(out)]
    assert main(argv) == 1
    line = _error_line(capsys.readouterr().err)
    assert "torchvision:r3d_18 takes 16 frames per clip, more than --clip-length 4 holds" in line
    assert "pass --clip-length 16 or more, or --frames 4 or fewer" in line and not out.exists()
    adapter = sdinterp.load_adapter("torchvision:r3d_18", num_frames=8, crop_size=32)
    short = sdinterp.Sample(frames=np.zeros((4, 32, 32, 3), np.uint8), video_id="short")
    with pytest.warns(ShortVideoWarning, match="clip short has 4 frames and VideoResNet takes 8: frames repeat"):
        viewed = adapter.views(short)
    assert viewed.view_indices()[0].tolist() == [0, 0, 0, 1, 1, 2, 2, 3]
