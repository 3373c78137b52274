"""The maintenance rules of pyproject.toml hold: typed package, warnings seen, doctests collected,
markers registered (each rule is one that a later edit could quietly undo)."""

from __future__ import annotations

import re
import sys

from _paths import REPO

if sys.version_info >= (3, 11):
    import tomllib
else:  # Python 3.10
    import tomli as tomllib

PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())
PYTEST = PYPROJECT["tool"]["pytest"]["ini_options"]


def test_the_package_is_typed_and_ships_its_marker() -> None:
    assert (REPO / "sdinterp" / "py.typed").is_file()
    assert "py.typed" in PYPROJECT["tool"]["setuptools"]["package-data"]["sdinterp"]
    assert PYPROJECT["tool"]["mypy"]["warn_unused_ignores"] is True


def test_deprecation_warnings_are_filtered_only_by_message_and_module() -> None:
    for entry in PYTEST.get("filterwarnings", []):
        action, message, category, module = (entry.split(":") + ["", "", "", ""])[:4]
        if action == "ignore" and category.endswith("DeprecationWarning"):
            assert message and module, f"filterwarnings {entry!r} hides every DeprecationWarning of a kind"


def test_doctests_are_collected_not_run_by_hand() -> None:
    assert "--doctest-modules" in PYTEST["addopts"] and "sdinterp" in PYTEST["testpaths"]
    call = "doctest" + ".testmod("  # spelled apart so this file does not find itself
    runners = [p.name for p in (REPO / "tests").glob("test_*.py") if call in p.read_text()]
    assert runners == [], f"hand-kept doctest runners (pytest collects the package's doctests): {runners}"


def test_markers_are_registered_and_strict() -> None:
    names = {re.split(r"[:(]", m)[0].strip() for m in PYTEST["markers"]}
    assert {"slow", "optional_env"} <= names
    assert "--strict-markers" in PYTEST["addopts"]
