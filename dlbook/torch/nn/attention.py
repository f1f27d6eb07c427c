"""Attention written out: softmax(Q K^T / sqrt(d)) V, then multi-head attention.

``scaled_dot_product_attention_naive`` is the formula of Vaswani et al. 2017
(Attention Is All You Need, eq. 1) in four lines; ``scaled_dot_product_attention``
is the fused kernel (FlashAttention, Dao et al. 2022, on a recent GPU) that a real
model calls. They take the same arguments and the tests assert they agree.

``MultiheadAttention`` mirrors ``torch.nn.MultiheadAttention``: same constructor,
parameter names (``in_proj_weight``, ``in_proj_bias``, ``out_proj.weight``,
``out_proj.bias``), init, ``batch_first`` and mask conventions.

Letters in shape comments: N batch, L target (query) length, S source (key)
length, E embedding size, nh heads, hs head size (E // nh).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = [
    "scaled_dot_product_attention_naive",
    "scaled_dot_product_attention",
    "MultiheadAttention",
]


def _sdpa_mask(L, S, attn_mask, is_causal, dtype, device):
    """Turn torch's SDPA mask conventions into one additive float mask (or None).

    SDPA's boolean mask says where attention is *allowed* (True = take part);
    a float mask is added to the scores.
    """
    if is_causal:
        if attn_mask is not None:
            raise ValueError(
                "scaled_dot_product_attention: pass attn_mask or is_causal=True, "
                "not both (as in torch)"
            )
        # top-left aligned lower triangle, as torch builds it when L != S
        attn_mask = torch.ones(L, S, dtype=torch.bool, device=device).tril()
    if attn_mask is None:
        return None
    if attn_mask.dtype == torch.bool:
        return torch.zeros(attn_mask.shape, dtype=dtype, device=device).masked_fill(
            ~attn_mask, float("-inf")
        )
    return attn_mask.to(dtype)


def _attention(q, k, v, mask, dropout_p, scale):
    """The formula itself; returns the output and the attention weights."""
    scores = (q @ k.transpose(-2, -1)) * scale  # (..., L, S)
    if mask is not None:
        scores = scores + mask
    weights = torch.softmax(scores, dim=-1)  # (..., L, S), rows sum to 1
    if dropout_p > 0.0:
        weights = F.dropout(weights, dropout_p, training=True)
    return weights @ v, weights  # (..., L, Ev), (..., L, S)


def scaled_dot_product_attention_naive(
    q: Tensor,
    k: Tensor,
    v: Tensor,
    attn_mask: Tensor | None = None,
    is_causal: bool = False,
    dropout_p: float = 0.0,
    scale: float | None = None,
) -> Tensor:
    """softmax(q k^T / sqrt(d) + mask) v, written out (Vaswani et al. 2017, eq. 1).

    q (..., L, E), k (..., S, E), v (..., S, Ev) -> (..., L, Ev). ``attn_mask`` is
    boolean (True = may attend) or float (added to the scores), broadcastable to
    (..., L, S); ``is_causal`` lets position i see positions <= i only. Same
    arguments and conventions as ``torch.nn.functional.scaled_dot_product_attention``;
    it materialises the (L, S) score matrix, which the fused kernel never does.
    """
    if q.shape[-1] != k.shape[-1] or k.shape[-2] != v.shape[-2]:
        raise ValueError(
            "scaled_dot_product_attention_naive: expected q (..., L, E), "
            "k (..., S, E), v (..., S, Ev); got q "
            f"{tuple(q.shape)}, k {tuple(k.shape)}, v {tuple(v.shape)}"
        )
    L, S = q.shape[-2], k.shape[-2]
    scale = 1.0 / math.sqrt(q.shape[-1]) if scale is None else scale
    mask = _sdpa_mask(L, S, attn_mask, is_causal, q.dtype, q.device)
    return _attention(q, k, v, mask, dropout_p, scale)[0]


def scaled_dot_product_attention(
    q: Tensor,
    k: Tensor,
    v: Tensor,
    attn_mask: Tensor | None = None,
    is_causal: bool = False,
    dropout_p: float = 0.0,
    scale: float | None = None,
) -> Tensor:
    """The fast path: ``torch.nn.functional.scaled_dot_product_attention``.

    Same arguments as :func:`scaled_dot_product_attention_naive`. On a GPU it
    dispatches to FlashAttention or memory-efficient attention, which never store
    the (L, S) matrix, so memory grows linearly in sequence length.
    """
    return F.scaled_dot_product_attention(
        q, k, v, attn_mask=attn_mask, dropout_p=dropout_p, is_causal=is_causal,
        scale=scale,
    )


class MultiheadAttention(nn.Module):
    """Multi-head attention (Vaswani et al. 2017, section 3.2.2) from matmuls.

    Arguments, parameters, init and mask conventions are ``torch.nn.
    MultiheadAttention``'s. Unlike ``attn_mask`` of SDPA, a boolean ``attn_mask``
    or ``key_padding_mask`` here marks positions that may NOT be attended (True =
    masked), as in torch. ``is_causal=True`` is only a hint that ``attn_mask`` is
    the causal mask, as in torch: without a mask it raises.
    """

    def __init__(self, embed_dim, num_heads, dropout=0.0, bias=True,
                 add_bias_kv=False, add_zero_attn=False, kdim=None, vdim=None,
                 batch_first=False, device=None, dtype=None):
        super().__init__()
        if embed_dim <= 0 or num_heads <= 0 or embed_dim % num_heads:
            raise ValueError(
                "MultiheadAttention: embed_dim must be a positive multiple of "
                f"num_heads, got embed_dim={embed_dim}, num_heads={num_heads}"
            )
        kw = {"device": device, "dtype": dtype}
        self.embed_dim, self.num_heads = embed_dim, num_heads
        self.head_dim = embed_dim // num_heads
        self.kdim = kdim if kdim is not None else embed_dim
        self.vdim = vdim if vdim is not None else embed_dim
        self._qkv_same_embed_dim = self.kdim == embed_dim and self.vdim == embed_dim
        self.dropout, self.batch_first = dropout, batch_first
        self.add_zero_attn = add_zero_attn
        E = embed_dim
        # same registration order as torch, so that one seed gives the same init
        if self._qkv_same_embed_dim:
            # Q, K and V projections stacked: one (3E, E) matmul for self-attention
            self.in_proj_weight = nn.Parameter(torch.empty(3 * E, E, **kw))
            self.register_parameter("q_proj_weight", None)
            self.register_parameter("k_proj_weight", None)
            self.register_parameter("v_proj_weight", None)
        else:
            self.q_proj_weight = nn.Parameter(torch.empty(E, E, **kw))
            self.k_proj_weight = nn.Parameter(torch.empty(E, self.kdim, **kw))
            self.v_proj_weight = nn.Parameter(torch.empty(E, self.vdim, **kw))
            self.register_parameter("in_proj_weight", None)
        if bias:
            self.in_proj_bias = nn.Parameter(torch.empty(3 * E, **kw))
        else:
            self.register_parameter("in_proj_bias", None)
        self.out_proj = nn.Linear(E, E, bias=bias, **kw)
        if add_bias_kv:
            self.bias_k = nn.Parameter(torch.empty(1, 1, E, **kw))
            self.bias_v = nn.Parameter(torch.empty(1, 1, E, **kw))
        else:
            self.bias_k = self.bias_v = None
        self._reset_parameters()

    def _reset_parameters(self):
        if self._qkv_same_embed_dim:
            nn.init.xavier_uniform_(self.in_proj_weight)
        else:
            nn.init.xavier_uniform_(self.q_proj_weight)
            nn.init.xavier_uniform_(self.k_proj_weight)
            nn.init.xavier_uniform_(self.v_proj_weight)
        if self.in_proj_bias is not None:
            nn.init.zeros_(self.in_proj_bias)
            nn.init.zeros_(self.out_proj.bias)
        if self.bias_k is not None:
            nn.init.xavier_normal_(self.bias_k)
            nn.init.xavier_normal_(self.bias_v)

    def _projections(self):
        E = self.embed_dim
        if self._qkv_same_embed_dim:
            w_q, w_k, w_v = self.in_proj_weight.split(E)  # 3 x (E, E)
        else:
            w_q, w_k, w_v = self.q_proj_weight, self.k_proj_weight, self.v_proj_weight
        if self.in_proj_bias is None:
            return (w_q, None), (w_k, None), (w_v, None)
        b_q, b_k, b_v = self.in_proj_bias.split(E)  # 3 x (E,)
        return (w_q, b_q), (w_k, b_k), (w_v, b_v)

    def _check(self, query, key, value):
        batched = query.dim() == 3
        if query.dim() not in (2, 3) or key.dim() != query.dim() \
                or value.dim() != query.dim():
            raise ValueError(
                "MultiheadAttention: expected query, key, value all 3-D (batched) "
                f"or all 2-D (unbatched), got {tuple(query.shape)}, "
                f"{tuple(key.shape)}, {tuple(value.shape)}"
            )
        for name, t, size in [("query", query, self.embed_dim),
                              ("key", key, self.kdim), ("value", value, self.vdim)]:
            if t.shape[-1] != size:
                raise ValueError(
                    f"MultiheadAttention: expected {name} with last dimension "
                    f"{size}, got shape {tuple(t.shape)}"
                )
        if key.shape[:-1] != value.shape[:-1]:
            raise ValueError(
                "MultiheadAttention: key and value must have the same batch and "
                f"sequence sizes, got {tuple(key.shape)} and {tuple(value.shape)}"
            )
        return batched

    def forward(self, query: Tensor, key: Tensor, value: Tensor,
                key_padding_mask: Tensor | None = None, need_weights: bool = True,
                attn_mask: Tensor | None = None, average_attn_weights: bool = True,
                is_causal: bool = False):
        """query (L, N, E), key (S, N, kdim), value (S, N, vdim); (N, ., .) if
        batch_first; 2-D for one unbatched sequence.

        key_padding_mask (N, S): True (or -inf) at padding keys. attn_mask (L, S) or
        (N*nh, L, S): True (or -inf) where attention is forbidden. Returns the
        output in query's layout and the weights, (N, L, S) averaged over heads or
        (N, nh, L, S), or None when ``need_weights=False``.
        """
        batched = self._check(query, key, value)
        if not batched:
            query, key, value = (t.unsqueeze(0) for t in (query, key, value))
            if key_padding_mask is not None:
                key_padding_mask = key_padding_mask.unsqueeze(0)  # (1, S)
        elif not self.batch_first:
            query, key, value = (t.transpose(0, 1) for t in (query, key, value))
        N, L, E = query.shape  # from here on, batch first
        nh, hs = self.num_heads, self.head_dim
        (w_q, b_q), (w_k, b_k), (w_v, b_v) = self._projections()
        q = F.linear(query, w_q, b_q)  # (N, L, E)
        k = F.linear(key, w_k, b_k)  # (N, S, E)
        v = F.linear(value, w_v, b_v)  # (N, S, E)

        mask = self._merge_masks(attn_mask, key_padding_mask, is_causal, N, L,
                                 key.shape[1], batched, q.dtype)  # (N, nh|1, L, S)
        if is_causal and key_padding_mask is None and not need_weights:
            # torch's fast path then takes the hint: the causal mask, whatever
            # attn_mask says (with a padding mask or weights, attn_mask as given)
            causal = torch.ones(L, key.shape[1], dtype=torch.bool,
                                device=q.device).triu(1)  # True = hidden
            mask = _additive(causal.view(1, 1, L, -1), q.dtype)
        if self.bias_k is not None:
            # one learned key/value every query can attend to (extra column)
            k = torch.cat([k, self.bias_k.expand(N, 1, E)], dim=1)  # (N, S+1, E)
            v = torch.cat([v, self.bias_v.expand(N, 1, E)], dim=1)  # (N, S+1, E)
            mask = None if mask is None else F.pad(mask, (0, 1))
        q = q.view(N, L, nh, hs).transpose(1, 2)  # (N, nh, L, hs)
        k = k.view(N, k.shape[1], nh, hs).transpose(1, 2)  # (N, nh, S, hs)
        v = v.view(N, v.shape[1], nh, hs).transpose(1, 2)  # (N, nh, S, hs)
        if self.add_zero_attn:
            # an all-zero key/value: lets a query attend to "nothing"
            k = torch.cat([k, k.new_zeros(N, nh, 1, hs)], dim=2)  # (N, nh, S+1, hs)
            v = torch.cat([v, v.new_zeros(N, nh, 1, hs)], dim=2)  # (N, nh, S+1, hs)
            mask = None if mask is None else F.pad(mask, (0, 1))

        dropout_p = self.dropout if self.training else 0.0
        y, weights = _attention(q, k, v, mask, dropout_p, 1.0 / math.sqrt(hs))
        y = y.transpose(1, 2).reshape(N, L, E)  # (N, L, E): heads side by side
        y = self.out_proj(y)  # (N, L, E)

        if need_weights:
            weights = weights.mean(dim=1) if average_attn_weights else weights
        else:
            weights = None
        if not batched:
            y = y.squeeze(0)  # (L, E)
            weights = None if weights is None else weights.squeeze(0)
        elif not self.batch_first:
            y = y.transpose(0, 1)  # (L, N, E)
        return y, weights

    def _merge_masks(self, attn_mask, key_padding_mask, is_causal, N, L, S, batched,
                     dtype):
        """Both masks as one additive float mask broadcastable to (N, nh, L, S)."""
        nh = self.num_heads
        if attn_mask is None and is_causal:
            raise RuntimeError(
                "MultiheadAttention: is_causal=True is a hint and needs attn_mask too "
                "(as in torch), e.g. torch.ones(L, L, dtype=torch.bool).triu(1)"
            )
        mask = None
        if attn_mask is not None:
            b = N * nh if batched else nh
            ok = tuple(attn_mask.shape) in ((L, S), (b, L, S))
            if not ok:
                want = f"({L}, {S}) or ({N * nh if batched else nh}, {L}, {S})"
                raise ValueError(
                    f"MultiheadAttention: expected attn_mask of shape {want}, got "
                    f"{tuple(attn_mask.shape)}"
                )
            # (L, S) is shared by all; (N*nh, L, S) is one per sequence and head
            if attn_mask.dim() == 2:
                m = attn_mask.view(1, 1, L, S)  # (1, 1, L, S)
            else:
                m = attn_mask.view(N, nh, L, S)  # (N, nh, L, S)
            mask = _additive(m, dtype)
        if key_padding_mask is not None:
            if tuple(key_padding_mask.shape) != (N, S):
                want = (N, S) if batched else (S,)
                got = tuple(key_padding_mask.shape[batched ^ 1:])
                raise ValueError(
                    f"MultiheadAttention: expected key_padding_mask of shape {want},"
                    f" got {got}"
                )
            kpm = _additive(key_padding_mask.view(N, 1, 1, S), dtype)
            mask = kpm if mask is None else mask + kpm
        return mask

    def extra_repr(self):
        s = f"embed_dim={self.embed_dim}, num_heads={self.num_heads}"
        if self.dropout:
            s += f", dropout={self.dropout}"
        if self.batch_first:
            s += ", batch_first=True"
        return s


def _additive(mask, dtype):
    """torch.nn.MultiheadAttention's convention: bool True = forbidden -> -inf."""
    if mask.dtype == torch.bool:
        return torch.zeros(mask.shape, dtype=dtype, device=mask.device).masked_fill(
            mask, float("-inf")
        )
    return mask.to(dtype)
