"""RTNet stand-in: ``Interactive`` with ``spatial_net`` / ``temporal_net`` and its interaction modules.

Test support: same attribute paths, signatures and tensor layouts as the real code (OliverRensu/RTNet
``model_RX50/interactive.py``, ``spatial.py``, ``temporal.py``, ``Attention.py``; the study's copy in
YorkUCVIL/Static-Dynamic-Interpretability ``models/vos_models/rtnet/``), written fresh; not the real
code. What the adapter relies on, and what this reproduces:

* ``spatial_net`` / ``temporal_net`` (ResNeXt-50 32x4d streams by default), each with ``inconv``
  (``Sequential(conv1, bn1, relu, maxpool)``; the temporal conv takes 6 channels), ``encoder1..4``,
  ``bridge1..3``, ``dilation0..4``, ``decoder1..4``, ``out1..4``; interaction modules
  ``SSTransformer1..4``, ``STTransformer1..4``, ``TTTransformer1..4``, ``SselfTransformer1..4``,
  ``TselfTransformer1..4``; fusion ``Transformerstafm1..3`` (summing convex-combination form).
* ``forward(img (B, 2, 3, H, W), flow (B, 2, 6, H, W), train_flow=True)`` folds the two frames into the
  batch, ``(2B, C, H, W)``. After each level the two frames' features are re-stacked with
  ``cat([frame 1 of every sample, frame 2 of every sample], 0)`` but the next level reads them back
  with ``view(B, 2, ...)``, so **samples are mixed when B > 1** (as in the real code).
* The stream features after each level's interaction exist only as the next encoder's input (and
  the bridges'); ``STTransformerK``, ``SselfTransformerK`` and ``TselfTransformerK`` run twice per
  forward (once per frame); each ``TransformerstafmK`` runs once.
* :class:`StudyInteractive`: the study's ``forward(img={"Image": ..., "Flow": ...}, stages=None)``,
  whose encoder also calls ``inconv[0]`` a second time to read the conv1 output (so that module
  runs twice per forward).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from .resnet import bottleneck_resnet

__all__ = ["Spatial", "Temporal", "Interactive", "StudyInteractive", "STAFM", "RTModule", "SelfModule"]


def _cbr(cin: int, cout: int, kernel: int = 1, dilation: int = 1) -> nn.Sequential:
    pad = 0 if kernel == 1 else dilation
    return nn.Sequential(
        nn.Conv2d(cin, cout, kernel, padding=pad, dilation=dilation, bias=False), nn.BatchNorm2d(cout), nn.ReLU(True)
    )


class DecoderStage(nn.Module):
    """Three 3x3 conv-BN-ReLU layers (``decoder_stage``): ``.layer`` is the Sequential."""

    def __init__(self, cin: int, mid: int, cout: int):
        super().__init__()
        self.layer = nn.Sequential(*_cbr(cin, mid, 3), *_cbr(mid, mid, 3), *_cbr(mid, cout, 3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layer(x)


class OutBlock(nn.Module):
    """``out_block``: conv-BN-ReLU, resize to (H, W), 1x1 conv to one channel; ``forward(x, H, W)``."""

    def __init__(self, cin: int, mid: int):
        super().__init__()
        self.conv1 = _cbr(cin, mid, 3)
        self.conv2 = nn.Conv2d(mid, 1, 1)

    def forward(self, x: torch.Tensor, h: int, w: int) -> torch.Tensor:
        return self.conv2(F.interpolate(self.conv1(x), (h, w), mode="bilinear", align_corners=True))


class _Stream(nn.Module):
    def __init__(self, in_channels: int, blocks: Sequence[int], width: int, groups: int, width_per_group: int):
        super().__init__()
        net = bottleneck_resnet(blocks, width, in_channels, groups, width_per_group)
        self.inconv = nn.Sequential(net.conv1, net.bn1, net.relu, net.maxpool)
        c = net.out_channels  # 256 / 512 / 1024 / 2048 for ResNeXt-50
        for k in range(4):
            setattr(self, f"encoder{k + 1}", getattr(net, f"layer{k + 1}"))
        for k in range(3):
            setattr(self, f"bridge{k + 1}", _cbr(c[k], c[k] // 4))  # 64 / 128 / 256
        d = c[3] // 4  # 512
        self.dilation0 = _cbr(c[3], d)
        for i, rate in enumerate((1, 2, 4, 8)):
            setattr(self, f"dilation{i + 1}", _cbr(c[3], d, 3, rate))
        q = c[0] // 4  # 64
        self.decoder4 = DecoderStage(5 * d, d, 4 * q)
        self.decoder3 = DecoderStage(8 * q, 4 * q, 2 * q)
        self.decoder2 = DecoderStage(4 * q, 2 * q, q)
        self.decoder1 = DecoderStage(2 * q, q, q)
        for k, cin in zip((4, 3, 2, 1), (4 * q, 2 * q, q, q)):
            setattr(self, f"out{k}", OutBlock(cin, q))


class Spatial(_Stream):
    """The appearance (image) stream."""

    def __init__(
        self, blocks: Sequence[int] = (3, 4, 6, 3), width: int = 64, groups: int = 32, width_per_group: int = 4
    ):
        super().__init__(3, blocks, width, groups, width_per_group)


class Temporal(_Stream):
    """The motion stream: its ``inconv`` takes forward and backward flow (6 channels)."""

    def __init__(
        self, blocks: Sequence[int] = (3, 4, 6, 3), width: int = 64, groups: int = 32, width_per_group: int = 4
    ):
        super().__init__(6, blocks, width, groups, width_per_group)


class _Attend(nn.Module):
    """Multi-head attention over H x W positions with 1x1 projections: ``forward(q, k, v)``;
    ``pool`` halves the positions first (the level-1 ``OldRTrans``)."""

    def __init__(self, channels: int, heads: int, pool: bool = False):
        super().__init__()
        self.query, self.key, self.value = (nn.Conv2d(channels, channels, 1) for _ in range(3))
        self.heads, self.pool = heads, pool

    def forward(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        size = q.shape[-2:]
        if self.pool:
            q, k, v = (F.max_pool2d(t, 3, 2, 1) for t in (q, k, v))
        b, c, h, w = q.shape

        def split(t):
            return t.reshape(b, self.heads, c // self.heads, h * w)

        qh, kh, vh = split(self.query(q)), split(self.key(k)), split(self.value(v))
        att = torch.softmax(qh.transpose(2, 3) @ kh / (c // self.heads) ** 0.5, dim=-1)
        out = (vh @ att).reshape(b, c, h, w)
        return F.interpolate(out, size, mode="bilinear", align_corners=True) if self.pool else out


class RTModule(nn.Module):
    """Cross-attention between two maps (scaling, attention each way, gating): ``forward(x, y) -> (x', y')``."""

    def __init__(self, channel: int, h: int, ST: bool, redunction: bool = False):
        super().__init__()
        self.scale = nn.Conv2d(2 * channel, 2 * channel, 1)
        self.transformation1 = _Attend(channel, h, redunction)
        self.transformation2 = _Attend(channel, h, redunction) if ST else None
        self.gating = nn.Sequential(nn.Conv2d(2 * channel, 2, 1), nn.Sigmoid())

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        c = x.shape[1]
        s = torch.sigmoid(self.scale(F.adaptive_avg_pool2d(torch.cat([x, y], 1), 1)))
        x, y = x * s[:, :c] + x, y * s[:, c:] + y
        x2 = self.transformation1(x, y, y)
        y2 = (self.transformation2 or self.transformation1)(y, x2, x2)
        g = self.gating(torch.cat([x2, y2], 1))
        return x2 * g[:, :1] + x2, y2 * g[:, 1:] + y2


class SelfModule(nn.Module):
    """Self-attention on one map: ``forward(x) -> x'``."""

    def __init__(self, channel: int, h: int, redunction: bool = False):
        super().__init__()
        self.transformation = _Attend(channel, h, redunction)
        self.gating = nn.Sequential(nn.Conv2d(channel, 1, 1), nn.Sigmoid())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.transformation(x, x, x)
        return x * self.gating(x) + x


