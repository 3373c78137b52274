"""The docs never say a thing is missing when it exists.

A line of README.md, docs/*.md or requirements/*.txt that says something is "not yet implemented",
"to come" or "upcoming" must name what is missing as ``(absent: dotted.module)``, and
that module must really be absent; anything else is a stale claim. Files outside the repository are
never cited (a clean clone has no ../shared docs).
"""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CLAIMS = re.compile(r"not yet implemented|not implemented yet|\bto come\b|\bupcoming\b", re.I)
ABSENT = re.compile(r"\(absent: ([\w.]+)\)")


def _doc_lines() -> list[tuple[str, int, str]]:
    files = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")), *sorted((ROOT / "requirements").glob("*.txt"))]
    return [
        (f.relative_to(ROOT).as_posix(), n, line) for f in files for n, line in enumerate(f.read_text().splitlines(), 1)
    ]


def _exists(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def test_no_stale_claims_of_missing_features():
    stale = []
    for name, n, line in _doc_lines():
        if not CLAIMS.search(line):
            continue
        named = ABSENT.findall(line)
        if not named or any(_exists(m) for m in named):
            stale.append(f"{name}:{n}: {line.strip()[:120]}")
    assert not stale, "docs say something is missing (name it as '(absent: module)' if it truly is):\n" + "\n".join(
        stale
    )


def test_docs_cite_no_file_outside_the_repository():
    outside = [f"{name}:{n}" for name, n, line in _doc_lines() if re.search(r"\.\./shared/docs/", line)]
    assert not outside, outside


def test_the_checker_catches_a_stale_claim(tmp_path):
    assert CLAIMS.search("§7 evaluation protocols — not yet implemented")
    assert _exists("sdinterp.plugins.segmentation_eval") and not _exists("sdinterp.no_such_module")
