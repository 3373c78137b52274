"""The README's quickstart runs exactly as written (from the repository root, as a user would)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def quickstart() -> str:
    text = (ROOT / "README.md").read_text()
    match = re.search(r"<!-- quickstart.*?-->\s*```python\n(.*?)```", text, re.S)
    assert match, "README has no quickstart block"
    return match.group(1)


def test_quickstart_is_short():
    lines = [l for l in quickstart().splitlines() if l.strip()]
    assert len(lines) <= 10


@pytest.mark.slow  # 78 s measured on 2 shared cores
def test_quickstart_runs_as_written(tmp_path):
    out_file = ROOT / "bias.json"
    out_file.unlink(missing_ok=True)
    try:
        proc = subprocess.run(
            [sys.executable, "-c", quickstart()], cwd=ROOT, capture_output=True, text=True, timeout=600
        )
        assert proc.returncode == 0, proc.stderr[-3000:]
        assert "stage5" in proc.stdout and "dyn %" in proc.stdout
        assert out_file.exists()
    finally:
        out_file.unlink(missing_ok=True)


def walkthrough() -> list[str]:
    text = (ROOT / "README.md").read_text()
    match = re.search(r"<!-- walkthrough.*?-->\s*```\n(.*?)```", text, re.S)
    assert match, "README has no walkthrough block"
    return [line for line in match.group(1).splitlines() if line.strip()]


@pytest.mark.slow  # 61 s measured on 2 shared cores
def test_walkthrough_runs_as_written(tmp_path):
    """The figures/compare walkthrough, each line as a user types it (the sdinterp on PATH is the
    one installed beside this Python); its outputs land in out/, which is removed afterwards."""
    import os
    import shutil

    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
    out = ROOT / "out"
    existed = out.exists()
    try:
        for line in walkthrough():
            proc = subprocess.run(line, shell=True, cwd=ROOT, capture_output=True, text=True, timeout=600, env=env)
            assert proc.returncode == 0, f"{line}\n{proc.stderr[-3000:]}"
        assert (out / "tiny" / "report.html").stat().st_size > 10_000
        assert (out / "tiny-s1" / "config.yaml").exists()
        assert (out / "cmp" / "compare.html").exists() and (out / "tiny-figures" / "layers.png").exists()
    finally:
        if not existed:
            shutil.rmtree(out, ignore_errors=True)
