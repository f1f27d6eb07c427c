"""A pre-norm Transformer block (Vaswani et al. 2017; pre-norm as in GPT-2,
Radford et al. 2019, and Xiong et al. 2020):

    x = x + attn(ln1(x))
    x = x + mlp(ln2(x))

Normalising *before* each sublayer leaves the residual path an identity, which is
what lets deep stacks train without learning-rate warm-up tricks.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from .attention import MultiheadAttention

__all__ = ["TransformerBlock"]


class TransformerBlock(nn.Module):
    """Pre-norm block on (N, T, d_model) inputs (batch first).

    ``causal=True`` lets position t attend to positions <= t only (a decoder/GPT
    block). The MLP widens to ``mlp_ratio * d_model`` with GELU (Hendrycks &
    Gimpel 2016), as in GPT-2.
    """

    def __init__(self, d_model: int, n_head: int, dropout: float = 0.0,
                 causal: bool = False, bias: bool = True, mlp_ratio: int = 4):
        super().__init__()
        self.d_model, self.n_head, self.causal = d_model, n_head, causal
        self.ln1 = nn.LayerNorm(d_model, bias=bias)
        self.attn = MultiheadAttention(d_model, n_head, dropout=dropout, bias=bias,
                                       batch_first=True)
        self.ln2 = nn.LayerNorm(d_model, bias=bias)
        self.mlp = nn.Sequential(
            nn.Linear(d_model, mlp_ratio * d_model, bias=bias),
            nn.GELU(),
            nn.Linear(mlp_ratio * d_model, d_model, bias=bias),
            nn.Dropout(dropout),
        )

    def forward(self, x: Tensor, attn_mask: Tensor | None = None,
                key_padding_mask: Tensor | None = None) -> Tensor:
        """x (N, T, d_model) -> (N, T, d_model). Masks as in MultiheadAttention
        (True = forbidden); ``attn_mask`` replaces the causal mask if given."""
        if x.dim() != 3 or x.shape[-1] != self.d_model:
            raise ValueError(
                f"TransformerBlock: expected input (N, T, {self.d_model}), "
                f"got {tuple(x.shape)}"
            )
        h = self.ln1(x)
        if attn_mask is None and self.causal:
            T = x.shape[1]
            attn_mask = torch.ones(T, T, dtype=torch.bool, device=x.device).triu(1)
        a, _ = self.attn(h, h, h, key_padding_mask=key_padding_mask,
                         attn_mask=attn_mask, need_weights=False)
        x = x + a
        return x + self.mlp(self.ln2(x))

    def extra_repr(self):
        return f"d_model={self.d_model}, n_head={self.n_head}, causal={self.causal}"
