"""The plugin system: built-ins registered in code, entry-point discovery of a real third-party distribution,
documented hookspecs, the registry, and `sdinterp plugins`."""

from __future__ import annotations

import importlib.metadata
import inspect
import subprocess
import sys
from pathlib import Path

import pytest

import sdinterp
from _paths import VIDEOS
from sdinterp import hookspecs
from sdinterp.plugin_manager import get_registry, list_plugins, register_plugin, unregister_plugin
from sdinterp.testing.planted import make_planted_clips

ROOT = Path(__file__).resolve().parents[1]
HOOKS = [name for name, fn in inspect.getmembers(hookspecs, inspect.isfunction) if name.startswith("sdinterp_")]


def test_hookspecs_exist():
    assert set(HOOKS) == {"sdinterp_adapt", "sdinterp_load_model", "sdinterp_register"}


@pytest.mark.parametrize("hook", HOOKS)
def test_every_hookspec_is_documented(hook):
    doc = inspect.getdoc(getattr(hookspecs, hook)) or ""
    assert len(doc.split()) >= 20, f"{hook} needs a real docstring"
    for param in inspect.signature(getattr(hookspecs, hook)).parameters:
        assert param in doc, f"{hook}: parameter {param!r} is not documented"
    assert f"`{hook}" in (ROOT / "docs" / "plugins.md").read_text(), f"{hook} missing from docs/plugins.md"


def test_builtins_are_registered_in_code_and_entry_points_are_for_third_parties():
    from sdinterp.plugin_manager import DEFAULT_PLUGINS

    for name in ("builtin_samplers", "builtin_scorers", "builtin_restylers", "builtin_protocols", "generic"):
        assert name in DEFAULT_PLUGINS
    eps = importlib.metadata.entry_points(group="sdinterp")
    assert {ep.dist.name for ep in eps} == {"sdinterp-example-plugin"}  # sdinterp declares none
    rows = {r["name"]: r for r in list_plugins()}
    builtin = rows["builtin_samplers"]
    assert (builtin["distribution"], builtin["version"]) == ("sdinterp", sdinterp.__version__)
    registry = get_registry()
    assert registry.owner("sampler", "frame_shuffle") == "builtin_samplers"
    assert registry.owner("scorer", "official") == "builtin_scorers"


