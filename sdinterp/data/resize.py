"""Shrinking uint8 frames: the one kernel used wherever frames are made smaller before the model
sees them (as they are decoded, :meth:`sdinterp.data.video.VideoSource.read` with ``fit``; before
pairs are made, :func:`sdinterp.pipeline.inputs.to_working_size`), so both give the same pixels.

Frames stay uint8 throughout: a float copy of an 8K frame is 400 MB, its uint8 original 100 MB, and
the shrunk result a few kilobytes.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

__all__ = ["Fit", "shrink_frames", "frame_bytes"]

#: A frame size (height, width) -> the size to shrink such frames to, or ``None`` to keep them.
Fit = Callable[[int, int], tuple[int, int] | None]


def frame_bytes(height: int, width: int) -> int:
    """Bytes of one decoded uint8 RGB frame of this size.

    Examples::

        >>> frame_bytes(4320, 7680) // 2**20
        94
    """
    return int(height) * int(width) * 3


def shrink_frames(frames: np.ndarray, size: tuple[int, int] | None) -> np.ndarray:
    """uint8 frames resized down to ``size`` with antialiased bilinear interpolation, as uint8.

    Args:
        frames: uint8 (n, H, W, 3).
        size: the target (height, width); ``None``, the frames' own size, or a size larger than the
            frames in either side (frames are never enlarged) returns ``frames`` unchanged.

    Returns:
        uint8 (n, height, width, 3), or ``frames`` itself.

    Examples::

        >>> shrink_frames(np.full((2, 8, 8, 3), 7, np.uint8), (2, 4)).shape
        (2, 2, 4, 3)
    """
    h, w = frames.shape[1:3]
    if size is None or (int(size[0]), int(size[1])) == (h, w) or size[0] > h or size[1] > w:
        return frames
    import torch
    import torch.nn.functional as F

    # torch's uint8 channels-last kernel: ~15x faster than resizing a float copy, needs no float copy
    # of the full-size frames, and is within one grey level of rounding the float result (the
    # adapters' own resize). Each frame is resized independently, so one frame at a time gives the
    # same pixels as a whole clip at once.
    x = torch.from_numpy(np.ascontiguousarray(frames)).permute(0, 3, 1, 2)
    x = F.interpolate(x, size=(int(size[0]), int(size[1])), mode="bilinear", align_corners=False, antialias=True)
    return x.permute(0, 2, 3, 1).contiguous().numpy()
