"""The trainable two-stream AVOS family (paper Sec. 4.1.2 and 5.3; ``docs/method.md`` §6, §8).

An appearance stream reads the image, a motion stream the RGB-encoded flow (both
:class:`~sdinterp.plugins.twostream.streams.ResNetStream`); cross connections after stages 3–5
exchange information between them (MATNet's ``coa_res3..5``), fusion modules combine them at stages
2–5 (``gated_res2..5``) and a light decoder turns the fused features into a mask. As in MATNet, the
next stage and the fusion both read the features *after* the cross connection.

Module paths (what the adapter names): ``appearance.conv1``, ``appearance.layer1..4``,
``motion.…`` likewise, ``cross3..5`` (absent when ``cross="none"``; output ``(appearance,
motion)``), ``fusion2..5``, ``decoder``.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from sdinterp.components import build_cross, build_fusion
from sdinterp.plugins.twostream.streams import ResNetStream

__all__ = ["TwoStreamAVOS", "LightDecoder"]


class LightDecoder(nn.Module):
    """Top-down decoder: 1×1 laterals to ``channels``, upsample-and-add from the deepest input,
    one 3×3 conv, a 1×1 head to one logit map, upsampled to the input size.

    Args:
        in_channels: channels of each input, shallowest first.
        channels: the decoder width.

    Examples:
        >>> dec = LightDecoder([4, 8], channels=4)
        >>> dec([torch.zeros(1, 4, 8, 8), torch.zeros(1, 8, 4, 4)], (32, 32)).shape
        torch.Size([1, 1, 32, 32])
    """

    def __init__(self, in_channels: Sequence[int], channels: int = 32):
        super().__init__()
        self.laterals = nn.ModuleList(nn.Conv2d(c, channels, kernel_size=1) for c in in_channels)
        self.smooth = nn.Sequential(
            nn.Conv2d(channels, channels, kernel_size=3, padding=1, bias=False),
            nn.BatchNorm2d(channels),
            nn.ReLU(inplace=True),
        )
        self.head = nn.Conv2d(channels, 1, kernel_size=1)

    def forward(self, features: Sequence[torch.Tensor], size: tuple[int, int]) -> torch.Tensor:
        y = self.laterals[-1](features[-1])
        for lateral, f in zip(reversed(self.laterals[:-1]), reversed(features[:-1])):
            y = F.interpolate(y, size=f.shape[-2:], mode="bilinear", align_corners=False) + lateral(f)
        logits = self.head(self.smooth(y))
        return F.interpolate(logits, size=size, mode="bilinear", align_corners=False)


class TwoStreamAVOS(nn.Module):
    """Two ResNet streams with cross connections and fusion, ``forward(image, flow) -> mask logits``.

    Args:
        fusion: a registered fusion name (``gated``, ``convex_gated``, ``convex_gated_cat``, a
            plugin's), optionally prefixed ``fusion:``.
        cross: a registered cross-connection name (``unidirectional``, ``bidirectional``,
            ``…_gated``), optionally prefixed ``cross:``, or ``"none"``.
        depth: ResNet depth of each stream (18, 34, 50).
        width: base width of each stream (64 = standard ResNet).
        cascades: co-attention cascades of each cross connection (5 as MATNet).
        decoder_channels: width of the light decoder.
        cross_stages: stages followed by a cross connection.
        fusion_stages: stages with a fusion module; the decoder reads them all.

    Returns:
        ``forward(image (B, 3, H, W), flow (B, 3, H, W))`` gives mask logits (B, 1, H, W).

    Examples:
        >>> net = TwoStreamAVOS("gated", "bidirectional", depth=18, width=8, cascades=1)
        >>> net(torch.zeros(2, 3, 64, 64), torch.zeros(2, 3, 64, 64)).shape
        torch.Size([2, 1, 64, 64])
        >>> net.fusion5.out_channels      # gated fusion: twice the stream channels
        128
    """

    def __init__(
        self,
        fusion: str = "gated",
        cross: str = "none",
        depth: int = 18,
        width: int = 64,
        cascades: int = 5,
        decoder_channels: int = 32,
        cross_stages: Sequence[int] = (3, 4, 5),
        fusion_stages: Sequence[int] = (2, 3, 4, 5),
    ):
        super().__init__()
        bad = [k for k in (*cross_stages, *fusion_stages) if k not in (2, 3, 4, 5)]
        if bad or not fusion_stages:
            raise ValueError(
                f"cross and fusion stages must be in 2..5 (and at least one fusion stage), got {bad or 'none'}"
            )
        self.fusion_name = fusion.split(":", 1)[-1]
        self.cross_name = cross.split(":", 1)[-1]
        self.appearance = ResNetStream(depth, width)
        self.motion = ResNetStream(depth, width)
        self.stage_channels = dict(self.appearance.stage_channels)
        self.cross_stages = tuple(sorted(cross_stages)) if self.cross_name != "none" else ()
        self.fusion_stages = tuple(sorted(fusion_stages))
        for k in self.cross_stages:
            setattr(self, f"cross{k}", build_cross(self.cross_name, self.stage_channels[k], cascades=cascades))
        for k in self.fusion_stages:
            setattr(self, f"fusion{k}", build_fusion(self.fusion_name, self.stage_channels[k]))
        self.decoder = LightDecoder(
            [getattr(self, f"fusion{k}").out_channels for k in self.fusion_stages], decoder_channels
        )

    def encode(self, image: torch.Tensor, flow: torch.Tensor) -> list[torch.Tensor]:
        """The fused features of every fusion stage, shallowest first."""
        a, m = self.appearance.stem(image), self.motion.stem(flow)
        fused = []
        for k in range(2, 6):
            a, m = self.appearance.stage(k)(a), self.motion.stage(k)(m)
            if k in self.cross_stages:
                a, m = getattr(self, f"cross{k}")(a, m)
            if k in self.fusion_stages:
                fused.append(getattr(self, f"fusion{k}")(a, m))
        return fused

    def forward(self, image: torch.Tensor, flow: torch.Tensor) -> torch.Tensor:
        if image.shape != flow.shape:
            raise ValueError(
                f"image and flow must have the same shape, got {tuple(image.shape)} and {tuple(flow.shape)}"
            )
        return self.decoder(self.encode(image, flow), tuple(image.shape[-2:]))

    def extra_repr(self) -> str:
        return f"fusion={self.fusion_name!r}, cross={self.cross_name!r}"
