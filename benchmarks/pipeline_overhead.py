"""How much time the pipeline adds on top of the model's own forward passes.

Runs, in one process and on the same batches:
  (a) bare forwards of the model (no hooks, no sampling),
  (b) a full ``StaticDynamic.attribute`` run (sampling, restyling, prepare, capture of 5 layers,
      pooling, float64 moment updates) that performs exactly the same number of forwards,
and prints both times and their ratio. Also compares PairMoments updates with stacking the pooled
features (what an activation-storing implementation would keep).

    .venv/bin/python benchmarks/pipeline_overhead.py [--frames 16] [--size 112] [--pairs 24]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

import sdinterp
from sdinterp.adapters.generic import GenericVideoAdapter, clips_to_tensor
from sdinterp.stats import PairMoments


def build_model() -> torch.nn.Module:
    from sdinterp.adapters._compat import ensure_torchvision

    ensure_torchvision()
    from torchvision.models.video import r3d_18

    torch.manual_seed(0)
    return r3d_18(weights=None).eval()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=16)
    ap.add_argument("--size", type=int, default=112)
    ap.add_argument("--pairs", type=int, default=24, help="pairs per factor (shared-anchor: 3 forwards per clip)")
    ap.add_argument("--batch", type=int, default=12)
    args = ap.parse_args()
    torch.set_num_threads(max(1, torch.get_num_threads()))

    rng = np.random.default_rng(0)
    clips = [
        sdinterp.Sample(
            frames=rng.integers(0, 256, size=(args.frames * 2, args.size, args.size, 3), dtype=np.uint8),
            video_id=f"v{i}",
        )
        for i in range(8)
    ]
    model = build_model()
    adapter = GenericVideoAdapter(model, num_frames=args.frames)
    layers = ["stem", "layer1", "layer2", "layer3", "layer4"]
    sd = sdinterp.StaticDynamic(adapter, layers=layers)

    # (a) bare forwards, same batch shapes as the pipeline uses
    per_batch = max(1, args.batch // 3) * 3
    n_forwards = 3 * args.pairs
    x = clips_to_tensor([adapter.views(clips[i % len(clips)]) for i in range(per_batch)])
    with torch.inference_mode():
        model(x[:3])  # warm-up
        t0 = time.perf_counter()
        done = 0
        while done < n_forwards:
            b = min(per_batch, n_forwards - done)
            model(x[:b])
            done += b
        bare = time.perf_counter() - t0

    # (b) the full pipeline
    t0 = time.perf_counter()
    report = sd.attribute(clips, n_pairs=args.pairs, batch_size=args.batch, seed=0, show_progress=False)
    full = time.perf_counter() - t0

    # (c) moments vs stored activations for the pooled features of this run
    widths = [report[l].n_units for l in layers]
    feats = [rng.normal(size=(n_forwards, w)).astype(np.float32) for w in widths]
    t0 = time.perf_counter()
    for f in feats:
        pm = PairMoments()
        for k in range(0, n_forwards, per_batch):
            pm.update(f[k : k + per_batch], f[k : k + per_batch])
    moments_s = time.perf_counter() - t0
    stored_bytes = sum(f.nbytes for f in feats)
    moments_bytes = sum(5 * 8 * w for w in widths)

    print(
        f"model r3d_18 (random init), {args.frames} frames @ {args.size}px, {n_forwards} clip forwards, batch "
        f"{per_batch}"
    )
    print(f"{'bare forwards':<34}{bare:8.2f} s")
    print(f"{'full pipeline (5 layers captured)':<34}{full:8.2f} s")
    print(f"{'pipeline / bare':<34}{full / bare:8.3f}x   (overhead {100 * (full / bare - 1):+.1f}%)")
    print(f"{'moment updates alone':<34}{moments_s:8.4f} s   ({100 * moments_s / bare:.2f}% of forward time)")
    print(
        f"{'state: moments vs stored features':<34}{moments_bytes / 1024:8.1f} KiB vs {stored_bytes / 1024:.1f} KiB "
        f"(grows with pairs; moments do not)"
    )


if __name__ == "__main__":
    main()
