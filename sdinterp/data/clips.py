"""Clip sampling: which frames of a video make a clip.

As the reference action-recognition loaders (YorkUCVIL/Static-Dynamic-Interpretability,
``dataset_factory/ssv2.py``): a window of ``n`` consecutive frames from a start (random or given),
cycled when the video is too short, then PyTorchVideo's ``UniformTemporalSubsample`` (indices
``linspace(0, L - 1, T)`` truncated) per model pathway; SlowFast's slow and fast pathways are both
subsampled from the same window.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from sdinterp.errors import VideoReadError

__all__ = ["clip_indices", "clip_window", "uniform_temporal_subsample", "pathway_views"]


def clip_window(
    num_frames: int,
    length: int,
    start: int | None = None,
    rng: np.random.Generator | None = None,
    cycle: bool = True,
    source: str = "<video>",
) -> tuple[int, int]:
    """Where a window of ``length`` consecutive frames lies: ``(start, span)``, position ``k`` of the
    window being frame ``start + k % span`` (see :func:`clip_indices`, which lists them all). A
    reader that takes a few positions of a long window computes just those.

    Args and errors: as :func:`clip_indices`.

    Examples::

        >>> clip_window(3, 5, start=1)
        (1, 2)
    """
    if length < 1:
        raise ValueError(f"clip length must be >= 1, got {length}")
    if num_frames < 1:
        raise _error(source, "the video has no frames")
    if num_frames < length and not cycle:
        raise _error(source, f"the video has {num_frames} frames but the clip needs {length} (cycle=False)")
    if start is None:
        if rng is None:
            raise ValueError("clip_indices needs rng when start is None")
        start = int(rng.integers(0, max(num_frames - length, 0) + 1))
    if not 0 <= start < num_frames:
        raise _error(source, f"start frame {start} is outside the video's {num_frames} frames")
    span = min(length, num_frames - start)
    if span < length and not cycle:
        raise _error(source, f"a {length}-frame window from frame {start} passes the end ({num_frames} frames)")
    return int(start), int(span)


def clip_indices(
    num_frames: int,
    length: int,
    start: int | None = None,
    rng: np.random.Generator | None = None,
    cycle: bool = True,
    source: str = "<video>",
) -> np.ndarray:
    """Indices of a window of ``length`` consecutive frames.

    As the reference loaders, a random start is drawn uniformly from ``[0, num_frames - length]``;
    a video shorter than the window is cycled: the frames from ``start`` to the end are repeated
    until the window is full. (The reference draws the start of a too-short video from
    ``[0, num_frames - 8]``, which repeats fewer distinct frames; here it is 0.)

    Args:
        num_frames: frames in the video.
        length: window length ``n`` (``n_sample_frames`` in the reference, 64 by default there).
        start: first frame; ``None`` draws it with ``rng``.
        rng: numpy Generator for the random start (required when ``start`` is None).
        cycle: if False, a too-short video raises instead of being cycled.
        source: the video's name, for error messages.

    Returns:
        int64 array of ``length`` indices into the video.

    Examples::

        >>> clip_indices(10, 4, start=3).tolist()
        [3, 4, 5, 6]
        >>> clip_indices(3, 5, start=1).tolist()
        [1, 2, 1, 2, 1]
    """
    start, span = clip_window(num_frames, length, start, rng, cycle, source)
    return (start + np.arange(length) % span).astype(np.int64)


def uniform_temporal_subsample(length: int, num_samples: int) -> np.ndarray:
    """``UniformTemporalSubsample``: indices ``linspace(0, length - 1, num_samples)`` truncated.

    Matches PyTorchVideo's transform used by the reference (``torch.linspace(...).long()``), which
    truncates toward zero and repeats indices when ``num_samples > length``.

    Examples::

        >>> uniform_temporal_subsample(64, 8).tolist()
        [0, 9, 18, 27, 36, 45, 54, 63]
    """
    if length < 1 or num_samples < 1:
        raise ValueError(f"length and num_samples must be >= 1, got {length}, {num_samples}")
    import torch

    # torch's own float32 linspace, so truncation agrees with the reference bit for bit.
    grid = torch.linspace(0, length - 1, num_samples).clamp(0, length - 1).long()
    return grid.numpy().astype(np.int64)


def pathway_views(length: int, frames_per_pathway: Sequence[int]) -> tuple[np.ndarray, ...]:
    """One uniform subsample per pathway, all from the same ``length``-frame clip.

    SlowFast 8x8 takes ``frames_per_pathway=(8, 32)`` from a 64-frame window (the reference
    subsamples both pathways from the same clip), giving the ``views`` of a
    :class:`~sdinterp.interfaces.Sample`.

    Examples::

        >>> [v.tolist() for v in pathway_views(8, (2, 4))]
        [[0, 7], [0, 2, 4, 7]]
    """
    if not frames_per_pathway:
        raise ValueError("frames_per_pathway must name at least one pathway")
    return tuple(uniform_temporal_subsample(length, int(n)) for n in frames_per_pathway)


def _error(source: str, message: str) -> ValueError:
    return VideoReadError(source, message)
