"""Under CI a skip is a failure unless the test is marked ``optional_env`` (tests/conftest.py).

Each case runs pytest in a fresh process on a throwaway folder holding a copy of the suite's
conftest, with and without ``CI`` set.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent

CASES = """
import pytest

def test_runs():
    assert True

def test_skips():
    pytest.skip("needs a thing")

@pytest.mark.optional_env("a browser a machine may lack")
def test_skips_allowed():
    pytest.skip("no browser")

@pytest.mark.xfail(reason="known", strict=True)
def test_xfails():
    assert False
"""


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    for name in ("conftest.py", "_paths.py"):
        shutil.copy(HERE / name, tmp_path / name)
    (tmp_path / "pytest.ini").write_text(
        "[pytest]\nmarkers =\n    optional_env(reason): a skip allowed under CI\n    slow: slow\n"
    )
    (tmp_path / "test_cases.py").write_text(CASES)
    (tmp_path / "test_missing_family.py").write_text(
        'import pytest\npytest.importorskip("sdinterp_no_such_package")\n\ndef test_never():\n    pass\n'
    )
    return tmp_path


def _run(folder: Path, ci: str | None, target: str = ".") -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    env["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"  # the rules need no plugin; start-up is most of the cost
    if ci is not None:
        env["CI"] = ci
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rA", target],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_outside_ci_skips_are_skips(folder: Path) -> None:
    for ci in (None, "false"):  # also "" and "0"; each run costs a pytest start-up
        proc = _run(folder, ci)
        assert proc.returncode == 0, proc.stdout
        assert "1 passed, 3 skipped, 1 xfailed" in proc.stdout


def test_under_ci_a_skip_fails_unless_marked_optional_env(folder: Path) -> None:
    proc = _run(folder, "true", "test_cases.py")
    assert proc.returncode == 1, proc.stdout
    out = proc.stdout
    assert "FAILED test_cases.py::test_skips" in out and "skipped under CI (Skipped: needs a thing)" in out
    assert "SKIPPED" in out and "no browser" in out  # the optional_env one stays a skip
    assert "XFAIL test_cases.py::test_xfails" in out  # an expected failure is not a skip
    assert "1 failed, 1 passed, 1 skipped, 1 xfailed" in out
    # A module that importorskips a shipped family's package fails to collect (and stops the run).
    proc = _run(folder, "true", "test_missing_family.py")
    assert proc.returncode == 2, proc.stdout
    assert "ERROR test_missing_family.py" in proc.stdout
    assert "could not import 'sdinterp_no_such_package'" in proc.stdout
