"""Reproduce the paper's findings on tiny nets trained on synthetic videos (issue #13, item 3).

Trains the tiny C2D/I3D/SlowFast-like nets of :mod:`sdinterp.plugins.tiny_models` on the
generator's motion-class and appearance-class videos, once per training seed, measures each finding
(:mod:`_findings`), and prints one labelled row per finding: the numbers (mean ± std over seeds),
the pass criterion and the verdict. Writes the table to ``docs/findings.md`` (``--out``) with the
command that produced it.

    python benchmarks/reproduce_findings.py            # 3 seeds, full size
    python benchmarks/reproduce_findings.py --quick    # 1 seed, fewer clips and epochs (the suite runs it)
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _findings as F  # noqa: E402

FINDINGS = ("a", "b", "c", "d", "e", "f")
TITLES = {
    "a": "motion-class I3D-like net more dynamic than appearance-class one (stage3)",
    "b": "C2D-like static-dominated at every layer; fast pathway more dynamic than slow",
    "c": "training on shuffled frames costs the motion task far more than the appearance task",
    "d": "removing top dynamic units of the motion net hurts more than random / top static",
    "e": "StaticDropout raises the dynamic-unit ratio with the rate r in {0, .1, .3, .5}",
    "f": "the last layer's dynamic share settles within the first half of training",
}
MEASURE: dict[str, Callable[[int, F.Scale], dict[str, float]]] = {
    "a": F.measure_a_f, "b": F.measure_b, "c": F.measure_c, "d": F.measure_d, "e": F.measure_e, "f": F.measure_a_f,
}


def _mean_std(rows: list[dict[str, float]], key: str) -> tuple[float, float]:
    v = np.array([r[key] for r in rows], dtype=float)
    return float(v.mean()), float(v.std(ddof=1)) if len(v) > 1 else 0.0


def _fmt(rows: list[dict[str, float]], key: str, digits: int = 1) -> str:
    m, s = _mean_std(rows, key)
    return f"{key}={m:.{digits}f}±{s:.{digits}f}"


def _majority(flags: list[bool]) -> bool:
    return sum(flags) * 2 > len(flags)


def verdict(finding: str, rows: list[dict[str, float]]) -> tuple[str, str, bool]:
    """(measured numbers, pass criterion, passed) of one finding over the seeds' rows."""
    mean = lambda k: _mean_std(rows, k)[0]  # noqa: E731
    if finding == "a":
        nums = ", ".join(_fmt(rows, k) for k in ("motion_dyn_pct", "appearance_dyn_pct", "motion_dyn_units", "appearance_dyn_units",
                                                  "motion_val_acc", "appearance_val_acc"))
        flags = [r["motion_dyn_pct"] > r["appearance_dyn_pct"] and r["motion_dyn_units"] > r["appearance_dyn_units"] for r in rows]
        return nums, "motion > appearance in Dyn.% and dynamic units, in the mean and in a majority of seeds", \
            mean("motion_dyn_pct") > mean("appearance_dyn_pct") and mean("motion_dyn_units") > mean("appearance_dyn_units") and _majority(flags)
    if finding == "b":
        nums = ", ".join(_fmt(rows, k) for k in ("c2d_min_static_minus_dynamic", "fast_dyn_pct", "slow_dyn_pct", "slowfast_val_acc"))
        flags = [r["c2d_min_static_minus_dynamic"] > 0 and r["fast_dyn_pct"] > r["slow_dyn_pct"] for r in rows]
        return nums, "Stat.% > Dyn.% at every C2D layer (both tasks) and fast Dyn.% > slow Dyn.%, every seed", all(flags)
    if finding == "c":
        nums = ", ".join(_fmt(rows, k, 2 if "acc" in k else 1) for k in ("motion_rel_drop", "appearance_rel_drop", "motion_std_acc",
                                                                           "motion_shuf_acc", "appearance_std_acc", "appearance_shuf_acc"))
        flags = [r["motion_rel_drop"] - r["appearance_rel_drop"] > 20 for r in rows]
        return nums, "motion relative drop exceeds appearance's by > 20 points, every seed", all(flags)
    if finding == "d":
        nums = ", ".join(_fmt(rows, k, 3) for k in ("baseline_acc", "drop_top_dynamic", "drop_random", "drop_top_static"))
        flags = [r["drop_top_dynamic"] > max(r["drop_random"], r["drop_top_static"]) for r in rows]
        return nums, "accuracy drop (25% of stage3 removed): top dynamic > random and > top static, majority of seeds", \
            _majority(flags) and mean("drop_top_dynamic") > max(mean("drop_random"), mean("drop_top_static"))
    if finding == "e":
        keys = [k for k in rows[0] if k.startswith("ratio_")] + ["spearman"]
        nums = ", ".join(_fmt(rows, k, 2) for k in keys)
        return nums, "Spearman(rate, dynamic-unit ratio) > 0 in the mean and ratio(r=.5) > ratio(r=0)", \
            mean("spearman") > 0 and mean("ratio_r0.5") > mean("ratio_r0")
    if finding == "f":
        nums = ", ".join(_fmt(rows, k, 2) for k in ("f_settle_epoch", "f_epochs", "f_settle_fraction"))
        flags = [r["f_settle_fraction"] <= 0.5 for r in rows]
        return nums, "Dyn.% within 10 points of its final value from an epoch <= half of training on, majority of seeds", _majority(flags)
    raise ValueError(finding)


