"""Neuron removal as an :class:`~sdinterp.interfaces.Intervention`: zero chosen units of one layer
during a forward, at every position and time step, before the next module reads them
(``docs/method.md`` §4; the study repo's ``Encoder.update_masked``: ``feat[:, idx] = 0``).

:func:`intervene` hooks an intervention onto a layer of an adapter — its output (forward hook) or,
for ``input:`` layers, its first positional input (forward pre-hook) — and removes the hook on exit.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from sdinterp.capture import resolve_layer
from sdinterp.errors import CaptureError
from sdinterp.interfaces import Intervention, LayerInfo, ModelAdapter

__all__ = ["ZeroUnits", "intervene", "unit_axis"]

#: Poolings whose units lie on the last axis: tokens (B, L, C), sequence first (L, B, C), channels last.
_LAST_AXIS = ("tokens", "tokens_seq_first", "channels_last", "channels_last_pool")


def unit_axis(activation: torch.Tensor, info: LayerInfo) -> int:
    """The axis of ``activation`` that holds the layer's units, from ``info.pooling``.

    Axis 1 for channels-first maps (B, C, ...) and flat (B, C) features; the last axis for tokens
    (B, L, C), sequence-first (L, B, C) and channels-last layers. For a custom pooling function
    (e.g. a 2-D model's time unfolding, (B·T, C, H, W)) the axis is the one, 1 or last, whose size is
    the layer's declared width.

    Raises:
        CaptureError: the axis cannot be told (custom pooling, unknown or ambiguous width).
    """
    pooling = info.pooling
    name = getattr(pooling, "__name__", pooling)
    if pooling in ("channels_first", "flat"):
        return 1
    if name in _LAST_AXIS:
        return activation.dim() - 1
    if name == "unfold_time_pool" and activation.dim() == 4:
        return 1
    width = info.channels
    axes = {a for a in (1, activation.dim() - 1) if width is not None and activation.shape[a] == width}
    if len(axes) == 1:
        return axes.pop()
    raise CaptureError(
        f"layer {info.name!r} is pooled by {name!r} and its unit axis cannot be told from the shape "
        f"{tuple(activation.shape)} (declared width {width}); give the layer a named pooling"
    )


class ZeroUnits(Intervention):
    """Set the given units of a layer to zero (neuron removal, paper Sec. 5.1).

    Args:
        units: indices of the units (channels) to zero.
        n_units: the layer's width, if known: checked against the activation, so units chosen from
            a report of another layer (or another model) are refused instead of silently misused.

    Examples:
        >>> import torch
        >>> from sdinterp.interfaces import LayerInfo
        >>> z = ZeroUnits([0, 2]).apply(torch.ones(1, 3, 2), LayerInfo("l", "l"))
        >>> z[0, :, 0].tolist()
        [0.0, 1.0, 0.0]
    """

    name = "zero_units"

    def __init__(self, units: Sequence[int] | np.ndarray, n_units: int | None = None):
        self.units = np.asarray(units, dtype=np.int64).reshape(-1)
        self.n_units = n_units
        if self.units.size and self.units.min() < 0:
            raise ValueError(f"unit indices must be non-negative, got {self.units.min()}")
        if n_units is not None and self.units.size and self.units.max() >= n_units:
            raise ValueError(f"unit {self.units.max()} does not exist in a layer of {n_units} units")

    def apply(self, activation: torch.Tensor, info: LayerInfo) -> torch.Tensor:
        axis = unit_axis(activation, info)
        width = activation.shape[axis]
        expected = self.n_units if self.n_units is not None else info.channels
        if expected is not None and width != expected:
            raise CaptureError(
                f"layer {info.name!r} has {width} units along axis {axis}, but the removal was chosen for {expected}"
            )
        if self.units.size and self.units.max() >= width:
            raise CaptureError(f"layer {info.name!r} has {width} units; cannot remove unit {self.units.max()}")
        if not self.units.size:
            return activation
        index = torch.as_tensor(self.units, device=activation.device)
        # index_fill returns a new tensor: the module's own output is never edited in place.
        return activation.index_fill(axis, index, 0)

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "units": self.units.tolist()}


def _replace(value: Any, info: LayerInfo, intervention: Intervention) -> Any:
    select = info.select
    if select is None:
        if not isinstance(value, torch.Tensor):
            raise CaptureError(
                f"layer {info.name!r} produced a {type(value).__name__}; declare LayerInfo.select to pick the tensor"
            )
        return intervention.apply(value, info)
    if callable(select) and getattr(select, "__name__", "") == "cat_pathways" and isinstance(value, (list, tuple)):
        return _zero_concatenated(value, info, intervention)
    if callable(select):
        raise CaptureError(
            f"layer {info.name!r} picks its tensor with a function ({getattr(select, '__name__', select)!r}), so it "
            "cannot be replaced in the forward; intervene on the module that produces that tensor instead"
        )
    if isinstance(value, dict):
        return {**value, select: intervention.apply(value[select], info)}
    if not isinstance(select, int):
        raise CaptureError(f"layer {info.name!r} selects {select!r} but produced a {type(value).__name__}, not a dict")
    items = list(value)
    items[select] = intervention.apply(items[select], info)
    return type(value)(items) if isinstance(value, tuple) else items


def _zero_concatenated(parts: Any, info: LayerInfo, intervention: Intervention) -> Any:
    """Zero units of a layer that concatenates pathways (SlowFast's ``cat.stage5``: the pooled slow
    and fast stage 5, 2048 + 256 units): unit u < C_slow is slow channel u, the rest fast channels."""
    if not isinstance(intervention, ZeroUnits):
        raise CaptureError(f"layer {info.name!r} concatenates pathways; only ZeroUnits can be applied to it")
    out, offset = [], 0
    for t in parts:
        width = int(t.shape[1])
        local = intervention.units[(intervention.units >= offset) & (intervention.units < offset + width)] - offset
        out.append(t.index_fill(1, torch.as_tensor(local, device=t.device), 0) if local.size else t)
        offset += width
    expected = intervention.n_units if intervention.n_units is not None else info.channels
    if (expected is not None and offset != expected) or (
        intervention.units.size and intervention.units.max() >= offset
    ):
        raise CaptureError(f"layer {info.name!r} has {offset} units; the removal was chosen for {expected}")
    return type(parts)(out)


@contextlib.contextmanager
def intervene(adapter: ModelAdapter, layer: str | LayerInfo, intervention: Intervention) -> Iterator[LayerInfo]:
    """Apply ``intervention`` to ``layer`` in every forward run inside the ``with`` block.

    Args:
        adapter: the model's adapter (its :meth:`~sdinterp.interfaces.ModelAdapter.resolve` names the
            layer: canonical name, module path or ``input:<path>``).
        layer: the layer's name or its LayerInfo.
        intervention: what to do to the activation.

    Yields:
        The resolved LayerInfo.

    Examples:
        >>> with intervene(adapter, "stage5", ZeroUnits([3, 7])):   # doctest: +SKIP
        ...     logits = adapter.forward(x)
    """
    info = resolve_layer(adapter, layer) if isinstance(layer, str) else layer
    if info.call == "all":
        raise CaptureError(
            f"layer {info.name!r} concatenates several calls (call='all'); intervene on one call instead"
        )
    module: nn.Module = adapter.model.get_submodule(info.module) if info.module else adapter.model
    calls = {"n": 0}

    def wanted() -> bool:
        index = calls["n"]
        calls["n"] += 1
        return info.call is None or index == info.call

    if info.where == "input":

        def pre_hook(_module: nn.Module, args: tuple) -> tuple | None:
            if not args or not wanted():
                return None
            if info.select is not None:  # as the capture does: select picks from the positional inputs
                return tuple(_replace(args, info, intervention))
            return (_replace(args[0], info, intervention),) + tuple(args[1:])

        handle = module.register_forward_pre_hook(pre_hook)
    else:

        def hook(_module: nn.Module, _args: tuple, output: Any) -> Any:
            return _replace(output, info, intervention) if wanted() else None

        handle = module.register_forward_hook(hook)
    # Calls are counted per forward of the whole model (LayerInfo.call indexes calls within one).
    reset = adapter.model.register_forward_pre_hook(lambda _m, _a: calls.update(n=0), prepend=True)
    try:
        yield info
    finally:
        handle.remove()
        reset.remove()
