"""Seconds a 16-pair report over every canonical layer takes, for one model of each adapter family.

Models (random weights, nothing downloaded): pytorchvideo ``slowfast_r50``, torchvision ``r3d_18``
and MMAction2 ``slowfast_r50_8xb8-8x8x1-256e_kinetics400-rgb`` (the config shipped in the wheel).
``--size native`` uses each model's own input (SlowFast 32 frames at 224/256 px, R3D-18 16 frames at
112 px); ``--size small`` uses 8 frames at 64 px, as the tests do. Clips are real videos from
``../shared/data/videos``. A report at the default ``shared-anchor`` protocol runs 3 forwards per
pair index (anchor, static partner, dynamic partner): 48 clip forwards for 16 pairs.

    .venv/bin/python benchmarks/adapter_report_times.py [--size native|small] [--pairs 16]
        [--batch 12] [--threads N] [--families pytorchvideo torchvision mmaction2]
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import torch

import sdinterp
from sdinterp.data.video import open_video

VIDEOS = Path(__file__).resolve().parents[2] / "shared" / "data" / "videos"


def _resize_down(frame: np.ndarray, short_side: int) -> np.ndarray:
    h, w = frame.shape[:2]
    scale = short_side / min(h, w)
    if scale >= 1:
        return frame
    return cv2.resize(frame, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_AREA)


def read_clips(n: int, num_frames: int = 64, short_side: int = 256, stride: int = 70) -> list[sdinterp.Sample]:
    """``n`` distinct ``num_frames`` windows (64 = the reference's default window), taken round-robin
    from the three real videos every ``stride`` frames, so no clip is reused within a report."""
    starts = {}
    for name in ("vtest.avi", "tree.avi", "concert_176x144.mp4"):
        last = len(open_video(VIDEOS / name)) - num_frames
        starts[name] = list(range(min(20, max(last, 0)), last + 1, stride))
    plan = [(name, s[k]) for k in range(max(map(len, starts.values()))) for name, s in starts.items() if k < len(s)]
    if len(plan) < n:
        raise ValueError(f"the videos give only {len(plan)} distinct windows of {num_frames} frames")
    clips = []
    for name, start in plan[:n]:
        frames = [
            _resize_down(f, short_side) for f in open_video(VIDEOS / name).read(np.arange(start, start + num_frames))
        ]
        clips.append(sdinterp.Sample(frames=np.stack(frames), video_id=f"{name}@{start}"))
    return clips


def builders(size: str) -> dict[str, tuple[str, Callable[[], sdinterp.ModelAdapter]]]:
    from sdinterp.adapters.mmaction2 import build_mmaction2
    from sdinterp.adapters.pytorchvideo import build_pytorchvideo
    from sdinterp.adapters.torchvision_video import build_torchvision

    small = {"num_frames": 8, "crop_size": 64} if size == "small" else {}
    return {
        "pytorchvideo": ("slowfast_r50", lambda: build_pytorchvideo("slowfast_r50", **small)),
        "torchvision": ("r3d_18", lambda: build_torchvision("r3d_18", **small)),
        "mmaction2": (
            "slowfast_r50_8xb8-8x8x1-256e_kinetics400-rgb",
            lambda: build_mmaction2("slowfast_r50_8xb8-8x8x1-256e_kinetics400-rgb", **small),
        ),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", choices=("native", "small"), default="native")
    ap.add_argument("--pairs", type=int, default=16, help="pairs per factor")
    ap.add_argument("--batch", type=int, default=12, help="clips per forward (anchors and partners together)")
    ap.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    ap.add_argument("--families", nargs="+", default=["pytorchvideo", "torchvision", "mmaction2"])
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    clips = read_clips(args.pairs)
    table = builders(args.size)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(
        f"{args.pairs}-pair reports, {args.size} inputs, torch {torch.__version__}, {torch.get_num_threads()} threads, "
        f"{os.cpu_count()} CPUs, load average {load:.2f} at start"
    )
    print(f"{'family':<13} {'model':<46} {'input':<22} {'layers':>6} {'build s':>8} {'report s':>9} {'s/forward':>9}")
    for family in args.families:
        model_name, build = table[family]
        t0 = time.perf_counter()
        adapter = build()
        built = time.perf_counter() - t0
        clip = adapter.clip
        frames = "/".join(str(len(v)) for v in adapter.views(clips[0]).views)
        t0 = time.perf_counter()
        report = sdinterp.StaticDynamic(adapter).attribute(
            clips, n_pairs=args.pairs, batch_size=args.batch, seed=0, show_progress=False
        )
        took = time.perf_counter() - t0
        assert set(report.layers) == set(adapter.layers()), report.skipped
        print(
            f"{family:<13} {model_name:<46} {frames + ' fr @ ' + str(clip.crop_size) + ' px':<22} "
            f"{len(report.layers):>6} {built:>8.1f} {took:>9.1f} {took / (3 * args.pairs):>9.2f}"
        )


if __name__ == "__main__":
    main()
