"""Tiny action-recognition networks of the paper's families, small enough to train on a CPU in
seconds (issue #13, item 2).

Every net takes a float clip (B, 3, T, H, W) and has canonical layers ``stage1..3`` (or
``slow.stage1..3`` and ``fast.stage1..3`` for the two-pathway net), listed in
:attr:`TinyVideoNet.canonical_layers`; a stage is conv - BN - ReLU with stride 2 in space.

* :class:`TinyC2D` — 2-D convolutions per frame (temporal kernel 1): no temporal mixing before the
  final average over time, so its units can only see the set of frames, not their order.
* :class:`TinyI3D` — 3-D convolutions (temporal kernel 3) at every stage.
* :class:`TinySlowOnly` — the slow pathway alone: every ``alpha``-th frame, temporal kernels only in
  the last stage (as SlowOnly keeps them for res4/res5; Feichtenhofer et al., 2019).
* :class:`TinyFastOnly` — the fast pathway alone: every frame, thin, temporal kernels everywhere.
* :class:`TinySlowFast` — both, with time-strided lateral connections fast -> slow after each stage.

Every net has a ``dropout`` slot between its pooled features and its classifier (an identity unless
:func:`place_dropout` fills it: the standard dropout's place, and StaticDropout's in the paper);
:func:`place_dropout` can also put a dropout after any canonical layer, :func:`strip_dropout`
removes every dropout again (the paper's dropout-free fine-tune).
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = [
    "TinyVideoNet",
    "TinyC2D",
    "TinyI3D",
    "TinySlowOnly",
    "TinyFastOnly",
    "TinySlowFast",
    "ARCHITECTURES",
    "build",
    "place_dropout",
    "strip_dropout",
    "DROPOUT_SLOT",
]

#: The name :func:`place_dropout` gives the slot before the classifier.
DROPOUT_SLOT = "head"


def _stage(cin: int, cout: int, kt: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv3d(cin, cout, (kt, 3, 3), stride=(1, 2, 2), padding=(kt // 2, 1, 1), bias=False),
        nn.BatchNorm3d(cout),
        nn.ReLU(),
    )


class TinyVideoNet(nn.Module):
    """Base of the tiny nets: ``canonical_layers`` names the layers an adapter exposes, and
    ``frames`` / ``size`` the clip the net was built for (the adapter's probe clip).

    Args:
        classes: number of classes.
        frames: T of the clips.
        size: frame side in pixels.
    """

    canonical_layers: tuple[str, ...] = ("stage1", "stage2", "stage3")
    fc: nn.Module  # the classifier head, built by each subclass

    def __init__(self, classes: int, frames: int, size: int):
        super().__init__()
        self.classes, self.frames, self.size = int(classes), int(frames), int(size)
        # No parameters: the checkpoints (and their state dicts) are the same with it or without.
        self.dropout: nn.Module = nn.Identity()

    def embed(self, x: torch.Tensor) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.dropout(self.embed(x)))


class _SinglePathway(TinyVideoNet):
    """Three stages of widths ``widths`` with temporal kernels ``kernels``, on every ``stride``-th frame."""

    widths: tuple[int, int, int] = (8, 16, 32)
    kernels: tuple[int, int, int] = (3, 3, 3)
    stride: int = 1

    def __init__(self, classes: int = 4, frames: int = 8, size: int = 32):
        super().__init__(classes, frames, size)
        w, k = self.widths, self.kernels
        self.stage1 = _stage(3, w[0], k[0])
        self.stage2 = _stage(w[0], w[1], k[1])
        self.stage3 = _stage(w[1], w[2], k[2])
        self.fc = nn.Linear(w[2], classes)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        x = x[:, :, :: self.stride]
        return self.stage3(self.stage2(self.stage1(x))).mean(dim=(2, 3, 4))


class TinyC2D(_SinglePathway):
    """C2D-like: per-frame 2-D convolutions, frames mixed only by the final average."""

    kernels = (1, 1, 1)


class TinyI3D(_SinglePathway):
    """I3D-like: 3-D convolutions at every stage."""

    kernels = (3, 3, 3)


class TinySlowOnly(_SinglePathway):
    """SlowOnly-like: every 4th frame, temporal kernel only in the last stage."""

    kernels = (1, 1, 3)
    stride = 4


class TinyFastOnly(_SinglePathway):
    """FastOnly-like: every frame, thin (half the widths), temporal kernels everywhere."""

    widths = (4, 8, 16)
    kernels = (3, 3, 3)


class _Pathway(nn.Module):
    def __init__(self, widths: tuple[int, int, int], kernels: tuple[int, int, int], extra: tuple[int, int, int]):
        super().__init__()
        self.stage1 = _stage(3, widths[0], kernels[0])
        self.stage2 = _stage(widths[0] + extra[0], widths[1], kernels[1])
        self.stage3 = _stage(widths[1] + extra[1], widths[2], kernels[2])


class TinySlowFast(TinyVideoNet):
    """SlowFast-like: a slow pathway (every ``alpha``-th frame, wide, temporal kernel in the last
    stage) and a fast one (every frame, thin, temporal kernels everywhere); after stages 1 and 2 a
    lateral conv (temporal stride ``alpha``) carries the fast features into the slow pathway, and
    the head reads both pooled pathways (Feichtenhofer et al., 2019, scaled down)."""

    canonical_layers = ("slow.stage1", "slow.stage2", "slow.stage3", "fast.stage1", "fast.stage2", "fast.stage3")
    alpha = 4

    def __init__(self, classes: int = 4, frames: int = 8, size: int = 32):
        super().__init__(classes, frames, size)
        slow_w, fast_w, lat = (8, 16, 32), (4, 8, 16), (4, 8, 0)
        self.slow = _Pathway(slow_w, (1, 1, 3), lat)
        self.fast = _Pathway(fast_w, (3, 3, 3), (0, 0, 0))
        a = self.alpha
        self.lateral1 = nn.Conv3d(fast_w[0], lat[0], (a, 1, 1), stride=(a, 1, 1), bias=False)
        self.lateral2 = nn.Conv3d(fast_w[1], lat[1], (a, 1, 1), stride=(a, 1, 1), bias=False)
        self.fc = nn.Linear(slow_w[2] + fast_w[2], classes)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        s, f = x[:, :, :: self.alpha], x
        s, f = self.slow.stage1(s), self.fast.stage1(f)
        s = torch.cat([s, self.lateral1(f)], dim=1)
        s, f = self.slow.stage2(s), self.fast.stage2(f)
        s = torch.cat([s, self.lateral2(f)], dim=1)
        s, f = self.slow.stage3(s), self.fast.stage3(f)
        return torch.cat([s.mean(dim=(2, 3, 4)), f.mean(dim=(2, 3, 4))], dim=1)


#: Architecture name -> class (the names ``sdinterp train-tiny`` and the checkpoints use).
ARCHITECTURES: dict[str, type[TinyVideoNet]] = {
    "c2d": TinyC2D,
    "i3d": TinyI3D,
    "slowonly": TinySlowOnly,
    "fastonly": TinyFastOnly,
    "slowfast": TinySlowFast,
}


def build(arch: str, classes: int = 4, frames: int = 8, size: int = 32) -> TinyVideoNet:
    """A fresh (untrained) net of architecture ``arch``.

    Raises:
        ValueError: unknown architecture (the message lists the known ones).

    Examples:
        >>> build("slowfast").canonical_layers[-1]
        'fast.stage3'
    """
    if arch not in ARCHITECTURES:
        raise ValueError(f"unknown tiny architecture {arch!r}; choose one of {', '.join(ARCHITECTURES)}")
    return ARCHITECTURES[arch](classes=classes, frames=frames, size=size)


def place_dropout(net: TinyVideoNet, module: nn.Module, layer: str = DROPOUT_SLOT) -> TinyVideoNet:
    """Put a dropout module in a net: before the classifier (``layer="head"``, the pooled features,
    where the paper puts StaticDropout) or after a canonical layer (its (B, C, T, H, W) map; the
    module then drops whole channels).

    Args:
        net: the net (changed in place).
        module: e.g. ``nn.Dropout(0.3)`` or a StaticDropout.
        layer: ``"head"`` or one of ``net.canonical_layers``.

    Returns:
        ``net``.

    Raises:
        ValueError: an unknown layer (the message lists the valid ones).
    """
    if layer == DROPOUT_SLOT:
        net.dropout = module
        return net
    if layer not in net.canonical_layers:
        raise ValueError(
            f"dropout layer must be {DROPOUT_SLOT!r} or one of {', '.join(net.canonical_layers)}, got {layer!r}"
        )
    parent_path, _, name = layer.rpartition(".")
    parent = net.get_submodule(parent_path) if parent_path else net
    stage = getattr(parent, name)
    # Appended to the stage: its output (the layer the adapter measures) is the dropout's output,
    # the identity in eval mode, and the stage's parameters keep their names.
    setattr(parent, name, nn.Sequential(*stage, module))
    return net


def _is_dropout(module: nn.Module) -> bool:
    # StaticDropout (another plugin, which this one must not import) marks itself as a dropout.
    return isinstance(module, nn.modules.dropout._DropoutNd) or bool(getattr(module, "is_dropout", False))


def strip_dropout(net: nn.Module) -> int:
    """Replace every dropout of a net (``nn.Dropout*`` and StaticDropout) by an identity.

    Returns:
        How many were removed.
    """
    found = [(path, m) for path, m in net.named_modules() if path and _is_dropout(m)]
    for path, _ in found:
        parent_path, _, name = path.rpartition(".")
        parent = net.get_submodule(parent_path) if parent_path else net
        setattr(parent, name, nn.Identity())
    return len(found)
