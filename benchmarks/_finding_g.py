"""Finding (g) on tiny two-stream AVOS models (issue #13): on camouflaged objects, gated fusion with
cross connections (G+B) segments better and is more dynamic at the last fusion layer than
convex-combination gated fusion (CCG+B) (paper Sec. 5.3, Fig. 15).

One training seed: both variants are trained on the generator's camouflage videos
(:mod:`sdinterp.plugins.tiny_models.avos`), validated by region IoU, and measured at ``fusion5``
(their deepest fusion layer) with static pairs ``flow_jitter`` (same image, jittered flow), dynamic
pairs :class:`~sdinterp.plugins.synthetic.SyntheticRestyle` (same flow, the frame re-rendered in
another generator style) under the ``vos-alternating`` protocol (docs/twostream.md; one item = one
probe video's frames, static first).

    python benchmarks/_finding_g.py [--quick] [--seeds 0 1 2] [--all-variants]
"""

from __future__ import annotations

import dataclasses
import sys
from typing import Any

import numpy as np
import torch

import sdinterp
from sdinterp.plugins.synthetic import SyntheticRestyle
from sdinterp.plugins.tiny_models.avos import AvosTask, avos_adapter, avos_iou, avos_samples, baseline_ious, train_avos
from sdinterp.plugins.twostream.protocol import VosAlternating

__all__ = ["measure_g", "verdict_g", "CRITERION_G", "TITLE_G", "VARIANTS_G", "ALL_VARIANTS_G", "FULL_G", "QUICK_G"]

TITLE_G = "camouflage: gated fusion + cross (G+B) segments better and is more dynamic at fusion5 than CCG+B"
CRITERION_G = "G+B > CCG+B in val IoU and in fusion5 Dyn.%, in the mean over seeds and in a majority of seeds"
#: key prefix -> variant of the two-stream family (the paper's G+B and CCG+B).
VARIANTS_G = {"gated": "gated-bidirectional", "convex": "convex_gated-bidirectional"}
#: the paper's four study variants (G+B, CCG+B, G+U, CCG+U): ~50 s more per seed than VARIANTS_G.
ALL_VARIANTS_G = {**VARIANTS_G, "gated_uni": "gated-unidirectional", "convex_uni": "convex_gated-unidirectional"}
LAYER_G = "fusion5"
FULL_G = AvosTask()
QUICK_G = AvosTask(epochs=4, train_videos=24, val_videos=8, probe_videos=8)


def measure_g(
    seed: int, quick: bool = False, task: AvosTask | None = None, variants: dict[str, str] | None = None
) -> dict[str, float]:
    """(g) for one training seed: ``{prefix}_iou``, ``{prefix}_dyn_pct``, ``{prefix}_stat_pct``,
    ``{prefix}_dyn_units``, ``{prefix}_units`` for prefixes ``gated`` and ``convex``, and the
    trivial baselines ``background_iou``, ``centre_box_iou`` of the validation masks.

    Args:
        seed: training seed (data, init, batch order) and the pairs' seed.
        quick: fewer videos and epochs (the suite's budget).
        task: the task (videos, epochs, difficulty...) instead of :data:`FULL_G` / :data:`QUICK_G`;
            its ``variant`` is replaced by each of ``variants``.
        variants: ``{key prefix: variant}`` (default :data:`VARIANTS_G`; e.g. add
            ``"gated_uni": "gated-unidirectional"``, ~27 s more per variant).

    Returns:
        ``{name: number}``.
    """
    base = task or (QUICK_G if quick else FULL_G)
    probe = avos_samples(base, "probe", seed)
    val = avos_samples(base, "val", seed)
    out: dict[str, float] = {f"{k}_iou": v for k, v in baseline_ious(val).items()}
    protocol = VosAlternating(frames_per_item=base.frames - 1)
    for prefix, variant in (variants or VARIANTS_G).items():
        net = train_avos(dataclasses.replace(base, variant=variant), seed)
        out[f"{prefix}_iou"] = avos_iou(net, val)
        sd = sdinterp.StaticDynamic(
            avos_adapter(net),
            layers=[LAYER_G],
            static_sampler="flow_jitter",
            dynamic_sampler=SyntheticRestyle(anchor_style="random"),
        )
        bias = sd.attribute(
            probe, n_pairs=len(probe), batch_size=32, seed=seed, protocol=protocol, show_progress=False
        )[LAYER_G]
        out[f"{prefix}_dyn_pct"], out[f"{prefix}_stat_pct"] = bias.dynamic_percent, bias.static_percent
        out[f"{prefix}_dyn_units"], out[f"{prefix}_units"] = int(bias.category_counts["dynamic"]), int(bias.n_units)
    return out


def verdict_g(per_seed: list[dict[str, float]]) -> bool:
    """:data:`CRITERION_G` over the seeds' rows of :func:`measure_g`."""

    def mean(k):
        return float(np.mean([r[k] for r in per_seed]))

    flags = [r["gated_iou"] > r["convex_iou"] and r["gated_dyn_pct"] > r["convex_dyn_pct"] for r in per_seed]
    return (
        mean("gated_iou") > mean("convex_iou")
        and mean("gated_dyn_pct") > mean("convex_dyn_pct")
        and sum(flags) * 2 > len(flags)
    )


def _main(argv: list[str]) -> int:
    import argparse
    import time

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument(
        "--all-variants", action="store_true", help="also the unidirectional G+U and CCG+U (informative)"
    )
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    rows: list[dict[str, Any]] = []
    for seed in args.seeds:
        start = time.perf_counter()
        row = measure_g(seed, args.quick, variants=ALL_VARIANTS_G if args.all_variants else None)
        print(
            f"seed {seed} ({time.perf_counter() - start:.1f} s): " + ", ".join(f"{k}={v:.4g}" for k, v in row.items()),
            flush=True,
        )
        rows.append(row)
    print(f"(g) {TITLE_G}\n    criterion: {CRITERION_G}\n    verdict: {'PASS' if verdict_g(rows) else 'FAIL'}")
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
