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


@pytest.mark.slow  # r3d_18 on both real clips, 4 pairs: about 20 s on 2 cores
def test_real_video_quick_prints_a_ratio_and_the_data_side_per_clip():
    out = _run(str(BENCH / "real_video.py"), "--quick")
    rows = [line.split() for line in out.splitlines() if line.startswith("r3d_18")]
    assert [r[1] for r in rows] == ["concert_176x144.mp4", "vtest.avi"], out
    for row in rows:
        report_s, bare_s, ratio, data_rate, forward_rate = map(float, row[2:7])
        assert report_s > 0 and bare_s > 0 and ratio == pytest.approx(report_s / bare_s, abs=0.01)
        assert data_rate > 0 and forward_rate > 0
        read_s, read_share, data_share = map(float, row[7:10])  # CPU s of reading; reading and the data side over bare
        assert read_share == pytest.approx(read_s / bare_s, abs=0.02)  # both printed to 0.01
        assert data_share > 0 and data_share >= 0.5 * read_share  # the data side includes the reading
