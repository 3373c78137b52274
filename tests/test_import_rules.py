"""Import rules of the two rooms above the core (beside the core rule in tests/test_packaging.py):

* no module under ``sdinterp/plugins/`` or ``sdinterp/adapters/`` imports a private name or a
  private module (leading underscore) of another package: its own package's are fine
  (``sdinterp.adapters.mmaction2`` may import ``sdinterp.adapters._mmaction_config``), the core's,
  an adapter's or another plugin's are not;
* no plugin imports another plugin: what they share lives in the core (or the public kit,
  ``sdinterp.cli_kit``), or is reached through the registry by name;
* every built-in plugin module (one with hook implementations) is listed in
  ``sdinterp.plugin_manager.DEFAULT_PLUGINS``, the one way built-ins are registered.

Imports are read with ``ast``, module-level and function-level alike.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ROOMS = ("sdinterp/plugins", "sdinterp/adapters")

#: Violations in files this change could not edit (their owners reconcile them); each must still be
#: a violation, so a fixed one has to leave this list. file -> imported module or name.
PENDING: set[tuple[str, str]] = set()


def _private(part: str) -> bool:
    return part.startswith("_") and not part.startswith("__")


def _own_package(rel: Path) -> str:
    """``sdinterp.adapters`` for any adapter module; ``sdinterp.plugins.NAME`` for a plugin (a
    subpackage or a single module); ``sdinterp.plugins`` for the plugins package itself."""
    parts = rel.with_suffix("").parts
    if parts[1] == "adapters":
        return "sdinterp.adapters"
    if len(parts) == 3 and parts[2] == "__init__":
        return "sdinterp.plugins"
    return f"sdinterp.plugins.{parts[2]}"


def _module_name(rel: Path) -> str:
    return ".".join(rel.with_suffix("").parts).removesuffix(".__init__")


def _imports(path: Path, module: str) -> list[tuple[str, str]]:
    """(imported module, imported name or "") for every sdinterp import of a file."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    out: list[tuple[str, str]] = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out += [(a.name, "") for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(parts + ([base] if base else []))
            out += [(base, a.name) for a in node.names]
    return [(m, n) for m, n in out if m == "sdinterp" or m.startswith("sdinterp.")]


def _files() -> list[tuple[Path, str, str]]:
    out = []
    for room in ROOMS:
        for path in sorted((ROOT / room).rglob("*.py")):
            rel = path.relative_to(ROOT)
            out.append((path, rel.as_posix(), _module_name(rel)))
    return out


def _is_module(name: str) -> bool:
    rel = Path(*name.split("."))
    return (ROOT / rel.with_suffix(".py")).is_file() or (ROOT / rel / "__init__.py").is_file()


def private_reaches() -> set[tuple[str, str]]:
    """(file, what it imports) for every private module or name of another package it imports."""
    hits = set()
    for path, rel, module in _files():
        own = _own_package(Path(rel))
        for imported, name in _imports(path, module):
            full = f"{imported}.{name}" if name else imported
            if full == own or full.startswith(own + "."):
                continue
            parts = full.split(".")[1:]
            # A private module anywhere on the path, or a private name imported from a module.
            if any(_private(p) for p in parts):
                hits.add((rel, imported if any(_private(p) for p in imported.split(".")[1:]) else full))
    return hits


def plugin_to_plugin() -> set[tuple[str, str]]:
    """(file, module) for every import of another plugin by a plugin."""
    hits = set()
    for path, rel, module in _files():
        if not rel.startswith("sdinterp/plugins/"):
            continue
        own = _own_package(Path(rel))
        for imported, name in _imports(path, module):
            target = imported
            if imported == "sdinterp.plugins" and name and _is_module(f"sdinterp.plugins.{name}"):
                target = f"sdinterp.plugins.{name}"  # `from sdinterp.plugins import other`
            if not target.startswith("sdinterp.plugins."):
                continue
            if target == own or target.startswith(own + "."):
                continue
            hits.add((rel, target))
    return hits


def test_no_private_module_or_name_of_another_package_is_imported():
    found = private_reaches()
    new = sorted(found - PENDING)
    assert not new, "imports of another package's private module or name:\n" + "\n".join(f"{f}: {m}" for f, m in new)


def test_no_plugin_imports_another_plugin():
    found = plugin_to_plugin()
    new = sorted(found - PENDING)
    assert not new, (
        "plugin -> plugin imports (move what is shared into the core or sdinterp.cli_kit, or look it "
        "up in the registry):\n" + "\n".join(f"{f}: {m}" for f, m in new)
    )


def test_pending_violations_are_still_real():
    """A violation that was fixed leaves PENDING, so the list only shrinks."""
    stale = sorted(PENDING - private_reaches() - plugin_to_plugin())
    assert not stale, f"fixed, remove from PENDING: {stale}"


@pytest.mark.parametrize(
    "code, expected",
    [
        ("from sdinterp.adapters._clip import ClipSpec", {("sdinterp.adapters._clip", "ClipSpec")}),
        ("def f():\n    from ..adapters import generic", {("sdinterp.adapters", "generic")}),
    ],
)
def test_imports_are_read_module_and_function_level(tmp_path, code, expected):
    path = tmp_path / "mod.py"
    path.write_text(code)
    assert set(_imports(path, "sdinterp.plugins.mod")) == expected


def test_the_rules_catch_what_they_name(tmp_path, monkeypatch):
    """The checks find a planted private reach and a planted plugin -> plugin import."""
    fake = tmp_path / "sdinterp" / "plugins" / "alpha"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text(
        "from sdinterp.plugins.beta.core import thing\n"
        "from sdinterp.adapters.generic import _GENERIC\n"
        "from sdinterp.plugins.alpha._own import fine\n"
    )
    (tmp_path / "sdinterp" / "adapters").mkdir()
    monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path)
    assert plugin_to_plugin() == {("sdinterp/plugins/alpha/__init__.py", "sdinterp.plugins.beta.core")}
    assert private_reaches() == {("sdinterp/plugins/alpha/__init__.py", "sdinterp.adapters.generic._GENERIC")}


def _has_hookimpl(path: Path) -> bool:
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            for dec in node.decorator_list:
                target = dec.func if isinstance(dec, ast.Call) else dec
                if (isinstance(target, ast.Name) and target.id == "hookimpl") or (
                    isinstance(target, ast.Attribute) and target.attr == "hookimpl"
                ):
                    return True
    return False


def test_every_builtin_plugin_is_registered_in_code():
    from sdinterp.plugin_manager import DEFAULT_PLUGINS

    with_hooks = {module for path, _rel, module in _files() if _has_hookimpl(path)}
    listed = set(DEFAULT_PLUGINS.values())
    assert with_hooks <= listed, (
        f"modules with hook implementations missing from DEFAULT_PLUGINS: {sorted(with_hooks - listed)}"
    )
    assert all(_is_module(m) for m in listed), [m for m in listed if not _is_module(m)]


def test_builtins_are_not_entry_points():
    """The `sdinterp` entry-point group is for third parties: the built-ins have one way in."""
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert "sdinterp" not in project.get("entry-points", {})
