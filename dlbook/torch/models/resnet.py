"""ResNet: He, Zhang, Ren and Sun (2016), "Deep residual learning for image
recognition", CVPR.

A block learns a residual F(x) and outputs relu(F(x) + x): when the best
mapping is close to the identity, F only has to learn a small correction, and
the identity path carries gradients straight back through 100+ layers.

ResNet-18/34 stack BasicBlocks (two 3x3 convs); ResNet-50/101/152 stack
Bottlenecks (1x1 reduce, 3x3, 1x1 expand x4). Where a stage halves H and W the
stride sits on the 3x3 conv of the first bottleneck ("ResNet v1.5", as in the
reference implementations; the paper put it on the first 1x1) and the shortcut
is a strided 1x1 conv + BN (the paper's option B).

Shapes at 224x224 (N = batch; E = 1 for BasicBlock, 4 for Bottleneck):

    input                     (N, 3, 224, 224)
    conv 7x7/2, BN, ReLU      (N, 64, 112, 112)
    max pool 3x3/2            (N, 64, 56, 56)
    layer1                    (N, 64E, 56, 56)
    layer2                    (N, 128E, 28, 28)
    layer3                    (N, 256E, 14, 14)
    layer4                    (N, 512E, 7, 7)
    global avg-pool, fc       (N, 512E) -> (N, num_classes)
"""

from __future__ import annotations

import torch
from torch import nn

from ._checks import check_input


def conv3x3(in_channels: int, out_channels: int, stride: int = 1) -> nn.Conv2d:
    """3x3 conv, padding 1, no bias (the BN after it has a shift)."""
    return nn.Conv2d(in_channels, out_channels, 3, stride, padding=1, bias=False)


def conv1x1(in_channels: int, out_channels: int, stride: int = 1) -> nn.Conv2d:
    """A 1x1 convolution without bias (ResNet's projection and bottleneck)."""
    return nn.Conv2d(in_channels, out_channels, 1, stride, bias=False)


class BasicBlock(nn.Module):
    """Two 3x3 convs plus shortcut: ``(N, C_in, H, W)`` -> ``(N, C, H/s, W/s)``."""

    expansion = 1

    def __init__(self, in_channels: int, channels: int, stride: int = 1,
                 downsample: nn.Module | None = None):
        super().__init__()
        self.conv1 = conv3x3(in_channels, channels, stride)
        self.bn1 = nn.BatchNorm2d(channels)
        self.conv2 = conv3x3(channels, channels)
        self.bn2 = nn.BatchNorm2d(channels)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + identity)  # add first, then the nonlinearity


class Bottleneck(nn.Module):
    """1x1 reduce -> 3x3 (stride here, v1.5) -> 1x1 expand, plus shortcut:
    ``(N, C_in, H, W)`` -> ``(N, 4C, H/s, W/s)``."""

    expansion = 4

    def __init__(self, in_channels: int, channels: int, stride: int = 1,
                 downsample: nn.Module | None = None):
        super().__init__()
        self.conv1 = conv1x1(in_channels, channels)
        self.bn1 = nn.BatchNorm2d(channels)
        self.conv2 = conv3x3(channels, channels, stride)
        self.bn2 = nn.BatchNorm2d(channels)
        self.conv3 = conv1x1(channels, channels * self.expansion)
        self.bn3 = nn.BatchNorm2d(channels * self.expansion)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + identity)


