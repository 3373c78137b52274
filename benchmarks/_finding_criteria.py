"""What reproduce_findings.py judges, stated before anything is measured (issue #22): per finding its
title, its pass criteria (:class:`_finding_stats.Criterion`: a continuous per-seed quantity and the
side of a threshold its 95% across-seed interval must lie on) and the numbers reported beside them
(not judged: Dyn.%, unit counts, accuracies). A finding passes when every criterion marked
``judged`` passes; each unit-score criterion is judged on the ground-truth dynamic pairs
(``synthetic_restyle``) and repeated, unjudged, on the toolkit's default pairs (``restyle``,
``natural_colour``), whose verdict is shown beside.
"""

from __future__ import annotations

from _finding_stats import Criterion

__all__ = ["FINDINGS", "TITLES", "CRITERIA", "REPORTED", "with_default_pairs"]

FINDINGS = ("a", "b", "c", "d", "e", "f", "g")

TITLES = {
    "a": "motion-class I3D-like net more dynamic than appearance-class one (stage3)",
    "b": "C2D static at every layer; on a colour × direction task the fast pathway is more dynamic than the "
    "slow one, and SlowFast's slow pathway more than SlowOnly",
    "c": "training on shuffled frames costs the motion task far more than the appearance task",
    "d": "removing the top dynamic units of the motion net hurts more than removing top static or random ones",
    "e": "StaticDropout debiases toward dynamics, dose-dependently, and helps on the shortcut split",
    "f": "the last layer's dynamic score settles within the first half of training",
    "g": "camouflage, estimated flow, panning camera: gated fusion (G+U) segments better than convex gated (CCG+U)",
}


def with_default_pairs(c: Criterion) -> list[Criterion]:
    """``c`` on the ground-truth pairs (judged) and the same test on the default pairs (beside)."""
    swap = {k: v.replace("_gt", "_def") if v else v for k, v in (("a", c.a), ("b", c.b))}
    return [
        c,
        Criterion(
            name=c.name,
            a=swap["a"] or c.a,
            b=swap["b"],
            above=c.above,
            threshold=c.threshold,
            pairs="default",
            judged=False,
        ),
    ]


def _gt(name: str, a: str, b: str | None = None, above: bool = True, threshold: float = 0.0) -> list[Criterion]:
    return with_default_pairs(Criterion(name, a, b, above, threshold, pairs="ground truth"))


CRITERIA: dict[str, list[Criterion]] = {
    "a": _gt("stage3 S_dyn, motion net − appearance net", "motion_gt_sdyn", "appearance_gt_sdyn"),
    "b": [
        *_gt("min over C2D layers and tasks of S_stat − S_dyn", "c2d_min_margin_gt"),
        *_gt(
            "S_dyn fast.stage3 − slow.stage3 (SlowFast, joint task)",
            "slowfast_fast_stage3_gt_sdyn",
            "slowfast_slow_stage3_gt_sdyn",
        ),
        *_gt(
            "S_dyn SlowFast slow.stage3 − SlowOnly stage3 (joint task)",
            "slowfast_slow_stage3_gt_sdyn",
            "slowonly_stage3_gt_sdyn",
        ),
    ],
    "c": [
        Criterion(
            "relative drop (points), motion − appearance task", "motion_rel_drop", "appearance_rel_drop", threshold=20.0
        )
    ],
    "d": [
        *_gt("mean accuracy drop, top dynamic − top static", "drop_top_dynamic_gt", "drop_top_static_gt"),
        *_gt("mean accuracy drop, top dynamic − random", "drop_top_dynamic_gt", "drop_random"),
    ],
    "e": [
        Criterion(
            "shortcut-split val accuracy, StaticDropout − standard dropout (same r, mean over r)",
            "sd_minus_drop_val_acc",
        ),
        Criterion(
            "shuffled / ordered accuracy, StaticDropout − standard dropout (same r, mean over r)",
            "sd_minus_drop_rel_shuf",
            above=False,
        ),
        *_gt(
            "dose-response slope over r of stage3 S_dyn − S_stat (StaticDropout; r = 0: no dropout)", "slope_margin_gt"
        ),
    ],
    "f": [
        Criterion(
            "settle fraction of stage3 S_dyn (motion net)",
            "settle_fraction",
            above=False,
            threshold=0.5,
            pairs="ground truth",
        )
    ],
    "g": [
        Criterion("val IoU, G+U − CCG+U", "gu_iou", "ccgu_iou"),
        Criterion("val IoU, G+B − CCG+B", "gb_iou", "ccgb_iou", judged=False),
    ],
}

#: Numbers reported beside the criteria (mean and 95% interval over the seeds), per finding.
REPORTED: dict[str, list[str]] = {
    "a": [
        f"{n}_{p}_{k}"
        for p in ("gt", "def")
        for k in ("sdyn", "sstat", "unit_dyn", "dyn_pct", "dyn_units", "stat_units")
        for n in ("motion", "appearance")
    ]
    + ["motion_gt_sdyn_boot_hw", "appearance_gt_sdyn_boot_hw", "motion_val_acc", "appearance_val_acc"],
    "b": [
        "c2d_min_margin_def",
        *[
            f"{n}_{p}_{k}"
            for p in ("gt", "def")
            for k in ("sdyn", "dyn_pct", "dyn_units", "stat_units")
            for n in (
                "slowfast_fast_stage3",
                "slowfast_slow_stage3",
                "slowonly_stage3",
                "slowfast_slow_stage2",
                "slowonly_stage2",
            )
        ],
        "slowfast_fast_stage3_gt_sdyn_boot_hw",
        "slowfast_slow_stage3_gt_sdyn_boot_hw",
        "slowonly_stage3_gt_sdyn_boot_hw",
        "slowfast_joint_val_acc",
        "slowonly_joint_val_acc",
        "c2d_motion_val_acc",
        "c2d_appearance_val_acc",
    ],
    "c": ["motion_std_acc", "motion_shuf_acc", "appearance_std_acc", "appearance_shuf_acc"],
    "d": [
        "baseline_acc",
        "drop_top_dynamic_gt",
        "drop_top_static_gt",
        "drop_random",
        "drop_top_dynamic_def",
        "drop_top_static_def",
    ],
    "e": [],  # filled from the rows (every arm), see reproduce_findings.reported_keys
    "f": ["settle_fraction_dyn_pct", "reports", "final_sdyn", "sdyn_range"],
    "g": [
        "centre_box_iou",
        "flow_epe",
        *[f"{v}_iou" for v in ("gu", "ccgu", "gb", "ccgb")],
        *[
            f"{v}_{p}_{k}"
            for p in ("gt", "def")
            for k in ("sdyn", "dyn_units", "joint_units")
            for v in ("gu", "ccgu", "gb", "ccgb")
        ],
    ],
}
