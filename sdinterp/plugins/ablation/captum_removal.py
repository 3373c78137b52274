"""Per-sample effect of removing groups of units on a model output, through Captum's
``LayerFeatureAblation`` with a channel mask.

Where it fits: the question "how much does output ``target`` fall on each clip when these units
are zeroed?" is exactly what ``LayerFeatureAblation`` answers — give it a ``layer_mask`` that assigns
each channel a group id and a zero baseline, and it zeroes one group per forward and returns
``f(x) - f(x with the group zeroed)`` for the target. Where it does not (and
:func:`~sdinterp.plugins.ablation.removal_sweep` uses its own hook instead): a dataset-level metric
(accuracy, mIoU) is not a per-sample output difference; the percentages of a sweep overlap
(the top 10 % are inside the top 20 %), while a Captum mask puts each unit in exactly one group; and
sequence-first (L, B, C) layers, whose batch is not the first axis Captum perturbs along.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import torch

from sdinterp.capture import resolve_layer
from sdinterp.interfaces import ModelAdapter
from sdinterp.plugins.ablation.intervention import unit_axis

__all__ = ["removal_attribution"]


def _activation_shape(adapter: ModelAdapter, info: Any, inputs: Any) -> torch.Size:
    module = adapter.model.get_submodule(info.module) if info.module else adapter.model
    seen: dict[str, torch.Size] = {}

    def grab(value: Any) -> None:
        if "shape" not in seen:
            tensor = value if info.select is None else value[info.select]
            seen["shape"] = tensor.shape

    if info.where == "input":
        handle = module.register_forward_pre_hook(lambda _m, args: grab(args[0]))
    else:
        handle = module.register_forward_hook(lambda _m, _a, out: grab(out))
    try:
        with torch.no_grad():
            adapter.forward(inputs)
    finally:
        handle.remove()
    return seen["shape"]


def removal_attribution(
    adapter: ModelAdapter,
    layer: str,
    inputs: torch.Tensor,
    groups: Mapping[str, Sequence[int]],
    target: int | Sequence[int] | torch.Tensor | None = None,
    forward_func: Callable[[torch.Tensor], torch.Tensor] | None = None,
) -> dict[str, torch.Tensor]:
    """The drop of output ``target`` on each clip when each group of units of ``layer`` is zeroed.

    Args:
        adapter: the model's adapter.
        layer: the layer (canonical name, module path or ``input:<path>``).
        inputs: a prepared batch, ``adapter.prepare([adapter.views(s) for s in clips])`` (one tensor).
        groups: name -> unit indices; groups must not overlap (a Captum mask gives each unit one
            group). Units in no group form one more group that is ablated but not returned.
        target: the output index (per clip, or one for all), as in Captum.
        forward_func: maps ``inputs`` to the scores (default ``adapter.forward``; for an MMAction2
            recognizer, e.g. ``lambda x: model(x, mode="tensor", stage="head")``).

    Returns:
        name -> (B,) tensor: ``f(x)[target] - f(x with the group zeroed)[target]`` per clip.

    Examples:
        >>> drops = removal_attribution(adapter, "stage5", x, {"dyn": top_dyn, "stat": top_stat},  # doctest: +SKIP
        ...                             target=labels)
    """
    from captum.attr import LayerFeatureAblation

    info = resolve_layer(adapter, layer)
    if info.pooling == "tokens_seq_first":
        raise ValueError(
            f"layer {layer!r} is sequence-first (L, B, C): Captum perturbs along the first axis as "
            "the batch; use removal_sweep (hook-based) for this layer"
        )
    if not isinstance(inputs, torch.Tensor):
        raise TypeError("removal_attribution takes one prepared input tensor (multi-pathway inputs: use removal_sweep)")
    shape = _activation_shape(adapter, info, inputs)
    axis = unit_axis(torch.empty(shape, device="meta"), info)
    width = shape[axis]
    group_of = torch.full((width,), len(groups), dtype=torch.long)
    for g, (name, units) in enumerate(groups.items()):
        idx = torch.as_tensor(list(units), dtype=torch.long)
        if idx.numel() == 0:
            raise ValueError(f"group {name!r} is empty")
        if int(idx.max()) >= width or int(idx.min()) < 0:
            raise ValueError(f"group {name!r}: layer {layer!r} has {width} units")
        if bool((group_of[idx] != len(groups)).any()):
            raise ValueError(
                f"group {name!r} overlaps another group; a Captum channel mask gives each unit one group "
                "(call once per group, or use removal_sweep)"
            )
        group_of[idx] = g
    mask_shape = [1] * len(shape)
    mask_shape[axis] = width
    mask = group_of.view(mask_shape).to(inputs.device)
    forward = forward_func or adapter.forward
    ablation = LayerFeatureAblation(forward, adapter.layer_module(layer))
    with torch.no_grad():
        attr = ablation.attribute(
            inputs, layer_baselines=0.0, target=target, layer_mask=mask, attribute_to_layer_input=info.where == "input"
        )
    # Every element of a group carries that group's output difference; read it at its first unit.
    out = {}
    for name, units in groups.items():
        picked = attr.select(axis, int(list(units)[0]))
        batch_axis = 0
        out[name] = picked.reshape(picked.shape[batch_axis], -1)[:, 0].detach()
    return out
