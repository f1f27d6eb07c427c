"""A tiny float64 GPT shared by the GPT test files."""
import torch

from dlbook.torch.models.gpt import GPT, GPTConfig


def tiny_gpt(scale=1.0, **kw):
    """A small float64 GPT; ``scale`` multiplies every weight (peakier outputs)."""
    cfg = {"block_size": 16, "vocab_size": 23, "n_layer": 2, "n_head": 2,
           "n_embd": 16, "dropout": 0.0, "bias": True}
    cfg.update(kw)
    torch.manual_seed(0)
    m = GPT(GPTConfig(**cfg)).eval().double()
    with torch.no_grad():
        for p in m.parameters():
            p.mul_(scale)
    return m
