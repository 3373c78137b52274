"""A bottleneck ResNet / ResNeXt stream with torchvision's attribute layout (``conv1``, ``bn1``,
``relu``, ``maxpool``, ``layer1..4``), depth and width configurable.

Test support, written fresh (see the package docstring). ``bottleneck_resnet()`` with the defaults is
a ResNet-101 (blocks 3, 4, 23, 3; widths 256 / 512 / 1024 / 2048); ``groups=32, width_per_group=4``
and blocks (3, 4, 6, 3) give ResNeXt-50 32x4d.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

__all__ = ["Bottleneck", "BottleneckResNet", "bottleneck_resnet"]


class Bottleneck(nn.Module):
    """1x1 -> 3x3 (stride, groups) -> 1x1 (x4) with a projection shortcut when the shape changes."""

    expansion = 4

    def __init__(self, inplanes: int, planes: int, stride: int = 1, groups: int = 1, width_per_group: int = 64):
        super().__init__()
        inner = int(planes * width_per_group / 64) * groups
        out = planes * self.expansion
        self.conv1 = nn.Conv2d(inplanes, inner, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(inner)
        self.conv2 = nn.Conv2d(inner, inner, 3, stride=stride, padding=1, groups=groups, bias=False)
        self.bn2 = nn.BatchNorm2d(inner)
        self.conv3 = nn.Conv2d(inner, out, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(out)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = None
        if stride != 1 or inplanes != out:
            self.downsample = nn.Sequential(nn.Conv2d(inplanes, out, 1, stride=stride, bias=False), nn.BatchNorm2d(out))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shortcut = x if self.downsample is None else self.downsample(x)
        y = self.relu(self.bn1(self.conv1(x)))
        y = self.relu(self.bn2(self.conv2(y)))
        return self.relu(self.bn3(self.conv3(y)) + shortcut)


class BottleneckResNet(nn.Module):
    """Stem (7x7 stride-2 conv, BN, ReLU, 3x3 stride-2 max-pool) and four bottleneck stages.

    Args:
        blocks: blocks per stage.
        width: planes of stage 1 (64 in the real networks); stage k has ``width * 2**(k-1)`` planes
            and ``4 *`` that many output channels.
        in_channels: input channels (3 for images and RGB flow, 6 for RTNet's two flows).
        groups, width_per_group: ResNeXt cardinality and group width (1, 64 for a plain ResNet).
    """

    def __init__(
        self,
        blocks: Sequence[int] = (3, 4, 23, 3),
        width: int = 64,
        in_channels: int = 3,
        groups: int = 1,
        width_per_group: int = 64,
    ):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, width, 7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, stride=2, padding=1)
        inplanes = width
        for k, n in enumerate(blocks):
            planes = width * 2**k
            stage = []
            for i in range(n):
                stage.append(
                    Bottleneck(
                        inplanes,
                        planes,
                        stride=2 if (k > 0 and i == 0) else 1,
                        groups=groups,
                        width_per_group=width_per_group,
                    )
                )
                inplanes = planes * Bottleneck.expansion
            setattr(self, f"layer{k + 1}", nn.Sequential(*stage))
        self.out_channels = tuple(width * 2**k * Bottleneck.expansion for k in range(len(blocks)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        return self.layer4(self.layer3(self.layer2(self.layer1(x))))


def bottleneck_resnet(
    blocks: Sequence[int] = (3, 4, 23, 3),
    width: int = 64,
    in_channels: int = 3,
    groups: int = 1,
    width_per_group: int = 64,
) -> BottleneckResNet:
    """A :class:`BottleneckResNet` (default: ResNet-101 widths and depth)."""
    return BottleneckResNet(blocks, width, in_channels, groups, width_per_group)
