"""The four baselines of MNIST-1D: Greydanus (2020), "Scaling down deep
learning" (arXiv:2011.14439), whose published test accuracies are logistic
regression 32%, MLP 68%, CNN 94%, GRU 91%.

Sizes follow the paper's reference code (``notebooks/models.py`` in the
greydanus/mnist1d repository): ``LinearBase``, ``MLPBase``, ``ConvBase`` and
``GRUBase``. Every model takes ``(N, 40)`` -- N sequences of length L = 40 --
or ``(N, 1, 40)``, and returns ``(N, num_classes)`` logits.
"""

from __future__ import annotations

import torch
from torch import nn

from ._checks import check_input

LENGTH = 40  # MNIST-1D's final_seq_length


def _sequences(x: torch.Tensor, model: str) -> torch.Tensor:
    """Accept ``(N, 40)`` or ``(N, 1, 40)``; return ``(N, 40)``."""
    check_input(x, model, [("N", LENGTH), ("N", 1, LENGTH)])
    return x.reshape(x.shape[0], LENGTH)  # (N, L)


class MNIST1DLogistic(nn.Module):
    """Logistic (softmax) regression: ``(N, 40)`` -> ``(N, num_classes)``."""

    def __init__(self, num_classes: int = 10):
        super().__init__()
        self.linear = nn.Linear(LENGTH, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(_sequences(x, "MNIST1DLogistic"))


class MNIST1DMLP(nn.Module):
    """MLP 40-100-100-10 with ReLU: ``(N, 40)`` -> ``(N, num_classes)``.

    The reference code adds a skip around the second layer
    (``h = h + relu(linear2(h))``); ``skip=True`` reproduces that, at the same
    parameter count.
    """

    def __init__(self, num_hiddens: int = 100, num_classes: int = 10,
                 skip: bool = False):
        super().__init__()
        self.skip = skip
        self.linear1 = nn.Linear(LENGTH, num_hiddens)
        self.linear2 = nn.Linear(num_hiddens, num_hiddens)
        self.linear3 = nn.Linear(num_hiddens, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = torch.relu(self.linear1(_sequences(x, "MNIST1DMLP")))  # (N, 100)
        h2 = torch.relu(self.linear2(h))  # (N, 100)
        h = h + h2 if self.skip else h2
        return self.linear3(h)

    def extra_repr(self) -> str:
        return f"skip={self.skip}"


class MNIST1DCNN(nn.Module):
    """Three strided Conv1d layers, 25 channels each, ReLU, then a linear layer.

    Shape arithmetic, L_out = floor((L_in + 2*pad - kernel) / stride) + 1:

        input (N, 40) -> view  (N, 1, 40)
        conv1 kernel 5, stride 2, pad 1:  (40 + 2 - 5) // 2 + 1 = 19  (N, 25, 19)
        conv2 kernel 3, stride 2, pad 1:  (19 + 2 - 3) // 2 + 1 = 10  (N, 25, 10)
        conv3 kernel 3, stride 2, pad 1:  (10 + 2 - 3) // 2 + 1 = 5   (N, 25, 5)
        flatten                                                     (N, 125)
        linear 125 -> num_classes                                   (N, 10)

    Only the first conv has kernel 5, as in the reference ``ConvBase``: with
    kernel 5 in all three the lengths would be 19, 9, 4 and the flattened size
    100, not 125.
    """

    def __init__(self, channels: int = 25, num_classes: int = 10):
        super().__init__()
        self.conv1 = nn.Conv1d(1, channels, kernel_size=5, stride=2, padding=1)
        self.conv2 = nn.Conv1d(channels, channels, kernel_size=3, stride=2, padding=1)
        self.conv3 = nn.Conv1d(channels, channels, kernel_size=3, stride=2, padding=1)
        self.linear = nn.Linear(channels * 5, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = _sequences(x, "MNIST1DCNN").unsqueeze(1)  # (N, 1, 40)
        h = torch.relu(self.conv1(x))  # (N, 25, 19)
        h = torch.relu(self.conv2(h))  # (N, 25, 10)
        h = torch.relu(self.conv3(h))  # (N, 25, 5)
        return self.linear(h.flatten(1))  # (N, 125) -> (N, 10)


class MNIST1DGRU(nn.Module):
    """Bidirectional GRU reading one value per step, linear on all the states.

    Sizes from the reference ``GRUBase``: input size 1, hidden size 6,
    bidirectional, and the classifier sees the outputs of all 40 steps::

        input (N, 40) -> (N, 40, 1)       one feature per time step
        GRU, 2 directions x 6 hidden  ->  (N, 40, 12)
        flatten                       ->  (N, 480)
        linear 480 -> num_classes     ->  (N, 10)
    """

    def __init__(self, num_hiddens: int = 6, num_classes: int = 10,
                 bidirectional: bool = True):
        super().__init__()
        self.gru = nn.GRU(1, num_hiddens, batch_first=True,
                          bidirectional=bidirectional)
        directions = 2 if bidirectional else 1
        self.linear = nn.Linear(directions * num_hiddens * LENGTH, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = _sequences(x, "MNIST1DGRU").unsqueeze(-1)  # (N, 40, 1)
        out, _ = self.gru(x)  # (N, 40, directions * num_hiddens); h0 = zeros
        return self.linear(out.flatten(1))  # (N, 480) -> (N, 10)


def mnist1d_logistic(num_classes: int = 10) -> MNIST1DLogistic:
    """Logistic regression on MNIST-1D: ``(N, 40)`` -> ``(N, 10)``; 410
    parameters (40*10 + 10)."""
    return MNIST1DLogistic(num_classes)


def mnist1d_mlp(num_hiddens: int = 100, num_classes: int = 10,
                skip: bool = False) -> MNIST1DMLP:
    """MLP 40-100-100-10, ReLU: ``(N, 40)`` -> ``(N, 10)``; 15,210 parameters
    (4,100 + 10,100 + 1,010)."""
    return MNIST1DMLP(num_hiddens, num_classes, skip)


def mnist1d_cnn(channels: int = 25, num_classes: int = 10) -> MNIST1DCNN:
    """Three Conv1d (kernels 5, 3, 3; stride 2; pad 1) + linear 125 -> 10:
    ``(N, 40)`` -> ``(N, 10)``; 5,210 parameters (150 + 1,900 + 1,900 + 1,260).
    """
    return MNIST1DCNN(channels, num_classes)


def mnist1d_gru(num_hiddens: int = 6, num_classes: int = 10,
                bidirectional: bool = True) -> MNIST1DGRU:
    """Bidirectional GRU, hidden size 6 (reference ``GRUBase``), linear on all
    40 steps: ``(N, 40)`` -> ``(N, 10)``; 5,134 parameters (2 x 162 in the GRU,
    4,810 in the linear layer)."""
    return MNIST1DGRU(num_hiddens, num_classes, bidirectional)
