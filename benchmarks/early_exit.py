"""What early exit saves: the same report on an early layer and on the last one, and on the early
layer with early exit turned off, in one process; prints the times and their ratios.

A forward stops once every requested layer has been captured, so a report on ``stage2`` should not
pay for stages 3-5 and the head (``docs/architecture.md``).

    .venv/bin/python benchmarks/early_exit.py                # r3d_18, 8x112x112, 16 pairs per factor
    .venv/bin/python benchmarks/early_exit.py --quick        # seconds: smoke test
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

import sdinterp

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import real_clips


def timed(adapter, layers, clips, pairs, batch, early_exit):
    sd = sdinterp.StaticDynamic(adapter, layers=layers)
    t0 = time.perf_counter()
    report = sd.attribute(clips, n_pairs=pairs, batch_size=batch, seed=0, show_progress=False, early_exit=early_exit)
    return time.perf_counter() - t0, report


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=8)
    ap.add_argument("--size", type=int, default=112)
    ap.add_argument("--pairs", type=int, default=16, help="pairs per factor")
    ap.add_argument("--batch", type=int, default=12)
    ap.add_argument("--quick", action="store_true", help="tiny configuration (smoke test)")
    args = ap.parse_args()
    if args.quick:
        args.frames, args.size, args.pairs = 4, 32, 4
    torch.manual_seed(0)
    adapter = sdinterp.load_adapter("torchvision:r3d_18", num_frames=args.frames, crop_size=args.size)
    clips = real_clips(args.pairs, args.frames * 2, args.size)
    timed(adapter, ["stage2"], clips[:2], 2, args.batch, True)  # warm-up
    t_early, r_early = timed(adapter, ["stage2"], clips, args.pairs, args.batch, True)
    t_last, _ = timed(adapter, ["stage5"], clips, args.pairs, args.batch, True)
    t_off, r_off = timed(adapter, ["stage2"], clips, args.pairs, args.batch, False)
    assert r_early.to_json() == r_off.to_json(), "early exit changed the numbers"
    print(f"r3d_18, {args.pairs} pairs per factor, {args.frames}x{args.size}x{args.size}, same pairs in every run")
    print(f"  report on [stage2]                     {t_early:7.2f} s")
    print(f"  report on [stage5]                     {t_last:7.2f} s")
    print(f"  report on [stage2], early exit off     {t_off:7.2f} s")
    print(f"  ratio stage5 / stage2: {t_last / t_early:.2f}x")
    print(f"  ratio early exit off / on (stage2): {t_off / t_early:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
