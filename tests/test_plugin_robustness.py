"""One bad plugin breaks nothing: import failures of any kind, registration bugs, name clashes and
entry-point collisions, with real installed distributions (dist-info folders on PYTHONPATH)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from _paths import VIDEOS

VIDEO = VIDEOS / "tree.avi"

SAMPLER = """
from sdinterp import hookimpl
from sdinterp.plugins.samplers.basic import FrameShuffle

class Jitter(FrameShuffle):
    name = "jitter"
    owner = {owner!r}

@hookimpl
def sdinterp_register(registry):
    registry.add_sampler("jitter", Jitter)
"""


def _dist(site: Path, dist: str, entry: str, module: str, code: str) -> None:
    """A real installed distribution: a module and a dist-info folder declaring its entry point."""
    (site / f"{module}.py").write_text(textwrap.dedent(code))
    info = site / f"{dist.replace('-', '_')}-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(f"[sdinterp]\n{entry} = {module}\n")


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    site = tmp_path_factory.mktemp("site")
    _dist(site, "crash-on-import", "crasher", "crasher_mod", "raise RuntimeError('boom at import')\n")
    _dist(site, "exit-on-import", "exiter", "exiter_mod", "import sys\nsys.exit(3)\n")
    _dist(
        site,
        "bad-register",
        "badreg",
        "badreg_mod",
        """
        from sdinterp import hookimpl

        @hookimpl
        def sdinterp_register(registry):
            registry.add_sampler("half_added", object)
            raise KeyError("bug in my plugin")
    """,
    )
    _dist(site, "jitter-a", "jitter_a", "jitter_a_mod", SAMPLER.format(owner="a"))
    _dist(site, "jitter-b", "jitter_b", "jitter_b_mod", SAMPLER.format(owner="b"))
    # the same entry-point name as jitter-a's, from another distribution
    _dist(site, "jitter-c", "jitter_a", "jitter_c_mod", "x = 1\n")
    return site


def _sdinterp(site: Path, *args: str, code: str | None = None) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(site) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    cmd = [sys.executable, "-c", code] if code else [sys.executable, "-m", "sdinterp", *args]
    return subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)


@pytest.mark.slow  # 14 s measured on 2 shared cores
def test_plugins_lists_every_failure_with_its_distribution(site):
    run = _sdinterp(site, "plugins")
    assert run.returncode == 0, run.stderr
    out = run.stdout
    line = next(l for l in out.splitlines() if l.startswith("crasher"))
    assert "crash-on-import 1.0" in line and "FAILED TO LOAD: RuntimeError: boom at import" in line
    assert "exit-on-import" in out and "SystemExit: 3" in out
    assert "bad-register" in out and "sdinterp_register failed: KeyError" in out
    assert "sampler 'jitter' is registered by jitter_a (jitter-a) and jitter_b (jitter-b)" in out
    assert "entry-point name 'jitter_a' is declared by jitter-a and by jitter-c" in out
    data = json.loads(_sdinterp(site, "plugins", "--json").stdout)
    failed = {p["name"]: p for p in data["plugins"] if p["error"]}
    assert failed["crasher"]["distribution"] == "crash-on-import"
    assert any("jitter" in p for p in data["problems"])


@pytest.mark.slow  # 18 s measured on 2 shared cores
def test_other_commands_still_work(site):
    run = _sdinterp(site, "layers", "torchvision:r3d_18")
    assert run.returncode == 0 and "stage2" in run.stdout, run.stderr
    helped = _sdinterp(site, "report", "--help")
    assert helped.returncode == 0 and "frame_shuffle" in helped.stdout


@pytest.mark.slow  # 12 s measured on 2 shared cores
def test_clash_fails_only_when_used_and_qualified_names_choose(site):
    code = """
import sdinterp
from sdinterp.plugin_manager import get_registry
reg = get_registry()
print(reg.create("sampler", "frame_shuffle").describe()["name"])
print(reg.create("sampler", "jitter-a:jitter").owner, reg.create("sampler", "jitter_b:jitter").owner)
print("half_added" in reg.names("sampler"))
try:
    reg.create("sampler", "jitter")
except sdinterp.errors.UnknownComponentError as exc:
    print("refused:", exc)
"""
    run = _sdinterp(site, code=code)
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    assert lines[0] == "frame_shuffle" and lines[1] == "a b"
    assert lines[2] == "False"  # a plugin whose registration failed leaves nothing half-added
    assert "registered by jitter_a (distribution jitter-a) and jitter_b (distribution jitter-b)" in lines[3]
    assert "jitter-a:jitter" in lines[3]
    cli = _sdinterp(site, "report", "torchvision:r3d_18", str(VIDEO), "--static-sampler", "jitter", "--n-pairs", "2")
    errors = [l for l in cli.stderr.splitlines() if "error:" in l]
    assert cli.returncode == 1 and len(errors) == 1 and "choose one: jitter-a:jitter" in errors[0], cli.stderr


def test_unknown_name_mentions_plugins_that_failed(site):
    run = _sdinterp(
        site,
        code="from sdinterp.plugin_manager import get_registry\n"
        "try:\n    get_registry().get('sampler', 'nope')\nexcept Exception as e:\n    print(e)",
    )
    assert "plugin crasher failed to load (RuntimeError: boom at import)" in run.stdout
