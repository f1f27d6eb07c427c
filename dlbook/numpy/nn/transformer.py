"""``TransformerEncoderLayer`` and ``TransformerDecoderLayer`` (Vaswani et al., 2017).

Built from the layers of this package with torch's names and layouts, so a torch
``state_dict`` loads unchanged: ``self_attn`` (and the decoder's
``multihead_attn``), ``linear1``, ``linear2``, ``norm1``, ``norm2`` (``norm3``).
Each sublayer is wrapped in a residual connection and a layer norm: after the
sum (post-norm, the 2017 paper, ``norm_first=False``) or before the sublayer
(pre-norm, ``norm_first=True``, Xiong et al., 2020)::

    post-norm:  x = norm1(x + sa(x));        x = norm2(x + ff(x))
    pre-norm:   x = x + sa(norm1(x));        x = x + ff(norm2(x))

    sa(x) = dropout1(self_attn(x, x, x))
    ff(x) = dropout2(linear2(dropout(activation(linear1(x)))))

The backward passes walk the same lines in reverse: a residual sum hands its
gradient to both branches, and the branch gradients add up.

Letters used in shape comments: N batch, S source length, T target length,
E ``d_model``.
"""

from __future__ import annotations

import numpy as np

from .activation import GELU, ReLU
from .attention import MultiheadAttention
from .dropout import Dropout
from .linear import Linear
from .module import Module
from .normalization import LayerNorm

__all__ = ["TransformerEncoderLayer", "TransformerDecoderLayer"]


def _activation(name, layer: str) -> Module:
    """torch accepts 'relu' and 'gelu' or the functions F.relu and F.gelu; dlbook
    those (by name) and its own ReLU/GELU modules, whose backward it knows."""
    if callable(name) and getattr(name, "__name__", None) in ("relu", "gelu"):
        name = name.__name__  # torch.nn.functional.relu / gelu
    if isinstance(name, str) and name in ("relu", "gelu"):
        return ReLU() if name == "relu" else GELU()
    if isinstance(name, (ReLU, GELU)):
        return name
    raise ValueError(f"{layer}: activation must be 'relu' or 'gelu' (or a "
                     f"dlbook.numpy.nn.ReLU/GELU), got {name!r}")


