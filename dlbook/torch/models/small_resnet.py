"""CIFAR-style ResNet and its plain twin: He, Zhang, Ren and Sun (2016), "Deep
residual learning for image recognition", CVPR, section 4.2.

Depth 6n + 2: a 3x3 conv, three stages of n blocks (two 3x3 convs each) with
``width``, 2 ``width`` and 4 ``width`` channels, global average pool, linear.
The first block of stages 2 and 3 halves H and W.

The shortcut is the paper's option A: identity, subsampled and zero-padded
with extra channels where the shape changes. It has no parameters, so
``residual=True`` and ``residual=False`` build networks with exactly the same
parameters, and the only difference is the ``+ x``. That is the comparison of
the paper's figure 6: deeper plain nets train *worse*, residual ones better
(the degradation problem).

Shapes at 28x28 (N = batch, w = width):

    input                  (N, C, 28, 28)
    conv 3x3, BN, ReLU     (N, w, 28, 28)
    stage 1 (n blocks)     (N, w, 28, 28)
    stage 2                (N, 2w, 14, 14)
    stage 3                (N, 4w, 7, 7)
    avg-pool, linear       (N, 4w) -> (N, num_classes)
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from ._checks import check_input


class SmallBlock(nn.Module):
    """conv-BN-ReLU-conv-BN, plus the shortcut if ``residual``, then ReLU.

    ``(N, C_in, H, W)`` -> ``(N, C_out, H / stride, W / stride)``.
    """

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1,
                 residual: bool = True):
        super().__init__()
        self.residual = residual
        self.stride = stride
        self.extra_channels = out_channels - in_channels
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels)

    def shortcut(self, x: torch.Tensor) -> torch.Tensor:
        """Option A: subsample, then zero-pad the new channels (no parameters)."""
        if self.stride != 1:
            x = x[:, :, :: self.stride, :: self.stride]  # (N, C_in, H/s, W/s)
        if self.extra_channels:
            # F.pad pads the last dims first: (W lo, W hi, H lo, H hi, C lo, C hi)
            x = F.pad(x, (0, 0, 0, 0, 0, self.extra_channels))  # (N, C_out, ..)
        return x

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        if self.residual:
            out = out + self.shortcut(x)
        return F.relu(out)

    def extra_repr(self) -> str:
        return f"residual={self.residual}"


class SmallResNet(nn.Module):
    """ResNet-(6n+2) for small images: ``(N, in_channels, H, W)`` ->
    ``(N, num_classes)``. See the module docstring."""

    def __init__(self, depth: int = 20, residual: bool = True, in_channels: int = 1,
                 num_classes: int = 10, width: int = 16):
        super().__init__()
        if depth < 8 or (depth - 2) % 6:
            raise ValueError(
                f"SmallResNet: depth must be 6n + 2 with n >= 1 (8, 14, 20, 32, 44, "
                f"56, 110, ...), got {depth}"
            )
        n = (depth - 2) // 6
        self.depth = depth
        self.residual = residual
        self.in_channels = in_channels
        self.conv1 = nn.Conv2d(in_channels, width, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        stages = []
        channels = width
        for i, out_channels in enumerate([width, 2 * width, 4 * width]):
            blocks = []
            for j in range(n):
                stride = 2 if (i > 0 and j == 0) else 1
                blocks.append(SmallBlock(channels, out_channels, stride, residual))
                channels = out_channels
            stages.append(nn.Sequential(*blocks))
        self.layer1, self.layer2, self.layer3 = stages
        self.fc = nn.Linear(4 * width, num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        kind = "residual" if self.residual else "plain"
        check_input(x, f"SmallResNet(depth={self.depth}, {kind})",
                    ("N", self.in_channels, "H", "W"))
        x = F.relu(self.bn1(self.conv1(x)))  # (N, w, H, W)
        x = self.layer3(self.layer2(self.layer1(x)))  # (N, 4w, H/4, W/4)
        x = x.mean(dim=(2, 3))  # global average pool: (N, 4w)
        return self.fc(x)


def small_resnet(depth: int = 20, residual: bool = True, in_channels: int = 1,
                 num_classes: int = 10, width: int = 16) -> SmallResNet:
    """CIFAR-style ResNet (He et al. 2016, section 4.2) of ``depth`` = 6n + 2.

    ``(N, in_channels, 28, 28)`` -> ``(N, num_classes)``; ``residual=False``
    gives the plain network with the same parameters. At width 16 and 10
    classes: depth 20 has 269,434 parameters with 1 input channel and 269,722
    with 3 (the paper's "0.27M"); with 1 input channel depth 8 has 75,002 and
    depth 56 has 852,730 (the paper's "0.85M").
    """
    return SmallResNet(depth, residual, in_channels, num_classes, width)
