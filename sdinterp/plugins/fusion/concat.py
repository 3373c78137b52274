"""Concatenation fusion: U_a ⊕ U_m followed by Conv1×1 + BN + ReLU back to c channels.

(inferred) The fusion of the modified FusionSeg (paper Sec. 4.1.2) is not published; sdinterp's
FusionSeg uses this plain learned fusion at stages 2 and 5 so its fusion layers carry no attention
(the paper's point of comparison: no cross connections, no gating).
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["ConcatFusion"]


class ConcatFusion(nn.Module):
    """``forward(u_a, u_m) = ReLU(BN(Conv1×1(U_a ⊕ U_m)))`` with c output channels.

    Args:
        channels: c of each stream.
        out_channels: output channels (default c).

    Examples:
        >>> ConcatFusion(4)(torch.ones(1, 4, 2, 2), torch.ones(1, 4, 2, 2)).shape
        torch.Size([1, 4, 2, 2])
    """

    def __init__(self, channels: int, out_channels: int | None = None):
        super().__init__()
        self.channels = int(channels)
        self.out_channels = int(out_channels or channels)
        self.proj = nn.Sequential(
            nn.Conv2d(2 * self.channels, self.out_channels, kernel_size=1, bias=False),
            nn.BatchNorm2d(self.out_channels),
            nn.ReLU(inplace=True),
        )

    def forward(self, u_a: torch.Tensor, u_m: torch.Tensor) -> torch.Tensor:
        return self.proj(torch.cat([u_a, u_m], dim=1))
