"""A GPT language model in one file (Radford et al. 2018, 2019), nanoGPT-style.

token + learned position embeddings -> n_layer pre-norm blocks (causal
self-attention, MLP) -> final LayerNorm -> lm_head, whose weight *is* the token
embedding (weight tying, Press & Wolf 2017).

Letters in shape comments: B batch, T sequence length (<= block_size), C n_embd,
nh n_head, hs head size (C // nh), V vocab_size.
"""

from __future__ import annotations

import inspect
import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

IGNORE_INDEX = -100  # torch's default ignore_index: targets left out of the loss

__all__ = ["GPTConfig", "GPT"]


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


class CausalSelfAttention(nn.Module):
    def __init__(self, cfg: GPTConfig):
        super().__init__()
        self.n_head, self.n_embd, self.dropout = cfg.n_head, cfg.n_embd, cfg.dropout
        # Q, K, V for all heads in one matmul
        self.c_attn = nn.Linear(cfg.n_embd, 3 * cfg.n_embd, bias=cfg.bias)
        self.c_proj = nn.Linear(cfg.n_embd, cfg.n_embd, bias=cfg.bias)
        self.resid_dropout = nn.Dropout(cfg.dropout)

    def forward(self, x: Tensor) -> Tensor:
        B, T, C = x.shape
        nh, hs = self.n_head, C // self.n_head
        q, k, v = self.c_attn(x).split(C, dim=2)  # 3 x (B, T, C)
        q = q.view(B, T, nh, hs).transpose(1, 2)  # (B, nh, T, hs)
        k = k.view(B, T, nh, hs).transpose(1, 2)  # (B, nh, T, hs)
        v = v.view(B, T, nh, hs).transpose(1, 2)  # (B, nh, T, hs)
        # flash attention on a GPU: never stores the (T, T) matrix, much faster;
        # is_causal=True means token t attends to tokens <= t only
        y = F.scaled_dot_product_attention(
            q, k, v, dropout_p=self.dropout if self.training else 0.0, is_causal=True
        )  # (B, nh, T, hs)
        # heads side by side again
        y = y.transpose(1, 2).contiguous().view(B, T, C)  # (B, T, C)
        return self.resid_dropout(self.c_proj(y))


class MLP(nn.Module):
    def __init__(self, cfg: GPTConfig):
        super().__init__()
        self.c_fc = nn.Linear(cfg.n_embd, 4 * cfg.n_embd, bias=cfg.bias)
        self.gelu = nn.GELU()
        self.c_proj = nn.Linear(4 * cfg.n_embd, cfg.n_embd, bias=cfg.bias)
        self.dropout = nn.Dropout(cfg.dropout)

    def forward(self, x: Tensor) -> Tensor:
        return self.dropout(self.c_proj(self.gelu(self.c_fc(x))))  # (B, T, C)


class Block(nn.Module):
    """Pre-norm: the residual stream x is only ever added to, never normalised."""

    def __init__(self, cfg: GPTConfig):
        super().__init__()
        self.ln_1 = nn.LayerNorm(cfg.n_embd, bias=cfg.bias)
        self.attn = CausalSelfAttention(cfg)
        self.ln_2 = nn.LayerNorm(cfg.n_embd, bias=cfg.bias)
        self.mlp = MLP(cfg)

    def forward(self, x: Tensor) -> Tensor:
        x = x + self.attn(self.ln_1(x))
        return x + self.mlp(self.ln_2(x))


