"""sdinterp's single pass against the official code's way of working, same model, layers, clips and
number of pairs, in one process; prints both times and their ratio.

The reference way (written here from the official code's description, ``docs/method.md`` §2):
one run *per layer*, each forward stopped right after that layer; one random factor per clip;
both members of every pair forwarded (2 forwards per pair); every pooled feature kept; the
estimator run at the end on the kept features. It uses sdinterp's own samplers, adapter and
preprocessing, so a forward costs the same on both sides: only the way of working differs.

sdinterp's way: ``StaticDynamic(...).attribute(protocol="shared-anchor")``: one pass over every
layer, one anchor forward shared by a clip's static and dynamic pair (3 forwards per 2 pairs), the
forward stopped after the deepest requested layer, moments instead of stored features.

"The same number of pairs": the reference makes N pairs from N clips (one factor each); sdinterp
makes the same N pairs, N/2 per factor, from N/2 clips. The forward-count bound on the ratio is
``2 · Σ_l c(l) / (1.5 · c(L))`` with c(l) the cost of a forward up to layer l, printed beside the
measurement from timed truncated forwards.

    .venv/bin/python benchmarks/reference_approach.py                  # r3d_18 and TimeSformer
    .venv/bin/python benchmarks/reference_approach.py --model r3d_18   # one of them
    .venv/bin/python benchmarks/reference_approach.py --quick          # seconds: smoke test
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

import sdinterp
from sdinterp.capture import LayerCapture
from sdinterp.pipeline import RunConfig, RunPlan, build_batch, get_protocol
from sdinterp.plugin_manager import get_registry

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import real_clips

CONFIGS = {
    # name: (spec, layers, frames, size, pairs, batch)
    "r3d_18": ("torchvision:r3d_18", [f"stage{k}" for k in range(1, 6)], 8, 112, 16, 12),
    "timesformer": (
        "mmaction2:timesformer_divST_8xb8-8x32x1-15e_kinetics400-rgb",
        [f"block{k}" for k in range(12)],
        8,
        96,
        8,
        6,
    ),
}
QUICK = {"r3d_18": ("torchvision:r3d_18", ["stage2", "stage4"], 4, 32, 8, 6)}


class _Stop(Exception):
    pass


def reference_run(adapter, layers, clips, n_pairs, batch, seed):
    """One run per layer, forwards truncated at the layer, both members forwarded, features kept."""
    registry = get_registry()
    static, dynamic = registry.create("sampler", "frame_shuffle"), registry.create("sampler", "restyle")
    official = get_protocol("official")
    per_batch = max(1, batch // 2)
    results = {}
    for name in layers:
        info = adapter.resolve(name)
        module = adapter.model.get_submodule(info.module)
        kept: dict[str, list] = {"a": [], "b": [], "f": []}
        grabbed: list[torch.Tensor] = []

        # Bound now: the hook runs inside this iteration, but the binding says so.
        def hook(mod, args, out, info=info, grabbed=grabbed, name=name):
            value = out[0] if isinstance(out, (tuple, list)) and info.select is None else out
            if info.select is not None:
                value = info.select(out) if callable(info.select) else out[info.select]
            grabbed.append(sdinterp.capture.pool(value, info.pooling, name))
            raise _Stop

        handle = module.register_forward_hook(hook)
        try:
            with torch.inference_mode():
                run = RunPlan.build(official, len(clips), n_pairs, per_batch * official.max_forwards_per_clip(), seed)
                for batch in run.batches:
                    sources = [clips[c.source] for c in batch.clips]
                    inputs, plan = build_batch(adapter, run, batch, sources, static, dynamic)
                    grabbed.clear()
                    try:
                        adapter.forward(adapter.prepare(inputs))
                    except _Stop:
                        pass
                    z = grabbed[0].double().numpy()
                    for factor, first, second in plan:
                        kept["a"].append(z[first.numpy()])
                        kept["b"].append(z[second.numpy()])
                        kept["f"] += [factor.value] * len(first)
        finally:
            handle.remove()
        results[name] = sdinterp.estimate(np.concatenate(kept["a"]), np.concatenate(kept["b"]), kept["f"], layer=name)
    return results


def forward_costs(adapter, layers, clips, frames):
    """Seconds of a forward of 3 clips truncated after each layer (for the bound)."""
    x = adapter.prepare([adapter.views(c) for c in clips[:3]])
    costs = []
    for name in layers:
        info = adapter.resolve(name)
        with LayerCapture(adapter.model, {name: info}) as cap, torch.inference_mode():
            cap.run(lambda: adapter.forward(x))  # the first forward runs in full (warm-up)
            t0 = time.perf_counter()
            for _ in range(2):
                cap.run(lambda: adapter.forward(x))
            costs.append((time.perf_counter() - t0) / 2)
    return costs


def bench(name, spec, layers, frames, size, pairs, batch, seed=0):
    torch.manual_seed(0)
    adapter = sdinterp.load_adapter(spec, num_frames=frames, crop_size=size)
    adapter.model.eval()
    clips = real_clips(max(pairs, 4), frames * 2, size)
    costs = forward_costs(adapter, layers, clips, frames)
    bound = 2 * sum(costs) / (1.5 * costs[-1])

    t0 = time.perf_counter()
    ref = reference_run(adapter, layers, clips, pairs, batch, seed)
    t_ref = time.perf_counter() - t0

    sd = sdinterp.StaticDynamic(adapter, layers=layers)
    t0 = time.perf_counter()
    ours = sd.attribute(clips, RunConfig(n_pairs=max(1, pairs // 2), batch_size=batch, seed=seed, show_progress=False))
    t_ours = time.perf_counter() - t0
    assert set(ours.layers) == set(ref)
    print(f"{name}: {len(layers)} layers, {pairs} pairs, {frames}x{size}x{size}")
    print(f"  reference (one run per layer, 2 forwards/pair, features kept): {t_ref:8.2f} s")
    print(f"  sdinterp  (one pass, shared anchor, early exit, moments):     {t_ours:8.2f} s")
    print(f"  ratio: {t_ref / t_ours:.2f}x   forward-count bound: {bound:.2f}x")
    return t_ref / t_ours


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", choices=sorted(CONFIGS), action="append", help="default: all")
    ap.add_argument("--quick", action="store_true", help="tiny configuration (smoke test)")
    args = ap.parse_args()
    if args.quick:
        for name, cfg in QUICK.items():
            bench(name, *cfg)
        return 0
    for name in args.model or sorted(CONFIGS):
        bench(name, *CONFIGS[name])
    return 0


if __name__ == "__main__":
    sys.exit(main())
