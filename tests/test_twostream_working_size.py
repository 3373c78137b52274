"""Two-stream pairs at the model's size (issue 21): flow resized with its frames, flow computed on
frames read at a working size, and the samplers seeing the size the model sees only when they allow it.
The measured effect on unit scores is in docs/method.md, "Pairs at the model's resolution"."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import sdinterp
from _videotools import moving_texture, write_video
from sdinterp.data.flow import FlowCache, flow_to_rgb, resize_flow, shrink_size
from sdinterp.data.resize import shrink_frames
from sdinterp.data.video import open_video
from sdinterp.interfaces import Factor, PairSampler, Sample
from sdinterp.pipeline.executor import at_working_size


def test_shrink_size_never_enlarges() -> None:
    assert shrink_size(576, 768, (128, 128)) == (128, 128)
    assert shrink_size(144, 176, (128, 128)) == (128, 128)
    assert shrink_size(96, 128, (128, 128)) is None  # one side would grow
    assert shrink_size(128, 128, (128, 128)) is None and shrink_size(64, 64, None) is None


def test_a_float_flow_is_resampled_with_its_vectors_in_the_new_pixels() -> None:
    flow = np.zeros((2, 48, 64, 2), np.float32)
    flow[..., 0], flow[..., 1] = 4.0, -3.0
    small = resize_flow(flow, (24, 16))  # half the height, a quarter of the width
    assert small.shape == (2, 24, 16, 2) and small.dtype == np.float32
    np.testing.assert_allclose(small[..., 0], 1.0, atol=1e-5)
    np.testing.assert_allclose(small[..., 1], -1.5, atol=1e-5)
    rgb = flow_to_rgb(np.random.default_rng(0).normal(size=(2, 48, 64, 2)))
    np.testing.assert_array_equal(resize_flow(rgb, (24, 32)), shrink_frames(rgb, (24, 32)))  # an image
    with pytest.raises(ValueError, match="uint8 RGB"):
        resize_flow(np.zeros((2, 8, 8, 3), np.float32), (4, 4))


def test_the_flow_cache_computes_at_the_working_size_and_reuses_decoded_frames(tmp_path) -> None:
    path = write_video(tmp_path / "m.mkv", moving_texture(4, 96, 128, shift=(4, 2), seed=1), "ffv1")
    source = open_video(path)
    full = FlowCache(tmp_path / "c").flow(source, [0])
    cache = FlowCache(tmp_path / "c", size=(48, 64))
    assert cache.missing(source, [0, 3]) == [0, 1, 2, 3]  # the last frame pairs with the one before
    decoded = dict(zip([0, 1], source.read([0, 1])))
    small = cache.flow(source, [0], decoded)
    assert cache.computed == 1 and small.shape == (1, 48, 64, 2) and full.shape == (1, 96, 128, 2)
    # half the size: half the motion, in the small frames' pixels
    inner = small[0, 8:-8, 8:-8]
    assert abs(float(np.median(inner[..., 0])) - 2.0) < 0.4 and abs(float(np.median(inner[..., 1])) - 1.0) < 0.4
    assert cache.missing(source, [0]) == []  # on disk, under its own key: the full-size flow is not reused
    np.testing.assert_array_equal(FlowCache(tmp_path / "c", size=(48, 64)).flow(source, [0]), small)


def test_two_stream_frames_at_a_working_size(tmp_path) -> None:
    from sdinterp.plugins.twostream.data import TwoStreamFrames

    path = write_video(tmp_path / "m.mkv", moving_texture(6, 96, 128, shift=(4, 2), seed=2), "ffv1")
    full = TwoStreamFrames(path, frames_per_item=2, flow_cache=tmp_path / "c")
    small = TwoStreamFrames(path, frames_per_item=2, flow_cache=tmp_path / "c", size=(48, 64))
    s, f = small[1], full[1]
    assert s.frames.shape == (1, 48, 64, 3) and np.asarray(s.flow).shape == (1, 48, 64, 2)
    assert f.frames.shape == (1, 96, 128, 3) and np.asarray(f.flow).shape == (1, 96, 128, 2)
    np.testing.assert_array_equal(s.frames, shrink_frames(f.frames, (48, 64)))
    assert small.describe()["size"] == [48, 64] and "size" not in full.describe()  # full size: identity kept
    assert TwoStreamFrames(path, frames_per_item=2, size=32).size == (32, 32)
    with pytest.raises(ValueError, match="size must be"):
        TwoStreamFrames(path, size=(0, 4))


def test_a_flow_sample_shrinks_with_its_flow_and_backward_flow() -> None:
    rng = np.random.default_rng(0)
    frames = rng.integers(0, 256, (2, 64, 96, 3), dtype=np.uint8)
    flow = np.full((2, 64, 96, 2), 2.0, np.float32)
    s = Sample(frames=frames, flow=flow, meta={"backward_flow": -flow, "unstyled": frames})
    out = at_working_size(s, (32, 48))
    assert out.frames.shape == (2, 32, 48, 3) and out.meta["unstyled"].shape == (2, 32, 48, 3)
    np.testing.assert_allclose(np.asarray(out.flow), 1.0, atol=1e-5)
    np.testing.assert_allclose(out.meta["backward_flow"], -1.0, atol=1e-5)
    assert at_working_size(s, (128, 128)) is s and at_working_size(s, None) is s


class _Sizes(PairSampler):
    """A static sampler that records the frame and flow sizes it is given."""

    factor, name = Factor.STATIC, "sizes"

    def __init__(self, model_resolution: bool):
        self.model_resolution = model_resolution
        self.seen: set[tuple[tuple[int, ...], tuple[int, ...]]] = set()

    def partner(self, anchor: Sample, rng: np.random.Generator) -> Sample:
        self.seen.add((anchor.frames.shape[1:3], np.asarray(anchor.flow).shape[1:3]))
        return anchor


def test_two_stream_samplers_see_the_models_size_only_when_both_allow_it() -> None:
    adapter = sdinterp.load_adapter("twostream:gated-none-r18-w8", frame_size=(32, 32))
    rng = np.random.default_rng(1)
    clips = [
        Sample(
            frames=rng.integers(0, 256, (1, 64, 80, 3), dtype=np.uint8),
            flow=rng.normal(size=(1, 64, 80, 2)).astype(np.float32),
            video_id=f"v{i}",
        )
        for i in range(4)
    ]
    for allowed, size in ((True, (32, 32)), (False, (64, 80))):
        seen = _Sizes(allowed)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            sdinterp.StaticDynamic(adapter, layers=["fusion5"], static_sampler=seen).attribute(
                clips, n_pairs=4, batch_size=12, seed=0, show_progress=False, validity=False
            )
        assert seen.seen == {(size, size)}
