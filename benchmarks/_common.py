"""Shared by the benchmarks: real clips from ../shared/data/videos."""

from __future__ import annotations

from pathlib import Path

import numpy as np

import sdinterp
from sdinterp.data import open_video

VIDEOS = Path(__file__).resolve().parents[2] / "shared" / "data" / "videos"


def real_clips(n: int, length: int, short_side: int) -> list[sdinterp.Sample]:
    """``n`` clips of ``length`` frames from the shared real videos, resized so their short side is
    about ``short_side`` (reading full-size frames would time the decoder, not the model)."""
    import torch
    import torch.nn.functional as F

    names = sorted(p for p in VIDEOS.iterdir() if p.suffix in (".avi", ".mp4"))
    out = []
    for i in range(n):
        video = open_video(names[i % len(names)])
        start = (i // len(names)) * length % max(1, len(video) - length)
        frames = video.read(np.arange(start, start + length) % len(video))
        x = torch.from_numpy(frames).permute(0, 3, 1, 2).float()
        h, w = x.shape[-2:]
        scale = short_side / min(h, w)
        x = F.interpolate(
            x,
            size=(max(short_side, round(h * scale)), max(short_side, round(w * scale))),
            mode="bilinear",
            antialias=True,
        )
        frames = x.clamp(0, 255).round().byte().permute(0, 2, 3, 1).numpy()
        out.append(sdinterp.Sample(frames=frames, video_id=f"{names[i % len(names)].name}@{start}"))
    return out
