"""Dataset layouts (plain, style_<k>, Stylized-DAVIS) and the Sample dataset with DataLoader workers."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch.utils.data

from _videotools import CONCERT, TREE, VTEST, random_clip, write_frames, write_video
from sdinterp.data.datasets import (
    VideoClipDataset,
    VideoEntry,
    collate_samples,
    davis_layout,
    discover,
    find_videos,
    stylized_layout,
)
from sdinterp.data.video import VideoReadError
from sdinterp.interfaces import Sample


def real_entries() -> list[VideoEntry]:
    return [VideoEntry(p.stem, {None: str(p)}) for p in (VTEST, TREE, CONCERT)]


def make_stylized(root: Path, styles=(1, 2, 3), t: int = 6) -> dict[str, np.ndarray]:
    """root/style_k/<video>: one frame folder and one lossless video per style, distinct content."""
    clips = {}
    for k in styles:
        a = random_clip(t, 8, 10, seed=10 * k)
        b = random_clip(t + 2, 8, 10, seed=10 * k + 1)
        write_frames(root / f"style_{k}" / "walk", a, pattern="{:06d}.png", start=1)  # reference naming: 000001...
        write_video(root / f"style_{k}" / "jump.mkv", b, "ffv1")
        clips[f"{k}/walk"], clips[f"{k}/jump"] = a, b
    return clips


def make_davis(root: Path, t: int = 5, flow_size=(8, 10)) -> None:
    for s in ("Lynx", "Maruska640", "Zuzka1", "Zuzka2"):
        write_frames(root / "JPEGImages" / s / "bear", random_clip(t, 8, 10, seed=len(s)))
        write_frames(root / "JPEGImages" / s / "cows", random_clip(t, 8, 10, seed=len(s) + 1))
    for seq in ("bear", "cows"):
        write_frames(root / "FlowImages_gap1" / seq, random_clip(t - 1, *flow_size, seed=5))  # last frame has none
    (root / "ImageSets" / "480p").mkdir(parents=True)
    (root / "ImageSets" / "480p" / "val.txt").write_text(
        "".join(f"/JPEGImages/480p/bear/{i:05d}.jpg /Annotations/480p/bear/{i:05d}.png\n" for i in range(t))
    )


# -- the real clips ----------------------------------------------------------------------------------
def test_dataset_of_real_clips_is_deterministic_and_consecutive() -> None:
    ds = VideoClipDataset(real_entries(), clip_length=12, num_frames=4, seed=3, style=None)
    assert len(ds) == 3
    a, b = ds[0], ds[0]
    assert isinstance(a, Sample) and a.frames.shape == (4, 576, 768, 3)
    np.testing.assert_array_equal(a.frames, b.frames)
    window = a.meta["start"] + np.arange(12)
    np.testing.assert_array_equal(a.frame_indices, window[[0, 3, 7, 11]])  # linspace(0, 11, 4) truncated
    assert ds[1].meta["num_source_frames"] == 68 and ds[2].frames.shape[1:3] == (144, 176)
    other = VideoClipDataset(real_entries(), clip_length=12, num_frames=4, seed=4, style=None)
    assert [other[i].meta["start"] for i in range(3)] != [ds[i].meta["start"] for i in range(3)]


def test_dataloader_workers_give_the_same_items_as_the_main_process() -> None:
    ds = VideoClipDataset(real_entries(), clip_length=8, num_frames=3, seed=11, style=None, repeats=2)
    serial = [ds[i] for i in range(len(ds))]
    loader = torch.utils.data.DataLoader(ds, batch_size=2, num_workers=2, collate_fn=collate_samples)
    batched = [s for batch in loader for s in batch]
    assert len(batched) == 6 and all(isinstance(s, Sample) for s in batched)
    for x, y in zip(serial, batched):
        np.testing.assert_array_equal(x.frame_indices, y.frame_indices)
        np.testing.assert_array_equal(x.frames, y.frames)
    assert serial[0].meta["start"] != serial[3].meta["start"]  # repeats draw new windows


def test_whole_window_kept_without_num_frames_and_cycled_when_short() -> None:
    ds = VideoClipDataset([VideoEntry("tree", {None: str(TREE)})], clip_length=100, seed=0, style=None)
    s = ds[0]
    assert s.num_frames == 100 and s.frame_indices.tolist() == [i % 68 for i in range(100)]
    strict = VideoClipDataset([VideoEntry("tree", {None: str(TREE)})], clip_length=100, cycle=False, style=None)
    with pytest.raises(VideoReadError, match=r"tree\.avi: the video has 68 frames but the clip needs 100"):
        strict[0]


def test_find_videos_lists_files_and_frame_folders(tmp_path) -> None:
    write_video(tmp_path / "a" / "x.mkv", random_clip(3, 8, 8), "ffv1")
    write_frames(tmp_path / "b" / "seq", random_clip(2, 8, 8))
    ids = [e.video_id for e in find_videos(tmp_path)]
    assert ids == ["a/x", "b/seq"]
    assert [e.video_id for e in find_videos(VTEST)] == ["vtest"]


def test_computed_flow_is_cached(tmp_path) -> None:
    from _videotools import moving_texture

    path = write_video(tmp_path / "m.mkv", moving_texture(5, 48, 64, shift=(2, 0)), "ffv1")
    ds = VideoClipDataset(
        [VideoEntry("m", {None: str(path)})],
        clip_length=3,
        start=1,
        style=None,
        flow="dis",
        flow_cache=tmp_path / "cache",
    )
    s = ds[0]
    assert s.flow.shape == (3, 48, 64, 2) and s.flow.dtype == np.float32
    assert abs(float(np.median(s.flow[..., 0])) - 2.0) < 0.3  # the texture moves 2 px right per frame
    assert len(list((tmp_path / "cache").rglob("*.npy"))) == 3
    np.testing.assert_allclose(ds[0].flow, s.flow, atol=1e-2)


# -- root/style_<k>/<video> ----------------------------------------------------------------------------
def test_stylized_layout_and_random_styles(tmp_path) -> None:
    clips = make_stylized(tmp_path)
    entries, problems = stylized_layout(tmp_path)
    assert problems == [] and [e.video_id for e in entries] == ["jump", "walk"]
    assert entries[1].styles == [1, 2, 3]
    ds = VideoClipDataset(tmp_path, clip_length=4, seed=0)
    styles = set()
    for i in range(len(ds)):
        s = ds[i]
        styles.add(s.style)
        src = clips[f"{s.style}/{s.video_id}"]
        np.testing.assert_array_equal(s.frames, src[s.frame_indices])
    ds_many = VideoClipDataset(tmp_path, clip_length=4, seed=0, repeats=20)
    assert {ds_many[i].style for i in range(len(ds_many))} == {1, 2, 3}


def test_video_missing_from_one_style_is_reported(tmp_path) -> None:
    make_stylized(tmp_path)
    (tmp_path / "style_2" / "jump.mkv").unlink()
    entries, problems = stylized_layout(tmp_path)
    assert [e.video_id for e in entries] == ["walk"]
    assert len(problems) == 1 and problems[0].kind == "missing_style"
    assert "style_2/jump" in problems[0].path and "missing from style 2" in problems[0].message
    with pytest.raises(VideoReadError, match=r"style_2/jump: video 'jump' is missing from style 2"):
        VideoClipDataset(tmp_path)
    assert len(VideoClipDataset(tmp_path, on_problem="skip")) == 1


def test_layout_errors(tmp_path) -> None:
    assert discover(tmp_path / "nothing")[1][0].message == "dataset root not found"
    make_stylized(tmp_path)
    _, problems = stylized_layout(tmp_path, styles=[1, 9])
    assert "style_9" in problems[0].path


# -- Stylized-DAVIS -----------------------------------------------------------------------------------
def test_davis_layout_with_flow_images(tmp_path) -> None:
    make_davis(tmp_path)
    entries, problems = davis_layout(tmp_path)
    assert problems == [] and [e.video_id for e in entries] == ["bear", "cows"]
    entries, _ = davis_layout(tmp_path, split="val")
    assert [e.video_id for e in entries] == ["bear"]
    ds = VideoClipDataset(tmp_path, clip_length=3, seed=1, flow="images", layout_options={"split": "val"})
    s = ds[0]
    assert s.style in ("Lynx", "Maruska640", "Zuzka1", "Zuzka2")
    assert s.flow.shape == (3, 8, 10, 3) and s.flow.dtype == np.uint8
    assert s.frame_indices.max() <= 3  # the last frame (no flow image) is never sampled
    expected = np.asarray(
        __import__("PIL.Image", fromlist=["Image"]).open(
            tmp_path / "FlowImages_gap1" / "bear" / f"{s.frame_indices[0]:05d}.png"
        )
    )
    np.testing.assert_array_equal(s.flow[0], expected)


def test_davis_flow_of_wrong_size_names_the_file(tmp_path) -> None:
    make_davis(tmp_path, flow_size=(6, 10))
    ds = VideoClipDataset(tmp_path, clip_length=2, start=0, flow="images")
    with pytest.raises(ValueError, match=r"FlowImages_gap1/bear/00000\.png: flow image is 6x10 \(HxW\) but 8x10"):
        ds[0]
    resized = VideoClipDataset(tmp_path, clip_length=2, start=0, flow="images", flow_resize=True)[0]
    assert resized.flow.shape == (2, 8, 10, 3)


def test_davis_missing_flow_image_names_the_file(tmp_path) -> None:
    make_davis(tmp_path)
    (tmp_path / "FlowImages_gap1" / "cows" / "00001.png").unlink()
    ds = VideoClipDataset(tmp_path, clip_length=2, start=0, flow="images", style="Lynx")
    with pytest.raises(
        VideoReadError, match=r"FlowImages_gap1/cows/00001\.png: flow image for frame 00001\.png not found"
    ):
        ds[1]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"clip_length": 0}, "clip_length must be a positive integer, got 0"),
        ({"clip_length": 2.5}, "clip_length must be a positive integer, got 2.5"),
        ({"clip_length": 8, "num_frames": 0}, "num_frames must be a positive integer, got 0"),
        ({"clip_length": 8, "num_frames": 16}, "num_frames=16 is more than clip_length=8"),
    ],
)
def test_window_options_that_would_truncate_or_repeat_are_refused(options, message):
    with pytest.raises(ValueError, match=message):
        VideoClipDataset([VideoEntry("tree", {None: str(TREE)})], style=None, **options)
    assert (
        len(
            VideoClipDataset([VideoEntry("tree", {None: str(TREE)})], clip_length=8, num_frames=8, style=None)[0].frames
        )
        == 8
    )
