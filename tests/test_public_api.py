"""docs/api.md is sdinterp's public surface (issue #23, item 8), read here so the page and the code
cannot drift: every path and name it lists imports, a listed module exports nothing it does not
list, each 0.1 path that moved still imports and warns once naming the new path, and the example
third-party distribution (tests/plugin_dist) imports only listed paths and names."""

from __future__ import annotations

import ast
import importlib
import re
import sys
import textwrap
import warnings
from pathlib import Path

import pytest

from _paths import REPO
from sdinterp import _aliases, plugin_manager

DOC = REPO / "docs" / "api.md"
EXAMPLE_PLUGIN = REPO / "tests" / "plugin_dist" / "sdinterp_example_plugin"

#: The ``__all__`` of each 0.1 module that moved (git show 8dd80ea:sdinterp/<module>.py, the last
#: 0.1.0 commit): what a plugin or script written against 0.1 may import from it.
API_0_1 = {
    "sdinterp._compat": [
        "MissingDependencyError",
        "applied_fixes",
        "ensure_mmaction",
        "ensure_mmcv_ops",
        "ensure_pytorchvideo",
        "ensure_torchvision",
        "ensure_video_stack",
        "import_optional",
    ],
    "sdinterp.checkpoint": ["RunCheckpoint", "fingerprint"],
    "sdinterp.flow": [
        "FlowMethod",
        "FlowError",
        "compute_flow",
        "clip_flow",
        "flow_to_rgb",
        "rgb_to_flow",
        "read_flow_images",
        "endpoint_error",
        "relative_epe",
        "FlowCache",
    ],
    "sdinterp.metric": ["BiasMetric"],
    "sdinterp.runner": ["StaticDynamic", "PROTOCOLS", "as_samples"],
    "sdinterp.video": [
        "VIDEO_EXTENSIONS",
        "IMAGE_EXTENSIONS",
        "ColorMode",
        "VideoReadError",
        "VideoSource",
        "DecordSource",
        "PyAVSource",
        "FrameFolderSource",
        "ArraySource",
        "open_video",
        "read_image",
        "natural_key",
        "list_frames",
        "clip_indices",
        "uniform_temporal_subsample",
        "pathway_views",
    ],
    "sdinterp.video_clips": ["clip_indices", "uniform_temporal_subsample", "pathway_views"],
    "sdinterp.video_datasets": [
        "VideoClipDataset",
        "collate_samples",
        "forget_inherited",
        "DAVIS_STYLES",
        "Layout",
        "Problem",
        "VideoEntry",
        "davis_layout",
        "detect_layout",
        "discover",
        "find_videos",
        "flow_image_paths",
        "stylized_layout",
    ],
    "sdinterp.video_layouts": [
        "DAVIS_STYLES",
        "Layout",
        "Problem",
        "VideoEntry",
        "find_videos",
        "stylized_layout",
        "davis_layout",
        "detect_layout",
        "discover",
        "flow_image_paths",
    ],
    "sdinterp.video_scan": ["check_entry", "scan_dataset"],
}


