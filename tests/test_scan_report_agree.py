"""`sdinterp scan` and `sdinterp report` judge inputs with one set of checks (issue #23 items 6 and 7):
what scan calls an error, report refuses with the same words before loading a model; what scan
passes, report reads. Decoders' own stderr lines never come before the toolkit's one line."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from _paths import VIDEOS
from _videotools import write_frames, write_video
from sdinterp.cli import main

CONCERT = VIDEOS / "concert_176x144.mp4"
SMALL = ["--layers", "stage2", "--crop-size", "32", "--clip-length", "4", "--n-pairs", "2", "--no-progress"]


def _frames(n: int, h: int = 48, w: int = 64, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (n, h, w, 3), dtype=np.uint8)


def _scan(path: Path, capfd: pytest.CaptureFixture[str]) -> tuple[int, list[dict], str]:
    rc = main(["scan", str(path), "--json"])
    out, err = capfd.readouterr()
    return rc, json.loads(out)["problems"], err


def _report_refusal(path: Path, capfd: pytest.CaptureFixture[str]) -> tuple[int, str]:
    rc = main(["report", "tiny:i3d-motion", str(path), *SMALL])
    return rc, capfd.readouterr().err


def _bad_inputs(root: Path) -> dict[str, tuple[Path, str]]:
    """name -> (input, words the one error must hold)."""
    one_frame = write_video(root / "one.avi", _frames(1))
    fold = root / "fold"
    fold.mkdir()
    shutil.copy(CONCERT, fold / "clip.png")  # an MP4 named as a frame
    lone = root / "lone.png"
    shutil.copy(CONCERT, lone)
    single = write_frames(root / "single", _frames(1))
    junk = root / "junk.mp4"
    junk.write_bytes(b"not a video at all" * 10)
    cut = root / "cut.mp4"
    cut.write_bytes(CONCERT.read_bytes()[:100_000])  # the index (moov) is at the end: cut off
    return {
        "1-frame video": (one_frame, "a static pair needs at least 2 different frames"),
        "mp4 named .png in a folder": (fold, "holds an MP4/MOV video, not an image: rename it to .mp4"),
        "mp4 named .png, given alone": (lone, "holds an MP4/MOV video, not an image: rename it to .mp4"),
        "1-frame folder": (single, "a static pair needs at least 2 different frames"),
        "junk named .mp4": (junk, "unreadable or corrupt video"),
        "truncated mp4": (cut, "unreadable or corrupt video"),
    }


def test_what_scan_calls_an_error_report_refuses_in_the_same_words(tmp_path, capfd):
    for name, (path, words) in _bad_inputs(tmp_path).items():
        rc, problems, scan_err = _scan(path, capfd)
        errors = [p for p in problems if p["severity"] == "error"]
        assert rc == 1 and errors, name
        assert words in errors[0]["message"], (name, errors)
        assert scan_err == "", (name, scan_err)  # no decoder lines: the problems are on stdout
        rc, err = _report_refusal(path, capfd)
        lines = err.strip().splitlines()
        assert rc == 1 and len(lines) == 1, (name, err)  # one line: no decoder noise before it
        assert lines[0].startswith("sdinterp report: error: ") and words in lines[0], (name, lines)
        assert errors[0]["message"] in lines[0], (name, lines)  # the scan's words, not another verdict


def test_what_scan_passes_report_reads_and_large_frames_are_a_note(tmp_path, capfd):
    big = write_video(tmp_path / "big.avi", _frames(4, 1088, 1952), codec="ffv1")  # beyond Full HD
    rc, problems, err = _scan(big, capfd)
    assert rc == 0 and err == ""
    assert [(p["kind"], p["severity"]) for p in problems] == [("resolution", "note")]
    assert "frames are 1952x1088" in problems[0]["message"]
    assert main(["scan", str(big)]) == 0
    out = capfd.readouterr().out
    assert "NOTE    [resolution]" in out and "0 error(s), 0 warning(s), 1 note(s)" in out
    rc = main(["report", "tiny:i3d-motion", str(big), *SMALL, "--quiet", "--json", str(tmp_path / "r.json")])
    assert rc == 0, capfd.readouterr().err
    assert json.loads((tmp_path / "r.json").read_text())["layers"]


def test_scan_min_frames_cannot_go_below_what_a_run_needs(tmp_path, capfd):
    one = write_video(tmp_path / "one.avi", _frames(1))
    assert main(["scan", str(one), "--min-frames", "1"]) == 1
    assert "at least 2 different frames" in capfd.readouterr().out
    two = write_video(tmp_path / "two.avi", _frames(2))
    assert main(["scan", str(two)]) == 0
    capfd.readouterr()


def test_corrupt_frames_mid_stream_make_no_decoder_lines(tmp_path, capfd):
    clip = write_video(tmp_path / "fs.mp4", _frames(30, 64, 96), codec="libx264", faststart=True)
    data = clip.read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: len(data) * 2 // 3])  # index at the front, frames cut off mid-stream
    for backend in ("auto", "pyav"):
        main(["scan", str(cut), "--deep", "--backend", backend])
        out, err = capfd.readouterr()
        assert err == "", (backend, err)
        assert "1 video(s) checked" in out
