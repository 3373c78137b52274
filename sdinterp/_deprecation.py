"""Old spellings of renamed options, accepted with a warning (one concept, one name)."""

from __future__ import annotations

import warnings
from typing import Any, MutableMapping


def renamed_option(options: MutableMapping[str, Any], old: str, new: str, where: str) -> None:
    """Move ``options[old]`` to ``options[new]`` with a DeprecationWarning; refuse both at once."""
    if old not in options:
        return
    if new in options:
        raise TypeError(f"{where}: {old!r} is the deprecated name of {new!r}; give only {new!r}")
    warnings.warn(f"{where}: {old!r} is deprecated, use {new!r}", DeprecationWarning, stacklevel=3)
    options[new] = options.pop(old)
