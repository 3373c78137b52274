"""The benchmarks run: a quick mode of each new benchmark is smoke-tested (never timed here)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"


def _run(*args: str) -> str:
    run = subprocess.run([sys.executable, *args], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    return run.stdout


@pytest.mark.slow  # 68 s measured on 2 shared cores
@pytest.mark.parametrize("script", ["reference_approach.py", "early_exit.py"])
def test_quick_mode_prints_positive_ratios(script):
    out = _run(str(BENCH / script), "--quick")
    ratios = [float(x) for x in re.findall(r"ratio[^:]*: ([0-9.]+)x", out)]
    assert ratios and all(r > 0 for r in ratios), out


def test_run_all_lists_every_benchmark():
    listed = _run(str(BENCH / "run_all.py"), "--list").split()
    expected = sorted(p.name for p in BENCH.glob("*.py") if p.name != "run_all.py" and not p.name.startswith("_"))
    assert listed == expected and "reference_approach.py" in listed and "early_exit.py" in listed
