"""`sdinterp scan`: every problem of a dataset reported at once, non-zero exit on errors."""

from __future__ import annotations

import json
import shutil

from _videotools import TREE, VIDEOS, random_clip, write_frames, write_video
from sdinterp.cli import main
from sdinterp.data.scan import scan_dataset


def broken_stylized(root) -> None:
    """Four styles with one of each problem."""
    for k in (1, 2, 3, 4):
        write_frames(root / f"style_{k}" / "walk", random_clip(6, 8, 10, seed=k))
        write_video(root / f"style_{k}" / "run.mkv", random_clip(6, 8, 10, seed=k), "ffv1")
        write_frames(root / f"style_{k}" / "swim", random_clip(6, 8, 10, seed=k))
        shutil.copy(TREE, root / f"style_{k}" / "tree.avi")
    (root / "style_2" / "run.mkv").unlink()  # missing from one style
    write_frames(root / "style_3" / "walk", random_clip(1, 8, 10), start=6)  # 7 frames instead of 6
    (root / "style_4" / "swim" / "00002.png").write_bytes(b"garbage")  # unreadable frame
    (root / "style_1" / "tree.avi").write_bytes(b"")  # empty file
    from PIL import Image

    Image.fromarray(random_clip(1, 8, 10)[0, ..., 0], "L").save(root / "style_2" / "swim" / "00003.png")  # grayscale


def test_scan_reports_every_problem_at_once(tmp_path, capsys) -> None:
    broken_stylized(tmp_path)
    entries, problems = scan_dataset(tmp_path)
    kinds = sorted(p.kind for p in problems)
    assert kinds == ["color", "empty", "frame_count", "missing_style", "unreadable"]
    by_kind = {p.kind: p for p in problems}
    assert by_kind["missing_style"].path.endswith("style_2/run")
    assert by_kind["frame_count"].path.endswith("style_3/walk") and "7 frames" in by_kind["frame_count"].message
    assert by_kind["unreadable"].path.endswith("style_4/swim/00002.png")
    assert by_kind["empty"].path.endswith("style_1/tree.avi")
    assert by_kind["color"].severity == "warning" and "'L'" in by_kind["color"].message
    assert {e.video_id for e in entries} == {"swim", "tree", "walk"}

    assert main(["scan", str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert out.count("ERROR") == 4 and out.count("WARNING") == 1
    assert "3 video(s) checked (stylized layout): 4 error(s), 1 warning(s)" in out

    assert main(["scan", str(tmp_path), "--json", "--color", "strict", "--min-frames", "7"]) == 1
    report = json.loads(capsys.readouterr().out)
    kinds = sorted(p["kind"] for p in report["problems"])
    # strict colour turns the warning into an error; min-frames flags the 6-frame videos
    assert (
        kinds.count("color") == 1 and [p for p in report["problems"] if p["kind"] == "color"][0]["severity"] == "error"
    )
    assert kinds.count("too_short") >= 6


def test_clean_dataset_exits_zero(tmp_path, capsys) -> None:
    for k in (1, 2):
        write_video(tmp_path / f"style_{k}" / "a.mkv", random_clip(4, 8, 8, seed=k), "ffv1")
    assert main(["scan", str(tmp_path), "--deep"]) == 0
    assert "1 video(s) checked (stylized layout): 0 error(s), 0 warning(s)" in capsys.readouterr().out


def test_scan_real_clips_folder(capsys) -> None:
    # The real-data folder mixes videos with two flow frame pairs of different sizes, one grayscale.
    assert main(["scan", str(VIDEOS)]) == 1
    out = capsys.readouterr().out
    assert "rubberwhale1.png: frame is 388x584 but the first frame" in out
    assert "mode 'L', not RGB, are converted" in out
    assert "4 video(s) checked (plain layout): 2 error(s), 1 warning(s)" in out
    assert main(["scan", str(VIDEOS / "vtest.avi"), "--min-frames", "64"]) == 0


def test_scan_davis_flow_problems(tmp_path, capsys) -> None:
    for s in ("Lynx", "Maruska640", "Zuzka1", "Zuzka2"):
        write_frames(tmp_path / "JPEGImages" / s / "bear", random_clip(5, 8, 10))
        write_frames(tmp_path / "JPEGImages" / s / "cows", random_clip(5, 8, 10))
    write_frames(tmp_path / "FlowImages_gap1" / "bear", random_clip(4, 6, 10))  # wrong size
    write_frames(tmp_path / "FlowImages_gap1" / "cows", random_clip(2, 8, 10))  # too few
    entries, problems = scan_dataset(tmp_path)
    assert len(entries) == 2
    sizes = [p for p in problems if p.kind == "flow_size"]
    assert len(sizes) == 4 and "FlowImages_gap1/bear/00000.png" in sizes[0].path and "6x10" in sizes[0].message
    missing = [p for p in problems if p.kind == "flow_count"]
    assert len(missing) == 1 and missing[0].path.endswith("FlowImages_gap1/cows/00002.png")
    assert main(["scan", str(tmp_path), "--layout", "davis", "--styles", "Lynx,Zuzka1"]) == 1
    assert "2 video(s) checked (davis layout): 5 error(s)" in capsys.readouterr().out


def test_scan_missing_root(tmp_path, capsys) -> None:
    assert main(["scan", str(tmp_path / "nope")]) == 1
    assert "dataset root not found" in capsys.readouterr().out


def test_single_video_file(tmp_path) -> None:
    path = write_video(tmp_path / "x.mkv", random_clip(3, 8, 8), "ffv1")
    entries, problems = scan_dataset(path)
    assert problems == [] and [e.video_id for e in entries] == ["x"]
    _, problems = scan_dataset(path, min_frames=4)
    assert [p.kind for p in problems] == ["too_short"] and "has 3 frame(s)" in problems[0].message