class GPT(nn.Module):
    """Decoder-only Transformer language model; ``forward(idx, targets)``."""

    def __init__(self, config: GPTConfig):
        super().__init__()
        self.config = config
        self.transformer = nn.ModuleDict(dict(
            wte=nn.Embedding(config.vocab_size, config.n_embd),
            wpe=nn.Embedding(config.block_size, config.n_embd),
            drop=nn.Dropout(config.dropout),
            h=nn.ModuleList([Block(config) for _ in range(config.n_layer)]),
            ln_f=nn.LayerNorm(config.n_embd, bias=config.bias),
        ))
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
        if non_embedding:
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

    def _hidden(self, idx: Tensor) -> Tensor:
        T = idx.shape[1]
        pos = torch.arange(T, dtype=torch.long, device=idx.device)  # (T,)
        tok_emb = self.transformer.wte(idx)  # (B, T, C)
        pos_emb = self.transformer.wpe(pos)  # (T, C), broadcast over B
        x = self.transformer.drop(tok_emb + pos_emb)  # (B, T, C)
        for block in self.transformer.h:
            x = block(x)  # (B, T, C)
        return self.transformer.ln_f(x)  # (B, T, C)

    def _check(self, idx: Tensor, targets: Tensor | None = None) -> None:
        """Shapes, and token ids in [0, vocab_size) (targets may also be -100).

        Ids are checked here because on a GPU an id out of range fails inside
        the embedding as a device-side assert, which on Colab forces a restart.
        The check costs one host read per forward (ids and targets together).
        """
        if idx.dim() != 2:
            raise ValueError(f"GPT: expected idx of shape (B, T), got "
                             f"{tuple(idx.shape)}")
        if idx.shape[1] > self.config.block_size:
            raise ValueError(
                f"GPT: sequence length {idx.shape[1]} exceeds block_size "
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

    def forward(self, idx: Tensor, targets: Tensor | None = None):
        """idx (B, T) token ids -> logits (B, T, V) and the mean cross-entropy
        against targets (B, T); None without targets. Targets equal to -100
        (torch's ``ignore_index``) are left out of the mean."""
        self._check(idx, targets)
        logits = self.lm_head(self._hidden(idx))  # (B, T, V)
        if targets is None:
            return logits, None
        B, T = idx.shape
        loss = F.cross_entropy(
            logits.view(B * T, -1).float(),  # (B*T, V); float: stable under bf16
            targets.reshape(B * T),  # (B*T,)
            ignore_index=IGNORE_INDEX,
        )
        return logits, loss

    @torch.no_grad()
    def generate(self, idx: Tensor, max_new_tokens: int, temperature: float = 1.0,
                 top_k: int | None = None, generator: torch.Generator | None = None
                 ) -> Tensor:
        """Sample ``max_new_tokens`` tokens after idx (B, T) -> (B, T + new).

        Feeds back at most the last block_size tokens; ``temperature`` divides
        the logits (lower = greedier); ``top_k`` keeps only the k likeliest tokens.
        Call ``model.eval()`` first if the model has dropout.
        """
        if temperature <= 0:
            raise ValueError(f"GPT.generate: temperature must be > 0, got "
                             f"{temperature}")
        if generator is not None and generator.device.type != idx.device.type:
            # torch.multinomial would fail deep inside with a less helpful message
            raise ValueError(
                f"GPT.generate: the generator is on {generator.device} but idx is "
                f"on {idx.device}; pass torch.Generator(device={str(idx.device)!r})"
            )
        for _ in range(max_new_tokens):
            idx_cond = idx[:, -self.config.block_size:]  # (B, <= block_size)
            logits, _ = self(idx_cond)
            logits = logits[:, -1, :] / temperature  # (B, V): last position only
            if top_k is not None:
                k = min(top_k, logits.size(-1))
                kth = torch.topk(logits, k).values[:, [-1]]  # (B, 1)
                logits = logits.masked_fill(logits < kth, float("-inf"))
            probs = F.softmax(logits.float(), dim=-1)  # (B, V)
            nxt = torch.multinomial(probs, num_samples=1, generator=generator)  # (B, 1)
            idx = torch.cat([idx, nxt], dim=1)  # (B, T + 1)
        return idx

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
        return (f"n_layer={c.n_layer}, n_head={c.n_head}, n_embd={c.n_embd}, "
                f"block_size={c.block_size}, vocab_size={c.vocab_size}, "
                f"params={self.num_params() / 1e6:.2f}M")