def _section(title: str) -> str:
    text = DOC.read_text()
    start = text.index(f"\n## {title}\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end != -1 else len(text)]


def _public() -> dict[str, list[str]]:
    """{module: names} of the page's "Public import paths": each ``#### `module` `` heading and the
    backticked names of its ``Names:`` paragraph."""
    out: dict[str, list[str]] = {}
    for block in re.split(r"\n#### ", _section("Public import paths"))[1:]:
        module = re.match(r"`([\w.]+)`", block)
        names = re.search(r"\nNames: (.*?)(?:\n\n|\Z)", block, re.S)
        assert module and names, f"docs/api.md: a module heading without its Names: paragraph: {block[:80]!r}"
        out[module.group(1)] = re.findall(r"`(\w+)`", names.group(1))
    return out


def _moved() -> dict[str, str]:
    """{0.1 path: new path} of the page's table "Paths that moved in 0.2"."""
    rows = re.findall(r"^\| `([\w.]+)` \| `([\w.]+)` \|$", _section("Paths that moved in 0.2"), re.M)
    return dict(rows)


PUBLIC = _public()


def test_the_page_lists_the_plugin_kit_and_the_top_level_api():
    kit = {
        "sdinterp",
        "sdinterp.interfaces",
        "sdinterp.hookspecs",
        "sdinterp.registry",
        "sdinterp.plugin_manager",
        "sdinterp.cli_kit",
        "sdinterp.adapters.common",
        "sdinterp.testing",
        "sdinterp.scoring",
    }
    assert kit <= set(PUBLIC), sorted(kit - set(PUBLIC))
    assert {"StaticDynamic", "estimate", "hookimpl", "ModelAdapter"} <= set(PUBLIC["sdinterp"])
    assert {"sdinterp_adapt", "sdinterp_load_model", "sdinterp_register"} <= set(PUBLIC["sdinterp.hookspecs"])


@pytest.mark.parametrize("module", sorted(PUBLIC))
def test_every_listed_path_and_name_imports_and_every_export_is_listed(module):
    mod = importlib.import_module(module)
    listed = PUBLIC[module]
    missing = [name for name in listed if not hasattr(mod, name)]
    assert not missing, f"docs/api.md lists names {module} does not have: {missing}"
    if hasattr(mod, "__all__"):
        exported = list(mod.__all__)
    else:  # e.g. sdinterp.hookspecs: the functions and classes it defines
        exported = [n for n, v in vars(mod).items() if not n.startswith("_") and getattr(v, "__module__", "") == module]
    unlisted = [name for name in exported if name not in listed]
    assert not unlisted, f"{module} exports names docs/api.md does not list (add them to its Names:): {unlisted}"
    assert len(set(listed)) == len(listed), f"{module}: a name listed twice"


def test_the_moved_table_is_the_alias_table():
    assert _moved() == _aliases.MOVED
    for old in _aliases.MOVED:  # each alias is a module file of the package (so it is in the wheel)
        assert (REPO / (old.replace(".", "/") + ".py")).is_file(), old
    assert set(API_0_1) == set(_aliases.MOVED)


def _fresh(old: str):
    """The alias module as a new process first imports it (no use yet, so it warns again)."""
    sys.modules.pop(old, None)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # importing an alias alone neither warns nor loads its target
        return importlib.import_module(old)


@pytest.mark.parametrize("old", sorted(_aliases.MOVED))
def test_a_moved_path_gives_its_0_1_names_and_warns_once_naming_the_new_path(old):
    module = _fresh(old)
    new = _aliases.MOVED[old]
    names = [n for n in API_0_1[old] if n not in _aliases.REMOVED.get(old, {})]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        got = {name: getattr(module, name) for name in names}
    assert [w.category for w in caught] == [DeprecationWarning], [str(w.message) for w in caught]
    assert f"{old} is deprecated" in str(caught[0].message) and f"import from {new} instead" in str(caught[0].message)
    assert caught[0].filename == __file__  # it points at the line that used the old path
    for name, value in got.items():
        where, _, attr = _aliases.ELSEWHERE.get(old, {}).get(name, f"{new}:{name}").partition(":")
        assert value is getattr(importlib.import_module(where), attr), (old, name)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        from_import = {}
        exec(f"from {old} import {names[0]} as first", from_import)  # later uses are silent
    assert from_import["first"] is got[names[0]]


def test_introspection_of_an_alias_neither_warns_nor_fails():
    # What doctest collection and pytest's fixture parsing do with every module of the package.
    module = _fresh("sdinterp.video_clips")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert getattr(module, "__test__", None) is None and not hasattr(module, "__path__")
        assert not hasattr(module, "pytest_mock_example_attribute_that_shouldnt_exist")
        for name in dir(module):
            getattr(module, name, None)
    assert not caught, [str(w.message) for w in caught]
    with pytest.warns(DeprecationWarning):  # and the first real use still warns
        module.clip_indices  # noqa: B018 - the access is the test


def test_a_removed_name_says_what_replaces_it():
    module = _fresh("sdinterp.runner")
    with pytest.raises(AttributeError, match=r"sdinterp\.runner\.PROTOCOLS was removed.*protocol_names\(\)"):
        module.PROTOCOLS  # noqa: B018 - the access is the test


def test_star_import_of_an_alias_gives_the_new_module_s_names():
    _fresh("sdinterp.video_scan")
    namespace: dict[str, object] = {}
    with pytest.warns(DeprecationWarning, match="sdinterp.video_scan is deprecated"):
        exec("from sdinterp.video_scan import *", namespace)
    from sdinterp.data import scan_dataset

    assert namespace["scan_dataset"] is scan_dataset


def test_sdinterp_estimate_stays_the_function():
    # 0.1's module sdinterp.estimate is not aliased: a module of that name would replace the function.
    import sdinterp

    assert callable(sdinterp.estimate) and sdinterp.estimate.__module__.startswith("sdinterp.scoring")
    assert "`sdinterp.estimate` as a *module*" in DOC.read_text()


def test_a_plugin_written_for_0_1_loads_through_the_aliases(tmp_path, monkeypatch):
    """Issue #23 item 8's plugin distribution: it imports `sdinterp.video_clips`, which 0.2 moved."""
    code = """
        from sdinterp import hookimpl
        from sdinterp.video_clips import clip_indices

        @hookimpl
        def sdinterp_register(registry):
            registry.add("old_plugin_kind", "indices", lambda: clip_indices)
    """
    (tmp_path / "old_plugin_mod.py").write_text(textwrap.dedent(code))
    info = tmp_path / "old_dist-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: old-dist\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[sdinterp]\nold = old_plugin_mod\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    _fresh("sdinterp.video_clips")
    plugin_manager.reset()
    try:
        with pytest.warns(DeprecationWarning, match=r"sdinterp\.video_clips is deprecated.*import from sdinterp\.data"):
            rows = {row["name"]: row for row in plugin_manager.list_plugins()}
        assert rows["old"]["error"] is None and rows["old"]["distribution"] == "old-dist"
        from sdinterp.data import clip_indices

        assert plugin_manager.get_registry().create("old_plugin_kind", "indices") is clip_indices
    finally:
        plugin_manager.reset()  # the next use reads the entry points again, without this one
        sys.modules.pop("old_plugin_mod", None)


def _sdinterp_imports(path: Path) -> list[tuple[str, str | None]]:
    """(module, name) of every sdinterp import in a file, at any level; name None for ``import m``."""
    out: list[tuple[str, str | None]] = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out += [(a.name, None) for a in node.names if a.name.split(".")[0] == "sdinterp"]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and (node.module or "").split(".")[0] == "sdinterp":
            out += [(node.module or "", a.name) for a in node.names]
    return out


def _non_public(imports: list[tuple[str, str | None]]) -> list[str]:
    bad = []
    for module, name in imports:
        if name is None:
            ok = module in PUBLIC
        else:  # a listed name, or a listed module imported from its package (`from sdinterp import cli_kit`)
            ok = (module in PUBLIC and name in PUBLIC[module]) or f"{module}.{name}" in PUBLIC
        if not ok:
            bad.append(module if name is None else f"{module}.{name}")
    return bad


def test_the_example_distribution_imports_only_public_paths():
    files = sorted(EXAMPLE_PLUGIN.rglob("*.py"))
    assert files
    imports = [i for path in files for i in _sdinterp_imports(path)]
    assert imports, "the example plugin imports sdinterp"
    assert not _non_public(imports), f"tests/plugin_dist imports non-public paths: {_non_public(imports)}"


def test_the_import_check_catches_what_it_names(tmp_path):
    code = (
        "from sdinterp import hookimpl, cli_kit\n"
        "from sdinterp.adapters._clip import ClipSpec\n"
        "import sdinterp.pipeline.accumulate\n"
        "def f():\n    from sdinterp.scoring import MomentScorer, _private\n"
    )
    (tmp_path / "p.py").write_text(code)
    assert _non_public(_sdinterp_imports(tmp_path / "p.py")) == [
        "sdinterp.adapters._clip.ClipSpec",
        "sdinterp.pipeline.accumulate",
        "sdinterp.scoring._private",
    ]
