"""The measurements behind the validity thresholds of docs/validity.md.

Runs the embedded trained tiny nets on their probe clips with ground-truth dynamic pairs (the
generator's re-renderings, ``synthetic_restyle``) and with the pairs the issue measured out of
distribution (``restyle`` with the ``photometric`` restyler, ``appearance_free``), plus identical
partners, and prints per run: the partner shift of every layer and of the output, the anchor style
share, the probe controls' unit scores and the check's verdict.

    python benchmarks/validity_thresholds.py                 # 4 nets x 10 pair kinds, 128 pairs
    python benchmarks/validity_thresholds.py --nets i3d-motion --pairs 64 --json out.json
    python benchmarks/validity_thresholds.py --quick             # 3 runs of 32 pairs, seconds
"""

from __future__ import annotations

import argparse
import json
import time
import warnings

import numpy as np
import torch

import sdinterp
from sdinterp.interfaces import Factor, PairSampler, Sample
from sdinterp.plugins.samplers.appearance_free import AppearanceFree
from sdinterp.plugins.samplers.basic import Identical, Restyle
from sdinterp.plugins.synthetic.pairs import SyntheticRestyle
from sdinterp.plugins.tiny_models import TinyTask, task_clips
from sdinterp.plugins.tiny_models.embedded import load_embedded
from sdinterp.validity import ValidityMonitor


class TimeReversed(PairSampler):
    """Broken on purpose: the "dynamic" partner is the anchor played backwards."""

    factor, name = Factor.DYNAMIC, "broken_reverse"

    def partner(self, anchor: Sample, rng: np.random.Generator) -> Sample:
        return anchor.replace(views=tuple(np.ascontiguousarray(v[::-1]) for v in anchor.view_indices()))


class Noisy(PairSampler):
    """Broken on purpose: the "dynamic" partner is the anchor under pixel noise of sd 60."""

    factor, name = Factor.DYNAMIC, "broken_noise"

    def partner(self, anchor: Sample, rng: np.random.Generator) -> Sample:
        noisy = anchor.frames.astype(np.float64) + rng.normal(0.0, 60.0, anchor.frames.shape)
        return anchor.replace(frames=np.clip(noisy, 0, 255).astype(np.uint8))


NETS = ("i3d-motion", "i3d-appearance", "c2d-motion", "slowfast-both")
PAIRS = {
    "identical": lambda: Identical("dynamic"),
    "gt_original": lambda: SyntheticRestyle(anchor_style="original"),
    "gt_random": lambda: SyntheticRestyle(anchor_style="random"),
    "photometric_original": lambda: Restyle("photometric", anchor_style="original"),
    "photometric_random": lambda: Restyle("photometric", anchor_style="random"),
    "level_permutation_original": lambda: Restyle("level_permutation", anchor_style="original"),
    "appearance_free": lambda: AppearanceFree(),
    "restyle_default": lambda: Restyle(),  # whatever the default restyle is today
    "time_reversed": TimeReversed,
    "noise": Noisy,
}


def measure(net_name: str, pairs: str, n_pairs: int, seed: int = 0) -> dict:
    """One run's validity numbers (what :meth:`ValidityMonitor.verdict` reads, and its verdict)."""
    arch, kind = net_name.split("-")
    net = load_embedded(arch, kind)
    clips = task_clips(TinyTask(arch=arch, kind=kind), "probe", seed)
    sd = sdinterp.StaticDynamic(net, dynamic_sampler=PAIRS[pairs]())
    monitor = ValidityMonitor(sd.adapter, list(sd.layer_infos))
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        store = sd.accumulate(
            clips, n_pairs=n_pairs, batch_size=48, seed=seed, show_progress=False, observers=[monitor]
        )
    report = sd.score(
        store,
        seed=seed,
        config=sd.identity(clips, sdinterp.pipeline.RunConfig.from_options(None, n_pairs=n_pairs, seed=seed)),
    )
    verdict = monitor.verdict(store, report)
    last = list(report.layers)[-1]
    return {
        "net": net_name,
        "pairs": pairs,
        "seconds": round(time.perf_counter() - t0, 1),
        "last_layer": last,
        "categories": report[last].category_counts,
        "validity": verdict.to_dict(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nets", nargs="+", default=list(NETS))
    parser.add_argument("--kinds", nargs="+", default=list(PAIRS))
    parser.add_argument("--pairs", type=int, default=128)
    parser.add_argument("--json", default=None)
    parser.add_argument("--quick", action="store_true", help="i3d-motion, three pair kinds, 32 pairs (run_all --quick)")
    args = parser.parse_args()
    if args.quick:
        args.nets, args.kinds, args.pairs = ["i3d-motion"], ["gt_original", "photometric_original", "time_reversed"], 32
    torch.set_num_threads(1)
    rows = []
    for net in args.nets:
        for kind in args.kinds:
            row = measure(net, kind, args.pairs)
            rows.append(row)
            v = row["validity"]
            print(f"{net:15s} {kind:21s} {row['last_layer']}: {row['categories']}  verdict {v['status']}", flush=True)
            for factor, fv in v["factors"].items():
                print(f"    {factor:8s} {fv['status']:9s} {fv['reason']}")
            print("    numbers: " + json.dumps(v["numbers"], default=float), flush=True)
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(rows, fh, indent=1, default=float)


if __name__ == "__main__":
    main()
