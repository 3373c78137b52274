"""Running a model once per sample while the capture still sees one (B, C) tensor per layer.

Some published models cannot take several samples in one forward: RTNet folds its two frames into
the batch and re-stacks them in an order that mixes samples when B > 1; VisTRsegm takes one clip.
Their adapters call the model once per sample inside :meth:`ModelAdapter.forward`, so each hooked
module runs once (or more) per sample. The capture (:class:`sdinterp.capture.LayerCapture`) pools
every call when a layer declares ``call="all"`` and concatenates the pooled calls along channels;
:class:`PerSampleRows` is the pooling that makes that concatenation the right (B, C) tensor: it
keeps the first call of each sample as that sample's row, returns (B, 0) placeholders for the other
calls, and returns the stacked (B, C) rows at the call that completes them.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Callable, Iterator
from typing import Any

import torch

__all__ = ["PerSampleState", "PerSampleRows", "run_each"]


@dataclasses.dataclass
class PerSampleState:
    """Which sample of how many the adapter is running now (``batch`` is ``None`` outside a forward)."""

    batch: int | None = None
    current: int = 0
    rows: dict[int, dict[int, torch.Tensor]] = dataclasses.field(default_factory=dict)

    @contextlib.contextmanager
    def forward(self, batch: int) -> Iterator[PerSampleState]:
        """Scope of one adapter forward over ``batch`` samples."""
        self.batch, self.current, self.rows = int(batch), 0, {}
        try:
            yield self
        finally:
            self.batch, self.current, self.rows = None, 0, {}


class PerSampleRows:
    """Pooling for a layer of a model run once per sample (use with ``LayerInfo(call="all")``).

    Args:
        reduce: maps one call's activation to that sample's (1, C) row.
        state: the adapter's :class:`PerSampleState`.
        name: shown in ``LayerInfo.describe()``.

    Outside an adapter forward (e.g. a user calling the model directly under a capture) the
    activation is just reduced.
    """

    def __init__(self, reduce: Callable[[torch.Tensor], torch.Tensor], state: PerSampleState, name: str):
        self.reduce, self.state, self.__name__ = reduce, state, name

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        state = self.state
        if state.batch is None:
            return self.reduce(x)
        rows = state.rows.setdefault(id(self), {})
        empty = torch.empty((state.batch, 0), dtype=torch.float32, device=x.device)
        if state.current in rows:  # a module that runs again for the same sample: its first call counts
            return empty
        rows[state.current] = self.reduce(x).float()
        if len(rows) < state.batch:
            return empty
        return torch.cat([rows[i] for i in range(state.batch)], dim=0)

    def __repr__(self) -> str:
        return f"PerSampleRows({self.__name__})"


def run_each(state: PerSampleState, inputs: list[Any], call: Callable[[Any], Any]) -> list[Any]:
    """``[call(x) for x in inputs]`` with ``state`` telling the poolings which sample is running."""
    outputs = []
    with state.forward(len(inputs)):
        for i, x in enumerate(inputs):
            state.current = i
            outputs.append(call(x))
    return outputs
