"""Module paths of sdinterp 0.1 that moved in 0.2, kept one minor version as warning aliases.

Each old path (``sdinterp/video_clips.py``…) is a small module whose attributes come from its new
home through an :class:`Alias`: nothing is imported until a name is used, and the first use warns
once (:class:`DeprecationWarning`, naming the new path) — so ``import sdinterp.video_clips`` alone, or
collecting the package's doctests, costs and says nothing, while a plugin or script written against
0.1 keeps working and is told where to import from. The aliases go in :data:`REMOVED_IN`.

The targets are named as strings and imported only when 0.1 code uses an alias, so loading sdinterp
never imports them. One target is not in the core: ``sdinterp._compat`` (0.1) became
``sdinterp.adapters._compat``, and only code that still imports the old path reaches it through the
core. docs/api.md lists the public paths and these aliases.

Examples:
    >>> import warnings
    >>> alias = Alias("sdinterp.video_clips")
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     f = alias.attribute("clip_indices")
    >>> from sdinterp.data import clip_indices
    >>> f is clip_indices, caught[0].category.__name__, "import from sdinterp.data " in str(caught[0].message)
    (True, 'DeprecationWarning', True)
"""

from __future__ import annotations

import importlib
import warnings
from types import ModuleType
from typing import Any

__all__ = ["MOVED", "ELSEWHERE", "REMOVED", "REMOVED_IN", "Alias"]

#: The release that drops the aliases (one minor version after the move).
REMOVED_IN = "0.3"

#: Old module path (sdinterp 0.1) -> the public module that holds its names now.
MOVED: dict[str, str] = {
    "sdinterp._compat": "sdinterp.adapters._compat",
    "sdinterp.checkpoint": "sdinterp.pipeline",
    "sdinterp.flow": "sdinterp.data.flow",
    "sdinterp.metric": "sdinterp.scoring",
    "sdinterp.runner": "sdinterp.pipeline",
    "sdinterp.video": "sdinterp.data",
    "sdinterp.video_clips": "sdinterp.data",
    "sdinterp.video_datasets": "sdinterp.data",
    "sdinterp.video_layouts": "sdinterp.data",
    "sdinterp.video_scan": "sdinterp.data",
}

#: Names of an old module that its new module does not hold under that name (renamed, or a type
#: alias kept in a submodule): old module -> {old name: "module:name"}.
ELSEWHERE: dict[str, dict[str, str]] = {
    "sdinterp.checkpoint": {
        "RunCheckpoint": "sdinterp.pipeline:RunState",
        "fingerprint": "sdinterp.pipeline.run_state:fingerprint",
    },
    "sdinterp.video": {"ColorMode": "sdinterp.data.video:ColorMode"},
    "sdinterp.video_datasets": {"Layout": "sdinterp.data.layouts:Layout"},
    "sdinterp.video_layouts": {"Layout": "sdinterp.data.layouts:Layout"},
}

#: Names of an old module that have no successor there: old module -> {name: what to use instead}.
REMOVED: dict[str, dict[str, str]] = {
    "sdinterp.runner": {"PROTOCOLS": "the protocol names are sdinterp.pipeline.protocol_names()"},
}


class Alias:
    """The attributes of the old module ``old``: its new module's, looked up on use.

    The alias module defines ``__getattr__`` only, not ``__dir__``: tools that walk ``dir(module)``
    and get each name (pytest collecting fixtures of every module it imports) must not warn.

    Args:
        old: the old module path, a key of :data:`MOVED`.
    """

    def __init__(self, old: str):
        self.old = old
        self.new = MOVED[old]
        self.elsewhere = ELSEWHERE.get(old, {})
        self.removed = REMOVED.get(old, {})
        self.warned = False
        notes = "; ".join(f"{name} is now {target.replace(':', '.')}" for name, target in self.elsewhere.items())
        self.message = (
            f"{old} is deprecated: it moved to {self.new} in sdinterp 0.2"
            + (f" ({notes})" if notes else "")
            + f"; import from {self.new} instead (this alias is removed in sdinterp {REMOVED_IN})"
        )

    def _module(self) -> ModuleType:
        return importlib.import_module(self.new)

    def names(self) -> list[str]:
        """The public names the alias gives (the new module's, plus those kept elsewhere)."""
        module = self._module()
        public = getattr(module, "__all__", None) or [n for n in vars(module) if not n.startswith("_")]
        return sorted({*public, *self.elsewhere})

    def attribute(self, name: str) -> Any:
        """``old.name``: the new module's object, warning on the alias's first use.

        Args:
            name: the attribute asked for.

        Returns:
            The object (``__all__``: :meth:`names`).

        Raises:
            AttributeError: a dunder other than ``__all__`` (introspection, e.g. doctest collection,
                must neither import nor warn), a removed name (the message says what replaces it),
                or a name the new module lacks.
        """
        if name.startswith("__") and name != "__all__":
            raise AttributeError(f"module {self.old!r} has no attribute {name!r}")
        if name in self.removed:
            raise AttributeError(f"{self.old}.{name} was removed in sdinterp 0.2: {self.removed[name]}")
        if name == "__all__":
            value: Any = self.names()
        elif name in self.elsewhere:
            module, _, attr = self.elsewhere[name].partition(":")
            value = getattr(importlib.import_module(module), attr)
        else:
            target = self._module()
            if not hasattr(target, name):
                raise AttributeError(f"module {self.old!r} (moved to {self.new!r}) has no attribute {name!r}")
            value = getattr(target, name)
        if not self.warned:
            self.warned = True
            # 3: the alias module's __getattr__, then the code that used the old path.
            warnings.warn(self.message, DeprecationWarning, stacklevel=3)
        return value
