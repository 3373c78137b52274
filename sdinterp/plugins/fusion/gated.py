"""Gated Fusion (MATNet's ``gated_res2..5``; paper Eq. 6 and 8; ``docs/method.md`` §6).

Channel attention on the concatenated streams followed by a spatial attention map, added back to
the concatenation, so the output has **twice** the stream channels (method.md §6: "O = U + V, 2c
channels"; §8: "the gated outputs have twice the channels")::

    U    = U_a ⊕ U_m                                   2c channels
    e    = ReLU(FC_{2c→2c/r}(GAP U))
    A_c  = σ(FC_{2c/r→2c}(e));   U1 = A_c ∘ U          (Eq. 6)
    A_sp = BN(Conv7×7_{1→1, no bias}(max_c U1))        no sigmoid in the reference code
    V    = A_sp ∘ U1;   V = σ(FC_{2c/r→1}(e)) · V     global gate (default on)
    O    = U + V

Where the paper and the code disagree (method.md, difference 5) the default follows the code; the
paper's Eq. 8 (``Z = A_sp ∘ Z + Z`` with ``Z = A_c ∘ U`` and a sigmoid on ``A_sp``) is
``GatedFusion(c, spatial_sigmoid=True, residual="attended", global_gate=False)``.
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import nn

__all__ = ["GatedFusion"]


class GatedFusion(nn.Module):
    """MATNet's gated fusion of an appearance and a motion feature map.

    Args:
        channels: c, the channels of each stream's input.
        reduction: r of the squeeze FC (2c → max(1, 2c // r)); 16 as MATNet.
        global_gate: multiply the attended features by the scalar gate σ(FC(e)) (the code's
            ``use_global``, default True).
        spatial_sigmoid: pass the spatial map through a sigmoid (the paper's reading; the code has
            none).
        residual: ``"input"`` adds the un-attended concatenation U (code); ``"attended"`` adds
            A_c ∘ U (paper Eq. 8).

    Returns:
        ``forward(u_a, u_m)`` gives (B, 2c, H, W); :attr:`out_channels` is 2c.

    Examples:
        >>> fuse = GatedFusion(8)
        >>> fuse(torch.zeros(2, 8, 5, 5), torch.zeros(2, 8, 5, 5)).shape
        torch.Size([2, 16, 5, 5])
    """

    def __init__(
        self,
        channels: int,
        reduction: int = 16,
        global_gate: bool = True,
        spatial_sigmoid: bool = False,
        residual: Literal["input", "attended"] = "input",
    ):
        super().__init__()
        if residual not in ("input", "attended"):
            raise ValueError(f"GatedFusion residual must be 'input' or 'attended', got {residual!r}")
        both = 2 * int(channels)
        hidden = max(1, both // int(reduction))
        self.channels, self.out_channels = int(channels), both
        self.squeeze = nn.Linear(both, hidden)
        self.excite = nn.Linear(hidden, both)
        self.spatial = nn.Conv2d(1, 1, kernel_size=7, padding=3, bias=False)
        self.spatial_bn = nn.BatchNorm2d(1)
        self.gate = nn.Linear(hidden, 1) if global_gate else None
        self.spatial_sigmoid = bool(spatial_sigmoid)
        self.residual = residual

    def forward(self, u_a: torch.Tensor, u_m: torch.Tensor) -> torch.Tensor:
        u = torch.cat([u_a, u_m], dim=1)
        e = torch.relu(self.squeeze(u.mean(dim=(2, 3))))
        attended = torch.sigmoid(self.excite(e))[:, :, None, None] * u
        a_sp = self.spatial_bn(self.spatial(attended.amax(dim=1, keepdim=True)))
        if self.spatial_sigmoid:
            a_sp = torch.sigmoid(a_sp)
        v = a_sp * attended
        if self.gate is not None:
            v = torch.sigmoid(self.gate(e))[:, :, None, None] * v
        return (u if self.residual == "input" else attended) + v

    def extra_repr(self) -> str:
        return (
            f"channels={self.channels}, out_channels={self.out_channels}, global_gate={self.gate is not None}, "
            f"spatial_sigmoid={self.spatial_sigmoid}, residual={self.residual!r}"
        )
