"""``MultiheadAttention`` (Vaswani et al., 2017), as ``torch.nn.MultiheadAttention``.

    Attention(Q, K, V) = softmax(Q K^T / sqrt(d) + mask) V,   d = E / num_heads

computed for ``num_heads`` heads in parallel, each on its own d-dimensional
slice of the projected Q, K and V, then concatenated and projected by
``out_proj``. Parameters carry torch's names and layouts (``in_proj_weight``
(3E, E) stacks W_q, W_k, W_v; ``in_proj_bias`` (3E,); ``out_proj.weight`` and
``out_proj.bias``), so a torch ``state_dict`` loads unchanged.

Letters used in shape comments::

    N batch, L target (query) length, S source (key/value) length,
    E embed_dim, h num_heads, d = E // h head dimension.

Internally everything runs batch first, (N, L, E).
"""

from __future__ import annotations

import math

import numpy as np

from . import init
from .dropout import dropout_mask
from .functional import softmax
from .linear import Linear
from .module import Module, Parameter


def multi_head_attention_naive(query, key, value, in_proj_weight, in_proj_bias,
                               out_proj_weight, out_proj_bias, num_heads,
                               attn_mask=None):
    """The idea of ``MultiheadAttention``, written plainly, one head at a time.

    query (N, L, E), key and value (N, S, E), batch first; weights in torch's
    layouts (``in_proj_weight`` (3E, E) stacks W_q, W_k, W_v); ``attn_mask``
    (L, S) bool, True = may not attend. Returns (output (N, L, E), weights
    (N, L, S) averaged over heads). No dropout and no cache; a test checks that
    ``MultiheadAttention`` agrees with it.
    """
    E = query.shape[-1]
    d = E // num_heads  # each head works in its own d-dimensional subspace
    w_q, w_k, w_v = np.split(in_proj_weight, 3)
    b_q, b_k, b_v = np.split(in_proj_bias, 3) if in_proj_bias is not None else (0, 0, 0)
    q, k, v = query @ w_q.T + b_q, key @ w_k.T + b_k, value @ w_v.T + b_v
    heads, weights = [], 0.0
    for j in range(num_heads):
        cols = slice(j * d, (j + 1) * d)
        scores = q[..., cols] @ k[..., cols].transpose(0, 2, 1) / math.sqrt(d)
        if attn_mask is not None:
            scores = np.where(attn_mask, -np.inf, scores)  # (N, L, S)
        a = softmax(scores, dim=-1)  # each query's weights over the keys sum to 1
        heads.append(a @ v[..., cols])  # (N, L, d)
        weights = weights + a / num_heads
    ctx = np.concatenate(heads, axis=-1)  # (N, L, E): the heads side by side
    out = ctx @ out_proj_weight.T
    if out_proj_bias is not None:
        out = out + out_proj_bias
    return out, weights


