"""LeNet-5: LeCun, Bottou, Bengio and Haffner (1998), "Gradient-based learning
applied to document recognition", Proc. IEEE 86(11).

Shapes (N = batch)::

    input                  (N, 1, 32, 32)
    C1 conv 5x5, 6 maps    (N, 6, 28, 28)     6*1*25 + 6    =    156 params
    S2 avg-pool 2x2        (N, 6, 14, 14)
    C3 conv 5x5, 16 maps   (N, 16, 10, 10)    16*6*25 + 16  =  2,416
    S4 avg-pool 2x2        (N, 16, 5, 5)
    C5 conv 5x5, 120 maps  (N, 120, 1, 1)     120*16*25+120 = 48,120
    F6 linear 120 -> 84    (N, 84)            120*84 + 84   = 10,164
    output 84 -> 10        (N, 10)            84*10 + 10    =    850
                                              total         = 61,706
"""

from __future__ import annotations

import torch
from torch import nn

from ._checks import check_input


class LeNet5(nn.Module):
    """LeNet-5 as it is usually built today (LeCun et al. 1998).

    Input ``(N, 1, 32, 32)`` (MNIST digits padded from 28 to 32, as in the
    paper); output ``(N, num_classes)`` logits. 61,706 parameters at 10 classes.

    Three simplifications of the 1998 network, all common practice: C3 sees
    every S2 map (the paper wires 10 of its 16 maps to subsets of S2, giving
    1,516 parameters instead of 2,416, to break symmetry and save compute);
    S2 and S4 are plain average pools (the paper gives each map a trainable
    coefficient and bias); and the output is a linear layer rather than 10
    Euclidean RBF units. The activation is ``tanh`` (the paper scales it:
    1.7159 tanh(2a/3)).
    """

    def __init__(self, num_classes: int = 10):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 6, kernel_size=5),  # C1
            nn.Tanh(),
            nn.AvgPool2d(2),  # S2
            nn.Conv2d(6, 16, kernel_size=5),  # C3
            nn.Tanh(),
            nn.AvgPool2d(2),  # S4
            nn.Conv2d(16, 120, kernel_size=5),  # C5
            nn.Tanh(),
        )
        self.classifier = nn.Sequential(
            nn.Linear(120, 84),  # F6
            nn.Tanh(),
            nn.Linear(84, num_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_input(
            x, "LeNet5", ("N", 1, 32, 32),
            hint="pad 28x28 MNIST to 32x32, e.g. F.pad(x, (2, 2, 2, 2))",
        )
        x = self.features(x)  # (N, 120, 1, 1)
        x = torch.flatten(x, 1)  # (N, 120)
        return self.classifier(x)


def lenet5(num_classes: int = 10) -> LeNet5:
    """LeNet-5 (LeCun et al. 1998): ``(N, 1, 32, 32)`` -> ``(N, num_classes)``.

    61,706 parameters at 10 classes.
    """
    return LeNet5(num_classes)
