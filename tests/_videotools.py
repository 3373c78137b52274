"""Helpers for the video, flow, sampler and restyler tests (no conftest: imported explicitly).

Real clips live in ``../shared/data/videos`` beside the repository (CI checks out a clean clone with
``../shared`` next to it).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from _paths import VIDEOS

REPO = Path(__file__).resolve().parents[1]
VTEST = VIDEOS / "vtest.avi"
TREE = VIDEOS / "tree.avi"
CONCERT = VIDEOS / "concert_176x144.mp4"


def write_video(path: Path, frames: np.ndarray, codec: str = "ffv1", fps: int = 10, faststart: bool = False) -> Path:
    """Write uint8 (T, H, W, 3) RGB frames with PyAV. ``ffv1`` (in .mkv/.avi) is lossless."""
    import av

    pix = {
        "ffv1": "bgr0",
        "libx264": "yuv420p",
        "mpeg4": "yuv420p",
        "libvpx": "yuv420p",
        "libvpx-vp9": "yuv420p",
        "mjpeg": "yuvj420p",
        "rawvideo": "bgr24",
    }[codec]
    options = {"movflags": "faststart"} if faststart else {}
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w", options=options) as c:
        s = c.add_stream(codec, rate=fps)
        s.width, s.height, s.pix_fmt = frames.shape[2], frames.shape[1], pix
        for f in frames:
            for pkt in s.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(f), format="rgb24")):
                c.mux(pkt)
        for pkt in s.encode():
            c.mux(pkt)
    return path


def write_video_in_subprocess(path: Path, frames: np.ndarray, codec: str) -> Path:
    """Write a video in a fresh process. Once decord has decoded a file, its bundled FFmpeg makes
    PyAV's libvpx encoders fail in the same process (``avcodec_open2 ... returned 22``)."""
    import subprocess
    import sys

    npy = path.with_suffix(".npy")
    np.save(npy, frames)
    code = (
        "import sys, numpy as np; from pathlib import Path; sys.path.insert(0, sys.argv[1]); "
        "from _videotools import write_video; write_video(Path(sys.argv[2]), np.load(sys.argv[3]), sys.argv[4])"
    )
    subprocess.run([sys.executable, "-c", code, str(Path(__file__).parent), str(path), str(npy), codec], check=True)
    npy.unlink()
    return path


def write_frames(folder: Path, frames: np.ndarray, pattern: str = "{:05d}.png", start: int = 0) -> Path:
    """Write frames as images (png is lossless) into ``folder``."""
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    for i, f in enumerate(frames):
        Image.fromarray(f).save(folder / pattern.format(i + start))
    return folder


def smooth_texture(h: int, w: int, rng: np.random.Generator, scale: float = 4.0) -> np.ndarray:
    """A smooth random colour texture in [0, 255] (low-passed noise), float32 (h, w, 3)."""
    import cv2

    noise = rng.random((h, w, 3)).astype(np.float32)
    tex = cv2.GaussianBlur(noise, (0, 0), scale)
    tex = (tex - tex.min()) / max(float(tex.max() - tex.min()), 1e-6)
    return tex * 255.0


def moving_texture(t: int = 6, h: int = 64, w: int = 80, shift: Sequence[int] = (2, 1), seed: int = 0) -> np.ndarray:
    """A textured clip translating by ``shift`` = (dx, dy) integer pixels per frame (wrap-around),
    so the true flow is known exactly. uint8 (t, h, w, 3)."""
    rng = np.random.default_rng(seed)
    tex = smooth_texture(h, w, rng, scale=2.0).astype(np.uint8)
    dx, dy = shift
    return np.stack([np.roll(tex, (i * dy, i * dx), axis=(0, 1)) for i in range(t)])


def random_clip(t: int = 4, h: int = 16, w: int = 20, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (t, h, w, 3), dtype=np.uint8)