class MultiheadAttention(Module):
    """Multi-head scaled dot-product attention with torch's parameters and masks.

    Usage::

        forward(query, key, value, key_padding_mask=None, need_weights=True,
                attn_mask=None, average_attn_weights=True, is_causal=False)
            -> (attn_output, weights)
            query (L, N, E), key and value (S, N, E); with ``batch_first=True``
            (N, L, E) and (N, S, E); unbatched (L, E) and (S, E).
            attn_output has the query's shape; weights (N, L, S) averaged over
            heads, or (N, h, L, S) with ``average_attn_weights=False``, or None
            with ``need_weights=False``.
            key_padding_mask (N, S): True (or -inf) marks padding keys to ignore.
            attn_mask (L, S) or (N*h, L, S): True = not allowed to attend; a float
            mask is added to the scores (e.g. -inf above the diagonal: causal).

        backward(grad_output) -> (grad_query, grad_key, grad_value), each in the
        layout of its input. For self-attention, where one array x was passed as
        query, key and value, the gradient of x is the sum of the three.
    """

    _int_input = "refuse"

    def __init__(self, embed_dim: int, num_heads: int, dropout: float = 0.0,
                 bias: bool = True, add_bias_kv: bool = False,
                 add_zero_attn: bool = False, kdim=None, vdim=None,
                 batch_first: bool = False, *, dtype=np.float32, rng=None):
        super().__init__()
        if embed_dim <= 0 or num_heads <= 0 or embed_dim % num_heads:
            raise ValueError(
                f"MultiheadAttention: embed_dim ({embed_dim}) must be a positive "
                f"multiple of num_heads ({num_heads})"
            )
        if not 0.0 <= dropout <= 1.0:
            raise ValueError(f"MultiheadAttention: dropout must be in [0, 1], got "
                             f"{dropout}")
        if add_bias_kv or add_zero_attn or kdim not in (None, embed_dim) or \
                vdim not in (None, embed_dim):
            raise NotImplementedError(
                "MultiheadAttention: add_bias_kv, add_zero_attn and kdim/vdim other "
                "than embed_dim are not implemented in dlbook.numpy"
            )
        self.embed_dim, self.num_heads = embed_dim, num_heads
        self.head_dim = embed_dim // num_heads
        self.dropout, self.batch_first, self.rng = dropout, batch_first, rng
        E = embed_dim
        # torch: Xavier-uniform on the stacked (3E, E) matrix, zero biases
        self.in_proj_weight = Parameter(np.empty((3 * E, E), dtype=dtype))
        init.xavier_uniform_(self.in_proj_weight, rng=rng)
        if bias:
            self.in_proj_bias = Parameter(np.zeros(3 * E, dtype=dtype))
        else:
            self.in_proj_bias = None
        self.out_proj = Linear(E, E, bias=bias, dtype=dtype, rng=rng)
        if bias:
            init.zeros_(self.out_proj.bias)

    # ---- input checks ---------------------------------------------------------
    def _check_inputs(self, query, key, value):
        """Return query, key, value batch first: (N, L, E), (N, S, E), (N, S, E)."""
        E = self.embed_dim
        arrays = []
        for what, a in (("query", query), ("key", key), ("value", value)):
            a = np.asarray(a)
            if not np.issubdtype(a.dtype, np.floating):
                raise TypeError(f"MultiheadAttention: expected a floating-point "
                                f"{what}, got dtype {a.dtype}")
            if a.ndim not in (2, 3) or a.shape[-1] != E:
                layout = "(N, len, E)" if self.batch_first else "(len, N, E)"
                raise ValueError(
                    f"MultiheadAttention(embed_dim={E}): expected {what} of shape "
                    f"{layout} with E={E} (batch_first={self.batch_first}) or "
                    f"unbatched (len, {E}), got {a.shape}"
                )
            arrays.append(a)
        q, k, v = arrays
        if not q.ndim == k.ndim == v.ndim:
            raise ValueError(
                f"MultiheadAttention: query, key and value must all be batched (3-D) "
                f"or all unbatched (2-D), got shapes {q.shape}, {k.shape}, {v.shape}"
            )
        batched = q.ndim == 3
        if not batched:
            q, k, v = q[None], k[None], v[None]  # (1, len, E)
        elif not self.batch_first:
            q, k, v = (a.transpose(1, 0, 2) for a in (q, k, v))  # (N, len, E)
        if k.shape != v.shape:
            raise ValueError(f"MultiheadAttention: key and value must have the same "
                             f"shape, got {key.shape} and {value.shape}")
        if q.shape[0] != k.shape[0]:
            raise ValueError(f"MultiheadAttention: query and key have different batch "
                             f"sizes, {q.shape[0]} and {k.shape[0]}")
        return q, k, v, batched

    def _mask_bias(self, key_padding_mask, attn_mask, N, L, S, batched, dtype):
        """Both masks as one additive float array broadcastable to (N, h, L, S)."""
        h = self.num_heads
        bias = None
        if attn_mask is not None:
            m = self._as_additive(attn_mask, "attn_mask", dtype)
            if m.shape == (L, S):
                m = m[None, None]  # (1, 1, L, S): the same mask for every sequence
            elif batched and m.shape == (N * h, L, S):
                m = m.reshape(N, h, L, S)  # torch's order: index = n * h + head
            elif not batched and m.shape == (h, L, S):
                m = m[None]  # (1, h, L, S)
            else:
                want = f"({L}, {S}) or ({N * h}, {L}, {S})" if batched else \
                    f"({L}, {S}) or ({h}, {L}, {S})"
                raise ValueError(
                    f"MultiheadAttention: expected attn_mask of shape {want} "
                    f"(L, S) or (N*num_heads, L, S), got {m.shape}"
                )
            bias = m
        if key_padding_mask is not None:
            m = self._as_additive(key_padding_mask, "key_padding_mask", dtype)
            want = (N, S) if batched else (S,)
            if m.shape != want:
                raise ValueError(
                    f"MultiheadAttention: expected key_padding_mask of shape (N, S) = "
                    f"{want}, got {m.shape}"
                )
            m = m.reshape(N, 1, 1, S)  # (N, 1, 1, S): hides keys for every query
            bias = m if bias is None else bias + m
        return bias

    @staticmethod
    def _as_additive(mask, what, dtype):
        mask = np.asarray(mask)
        if mask.dtype == np.bool_:
            return np.where(mask, -np.inf, 0.0).astype(dtype)  # True = masked out
        if np.issubdtype(mask.dtype, np.floating):
            return mask.astype(dtype, copy=False)
        raise TypeError(f"MultiheadAttention: {what} must be bool (True = masked) or "
                        f"float (added to the scores), got dtype {mask.dtype}")

    # ---- forward --------------------------------------------------------------
    def forward(self, query, key, value, key_padding_mask=None, need_weights=True,
                attn_mask=None, average_attn_weights=True, is_causal=False):
        # is_causal is a hint in torch: the mask must still be given, and it is
        # what is applied, except where torch's fast kernel takes over (no
        # key_padding_mask, need_weights=False): that one applies the causal mask
        # itself, whatever attn_mask says
        if is_causal and attn_mask is None:
            raise ValueError(
                "MultiheadAttention: is_causal=True needs attn_mask too (as in torch), "
                "e.g. np.triu(np.ones((L, L), dtype=bool), k=1)"
            )
        self_attention = query is key and key is value
        q_in, k_in, v_in, batched = self._check_inputs(query, key, value)
        N, L, E = q_in.shape
        S, h, d = k_in.shape[1], self.num_heads, self.head_dim
        if is_causal and key_padding_mask is None and not need_weights:
            self._mask_bias(None, attn_mask, N, L, S, batched, q_in.dtype)  # checks
            attn_mask = np.triu(np.ones((L, S), dtype=bool), k=1)  # True = hidden
        W = self.in_proj_weight.data  # (3E, E): rows W_q | W_k | W_v
        b = None if self.in_proj_bias is None else self.in_proj_bias.data

        if self_attention:
            # one (N*L, E) @ (E, 3E) matmul instead of three
            qkv = q_in.reshape(N * L, E) @ W.T  # (N*L, 3E)
            if b is not None:
                qkv += b
            q, k, v = (qkv[:, j * E:(j + 1) * E].reshape(N, L, E) for j in range(3))
        else:
            q, k, v = (x @ W[j * E:(j + 1) * E].T  # (N, len, E) each
                       for j, x in enumerate((q_in, k_in, v_in)))
            if b is not None:
                q, k, v = q + b[:E], k + b[E:2 * E], v + b[2 * E:]
        q = q.reshape(N, L, h, d).transpose(0, 2, 1, 3)  # (N, h, L, d)
        k = k.reshape(N, S, h, d).transpose(0, 2, 1, 3)  # (N, h, S, d)
        v = v.reshape(N, S, h, d).transpose(0, 2, 1, 3)  # (N, h, S, d)

        scale = 1.0 / math.sqrt(d)  # keeps the scores' variance near 1 for any d
        scores = (q @ k.transpose(0, 1, 3, 2)) * scale  # (N, h, L, S)
        bias = self._mask_bias(key_padding_mask, attn_mask, N, L, S, batched,
                               scores.dtype)
        if bias is not None:
            scores = scores + bias  # -inf where masked: exp(-inf) = 0 weight
        attn = softmax(scores, dim=-1)  # (N, h, L, S), each row sums to 1

        drop, attn_d = None, attn
        if self.training and self.dropout > 0:
            drop = dropout_mask(attn.shape, self.dropout, attn.dtype, self.rng)
            attn_d = attn * drop  # torch drops attention weights, after softmax
        ctx = attn_d @ v  # (N, h, L, d)
        ctx = ctx.transpose(0, 2, 1, 3).reshape(N, L, E)  # (N, L, E): heads concat
        out = self.out_proj(ctx)  # (N, L, E)
        # what backward needs (saved per call by Module): the inputs, batch first,
        # for the projection weights' gradients; the per-head q, k, v and the
        # attention weights for the attention itself; the dropout mask
        self.inputs = (q_in, k_in, v_in)
        self.q, self.k, self.v, self.attn, self.drop = q, k, v, attn, drop
        self.batched = batched
        self.w_kind = None if not need_weights else ("mean" if average_attn_weights
                                                      else "per_head")

        if not batched:
            out = out[0]  # (L, E)
        elif not self.batch_first:
            out = out.transpose(1, 0, 2)  # (L, N, E)
        if not need_weights:
            return out, None
        # torch returns the weights after dropout, the ones that multiplied V
        weights = attn_d.mean(axis=1) if average_attn_weights else attn_d
        return out, (weights if batched else weights[0])

    # ---- backward -------------------------------------------------------------
    def backward(self, grad_output, grad_attn_weights=None):
        """grad of attn_output -> (grad_query, grad_key, grad_value).

        ``grad_attn_weights`` optionally adds a gradient for the returned
        weights. A pair ``(grad_output, grad_attn_weights)``, mirroring the
        forward's return value, is accepted as the first argument too.
        """
        if isinstance(grad_output, tuple):
            grad_output, grad_attn_weights = grad_output
        q_in, k_in, v_in = self.inputs
        q, k, v, attn, drop = self.q, self.k, self.v, self.attn, self.drop
        attn_d = attn if drop is None else attn * drop  # the weights that met V
        batched, w_kind = self.batched, self.w_kind
        N, L, E = q_in.shape
        S, h, d = k_in.shape[1], self.num_heads, self.head_dim
        g = np.asarray(grad_output)
        want = (L, E) if not batched else ((N, L, E) if self.batch_first else (L, N, E))
        if g.shape != want:
            raise ValueError(f"MultiheadAttention.backward: expected grad_output of "
                             f"the output's shape {want}, got {g.shape}")
        if not batched:
            g = g[None]
        elif not self.batch_first:
            g = g.transpose(1, 0, 2)  # (N, L, E)

        dctx = self.out_proj.backward(g)  # (N, L, E)
        dctx = dctx.reshape(N, L, h, d).transpose(0, 2, 1, 3)  # (N, h, L, d)
        dattn = dctx @ v.transpose(0, 1, 3, 2)  # (N, h, L, S)
        dv = attn_d.transpose(0, 1, 3, 2) @ dctx  # (N, h, S, d)
        if grad_attn_weights is not None:
            dattn = dattn + self._weights_grad(grad_attn_weights, w_kind, N, L, S,
                                               batched)
        if drop is not None:
            dattn = dattn * drop  # the same mask as forward
        # softmax backward, row by row: ds_j = a_j (da_j - sum_k a_k da_k)
        dscores = attn * (dattn - (dattn * attn).sum(axis=-1, keepdims=True))
        scale = 1.0 / math.sqrt(d)
        dq = (dscores @ k) * scale  # (N, h, L, d)
        dk = (dscores.transpose(0, 1, 3, 2) @ q) * scale  # (N, h, S, d)

        dq = dq.transpose(0, 2, 1, 3).reshape(N * L, E)  # (N*L, E)
        dk = dk.transpose(0, 2, 1, 3).reshape(N * S, E)  # (N*S, E)
        dv = dv.transpose(0, 2, 1, 3).reshape(N * S, E)  # (N*S, E)
        W = self.in_proj_weight.data
        Wg = self.in_proj_weight.grad
        grads = []
        for j, (dp, x) in enumerate(((dq, q_in), (dk, k_in), (dv, v_in))):
            rows = slice(j * E, (j + 1) * E)
            Wg[rows] += dp.T @ x.reshape(-1, E)
            if self.in_proj_bias is not None:
                self.in_proj_bias.grad[rows] += dp.sum(axis=0)
            grads.append((dp @ W[rows]).reshape(x.shape))  # (N, len, E)

        if not batched:
            return tuple(gr[0] for gr in grads)
        if not self.batch_first:
            return tuple(gr.transpose(1, 0, 2) for gr in grads)  # (len, N, E)
        return tuple(grads)

    def _weights_grad(self, g, w_kind, N, L, S, batched):
        """Upstream grad of the returned weights -> grad of attn_d (N, h, L, S)."""
        h = self.num_heads
        if w_kind is None:
            raise ValueError("MultiheadAttention.backward: got grad_attn_weights but "
                             "forward ran with need_weights=False")
        want = (N, L, S) if w_kind == "mean" else (N, h, L, S)
        plain = want if batched else want[1:]
        g = np.asarray(g)
        if g.shape != plain:
            raise ValueError(f"MultiheadAttention.backward: expected grad_attn_weights "
                             f"of shape {plain}, got {g.shape}")
        g = g.reshape(want)
        # the mean over heads spreads its gradient equally over the h heads
        return g[:, None] / h if w_kind == "mean" else g

    def extra_repr(self) -> str:
        s = f"embed_dim={self.embed_dim}, num_heads={self.num_heads}"
        if self.dropout:
            s += f", dropout={self.dropout}"
        if self.in_proj_bias is None:
            s += ", bias=False"
        if self.batch_first:
            s += ", batch_first=True"
        return s
