"""Stages found from what a model does, not from what its modules are called.

Where are the stages of a backbone no table describes? From one probe forward
(:func:`sdinterp.probe.trace`: which modules ran, in which order, with which output shapes),
:func:`resolution_stages` cuts a CNN into stages where the spatial resolution changes (the last
module before each change ends a stage, as ResNet's ``layerK`` do) and :func:`block_list` finds a
transformer's repeated block list (the longest ``ModuleList`` of one block class that runs). How
wide each layer is comes from the same core probe (:func:`sdinterp.probe.probe_widths`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping

from torch import nn

from sdinterp.probe import Trace

__all__ = ["resolution_stages", "block_list"]


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
