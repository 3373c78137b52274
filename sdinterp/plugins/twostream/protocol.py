"""The reference's two-stream pair protocol: the factor alternates from sequence item to item.

Reference (``dataset_factory/StylizedDAVIS.py``, ``docs/method.md`` §2): each loader item is one
whole sequence, every frame of it is one pair, all frames of an item share its factor, and the
factor alternates item by item, ``current_factor = (current_factor + 1) % 2``, static (1) first —
it is not drawn at random. Here a run clip is one frame (:class:`~sdinterp.plugins.twostream.data.
TwoStreamFrames` lays out ``frames_per_item`` consecutive clips per sequence item), so clip ``i``
belongs to item ``i // frames_per_item`` and gets static when that item is even, dynamic when odd.
The ``shared-anchor`` protocol works with the same samplers too (both factors from every frame).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from sdinterp.interfaces import Factor, PairProtocol

__all__ = ["VosAlternating"]


class VosAlternating(PairProtocol):
    """One pair per clip; the factor alternates per item of ``frames_per_item`` clips, static first.

    Args:
        frames_per_item: clips (frames) per sequence item; 1 alternates clip by clip.

    Examples:
        >>> p = VosAlternating(frames_per_item=2)
        >>> [p.factors(i, None)[0].code for i in range(6)]
        [1, 1, 0, 0, 1, 1]
    """

    name = "vos-alternating"
    counts = "pairs in total"

    def __init__(self, frames_per_item: int = 1):
        if isinstance(frames_per_item, bool) or int(frames_per_item) != frames_per_item or frames_per_item < 1:
            raise ValueError(f"frames_per_item must be a positive integer, got {frames_per_item!r}")
        self.frames_per_item = int(frames_per_item)

    def factors(self, clip_index: int, rng: np.random.Generator | None) -> tuple[Factor, ...]:
        item = int(clip_index) // self.frames_per_item
        return (Factor.STATIC,) if item % 2 == 0 else (Factor.DYNAMIC,)

    def max_forwards_per_clip(self) -> int:
        return 2

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "frames_per_item": self.frames_per_item}
