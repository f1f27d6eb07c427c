"""Small image models that train in seconds on a CPU.

* :func:`digits_mlp`, :func:`digits_cnn` -- scikit-learn's 8x8 digits
  (1,797 images, 1 channel, 10 classes);
* :func:`small_cnn` -- 28x28 MNIST / Fashion-MNIST (or 32x32 CIFAR-10 with
  ``in_channels=3, image_size=32``);
* :func:`shapes_cnn` -- 32x32 colour images of one shape each
  (:func:`dlbook.data.shapes.make_shape_images`), with named layers to look inside.

Shapes use N for the batch.
"""

from __future__ import annotations

from collections import OrderedDict

import torch
from torch import nn

from ._checks import check_input


class DigitsMLP(nn.Sequential):
    """``(N, 64)`` or ``(N, 1, 8, 8)`` -> ``(N, num_classes)``: flatten,
    Linear(64, num_hiddens), ReLU, Linear(num_hiddens, num_classes)."""

    def __init__(self, num_hiddens: int = 64, num_classes: int = 10):
        super().__init__(
            nn.Flatten(),  # (N, 64)
            nn.Linear(64, num_hiddens),
            nn.ReLU(),
            nn.Linear(num_hiddens, num_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_input(x, "DigitsMLP", [("N", 64), ("N", 1, 8, 8)])
        return super().forward(x)


class DigitsCNN(nn.Sequential):
    """``(N, 1, 8, 8)`` -> ``(N, num_classes)``.

    conv 3x3 pad 1, 16 maps + ReLU + pool  (N, 16, 4, 4)
    conv 3x3 pad 1, 32 maps + ReLU + pool  (N, 32, 2, 2) -> flatten (N, 128)
    linear 128 -> num_classes              (N, num_classes)
    """

    def __init__(self, num_classes: int = 10):
        super().__init__(
            nn.Conv2d(1, 16, kernel_size=3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),  # (N, 16, 4, 4)
            nn.Conv2d(16, 32, kernel_size=3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),  # (N, 32, 2, 2)
            nn.Flatten(),  # (N, 128)
            nn.Linear(32 * 2 * 2, num_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_input(x, "DigitsCNN", ("N", 1, 8, 8),
                    hint="reshape flat digits with X.reshape(-1, 1, 8, 8)")
        return super().forward(x)


class SmallCNN(nn.Sequential):
    """``(N, C, S, S)`` -> ``(N, num_classes)``, S = ``image_size`` (28 or 32).

    conv 3x3, 16 maps, BN, ReLU, pool 2  (N, 16, S/2, S/2)
    conv 3x3, 32 maps, BN, ReLU, pool 2  (N, 32, S/4, S/4) -> flatten
    linear -> 128, ReLU, linear -> num_classes
    """

    def __init__(self, in_channels: int = 1, num_classes: int = 10,
                 image_size: int = 28):
        side = image_size // 4  # two 2x2 pools
        if side < 1:
            raise ValueError(f"SmallCNN: image_size must be >= 4, got {image_size}")
        super().__init__(
            # no conv bias: the batch norm right after it has its own shift
            nn.Conv2d(in_channels, 16, kernel_size=3, padding=1, bias=False),
            nn.BatchNorm2d(16),
            nn.ReLU(),
            nn.MaxPool2d(2),  # (N, 16, S/2, S/2)
            nn.Conv2d(16, 32, kernel_size=3, padding=1, bias=False),
            nn.BatchNorm2d(32),
            nn.ReLU(),
            nn.MaxPool2d(2),  # (N, 32, S/4, S/4)
            nn.Flatten(),  # (N, 32 * (S/4)**2)
            nn.Linear(32 * side * side, 128),
            nn.ReLU(),
            nn.Linear(128, num_classes),
        )
        self.in_channels = in_channels
        self.image_size = image_size

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = self.image_size
        check_input(x, "SmallCNN", ("N", self.in_channels, s, s))
        return super().forward(x)


class ShapesCNN(nn.Sequential):
    """``(N, 3, H, W)`` -> ``(N, num_classes)``; H, W >= 4 (32 in chapter 8).

    conv1 5x5, 16 maps, bn1, relu1, pool1   (N, 16, H/2, W/2)
    conv2 3x3, 32 maps, bn2, relu2, pool2   (N, 32, H/4, W/4)
    conv3 3x3, 64 maps, bn3, relu3          (N, 64, H/4, W/4)
    gmax (global max over positions), flatten, fc -> num_classes

    The layers are named (``model.conv1``, ``"relu2"``) so that a chapter can
    read their weights and record their outputs by name.
    """

    def __init__(self, num_classes: int = 3):
        super().__init__(OrderedDict([
            ("conv1", nn.Conv2d(3, 16, 5, padding=2)), ("bn1", nn.BatchNorm2d(16)),
            ("relu1", nn.ReLU()), ("pool1", nn.MaxPool2d(2)),
            ("conv2", nn.Conv2d(16, 32, 3, padding=1)), ("bn2", nn.BatchNorm2d(32)),
            ("relu2", nn.ReLU()), ("pool2", nn.MaxPool2d(2)),
            ("conv3", nn.Conv2d(32, 64, 3, padding=1)), ("bn3", nn.BatchNorm2d(64)),
            ("relu3", nn.ReLU()),
            ("gmax", nn.AdaptiveMaxPool2d(1)), ("flatten", nn.Flatten()),  # (N, 64)
            ("fc", nn.Linear(64, num_classes)),
        ]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_input(x, "ShapesCNN", ("N", 3, "H", "W"), min_size=4)
        return super().forward(x)


def digits_mlp(num_hiddens: int = 64, num_classes: int = 10) -> DigitsMLP:
    """MLP for 8x8 digits: ``(N, 64)`` -> ``(N, num_classes)``.

    4,810 parameters at the defaults (64*64 + 64 + 64*10 + 10).
    """
    return DigitsMLP(num_hiddens, num_classes)


def digits_cnn(num_classes: int = 10) -> DigitsCNN:
    """CNN for 8x8 digits: ``(N, 1, 8, 8)`` -> ``(N, num_classes)``.

    6,090 parameters at 10 classes (160 + 4,640 + 1,290).
    """
    return DigitsCNN(num_classes)


def small_cnn(in_channels: int = 1, num_classes: int = 10,
              image_size: int = 28) -> SmallCNN:
    """Two-conv CNN for MNIST / Fashion-MNIST: ``(N, 1, 28, 28)`` -> ``(N, 10)``.

    206,970 parameters at the defaults: 176 + 4,672 in the convs and their
    batch norms, 200,832 in the 1568 -> 128 linear layer, 1,290 in the last;
    268,698 with ``in_channels=3, image_size=32`` (CIFAR-10).
    """
    return SmallCNN(in_channels, num_classes, image_size)


def shapes_cnn(num_classes: int = 3) -> ShapesCNN:
    """Three-block CNN for the 32x32 shapes of chapter 8: ``(N, 3, 32, 32)`` ->
    ``(N, 3)``.

    24,771 parameters at 3 classes: 1,216 + 4,640 + 18,496 in the convolutions,
    224 in the batch norms, 195 in the classifier.
    """
    return ShapesCNN(num_classes)
