"""Packaging and layout: the wheel holds every package, `python -m sdinterp` and torchrun work, the
core never imports adapters/ or plugins/, there are no import cycles, and docs cited exist."""

from __future__ import annotations

import ast
import json
import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
VIDEO = ROOT.parent / "shared" / "data" / "videos" / "tree.avi"
SOURCE_ROOTS = {"sdinterp": "sdinterp"}


def _source_files() -> list[tuple[Path, str]]:
    """(source file, path inside the wheel) for every .py file of the three source roots."""
    out = []
    for folder, installed in SOURCE_ROOTS.items():
        for path in sorted((ROOT / folder).rglob("*.py")):
            if "__pycache__" not in path.parts:
                out.append((path, f"{installed}/{path.relative_to(ROOT / folder).as_posix()}"))
    return out


def test_wheel_holds_every_package_and_module(tmp_path):
    build = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp_path),
            str(ROOT),
        ],
        capture_output=True,
        text=True,
    )
    assert build.returncode == 0, build.stderr[-2000:]
    (wheel,) = tmp_path.glob("sdinterp-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    missing = [inside for _, inside in _source_files() if inside not in names]
    assert not missing, f"not in the wheel: {missing}"
    packages = {p.parent for p, _ in _source_files() if p.name == "__init__.py"}
    dirs = {p.parent for p, _ in _source_files()}
    assert dirs <= packages, f"folders with modules but no __init__.py: {sorted(map(str, dirs - packages))}"
    # package data: the embedded tiny checkpoints and their index travel with the wheel
    shipped = sorted(
        p.name
        for p in (ROOT / "sdinterp" / "plugins" / "tiny_models" / "checkpoints").iterdir()
        if p.suffix in (".pt", ".json")
    )
    assert len(shipped) >= 15 and all(f"sdinterp/plugins/tiny_models/checkpoints/{n}" in names for n in shipped), (
        shipped
    )
    entry_points = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
    text = zipfile.ZipFile(wheel).read(entry_points).decode()
    for module in re.findall(r"= (sdinterp\.[\w.]+)", text):
        assert f"{module.replace('.', '/')}.py" in names or f"{module.replace('.', '/')}/__init__.py" in names, module


@pytest.mark.slow  # 12 s measured on 2 shared cores
def test_python_dash_m_sdinterp():
    run = subprocess.run([sys.executable, "-m", "sdinterp", "--help"], capture_output=True, text=True)
    assert run.returncode == 0 and "report" in run.stdout and "scan" in run.stdout
    version = subprocess.run([sys.executable, "-m", "sdinterp", "--version"], capture_output=True, text=True)
    import sdinterp

    assert version.stdout.strip() == f"sdinterp {sdinterp.__version__}"


@pytest.mark.slow  # 30 s measured on 2 shared cores
def test_torchrun_two_processes_match_one(tmp_path):
    torchrun = Path(sys.executable).with_name("torchrun")
    args = [
        "-m",
        "sdinterp",
        "report",
        "example:tiny",
        str(VIDEO),
        "--n-pairs",
        "8",
        "--batch-size",
        "6",
        "--clip-length",
        "8",
        "--no-progress",
        "--seed",
        "3",
    ]
    single = subprocess.run(
        [sys.executable, *args, "--json", str(tmp_path / "one.json")], capture_output=True, text=True
    )
    assert single.returncode == 0, single.stderr
    env = dict(os.environ, OMP_NUM_THREADS="1")
    multi = subprocess.run(
        [str(torchrun), "--nproc_per_node=2", "--master_port=29531", *args, "--json", str(tmp_path / "two.json")],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert multi.returncode == 0, multi.stderr[-3000:]
    one, two = (json.loads((tmp_path / f).read_text()) for f in ("one.json", "two.json"))
    for a, b in zip(one["layers"], two["layers"]):
        assert a["n_pairs"] == b["n_pairs"] == {"dynamic": 8, "static": 8}
        for f in ("dynamic", "static"):
            assert a["scores"][f] == pytest.approx(b["scores"][f], rel=1e-9, abs=1e-12)


def _runtime_nodes(tree: ast.AST) -> list[ast.AST]:
    """Every node but those under ``if TYPE_CHECKING:`` (annotations only; never imported at run
    time, as ../shared/tools/import_cycles.py counts them too)."""
    out, todo = [], [tree]
    while todo:
        node = todo.pop()
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            todo.extend(node.orelse)
            continue
        out.append(node)
        todo.extend(ast.iter_child_nodes(node))
    return out


def _imports(path: Path, module: str) -> set[str]:
    """Every sdinterp module imported by a file at run time, module-level and function-level alike."""
    out: set[str] = set()
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in _runtime_nodes(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(parts + ([base] if base else []))
            out.add(base)
            out.update(f"{base}.{a.name}" for a in node.names)
    return {m for m in out if m.startswith("sdinterp")}


def _all_modules() -> dict[str, Path]:
    mods = {}
    for path in (ROOT / "sdinterp").rglob("*.py"):
        rel = path.relative_to(ROOT).with_suffix("").as_posix().replace("/", ".")
        mods[rel.removesuffix(".__init__")] = path
    return mods


def _core_modules() -> dict[str, Path]:
    """The core: everything under sdinterp/ but the two rooms above it, adapters/ and plugins/."""
    return {n: p for n, p in _all_modules().items() if not n.startswith(("sdinterp.adapters", "sdinterp.plugins"))}


def test_one_source_tree_whose_folders_show_the_layers():
    assert not (ROOT / "adapters").exists() and not (ROOT / "plugins").exists(), "one source tree: sdinterp/"
    assert (ROOT / "sdinterp" / "adapters" / "__init__.py").is_file()
    assert (ROOT / "sdinterp" / "plugins" / "__init__.py").is_file()
    assert len(_core_modules()) > 40 and len(_core_modules()) < len(_all_modules())


def test_core_never_imports_adapters_or_plugins():
    offenders = {
        name: sorted(m for m in _imports(path, name) if m.startswith(("sdinterp.adapters", "sdinterp.plugins")))
        for name, path in _core_modules().items()
    }
    assert not {k: v for k, v in offenders.items() if v}


def test_no_import_cycles():
    mods = _all_modules()
    graph = {name: {m for m in _imports(path, name) if m in mods and m != name} for name, path in mods.items()}
    # A package's own __init__ re-exporting its modules is not a cycle with them.
    graph = {n: {m for m in deps if not n.startswith(m + ".")} for n, deps in graph.items()}
    cycles, state = [], {}

    def visit(node: str, stack: list[str]) -> None:
        state[node] = 1
        for dep in sorted(graph[node]):
            if state.get(dep) == 1:
                cycles.append(stack[stack.index(dep) :] + [dep])
            elif dep not in state:
                visit(dep, stack + [dep])
        state[node] = 2

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])
    assert not cycles, cycles


def test_docs_cited_by_the_code_are_in_the_repository():
    cited = set()
    for path in list((ROOT / "sdinterp").rglob("*.py")):
        text = path.read_text()
        assert "shared/docs" not in text, f"{path} cites a file outside the repository"
        cited.update(re.findall(r"docs/([\w-]+\.md)", text))
    assert cited, "expected the code to cite docs/method.md"
    missing = [name for name in sorted(cited) if not (ROOT / "docs" / name).is_file()]
    assert not missing, missing
