"""Reproduce the paper's findings as statistics on tiny nets trained on synthetic videos (issue #22).

Trains the tiny nets of :mod:`sdinterp.plugins.tiny_models` on the generator's videos once per
training seed, measures each finding (:mod:`_findings`, :mod:`_finding_e`, :mod:`_finding_g`) and
judges it by its pre-stated criteria (:mod:`_finding_criteria`): the Student-t 95% interval over the
seeds of a continuous quantity must lie on one side of a threshold. Writes this run's numbers to a
JSON file and renders ``docs/findings.md`` from the full and the quick JSON files side by side, and
the StaticDropout dose-response figure.

    python benchmarks/reproduce_findings.py            # 5 seeds, full size (~25 min on 2 idle cores)
    python benchmarks/reproduce_findings.py --quick    # 2 seeds, smaller sets (< 3 min; indicative only)
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _finding_e as E
import _finding_g as G
import _findings as F
from _finding_criteria import CRITERIA, FINDINGS, TITLES
from _finding_stats import INTERVAL_METHOD, judge

DOCS = Path(__file__).resolve().parents[1] / "docs"
FIGURE = "static_dropout_dose_response"


def _e_parts(scale: F.Scale) -> int:
    # a seed's arms split over two work units so that the two cores stay busy (full: 9 arms)
    return 2 if len(E.arms(scale)) > 4 else 1


#: Units of work: name -> (the findings it measures, its function of (seed, scale, part, parts)).
UNITS: dict[str, tuple[tuple[str, ...], Callable[..., dict[str, dict[str, float]]]]] = {
    "core": (("a", "c", "d", "f"), lambda seed, scale, part, parts: F.measure_core(seed, scale)),
    "b": (("b",), lambda seed, scale, part, parts: F.measure_b(seed, scale)),
    "e": (("e",), lambda seed, scale, part, parts: E.measure_e(seed, scale, part, parts)),
    "g": (("g",), lambda seed, scale, part, parts: G.measure_g(seed, quick=scale.g_quick)),
}
#: Rough CPU seconds of each unit at full size (one seed; the e units are each half the arms):
#: the longest start first, so that the two processes finish together.
COST = {"e": 170, "core": 160, "b": 140, "g": 110}


def measure_unit(unit: str, seed: int, scale: F.Scale, part: int, parts: int) -> tuple[dict, float]:
    """One unit of work on one thread (the trainings pin one anyway: bit-for-bit weights); returns
    its rows and the CPU seconds it took."""
    import torch

    torch.set_num_threads(1)
    t0, c0 = time.perf_counter(), time.process_time()
    rows = UNITS[unit][1](seed, scale, part, parts)
    cpu = time.process_time() - c0
    print(
        f"  seed {seed}: {unit}[{part}/{parts}] {time.perf_counter() - t0:.0f} s wall, {cpu:.0f} s CPU",
        file=sys.stderr,
        flush=True,
    )
    return rows, cpu


def run(
    findings: list[str], seeds: list[int], scale: F.Scale, jobs: int = 2, cpu: dict[str, float] | None = None
) -> dict[str, list[dict[str, float]]]:
    """Measure ``findings`` over ``seeds`` (``jobs`` processes; the numbers do not depend on it).

    Returns:
        ``{finding: [row of seed s for s in seeds]}``; (e)'s rows carry :func:`_finding_e.derive_e`'s
        quantities. ``cpu`` (if given) receives each unit's CPU seconds, keyed ``unit/seed/part``.
    """
    work = []
    for unit, (covers, _) in UNITS.items():
        if any(f in findings for f in covers):
            parts = _e_parts(scale) if unit == "e" else 1
            work += [(unit, s, p, parts) for s in seeds for p in range(parts)]
    work.sort(key=lambda w: -COST[w[0]])
    if jobs > 1 and len(work) > 1:
        import concurrent.futures
        import multiprocessing

        ctx = multiprocessing.get_context("spawn")
        with concurrent.futures.ProcessPoolExecutor(min(jobs, len(work)), mp_context=ctx) as pool:
            done = list(pool.map(measure_unit, *zip(*[(u, s, scale, p, n) for u, s, p, n in work])))
    else:
        done = [measure_unit(u, s, scale, p, n) for u, s, p, n in work]
    per_seed: dict[int, dict[str, dict[str, float]]] = {s: {} for s in seeds}
    for (unit, seed, part, _), (rows, secs) in zip(work, done):
        if cpu is not None:
            cpu[f"{unit}/{seed}/{part}"] = secs
        for f, row in rows.items():
            per_seed[seed].setdefault(f, {}).update(row)
    out = {f: [per_seed[s][f] for s in seeds] for f in findings}
    if "e" in out:
        out["e"] = [E.derive_e(r, scale.rates) for r in out["e"]]
    return out


def verdicts(rows: dict[str, list[dict[str, float]]]) -> dict[str, dict[str, Any]]:
    """Every finding's criteria judged over its rows, and its verdict (every judged criterion passes)."""
    out = {}
    for f, seed_rows in rows.items():
        judged = [judge(c, seed_rows) for c in CRITERIA[f]]
        ok = all(j["passed"] for j in judged if j["judged"])
        out[f] = {"verdict": "PASS" if ok else "FAIL", "criteria": judged}
    return out


