"""Named components contributed by plugins (samplers, scorers, restylers, ablations…)."""

from __future__ import annotations

import difflib
from typing import Any, Callable, Iterator

from sdinterp.errors import UnknownComponentError

__all__ = ["Registry", "UnknownComponentError", "KINDS"]

#: The kinds sdinterp itself looks up. Plugins may add others (e.g. ``ablation``, ``fusion``).
KINDS = ("sampler", "restyler", "scorer", "protocol")


class Registry:
    """A name -> factory table per kind, filled by ``sdinterp_register`` hooks.

    Kinds are free-form strings; the ones sdinterp looks up are in :data:`KINDS`. A factory is
    usually a class; :meth:`create` calls it with keyword options. Every lookup of a named component
    in sdinterp (API, CLI choices and ``--help``) goes through this table, so a plugin's component is
    usable wherever a built-in one is.
    """

    def __init__(self) -> None:
        self._items: dict[str, dict[str, tuple[Callable[..., Any], str]]] = {}
        self._current_owner = "<unknown>"

    # -- adding ---------------------------------------------------------------------------------
    def add(self, kind: str, name: str, factory: Callable[..., Any]) -> None:
        table = self._items.setdefault(kind, {})
        if name in table and table[name][0] is not factory:
            raise ValueError(
                f"{kind} {name!r} is registered twice: by {table[name][1]} and by {self._current_owner}"
            )
        table[name] = (factory, self._current_owner)

    def add_sampler(self, name: str, factory: Callable[..., Any]) -> None:
        self.add("sampler", name, factory)

    def add_scorer(self, name: str, factory: Callable[..., Any]) -> None:
        self.add("scorer", name, factory)

    def add_restyler(self, name: str, factory: Callable[..., Any]) -> None:
        self.add("restyler", name, factory)

    def add_protocol(self, name: str, factory: Callable[..., Any]) -> None:
        self.add("protocol", name, factory)

    # -- looking up -------------------------------------------------------------------------------
    def get(self, kind: str, name: str) -> Callable[..., Any]:
        table = self._items.get(kind, {})
        if name not in table:
            valid = sorted(table)
            close = difflib.get_close_matches(name, valid, n=3)
            hint = f" Did you mean {', '.join(map(repr, close))}?" if close else ""
            raise UnknownComponentError(
                f"unknown {kind} {name!r}.{hint} Valid {kind}s: {', '.join(valid) or '(none loaded)'}"
            )
        return table[name][0]

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

    def names(self, kind: str) -> list[str]:
        return sorted(self._items.get(kind, {}))

    def owner(self, kind: str, name: str) -> str:
        self.get(kind, name)
        return self._items[kind][name][1]

    def kinds(self) -> list[str]:
        return sorted(self._items)

    def __iter__(self) -> Iterator[tuple[str, str]]:
        for kind in sorted(self._items):
            for name in sorted(self._items[kind]):
                yield kind, name
