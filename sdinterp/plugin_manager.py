"""The plugin manager: loads every plugin from the ``sdinterp`` entry-point group.

Built-in adapters and plugins are listed in sdinterp's own ``pyproject.toml`` under that group, so
the same discovery path serves them and third-party packages (datasette's approach).
"""

from __future__ import annotations

import importlib.metadata
import threading
from typing import Any

import pluggy

from sdinterp import hookspecs
from sdinterp.registry import Registry

__all__ = ["get_plugin_manager", "get_registry", "list_plugins", "plugin_notes", "register_plugin", "reset"]

ENTRY_POINT_GROUP = "sdinterp"

_lock = threading.RLock()
_pm: pluggy.PluginManager | None = None
_registry: Registry | None = None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


def _new_manager() -> pluggy.PluginManager:
    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    # Sorted by entry-point name (then distribution) so hook call order, and so "first result",
    # is reproducible.
    eps = sorted(importlib.metadata.entry_points(group=ENTRY_POINT_GROUP), key=lambda ep: (ep.name, _dist_of(ep)[0]))
    for ep in eps:
        dist = _dist_of(ep)
        name = ep.name
        if name in _dists or name in _broken:
            # Two distributions declare the same entry-point name: keep both, the later one
            # qualified by its distribution, and say so (`sdinterp plugins`).
            first = _dists.get(name, _broken.get(name, ("?", "?", "")))[0]
            name = f"{dist[0]}:{ep.name}"
            _notes.append(f"entry-point name {ep.name!r} is declared by {first} and by {dist[0]}; "
                          f"the second is loaded as {name!r}")
        try:
            plugin = ep.load()
            pm.register(plugin, name=name)
        except (Exception, SystemExit) as exc:  # noqa: BLE001 - any failure of one plugin stays its own
            # A broken plugin must not take the tool down; `sdinterp plugins` lists it with its
            # error, and a spec or name it would have provided says it failed to load.
            _broken[name] = (dist[0], dist[1], _first_line(exc))
            continue
        _dists[name] = dist
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
                reg._current_owner = impl.plugin_name
                reg._current_dist = _dists.get(impl.plugin_name, ("<runtime>", ""))[0]
                try:
                    impl.function(registry=reg)
                except Exception as exc:  # noqa: BLE001 - one plugin's bug never hides the others
                    reg._drop_owner(impl.plugin_name)
                    _register_failures[impl.plugin_name] = f"sdinterp_register failed: {_first_line(exc)}"
            reg._current_owner, reg._current_dist = "<runtime>", "<runtime>"
            reg.failed = {**{n: b[2] for n, b in _broken.items()}, **_register_failures}
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
    global _registry
    with _lock:
        get_plugin_manager().unregister(name=name)
        _dists.pop(name, None)
        _registry = None


def reset() -> None:
    """Forget the loaded plugins (the next use re-reads entry points)."""
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
        rows.append({"name": name, "distribution": dist, "version": version, "hooks": hooks,
                     "error": _register_failures.get(name)})
    for name, (dist, version, err) in sorted(_broken.items()):
        rows.append({"name": name, "distribution": dist, "version": version, "hooks": [], "error": err})
    return rows


def plugin_notes() -> list[str]:
    """Problems of the plugin set as a whole: entry-point name collisions and component names that
    several plugins register (each usable as ``distribution:name``)."""
    notes = list(_notes)
    for kind, name, regs in get_registry().clashes():
        owners = " and ".join(f"{r.plugin} ({r.distribution})" for r in regs)
        notes.append(f"{kind} {name!r} is registered by {owners}: the bare name is refused; use "
                     + " or ".join(r.qualified(name) for r in regs))
    return notes
