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

__all__ = ["get_plugin_manager", "get_registry", "list_plugins", "register_plugin", "reset"]

ENTRY_POINT_GROUP = "sdinterp"

_lock = threading.RLock()
_pm: pluggy.PluginManager | None = None
_registry: Registry | None = None


def _new_manager() -> pluggy.PluginManager:
    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    # Sorted by entry-point name so hook call order (and so "first result") is reproducible.
    eps = sorted(importlib.metadata.entry_points(group=ENTRY_POINT_GROUP), key=lambda ep: ep.name)
    seen: set[str] = set()
    for ep in eps:
        if ep.name in seen or pm.get_plugin(ep.name) is not None:
            continue
        seen.add(ep.name)
        try:
            plugin = ep.load()
        except ImportError as exc:
            # A broken optional plugin must not take the whole tool down; it is reported by
            # `sdinterp plugins` and by any use of its components.
            _broken[ep.name] = f"{type(exc).__name__}: {exc}"
            continue
        pm.register(plugin, name=ep.name)
        _dists[ep.name] = (ep.dist.name, ep.dist.version) if ep.dist is not None else ("?", "?")
    return pm


_broken: dict[str, str] = {}
_dists: dict[str, tuple[str, str]] = {}


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
            for impl in reversed(pm.hook.sdinterp_register.get_hookimpls()):
                reg._current_owner = impl.plugin_name
                impl.function(registry=reg)
            reg._current_owner = "<runtime>"
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


def list_plugins() -> list[dict[str, Any]]:
    """Loaded plugins with their distribution, version and hooks; broken ones with their error."""
    pm = get_plugin_manager()
    rows = []
    for name, plugin in sorted(pm.list_name_plugin(), key=lambda kv: kv[0]):
        dist, version = _dists.get(name, ("<runtime>", ""))
        hooks = sorted(h.name for h in pm.get_hookcallers(plugin) or [])
        rows.append({"name": name, "distribution": dist, "version": version, "hooks": hooks, "error": None})
    for name, err in sorted(_broken.items()):
        rows.append({"name": name, "distribution": "?", "version": "?", "hooks": [], "error": err})
    return rows