class _TransformerLayer(Module):
    """What the encoder and decoder layers share: the checks, the feed-forward
    block and the residual-plus-norm bookkeeping."""

    _int_input = "refuse"

    def _init_common(self, d_model, nhead, dim_feedforward, dropout, batch_first,
                     norm_first, bias, dtype, rng):
        name = type(self).__name__
        if d_model <= 0 or nhead <= 0 or d_model % nhead:
            raise ValueError(f"{name}: d_model ({d_model}) must be a positive multiple "
                             f"of nhead ({nhead})")
        if dim_feedforward <= 0:
            raise ValueError(f"{name}: dim_feedforward must be positive, got "
                             f"{dim_feedforward}")
        self.d_model, self.nhead, self.batch_first = d_model, nhead, batch_first
        self.norm_first = norm_first
        self.self_attn = MultiheadAttention(d_model, nhead, dropout=dropout, bias=bias,
                                            batch_first=batch_first, dtype=dtype,
                                            rng=rng)
        return dict(bias=bias, dtype=dtype, rng=rng)

    def _init_ff(self, d_model, dim_feedforward, dropout, activation, layer_norm_eps,
                 bias, dtype, rng, norms):
        self.linear1 = Linear(d_model, dim_feedforward, bias=bias, dtype=dtype, rng=rng)
        self.dropout = Dropout(dropout, rng=rng)
        self.linear2 = Linear(dim_feedforward, d_model, bias=bias, dtype=dtype, rng=rng)
        for i in range(1, norms + 1):
            setattr(self, f"norm{i}", LayerNorm(d_model, eps=layer_norm_eps, bias=bias,
                                                dtype=dtype))
        for i in range(1, norms + 1):
            setattr(self, f"dropout{i}", Dropout(dropout, rng=rng))
        self.activation = _activation(activation, type(self).__name__)

    def _check(self, x, what):
        x = np.asarray(x)
        E, name = self.d_model, type(self).__name__
        if not np.issubdtype(x.dtype, np.floating):
            raise TypeError(f"{name}: expected a floating-point {what}, got dtype "
                            f"{x.dtype}")
        if x.ndim not in (2, 3) or x.shape[-1] != E:
            layout = "(N, len, E)" if self.batch_first else "(len, N, E)"
            raise ValueError(f"{name}(d_model={E}): expected {what} of shape {layout} "
                             f"with E={E} (batch_first={self.batch_first}) or "
                             f"unbatched (len, {E}), got {x.shape}")
        return x

    # ---- the two kinds of sublayer, forward and backward -----------------------
    def _ff(self, x):
        """dropout2(linear2(dropout(activation(linear1(x)))))"""
        h = self.dropout(self.activation(self.linear1(x)))  # (..., dim_feedforward)
        return self.dropout2(self.linear2(h))

    def _ff_backward(self, g):
        g = self.linear2.backward(self.dropout2.backward(g))
        return self.linear1.backward(self.activation.backward(self.dropout.backward(g)))

    @staticmethod
    def _attn(attn, drop, x, mem, mask, key_padding_mask, is_causal):
        """drop(attn(x, mem, mem)): self-attention when ``mem`` is ``x``."""
        out, _ = attn(x, mem, mem, key_padding_mask=key_padding_mask,
                      need_weights=False, attn_mask=mask, is_causal=is_causal)
        return drop(out)

    @staticmethod
    def _attn_backward(attn, drop, g):
        """-> (grad of the query, grad of the keys/values' source)"""
        dq, dk, dv = attn.backward(drop.backward(g))
        return dq, dk + dv

    def _sublayer(self, x, norm, fn):
        """One residual sublayer, post- or pre-norm: fn maps (its input) -> out."""
        if self.norm_first:
            return x + fn(norm(x))
        return norm(x + fn(x))

    def _sublayer_backward(self, g, norm, fn_backward):
        """Reverse of ``_sublayer``; fn_backward maps d out -> d (its input)."""
        if self.norm_first:  # x + fn(norm(x)): both paths reach x
            return g + norm.backward(fn_backward(g))
        g = norm.backward(g)  # norm(x + fn(x))
        return g + fn_backward(g)

    def extra_repr(self):
        s = (f"d_model={self.d_model}, nhead={self.nhead}, dim_feedforward="
             f"{self.linear1.out_features}, dropout={self.dropout.p}")
        if self.batch_first:
            s += ", batch_first=True"
        if self.norm_first:
            s += ", norm_first=True"
        return s


class TransformerEncoderLayer(_TransformerLayer):
    """Self-attention then a feed-forward block, as ``torch.nn.TransformerEncoderLayer``.

    forward(src, src_mask=None, src_key_padding_mask=None, is_causal=False) -> same
    shape as src: (S, N, E), (N, S, E) with ``batch_first=True``, or unbatched
    (S, E). Masks as in :class:`MultiheadAttention` (bool True = may not attend,
    or float added to the scores); ``is_causal`` is torch's hint that
    ``src_mask`` is the causal mask (it must still be given).

    backward(grad_output) -> grad of src.
    """

    def __init__(self, d_model: int, nhead: int, dim_feedforward: int = 2048,
                 dropout: float = 0.1, activation="relu", layer_norm_eps: float = 1e-5,
                 batch_first: bool = False, norm_first: bool = False, bias: bool = True,
                 *, dtype=np.float32, rng=None):
        super().__init__()
        kw = self._init_common(d_model, nhead, dim_feedforward, dropout, batch_first,
                               norm_first, bias, dtype, rng)
        self._init_ff(d_model, dim_feedforward, dropout, activation, layer_norm_eps,
                      norms=2, **kw)

    def forward(self, src, src_mask=None, src_key_padding_mask=None,
                is_causal: bool = False):
        x = self._check(src, "src")
        x = self._sublayer(x, self.norm1, lambda h: self._attn(
            self.self_attn, self.dropout1, h, h, src_mask, src_key_padding_mask,
            is_causal))
        return self._sublayer(x, self.norm2, self._ff)

    def backward(self, grad_output):
        g = self._sublayer_backward(np.asarray(grad_output), self.norm2,
                                    self._ff_backward)
        return self._sublayer_backward(g, self.norm1, lambda g: sum(
            self._attn_backward(self.self_attn, self.dropout1, g)))


