"""Shared helpers of the action-recognition adapter tests: real clips and one-forward captures."""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from typing import Any

import cv2
import numpy as np
import torch

from _paths import VIDEOS
from sdinterp.capture import LayerCapture
from sdinterp.data.video import open_video
from sdinterp.interfaces import ModelAdapter, Sample

VIDEO_DIR = VIDEOS
CLIP_FILES = ("vtest.avi", "tree.avi", "concert_176x144.mp4")


def _resize_short(frame: np.ndarray, short_side: int) -> np.ndarray:
    h, w = frame.shape[:2]
    scale = short_side / min(h, w)
    # INTER_AREA: the clips are downscaled a lot; keep them small so restyling and resizing are cheap.
    return cv2.resize(frame, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_AREA)


@cache
def _read(name: str, start: int, num: int, short_side: int) -> np.ndarray:
    frames = open_video(VIDEO_DIR / name).read(np.arange(start, start + num))
    return np.stack([_resize_short(f, short_side) for f in frames])


def real_clips(num_frames: int = 16, short_side: int = 72, n: int = 3) -> list[Sample]:
    """``n`` real clips (one window per video, cycling the three videos), uint8 RGB."""
    out = []
    for i in range(n):
        name = CLIP_FILES[i % len(CLIP_FILES)]
        start = 10 + 37 * (i // len(CLIP_FILES))
        frames = _read(name, start, num_frames, short_side)
        out.append(
            Sample(frames=frames, video_id=f"{name}@{start}", frame_indices=np.arange(start, start + num_frames))
        )
    return out


def capture_all(
    adapter: ModelAdapter, samples: list[Sample], layers: Mapping[str, Any] | None = None
) -> dict[str, torch.Tensor]:
    """One forward of ``samples`` capturing every canonical layer (or ``layers``)."""
    infos = dict(layers) if layers is not None else adapter.layers()
    viewed = [adapter.views(s) for s in samples]
    model = adapter.model.eval()
    with torch.inference_mode(), LayerCapture(model, infos) as cap:
        adapter.forward(adapter.prepare(viewed))
        return cap.collect()


def widths(adapter: ModelAdapter, prefix: str = "") -> list[int]:
    """Declared channels of the canonical layers whose names start with ``prefix``, in order."""
    return [int(i.channels) for n, i in adapter.layers().items() if n.startswith(prefix)]


def check_architecture(adapter: ModelAdapter, samples: list[Sample], expected: Mapping[str, int]) -> dict[str, int]:
    """The adapter's canonical layers are exactly ``expected`` (name -> channels, in network order),
    and the conformance suite passes, including a small report over every canonical layer."""
    from sdinterp.testing import check_adapter

    declared = {n: i.channels for n, i in adapter.layers().items()}
    assert list(declared) == list(expected), f"canonical layers {list(declared)} != {list(expected)}"
    assert declared == dict(expected), f"declared channels {declared} != architecture {dict(expected)}"
    observed = check_adapter(adapter, samples, n_pairs=2, batch_size=6)
    assert observed == dict(expected)
    return observed


def stages(widths: list[int], prefix: str = "stage", start: int = 1) -> dict[str, int]:
    """``{prefix1: w1, prefix2: w2, ...}``."""
    return {f"{prefix}{k}": w for k, w in enumerate(widths, start=start)}


R50 = [64, 256, 512, 1024, 2048]
SLOWFAST_R50 = {
    **{
        f"{s}.stage{k}": w
        for k in range(1, 6)
        for s, w in (
            ("slow", R50[k - 1]),
            ("fast", [8, 32, 64, 128, 256][k - 1]),
            ("fused", [80, 320, 640, 1280, None][k - 1]),
        )
        if w is not None
    },
    "cat.stage5": 2048 + 256,
}
