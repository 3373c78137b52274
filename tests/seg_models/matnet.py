"""MATNet stand-in: ``Encoder``, ``Decoder`` and the fusion/cross study's ``MATNet`` wrapper.

Test support: same attribute paths, signatures and tensor layouts as the real code (tfzhou/MATNet
``modules/MATNet.py``; YorkUCVIL/Static-Dynamic-Interpretability ``models/vos_models/MATNet.py``),
written fresh; not the real code. What the adapter relies on, and what this reproduces:

* ``Encoder`` attributes ``conv1_1, bn1_1, relu_1, maxpool_1, res2_1..res5_1`` (appearance),
  ``conv1_2, bn1_2, relu_2, maxpool_2, res2_2..res5_2`` (motion), ``coa_res3..5``, ``gated_res2..5``.
* ``coa_resK(Xa, Xb)`` returns the 4-tuple ``(Za, Zb, Qa_5, Qb_5)``; the encoder then computes the
  stream features after the cross connection inline (``relu(Zb + r_a)``, ``relu(Qb + r_m)`` or, in the
  bidirectional variants, ``relu(Za + r_m)``), so they exist only as the next stage's input (and, at
  stage 5, only inside the fusion module's input).
* ``Encoder.forward(image, flow) -> (r5_gated, r4_gated, r3_gated, r2_gated)``; the study's
  ``Encoder.forward(image, flow, stages) -> (..., interm_out)`` (:class:`StudyEncoder`), where
  ``fusion_type="convex_gated"`` calls ``gated_resK(r_a, r_m)`` with two inputs instead of one
  concatenated tensor.
* ``Decoder.forward(r5, r4, r3, r2) -> (mask, boundary, p2, p3, p4, p5)`` at 473 x 473.

The cross connection and the fusions follow ``docs/method.md`` §6 (paper Eq. 5-8).
"""

from __future__ import annotations

import types
from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from .resnet import bottleneck_resnet

__all__ = ["CoAttention", "Gated", "GatedConvex", "Encoder", "StudyEncoder", "Decoder", "MATNet", "study_args"]

#: MATNet's fixed output side (the real decoder interpolates to 473 x 473 whatever the input size).
OUT_SIDE = 473


