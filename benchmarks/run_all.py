"""Run every benchmark in this folder, one after the other (``make bench``).

.venv/bin/python benchmarks/run_all.py            # full runs (tens of minutes on 2 cores)
.venv/bin/python benchmarks/run_all.py --quick    # each benchmark's smallest configuration
.venv/bin/python benchmarks/run_all.py --list     # what would run
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
# Arguments that make each benchmark small, for those without a --quick flag of their own.
QUICK_ARGS = {
    "adapter_report_times.py": ["--pairs", "2", "--size", "small", "--families", "torchvision"],
    "pipeline_overhead.py": ["--pairs", "4", "--frames", "4", "--size", "32"],
    "restyle_quality.py": ["--quick", "--restylers", "photometric"],
}


def scripts() -> list[Path]:
    return sorted(p for p in HERE.glob("*.py") if p.name != Path(__file__).name and not p.name.startswith("_"))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="run each benchmark's smallest configuration")
    ap.add_argument("--list", action="store_true", help="list the benchmarks and exit")
    args = ap.parse_args()
    if args.list:
        for p in scripts():
            print(p.name)
        return 0
    failed = []
    for p in scripts():
        extra = QUICK_ARGS.get(p.name, ["--quick"]) if args.quick else []
        print(f"== {p.name} {' '.join(extra)}", flush=True)
        t0 = time.perf_counter()
        code = subprocess.call([sys.executable, str(p), *extra])
        print(f"== {p.name}: exit {code}, {time.perf_counter() - t0:.1f} s", flush=True)
        if code:
            failed.append(p.name)
    if failed:
        print(f"failed: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
