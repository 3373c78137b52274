"""Co-attention cross connections between the appearance and motion streams (MATNet's
``coa_res3..5``; ``docs/method.md`` §6), unidirectional (motion → appearance, MATNet's ``coatt``)
or bidirectional (``coatt_recip``), each with or without the gating term (``coatt_gated``,
``coatt_gated_recip``).

For feature maps X_a (appearance) and X_b (motion), C channels, flattened to C × HW::

    sa(X)    = X ∘ softmax_HW(Conv1×1_{C→1}(X))          self-attention; one conv per stream
    K_a, K_b = Conv1×1_{C→C/r}(X_a), Conv1×1_{C→C/r}(X_b)
    A        = tanh(K_bᵀ K_a)                              HW × HW affinity
    Z_a      = X_b A;   Z_b = X_a Aᵀ                       each L2-normalised over channels

One cascade computes S = sa(P) of the running features P (P = X at the start), then Z from S_a, S_b,
and the update terms t_a = Z_b and t_b = S_b (unidirectional: the motion stream only refines
itself) or t_b = Z_a (bidirectional). Cascades 1 .. n−1 update P ← ReLU(t + P); the terms of the
last cascade are added to the module's inputs: outputs ReLU(t_a + X_a), ReLU(t_b + X_b) — the
reference encoder adds the returned terms to its stream features (``r_app ← ReLU(Z_b + r_app)``).
The gated variants scale the final terms by a gate map per stream, g = σ(Conv1×1_{2C→2}(t_a ⊕ t_b)),
t ← t ∘ g + t ((inferred): the gate reads both terms concatenated and acts on the final terms).
The convolutions are shared by the cascades, as the reference calls the same modules each time.
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["CoAttentionCross", "co_attention"]

Direction = Literal["unidirectional", "bidirectional"]


def co_attention(
    s_a: torch.Tensor, s_b: torch.Tensor, k_a: torch.Tensor, k_b: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """(Z_a, Z_b) of method.md §6 from values S_a, S_b (B, C, H, W) and keys K_a, K_b (B, d, H, W).

    Returns:
        Z_a = S_b A and Z_b = S_a Aᵀ with A = tanh(K_bᵀ K_a), L2-normalised over channels.

    Examples:
        >>> s = torch.ones(1, 2, 1, 2)
        >>> [tuple(z.shape) for z in co_attention(s, s, s[:, :1], s[:, :1])]
        [(1, 2, 1, 2), (1, 2, 1, 2)]
    """
    b, c, h, w = s_a.shape
    affinity = torch.tanh(k_b.flatten(2).transpose(1, 2) @ k_a.flatten(2))  # (B, HW_b, HW_a)
    z_a = (s_b.flatten(2) @ affinity).view(b, c, h, w)
    z_b = (s_a.flatten(2) @ affinity.transpose(1, 2)).view(b, c, h, w)
    return F.normalize(z_a, dim=1), F.normalize(z_b, dim=1)


class CoAttentionCross(nn.Module):
    """A cross connection: ``forward(x_a, x_m) -> (x_a', x_m')``, shapes unchanged.

    Args:
        channels: C of both streams.
        direction: ``"unidirectional"`` (motion → appearance, MATNet) or ``"bidirectional"``.
        gated: add the per-stream gating term.
        cascades: number of co-attention cascades (5 as MATNet).
        reduction: keys have max(1, C // reduction) channels (16 as MATNet).

    Examples:
        >>> cross = CoAttentionCross(8, "bidirectional", gated=True, cascades=2)
        >>> [tuple(t.shape) for t in cross(torch.rand(1, 8, 3, 3), torch.rand(1, 8, 3, 3))]
        [(1, 8, 3, 3), (1, 8, 3, 3)]
    """

    def __init__(
        self,
        channels: int,
        direction: Direction = "unidirectional",
        gated: bool = False,
        cascades: int = 5,
        reduction: int = 16,
    ):
        super().__init__()
        if direction not in ("unidirectional", "bidirectional"):
            raise ValueError(
                f"cross-connection direction must be 'unidirectional' or 'bidirectional', got {direction!r}"
            )
        if int(cascades) < 1:
            raise ValueError(f"cascades must be at least 1, got {cascades}")
        c, d = int(channels), max(1, int(channels) // int(reduction))
        self.channels, self.direction, self.cascades = c, direction, int(cascades)
        self.out_channels = c
        self.self_att_a = nn.Conv2d(c, 1, kernel_size=1)
        self.self_att_b = nn.Conv2d(c, 1, kernel_size=1)
        self.key_a = nn.Conv2d(c, d, kernel_size=1)
        self.key_b = nn.Conv2d(c, d, kernel_size=1)
        self.gate = nn.Conv2d(2 * c, 2, kernel_size=1) if gated else None

    @staticmethod
    def _self_attend(x: torch.Tensor, conv: nn.Conv2d) -> torch.Tensor:
        logits = conv(x)
        return x * torch.softmax(logits.flatten(2), dim=-1).view_as(logits)

    def terms(self, p_a: torch.Tensor, p_b: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """One cascade's update terms (t_a, t_b) from the running features."""
        s_a, s_b = self._self_attend(p_a, self.self_att_a), self._self_attend(p_b, self.self_att_b)
        z_a, z_b = co_attention(s_a, s_b, self.key_a(s_a), self.key_b(s_b))
        return z_b, (z_a if self.direction == "bidirectional" else s_b)

    def forward(self, x_a: torch.Tensor, x_m: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        p_a, p_b = x_a, x_m
        for _ in range(self.cascades - 1):
            t_a, t_b = self.terms(p_a, p_b)
            p_a, p_b = torch.relu(t_a + p_a), torch.relu(t_b + p_b)
        t_a, t_b = self.terms(p_a, p_b)
        if self.gate is not None:
            g = torch.sigmoid(self.gate(torch.cat([t_a, t_b], dim=1)))
            t_a, t_b = t_a * g[:, :1] + t_a, t_b * g[:, 1:] + t_b
        return torch.relu(t_a + x_a), torch.relu(t_b + x_m)

    def extra_repr(self) -> str:
        return (
            f"channels={self.channels}, direction={self.direction!r}, gated={self.gate is not None}, "
            f"cascades={self.cascades}"
        )
