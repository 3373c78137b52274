"""Deprecated alias: ``sdinterp._compat`` (sdinterp 0.1) moved to :mod:`sdinterp.adapters._compat` in 0.2.

Import from ``sdinterp.adapters._compat``; this module warns on first use and is removed in sdinterp 0.3
(:mod:`sdinterp._aliases`, docs/api.md)."""

from __future__ import annotations

from typing import Any

from sdinterp._aliases import Alias

_alias = Alias(__name__)


def __getattr__(name: str) -> Any:
    return _alias.attribute(name)
