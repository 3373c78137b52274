"""The paper's modified FusionSeg (Sec. 4.1.2; ``docs/method.md`` §8): two streams with no cross
connections, fusion at stages 2 and 5, and a DeepLabV3+ decoder.

The decoder is built from torchvision's DeepLabV3 ``ASPP`` (mmsegmentation's
``DepthwiseSeparableASPPHead`` would be the natural choice, but mmsegmentation does not import with
mmcv-lite: it needs the compiled ``mmcv._ext``). DeepLabV3+ (Chen et al., ECCV 2018): ASPP on the
deep features (``fusion5``), upsampled ×8 to the low-level features (``fusion2``, projected to 48
channels), concatenated, two 3×3 convolutions, a 1×1 classifier, upsampled to the input.
"""

from __future__ import annotations

from typing import cast

import torch
import torch.nn.functional as F
from torch import nn

from sdinterp.adapters.common import ensure_torchvision
from sdinterp.components import build_fusion
from sdinterp.plugins.twostream.streams import ResNetStream

ensure_torchvision()  # a CPU torch with a CUDA-built torchvision wheel cannot import it otherwise

from torchvision.models.segmentation.deeplabv3 import ASPP  # noqa: E402 - only after ensure_torchvision()

__all__ = ["FusionSegMod", "DeepLabV3PlusDecoder"]


def _conv_bn_relu(cin: int, cout: int, k: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, k, padding=k // 2, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)
    )


class DeepLabV3PlusDecoder(nn.Module):
    """DeepLabV3+ decoder: ASPP (torchvision) on the deep input, fused with a projected low-level input.

    Args:
        low_channels: channels of the low-level (stride 4) input.
        high_channels: channels of the deep input.
        channels: ASPP and decoder width (256 in DeepLabV3+).
        rates: ASPP atrous rates.

    Examples:
        >>> dec = DeepLabV3PlusDecoder(8, 16, channels=8).eval()
        >>> dec(torch.zeros(1, 8, 16, 16), torch.zeros(1, 16, 2, 2), (64, 64)).shape
        torch.Size([1, 1, 64, 64])
    """

    def __init__(
        self, low_channels: int, high_channels: int, channels: int = 256, rates: tuple[int, int, int] = (6, 12, 18)
    ):
        super().__init__()
        self.aspp = ASPP(high_channels, list(rates), out_channels=channels)
        low = max(8, channels * 48 // 256)
        self.project_low = _conv_bn_relu(low_channels, low, 1)
        self.refine = nn.Sequential(_conv_bn_relu(channels + low, channels, 3), _conv_bn_relu(channels, channels, 3))
        self.head = nn.Conv2d(channels, 1, kernel_size=1)

    def forward(self, low: torch.Tensor, high: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
        y = F.interpolate(self.aspp(high), size=low.shape[-2:], mode="bilinear", align_corners=False)
        y = self.refine(torch.cat([y, self.project_low(low)], dim=1))
        return F.interpolate(self.head(y), size=size, mode="bilinear", align_corners=False)


class FusionSegMod(nn.Module):
    """Modified FusionSeg: ``forward(image, flow) -> mask logits`` (B, 1, H, W).

    Args:
        depth: ResNet depth of each stream.
        width: base width of each stream.
        fusion: the registered fusion of stages 2 and 5 (default ``concat``: (inferred) the paper
            does not publish the modified model's fusion).
        decoder_channels: DeepLabV3+ width (256 in the original; smaller for CPU training).

    Examples:
        >>> net = FusionSegMod(18, width=8, decoder_channels=16).eval()
        >>> net(torch.zeros(1, 3, 64, 64), torch.zeros(1, 3, 64, 64)).shape
        torch.Size([1, 1, 64, 64])
    """

    cross_stages: tuple[int, ...] = ()
    fusion_stages: tuple[int, ...] = (2, 5)

    def __init__(self, depth: int = 18, width: int = 64, fusion: str = "concat", decoder_channels: int = 256):
        super().__init__()
        self.fusion_name, self.cross_name = fusion.split(":", 1)[-1], "none"
        self.appearance = ResNetStream(depth, width)
        self.motion = ResNetStream(depth, width)
        self.stage_channels = dict(self.appearance.stage_channels)
        self.fusion2 = build_fusion(self.fusion_name, self.stage_channels[2])
        self.fusion5 = build_fusion(self.fusion_name, self.stage_channels[5])
        # Every fusion module says its output width (build_fusion is typed as returning an nn.Module).
        self.decoder = DeepLabV3PlusDecoder(
            cast(int, self.fusion2.out_channels), cast(int, self.fusion5.out_channels), decoder_channels
        )

    def forward(self, image: torch.Tensor, flow: torch.Tensor) -> torch.Tensor:
        a, m = self.appearance.stem(image), self.motion.stem(flow)
        a, m = self.appearance.layer1(a), self.motion.layer1(m)
        low = self.fusion2(a, m)
        for k in (3, 4, 5):
            a, m = self.appearance.stage(k)(a), self.motion.stage(k)(m)
        return self.decoder(low, self.fusion5(a, m), tuple(image.shape[-2:]))
