"""GoogLeNet (Inception v1): Szegedy et al. (2015), "Going deeper with
convolutions", CVPR.

An Inception module runs four branches side by side on the same input and
concatenates them along channels: 1x1; 1x1 -> 3x3; 1x1 -> "5x5"; 3x3 max pool
-> 1x1. The 1x1 convolutions in front shrink the channels first, which is what
keeps 22 layers at 6.6M parameters (AlexNet has 61M).

As in the widely used reference implementation, every convolution is a
BasicConv2d (conv without bias, batch norm with eps 0.001, ReLU) -- batch norm
arrived after the paper -- and the "5x5" branch uses a 3x3 kernel. Module names
follow that implementation too (``inception3a.branch2.0.conv.weight``), so its
state dicts load (its pretrained weights also expect its ``transform_input``
rescaling of the input, which this model leaves out).

Shapes at 224x224 (N = batch)::

    input                          (N, 3, 224, 224)
    conv 7x7/2 + pool              (N, 64, 56, 56)
    conv 1x1, conv 3x3 + pool      (N, 192, 28, 28)
    inception 3a, 3b + pool        (N, 256, 28, 28) -> (N, 480, 14, 14)
    inception 4a .. 4e + pool      (N, 512, 14, 14) .. (N, 832, 7, 7)
    inception 5a, 5b               (N, 1024, 7, 7)
    global avg-pool, dropout, fc   (N, 1024) -> (N, num_classes)
    aux heads (training only)      after 4a and 4d: (N, 512|528, 14, 14)
                                   -> (N, num_classes) each
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import nn
from torch.nn import functional as F

from ._checks import check_input


class GoogLeNetOutputs(NamedTuple):
    """What ``GoogLeNet(aux_logits=True)`` returns in training mode.

    Each field is ``(N, num_classes)`` logits: the main head, the auxiliary
    head after inception 4d, and the one after 4a (the paper adds the aux losses
    with weight 0.3). In eval mode the model returns ``logits`` alone.
    """

    logits: torch.Tensor
    aux_logits2: torch.Tensor
    aux_logits1: torch.Tensor


class BasicConv2d(nn.Module):
    """Conv (no bias: batch norm's shift replaces it) -> BN(eps=0.001) -> ReLU.

    ``(N, C_in, H, W)`` -> ``(N, C_out, H', W')``, H' and W' as the conv makes them.
    """

    def __init__(self, in_channels: int, out_channels: int, **conv_kwargs):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, bias=False, **conv_kwargs)
        self.bn = nn.BatchNorm2d(out_channels, eps=0.001)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.bn(self.conv(x)), inplace=True)


class Inception(nn.Module):
    """Four parallel branches, concatenated: ``(N, C_in, H, W)`` ->
    ``(N, ch1x1 + ch3x3 + ch5x5 + pool_proj, H, W)``."""

    def __init__(self, in_channels, ch1x1, ch3x3red, ch3x3, ch5x5red, ch5x5,
                 pool_proj):
        super().__init__()
        self.branch1 = BasicConv2d(in_channels, ch1x1, kernel_size=1)
        self.branch2 = nn.Sequential(
            BasicConv2d(in_channels, ch3x3red, kernel_size=1),  # reduce first
            BasicConv2d(ch3x3red, ch3x3, kernel_size=3, padding=1),
        )
        self.branch3 = nn.Sequential(
            BasicConv2d(in_channels, ch5x5red, kernel_size=1),
            # 3x3, not the paper's 5x5: the reference implementation's choice,
            # kept so the parameter count matches
            BasicConv2d(ch5x5red, ch5x5, kernel_size=3, padding=1),
        )
        self.branch4 = nn.Sequential(
            nn.MaxPool2d(kernel_size=3, stride=1, padding=1, ceil_mode=True),
            BasicConv2d(in_channels, pool_proj, kernel_size=1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        branches = [self.branch1, self.branch2, self.branch3, self.branch4]
        return torch.cat([b(x) for b in branches], dim=1)  # (N, C_out, H, W)


class InceptionAux(nn.Module):
    """Auxiliary classifier: ``(N, C, H, W)`` -> ``(N, num_classes)``.

    Extra gradient signal in the middle of the network during training; the
    paper discards these heads at inference.
    """

    def __init__(self, in_channels: int, num_classes: int, dropout: float = 0.7):
        super().__init__()
        self.conv = BasicConv2d(in_channels, 128, kernel_size=1)
        self.fc1 = nn.Linear(128 * 4 * 4, 1024)
        self.fc2 = nn.Linear(1024, num_classes)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.adaptive_avg_pool2d(x, (4, 4))  # (N, C, 4, 4); the paper: 5x5/3
        x = torch.flatten(self.conv(x), 1)  # (N, 2048)
        x = self.dropout(F.relu(self.fc1(x)))  # (N, 1024)
        return self.fc2(x)


class GoogLeNet(nn.Module):
    """GoogLeNet: ``(N, 3, H, W)`` -> ``(N, num_classes)`` logits.

    224x224 by design; any H, W >= 15 works. With ``aux_logits=True`` the
    model in training mode returns a :class:`GoogLeNetOutputs`; in eval mode
    it always returns the logits alone. 6,624,904 parameters at 1000 classes,
    13,004,888 with the auxiliary heads.
    """

    def __init__(self, num_classes: int = 1000, aux_logits: bool = False,
                 dropout: float = 0.2, dropout_aux: float = 0.7):
        super().__init__()
        self.aux_logits = aux_logits
        pool = dict(kernel_size=3, stride=2, ceil_mode=True)
        self.conv1 = BasicConv2d(3, 64, kernel_size=7, stride=2, padding=3)
        self.maxpool1 = nn.MaxPool2d(**pool)
        self.conv2 = BasicConv2d(64, 64, kernel_size=1)
        self.conv3 = BasicConv2d(64, 192, kernel_size=3, padding=1)
        self.maxpool2 = nn.MaxPool2d(**pool)
        # Table 1 of the paper: #1x1, #3x3 reduce, #3x3, #5x5 reduce, #5x5, pool proj
        self.inception3a = Inception(192, 64, 96, 128, 16, 32, 32)
        self.inception3b = Inception(256, 128, 128, 192, 32, 96, 64)
        self.maxpool3 = nn.MaxPool2d(**pool)
        self.inception4a = Inception(480, 192, 96, 208, 16, 48, 64)
        self.inception4b = Inception(512, 160, 112, 224, 24, 64, 64)
        self.inception4c = Inception(512, 128, 128, 256, 24, 64, 64)
        self.inception4d = Inception(512, 112, 144, 288, 32, 64, 64)
        self.inception4e = Inception(528, 256, 160, 320, 32, 128, 128)
        self.maxpool4 = nn.MaxPool2d(kernel_size=2, stride=2, ceil_mode=True)
        self.inception5a = Inception(832, 256, 160, 320, 32, 128, 128)
        self.inception5b = Inception(832, 384, 192, 384, 48, 128, 128)
        if aux_logits:
            self.aux1 = InceptionAux(512, num_classes, dropout_aux)
            self.aux2 = InceptionAux(528, num_classes, dropout_aux)
        else:
            self.aux1 = self.aux2 = None
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(1024, num_classes)
        for m in self.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                nn.init.trunc_normal_(m.weight, std=0.01, a=-2, b=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor | GoogLeNetOutputs:
        check_input(x, "GoogLeNet", ("N", 3, "H", "W"), min_size=15)
        x = self.maxpool1(self.conv1(x))  # (N, 64, 56, 56)
        x = self.maxpool2(self.conv3(self.conv2(x)))  # (N, 192, 28, 28)
        x = self.inception3b(self.inception3a(x))  # (N, 480, 28, 28)
        x = self.inception4a(self.maxpool3(x))  # (N, 512, 14, 14)
        use_aux = self.aux_logits and self.training
        aux1 = self.aux1(x) if use_aux else None
        x = self.inception4d(self.inception4c(self.inception4b(x)))  # (N, 528, 14, 14)
        aux2 = self.aux2(x) if use_aux else None
        x = self.maxpool4(self.inception4e(x))  # (N, 832, 7, 7)
        x = self.inception5b(self.inception5a(x))  # (N, 1024, 7, 7)
        x = torch.flatten(self.avgpool(x), 1)  # (N, 1024)
        logits = self.fc(self.dropout(x))
        if use_aux:
            return GoogLeNetOutputs(logits, aux2, aux1)
        return logits


def googlenet(num_classes: int = 1000, aux_logits: bool = False) -> GoogLeNet:
    """GoogLeNet (Szegedy et al. 2015): ``(N, 3, 224, 224)`` -> ``(N, num_classes)``.

    6,624,904 parameters at 1000 classes; 13,004,888 with ``aux_logits=True``,
    which in training mode returns a :class:`GoogLeNetOutputs` namedtuple
    ``(logits, aux_logits2, aux_logits1)``.
    """
    return GoogLeNet(num_classes, aux_logits)
