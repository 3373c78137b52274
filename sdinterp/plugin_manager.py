"""The plugin manager: the built-in plugins, registered in code, then third-party plugins from the
``sdinterp`` entry-point group.

One mechanism: every plugin is a module (or object) of pluggy hook implementations
(:mod:`sdinterp.hookspecs`). The built-ins are the modules named in :data:`DEFAULT_PLUGINS`
(datasette's ``DEFAULT_PLUGINS``): imported by name here, so no core module imports them and they
work from a source checkout without installed metadata. Entry points are for other distributions
only. Either way a plugin that fails to import is listed with its distribution and error and never
takes the host down.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import threading
from typing import Any

import pluggy

from sdinterp import hookspecs
from sdinterp._version import __version__
from sdinterp.registry import Registry

__all__ = [
    "DEFAULT_PLUGINS",
    "ENTRY_POINT_GROUP",
    "get_plugin_manager",
    "get_registry",
    "list_plugins",
    "plugin_notes",
    "register_plugin",
    "unregister_plugin",
    "reset",
]

ENTRY_POINT_GROUP = "sdinterp"
BUILTIN_DISTRIBUTION = "sdinterp"

#: The built-in plugins: plugin name -> module (``sdinterp plugins`` lists them under these names).
#: A module of ``sdinterp/adapters`` or ``sdinterp/plugins`` with hook implementations must be
#: listed here (tests/test_import_rules.py checks it).
DEFAULT_PLUGINS: dict[str, str] = {
    "ablation": "sdinterp.plugins.ablation",
    "appearance_free": "sdinterp.plugins.samplers.appearance_free",
    "builtin_flow_jitter": "sdinterp.plugins.samplers.flow_jitter",
    "builtin_fusion": "sdinterp.plugins.fusion.plugin",
    "builtin_prestylized": "sdinterp.plugins.samplers.prestylized",
    "builtin_protocols": "sdinterp.plugins.protocols",
    "builtin_restylers": "sdinterp.plugins.restylers",
    "builtin_samplers": "sdinterp.plugins.samplers.basic",
    "builtin_scorers": "sdinterp.plugins.scorers",
    "dataset_bias": "sdinterp.plugins.dataset_bias",
    "generic": "sdinterp.adapters.generic",
    "huggingface": "sdinterp.adapters.huggingface",
    "matnet": "sdinterp.adapters.matnet",
    "mmaction2": "sdinterp.adapters.mmaction2",
    "natural_restylers": "sdinterp.plugins.restylers.natural",
    "pytorchvideo": "sdinterp.adapters.pytorchvideo",
    "rtnet": "sdinterp.adapters.rtnet",
    "segmentation_eval": "sdinterp.plugins.segmentation_eval",
    "static_dropout": "sdinterp.plugins.static_dropout",
    "synthetic": "sdinterp.plugins.synthetic",
    "tiny_models": "sdinterp.plugins.tiny_models",
    "torchvision_video": "sdinterp.adapters.torchvision_video",
    "tracking": "sdinterp.plugins.tracking",
    "twostream": "sdinterp.plugins.twostream.plugin",
    "vistr": "sdinterp.adapters.vistr",
}

_lock = threading.RLock()
_pm: pluggy.PluginManager | None = None
_registry: Registry | None = None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    line = f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__
    missing = getattr(exc, "name", None) if isinstance(exc, ModuleNotFoundError) else None
    if missing and missing.startswith("sdinterp."):
        # A plugin written against another release imports a path that moved or never was public.
        line += f" (not a module of sdinterp {__version__}: docs/api.md lists the public import paths)"
    return line


def _load(pm: pluggy.PluginManager, name: str, dist: tuple[str, str], load: Any) -> None:
    """Import one plugin and register it; any failure, even ``sys.exit()`` at import, stays its own."""
    try:
        pm.register(load(), name=name)
    except (Exception, SystemExit) as exc:  # noqa: BLE001 - any failure of one plugin stays its own
        # `sdinterp plugins` lists it with its error, and a spec or name it would have provided
        # says it failed to load.
        _broken[name] = (dist[0], dist[1], _first_line(exc))
        return
    _dists[name] = dist


def _new_manager() -> pluggy.PluginManager:
    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    # Built-ins first, then third parties, each sorted by name, so hook call order (and so "first
    # result") is reproducible; pluggy asks the last registered first, so a third-party adapter or
    # model family is asked before the built-ins (the generic adapter stays last: trylast).
    for name, module in sorted(DEFAULT_PLUGINS.items()):
        _load(pm, name, (BUILTIN_DISTRIBUTION, __version__), lambda module=module: importlib.import_module(module))
    eps = sorted(importlib.metadata.entry_points(group=ENTRY_POINT_GROUP), key=lambda ep: (ep.name, _dist_of(ep)[0]))
    for ep in eps:
        dist = _dist_of(ep)
        if dist[0] == BUILTIN_DISTRIBUTION:
            continue  # the built-ins are DEFAULT_PLUGINS (an older install may still declare them)
        name = ep.name
        if name in _dists or name in _broken:
            # Two plugins have the same name: keep both, the later one qualified by its
            # distribution, and say so (`sdinterp plugins`).
            first = _dists.get(name, _broken.get(name, ("?", "?", "")))[0]
            name = f"{dist[0]}:{ep.name}"
            _notes.append(
                f"entry-point name {ep.name!r} is declared by {first} and by {dist[0]}; "
                f"the second is loaded as {name!r}"
            )
        _load(pm, name, dist, ep.load)
    return pm


def _dist_of(ep: Any) -> tuple[str, str]:
    return (ep.dist.name, ep.dist.version) if getattr(ep, "dist", None) is not None else ("?", "?")


_broken: dict[str, tuple[str, str, str]] = {}
_dists: dict[str, tuple[str, str]] = {}
_notes: list[str] = []
_register_failures: dict[str, str] = {}


def get_plugin_manager() -> pluggy.PluginManager:
    """The process-wide plugin manager, created on first use."""
    global _pm
    with _lock:
        if _pm is None:
            _pm = _new_manager()
        return _pm


def get_registry() -> Registry:
    """The process-wide registry, filled by every plugin's ``sdinterp_register`` on first use."""
    global _registry
    with _lock:
        if _registry is None:
            pm = get_plugin_manager()
            reg = Registry()
            _register_failures.clear()
            for impl in reversed(pm.hook.sdinterp_register.get_hookimpls()):
                try:
                    # Whatever a plugin added before its hook raised is removed by owned_by.
                    with reg.owned_by(impl.plugin_name, _dists.get(impl.plugin_name, ("<runtime>", ""))[0]):
                        impl.function(registry=reg)
                except Exception as exc:  # noqa: BLE001 - one plugin's bug never hides the others
                    _register_failures[impl.plugin_name] = f"sdinterp_register failed: {_first_line(exc)}"
            for name, error in {**{n: b[2] for n, b in _broken.items()}, **_register_failures}.items():
                reg.mark_failed(name, error)
            _registry = reg
        return _registry