def _load(path: Path) -> dict[str, Any] | None:
    return json.loads(path.read_text()) if path.is_file() else None


def render(out: Path, full: dict[str, Any] | None, quick: dict[str, Any] | None) -> str:
    """docs/findings.md from the saved full and quick runs (either may be missing)."""
    import _finding_report as R

    text = R.markdown(full, quick, verdicts)
    out.write_text(text)
    return text


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="2 seeds, fewer clips, epochs, pairs and rates")
    p.add_argument("--seeds", type=int, nargs="+", help="training seeds (default 0-4; --quick: 0 1)")
    p.add_argument("--findings", nargs="+", choices=FINDINGS, default=list(FINDINGS), help="default: all")
    p.add_argument("--out", default=str(DOCS / "findings.md"), help="markdown to write ('-' to skip)")
    p.add_argument(
        "--json",
        help="this run's numbers (default: beside --out, findings.json or, with --quick, findings_quick.json); "
        "the markdown shows the full and the quick JSON found beside --out",
    )
    p.add_argument("--jobs", type=int, default=min(2, os.cpu_count() or 1), help="processes (default 2)")
    p.add_argument("--render", action="store_true", help="only rewrite --out (and the figure) from the saved JSON")
    args = p.parse_args(argv)
    if args.jobs < 1:
        p.error("--jobs must be >= 1")
    scale = F.QUICK if args.quick else F.FULL
    out = Path(args.out) if args.out != "-" else None
    base = out.parent if out else DOCS
    js = Path(args.json) if args.json else base / ("findings_quick.json" if args.quick else "findings.json")
    if not args.render:
        seeds = args.seeds if args.seeds else list(scale.seeds)
        if any(s < 0 for s in seeds) or len(set(seeds)) != len(seeds):
            p.error("--seeds must be distinct non-negative integers")
        t0 = time.perf_counter()
        unit_cpu: dict[str, float] = {}
        rows = run(args.findings, seeds, scale, jobs=args.jobs, cpu=unit_cpu)
        wall = time.perf_counter() - t0
        usage = [resource.getrusage(w) for w in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)]
        cpu = sum(u.ru_utime + u.ru_stime for u in usage)
        command = "python benchmarks/reproduce_findings.py " + " ".join(argv if argv is not None else sys.argv[1:])
        saved: dict[str, Any] = {
            "command": command.strip(),
            "scale": "quick" if args.quick else "full",
            "sizes": {k: (list(v) if isinstance(v, tuple) else v) for k, v in vars(scale).items()},
            "seeds": seeds,
            "wall_seconds": wall,
            "cpu_seconds": cpu,
            "unit_cpu_seconds": unit_cpu,
            "interval": INTERVAL_METHOD,
            "rows": rows,
        }
        js.write_text(json.dumps(saved, indent=1) + "\n")
        for f, v in verdicts(rows).items():
            crit = "; ".join(
                f"{c['name']} [{c['pairs'] or 'no pairs'}{'' if c['judged'] else ', beside'}]: "
                f"{c['mean']:.3f} [{c['low']:.3f}, {c['high']:.3f}] {'pass' if c['passed'] else 'fail'}"
                for c in v["criteria"]
            )
            print(f"({f}) {v['verdict']} | {TITLES[f]} | {crit} | seeds {seeds}")
        print(f"total {wall:.0f} s wall, {cpu:.0f} s CPU")
    if out is None:
        return 0
    runs: dict[str, dict[str, Any] | None] = {
        "full": _load(base / "findings.json"),
        "quick": _load(base / "findings_quick.json"),
    }
    runs["quick" if args.quick else "full"] = _load(js)
    render(out, runs["full"], runs["quick"])
    import _finding_report as R

    for name, run_saved in runs.items():
        if run_saved and "e" in run_saved["rows"]:
            R.figure(run_saved, base / "figures" / (FIGURE + ("_quick" if name == "quick" else "") + ".png"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