def run(findings: list[str], seeds: list[int], scale: F.Scale, log: Callable[[str], None] = print) -> list[dict[str, Any]]:
    """Measure ``findings`` over ``seeds``; returns one result dict per finding."""
    cache: dict[tuple[Any, int], dict[str, float]] = {}
    results = []
    for f in findings:
        t0 = time.perf_counter()
        rows = []
        for s in seeds:
            key = (MEASURE[f], s)
            if key not in cache:  # (a) and (f) share one training
                cache[key] = MEASURE[f](s, scale)
            rows.append(cache[key])
        nums, criterion, passed = verdict(f, rows)
        res = {"finding": f, "title": TITLES[f], "numbers": nums, "criterion": criterion, "verdict": "PASS" if passed else "FAIL",
               "seeds": seeds, "per_seed": rows, "seconds": round(time.perf_counter() - t0, 1)}
        results.append(res)
        log(f"({f}) {res['verdict']:4s} | {TITLES[f]} | {nums} | criterion: {criterion} | seeds {seeds} | {res['seconds']} s")
    return results


def write_markdown(results: list[dict[str, Any]], path: Path, command: str, scale: F.Scale, seconds: float) -> None:
    lines = [
        "# Findings reproduced on tiny trained nets", "",
        "Generated by `benchmarks/reproduce_findings.py` (issue #13, item 3); do not edit by hand. Command:", "",
        f"```\n{command}\n```", "",
        f"Scale: {scale.train_videos} training clips, {scale.val_videos} validation/probe clips, {scale.epochs} epochs, "
        f"{scale.n_pairs} pairs per factor; wall time {seconds:.0f} s. Numbers are mean ± std (ddof 1) over the training "
        "seeds; per-seed values are in `findings.json` beside the script's `--json` output when asked for. "
        "Models: `sdinterp.plugins.tiny_models` (docs: the module docstrings); data: the synthetic generator with "
        "2 classes (motion: two opposite directions; appearance: hue/texture/shape), 8 frames of 32 × 32.", "",
        "| finding | verdict | measured | pass criterion | seeds |", "|---|---|---|---|---|",
    ]
    for r in results:
        lines.append(f"| ({r['finding']}) {r['title']} | **{r['verdict']}** | {r['numbers']} | {r['criterion']} | {r['seeds']} |")
    lines += ["", "Finding (g) (two-stream fusion on camouflaged objects) is not measured by this script yet.", ""]
    path.write_text("\n".join(lines))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="1 seed, fewer clips, epochs and pairs")
    p.add_argument("--seeds", type=int, nargs="+", help="training seeds (default 0 1 2; --quick: 0)")
    p.add_argument("--findings", nargs="+", choices=FINDINGS, default=list(FINDINGS), help="which findings (default all)")
    p.add_argument("--out", default=str(Path(__file__).resolve().parents[1] / "docs" / "findings.md"),
                   help="markdown table to write ('-' to skip)")
    p.add_argument("--json", help="also write every per-seed number here")
    args = p.parse_args(argv)
    seeds = args.seeds if args.seeds else ([0] if args.quick else [0, 1, 2])
    if any(s < 0 for s in seeds):
        p.error("--seeds must be non-negative")
    scale = F.QUICK if args.quick else F.FULL
    t0 = time.perf_counter()
    results = run(args.findings, seeds, scale)
    seconds = time.perf_counter() - t0
    print(f"total {seconds:.0f} s")
    command = "python benchmarks/reproduce_findings.py " + " ".join(argv if argv is not None else sys.argv[1:])
    if args.out != "-":
        write_markdown(results, Path(args.out), command.strip(), scale, seconds)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
