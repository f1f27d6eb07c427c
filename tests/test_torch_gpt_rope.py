"""Rotary position embeddings (RoPE) and GPT's pos_emb options."""

import math

import pytest
import torch

from dlbook.torch.models.gpt import (
    GPT,
    SINUSOIDAL_SCALE,
    CausalSelfAttention,
    GPTConfig,
    apply_rope,
)

pytestmark = pytest.mark.usefixtures("torch_one_thread")
F64 = torch.float64


def rotation_matrix(position, d, base=10000.0):
    """The (d, d) block-diagonal matrix of 2-D rotations, one block per pair."""
    R = torch.zeros(d, d, dtype=F64)
    for i in range(d // 2):
        a = position * base ** (-2 * i / d)
        R[2 * i:2 * i + 2, 2 * i:2 * i + 2] = torch.tensor(
            [[math.cos(a), -math.sin(a)], [math.sin(a), math.cos(a)]], dtype=F64)
    return R


def test_rope_equals_an_explicit_rotation_matrix_per_position():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(2, 3, 7, 10, dtype=F64, generator=g)  # (B, nh, T, d)
    pos = torch.tensor([0, 1, 2, 5, 11, 100, 1000])
    out = apply_rope(x, pos)
    want = torch.stack([x[..., t, :] @ rotation_matrix(int(p), 10).T
                        for t, p in enumerate(pos)], dim=-2)
    torch.testing.assert_close(out, want, atol=1e-12, rtol=0)
    assert out.dtype == F64 and out.shape == x.shape
    # a rotation keeps every pair's length, position 0 is the identity
    torch.testing.assert_close(out.norm(dim=-1), x.norm(dim=-1), atol=1e-12, rtol=0)
    assert torch.equal(out[..., 0, :], x[..., 0, :])
    torch.testing.assert_close(apply_rope(x, pos, base=100.0)[..., 3, :],
                               x[..., 3, :] @ rotation_matrix(5, 10, 100.0).T,
                               atol=1e-12, rtol=0)


def test_rotated_dot_products_depend_only_on_the_offset():
    g = torch.Generator().manual_seed(1)
    q, k = torch.randn(2, 1, 16, dtype=F64, generator=g)  # one query, one key

    def score(m, n):
        qm = apply_rope(q, torch.tensor([m]))
        kn = apply_rope(k, torch.tensor([n]))
        return (qm * kn).sum().item()

    for offset in (0, 1, 3, 17):
        scores = [score(n + offset, n) for n in (0, 1, 5, 40, 333)]
        assert max(scores) - min(scores) < 1e-12
    # and it does depend on the offset
    assert abs(score(3, 0) - score(4, 0)) > 1e-3
    # q_m . k_n = q . R(n - m) k: the key alone, rotated by the offset
    want = (q * apply_rope(k, torch.tensor([-7]))).sum().item()
    assert abs(score(12, 5) - want) < 1e-12


def test_rope_attention_is_unchanged_by_shifting_every_position():
    cfg = GPTConfig(block_size=64, vocab_size=5, n_layer=1, n_head=2, n_embd=16,
                    pos_emb="rope")
    torch.manual_seed(0)
    attn = CausalSelfAttention(cfg).double()
    x = torch.randn(2, 9, 16, dtype=F64)
    out = attn(x, torch.arange(9))
    torch.testing.assert_close(attn(x, torch.arange(9) + 37), out, atol=1e-12, rtol=0)


def test_rope_errors_name_the_problem():
    with pytest.raises(ValueError, match="last dimension of x must be even"):
        apply_rope(torch.zeros(2, 5, 7), torch.arange(5))
    with pytest.raises(ValueError, match=r"positions of shape \(T,\)"):
        apply_rope(torch.zeros(2, 5, 8), torch.arange(4))
    with pytest.raises(ValueError, match="head size n_embd // n_head must be even"):
        GPTConfig(n_embd=12, n_head=4, pos_emb="rope")
    with pytest.raises(ValueError, match="pos_emb must be one of"):
        GPTConfig(pos_emb="alibi")


@pytest.mark.parametrize("pos_emb", ["sinusoidal", "rope"])
def test_position_options_have_no_position_parameters(pos_emb):
    kw = {"block_size": 16, "vocab_size": 23, "n_layer": 2, "n_head": 2,
          "n_embd": 16}
    torch.manual_seed(0)
    learned = GPT(GPTConfig(**kw))
    m = GPT(GPTConfig(**kw, pos_emb=pos_emb))
    assert "wpe" not in m.transformer
    # the same network minus the 16 x 16 table; non_embedding counts agree
    assert m.num_params(non_embedding=False) == \
        learned.num_params(non_embedding=False) - 16 * 16
    assert m.num_params() == learned.num_params()
    assert not any("pos" in k or "wpe" in k for k in m.state_dict())
    assert f"pos_emb='{pos_emb}'" in repr(m)
    # still causal, and it trains: a loss and gradients
    idx = torch.randint(0, 23, (2, 16))
    logits, loss = m(idx, idx)
    other = idx.clone()
    other[:, 9:] = (other[:, 9:] + 1) % 23
    torch.testing.assert_close(m(other)[0][:, :9], logits[:, :9])
    loss.backward()
    assert m.transformer.h[0].attn.c_attn.weight.grad.abs().sum() > 0


def test_sinusoidal_gpt_adds_the_fixed_table():
    from dlbook.torch.nn import sinusoidal_positional_encoding

    torch.manual_seed(0)
    m = GPT(GPTConfig(block_size=8, vocab_size=7, n_layer=1, n_head=2, n_embd=8,
                      pos_emb="sinusoidal")).double()
    # built in the default dtype, like every buffer, then cast with the module;
    # scaled to the RMS of a learned table at initialisation, 0.02
    want = (sinusoidal_positional_encoding(8, 8) * SINUSOIDAL_SCALE).to(F64)
    torch.testing.assert_close(m.pos_table, want, atol=0, rtol=0)
    rms = sinusoidal_positional_encoding(512, 64).pow(2).mean().sqrt()
    assert abs(rms * SINUSOIDAL_SCALE - 0.02) < 1e-4
    # two copies of one token differ only through the table
    idx = torch.tensor([[3, 3]])
    emb = m.transformer.wte(idx) + m.pos_table[:2]
    assert not torch.allclose(emb[0, 0], emb[0, 1])
