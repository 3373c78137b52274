"""Optical flow: estimation on known motion and real frames, RGB encoding, flow images, caching."""

from __future__ import annotations

import time

import numpy as np
import pytest

from _videotools import VIDEOS, moving_texture, write_frames, write_video
from sdinterp.data.flow import (
    FlowCache,
    FlowError,
    clip_flow,
    compute_flow,
    endpoint_error,
    flow_to_rgb,
    read_flow_images,
    relative_epe,
    rgb_to_flow,
)
from sdinterp.data.video import open_video, read_image


@pytest.mark.parametrize("method", ["dis", "farneback"])
def test_known_translation_is_recovered(method: str) -> None:
    frames = moving_texture(2, 96, 128, shift=(3, -2), seed=4)
    flow = compute_flow(frames[0], frames[1], method)
    assert flow.shape == (96, 128, 2) and flow.dtype == np.float32
    inner = flow[16:-16, 16:-16]  # away from the wrap-around border
    assert endpoint_error(inner, np.broadcast_to([3.0, -2.0], inner.shape)) < 0.35


def test_clip_flow_aligns_one_flow_per_frame() -> None:
    frames = moving_texture(4, 64, 80, shift=(1, 0))
    flow = clip_flow(frames)
    assert flow.shape == (4, 64, 80, 2)
    np.testing.assert_array_equal(flow[-1], flow[-2])  # the last frame repeats the previous flow
    assert np.all(np.abs(np.median(flow[..., 0], axis=(1, 2)) - 1.0) < 0.2)
    assert np.all(clip_flow(frames[:1]) == 0)


def test_real_frame_pair_has_plausible_flow() -> None:
    a, b = read_image(VIDEOS / "rubberwhale1.png"), read_image(VIDEOS / "rubberwhale2.png")
    flow = compute_flow(a, b)
    mag = np.hypot(flow[..., 0], flow[..., 1])
    assert 0.1 < float(np.median(mag)) < 5.0 and float(mag.max()) < 30  # small real motion, no blow-up
    assert endpoint_error(flow, compute_flow(b, a)) > 0.1  # forward and backward differ


def test_colour_wheel_encoding_conventions() -> None:
    assert np.all(flow_to_rgb(np.zeros((3, 3, 2))) == 255)  # no motion is white
    right = flow_to_rgb(np.array([[[1.0, 0.0]]]))[0, 0]
    left = flow_to_rgb(np.array([[[-1.0, 0.0]]]))[0, 0]
    down = flow_to_rgb(np.array([[[0.0, 1.0]]]))[0, 0]
    assert right.tolist() != left.tolist() != down.tolist()
    assert left[0] == 0 and left[2] == 255  # Middlebury wheel: leftward motion is cyan-blue...
    assert right[0] == 255 and right[1] < 40  # ...and rightward motion is red
    half = flow_to_rgb(np.array([[[0.5, 0.0], [1.0, 0.0]]]))[0]
    assert half[0].min() > half[1].min()  # smaller magnitude, paler colour


def test_rgb_round_trip_within_quantisation() -> None:
    rng = np.random.default_rng(0)
    flow = rng.normal(0, 3, (40, 50, 2))
    scale = float(np.hypot(flow[..., 0], flow[..., 1]).max())
    back = rgb_to_flow(flow_to_rgb(flow, scale), scale)
    err = np.hypot(*(back - flow).reshape(-1, 2).T)
    mag = np.hypot(*flow.reshape(-1, 2).T)
    assert np.median(err) < 0.03 * scale and np.mean(err[mag > 0.2 * scale]) < 0.02 * scale
    stack = flow_to_rgb(np.stack([flow, -flow]))
    assert stack.shape == (2, 40, 50, 3)


def test_relative_epe() -> None:
    ref = moving_texture(1, 8, 8)[0, ..., :2].astype(float) + 1.0
    assert relative_epe(ref, ref) == 0.0
    assert relative_epe(ref, np.zeros_like(ref)) == pytest.approx(1.0)
    assert np.isnan(relative_epe(np.zeros((2, 2, 2)), np.ones((2, 2, 2))))


def test_read_flow_images_checks_size_and_names_the_file(tmp_path) -> None:
    rgb = flow_to_rgb(np.random.default_rng(1).normal(size=(3, 6, 8, 2)))
    write_frames(tmp_path / "ok", rgb)
    files = sorted((tmp_path / "ok").iterdir())
    np.testing.assert_array_equal(read_flow_images(files, size=(6, 8)), rgb)
    with pytest.raises(FlowError, match=r"00001\.png: flow image is 6x8 \(HxW\) but 5x8 is expected"):
        read_flow_images(files[1:], size=(5, 8))
    assert read_flow_images(files, size=(12, 16), resize=True).shape == (3, 12, 16, 3)
    write_frames(tmp_path / "mixed", rgb[:1])
    write_frames(tmp_path / "mixed", rgb[:1, :4], start=1)
    with pytest.raises(FlowError, match=r"mixed/00001\.png: flow image is 4x8"):
        read_flow_images(sorted((tmp_path / "mixed").iterdir()))
    from PIL import Image

    Image.new("L", (8, 6)).save(tmp_path / "gray.png")
    with pytest.raises(FlowError, match=r"gray\.png: flow image has mode 'L'"):
        read_flow_images([tmp_path / "gray.png"])
    (tmp_path / "bad.png").write_bytes(b"nope")
    with pytest.raises(FlowError, match=r"bad\.png: cannot read flow image"):
        read_flow_images([tmp_path / "bad.png"])


def test_flow_cache_computes_once_and_invalidates_on_change(tmp_path) -> None:
    path = write_video(tmp_path / "m.mkv", moving_texture(4, 48, 64, shift=(2, 0)), "ffv1")
    cache = FlowCache(tmp_path / "cache")
    first = cache.flow(open_video(path), [0, 2, 3])
    # the last frame has no successor: it reuses the flow from frame 2 into frame 3 (one computation)
    assert cache.computed == 2 and first.shape == (3, 48, 64, 2)
    np.testing.assert_allclose(first[2], first[1], atol=2e-2)
    assert abs(float(np.median(first[0, ..., 0])) - 2.0) < 0.3
    again_cache = FlowCache(tmp_path / "cache")
    again = again_cache.flow(open_video(path), [2, 0])
    assert again_cache.computed == 0
    np.testing.assert_allclose(again, first[[1, 0]], atol=2e-2)  # float16 on disk
    time.sleep(0.01)
    write_video(path, moving_texture(4, 48, 64, shift=(0, 2)), "ffv1")  # same name, new content
    fresh = FlowCache(tmp_path / "cache")
    moved = fresh.flow(open_video(path), [0])
    assert fresh.computed == 1 and abs(float(np.median(moved[0, ..., 1])) - 2.0) < 0.3
