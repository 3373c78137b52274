"""The synthetic generator: seeded, the class carried only by the intended factor, masks that are the
rendered object, and output the toolkit reads like any dataset."""

from __future__ import annotations

import math

import numpy as np

from sdinterp.cli import main
from sdinterp.data.datasets import VideoClipDataset
from sdinterp.data.scan import scan_dataset
from sdinterp.data.video import read_image
from sdinterp.plugins.synthetic import SynthConfig, generate, read_labels, render_video, write_dataset


def _videos(kind: str, n: int = 48, **kw):
    return [v for _, v in generate(SynthConfig(kind=kind, videos=n, frames=8, size=32, seed=3, **kw))]


def _colour_histogram(frame: np.ndarray) -> np.ndarray:
    q = (frame // 64).reshape(-1, 3).astype(int)  # 4 levels per channel
    return np.bincount(q[:, 0] * 16 + q[:, 1] * 4 + q[:, 2], minlength=64) / len(q)


def _vivid_hue_histogram(frame: np.ndarray) -> np.ndarray:
    """Hue histogram of the frame's strongly saturated pixels (one frame, no mask): the object is
    drawn more saturated than any background, so this is the object's colour if it carries one."""
    import cv2

    hsv = cv2.cvtColor(frame, cv2.COLOR_RGB2HSV)
    vivid = hsv[..., 1] > 200
    return np.bincount(hsv[..., 0][vivid] // 15, minlength=12) / max(1, int(vivid.sum()))


def _loo_nearest_centroid(features: np.ndarray, labels: np.ndarray) -> float:
    """Leave-one-out accuracy of a nearest-class-mean classifier."""
    hits = 0
    for i in range(len(labels)):
        keep = np.arange(len(labels)) != i
        means = np.stack([features[keep & (labels == c)].mean(0) for c in np.unique(labels)])
        hits += int(np.argmin(((means - features[i]) ** 2).sum(1)) == labels[i])
    return hits / len(labels)


def _displacement_angle(v, size: int = 32) -> float:
    """Direction of the object's mean step between frames (from mask centroids, on the torus)."""
    steps = []
    for a, b in zip(v.masks[:-1], v.masks[1:]):
        ca, cb = (np.array(_torus_centroid(m, size)) for m in (a, b))
        steps.append((cb - ca + size / 2) % size - size / 2)
    dy, dx = np.mean(steps, axis=0)
    return math.atan2(dy, dx) % (2 * math.pi)


def _torus_centroid(mask: np.ndarray, size: int) -> tuple[float, float]:
    ys, xs = np.nonzero(mask)

    def ang(p):
        return math.atan2(np.sin(2 * math.pi * p / size).mean(), np.cos(2 * math.pi * p / size).mean())

    return (ang(ys) % (2 * math.pi)) * size / (2 * math.pi), (ang(xs) % (2 * math.pi)) * size / (2 * math.pi)


def _direction_accuracy(videos, classes: int = 4) -> float:
    pred = [round(_displacement_angle(v) / (2 * math.pi / classes)) % classes for v in videos]
    return float(np.mean([p == v.label for p, v in zip(pred, videos)]))


def test_same_seed_same_videos_other_seed_other_videos():
    cfg = SynthConfig(kind="both", videos=3, frames=4, size=24, seed=5, difficulty=0.5)
    a, b = render_video(cfg, 2), render_video(cfg, 2)
    assert np.array_equal(a.frames, b.frames) and np.array_equal(a.masks, b.masks) and a.params == b.params
    other = render_video(SynthConfig(kind="both", videos=3, frames=4, size=24, seed=6, difficulty=0.5), 2)
    assert not np.array_equal(a.frames, other.frames)
    assert [v.label for _, v in generate(cfg)] == [0, 1, 2]


def test_motion_class_is_not_in_any_single_frame():
    cfg = SynthConfig(kind="motion", frames=8, size=32, seed=1)
    # The counterfactual: the same video with another class starts from the very same frame.
    firsts = [render_video(cfg, 7, label=c).frames[0] for c in range(4)]
    assert all(np.array_equal(firsts[0], f) for f in firsts[1:])
    assert not np.array_equal(render_video(cfg, 7, label=0).frames[-1], render_video(cfg, 7, label=1).frames[-1])
    videos = _videos("motion")
    labels = np.array([v.label for v in videos])
    for t in (0, 7):  # per-frame colour histograms: no better than chance (0.25), at any frame
        for feature in (_colour_histogram, _vivid_hue_histogram):
            hist = np.stack([feature(v.frames[t]) for v in videos])
            assert _loo_nearest_centroid(hist, labels) <= 0.45, (t, feature.__name__)
    assert _direction_accuracy(videos) == 1.0  # while the motion tells the class exactly


def test_appearance_class_is_in_one_frame_and_not_in_the_motion():
    videos = _videos("appearance")
    labels = np.array([v.label for v in videos])
    hist = np.stack([_vivid_hue_histogram(v.frames[0]) for v in videos])
    assert _loo_nearest_centroid(hist, labels) >= 0.9
    assert _direction_accuracy(videos) <= 0.45
    both = _videos("both")
    assert _direction_accuracy(both) == 1.0
    assert _loo_nearest_centroid(np.stack([_vivid_hue_histogram(v.frames[0]) for v in both]), labels) >= 0.9


def test_masks_and_boxes_are_the_rendered_object():
    for kind in ("motion", "appearance", "camouflage"):
        v = render_video(SynthConfig(kind=kind, frames=6, size=32, seed=2), 1)
        areas = v.masks.sum(axis=(1, 2))
        assert areas.min() > 20 and areas.max() - areas.min() <= 0.2 * areas.max()
        for f in range(1, 6):
            changed = np.any(v.frames[f] != v.frames[0], axis=-1)
            assert not np.any(changed & ~v.masks[f] & ~v.masks[0])  # only the object moves
        for f, m in enumerate(v.masks):
            ys, xs = np.nonzero(m)
            assert list(v.boxes[f]) == [xs.min(), ys.min(), xs.max() + 1, ys.max() + 1]


def test_camouflaged_object_is_the_background_texture_and_shows_only_through_motion():
    cfg = SynthConfig(kind="camouflage", frames=8, size=48, seed=4)
    v = render_video(cfg, 0)
    # Frame 0 is the bare background: the object is cut from the texture where it stands.
    background_only = render_video(cfg, 0).frames[0]
    later = v.frames[-1]
    outside = ~v.masks[-1]
    assert np.array_equal(later[outside], background_only[outside])  # background static
    assert np.mean(np.any(later[v.masks[-1]] != background_only[v.masks[-1]], axis=-1)) > 0.3  # moved patch differs
    # the object's colour statistics are the background's: the mean colour inside and outside agree
    inside_mean, outside_mean = later[v.masks[-1]].mean(0), later[outside].mean(0)
    assert np.abs(inside_mean - outside_mean).max() < 25
    assert v.boxes[:, 0].min() >= 0 and v.boxes[:, 2].max() <= 48 and v.boxes[:, 3].max() <= 48


def test_the_toolkit_reads_the_written_dataset(tmp_path):
    cfg = SynthConfig(kind="camouflage", videos=4, frames=6, size=32, seed=0)
    root = write_dataset(cfg, tmp_path / "png")
    entries, problems = scan_dataset(root, min_frames=6)
    assert [p for p in problems if p.severity == "error"] == [] and len(entries) == 4
    labels = read_labels(tmp_path / "png")
    ds = VideoClipDataset(root, clip_length=6, start=0, style=None, seed=0)
    rendered = dict(generate(cfg))
    for i in range(len(ds)):
        sample = ds[i]
        assert labels[sample.video_id] == rendered[sample.video_id].label
        assert np.array_equal(sample.frames, rendered[sample.video_id].frames)  # PNG is lossless
    mask = read_image(tmp_path / "png" / "masks" / "v00002" / "0003.png")[..., 0] > 127
    assert np.array_equal(mask, rendered["v00002"].masks[3])
    avi = write_dataset(cfg, tmp_path / "avi", fmt="avi", masks=False)
    sample = VideoClipDataset(avi, clip_length=6, start=0, style=None)[1]
    assert np.array_equal(sample.frames, rendered[sample.video_id].frames)  # FFV1 is lossless too


def test_synth_command_writes_and_refuses_bad_flags(tmp_path, capsys):
    out = tmp_path / "ds"
    assert (
        main(
            [
                "synth",
                "--kind",
                "appearance",
                "--classes",
                "3",
                "--videos",
                "6",
                "--frames",
                "4",
                "--size",
                "24",
                "--seed",
                "1",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    assert "6 appearance videos (3 classes" in capsys.readouterr().out
    assert sorted(read_labels(out).values()) == [0, 0, 1, 1, 2, 2]
    assert main(["synth", "--classes", "1", "--out", str(tmp_path / "x")]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--classes must be an integer >= 2" in err[0]
    assert main(["synth", "--format", "mp4", "--size", "25", "--out", str(tmp_path / "y")]) == 1
    assert "even --size" in capsys.readouterr().err


def test_synth_command_writes_the_shortcut_and_joint_kinds(tmp_path, capsys):
    """--kind shortcut with --cue: exactly round(cue * n_c) of each class's videos wear their class's
    appearance (read back from annotations.json); joint needs an even --classes of 4 or more; --cue
    with another kind is refused by name."""
    import json

    out = tmp_path / "sc"
    argv = ["synth", "--kind", "shortcut", "--cue", "0.5", "--classes", "2", "--videos", "8"]
    assert main([*argv, "--frames", "4", "--size", "24", "--camera", "1", "--out", str(out)]) == 0
    assert "8 shortcut videos (2 classes, 4 frames of 24x24, appearance cue 0.5, camera 1 px/frame)" in (
        capsys.readouterr().out
    )
    notes = json.loads((out / "annotations.json").read_text())
    videos = list(notes["videos"].values())
    assert notes["config"]["cue"] == 0.5 and notes["config"]["camera"] == 1.0
    for label in (0, 1):
        own = [v["params"]["cue_class"] == v["label"] for v in videos if v["label"] == label]
        assert len(own) == 4 and sum(own) == 2, videos
    assert main(["synth", "--kind", "joint", "--classes", "3", "--out", str(tmp_path / "j")]) == 1
    assert "--kind 'joint' needs an even number of classes >= 4" in capsys.readouterr().err
    assert main(["synth", "--kind", "motion", "--cue", "0.5", "--out", str(tmp_path / "m")]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--cue sets how often" in err[0] and "needs --kind shortcut, not motion" in err[0]
    assert not (tmp_path / "j").exists() and not (tmp_path / "m").exists()
