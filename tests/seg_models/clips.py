"""Real clips from ``../shared/data/videos`` as two-stream and clip samples for the adapter tests.

Frames are read with sdinterp's reader, downscaled (so tiny models run fast) and, for two-stream
models, paired with optical flow computed by :func:`sdinterp.data.flow.clip_flow` (OpenCV DIS).
"""

from __future__ import annotations

import numpy as np

from _paths import VIDEOS
from sdinterp.interfaces import Sample

CLIPS = ("vtest.avi", "tree.avi", "concert_176x144.mp4")


def read_small(name: str, start: int, count: int, size: tuple[int, int] = (72, 96)) -> np.ndarray:
    """``count`` consecutive frames of a shared video from ``start``, resized to (H, W)."""
    import cv2

    from sdinterp.data.video import open_video

    source = open_video(VIDEOS / name)
    frames = source.read(np.arange(start, start + count) % len(source))
    return np.stack([cv2.resize(f, (size[1], size[0]), interpolation=cv2.INTER_AREA) for f in frames])


def image_flow_samples(
    frames_per_sample: int = 1, n: int = 4, size: tuple[int, int] = (72, 96), backward: bool = False
) -> list[Sample]:
    """``n`` (image(s), flow) samples from the shared clips, with forward flow in ``flow`` (float
    (u, v); the samplers encode it) and, if ``backward``, backward flow in ``meta["backward_flow"]``."""
    from sdinterp.data.flow import clip_flow, compute_flow

    out = []
    for i in range(n):
        name = CLIPS[i % len(CLIPS)]
        frames = read_small(name, 5 + 7 * i, frames_per_sample + 1, size)
        flow = clip_flow(frames)[:frames_per_sample]
        meta = {}
        if backward:
            meta["backward_flow"] = np.stack([compute_flow(frames[t + 1], frames[t]) for t in range(frames_per_sample)])
        out.append(
            Sample(
                frames=frames[:frames_per_sample],
                flow=flow,
                video_id=f"{name}@{5 + 7 * i}",
                frame_indices=np.arange(frames_per_sample),
                meta=meta,
            )
        )
    return out


def clip_samples(num_frames: int, n: int = 3, size: tuple[int, int] = (64, 80)) -> list[Sample]:
    """``n`` clips of ``num_frames`` frames from the shared videos."""
    return [
        Sample(
            frames=read_small(CLIPS[i % len(CLIPS)], 3 + 5 * i, num_frames, size),
            video_id=f"{CLIPS[i % len(CLIPS)]}@{3 + 5 * i}",
        )
        for i in range(n)
    ]
