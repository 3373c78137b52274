"""What the bootstrap costs: the same report with B = 100 Poisson replicates and without, measured
side by side (interleaved in ABBA order, best of --repeats each) in one process; prints the times and the ratio.

The replicates are one (B, n) x (n, 5D) matmul per layer, factor and batch while the moments
accumulate, and B scorings of each layer at the end (docs/confidence.md); the target is under 5%
of a report's time on a real adapter.

    .venv/bin/python benchmarks/bootstrap_cost.py            # r3d_18, 8x112x112, 32 pairs/factor, all canonical layers
    .venv/bin/python benchmarks/bootstrap_cost.py --quick    # seconds: smoke test
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

import sdinterp

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import real_clips


def timed(adapter, clips, pairs, batch, replicates):
    sd = sdinterp.StaticDynamic(adapter)
    t0 = time.perf_counter()
    report = sd.attribute(clips, n_pairs=pairs, batch_size=batch, seed=0, show_progress=False, bootstrap=replicates)
    return time.perf_counter() - t0, report


def replicate_work(report, pairs: int, batch: int, replicates: int, seed: int = 0) -> float:
    """Seconds the bootstrap adds to the accumulation, replayed alone: the same update calls (one per
    layer, factor and batch, with the run's widths and batch sizes) with and without the (B, n)
    counts, the counts' drawing included. Short and load-robust next to the side-by-side runs."""
    from sdinterp.replicates import poisson_weights
    from sdinterp.stats import PairMoments

    per_batch = max(1, batch // 3)  # shared-anchor: 3 forwards per clip
    starts = range(0, pairs, per_batch)
    rng = np.random.default_rng(seed)
    feats = {lb.layer: torch.from_numpy(rng.normal(size=(per_batch, lb.n_units))) for lb in report}
    spent = {}
    for b in (0, replicates):
        t0 = time.perf_counter()
        moments = {(layer, f): PairMoments(replicates=b) for layer in feats for f in (0, 1)}
        for s in starts:
            idx = range(s, min(s + per_batch, pairs))
            w = poisson_weights(seed, idx, b) if b else None
            for (layer, _), pm in moments.items():
                z = feats[layer][: len(idx)]
                pm.update(z, z + 1.0, weights=w)
        spent[b] = time.perf_counter() - t0
    return spent[replicates] - spent[0]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=8)
    ap.add_argument("--size", type=int, default=112)
    ap.add_argument("--pairs", type=int, default=32, help="pairs per factor")
    ap.add_argument("--batch", type=int, default=12)
    ap.add_argument("--replicates", type=int, default=100, help="B of the bootstrap run")
    ap.add_argument("--repeats", type=int, default=2, help="interleaved runs of each; the best is kept")
    ap.add_argument("--quick", action="store_true", help="tiny configuration (smoke test)")
    args = ap.parse_args()
    if args.quick:
        args.frames, args.size, args.pairs, args.repeats = 4, 32, 4, 1
    torch.manual_seed(0)
    adapter = sdinterp.load_adapter("torchvision:r3d_18", num_frames=args.frames, crop_size=args.size)
    clips = real_clips(args.pairs, args.frames * 2, args.size)
    timed(adapter, clips[:2], 2, args.batch, 0)  # warm-up
    off, on = [], []
    for i in range(args.repeats):  # ABBA order: a drift in the machine's load favours neither
        for b in (0, args.replicates) if i % 2 == 0 else (args.replicates, 0):
            t, r = timed(adapter, clips, args.pairs, args.batch, b)
            (on if b else off).append((t, r))
    t_off, r_off = min(off, key=lambda x: x[0])
    t_on, r_on = min(on, key=lambda x: x[0])
    for a, b in zip(r_off, r_on):  # the bootstrap must not move a point estimate
        assert a.scores == b.scores and a.percent == b.percent, a.layer
    layers = ", ".join(r_on.layers)
    print(
        f"r3d_18, {args.pairs} pairs per factor, {args.frames}x{args.size}x{args.size}, layers [{layers}], "
        f"best of {args.repeats}"
    )
    print(f"  report, bootstrap off                  {t_off:7.2f} s  (scoring {r_off.timings['scoring']:.3f} s)")
    print(
        f"  report, bootstrap B={args.replicates:<4d}              {t_on:7.2f} s  (scoring "
        f"{r_on.timings['scoring']:.3f} s)"
    )
    print(f"  extra: {100.0 * (t_on / t_off - 1.0):+.1f}%")
    print(f"  ratio B={args.replicates} / B=0: {t_on / t_off:.3f}x")
    # The side-by-side ratio is at the mercy of other load on the machine; the bootstrap's own work
    # (replicate updates replayed alone + the extra scoring) is a steadier figure.
    extra = (
        replicate_work(r_on, args.pairs, args.batch, args.replicates)
        + r_on.timings["scoring"]
        - r_off.timings["scoring"]
    )
    print(f"  bootstrap's own work: {extra:.3f} s = {100.0 * extra / t_off:.2f}% of the report without it")
    print(f"  ratio of (report + bootstrap work) / report: {(t_off + extra) / t_off:.3f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
