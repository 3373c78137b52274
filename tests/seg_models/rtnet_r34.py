"""RTNet R34 stand-in: the ``model_R34`` variant of OliverRensu/RTNet (``model_R34/interactive.py``,
``spatial.py``, ``temporal.py``; read at commit c240125).

Test support, written fresh; not the real code. What differs from the RX50 stand-in
(:mod:`seg_models.rtnet`) and what the adapter relies on:

* the streams are ResNet-34-like (basic blocks; widths 64 / 128 / 256 / 512 at ``width=64``) with
  ``inconv``, ``encoder1..4``, ``dilation1..4`` and ``decoder1..4`` / ``out1..4`` — **no
  ``bridge1..3`` and no ``dilation0``**;
* the STAFMs read the level-1..3 stream features directly (``Transformerstafm{k}(spatial_f[k-1],
  temporal_f[k-1])``), so a STAFM keeps the width of encoder ``k``;
* the level-4 features are concatenated with ``dilation1..4`` of themselves, so they exist as the
  input of ``dilation1`` (called once per forward).

The interaction modules, the frame folding into the batch and the sample mixing when B > 1 are
those of the RX50 stand-in.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from .rtnet import STAFM, DecoderStage, OutBlock, RTModule, SelfModule, _cbr

__all__ = ["InteractiveR34", "BasicBlock"]


class BasicBlock(nn.Module):
    """3x3 -> 3x3 with a projection shortcut when the shape changes (ResNet-18/34 block)."""

    def __init__(self, inplanes: int, planes: int, stride: int = 1):
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = None
        if stride != 1 or inplanes != planes:
            self.downsample = nn.Sequential(
                nn.Conv2d(inplanes, planes, 1, stride=stride, bias=False), nn.BatchNorm2d(planes)
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shortcut = x if self.downsample is None else self.downsample(x)
        y = self.relu(self.bn1(self.conv1(x)))
        return self.relu(self.bn2(self.conv2(y)) + shortcut)


class _Stream(nn.Module):
    def __init__(self, in_channels: int, blocks: Sequence[int], width: int):
        super().__init__()
        self.inconv = nn.Sequential(
            nn.Conv2d(in_channels, width, 7, stride=2, padding=3, bias=False),
            nn.BatchNorm2d(width),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(3, stride=2, padding=1),
        )
        inplanes = width
        for k, n in enumerate(blocks):
            planes = width * 2**k
            layers = [
                BasicBlock(inplanes if i == 0 else planes, planes, 2 if (k > 0 and i == 0) else 1) for i in range(n)
            ]
            setattr(self, f"encoder{k + 1}", nn.Sequential(*layers))
            inplanes = planes
        c = [width * 2**k for k in range(4)]  # 64 / 128 / 256 / 512
        for i, rate in enumerate((1, 2, 4, 8)):
            setattr(self, f"dilation{i + 1}", _cbr(c[3], c[3], 3, rate))
        self.decoder4 = DecoderStage(5 * c[3], c[3], c[2])
        self.decoder3 = DecoderStage(2 * c[2], c[2], c[1])
        self.decoder2 = DecoderStage(2 * c[1], c[1], c[0])
        self.decoder1 = DecoderStage(2 * c[0], c[0], c[0])
        for k, cin in zip((4, 3, 2, 1), (c[2], c[1], c[0], c[0])):
            setattr(self, f"out{k}", OutBlock(cin, c[0]))


class InteractiveR34(nn.Module):
    """RTNet R34. Args: ``blocks`` per stage (ResNet-34: 3, 4, 6, 3), base ``width`` (64), ``heads``
    (attention heads at level 1, doubled per level)."""

    def __init__(self, blocks: Sequence[int] = (3, 4, 6, 3), width: int = 64, heads: int = 1):
        super().__init__()
        self.spatial_net = _Stream(3, blocks, width)
        self.temporal_net = _Stream(6, blocks, width)
        for k in range(1, 5):
            c, h, first = width * 2 ** (k - 1), heads * 2 ** (k - 1), k == 1
            setattr(self, f"SSTransformer{k}", RTModule(c, h, ST=False, redunction=first))
            setattr(self, f"STTransformer{k}", RTModule(c, h, ST=True, redunction=first))
            setattr(self, f"TTTransformer{k}", RTModule(c, h, ST=False, redunction=first))
            setattr(self, f"SselfTransformer{k}", SelfModule(c, h, redunction=first))
            setattr(self, f"TselfTransformer{k}", SelfModule(c, h, redunction=first))
        self.Transformerstafm3 = STAFM(4 * width, 4)
        self.Transformerstafm2 = STAFM(2 * width, 2)
        self.Transformerstafm1 = STAFM(width, 1)

    def encoder(self, x: torch.Tensor, flow: torch.Tensor) -> tuple[Any, ...]:
        b, seq, c, h, w = x.shape
        s = self.spatial_net.inconv(x.view(b * seq, c, h, w))
        t = self.temporal_net.inconv(flow.view(b * seq, 2 * c, h, w))
        s_feats, t_feats = [], []
        for k in range(1, 5):
            s = getattr(self.spatial_net, f"encoder{k}")(s)
            t = getattr(self.temporal_net, f"encoder{k}")(t)
            s1, s2 = (v.squeeze(1) for v in s.view(b, seq, *s.shape[1:]).chunk(2, dim=1))
            t1, t2 = (v.squeeze(1) for v in t.view(b, seq, *t.shape[1:]).chunk(2, dim=1))
            ss1, ss2 = getattr(self, f"SSTransformer{k}")(s1, s2)
            sself, tself = getattr(self, f"SselfTransformer{k}"), getattr(self, f"TselfTransformer{k}")
            st = getattr(self, f"STTransformer{k}")
            st1, ts1 = st(s1, t1)
            st2, ts2 = st(s2, t2)
            tt1, tt2 = getattr(self, f"TTTransformer{k}")(t1, t2)
            s = torch.cat([ss1 + sself(s1) + st1 + s1, ss2 + sself(s2) + st2 + s2], 0)
            t = torch.cat([ts1 + tself(t1) + tt1 + t1, ts2 + tself(t2) + tt2 + t2], 0)
            s_feats.append(s)
            t_feats.append(t)
        sn, tn = self.spatial_net, self.temporal_net
        s5 = torch.cat([s] + [getattr(sn, f"dilation{i}")(s) for i in range(1, 5)], 1)
        t5 = torch.cat([t] + [getattr(tn, f"dilation{i}")(t) for i in range(1, 5)], 1)
        return s5, s_feats[:3], t5, t_feats[:3]

    def _decode(self, net: nn.Module, x: torch.Tensor, skip: Any, sizes: list[torch.Tensor]) -> list[torch.Tensor]:
        # level 3 first, as the real decoders: skip(k) is computed when level k is decoded
        feature = net.decoder4(x)
        features = [feature]
        for k in (3, 2, 1):
            up = F.interpolate(feature, sizes[k - 1].shape[-2:], mode="bilinear", align_corners=True)
            feature = getattr(net, f"decoder{k}")(torch.cat([up, skip(k)], 1))
            features.append(feature)
        h, w = sizes[0].shape[-2:]
        return [torch.sigmoid(getattr(net, f"out{k}")(f, h * 4, w * 4)) for k, f in zip((1, 2, 3, 4), features[::-1])]

    def spatial_decoder(self, x: torch.Tensor, spatial_f: list, temporal_f: list) -> list[torch.Tensor]:
        def stafm(k: int) -> torch.Tensor:  # the STAFM reads the stream features directly (no bridge)
            return getattr(self, f"Transformerstafm{k}")(spatial_f[k - 1], temporal_f[k - 1])

        return self._decode(self.spatial_net, x, stafm, spatial_f)

    def temporal_decoder(self, x: torch.Tensor, f: list) -> list[torch.Tensor]:
        return self._decode(self.temporal_net, x, lambda k: f[k - 1], f)

    def forward(self, img: torch.Tensor, flow: torch.Tensor, train_flow: bool = True) -> Any:
        s5, sf, t5, tf = self.encoder(img, flow)
        if train_flow:
            return self.spatial_decoder(s5, sf, tf), self.temporal_decoder(t5, tf)
        return self.spatial_decoder(s5, sf, tf)


def tiny_rtnet_r34() -> InteractiveR34:
    """A seeded tiny R34 RTNet (one block per stage, width 8), for ``python:`` specs in tests."""
    torch.manual_seed(0)
    return InteractiveR34(blocks=(1, 1, 1, 1), width=8).eval()


def tiny_rtnet_x50() -> nn.Module:
    """A seeded tiny RX50 RTNet stand-in, for ``python:`` specs in tests."""
    from .rtnet import Interactive

    torch.manual_seed(0)
    return Interactive(blocks=(1, 1, 1, 1), width=8, groups=2, width_per_group=32).eval()