class ResNet(nn.Module):
    """ResNet for ImageNet: ``(N, 3, H, W)`` -> ``(N, num_classes)``.

    ``block`` is :class:`BasicBlock` or :class:`Bottleneck`; ``layers`` the
    number of blocks in each of the four stages. ``zero_init_residual`` starts
    the last BN of every block at zero, so each block begins as the identity
    (Goyal et al. 2017, "Accurate, large minibatch SGD").
    """

    def __init__(self, block: type[BasicBlock] | type[Bottleneck], layers: list[int],
                 num_classes: int = 1000, zero_init_residual: bool = False,
                 name: str = "ResNet"):
        super().__init__()
        self.name = name
        self.in_channels = 64  # grows as stages are built
        self.conv1 = nn.Conv2d(3, 64, kernel_size=7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        self.layer1 = self._make_layer(block, 64, layers[0], stride=1)
        self.layer2 = self._make_layer(block, 128, layers[1], stride=2)
        self.layer3 = self._make_layer(block, 256, layers[2], stride=2)
        self.layer4 = self._make_layer(block, 512, layers[3], stride=2)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(512 * block.expansion, num_classes)

        for m in self.modules():
            if isinstance(m, nn.Conv2d):  # He et al. (2015) init, as in the paper
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
        if zero_init_residual:
            for m in self.modules():
                if isinstance(m, Bottleneck):
                    nn.init.zeros_(m.bn3.weight)
                elif isinstance(m, BasicBlock):
                    nn.init.zeros_(m.bn2.weight)

    def _make_layer(self, block, channels: int, blocks: int, stride: int):
        out_channels = channels * block.expansion
        downsample = None
        if stride != 1 or self.in_channels != out_channels:
            # the shortcut must match the block's output shape to be added to it
            downsample = nn.Sequential(
                conv1x1(self.in_channels, out_channels, stride),
                nn.BatchNorm2d(out_channels),
            )
        layers = [block(self.in_channels, channels, stride, downsample)]
        self.in_channels = out_channels
        layers += [block(out_channels, channels) for _ in range(1, blocks)]
        return nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_input(x, self.name, ("N", 3, "H", "W"))
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))  # (N, 64, H/4, W/4)
        x = self.layer2(self.layer1(x))  # (N, 128E, H/8, W/8)
        x = self.layer4(self.layer3(x))  # (N, 512E, H/32, W/32)
        x = torch.flatten(self.avgpool(x), 1)  # (N, 512E)
        return self.fc(x)


def resnet18(num_classes: int = 1000, zero_init_residual: bool = False) -> ResNet:
    """ResNet-18: BasicBlocks [2, 2, 2, 2]; 11,689,512 parameters at 1000 classes.
    ``(N, 3, 224, 224)`` -> ``(N, num_classes)``."""
    return ResNet(BasicBlock, [2, 2, 2, 2], num_classes, zero_init_residual,
                  "ResNet-18")


def resnet34(num_classes: int = 1000, zero_init_residual: bool = False) -> ResNet:
    """ResNet-34: BasicBlocks [3, 4, 6, 3]; 21,797,672 parameters at 1000 classes.
    ``(N, 3, 224, 224)`` -> ``(N, num_classes)``."""
    return ResNet(BasicBlock, [3, 4, 6, 3], num_classes, zero_init_residual,
                  "ResNet-34")


def resnet50(num_classes: int = 1000, zero_init_residual: bool = False) -> ResNet:
    """ResNet-50 (v1.5): Bottlenecks [3, 4, 6, 3]; 25,557,032 parameters at 1000
    classes. ``(N, 3, 224, 224)`` -> ``(N, num_classes)``."""
    return ResNet(Bottleneck, [3, 4, 6, 3], num_classes, zero_init_residual,
                  "ResNet-50")


def resnet101(num_classes: int = 1000, zero_init_residual: bool = False) -> ResNet:
    """ResNet-101 (v1.5): Bottlenecks [3, 4, 23, 3]; 44,549,160 parameters at 1000
    classes. ``(N, 3, 224, 224)`` -> ``(N, num_classes)``."""
    return ResNet(Bottleneck, [3, 4, 23, 3], num_classes, zero_init_residual,
                  "ResNet-101")


def resnet152(num_classes: int = 1000, zero_init_residual: bool = False) -> ResNet:
    """ResNet-152 (v1.5): Bottlenecks [3, 8, 36, 3]; 60,192,808 parameters at 1000
    classes. ``(N, 3, 224, 224)`` -> ``(N, num_classes)``."""
    return ResNet(Bottleneck, [3, 8, 36, 3], num_classes, zero_init_residual,
                  "ResNet-152")