def test_builtins_load_without_installed_metadata():
    """A source checkout with no entry points at all still has every built-in; a built-in that fails
    to import is listed with its distribution (sdinterp) and the rest works."""
    code = (
        "import importlib.metadata as m\n"
        "m.entry_points = lambda **kw: []\n"
        "from sdinterp import plugin_manager as pm\n"
        "reg = pm.get_registry()\n"
        "print(reg.owner('sampler', 'frame_shuffle'), reg.owner('protocol', 'official'), "
        "'ablate' in reg.names('command'), sum(1 for r in pm.list_plugins() if r['error']))\n"
        "pm.reset()\n"
        "pm.DEFAULT_PLUGINS['zz_broken'] = 'sdinterp.plugins.no_such_module'\n"
        "row = next(r for r in pm.list_plugins() if r['name'] == 'zz_broken')\n"
        "print(row['distribution'], row['error'].split(':')[0], pm.get_registry().owner('scorer', 'official'))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out[:4] == ["builtin_samplers", "builtin_protocols", "True", "0"]
    assert out[4:] == ["sdinterp", "ModuleNotFoundError", "builtin_scorers"]


def test_third_party_distribution_is_discovered_and_used():
    rows = {r["name"]: r for r in list_plugins()}
    assert rows["example"]["distribution"] == "sdinterp-example-plugin"
    assert rows["example"]["version"] == "0.5.0"
    assert get_registry().owner("sampler", "time_reverse") == "example"
    model = sdinterp.load_model("example:tiny")
    adapter = sdinterp.adapt(model)
    assert adapter.family == "example" and list(adapter.layers()) == ["early", "late"]
    report = sdinterp.StaticDynamic(model, static_sampler="time_reverse").attribute(
        make_planted_clips(6), n_pairs=6, batch_size=9, seed=0, show_progress=False
    )
    assert set(report.layers) == {"early", "late"} and report["late"].n_units == 10
    assert report.identity["static_sampler"]["name"] == "time_reverse"


def test_runtime_plugin_and_name_clash():
    class Clash:
        @sdinterp.hookimpl
        def sdinterp_register(self, registry):
            registry.add_sampler("frame_shuffle", object)

    register_plugin(Clash(), name="clash")
    try:
        registry = get_registry()  # a clash no longer breaks the registry: only using the bare name fails
        with pytest.raises(
            sdinterp.errors.UnknownComponentError,
            match=r"'frame_shuffle' is registered by builtin_samplers \(distribution sdinterp\) and clash",
        ):
            registry.get("sampler", "frame_shuffle")
        assert registry.owner("sampler", "sdinterp:frame_shuffle") == "builtin_samplers"
        assert registry.get("sampler", "clash:frame_shuffle") is object
    finally:
        unregister_plugin("clash")
    assert get_registry().owner("sampler", "frame_shuffle") == "builtin_samplers"


def test_unrecognised_model_object_is_explained():
    with pytest.raises(TypeError, match="no adapter plugin recognises"):
        sdinterp.adapt(object())


def test_cli_plugins_lists_distribution_and_version():
    out = subprocess.run(
        [sys.executable, "-m", "sdinterp.cli", "plugins"], capture_output=True, text=True, check=True
    ).stdout
    assert "sdinterp-example-plugin 0.5.0" in out
    assert f"sdinterp {sdinterp.__version__}" in out
    assert "sampler:time_reverse" in out and "scorer:official" in out


def test_third_party_scorer_is_usable_by_name_everywhere():
    """A scorer registered by an installed distribution works wherever a built-in one does."""
    assert get_registry().owner("scorer", "uncentred_cosine") == "example"
    rng = __import__("numpy").random.default_rng(0)
    z1 = rng.normal(size=(40, 6)) + 3.0
    z2 = z1 + rng.normal(scale=0.5, size=(40, 6))
    lb = sdinterp.estimate(z1, z2, ["static", "dynamic"] * 20, scorer="uncentred_cosine")
    assert lb.scorer == "uncentred_cosine" and lb.n_units == 6
    # Uncentred features with a large common offset are near-cosine-1 for both factors.
    assert all(v > 0.9 for v in lb.unit_scores["dynamic"]) and all(v > 0.9 for v in lb.unit_scores["static"])
    official = sdinterp.estimate(z1, z2, ["static", "dynamic"] * 20)
    assert official.scores["dynamic"] != lb.scores["dynamic"]
    metric = sdinterp.BiasMetric(scorer="uncentred_cosine").update(z1, z2, ["static", "dynamic"] * 20)
    assert metric.compute() == lb
    report = sdinterp.StaticDynamic(sdinterp.load_model("example:tiny"), scorer="uncentred_cosine").attribute(
        make_planted_clips(4), n_pairs=4, batch_size=9, seed=0, show_progress=False
    )
    assert report["late"].scorer == "uncentred_cosine" and report.identity["scorer"] == "uncentred_cosine"


@pytest.mark.slow  # 22 s measured on 2 shared cores
def test_cli_scorer_choices_come_from_the_registry(tmp_path):
    help_text = subprocess.run(
        [sys.executable, "-m", "sdinterp", "report", "--help"], capture_output=True, text=True, check=True
    ).stdout
    for name in ("official", "pearson", "uncentred_cosine", "shared-anchor", "time_reverse", "photometric"):
        assert name in help_text
    video = VIDEOS / "tree.avi"
    out = tmp_path / "r.json"
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "sdinterp",
            "report",
            "example:tiny",
            str(video),
            "--scorer",
            "uncentred_cosine",
            "--n-pairs",
            "4",
            "--clip-length",
            "8",
            "--no-progress",
            "--json",
            str(out),
        ],
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, run.stderr
    import json

    data = json.loads(out.read_text())
    assert data["identity"]["scorer"] == "uncentred_cosine" and {l["scorer"] for l in data["layers"]} == {
        "uncentred_cosine"
    }
    bad = subprocess.run(
        [sys.executable, "-m", "sdinterp", "report", "example:tiny", str(video), "--scorer", "cosine"],
        capture_output=True,
        text=True,
    )
    assert bad.returncode == 2 and "uncentred_cosine" in bad.stderr and "Traceback" not in bad.stderr


def test_protocols_are_registered_plugins():
    assert get_registry().owner("protocol", "shared-anchor") == "builtin_protocols"
    assert get_registry().owner("protocol", "official") == "builtin_protocols"
