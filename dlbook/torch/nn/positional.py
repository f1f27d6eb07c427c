"""Sinusoidal positional encoding (Vaswani et al. 2017, section 3.5).

PE[pos, 2i] = sin(pos / 10000^(2i/d)),  PE[pos, 2i+1] = cos(pos / 10000^(2i/d)).
Each pair of columns is a rotation at its own frequency, so PE[pos + k] is a fixed
linear function of PE[pos]: relative offsets are easy for attention to read off.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

__all__ = ["sinusoidal_positional_encoding", "SinusoidalPositionalEncoding"]


def sinusoidal_positional_encoding(max_len: int, d_model: int, base: float = 10000.0,
                                   device=None, dtype=None) -> Tensor:
    """The (max_len, d_model) table; every entry lies in [-1, 1].

    Row 0 is (0, 1, 0, 1, ...): sin(0) in even columns, cos(0) in odd ones. An odd
    ``d_model`` keeps the last sine column and drops its cosine partner.
    """
    if max_len <= 0 or d_model <= 0:
        raise ValueError(
            "sinusoidal_positional_encoding: max_len and d_model must be positive, "
            f"got max_len={max_len}, d_model={d_model}"
        )
    dtype = dtype or torch.get_default_dtype()
    # compute in float64 so long tables stay accurate, then cast
    pos = torch.arange(max_len, dtype=torch.float64, device=device)[:, None]
    two_i = torch.arange(0, d_model, 2, dtype=torch.float64, device=device)
    freq = torch.exp(-math.log(base) * two_i / d_model)  # 1 / base^(2i/d)
    angle = pos * freq  # (max_len, ceil(d/2))
    pe = torch.zeros(max_len, d_model, dtype=torch.float64, device=device)
    pe[:, 0::2] = torch.sin(angle)
    pe[:, 1::2] = torch.cos(angle[:, : d_model // 2])
    return pe.to(dtype)


class SinusoidalPositionalEncoding(nn.Module):
    """Adds the sinusoidal table to x of shape (..., T, d_model), then dropout.

    The table is a buffer (it moves with ``.to(device)``) but not part of the
    ``state_dict``: it is a fixed function, not something learned.
    """

    def __init__(self, d_model: int, max_len: int = 5000, dropout: float = 0.0):
        super().__init__()
        self.d_model, self.max_len = d_model, max_len
        self.dropout = nn.Dropout(dropout)
        self.register_buffer(
            "pe", sinusoidal_positional_encoding(max_len, d_model), persistent=False
        )

    def forward(self, x: Tensor) -> Tensor:
        if x.dim() < 2 or x.shape[-1] != self.d_model or x.shape[-2] > self.max_len:
            raise ValueError(
                f"SinusoidalPositionalEncoding: expected input (..., T, "
                f"{self.d_model}) with T <= max_len={self.max_len}, "
                f"got {tuple(x.shape)}"
            )
        T = x.shape[-2]
        return self.dropout(x + self.pe[:T].to(x.dtype))

    def extra_repr(self):
        return f"d_model={self.d_model}, max_len={self.max_len}"
