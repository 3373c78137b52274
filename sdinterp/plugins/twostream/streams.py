"""One stream of a two-stream network: a ResNet built from torchvision's residual blocks.

The layout is torchvision's (``conv1``, ``bn1``, ``relu``, ``maxpool``, ``layer1..layer4``), so the
paper's "stages 1–5" of a stream are ``conv1`` (read before BN, ``docs/method.md`` §3) and
``layer1..layer4``. Unlike ``torchvision.models.resnet18`` the base width is configurable, so a
small stream (width 16) trains on a CPU in minutes; width 64 is the standard ResNet.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from sdinterp.adapters.common import ensure_torchvision

ensure_torchvision()  # a CPU torch with a CUDA-built torchvision wheel cannot import it otherwise

from torchvision.models.resnet import BasicBlock, Bottleneck  # noqa: E402 - only after ensure_torchvision()

__all__ = ["ResNetStream", "DEPTHS"]

#: depth -> (block, blocks per stage), as torchvision's resnet18/34/50.
# torchvision's BasicBlock/Bottleneck (an untyped package): classes with an ``expansion`` attribute.
DEPTHS: dict[int, tuple[Any, tuple[int, int, int, int]]] = {
    18: (BasicBlock, (2, 2, 2, 2)),
    34: (BasicBlock, (3, 4, 6, 3)),
    50: (Bottleneck, (3, 4, 6, 3)),
}


class ResNetStream(nn.Module):
    """A randomly initialised ResNet-18/34/50 trunk without pooling head or classifier.

    Args:
        depth: 18, 34 or 50.
        width: channels of ``conv1`` (64 for the standard ResNet); stage k has width · 2^(k−2) ·
            expansion channels.
        in_channels: input channels (3: an RGB image or an RGB-encoded flow).

    Examples:
        >>> s = ResNetStream(18, width=8)
        >>> s.stage_channels
        {1: 8, 2: 8, 3: 16, 4: 32, 5: 64}
        >>> s.stem(torch.zeros(1, 3, 32, 32)).shape
        torch.Size([1, 8, 8, 8])
    """

    # The four stages, built in __init__ by setattr; declared for type checkers.
    layer1: nn.Sequential
    layer2: nn.Sequential
    layer3: nn.Sequential
    layer4: nn.Sequential

    def __init__(self, depth: int = 18, width: int = 64, in_channels: int = 3):
        super().__init__()
        if depth not in DEPTHS:
            raise ValueError(f"ResNet depth must be one of {sorted(DEPTHS)}, got {depth}")
        if width < 1:
            raise ValueError(f"stream width must be positive, got {width}")
        block, counts = DEPTHS[depth]
        self.depth, self.width = int(depth), int(width)
        self.conv1 = nn.Conv2d(in_channels, width, kernel_size=7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        self._inplanes = width
        expansion = block.expansion
        self.stage_channels = {1: width}
        for k, (n, stride) in enumerate(zip(counts, (1, 2, 2, 2)), start=1):
            planes = width * 2 ** (k - 1)
            setattr(self, f"layer{k}", self._stage(block, planes, n, stride))
            self.stage_channels[k + 1] = planes * expansion
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    def _stage(self, block: Any, planes: int, n: int, stride: int) -> nn.Sequential:
        expansion = block.expansion
        down = None
        if stride != 1 or self._inplanes != planes * expansion:
            down = nn.Sequential(
                nn.Conv2d(self._inplanes, planes * expansion, kernel_size=1, stride=stride, bias=False),
                nn.BatchNorm2d(planes * expansion),
            )
        blocks = [block(self._inplanes, planes, stride, down)]
        self._inplanes = planes * expansion
        blocks += [block(self._inplanes, planes) for _ in range(n - 1)]
        return nn.Sequential(*blocks)

    def stem(self, x: torch.Tensor) -> torch.Tensor:
        """conv1 → BN → ReLU → max-pool (stride 4)."""
        return self.maxpool(self.relu(self.bn1(self.conv1(x))))

    def stage(self, k: int) -> nn.Module:
        """The module of stage ``k`` in 2..5 (``layer{k-1}``)."""
        return getattr(self, f"layer{k - 1}")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x)
        for k in range(2, 6):
            x = self.stage(k)(x)
        return x
