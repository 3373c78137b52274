"""Named components contributed by plugins (samplers, scorers, restylers, protocols, ...)."""

from __future__ import annotations

import contextlib
import dataclasses
import difflib
from collections.abc import Callable, Iterator
from typing import Any

from sdinterp.errors import UnknownComponentError

__all__ = ["Registry", "Registration", "UnknownComponentError", "AmbiguousComponentError", "KINDS"]

#: The kinds sdinterp itself looks up. Plugins may add others (e.g. ``ablation``, ``fusion``).
#: ``command`` factories are ``register(subparsers)`` callables adding a CLI subcommand.
KINDS = ("sampler", "restyler", "scorer", "protocol", "command")


class AmbiguousComponentError(UnknownComponentError):
    """A bare name that several plugins registered: qualify it as ``distribution:name``."""


@dataclasses.dataclass(frozen=True)
class Registration:
    """One plugin's entry for a name: the factory, the plugin that added it and its distribution."""

    factory: Callable[..., Any]
    plugin: str
    distribution: str

    def qualified(self, name: str) -> str:
        # Plugins registered at run time have no distribution: their plugin name qualifies them.
        owner = self.plugin if self.distribution.startswith("<") else self.distribution
        return f"{owner}:{name}"


class Registry:
    """A name -> factory table per kind, filled by ``sdinterp_register`` hooks.

    Kinds are free-form strings; the ones sdinterp looks up are in :data:`KINDS`. A factory is
    usually a class; :meth:`create` calls it with keyword options. Every lookup of a named component
    in sdinterp (API, CLI choices and ``--help``) goes through this table, so a plugin's component is
    usable wherever a built-in one is.

    Two plugins may register the same name: both are kept and :meth:`clashes` (and ``sdinterp
    plugins``) reports it. Only using the bare name fails, naming both owners; a name qualified by
    distribution (``sdinterp:frame_shuffle``, ``my-dist:frame_shuffle``) or by plugin name chooses.

    The plugin manager fills it with one :meth:`owned_by` block per plugin (so every entry records
    its owner, and a plugin whose hook fails half-way leaves nothing behind) and :meth:`mark_failed`
    for plugins that could not load. Names added outside such a block belong to ``<runtime>``.

    Examples:
        >>> reg = Registry()
        >>> with reg.owned_by("my_plugin", "my-dist"):
        ...     reg.add_sampler("jitter", dict)
        >>> reg.owner("sampler", "jitter"), reg.registration("sampler", "my-dist:jitter").distribution
        ('my_plugin', 'my-dist')
    """

    def __init__(self) -> None:
        self._items: dict[str, dict[str, list[Registration]]] = {}
        self._current_owner = "<runtime>"
        self._current_dist = "<runtime>"
        #: plugin name -> error, for plugins that failed to load or register (named in lookups).
        self.failed: dict[str, str] = {}

    # -- who is adding ------------------------------------------------------------------------------
    @contextlib.contextmanager
    def owned_by(self, plugin: str, distribution: str) -> Iterator[Registry]:
        """Everything added inside the block belongs to ``plugin`` of ``distribution``.

        If the block raises, whatever ``plugin`` added is removed first (:meth:`remove_plugin`), so
        nothing half-registered is ever used; the error propagates.

        Args:
            plugin: the plugin's name (its entry-point or built-in name).
            distribution: the distribution that ships it (``sdinterp`` for built-ins, ``<runtime>``
                for plugins registered in a running process).
        """
        previous = self._current_owner, self._current_dist
        self._current_owner, self._current_dist = plugin, distribution
        try:
            yield self
        except BaseException:
            self.remove_plugin(plugin)
            raise
        finally:
            self._current_owner, self._current_dist = previous

    def mark_failed(self, plugin: str, error: str) -> None:
        """Record that ``plugin`` failed to load or register: lookups of unknown names mention it."""
        self.failed[plugin] = error

    # -- adding ---------------------------------------------------------------------------------
    def add(self, kind: str, name: str, factory: Callable[..., Any]) -> None:
        """Register ``factory`` as ``name`` of ``kind`` (any kind; :data:`KINDS` are sdinterp's own).

        Raises:
            ValueError: an empty name or one containing ``:`` (that separates a qualifier).
        """
        if not isinstance(name, str) or not name or ":" in name:
            raise ValueError(
                f"{kind} names must be non-empty strings without ':', got {name!r} (from {self._current_owner})"
            )
        entries = self._items.setdefault(kind, {}).setdefault(name, [])
        if any(r.factory is factory and r.plugin == self._current_owner for r in entries):
            return
        entries.append(Registration(factory, self._current_owner, self._current_dist))

    def add_sampler(self, name: str, factory: Callable[..., Any]) -> None:
        self.add("sampler", name, factory)

    def add_scorer(self, name: str, factory: Callable[..., Any]) -> None:
        self.add("scorer", name, factory)

    def add_restyler(self, name: str, factory: Callable[..., Any]) -> None:
        self.add("restyler", name, factory)

    def add_protocol(self, name: str, factory: Callable[..., Any]) -> None:
        self.add("protocol", name, factory)

    def add_command(self, name: str, register: Callable[..., Any]) -> None:
        """A CLI subcommand: ``register(subparsers)`` adds its parser and sets ``func``."""
        self.add("command", name, register)

    def remove_plugin(self, plugin: str) -> None:
        """Forget everything ``plugin`` added (e.g. its registration hook failed half-way)."""
        for table in self._items.values():
            for name in list(table):
                table[name] = [r for r in table[name] if r.plugin != plugin]
                if not table[name]:
                    del table[name]

    # -- looking up -------------------------------------------------------------------------------
    def registration(self, kind: str, name: str) -> Registration:
        """The one registration ``name`` (bare or ``owner:name``) denotes."""
        table = self._items.get(kind, {})
        owner, _, bare = name.rpartition(":")
        entries = table.get(bare, [])
        if owner:
            entries = [r for r in entries if owner in (r.distribution, r.plugin)]
        if len(entries) == 1:
            return entries[0]
        if len(entries) > 1:
            entries = sorted(entries, key=lambda r: (r.plugin, r.distribution))
            owners = " and ".join(f"{r.plugin} (distribution {r.distribution})" for r in entries)
            choices = ", ".join(r.qualified(bare) for r in entries)
            raise AmbiguousComponentError(f"{kind} {bare!r} is registered by {owners}; choose one: {choices}")
        valid = sorted(table)
        close = difflib.get_close_matches(bare, valid, n=3)
        hint = f" Did you mean {', '.join(map(repr, close))}?" if close else ""
        where = f" from {owner!r}" if owner and bare in table else ""
        failed = "".join(
            f"; plugin {p} failed to load ({e}) and may have provided it" for p, e in sorted(self.failed.items())
        )
        raise UnknownComponentError(
            f"unknown {kind} {name!r}{where}.{hint} Valid {kind}s: {', '.join(valid) or '(none loaded)'}{failed}"
        )

    def get(self, kind: str, name: str) -> Callable[..., Any]:
        return self.registration(kind, name).factory

    def create(self, kind: str, name: str, **options: Any) -> Any:
        """Instantiate a registered component by name."""
        return self.get(kind, name)(**options)

    def instance(self, kind: str, value: Any, expected: type, **options: Any) -> Any:
        """``value`` if it already is an ``expected``, else the component registered under the name
        ``value`` (created with ``options``); anything else is a TypeError naming the kind."""
        if isinstance(value, str):
            value = self.create(kind, value, **options)
        if not isinstance(value, expected):
            raise TypeError(f"expected a {expected.__name__} or a registered {kind} name, got {value!r}")
        return value

    def names(self, kind: str, qualified: bool = False) -> list[str]:
        """Registered names of ``kind``; with ``qualified``, also every ``distribution:name``."""
        table = self._items.get(kind, {})
        out = sorted(table)
        if qualified:
            out += sorted(
                {r.qualified(n) for n, regs in table.items() for r in regs}
                | {f"{r.plugin}:{n}" for n, regs in table.items() for r in regs}
            )
        return out

    def owner(self, kind: str, name: str) -> str:
        """The plugin that registered ``name``."""
        return self.registration(kind, name).plugin

    def owners(self, kind: str, name: str) -> list[Registration]:
        return list(self._items.get(kind, {}).get(name, []))

    def clashes(self) -> list[tuple[str, str, list[Registration]]]:
        """(kind, name, registrations) for every name registered by more than one plugin."""
        return [
            (k, n, sorted(regs, key=lambda r: (r.plugin, r.distribution)))
            for k in sorted(self._items)
            for n, regs in sorted(self._items[k].items())
            if len(regs) > 1
        ]

    def kinds(self) -> list[str]:
        return sorted(self._items)

    def __iter__(self) -> Iterator[tuple[str, str]]:
        for kind in sorted(self._items):
            for name in sorted(self._items[kind]):
                yield kind, name