class CoAttention(nn.Module):
    """Five cascades of self- and co-attention between two feature maps (method.md §6).

    Args:
        channel: C of both maps.
        reciprocal: bidirectional (``coatt_recip``): the motion update uses ``Za`` instead of its
            own self-attended term.
        gated: the ``RGating`` term: each stream's update ``x`` becomes ``x * g + x``.
    """

    def __init__(self, channel: int, reciprocal: bool = False, gated: bool = False):
        super().__init__()
        low = max(1, channel // 16)
        self.proja = nn.Conv2d(channel, low, 1)
        self.projb = nn.Conv2d(channel, low, 1)
        # Registered in the real module although its forward never uses them.
        self.bottolneck1 = nn.Sequential(nn.Conv2d(channel, channel, 1), nn.BatchNorm2d(channel), nn.ReLU(inplace=True))
        self.bottolneck2 = nn.Sequential(nn.Conv2d(channel, channel, 1), nn.BatchNorm2d(channel), nn.ReLU(inplace=True))
        self.proj1 = nn.Conv2d(channel, 1, 1)
        self.proj2 = nn.Conv2d(channel, 1, 1)
        self.bna = nn.BatchNorm2d(channel)
        self.bnb = nn.BatchNorm2d(channel)
        self.relu = nn.ReLU(inplace=True)
        self.reciprocal = reciprocal
        self.gate = nn.Sequential(nn.Conv2d(2 * channel, 2, 1), nn.Sigmoid()) if gated else None

    def forward_sa(self, qa: torch.Tensor, qb: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Each map times a softmax over its H x W positions of a 1-channel projection."""

        def attend(x: torch.Tensor, proj: nn.Module) -> torch.Tensor:
            n, _, h, w = x.shape
            weights = torch.softmax(proj(x).reshape(n, h * w), dim=1).reshape(n, 1, h, w)
            return weights * x

        return attend(qa, self.proj1), attend(qb, self.proj2)

    def forward_co(self, qa: torch.Tensor, qb: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Za = Xb tanh(Kb^T Ka), Zb = Xa tanh(Kb^T Ka)^T, L2-normalised over channels."""
        n, c, h, w = qa.shape
        ka = self.proja(qa).flatten(2)
        kb = self.projb(qb).flatten(2)
        affinity = torch.tanh(torch.bmm(kb.transpose(1, 2), ka))  # (n, HW, HW)
        za = torch.bmm(qb.flatten(2), affinity).reshape(n, c, h, w)
        zb = torch.bmm(qa.flatten(2), affinity.transpose(1, 2)).reshape(n, c, h, w)
        return F.normalize(za, dim=1), F.normalize(zb, dim=1)

    def _gated(self, xa: torch.Tensor, xb: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if self.gate is None:
            return xa, xb
        g = self.gate(torch.cat([xa, xb], dim=1))
        return xa * g[:, :1] + xa, xb * g[:, 1:] + xb

    def forward(
        self, qa: torch.Tensor, qb: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        pa, pb = qa, qb
        for _ in range(4):
            sa_a, sa_b = self.forward_sa(pa, pb)
            za, zb = self.forward_co(sa_a, sa_b)
            up_a, up_b = self._gated(zb, za if self.reciprocal else sa_b)
            pa, pb = F.relu(up_a + pa), F.relu(up_b + pb)
        qa5, qb5 = self.forward_sa(pa, pb)
        za, zb = self.forward_co(qa5, qb5)
        return za, zb, qa5, qb5


class BasicConv(nn.Module):
    """Conv (no bias) + BN, optionally ReLU."""

    def __init__(self, cin: int, cout: int, kernel: int, relu: bool = True):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, kernel, padding=(kernel - 1) // 2, bias=False)
        self.bn = nn.BatchNorm2d(cout)
        self.relu = nn.ReLU() if relu else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.bn(self.conv(x))
        return self.relu(x) if self.relu is not None else x


class Gated(nn.Module):
    """MATNet's gated fusion of the concatenated streams U (2c channels): O = U + V (method.md §6)."""

    def __init__(self, channel: int, reduction: int = 16, use_global: bool = True):
        super().__init__()
        self.avg_pool = nn.AdaptiveAvgPool2d(1)
        self.excitation_1 = nn.Sequential(nn.Linear(channel, channel // reduction), nn.ReLU(inplace=True))
        self.excitation_2 = nn.Sequential(nn.Linear(channel // reduction, channel), nn.Sigmoid())
        self.global_attention = nn.Sequential(nn.Linear(channel // reduction, 1), nn.Sigmoid())
        self.spatial = BasicConv(1, 1, 7, relu=False)
        self.use_global = use_global

    def forward(self, u: torch.Tensor) -> torch.Tensor:
        b, c = u.shape[:2]
        e = self.excitation_1(self.avg_pool(u).reshape(b, c))
        u1 = self.excitation_2(e).reshape(b, c, 1, 1) * u
        v = self.spatial(u1.max(dim=1, keepdim=True)[0]) * u1
        if self.use_global:
            v = self.global_attention(e).reshape(b, 1, 1, 1) * v
        return u + v


class GatedConvex(nn.Module):
    """The study's convex-combination gated fusion, concatenating form: takes (U_a, U_m), returns
    (x * Z_a) ⊕ ((1 - x) * Z_m), 2c channels (method.md §6, Eq. 5 and 7)."""

    def __init__(self, inplanes: int, ratio: int = 16):
        super().__init__()
        self.fc1 = nn.Conv2d(inplanes, max(1, inplanes // ratio), 1)
        self.fc2 = nn.Conv2d(max(1, inplanes // ratio), inplanes // 2, 1)
        self.conv1 = nn.Conv2d(4, 1, 7, padding=3, bias=False)

    def forward(self, ua: torch.Tensor, um: torch.Tensor) -> torch.Tensor:
        f = torch.sigmoid(self.fc2(F.relu(self.fc1(F.adaptive_avg_pool2d(torch.cat([ua, um], 1), 1)))))
        za, zm = ua * f, um * (1 - f)
        stats = [
            za.mean(1, keepdim=True),
            za.max(1, keepdim=True)[0],
            zm.mean(1, keepdim=True),
            zm.max(1, keepdim=True)[0],
        ]
        x = torch.sigmoid(self.conv1(torch.cat(stats, 1)))
        return torch.cat([za * x, zm * (1 - x)], 1)


_CROSS = {
    "coatt": (False, False),
    "coatt_gated": (False, True),
    "coatt_recip": (True, False),
    "coatt_gated_recip": (True, True),
}


class Encoder(nn.Module):
    """MATNet's encoder: two bottleneck-ResNet streams, cross connections after stages 3-5, fusion at 2-5.

    ``forward(image, flow) -> (r5_gated, r4_gated, r3_gated, r2_gated)``.

    Args:
        blocks, width: stream depth and base width (default ResNet-101: 3, 4, 23, 3 and 64).
        cc_type, fusion_type: the study's variants (the original MATNet: ``"coatt"``, ``"gated"``).
    """

    def __init__(
        self, blocks: Sequence[int] = (3, 4, 23, 3), width: int = 64, cc_type: str = "coatt", fusion_type: str = "gated"
    ):
        super().__init__()
        reciprocal, gated = _CROSS[cc_type]
        for s in (1, 2):
            net = bottleneck_resnet(blocks, width)
            setattr(self, f"conv1_{s}", net.conv1)
            setattr(self, f"bn1_{s}", net.bn1)
            setattr(self, f"relu_{s}", net.relu)
            setattr(self, f"maxpool_{s}", net.maxpool)
            for k in range(4):
                setattr(self, f"res{k + 2}_{s}", getattr(net, f"layer{k + 1}"))
        widths = net.out_channels
        for k, c in enumerate(widths):
            setattr(self, f"gated_res{k + 2}", GatedConvex(2 * c) if fusion_type == "convex_gated" else Gated(2 * c))
        for k, c in enumerate(widths[1:]):
            setattr(self, f"coa_res{k + 3}", CoAttention(c, reciprocal=reciprocal, gated=gated))
        self._reciprocal = reciprocal

    def forward_res2(self, f1: torch.Tensor, f2: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x1 = self.maxpool_1(self.relu_1(self.bn1_1(self.conv1_1(f1))))
        x2 = self.maxpool_2(self.relu_2(self.bn1_2(self.conv1_2(f2))))
        return self.res2_1(x1), self.res2_2(x2)

    def _encode(self, f1: torch.Tensor, f2: torch.Tensor) -> tuple[torch.Tensor, ...]:
        ra, rm = self.forward_res2(f1, f2)
        streams = [(ra, rm)]
        for k in (3, 4, 5):
            ra, rm = getattr(self, f"res{k}_1")(ra), getattr(self, f"res{k}_2")(rm)
            za, zb, _qa, qb = getattr(self, f"coa_res{k}")(ra, rm)
            # The features after the cross connection are computed here, inline: no module outputs them.
            ra, rm = F.relu(zb + ra), F.relu((za if self._reciprocal else qb) + rm)
            streams.append((ra, rm))
        fused = []
        for k in (5, 4, 3, 2):
            a, m = streams[k - 2]
            gate = getattr(self, f"gated_res{k}")
            fused.append(gate(a, m) if isinstance(gate, GatedConvex) else gate(torch.cat([a, m], dim=1)))
        return tuple(fused)

    def forward(self, f1: torch.Tensor, f2: torch.Tensor) -> tuple[torch.Tensor, ...]:
        return self._encode(f1, f2)


class StudyEncoder(Encoder):
    """The study's ``Encoder(args)``: ``cc_type`` / ``fusion_type`` attributes and
    ``forward(image, flow, stages) -> (r5_gated, r4_gated, r3_gated, r2_gated, interm_out)``."""

    def __init__(self, args: Any, blocks: Sequence[int] = (3, 4, 23, 3), width: int = 64):
        self_cc, self_fusion = getattr(args, "cc_type", "coatt"), getattr(args, "fusion_type", "gated")
        super().__init__(blocks, width, self_cc, self_fusion)
        self.cc_type, self.fusion_type = self_cc, self_fusion

    def forward(self, f1: torch.Tensor, f2: torch.Tensor, stages: Any) -> tuple[Any, ...]:
        return self._encode(f1, f2) + ({},)


class Decoder(nn.Module):
    """A light decoder with the real signature: ``(r5, r4, r3, r2) -> (mask, boundary, p2, p3, p4, p5)``
    at 473 x 473 (``out_side``: smaller for fast tests; the study's returns a seventh item, its last
    feature map)."""

    def __init__(self, widths: Sequence[int] = (256, 512, 1024, 2048), study: bool = False, out_side: int = OUT_SIDE):
        super().__init__()
        for k, c in zip((2, 3, 4, 5), widths):
            setattr(self, f"bdry{k}", nn.Conv2d(2 * c, 1, 3, padding=1))
        self.pred2 = nn.Conv2d(2 * widths[0], 1, 3, padding=1)
        self.concat = nn.Conv2d(4, 1, 3, padding=1)
        self._study, self.out_side = study, int(out_side)

    def forward(
        self, r5: torch.Tensor, r4: torch.Tensor, r3: torch.Tensor, r2: torch.Tensor
    ) -> tuple[torch.Tensor, ...]:
        side = (self.out_side, self.out_side)
        ps = [
            F.interpolate(getattr(self, f"bdry{k}")(r), size=side, mode="bilinear", align_corners=False)
            for k, r in zip((2, 3, 4, 5), (r2, r3, r4, r5))
        ]
        boundary = torch.sigmoid(self.concat(torch.cat(ps, 1)))
        mask = torch.sigmoid(F.interpolate(self.pred2(r2), size=side, mode="bilinear", align_corners=False))
        out = (mask, boundary, *[torch.sigmoid(p) for p in ps])
        return out + (r2,) if self._study else out


class MATNet(nn.Module):
    """The study's wrapper: ``MATNet(args)`` with ``.encoder`` / ``.decoder``; ``forward(x, stage)``
    takes ``x = {"Image": image, "Flow": flow}`` and returns ``(mask, interm_out)``."""

    def __init__(self, args: Any, blocks: Sequence[int] = (3, 4, 23, 3), width: int = 64, out_side: int = OUT_SIDE):
        super().__init__()
        self.encoder = StudyEncoder(args, blocks, width)
        self.decoder = Decoder(tuple(width * 2**k * 4 for k in range(4)), study=True, out_side=out_side)

    def forward(self, x: dict[str, torch.Tensor], stage: Any) -> tuple[torch.Tensor, dict[str, Any]]:
        r5, r4, r3, r2, interm = self.encoder(x["Image"], x["Flow"], stage)
        out = self.decoder(r5, r4, r3, r2)
        return out[0], interm


def study_args(cc_type: str = "coatt", fusion_type: str = "gated") -> types.SimpleNamespace:
    """The study's argument namespace (``cc_type`` in coatt / coatt_gated / coatt_recip /
    coatt_gated_recip; ``fusion_type`` gated / convex_gated)."""
    if cc_type not in _CROSS or fusion_type not in ("gated", "convex_gated"):
        raise ValueError(f"unknown cc_type {cc_type!r} or fusion_type {fusion_type!r}")
    return types.SimpleNamespace(cc_type=cc_type, fusion_type=fusion_type)
