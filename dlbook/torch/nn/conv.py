"""Convolution as one matrix product: unfold (im2col) + matmul.

Every output pixel of a convolution is a dot product between the flattened kernel
and the flattened receptive field under it. ``F.unfold`` copies each receptive
field into a column, after which the whole layer is one matmul -- the trick
(Chellapilla et al. 2006) that let early GPU libraries reuse fast GEMM kernels.

Letters: N batch, C input channels, H, W input size, O output channels,
kh, kw kernel size, Ho, Wo output size, P = Ho * Wo output positions.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.modules.utils import _pair

__all__ = ["conv2d_unfold", "Conv2d"]


def conv2d_unfold(x: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1,
                  padding=0, dilation=1) -> Tensor:
    """Same result as ``F.conv2d(x, weight, bias, stride, padding, dilation)``.

    x (N, C, H, W), weight (O, C, kh, kw), bias (O,) -> (N, O, Ho, Wo), with
    Ho = (H + 2*ph - dh*(kh-1) - 1) // sh + 1 (and likewise Wo).
    """
    if x.dim() != 4 or weight.dim() != 4 or x.shape[1] != weight.shape[1]:
        raise ValueError(
            "conv2d_unfold: expected x (N, C, H, W) and weight (O, C, kh, kw) with "
            f"the same C, got x {tuple(x.shape)}, weight {tuple(weight.shape)}"
        )
    stride, padding, dilation = _pair(stride), _pair(padding), _pair(dilation)
    N, C, H, W = x.shape
    O, _, kh, kw = weight.shape
    Ho = (H + 2 * padding[0] - dilation[0] * (kh - 1) - 1) // stride[0] + 1
    Wo = (W + 2 * padding[1] - dilation[1] * (kw - 1) - 1) // stride[1] + 1
    if Ho <= 0 or Wo <= 0:
        raise ValueError(
            f"conv2d_unfold: kernel {kh}x{kw} (dilation {dilation}) does not fit the "
            f"padded input {H + 2 * padding[0]}x{W + 2 * padding[1]}"
        )
    cols = F.unfold(x, (kh, kw), dilation=dilation, padding=padding, stride=stride)
    # cols: (N, C*kh*kw, P), one receptive field per column
    out = weight.view(O, C * kh * kw) @ cols  # (O, C*kh*kw) @ (N, C*kh*kw, P)
    # out: (N, O, P)
    if bias is not None:
        out = out + bias.view(1, O, 1)
    return out.view(N, O, Ho, Wo)  # (N, O, Ho, Wo)


class Conv2d(nn.Module):
    """``torch.nn.Conv2d`` (no groups) computed by :func:`conv2d_unfold`.

    Same constructor arguments, parameter names, shapes and initialisation
    (Kaiming-uniform with a=sqrt(5), He et al. 2015), so weights load both ways.
    """

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0,
                 dilation=1, bias=True, device=None, dtype=None):
        super().__init__()
        kw = {"device": device, "dtype": dtype}
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size = _pair(kernel_size)
        self.stride, self.padding = _pair(stride), _pair(padding)
        self.dilation = _pair(dilation)
        self.weight = nn.Parameter(
            torch.empty(out_channels, in_channels, *self.kernel_size, **kw))
        if bias:
            self.bias = nn.Parameter(torch.empty(out_channels, **kw))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self):
        # torch's defaults: U(-b, b) with b = 1/sqrt(fan_in) for weight and bias
        nn.init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in = self.weight[0].numel()
            bound = 1.0 / math.sqrt(fan_in)
            nn.init.uniform_(self.bias, -bound, bound)

    def forward(self, x: Tensor) -> Tensor:
        if x.dim() != 4 or x.shape[1] != self.in_channels:
            raise ValueError(
                f"Conv2d: expected input (N, {self.in_channels}, H, W), "
                f"got {tuple(x.shape)}"
            )
        return conv2d_unfold(x, self.weight, self.bias, self.stride, self.padding,
                             self.dilation)

    def extra_repr(self):
        s = (f"{self.in_channels}, {self.out_channels}, "
             f"kernel_size={self.kernel_size}, stride={self.stride}")
        if self.padding != (0, 0):
            s += f", padding={self.padding}"
        if self.dilation != (1, 1):
            s += f", dilation={self.dilation}"
        return s if self.bias is not None else s + ", bias=False"
