"""Layers found from what a model does, not from what its modules are called.

Two questions every family adapter must answer without trusting names (issue: TANet's last
registered submodule is a temporal Conv1d, so "the last conv's width" gave 64 for a 2048-channel
stage):

* **How wide is a layer?** :func:`probe_widths` runs one forward through the same
  :class:`~sdinterp.capture.LayerCapture` a report uses and reads the pooled width, so the declared
  channels are exactly what the estimator will see.
* **Where are the stages of a backbone no table describes?** :func:`trace` records, for one probe
  forward, which modules ran in which order and what they returned. :func:`resolution_stages`
  cuts a CNN into stages where the spatial resolution changes (the last module before each
  change ends a stage, as ResNet's ``layerK`` do); :func:`block_list` finds a transformer's
  repeated block list (the longest ``ModuleList`` of one block class that runs).
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from typing import Any, Callable, Mapping

import torch
from torch import nn

from sdinterp.capture import LayerCapture
from sdinterp.interfaces import LayerInfo

__all__ = ["Trace", "trace", "resolution_stages", "block_list", "probe_widths"]


@dataclasses.dataclass(frozen=True)
class Trace:
    """One module's first call in a probe forward.

    Attributes:
        path: dotted path inside the traced root.
        order: position of the call's *end* among all calls (children end before parents).
        shape: shape of the output tensor (the first tensor of a tuple/list output), or ``None``.
    """

    path: str
    order: int
    shape: tuple[int, ...] | None


def _first_tensor(value: Any) -> torch.Tensor | None:
    if isinstance(value, torch.Tensor):
        return value
    if isinstance(value, (list, tuple)):
        for v in value:
            t = _first_tensor(v)
            if t is not None:
                return t
    return None


def trace(root: nn.Module, run: Callable[[], Any]) -> dict[str, Trace]:
    """The modules of ``root`` that ran during ``run()``, with their output shapes.

    Only shapes are kept, never activations, so tracing a large model costs one forward and no
    memory beyond it.
    """
    names = {m: n for n, m in root.named_modules() if n}
    seen: dict[str, Trace] = {}
    counter = [0]

    def record(module: nn.Module, _args: Any, output: Any) -> None:
        name = names[module]
        counter[0] += 1
        if name not in seen:
            t = _first_tensor(output)
            seen[name] = Trace(name, counter[0], tuple(t.shape) if t is not None else None)

    handles = [m.register_forward_hook(record) for m in names]
    try:
        run()
    finally:
        for h in handles:
            h.remove()
    return seen


def _children_in_order(root: nn.Module, path: str, ran: Mapping[str, Trace]) -> list[str]:
    """The modules directly below ``path`` that ran, in call order; containers that never ran
    themselves (``ModuleList``, ``ModuleDict``) are looked through."""
    module = root.get_submodule(path) if path else root
    out: list[str] = []
    for name, _ in module.named_children():
        child = f"{path}.{name}" if path else name
        if child in ran:
            out.append(child)
        else:
            out.extend(_children_in_order(root, child, ran))
    return sorted(out, key=lambda p: ran[p].order)


def _spatial(shape: tuple[int, ...] | None) -> tuple[int, int] | None:
    """(H, W) of a (N, C, H, W) or (N, C, T, H, W) feature map; None for anything else."""
    if shape is None or len(shape) not in (4, 5):
        return None
    return int(shape[-2]), int(shape[-1])


def resolution_stages(root: nn.Module, ran: Mapping[str, Trace], path: str = "") -> list[str]:
    """Module paths ending each resolution stage of the CNN at ``path``, in network order.

    A module whose own children run at three or more resolutions (a whole backbone, DenseNet's
    ``features``) is opened up; one whose children run at one resolution (a residual stage) or
    step down once (a transition or downsampling block) is kept whole. Consecutive modules at one
    spatial size form a stage, and the last one ends it.
    """
    def expand(p: str) -> list[str]:
        kids = [k for k in _children_in_order(root, p, ran) if _spatial(ran[k].shape) is not None]
        if len({_spatial(ran[k].shape) for k in kids}) >= 3:
            return [q for k in kids for q in expand(k)]
        return [p]

    top = [k for k in _children_in_order(root, path, ran) if _spatial(ran[k].shape) is not None]
    flat = [q for k in top for q in expand(k)]
    stages: list[str] = []
    for i, p in enumerate(flat):
        nxt = flat[i + 1] if i + 1 < len(flat) else None
        if nxt is None or _spatial(ran[nxt].shape) != _spatial(ran[p].shape):
            stages.append(p)
    return stages


def block_list(root: nn.Module, ran: Mapping[str, Trace]) -> list[str]:
    """Paths of the elements of the longest ``ModuleList`` of one (non-leaf) block class that ran.

    Ties keep the first list in call order. Returns ``[]`` when no list has two such blocks.
    """
    best: list[str] = []
    for name, module in root.named_modules():
        if not isinstance(module, nn.ModuleList):
            continue
        kids = [(f"{name}.{k}", m) for k, m in module.named_children()]
        kids = [(p, m) for p, m in kids if p in ran and any(True for _ in m.children())]
        if len(kids) < 2:
            continue
        cls, count = Counter(type(m) for _, m in kids).most_common(1)[0]
        members = sorted((p for p, m in kids if type(m) is cls), key=lambda p: ran[p].order)
        if count > len(best) or (count == len(best) and best and ran[members[0]].order < ran[best[0]].order):
            best = members
    return best


def probe_widths(model: nn.Module, layers: Mapping[str, LayerInfo], run: Callable[[], Any]) -> dict[str, int]:
    """Pooled width of every layer in one forward, read through the report's own capture path.

    Raises:
        whatever the forward or the capture raises (the caller turns it into a one-line refusal).
    """
    with torch.inference_mode(), LayerCapture(model, layers, early_exit=False) as cap:
        cap.run(run)
        return {name: int(z.shape[1]) for name, z in cap.collect().items()}
