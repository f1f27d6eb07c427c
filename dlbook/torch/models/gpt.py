"""A GPT language model in one file (Radford et al. 2018, 2019), nanoGPT-style.

token + learned position embeddings -> n_layer pre-norm blocks (causal
self-attention, MLP) -> final LayerNorm -> lm_head, whose weight *is* the token
embedding (weight tying, Press & Wolf 2017). ``GPTConfig.pos_emb`` swaps the
learned positions for the fixed sinusoidal table or for rotary embeddings
(RoPE, Su et al. 2021, ``apply_rope``).

The block of models since LLaMA (Touvron et al. 2023) is three options away:
``norm="rmsnorm"`` (RMSNorm, Zhang & Sennrich 2019, instead of LayerNorm),
``mlp="swiglu"`` (a SiLU-gated MLP, Shazeer 2020, instead of the GELU MLP) and
``n_kv_head`` < ``n_head`` (grouped-query attention, Ainslie et al. 2023: groups
of query heads share one key and value head; ``n_kv_head=1`` is multi-query
attention, Shazeer 2019). The defaults are GPT-2's block.

Decoding: ``GPT.generate`` samples with a KV cache (``KVCache``), temperature,
top-k (``top_k_filter``) and top-p (``top_p_filter``); ``GPT.beam_search``
keeps the ``num_beams`` likeliest continuations.

Letters in shape comments: B batch, T sequence length (<= block_size), P
positions already in the KV cache, C n_embd, nh n_head, nkv n_kv_head, hs head
size (C // nh), H the MLP's hidden width, V vocab_size.
"""

from __future__ import annotations

import inspect
import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from dlbook.torch.nn.positional import sinusoidal_positional_encoding
from dlbook.torch.nn.rmsnorm import RMSNorm

IGNORE_INDEX = -100  # torch's default ignore_index: targets left out of the loss

__all__ = ["GPTConfig", "GPT", "KVCache", "apply_rope", "top_k_filter",
           "top_p_filter"]

#: The values of ``GPTConfig.pos_emb``: how positions enter the model.
POS_EMBS = ("learned", "sinusoidal", "rope")
#: The values of ``GPTConfig.norm``: the block's normalisation layers.
NORMS = ("layernorm", "rmsnorm")
#: The values of ``GPTConfig.mlp``: the block's position-wise MLP.
MLPS = ("gelu", "swiglu")
#: Factor on the sinusoidal table (entries of RMS 1/sqrt(2)) that gives it the
#: RMS 0.02 of a learned position table at initialisation.
SINUSOIDAL_SCALE = 0.02 * math.sqrt(2)


