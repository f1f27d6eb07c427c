"""VGG: Simonyan and Zisserman (2015), "Very deep convolutional networks for
large-scale image recognition", ICLR.

Only 3x3 convolutions (stride 1, pad 1, so they keep H and W) and 2x2 max pools
(which halve H and W). Two stacked 3x3 convs see a 5x5 window, three see 7x7,
with fewer parameters and more nonlinearities than one large kernel.

Shapes at 224x224 (N = batch): five stages, each ending in a pool,

    (N, 3, 224, 224) -> (N, 64, 112, 112) -> (N, 128, 56, 56)
    -> (N, 256, 28, 28) -> (N, 512, 14, 14) -> (N, 512, 7, 7)
    adaptive avg-pool to 7x7 -> flatten (N, 25088)
    fc 4096, fc 4096, fc classes -> (N, num_classes)
"""

from __future__ import annotations

import torch
from torch import nn

from ._checks import check_input

# Table 1 of the paper: ints are 3x3 conv widths, "M" a 2x2 max pool.
CONFIGS: dict[str, list] = {
    "A": [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "B": [64, 64, "M", 128, 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "D": [64, 64, "M", 128, 128, "M", 256, 256, 256, "M",
          512, 512, 512, "M", 512, 512, 512, "M"],
    "E": [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M",
          512, 512, 512, 512, "M", 512, 512, 512, 512, "M"],
}


def make_features(config: list, batch_norm: bool = False) -> nn.Sequential:
    """The convolutional part of VGG from a list like ``CONFIGS["A"]``."""
    layers: list[nn.Module] = []
    in_channels = 3
    for item in config:
        if item == "M":
            layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
            continue
        layers.append(nn.Conv2d(in_channels, item, kernel_size=3, padding=1))
        if batch_norm:  # BN came later (Ioffe and Szegedy 2015); conv keeps its bias
            layers.append(nn.BatchNorm2d(item))
        layers.append(nn.ReLU(inplace=True))
        in_channels = item
    return nn.Sequential(*layers)


class VGG(nn.Module):
    """VGG: ``(N, 3, H, W)`` -> ``(N, num_classes)``, H, W >= 32 (224 by design)."""

    def __init__(
        self,
        config: list,
        num_classes: int = 1000,
        batch_norm: bool = False,
        dropout: float = 0.5,
        name: str = "VGG",
    ):
        super().__init__()
        self.name = name
        self.features = make_features(config, batch_norm)
        self.avgpool = nn.AdaptiveAvgPool2d((7, 7))
        self.classifier = nn.Sequential(
            nn.Linear(512 * 7 * 7, 4096),
            nn.ReLU(inplace=True),
            nn.Dropout(dropout),
            nn.Linear(4096, 4096),
            nn.ReLU(inplace=True),
            nn.Dropout(dropout),
            nn.Linear(4096, num_classes),
        )
        # He et al. (2015) init lets even VGG-19 train from scratch; the paper
        # instead initialised the deep nets from the trained 11-layer one.
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, 0, 0.01)
                nn.init.zeros_(m.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # five 2x2 pools: anything under 32 pixels would shrink to zero
        check_input(x, self.name, ("N", 3, "H", "W"), min_size=32)
        x = self.avgpool(self.features(x))  # (N, 512, 7, 7)
        x = torch.flatten(x, 1)  # (N, 25088)
        return self.classifier(x)


def vgg11(num_classes: int = 1000, batch_norm: bool = False) -> VGG:
    """VGG-11 (configuration A): 132,863,336 parameters at 1000 classes
    (132,868,840 with batch norm). ``(N, 3, 224, 224)`` -> ``(N, num_classes)``.
    """
    return VGG(CONFIGS["A"], num_classes, batch_norm, name="VGG-11")


def vgg13(num_classes: int = 1000, batch_norm: bool = False) -> VGG:
    """VGG-13 (configuration B): 133,047,848 parameters at 1000 classes
    (133,053,736 with batch norm). ``(N, 3, 224, 224)`` -> ``(N, num_classes)``.
    """
    return VGG(CONFIGS["B"], num_classes, batch_norm, name="VGG-13")


def vgg16(num_classes: int = 1000, batch_norm: bool = False) -> VGG:
    """VGG-16 (configuration D): 138,357,544 parameters at 1000 classes
    (138,365,992 with batch norm). ``(N, 3, 224, 224)`` -> ``(N, num_classes)``.
    """
    return VGG(CONFIGS["D"], num_classes, batch_norm, name="VGG-16")


def vgg19(num_classes: int = 1000, batch_norm: bool = False) -> VGG:
    """VGG-19 (configuration E): 143,667,240 parameters at 1000 classes
    (143,678,248 with batch norm). ``(N, 3, 224, 224)`` -> ``(N, num_classes)``.
    """
    return VGG(CONFIGS["E"], num_classes, batch_norm, name="VGG-19")
