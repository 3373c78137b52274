"""Clip sampling: windows, cycling, uniform temporal subsampling, per-pathway views."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from sdinterp.data import VideoReadError, clip_indices, pathway_views, uniform_temporal_subsample


def test_window_from_given_start() -> None:
    assert clip_indices(100, 5, start=10).tolist() == [10, 11, 12, 13, 14]
    assert clip_indices(5, 5, start=0).tolist() == [0, 1, 2, 3, 4]


def test_random_start_is_seeded_and_within_range() -> None:
    starts = [int(clip_indices(50, 8, rng=np.random.default_rng(s))[0]) for s in range(200)]
    assert min(starts) >= 0 and max(starts) <= 42
    assert len(set(starts)) > 20  # really random over the valid range
    a = clip_indices(50, 8, rng=np.random.default_rng(7))
    b = clip_indices(50, 8, rng=np.random.default_rng(7))
    np.testing.assert_array_equal(a, b)
    for s in range(50):
        w = clip_indices(50, 8, rng=np.random.default_rng(s))
        assert np.array_equal(np.diff(w), np.ones(7))  # consecutive frames


def test_short_video_is_cycled_like_the_reference() -> None:
    # the reference repeats the frames from the start to the end (itertools.cycle) until full
    assert clip_indices(4, 10, start=0).tolist() == [0, 1, 2, 3, 0, 1, 2, 3, 0, 1]
    assert clip_indices(4, 6, start=2).tolist() == [2, 3, 2, 3, 2, 3]
    # a random start on a too-short video is 0, so every frame is used
    assert clip_indices(4, 10, rng=np.random.default_rng(0))[0] == 0


def test_short_video_raises_without_cycling() -> None:
    with pytest.raises(VideoReadError, match=r"clip\.mp4: the video has 4 frames but the clip needs 10"):
        clip_indices(4, 10, start=0, cycle=False, source="clip.mp4")
    with pytest.raises(VideoReadError, match="passes the end"):
        clip_indices(10, 5, start=8, cycle=False)


def test_bad_arguments() -> None:
    with pytest.raises(VideoReadError, match="outside"):
        clip_indices(10, 3, start=10)
    with pytest.raises(ValueError, match="rng"):
        clip_indices(10, 3)
    with pytest.raises(VideoReadError, match="no frames"):
        clip_indices(0, 3, start=0)


@pytest.mark.parametrize("length,n", [(64, 8), (64, 32), (64, 16), (30, 8), (7, 16), (1, 4), (100, 100), (243, 13)])
def test_uniform_subsample_matches_pytorchvideo_formula(length: int, n: int) -> None:
    # PyTorchVideo's UniformTemporalSubsample: torch.linspace(0, t - 1, n).clamp(0, t - 1).long()
    expected = torch.clamp(torch.linspace(0, length - 1, n), 0, length - 1).long().tolist()
    got = uniform_temporal_subsample(length, n)
    assert got.tolist() == expected and got.dtype == np.int64


def test_uniform_subsample_values() -> None:
    assert uniform_temporal_subsample(64, 8).tolist() == [0, 9, 18, 27, 36, 45, 54, 63]
    assert uniform_temporal_subsample(3, 5).tolist() == [0, 0, 1, 1, 2]  # repeats when n > length


def test_pathway_views_slowfast() -> None:
    slow, fast = pathway_views(64, (8, 32))
    assert len(slow) == 8 and len(fast) == 32
    assert slow.tolist() == uniform_temporal_subsample(64, 8).tolist()
    assert fast[0] == 0 and fast[-1] == 63 and np.all(np.diff(fast) >= 1)
    with pytest.raises(ValueError):
        pathway_views(64, ())
