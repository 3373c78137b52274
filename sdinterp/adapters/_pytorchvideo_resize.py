"""Run pytorchvideo models at input sizes other than the one they were built for, without changing
their weights or state-dict keys.

Two things in pytorchvideo models depend on the input size:

* the head's fixed ``AvgPool3d`` (kernel = the native last-stage feature size, e.g. slow_r50's
  ``(8, 7, 7)``): :func:`make_head_pools_adaptive` adds a forward pre-hook that feeds the pool the
  global mean of its input broadcast to the kernel size whenever the input is not the kernel size, so
  the pool returns the global average (``AdaptiveAvgPool3d(1)``); at the native size the hook does
  nothing and the model computes exactly what it did;
* MViT's positional embedding, one vector per patch of the native grid, and the patch grid that
  ``MultiscaleVisionTransformers.forward`` reads from it: :class:`ResizedClsPositionalEncoding` takes
  the encoding's place and interpolates the *same* parameters (shared objects, so ``state_dict`` keys
  and values are unchanged and weights loaded later are used) to the new grid at every forward, as
  MViT and ViT implementations do when fine-tuning at another resolution: spatial table bilinear,
  temporal table linear (trilinear for a joint table), class token and its embedding kept.

Both are undone by :func:`restore` with what :func:`make_head_pools_adaptive` /
:func:`resize_positional_encoding` return.

Examples:
    >>> changes = make_head_pools_adaptive(model, head_paths=["blocks.5"])   # doctest: +SKIP
    >>> restore(model, changes)                                              # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

__all__ = [
    "Change",
    "ResizedClsPositionalEncoding",
    "make_head_pools_adaptive",
    "patch_grid",
    "resize_positional_encoding",
    "restore",
]


@dataclasses.dataclass
class Change:
    """One undoable change to a model: a hook handle or a module put in place of another."""

    path: str
    description: str
    handle: Any = None
    original: nn.Module | None = None


def _triple(v: Any) -> tuple[int, int, int]:
    a, b, c = (int(x) for x in v) if isinstance(v, (tuple, list)) else (int(v),) * 3
    return a, b, c


def _global_pool_pre_hook(module: nn.AvgPool3d, args: tuple) -> tuple | None:
    """Forward pre-hook: input of another size than the kernel -> its global mean, broadcast to the
    kernel, so the fixed pool returns the global average (the pool has stride 1 and no padding)."""
    x = args[0]
    kernel = _triple(module.kernel_size)
    if tuple(x.shape[2:]) == kernel:
        return None  # the native size: the model runs unchanged
    mean = x.mean(dim=tuple(range(2, x.dim())), keepdim=True)
    return (mean.expand(*x.shape[:2], *kernel),) + tuple(args[1:])


def make_head_pools_adaptive(model: nn.Module, head_paths: Sequence[str]) -> list[Change]:
    """Make every fixed-kernel ``AvgPool3d`` (stride 1, no padding) under ``head_paths`` average
    globally when its input is not its kernel size (a forward pre-hook; the module is kept).

    Args:
        model: the network.
        head_paths: module paths of the classifier head(s), e.g. ``["blocks.5"]``.

    Returns:
        One :class:`Change` per hooked pool (its module path and native kernel).
    """
    changes = []
    for head in head_paths:
        root = model.get_submodule(head) if head else model
        for name, m in root.named_modules():
            if type(m) is not nn.AvgPool3d or _triple(m.stride) != (1, 1, 1) or any(_triple(m.padding)):
                continue
            path = f"{head}.{name}" if head and name else head or name
            kernel = "x".join(str(k) for k in _triple(m.kernel_size))
            changes.append(
                Change(
                    path,
                    f"{path}: AvgPool3d({kernel}) averages globally when its input is not {kernel} "
                    "(forward pre-hook; no effect at the native size)",
                    m.register_forward_pre_hook(_global_pool_pre_hook),
                )
            )
    return changes


def patch_grid(patch_conv: nn.Module, frames: int, crop: int) -> tuple[int, int, int]:
    """The (T, H, W) patch grid a 3-D patch convolution makes of a ``frames`` x ``crop`` x ``crop`` clip."""
    sizes = (frames, crop, crop)
    k, s, p = _triple(patch_conv.kernel_size), _triple(patch_conv.stride), _triple(patch_conv.padding)
    t, h, w = ((n + 2 * p[i] - k[i]) // s[i] + 1 for i, n in enumerate(sizes))
    return t, h, w


class ResizedClsPositionalEncoding(nn.Module):
    """pytorchvideo's ``SpatioTemporalClsPositionalEncoding`` for another patch grid.

    Registers the original's parameters themselves (same names, same objects), so the model's
    ``state_dict`` is unchanged; the original module is kept (not as a submodule) for :func:`restore`.

    Args:
        original: the model's ``cls_positional_encoding``.
        grid: the new (T, H, W) patch grid.
    """

    # The original's parameters, registered in __init__ under their own names (which of them exist
    # depends on sep_pos_embed / cls_embed_on); declared for type checkers.
    pos_embed: nn.Parameter
    pos_embed_spatial: nn.Parameter
    pos_embed_temporal: nn.Parameter
    pos_embed_class: nn.Parameter
    cls_token: nn.Parameter

    def __init__(self, original: Any, grid: Sequence[int]):  # pytorchvideo's encoding (an untyped package)
        super().__init__()
        for name, param in original.named_parameters(recurse=False):
            self.register_parameter(name, param)
        object.__setattr__(self, "original", original)  # not registered: no duplicate parameters
        self.native = tuple(int(n) for n in original.patch_embed_shape)
        t, h, w = (int(n) for n in grid)
        self.grid = (t, h, w)
        self.cls_embed_on = bool(original.cls_embed_on)
        self.sep_pos_embed = bool(original.sep_pos_embed)

    @property
    def patch_embed_shape(self) -> tuple[int, int, int]:
        """The grid ``MultiscaleVisionTransformers.forward`` passes to its blocks."""
        return self.grid

    def position_embedding(self) -> torch.Tensor:
        """(1, [1 +] T*H*W, C): the native embedding interpolated to :attr:`grid`."""
        (t0, h0, w0), (t, h, w) = self.native, self.grid
        if self.sep_pos_embed:
            spatial: torch.Tensor = self.pos_embed_spatial  # (1, h0*w0, C)
            c = spatial.shape[-1]
            spatial = spatial.reshape(1, h0, w0, c).permute(0, 3, 1, 2)
            spatial = F.interpolate(spatial, size=(h, w), mode="bilinear", align_corners=False)
            spatial = spatial.flatten(2).transpose(1, 2)  # (1, h*w, C)
            temporal = F.interpolate(
                self.pos_embed_temporal.transpose(1, 2), size=t, mode="linear", align_corners=False
            ).transpose(1, 2)  # (1, t, C)
            pos = spatial.repeat(1, t, 1) + torch.repeat_interleave(temporal, h * w, dim=1)
            return torch.cat([self.pos_embed_class, pos], 1) if self.cls_embed_on else pos
        table = self.pos_embed
        cls, grid = (table[:, :1], table[:, 1:]) if self.cls_embed_on else (None, table)
        c = grid.shape[-1]
        grid = grid.reshape(1, t0, h0, w0, c).permute(0, 4, 1, 2, 3)
        grid = F.interpolate(grid, size=(t, h, w), mode="trilinear", align_corners=False).flatten(2).transpose(1, 2)
        return torch.cat([cls, grid], 1) if cls is not None else grid

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.cls_embed_on:
            x = torch.cat((self.cls_token.expand(x.shape[0], -1, -1), x), dim=1)
        return x + self.position_embedding()

    def extra_repr(self) -> str:
        return f"native_grid={self.native}, grid={self.grid}"


def resize_positional_encoding(model: Any, grid: Sequence[int]) -> list[Change]:  # a pytorchvideo MViT
    """Put a :class:`ResizedClsPositionalEncoding` for ``grid`` in place of the MViT ``model``'s
    ``cls_positional_encoding`` (nothing if ``grid`` is its native grid).

    Returns:
        The change (empty list if none was needed).
    """
    current = model.cls_positional_encoding
    original = getattr(current, "original", current)
    native = tuple(int(n) for n in original.patch_embed_shape)
    if tuple(grid) == native:
        if current is not original:
            model.cls_positional_encoding = original
        return []
    model.cls_positional_encoding = ResizedClsPositionalEncoding(original, grid)
    text = "x".join(map(str, grid))
    return [
        Change(
            "cls_positional_encoding",
            f"cls_positional_encoding: positional embedding interpolated from the native {'x'.join(map(str, native))} "
            f"patch grid to {text} (spatial bilinear, temporal linear, class token kept; parameters shared)",
            original=original,
        )
    ]


def restore(model: nn.Module, changes: Sequence[Change]) -> None:
    """Undo ``changes``: remove hooks and put original modules back."""
    for change in changes:
        if change.handle is not None:
            change.handle.remove()
        if change.original is not None:
            parent, _, attr = change.path.rpartition(".")
            setattr(model.get_submodule(parent) if parent else model, attr, change.original)