class STAFM(nn.Module):
    """Convex-combination gated fusion, summing form (method.md §6, Eq. 5): ``forward(S, T)`` -> c channels."""

    def __init__(self, inplanes: int, ratio: int = 2):
        super().__init__()
        self.fc1 = nn.Conv2d(2 * inplanes, max(1, inplanes // ratio), 1)
        self.fc2 = nn.Conv2d(max(1, inplanes // ratio), inplanes, 1)
        self.conv1 = nn.Conv2d(4, 1, 7, padding=3, bias=False)

    def forward(self, spatial: torch.Tensor, temporal: torch.Tensor) -> torch.Tensor:
        f = torch.sigmoid(self.fc2(F.relu(self.fc1(F.adaptive_avg_pool2d(torch.cat([spatial, temporal], 1), 1)))))
        za, zm = spatial * f, temporal * (1 - f)
        stats = [
            za.mean(1, keepdim=True),
            za.max(1, keepdim=True)[0],
            zm.mean(1, keepdim=True),
            zm.max(1, keepdim=True)[0],
        ]
        x = torch.sigmoid(self.conv1(torch.cat(stats, 1)))
        return za * x + zm * (1 - x)


class Interactive(nn.Module):
    """RTNet. Args: stream ``blocks``, ``width``, ``groups``, ``width_per_group`` (default
    ResNeXt-50 32x4d), ``heads`` (attention heads at level 1; doubled per level), ``study``."""

    def __init__(
        self,
        blocks: Sequence[int] = (3, 4, 6, 3),
        width: int = 64,
        groups: int = 32,
        width_per_group: int = 4,
        heads: int = 1,
        study: bool = False,
    ):
        super().__init__()
        self.spatial_net = Spatial(blocks, width, groups, width_per_group)
        self.temporal_net = Temporal(blocks, width, groups, width_per_group)
        for k in range(1, 5):
            c, h, first = width * 2 ** (k - 1) * 4, heads * 2 ** (k - 1), k == 1
            setattr(self, f"SSTransformer{k}", RTModule(c, h, ST=False, redunction=first))
            setattr(self, f"STTransformer{k}", RTModule(c, h, ST=True, redunction=first))
            setattr(self, f"TTTransformer{k}", RTModule(c, h, ST=False, redunction=first))
            setattr(self, f"SselfTransformer{k}", SelfModule(c, h, redunction=first))
            setattr(self, f"TselfTransformer{k}", SelfModule(c, h, redunction=first))
        q = width
        self.Transformerstafm3 = STAFM(4 * q, 4)
        self.Transformerstafm2 = STAFM(2 * q, 2)
        self.Transformerstafm1 = STAFM(q, 1)
        self._study = study

    def encoder(self, x: torch.Tensor, flow: torch.Tensor) -> tuple[Any, ...]:
        b, seq, c, h, w = x.shape
        s = self.spatial_net.inconv(x.view(b * seq, c, h, w))
        t = self.temporal_net.inconv(flow.view(b * seq, 2 * c, h, w))
        if self._study:  # the study reads conv1 by calling the conv again
            self.spatial_net.inconv[0](x.view(b * seq, c, h, w))
            self.temporal_net.inconv[0](flow.view(b * seq, 2 * c, h, w))
        s_feats, t_feats = [], []
        for k in range(1, 5):
            s = getattr(self.spatial_net, f"encoder{k}")(s)
            t = getattr(self.temporal_net, f"encoder{k}")(t)
            # Read back as (B, 2, ...): correct at level 1, mixed across samples after a re-stack when B > 1.
            s1, s2 = (v.squeeze(1) for v in s.view(b, seq, *s.shape[1:]).chunk(2, dim=1))
            t1, t2 = (v.squeeze(1) for v in t.view(b, seq, *t.shape[1:]).chunk(2, dim=1))
            ss1, ss2 = getattr(self, f"SSTransformer{k}")(s1, s2)
            sself = getattr(self, f"SselfTransformer{k}")
            st = getattr(self, f"STTransformer{k}")
            st1, ts1 = st(s1, t1)
            st2, ts2 = st(s2, t2)
            tt1, tt2 = getattr(self, f"TTTransformer{k}")(t1, t2)
            tself = getattr(self, f"TselfTransformer{k}")
            n1 = ss1 + sself(s1) + st1 + s1
            n2 = ss2 + sself(s2) + st2 + s2
            m1 = ts1 + tself(t1) + tt1 + t1
            m2 = ts2 + tself(t2) + tt2 + t2
            s, t = torch.cat([n1, n2], 0), torch.cat([m1, m2], 0)
            s_feats.append(s)
            t_feats.append(t)
        sn, tn = self.spatial_net, self.temporal_net
        s5 = torch.cat([getattr(sn, f"dilation{i}")(s) for i in range(5)], 1)
        t5 = torch.cat([getattr(tn, f"dilation{i}")(t) for i in range(5)], 1)
        return s5, s_feats[:3], t5, t_feats[:3]

    def spatial_decoder(self, x: torch.Tensor, spatial_f: list, temporal_f: list) -> list[torch.Tensor]:
        sn, tn = self.spatial_net, self.temporal_net
        feature = sn.decoder4(x)
        features = [feature]
        for k in (3, 2, 1):
            fused = getattr(self, f"Transformerstafm{k}")(
                getattr(sn, f"bridge{k}")(spatial_f[k - 1]), getattr(tn, f"bridge{k}")(temporal_f[k - 1])
            )
            size = spatial_f[k - 1].shape[-2:]
            up = F.interpolate(feature, size, mode="bilinear", align_corners=True)
            feature = getattr(sn, f"decoder{k}")(torch.cat([up, fused], 1))
            features.append(feature)
        h, w = spatial_f[0].shape[-2:]
        return [torch.sigmoid(getattr(sn, f"out{k}")(f, h * 4, w * 4)) for k, f in zip((1, 2, 3, 4), features[::-1])]

    def temporal_decoder(self, x: torch.Tensor, f: list) -> list[torch.Tensor]:
        tn = self.temporal_net
        feature = tn.decoder4(x)
        features = [feature]
        for k in (3, 2, 1):
            up = F.interpolate(feature, f[k - 1].shape[-2:], mode="bilinear", align_corners=True)
            feature = getattr(tn, f"decoder{k}")(torch.cat([up, getattr(tn, f"bridge{k}")(f[k - 1])], 1))
            features.append(feature)
        h, w = f[0].shape[-2:]
        return [torch.sigmoid(getattr(tn, f"out{k}")(g, h * 4, w * 4)) for k, g in zip((1, 2, 3, 4), features[::-1])]

    def forward(self, img: torch.Tensor, flow: torch.Tensor, train_flow: bool = True) -> Any:
        s5, sf, t5, tf = self.encoder(img, flow)
        if train_flow:
            return self.spatial_decoder(s5, sf, tf), self.temporal_decoder(t5, tf)
        return self.spatial_decoder(s5, sf, tf)


class StudyInteractive(Interactive):
    """The study's copy: ``forward(img={"Image": ..., "Flow": ...}, stages=None)`` ->
    ``(spatial outputs, interm_out)``; its encoder calls ``inconv[0]`` a second time."""

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, study=True, **kwargs)

    def forward(self, img: dict, stages: Any = None) -> Any:
        s5, sf, _t5, tf = self.encoder(img["Image"], img["Flow"])
        return self.spatial_decoder(s5, sf, tf), {}
