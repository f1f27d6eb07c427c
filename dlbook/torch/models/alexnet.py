"""AlexNet: Krizhevsky, Sutskever and Hinton (2012), "ImageNet classification
with deep convolutional neural networks", NeurIPS.

This is the single-GPU variant of Krizhevsky (2014), "One weird trick for
parallelizing convolutional neural networks" (64-192-384-256-256 channels), the
one most libraries ship. The 2012 network split 96-256-384-384-256 channels
over two GPUs and used local response normalization; neither survives here.

Shapes at 224x224 (N = batch):

    input                         (N, 3, 224, 224)
    conv 11x11/4, pad 2 + pool    (N, 64, 55, 55)  -> (N, 64, 27, 27)
    conv 5x5, pad 2 + pool        (N, 192, 27, 27) -> (N, 192, 13, 13)
    conv 3x3 x3                   (N, 384|256|256, 13, 13)
    pool 3/2                      (N, 256, 6, 6)
    adaptive avg-pool to 6x6      (N, 256, 6, 6) -> flatten (N, 9216)
    fc 4096, fc 4096, fc classes  (N, num_classes)
"""

from __future__ import annotations

import torch
from torch import nn

from ._checks import check_input


class AlexNet(nn.Module):
    """AlexNet, single-GPU variant: ``(N, 3, H, W)`` -> ``(N, num_classes)``.

    Designed for 224x224; any H, W >= 63 works because of the adaptive pool.
    61,100,840 parameters at 1000 classes, 58.6M of them in the three fully
    connected layers.
    """

    def __init__(self, num_classes: int = 1000, dropout: float = 0.5):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 64, kernel_size=11, stride=4, padding=2),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2),  # overlapping pooling
            nn.Conv2d(64, 192, kernel_size=5, padding=2),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2),
            nn.Conv2d(192, 384, kernel_size=3, padding=1),
            nn.ReLU(inplace=True),
            nn.Conv2d(384, 256, kernel_size=3, padding=1),
            nn.ReLU(inplace=True),
            nn.Conv2d(256, 256, kernel_size=3, padding=1),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2),
        )
        # Makes the classifier independent of the input size (a no-op at 224).
        self.avgpool = nn.AdaptiveAvgPool2d((6, 6))
        self.classifier = nn.Sequential(
            nn.Dropout(dropout),
            nn.Linear(256 * 6 * 6, 4096),
            nn.ReLU(inplace=True),
            nn.Dropout(dropout),
            nn.Linear(4096, 4096),
            nn.ReLU(inplace=True),
            nn.Linear(4096, num_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_input(x, "AlexNet", ("N", 3, "H", "W"), min_size=63)
        x = self.avgpool(self.features(x))  # (N, 256, 6, 6)
        x = torch.flatten(x, 1)  # (N, 9216)
        return self.classifier(x)


def alexnet(num_classes: int = 1000, dropout: float = 0.5) -> AlexNet:
    """AlexNet (Krizhevsky et al. 2012; single-GPU variant of Krizhevsky 2014).

    ``(N, 3, 224, 224)`` -> ``(N, num_classes)``; 61,100,840 parameters at 1000
    classes.
    """
    return AlexNet(num_classes, dropout)
