"""Root-mean-square layer normalisation (RMSNorm, Zhang & Sennrich 2019).

LayerNorm centres each vector on its mean, divides by its standard deviation,
then scales and shifts: ``(x - mean) / sqrt(var + eps) * weight + bias``.
RMSNorm keeps only the division, by the root mean square, and the scale:
``x / sqrt(mean(x^2) + eps) * weight``. For a vector of mean zero the two are
the same (the RMS is then the standard deviation). LLaMA, Mistral and most
language models since 2023 use it in place of LayerNorm.

Mirrors ``torch.nn.RMSNorm`` (torch >= 2.4): the same constructor, parameter
name (``weight``, initialised to ones), state_dict and default ``eps``.
"""

from __future__ import annotations

import numbers

import torch
from torch import Tensor, nn


class RMSNorm(nn.Module):
    """``y = x / sqrt(mean(x^2) + eps) * weight`` over the last dimensions of x.

    Args:
        normalized_shape: The trailing shape to normalise over (an int means
            the last dimension), e.g. ``n_embd``.
        eps: Added to the mean square before the root. None (torch's default)
            uses ``torch.finfo(x.dtype).eps`` of the input.
        elementwise_affine: Learn a gain ``weight`` of ``normalized_shape``,
            initialised to ones. There is no bias.
        device: Where to create the weight.
        dtype: The weight's dtype.

    Shapes: x ``(..., *normalized_shape)`` -> y of the same shape and dtype.
    """

    def __init__(self, normalized_shape, eps: float | None = None,
                 elementwise_affine: bool = True, device=None, dtype=None):
        super().__init__()
        if isinstance(normalized_shape, numbers.Integral):
            normalized_shape = (normalized_shape,)
        self.normalized_shape = tuple(normalized_shape)
        self.eps = eps
        self.elementwise_affine = elementwise_affine
        if elementwise_affine:
            self.weight = nn.Parameter(torch.ones(self.normalized_shape,
                                                  device=device, dtype=dtype))
        else:
            self.register_parameter("weight", None)

    def forward(self, x: Tensor) -> Tensor:
        """Normalise x ``(..., *normalized_shape)`` by its root mean square.

        Args:
            x: Input whose trailing dimensions equal ``normalized_shape``.

        Returns:
            Tensor of x's shape: every vector divided by its RMS, times weight.
        """
        n = len(self.normalized_shape)
        if tuple(x.shape[-n:]) != self.normalized_shape:
            raise ValueError(
                f"RMSNorm: expected an input whose last dimensions are "
                f"{self.normalized_shape}, got shape {tuple(x.shape)}"
            )
        eps = torch.finfo(x.dtype).eps if self.eps is None else self.eps
        dims = tuple(range(-n, 0))
        ms = x.pow(2).mean(dim=dims, keepdim=True)  # (..., 1, ..., 1): mean square
        y = x * torch.rsqrt(ms + eps)  # no mean subtracted: the RMS, not the std
        return y if self.weight is None else y * self.weight

    def extra_repr(self) -> str:
        return (f"{self.normalized_shape}, eps={self.eps}, "
                f"elementwise_affine={self.elementwise_affine}")