def register_plugin(plugin: Any, name: str | None = None) -> None:
    """Register a plugin object at run time (e.g. in a notebook or a test) and refresh the registry."""
    global _registry
    with _lock:
        pm = get_plugin_manager()
        pm.register(plugin, name=name)
        _dists.setdefault(name or pm.get_name(plugin) or repr(plugin), ("<runtime>", ""))
        _registry = None


def unregister_plugin(name: str) -> None:
    """Remove a plugin registered with :func:`register_plugin` and refresh the registry."""
    global _registry
    with _lock:
        get_plugin_manager().unregister(name=name)
        _dists.pop(name, None)
        _registry = None


def reset() -> None:
    """Forget the loaded plugins (the next use loads the built-ins and re-reads entry points)."""
    global _pm, _registry
    with _lock:
        _pm = None
        _registry = None
        _broken.clear()
        _dists.clear()
        _notes.clear()
        _register_failures.clear()


def list_plugins() -> list[dict[str, Any]]:
    """Loaded plugins with their distribution, version and hooks; broken ones with their error."""
    pm = get_plugin_manager()
    get_registry()  # registration failures are known only once the registry is built
    rows = []
    for name, plugin in sorted(pm.list_name_plugin(), key=lambda kv: kv[0]):
        dist, version = _dists.get(name, ("<runtime>", ""))
        hooks = sorted(h.name for h in pm.get_hookcallers(plugin) or [])
        rows.append(
            {
                "name": name,
                "distribution": dist,
                "version": version,
                "hooks": hooks,
                "error": _register_failures.get(name),
            }
        )
    for name, (dist, version, err) in sorted(_broken.items()):
        rows.append({"name": name, "distribution": dist, "version": version, "hooks": [], "error": err})
    return rows


def plugin_notes() -> list[str]:
    """Problems of the plugin set as a whole: entry-point name collisions and component names that
    several plugins register (each usable as ``distribution:name``)."""
    notes = list(_notes)
    for kind, name, regs in get_registry().clashes():
        owners = " and ".join(f"{r.plugin} ({r.distribution})" for r in regs)
        notes.append(
            f"{kind} {name!r} is registered by {owners}: the bare name is refused; use "
            + " or ".join(r.qualified(name) for r in regs)
        )
    return notes
