"""The README's quickstart runs exactly as written (from the repository root, as a user would)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def quickstart() -> str:
    text = (ROOT / "README.md").read_text()
    match = re.search(r"<!-- quickstart.*?-->\s*```python\n(.*?)```", text, re.S)
    assert match, "README has no quickstart block"
    return match.group(1)


def test_quickstart_is_short():
    lines = [l for l in quickstart().splitlines() if l.strip()]
    assert len(lines) <= 10


def test_quickstart_runs_as_written(tmp_path):
    out_file = ROOT / "bias.json"
    out_file.unlink(missing_ok=True)
    try:
        proc = subprocess.run([sys.executable, "-c", quickstart()], cwd=ROOT, capture_output=True, text=True, timeout=600)
        assert proc.returncode == 0, proc.stderr[-3000:]
        assert "stage5" in proc.stdout and "dyn %" in proc.stdout
        assert out_file.exists()
    finally:
        out_file.unlink(missing_ok=True)