class TransformerDecoderLayer(_TransformerLayer):
    """Self-attention, cross-attention to ``memory``, then a feed-forward block, as
    ``torch.nn.TransformerDecoderLayer``.

    forward(tgt, memory, tgt_mask=None, memory_mask=None, tgt_key_padding_mask=None,
    memory_key_padding_mask=None, tgt_is_causal=False, memory_is_causal=False)
    -> same shape as tgt: (T, N, E) with memory (S, N, E); batch first with
    ``batch_first=True``; unbatched (T, E) and (S, E).

    backward(grad_output) -> (grad of tgt, grad of memory).
    """

    def __init__(self, d_model: int, nhead: int, dim_feedforward: int = 2048,
                 dropout: float = 0.1, activation="relu", layer_norm_eps: float = 1e-5,
                 batch_first: bool = False, norm_first: bool = False, bias: bool = True,
                 *, dtype=np.float32, rng=None):
        super().__init__()
        kw = self._init_common(d_model, nhead, dim_feedforward, dropout, batch_first,
                               norm_first, bias, dtype, rng)
        self.multihead_attn = MultiheadAttention(d_model, nhead, dropout=dropout,
                                                 batch_first=batch_first, **kw)
        self._init_ff(d_model, dim_feedforward, dropout, activation, layer_norm_eps,
                      norms=3, **kw)

    def forward(self, tgt, memory, tgt_mask=None, memory_mask=None,
                tgt_key_padding_mask=None, memory_key_padding_mask=None,
                tgt_is_causal: bool = False, memory_is_causal: bool = False):
        x, mem = self._check(tgt, "tgt"), self._check(memory, "memory")
        if x.ndim != mem.ndim:
            raise ValueError(f"TransformerDecoderLayer: tgt and memory must both be "
                             f"batched (3-D) or both unbatched (2-D), got {x.shape} "
                             f"and {mem.shape}")
        x = self._sublayer(x, self.norm1, lambda h: self._attn(
            self.self_attn, self.dropout1, h, h, tgt_mask, tgt_key_padding_mask,
            tgt_is_causal))
        x = self._sublayer(x, self.norm2, lambda h: self._attn(
            self.multihead_attn, self.dropout2, h, mem, memory_mask,
            memory_key_padding_mask, memory_is_causal))
        return self._sublayer(x, self.norm3, self._ff3)

    def _ff3(self, x):  # the decoder's feed-forward block ends in dropout3
        h = self.dropout(self.activation(self.linear1(x)))
        return self.dropout3(self.linear2(h))

    def _ff3_backward(self, g):
        g = self.linear2.backward(self.dropout3.backward(g))
        return self.linear1.backward(self.activation.backward(self.dropout.backward(g)))

    def backward(self, grad_output):
        g = self._sublayer_backward(np.asarray(grad_output), self.norm3,
                                    self._ff3_backward)
        d_mem = []  # the cross-attention also sends a gradient to the memory

        def cross_backward(g):
            dq, dm = self._attn_backward(self.multihead_attn, self.dropout2, g)
            d_mem.append(dm)
            return dq

        g = self._sublayer_backward(g, self.norm2, cross_backward)
        g = self._sublayer_backward(g, self.norm1, lambda g: sum(
            self._attn_backward(self.self_attn, self.dropout1, g)))
        return g, d_mem[0]
