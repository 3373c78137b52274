"""Convex-Combination Gated Fusion (RTNet's STAFM; the study repo's ``GatedConvex``; paper Eq. 5
and 7; ``docs/method.md`` §6).

The channel weights of the two streams sum to one (f and 1 − f), and so do the spatial weights
(x and 1 − x)::

    f   = σ(FC2(ReLU(FC1(GAP(U_a ⊕ U_m)))))             c channels              (Eq. 5a)
    Z_a = f ∘ U_a;   Z_m = (1 − f) ∘ U_m                                        (Eq. 5b, c)
    x   = σ(Conv7×7_{4→1, no bias}([mean_c Z_a, max_c Z_a, mean_c Z_m, max_c Z_m]))
    O   = x ∘ Z_a + (1 − x) ∘ Z_m                       ``form="sum"``, c channels (RTNet)
    O   = (x ∘ Z_a) ⊕ ((1 − x) ∘ Z_m)                   ``form="cat"``, 2c channels (Eq. 7)
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import nn

__all__ = ["ConvexGatedFusion"]


class ConvexGatedFusion(nn.Module):
    """Convex-combination gated fusion of an appearance and a motion feature map.

    Args:
        channels: c, the channels of each stream's input.
        reduction: FC1 maps 2c → max(1, 2c // reduction) (16 in the study's MATNet variant; RTNet's
            STAFMs use 4, 2, 1).
        form: ``"sum"`` (RTNet: c output channels) or ``"cat"`` (the concatenating form of Eq. 7:
            2c output channels).

    Returns:
        ``forward(u_a, u_m)`` gives (B, c, H, W) or (B, 2c, H, W); see :attr:`out_channels`.

    Examples:
        >>> ConvexGatedFusion(8)(torch.ones(1, 8, 4, 4), torch.ones(1, 8, 4, 4)).shape
        torch.Size([1, 8, 4, 4])
        >>> ConvexGatedFusion(8, form="cat").out_channels
        16
    """

    def __init__(self, channels: int, reduction: int = 16, form: Literal["sum", "cat"] = "sum"):
        super().__init__()
        if form not in ("sum", "cat"):
            raise ValueError(f"ConvexGatedFusion form must be 'sum' or 'cat', got {form!r}")
        c = int(channels)
        hidden = max(1, 2 * c // int(reduction))
        self.channels, self.form = c, form
        self.out_channels = c if form == "sum" else 2 * c
        self.fc1 = nn.Linear(2 * c, hidden)
        self.fc2 = nn.Linear(hidden, c)
        self.spatial = nn.Conv2d(4, 1, kernel_size=7, padding=3, bias=False)

    def forward(self, u_a: torch.Tensor, u_m: torch.Tensor) -> torch.Tensor:
        gap = torch.cat([u_a, u_m], dim=1).mean(dim=(2, 3))
        f = torch.sigmoid(self.fc2(torch.relu(self.fc1(gap))))[:, :, None, None]
        z_a, z_m = f * u_a, (1.0 - f) * u_m
        maps = [
            z_a.mean(1, keepdim=True),
            z_a.amax(1, keepdim=True),
            z_m.mean(1, keepdim=True),
            z_m.amax(1, keepdim=True),
        ]
        x = torch.sigmoid(self.spatial(torch.cat(maps, dim=1)))
        if self.form == "sum":
            return x * z_a + (1.0 - x) * z_m
        return torch.cat([x * z_a, (1.0 - x) * z_m], dim=1)

    def extra_repr(self) -> str:
        return f"channels={self.channels}, out_channels={self.out_channels}, form={self.form!r}"
