"""Built-in pair protocols (``docs/method.md`` §2), registered like any plugin's."""

from __future__ import annotations

from typing import Any

import numpy as np

from sdinterp.hookspecs import hookimpl
from sdinterp.interfaces import Factor, PairProtocol

__all__ = ["SharedAnchor", "OfficialProtocol"]


class SharedAnchor(PairProtocol):
    """Each clip gives one static and one dynamic pair sharing its anchor: 3 forwards for 2 pairs.
    ``n_pairs`` counts pairs per factor. No random draw of its own."""

    name = "shared-anchor"
    counts = "pairs per factor"

    def factors(self, clip_index: int, rng: np.random.Generator) -> tuple[Factor, ...]:
        return (Factor.STATIC, Factor.DYNAMIC)

    def max_forwards_per_clip(self) -> int:
        return 3


class OfficialProtocol(PairProtocol):
    """The reference code's loaders: one factor per clip, drawn 50/50 (``random.randint(0, 1)``
    per item; 1 = static), 2 forwards per pair. ``n_pairs`` counts pairs in total."""

    name = "official"
    counts = "pairs in total"

    def factors(self, clip_index: int, rng: np.random.Generator) -> tuple[Factor, ...]:
        return (Factor.STATIC,) if int(rng.integers(2)) == 1 else (Factor.DYNAMIC,)

    def max_forwards_per_clip(self) -> int:
        return 2


@hookimpl
def sdinterp_register(registry: Any) -> None:
    registry.add_protocol(SharedAnchor.name, SharedAnchor)
    registry.add_protocol(OfficialProtocol.name, OfficialProtocol)