@dataclass
class GPTConfig:
    """Hyperparameters; the defaults are GPT-2 small (124M parameters)."""

    block_size: int = 1024  # longest context the model can see
    vocab_size: int = 50304  # GPT-2's 50257 rounded up to a multiple of 64
    n_layer: int = 12
    n_head: int = 12
    n_embd: int = 768
    dropout: float = 0.0
    bias: bool = True  # biases in Linear and LayerNorm (GPT-2 has them)
    # positions: "learned" (GPT-2's wpe table), "sinusoidal" (the fixed table of
    # Vaswani et al. 2017, added like wpe at wpe's initial scale) or "rope"
    # (queries and keys rotated)
    pos_emb: str = "learned"
    # the block: "layernorm" (GPT-2) or "rmsnorm" (LLaMA) for every norm
    norm: str = "layernorm"
    # "gelu": C -> H -> C with GELU; "swiglu": SiLU(x W_gate) * (x W_up), then down
    mlp: str = "gelu"
    # key/value heads: None means n_head (multi-head attention); fewer is
    # grouped-query attention, 1 multi-query attention
    n_kv_head: int | None = None
    # the MLP's hidden width H; None: 4 n_embd for "gelu", and for "swiglu" the
    # multiple of 8 nearest 8 n_embd / 3 (three matrices of C x H then hold
    # about the parameters of the GELU MLP's two of C x 4C)
    mlp_hidden: int | None = None

    def __post_init__(self):
        if self.n_embd % self.n_head:
            raise ValueError(
                f"GPTConfig: n_embd ({self.n_embd}) must be divisible by n_head "
                f"({self.n_head})"
            )
        for k in ("block_size", "vocab_size", "n_layer", "n_head", "n_embd"):
            if getattr(self, k) <= 0:
                raise ValueError(f"GPTConfig: {k} must be positive, got "
                                 f"{getattr(self, k)}")
        if self.pos_emb not in POS_EMBS:
            raise ValueError(f"GPTConfig: pos_emb must be one of {POS_EMBS}, got "
                             f"{self.pos_emb!r}")
        if self.pos_emb == "rope" and (self.n_embd // self.n_head) % 2:
            raise ValueError(
                f"GPTConfig: RoPE rotates pairs of dimensions, so the head size "
                f"n_embd // n_head must be even, got {self.n_embd // self.n_head}"
            )
        if self.norm not in NORMS:
            raise ValueError(f"GPTConfig: norm must be one of {NORMS}, got "
                             f"{self.norm!r}")
        if self.mlp not in MLPS:
            raise ValueError(f"GPTConfig: mlp must be one of {MLPS}, got "
                             f"{self.mlp!r}")
        if self.n_kv_head is not None:
            if not isinstance(self.n_kv_head, int) or self.n_kv_head <= 0:
                raise ValueError(f"GPTConfig: n_kv_head must be a positive integer "
                                 f"or None, got {self.n_kv_head!r}")
            if self.n_head % self.n_kv_head:
                raise ValueError(
                    f"GPTConfig: n_head ({self.n_head}) must be divisible by "
                    f"n_kv_head ({self.n_kv_head}): each key/value head serves a "
                    f"group of n_head // n_kv_head query heads"
                )
        if self.mlp_hidden is not None and self.mlp_hidden <= 0:
            raise ValueError(f"GPTConfig: mlp_hidden must be positive or None, got "
                             f"{self.mlp_hidden}")

    @property
    def kv_heads(self) -> int:
        """Key/value heads per layer: ``n_kv_head``, or ``n_head`` if None."""
        return self.n_head if self.n_kv_head is None else self.n_kv_head

    @property
    def hidden(self) -> int:
        """The MLP's hidden width H (see ``mlp_hidden``)."""
        if self.mlp_hidden is not None:
            return self.mlp_hidden
        if self.mlp == "swiglu":
            return 8 * round(self.n_embd / 3)  # the multiple of 8 nearest 8C/3
        return 4 * self.n_embd


def apply_rope(x: Tensor, positions: Tensor, base: float = 10000.0) -> Tensor:
    """Rotary position embedding (RoPE, Su et al. 2021): rotate x by its positions.

    Parameters
    ----------
    x : Tensor
        Queries or keys, shape (..., T, d) with d even.
    positions : Tensor
        Shape (T,): the position of each row of x (integers or floats).
    base : float
        Pair i = (x[..., 2i], x[..., 2i+1]) turns by the angle
        ``positions * base ** (-2i / d)``: the frequencies of the sinusoidal table.

    Returns
    -------
    Tensor
        Same shape and dtype as x. Each pair is multiplied by the 2-D rotation
        matrix [[cos a, -sin a], [sin a, cos a]], so the dot product of a query
        rotated to position m with a key rotated to position n depends on m - n
        only.
    """
    d = x.shape[-1]
    if d % 2:
        raise ValueError(f"apply_rope: the last dimension of x must be even (RoPE "
                         f"rotates pairs), got {tuple(x.shape)}")
    if positions.dim() != 1 or x.dim() < 2 or positions.shape[0] != x.shape[-2]:
        raise ValueError(f"apply_rope: expected positions of shape (T,) for x of "
                         f"shape (..., T, d) = {tuple(x.shape)}, got "
                         f"{tuple(positions.shape)}")
    # angles in float64 for a float64 x (exact tests), float32 otherwise (MPS
    # has no float64); cast to x's dtype only after the cosine and sine
    work = torch.float64 if x.dtype == torch.float64 else torch.float32
    freq = base ** (-torch.arange(0, d, 2, dtype=work, device=x.device) / d)  # (d/2,)
    angle = positions.to(work)[:, None] * freq  # (T, d/2)
    cos, sin = angle.cos().to(x.dtype), angle.sin().to(x.dtype)
    x1, x2 = x[..., 0::2], x[..., 1::2]  # (..., T, d/2) each: the pairs
    out = torch.stack([x1 * cos - x2 * sin, x1 * sin + x2 * cos], dim=-1)
    return out.flatten(-2)  # (..., T, d): pairs interleaved again


class KVCache:
    """The keys and values of every position seen so far, one pair per layer.

    Generating token t needs the keys and values of positions 0..t-1, and they
    do not change when a token is appended (the causal mask keeps the past
    blind to the future). So each layer stores them and adds only the new
    positions' ones: ``update(layer, k, v)`` appends along the time axis and
    returns everything stored. Pass one to ``GPT.forward(..., kv_cache=)``.
    """

    def __init__(self):
        self.keys: list[Tensor] = []  # per layer, (B, nkv, P, hs)
        self.values: list[Tensor] = []

    def __len__(self) -> int:
        """P, the number of positions cached (those of layer 0)."""
        return self.keys[0].shape[2] if self.keys else 0

    def update(self, layer: int, k: Tensor, v: Tensor) -> tuple[Tensor, Tensor]:
        """Append k, v (B, nkv, T, hs) to ``layer``; return (B, nkv, P + T, hs)."""
        if layer == len(self.keys):  # this layer's first call
            self.keys.append(k)
            self.values.append(v)
        elif layer < len(self.keys):
            self.keys[layer] = torch.cat([self.keys[layer], k], dim=2)
            self.values[layer] = torch.cat([self.values[layer], v], dim=2)
        else:
            raise ValueError(f"KVCache: layers are filled in order; got layer "
                             f"{layer} with {len(self.keys)} layers cached")
        return self.keys[layer], self.values[layer]

    @property
    def nbytes(self) -> int:
        """Bytes held by every cached key and value: 2 L B nkv P hs per element."""
        return sum(t.numel() * t.element_size() for t in self.keys + self.values)

    def reorder(self, index: Tensor) -> None:
        """Keep the batch rows ``index`` (B',), in that order (beam search)."""
        self.keys = [k[index] for k in self.keys]
        self.values = [v[index] for v in self.values]

    def crop(self, n: int) -> None:
        """Keep the first n positions and forget the rest."""
        if not 0 <= n <= len(self):
            raise ValueError(f"KVCache.crop: n must lie in [0, {len(self)}], got {n}")
        self.keys = [k[:, :, :n] for k in self.keys]
        self.values = [v[:, :, :n] for v in self.values]

    def reset(self) -> None:
        """Forget every position."""
        self.keys, self.values = [], []

    def __repr__(self):
        shape = tuple(self.keys[0].shape) if self.keys else None
        return f"KVCache(layers={len(self.keys)}, positions={len(self)}, k={shape})"


class CausalSelfAttention(nn.Module):
    """Causal multi-head self-attention; grouped-query if n_kv_head < n_head."""

    def __init__(self, cfg: GPTConfig):
        super().__init__()
        self.n_head, self.n_embd, self.dropout = cfg.n_head, cfg.n_embd, cfg.dropout
        self.n_kv_head = cfg.kv_heads
        self.rope = cfg.pos_emb == "rope"
        # Q for all heads and K, V for the nkv key/value heads in one matmul:
        # C + 2 nkv hs outputs (3C for multi-head attention)
        kv_size = self.n_kv_head * (cfg.n_embd // cfg.n_head)
        self.c_attn = nn.Linear(cfg.n_embd, cfg.n_embd + 2 * kv_size, bias=cfg.bias)
        self.c_proj = nn.Linear(cfg.n_embd, cfg.n_embd, bias=cfg.bias)
        self.resid_dropout = nn.Dropout(cfg.dropout)

    def forward(self, x: Tensor, positions: Tensor | None = None,
                cache: KVCache | None = None, layer: int = 0) -> Tensor:
        """x (B, T, C) at ``positions`` (T,) -> (B, T, C). With a cache, x holds
        only the new positions; they attend to the cached ones and to each other."""
        B, T, C = x.shape
        nh, nkv, hs = self.n_head, self.n_kv_head, C // self.n_head
        q, k, v = self.c_attn(x).split([C, nkv * hs, nkv * hs], dim=2)
        q = q.view(B, T, nh, hs).transpose(1, 2)  # (B, nh, T, hs)
        k = k.view(B, T, nkv, hs).transpose(1, 2)  # (B, nkv, T, hs)
        v = v.view(B, T, nkv, hs).transpose(1, 2)  # (B, nkv, T, hs)
        if self.rope:
            if positions is None:
                positions = torch.arange(T, device=x.device)
            # keys are cached after rotation: a key's position never changes
            q, k = apply_rope(q, positions), apply_rope(k, positions)
        if cache is not None:
            # the cache holds nkv heads, not nh: GQA's saving
            k, v = cache.update(layer, k, v)  # (B, nkv, P + T, hs): past and new
        if nkv < nh:
            # query head j reads key/value head j // (nh // nkv). The copy is
            # made per call and dropped; kernels with grouped-query support
            # (scaled_dot_product_attention's enable_gqa, torch >= 2.5) skip it
            k = k.repeat_interleave(nh // nkv, dim=1)  # (B, nh, P + T, hs)
            v = v.repeat_interleave(nh // nkv, dim=1)  # (B, nh, P + T, hs)
        P = k.shape[2] - T  # positions that were already cached
        # the causal rule: query i (position P + i) sees keys 0..P + i. Without a
        # past that is is_causal; one new token sees every key (no mask at all);
        # several new tokens after a past need the band below, as an explicit mask
        # (is_causal aligns a non-square mask to the top left, which is wrong here)
        mask = None
        if P > 0 and T > 1:
            mask = torch.ones(T, P + T, dtype=torch.bool, device=x.device).tril(P)
        # flash attention on a GPU: never stores the (T, T) matrix, much faster
        y = F.scaled_dot_product_attention(
            q, k, v, attn_mask=mask, is_causal=P == 0 and T > 1,
            dropout_p=self.dropout if self.training else 0.0,
        )  # (B, nh, T, hs)
        # heads side by side again
        y = y.transpose(1, 2).contiguous().view(B, T, C)  # (B, T, C)
        return self.resid_dropout(self.c_proj(y))


class MLP(nn.Module):
    """GPT-2's position-wise MLP: C -> H (GELU) -> C, H = 4C by default."""

    def __init__(self, cfg: GPTConfig):
        super().__init__()
        self.c_fc = nn.Linear(cfg.n_embd, cfg.hidden, bias=cfg.bias)
        self.gelu = nn.GELU()
        self.c_proj = nn.Linear(cfg.hidden, cfg.n_embd, bias=cfg.bias)
        self.dropout = nn.Dropout(cfg.dropout)

    def forward(self, x: Tensor) -> Tensor:
        return self.dropout(self.c_proj(self.gelu(self.c_fc(x))))  # (B, T, C)


class SwiGLU(nn.Module):
    """The gated MLP of LLaMA (Shazeer 2020): ``(SiLU(x W_g) * (x W_u)) W_d``.

    ``c_fc`` computes the gate and the "up" projection in one matmul (C -> 2H);
    ``c_proj`` is the down projection H -> C. SiLU(z) = z sigmoid(z).
    """

    def __init__(self, cfg: GPTConfig):
        super().__init__()
        self.hidden = cfg.hidden
        self.c_fc = nn.Linear(cfg.n_embd, 2 * cfg.hidden, bias=cfg.bias)
        self.c_proj = nn.Linear(cfg.hidden, cfg.n_embd, bias=cfg.bias)
        self.dropout = nn.Dropout(cfg.dropout)

    def forward(self, x: Tensor) -> Tensor:
        gate, up = self.c_fc(x).split(self.hidden, dim=-1)  # 2 x (B, T, H)
        return self.dropout(self.c_proj(F.silu(gate) * up))  # (B, T, C)


def _norm(cfg: GPTConfig) -> nn.Module:
    if cfg.norm == "rmsnorm":
        return RMSNorm(cfg.n_embd, eps=1e-5)  # LayerNorm's eps; no bias to drop
    return nn.LayerNorm(cfg.n_embd, bias=cfg.bias)


class Block(nn.Module):
    """Pre-norm: the residual stream x is only ever added to, never normalised."""

    def __init__(self, cfg: GPTConfig):
        super().__init__()
        self.ln_1 = _norm(cfg)
        self.attn = CausalSelfAttention(cfg)
        self.ln_2 = _norm(cfg)
        self.mlp = SwiGLU(cfg) if cfg.mlp == "swiglu" else MLP(cfg)

    def forward(self, x: Tensor, positions: Tensor | None = None,
                cache: KVCache | None = None, layer: int = 0) -> Tensor:
        x = x + self.attn(self.ln_1(x), positions, cache, layer)
        return x + self.mlp(self.ln_2(x))


class GPT(nn.Module):
    """Decoder-only Transformer language model; ``forward(idx, targets)``."""

    def __init__(self, config: GPTConfig):
        super().__init__()
        self.config = config
        parts = dict(wte=nn.Embedding(config.vocab_size, config.n_embd))
        if config.pos_emb == "learned":
            parts["wpe"] = nn.Embedding(config.block_size, config.n_embd)
        parts.update(
            drop=nn.Dropout(config.dropout),
            h=nn.ModuleList([Block(config) for _ in range(config.n_layer)]),
            ln_f=_norm(config),
        )
        self.transformer = nn.ModuleDict(parts)
        if config.pos_emb == "sinusoidal":
            # a fixed function of the position: a buffer, not in the state_dict.
            # Scaled to the size of wpe at initialisation (RMS 0.02, like the
            # token embeddings): the raw table's entries (RMS 0.71) would drown
            # the tokens, and the network could not grow them to compensate
            table = sinusoidal_positional_encoding(config.block_size, config.n_embd)
            self.register_buffer("pos_table", table * SINUSOIDAL_SCALE,
                                 persistent=False)
        self.lm_head = nn.Linear(config.n_embd, config.vocab_size, bias=False)
        # weight tying: the same (V, C) matrix reads tokens in and scores them out;
        # it saves V*C parameters and works better (Press & Wolf 2017)
        self.lm_head.weight = self.transformer.wte.weight
        self.apply(self._init_weights)
        # GPT-2: scale the projections that write into the residual stream by
        # 1/sqrt(2 * n_layer) so its variance does not grow with depth
        for name, p in self.named_parameters():
            if name.endswith("c_proj.weight"):
                nn.init.normal_(p, mean=0.0, std=0.02 / math.sqrt(2 * config.n_layer))

    @staticmethod
    def _init_weights(module):
        if isinstance(module, (nn.Linear, nn.Embedding)):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)
        if isinstance(module, nn.Linear) and module.bias is not None:
            nn.init.zeros_(module.bias)

    def num_params(self, non_embedding: bool = True) -> int:
        """Parameter count; shared tensors count once. ``non_embedding`` leaves out
        the position embeddings (the token embedding stays: it is the lm_head)."""
        n = sum(p.numel() for p in self.parameters())
        if non_embedding and "wpe" in self.transformer:
            n -= self.transformer.wpe.weight.numel()
        return n

    def features(self, idx: Tensor) -> Tensor:
        """idx (B, T) token ids -> final hidden states (B, T, C), after ``ln_f``.

        What ``lm_head`` reads: ``forward``'s logits are ``lm_head(features(idx))``.
        Pooled over positions they are the features that a classifier fine-tuned
        on top of a pre-trained GPT uses (Radford et al. 2018, section 3.2).
        """
        self._check(idx)
        return self._hidden(idx)

    def _hidden(self, idx: Tensor, cache: KVCache | None = None) -> Tensor:
        """idx (B, T) at positions P..P+T-1, P = len(cache) -> (B, T, C)."""
        P = 0 if cache is None else len(cache)
        T = idx.shape[1]
        pos = torch.arange(P, P + T, dtype=torch.long, device=idx.device)  # (T,)
        x = self.transformer.wte(idx)  # (B, T, C)
        if self.config.pos_emb == "learned":
            x = x + self.transformer.wpe(pos)  # (T, C), broadcast over B
        elif self.config.pos_emb == "sinusoidal":
            x = x + self.pos_table[pos].to(x.dtype)  # (T, C)
        x = self.transformer.drop(x)  # (B, T, C); "rope" rotates inside attention
        for layer, block in enumerate(self.transformer.h):
            x = block(x, pos, cache, layer)  # (B, T, C)
        return self.transformer.ln_f(x)  # (B, T, C)

    def _check(self, idx: Tensor, targets: Tensor | None = None, past: int = 0) -> None:
        """Shapes, and token ids in [0, vocab_size) (targets may also be -100).

        Ids are checked here because on a GPU an id out of range fails inside
        the embedding as a device-side assert, which on Colab forces a restart.
        The check costs one host read per forward (ids and targets together).
        """
        if idx.dim() != 2:
            raise ValueError(f"GPT: expected idx of shape (B, T), got "
                             f"{tuple(idx.shape)}")
        if past + idx.shape[1] > self.config.block_size:
            cached = f" after {past} cached positions" if past else ""
            raise ValueError(
                f"GPT: sequence length {idx.shape[1]}{cached} exceeds block_size "
                f"{self.config.block_size}"
            )
        if idx.dtype not in (torch.int64, torch.int32):
            raise TypeError(f"GPT: expected integer token ids (torch.long), got "
                            f"{idx.dtype}")
        V = self.config.vocab_size
        if targets is not None:
            if targets.shape != idx.shape:
                raise ValueError(
                    f"GPT: expected targets of shape {tuple(idx.shape)} like idx, "
                    f"got {tuple(targets.shape)}"
                )
            if targets.device != idx.device:
                raise ValueError(f"GPT: targets are on {targets.device} but idx is "
                                 f"on {idx.device}")
        if idx.device.type == "meta":
            return  # shapes without values (device tests): nothing to read
        bad = ((idx < 0) | (idx >= V)).any()
        if targets is not None:
            out = ((targets < 0) | (targets >= V)) & (targets != IGNORE_INDEX)
            bad = bad | out.any()
        if bad:
            spans = f"idx spans [{int(idx.min())}, {int(idx.max())}]"
            if targets is not None:
                spans += f", targets [{int(targets.min())}, {int(targets.max())}]"
            raise ValueError(
                f"GPT: token ids must lie in [0, vocab_size={V}) (targets may also "
                f"be {IGNORE_INDEX}, which is ignored); {spans}"
            )

    def forward(self, idx: Tensor, targets: Tensor | None = None, *,
                kv_cache: KVCache | None = None):
        """idx (B, T) token ids -> logits (B, T, V) and the mean cross-entropy
        against targets (B, T); None without targets. Targets equal to -100
        (torch's ``ignore_index``) are left out of the mean.

        With ``kv_cache``, idx holds the tokens that follow the P cached ones:
        they sit at positions P..P+T-1, attend to the cached keys and values,
        and their own are appended to the cache.
        """
        self._check(idx, targets, past=0 if kv_cache is None else len(kv_cache))
        logits = self.lm_head(self._hidden(idx, kv_cache))  # (B, T, V)
        if targets is None:
            return logits, None
        B, T = idx.shape
        loss = F.cross_entropy(
            logits.view(B * T, -1).float(),  # (B*T, V); float: stable under bf16
            targets.reshape(B * T),  # (B*T,)
            ignore_index=IGNORE_INDEX,
        )
        return logits, loss

    def _next_logits(self, idx: Tensor, cache: KVCache | None) -> Tensor:
        """Logits (B, V) for the token after idx (B, T); extends the cache.

        Without a cache: the last block_size tokens through the whole model. With
        one: only the tokens not cached yet. Once idx is longer than block_size,
        the window slides and every token's position shifts by one, which changes
        every key and value: the cache is emptied and the window recomputed, the
        same work as without a cache, and the same logits.
        """
        bs = self.config.block_size
        if cache is not None and idx.shape[1] <= bs:
            h = self._hidden(idx[:, len(cache):], cache)  # (B, T - P, C)
        else:
            if cache is not None:
                cache.reset()
            h = self._hidden(idx[:, -bs:])  # (B, <= block_size, C)
        return self.lm_head(h[:, -1])  # (B, V): the head on the last position only

    @torch.no_grad()
    def generate(self, idx: Tensor, max_new_tokens: int, temperature: float = 1.0,
                 top_k: int | None = None, generator: torch.Generator | None = None,
                 *, top_p: float | None = None, do_sample: bool = True,
                 use_cache: bool = True) -> Tensor:
        """Sample ``max_new_tokens`` tokens after idx (B, T) -> (B, T + new).

        Parameters
        ----------
        temperature : float
            Divides the logits (lower = greedier); must be > 0.
        top_k : int, optional
            Keep only the k likeliest tokens (``top_k_filter``).
        generator : torch.Generator, optional
            On idx's device; makes the samples reproducible.
        top_p : float, optional
            Nucleus sampling, in (0, 1]: keep the smallest set of likeliest
            tokens whose probability reaches top_p (``top_p_filter``), after
            top_k. 1.0 keeps every token.
        do_sample : bool
            False: greedy decoding, the argmax of the logits at every step
            (temperature, top_k, top_p and generator are then unused).
        use_cache : bool
            Keep each layer's keys and values (``KVCache``) and run only the new
            token through the model at each step. False recomputes all
            positions at every step: the reference, with the same logits up to
            rounding. Past block_size tokens both feed back the last block_size
            only; the positions of the window then shift at every step, so the
            cache is recomputed each time and saves nothing.

        Call ``model.eval()`` first if the model has dropout.
        """
        self._check_sampling(idx, max_new_tokens, temperature, top_k, top_p,
                             generator)
        self._check(idx[:, -self.config.block_size:])
        cache = KVCache() if use_cache else None
        for _ in range(max_new_tokens):
            logits = self._next_logits(idx, cache)  # (B, V)
            if not do_sample:
                nxt = logits.argmax(-1, keepdim=True)  # (B, 1)
            else:
                logits = logits / temperature
                if top_k is not None:
                    logits = top_k_filter(logits, top_k)
                if top_p is not None:
                    logits = top_p_filter(logits, top_p)
                probs = F.softmax(logits.float(), dim=-1)  # (B, V)
                nxt = torch.multinomial(probs, num_samples=1,
                                        generator=generator)  # (B, 1)
            idx = torch.cat([idx, nxt], dim=1)  # (B, T + 1)
        return idx

    @staticmethod
    def _check_sampling(idx, max_new_tokens, temperature, top_k, top_p, generator):
        if not isinstance(max_new_tokens, int) or max_new_tokens < 0:
            raise ValueError(f"GPT.generate: max_new_tokens must be an integer >= 0, "
                             f"got {max_new_tokens!r}")
        if temperature <= 0:
            raise ValueError(f"GPT.generate: temperature must be > 0, got "
                             f"{temperature}; for greedy decoding pass do_sample=False")
        if top_k is not None and (not isinstance(top_k, int) or top_k < 1):
            raise ValueError(f"GPT.generate: top_k must be an integer >= 1 or None, "
                             f"got {top_k!r}")
        if top_p is not None and not 0 < top_p <= 1:
            raise ValueError(f"GPT.generate: top_p must lie in (0, 1], got {top_p}")
        if generator is not None and generator.device.type != idx.device.type:
            # torch.multinomial would fail deep inside with a less helpful message
            raise ValueError(
                f"GPT.generate: the generator is on {generator.device} but idx is "
                f"on {idx.device}; pass torch.Generator(device={str(idx.device)!r})"
            )

    @torch.no_grad()
    def beam_search(self, idx: Tensor, max_new_tokens: int, num_beams: int,
                    length_penalty: float = 1.0, eos_token_id: int | None = None,
                    use_cache: bool = True) -> Tensor:
        """The likeliest continuation that ``num_beams`` beams find: (B, T + new).

        At each step every beam is extended by every token, and of those
        candidates the ``num_beams`` with the largest total log-probability
        stay. ``num_beams=1`` is greedy decoding; a beam as wide as the number
        of sequences, V to the power max_new_tokens, is exhaustive search.
        Each row of idx is searched on its own.

        Parameters
        ----------
        length_penalty : float
            A finished hypothesis scores its summed log-probability divided by
            its length (tokens generated) to this power: 0 compares plain sums,
            which favours short outputs; 1 (the default) compares the mean
            log-probability per token.
        eos_token_id : int, optional
            A candidate that ends in this token is finished. The search stops
            when ``num_beams`` hypotheses have finished (the best of them is
            returned) or after ``max_new_tokens`` steps (the live beams then
            compete too). The result is padded with eos after its end.
        use_cache : bool
            Keep a ``KVCache`` whose rows follow the beams.
        """
        if not isinstance(num_beams, int) or num_beams < 1:
            raise ValueError(f"GPT.beam_search: num_beams must be an integer >= 1, "
                             f"got {num_beams!r}")
        if not isinstance(max_new_tokens, int) or max_new_tokens < 0:
            raise ValueError(f"GPT.beam_search: max_new_tokens must be an integer "
                             f">= 0, got {max_new_tokens!r}")
        V = self.config.vocab_size
        if eos_token_id is not None and not 0 <= eos_token_id < V:
            raise ValueError(f"GPT.beam_search: eos_token_id must lie in "
                             f"[0, vocab_size={V}), got {eos_token_id}")
        self._check(idx[:, -self.config.block_size:])
        rows = [self._beam_one(row[None], max_new_tokens, num_beams, length_penalty,
                               eos_token_id, use_cache) for row in idx]
        return torch.cat(rows, dim=0)  # (B, T + new)

    def _beam_one(self, prompt, n_new, num_beams, length_penalty, eos, use_cache):
        """Beam search after one prompt (1, T) -> (1, T + n_new)."""
        V, T = self.config.vocab_size, prompt.shape[1]
        beams = prompt  # (nb, T + step): the live hypotheses, nb <= num_beams
        # sum of the generated tokens' log-probabilities, at least in float32
        work = torch.promote_types(self.lm_head.weight.dtype, torch.float32)
        scores = torch.zeros(1, dtype=work, device=prompt.device)  # (nb,)
        cache = KVCache() if use_cache else None
        finished = []  # (normalised score, tokens (T + length,))
        for step in range(n_new):
            logp = F.log_softmax(self._next_logits(beams, cache).to(work), -1)
            cand = (scores[:, None] + logp).view(-1)  # (nb * V,)
            # 2 * num_beams candidates: enough to refill the beams even if
            # num_beams of them end in eos
            top, flat = cand.topk(min(2 * num_beams, cand.numel()))
            src, tok = flat // V, flat % V  # beam each comes from, and its token
            keep = []
            for rank, (t, s) in enumerate(zip(tok.tolist(), top.tolist())):
                if t == eos:
                    if rank < num_beams:  # among the num_beams best: it competes
                        seq = torch.cat([beams[src[rank]], tok[rank:rank + 1]])
                        finished.append((s / (step + 1) ** length_penalty, seq))
                elif len(keep) < num_beams:
                    keep.append(rank)
            if len(finished) >= num_beams or not keep:
                break  # done: the live beams are left unfinished, not cut short
            keep = torch.tensor(keep, device=prompt.device)
            beams = torch.cat([beams[src[keep]], tok[keep, None]], dim=1)
            scores = top[keep]
            if cache is not None:
                cache.reorder(src[keep])  # each kept beam inherits its parent's past
        else:  # max_new_tokens reached: the live beams compete as they stand
            live = scores / max(n_new, 1) ** length_penalty
            finished += list(zip(live.tolist(), beams))
        best = max(finished, key=lambda f: f[0])[1]
        pad = best.new_full((T + n_new - best.numel(),),
                            eos if eos is not None else 0)
        return torch.cat([best, pad])[None]  # (1, T + n_new)

    def flops_per_generated_token(self, T: int, use_cache: bool = True) -> int:
        """Matmul FLOPs to produce the next token after a context of T tokens.

        2 FLOPs per multiply-add of every matrix product (biases, LayerNorm,
        softmax and GELU left out); attention computes full score matrices, as
        the dense kernel does. Per layer, one position costs 24 C^2 (QKV 6,
        projection 2, MLP 16) and attends to its T keys with 4 T C (scores and
        weighted sum); the head costs 2 C V on the last position only.

        * cache: one new position, L (24 C^2 + 4 T C) + 2 C V;
        * no cache: all T positions again, L (24 T C^2 + 4 T^2 C) + 2 C V.

        These are the counts of GPT-2's block. With grouped-query attention the
        QKV term is 2 C (C + 2 nkv hs) instead of 6 C^2; an MLP of hidden width
        H costs 4 C H (GELU) or 6 C H (SwiGLU) instead of 16 C^2.

        Past block_size the window slides and the cache cannot be reused: both
        cost the no-cache count at T = block_size.
        """
        cfg = self.config
        if T < 1:
            raise ValueError(f"GPT.flops_per_generated_token: T must be >= 1, got {T}")
        L, C, V = cfg.n_layer, cfg.n_embd, cfg.vocab_size
        if T > cfg.block_size:
            T, use_cache = cfg.block_size, False
        kv = cfg.kv_heads * (C // cfg.n_head)  # width of K (and of V)
        mlp = (6 if cfg.mlp == "swiglu" else 4) * C * cfg.hidden
        per_position = 2 * C * (C + 2 * kv) + 2 * C**2 + mlp  # 24 C^2 for GPT-2
        if use_cache:
            return L * (per_position + 4 * T * C) + 2 * C * V
        return L * (per_position * T + 4 * T**2 * C) + 2 * C * V

    def configure_optimizers(self, weight_decay: float, lr: float,
                             betas: tuple[float, float] = (0.9, 0.95),
                             device_type: str | None = None):
        """AdamW (Loshchilov & Hutter 2019) with decay on matrices only.

        Biases and LayerNorm gains are 1-D: decaying them towards 0 only hurts.
        On CUDA the fused kernel updates all parameters in a few launches.
        """
        if device_type is None:
            device_type = next(self.parameters()).device.type
        params = {n: p for n, p in self.named_parameters() if p.requires_grad}
        decay = [p for p in params.values() if p.dim() >= 2]
        no_decay = [p for p in params.values() if p.dim() < 2]
        groups = [
            {"params": decay, "weight_decay": weight_decay},
            {"params": no_decay, "weight_decay": 0.0},
        ]
        fused = device_type == "cuda" and \
            "fused" in inspect.signature(torch.optim.AdamW).parameters
        extra = {"fused": True} if fused else {}
        return torch.optim.AdamW(groups, lr=lr, betas=betas, **extra)

    def flops_per_token(self, T: int | None = None) -> int:
        """Training FLOPs per token, 6N + 12*L*T*C (PaLM, Chowdhery et al. 2022,
        appendix B): 6 per parameter (2 forward, 4 backward) plus attention."""
        cfg = self.config
        T = cfg.block_size if T is None else T
        return 6 * self.num_params() + 12 * cfg.n_layer * T * cfg.n_embd

    def estimate_mfu(self, fwdbwd_per_iter: int, dt: float,
                     peak_flops: float = 989e12, T: int | None = None) -> float:
        """Model FLOPs utilisation: achieved FLOP/s over ``peak_flops``.

        fwdbwd_per_iter: sequences (of length T, default block_size) per
        iteration; dt: seconds per iteration; peak_flops defaults to an H100 SXM's
        dense bf16 989 TFLOP/s.
        """
        T = self.config.block_size if T is None else T
        flops_per_iter = self.flops_per_token(T) * T * fwdbwd_per_iter
        return flops_per_iter / dt / peak_flops

    def extra_repr(self):
        c = self.config
        pos = "" if c.pos_emb == "learned" else f"pos_emb={c.pos_emb!r}, "
        if c.norm != "layernorm":
            pos += f"norm={c.norm!r}, "
        if c.mlp != "gelu":
            pos += f"mlp={c.mlp!r}, "
        if c.n_kv_head is not None:
            pos += f"n_kv_head={c.n_kv_head}, "
        return (f"n_layer={c.n_layer}, n_head={c.n_head}, n_embd={c.n_embd}, "
                f"block_size={c.block_size}, vocab_size={c.vocab_size}, {pos}"
                f"params={self.num_params() / 1e6:.2f}M")


def top_k_filter(logits: Tensor, k: int) -> Tensor:
    """Keep the k largest logits of each row (..., V); the rest become -inf.

    Ties with the k-th largest are kept too. ``k >= V`` keeps everything.
    """
    if not isinstance(k, int) or k < 1:
        raise ValueError(f"top_k_filter: k must be an integer >= 1, got {k!r}")
    k = min(k, logits.shape[-1])
    kth = torch.topk(logits, k).values[..., [-1]]  # (..., 1)
    return logits.masked_fill(logits < kth, float("-inf"))


def top_p_filter(logits: Tensor, p: float) -> Tensor:
    """Nucleus sampling (Holtzman et al. 2020): keep, in each row (..., V), the
    smallest set of likeliest tokens whose probability reaches p; the rest
    become -inf.

    A token stays if the tokens ranked above it hold less than p of the
    probability, so the likeliest token always stays; p = 1 keeps every token
    (returned unchanged).
    """
    if not 0 < p <= 1:
        raise ValueError(f"top_p_filter: p must lie in (0, 1], got {p}")
    if p == 1:
        return logits  # every token; a cumulative sum could round to 1 too early
    probs = F.softmax(logits.float(), dim=-1)  # (..., V)
    sorted_p, order = probs.sort(dim=-1, descending=True)  # (..., V) each
    above = sorted_p.cumsum(dim=-1) - sorted_p  # mass of the tokens ranked higher
    drop_sorted = above >= p  # (..., V), in sorted order
    drop = drop_sorted.scatter(-1, order, drop_sorted)  # back in vocabulary order
    return logits.masked_fill(drop, float("-inf"))
