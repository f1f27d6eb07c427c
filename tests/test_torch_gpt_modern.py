"""The modern block options of GPT: RMSNorm, SwiGLU, grouped-query attention."""

import itertools
import math

import pytest
import torch
from gpt_helpers import tiny_gpt
from torch import nn

from dlbook.torch.models.gpt import GPT, GPTConfig, KVCache, apply_rope
from dlbook.torch.nn import RMSNorm

pytestmark = pytest.mark.usefixtures("torch_one_thread")
F64 = torch.float64


def tiny(scale=1.0, **kw):
    """The shared tiny GPT, with four heads (grouped-query attention needs them)."""
    return tiny_gpt(scale, **{"n_head": 4, **kw})


def ids(shape, seed=1):
    return torch.randint(0, 23, shape, generator=torch.Generator().manual_seed(seed))


# ---------------------------------------------------------------- RMSNorm

@pytest.mark.skipif(not hasattr(nn, "RMSNorm"), reason="torch.nn.RMSNorm: torch>=2.4")
@pytest.mark.parametrize("shape, eps, affine", [
    (16, None, True), ((3, 8), 1e-5, True), (8, 1e-6, False)])
def test_rmsnorm_equals_torch(shape, eps, affine):
    gen = torch.Generator().manual_seed(0)
    mine = RMSNorm(shape, eps=eps, elementwise_affine=affine, dtype=F64)
    ref = nn.RMSNorm(shape, eps=eps, elementwise_affine=affine, dtype=F64)
    if affine:
        with torch.no_grad():
            mine.weight.copy_(torch.randn(mine.weight.shape, generator=gen,
                                          dtype=F64))
        ref.load_state_dict(mine.state_dict())
    assert list(mine.state_dict()) == list(ref.state_dict())
    full = (shape,) if isinstance(shape, int) else shape
    x = (3 * torch.randn(5, 7, *full, generator=gen, dtype=F64) + 2).requires_grad_()
    y_mine, y_ref = mine(x), ref(x)
    torch.testing.assert_close(y_mine, y_ref, atol=1e-12, rtol=0)
    g = torch.randn(y_mine.shape, generator=gen, dtype=F64)
    grads = [torch.autograd.grad(y, [x] + list(mod.parameters()), g)
             for y, mod in ((y_mine, mine), (y_ref, ref))]
    for a, b in zip(*grads):
        torch.testing.assert_close(a, b, atol=1e-12, rtol=0)


def test_rmsnorm_by_hand_and_of_centred_input_is_layernorm():
    x = torch.randn(6, 10, generator=torch.Generator().manual_seed(3), dtype=F64) + 4
    norm = RMSNorm(10, eps=0.0, dtype=F64)
    rms = x.pow(2).mean(-1, keepdim=True).sqrt()
    torch.testing.assert_close(norm(x), x / rms, atol=1e-12, rtol=0)
    # LayerNorm = RMSNorm after subtracting the mean (no bias, gain 1)
    ln = nn.LayerNorm(10, eps=0.0, bias=False, dtype=F64)
    torch.testing.assert_close(ln(x), norm(x - x.mean(-1, keepdim=True)),
                               atol=1e-12, rtol=0)
    assert (ln(x) - norm(x)).abs().max() > 0.1  # and not without it
    assert sum(p.numel() for p in norm.parameters()) == 10  # no bias


def test_rmsnorm_names_the_shape_it_expected():
    with pytest.raises(ValueError, match=r"RMSNorm: expected an input whose last "
                                         r"dimensions are \(8,\), got shape \(2, 5\)"):
        RMSNorm(8)(torch.zeros(2, 5))


# ---------------------------------------------------------------- SwiGLU

def test_swiglu_equals_its_formula_in_float64():
    m = tiny(mlp="swiglu", n_embd=24)
    mlp = m.transformer.h[0].mlp
    H = m.config.hidden
    assert H == 64  # 8 * 24 / 3
    x = torch.randn(2, 5, 24, generator=torch.Generator().manual_seed(4), dtype=F64)
    W, b = mlp.c_fc.weight, mlp.c_fc.bias  # (2H, C), (2H,)
    gate, up = x @ W[:H].T + b[:H], x @ W[H:].T + b[H:]  # (2, 5, H) each
    silu = gate / (1 + torch.exp(-gate))  # z sigmoid(z)
    ref = (silu * up) @ mlp.c_proj.weight.T + mlp.c_proj.bias
    torch.testing.assert_close(mlp(x), ref, atol=1e-12, rtol=0)


@pytest.mark.parametrize("C, H", [(768, 2048), (64, 168), (4096, 10920), (48, 128)])
def test_swiglu_hidden_width_is_the_multiple_of_8_nearest_8c_over_3(C, H):
    cfg = GPTConfig(n_embd=C, n_head=8, mlp="swiglu")
    assert cfg.hidden == H and H % 8 == 0 and abs(H - 8 * C / 3) <= 4
    # so its three C x H matrices hold nearly the GELU MLP's two C x 4C
    assert abs(3 * C * H - 8 * C * C) <= 12 * C
    assert GPTConfig(n_embd=C, n_head=8, mlp="swiglu", mlp_hidden=100).hidden == 100
    assert GPTConfig(n_embd=C, n_head=8).hidden == 4 * C


# ---------------------------------------------------------------- attention

def attention_by_hand(attn, x, positions=None):
    """Causal attention with explicit per-head loops; query head j reads key/value
    head j // (nh // nkv). x (B, T, C) -> (B, T, C)."""
    B, T, C = x.shape
    nh, nkv = attn.n_head, attn.n_kv_head
    hs = C // nh
    W, b = attn.c_attn.weight, attn.c_attn.bias
    Wq, Wk, Wv = W[:C], W[C:C + nkv * hs], W[C + nkv * hs:]
    bq, bk, bv = b[:C], b[C:C + nkv * hs], b[C + nkv * hs:]
    future = torch.ones(T, T, dtype=torch.bool).triu(1)
    heads = []
    for j in range(nh):
        g = j // (nh // nkv)
        q = x @ Wq[j * hs:(j + 1) * hs].T + bq[j * hs:(j + 1) * hs]  # (B, T, hs)
        k = x @ Wk[g * hs:(g + 1) * hs].T + bk[g * hs:(g + 1) * hs]
        v = x @ Wv[g * hs:(g + 1) * hs].T + bv[g * hs:(g + 1) * hs]
        if positions is not None:
            q, k = apply_rope(q, positions), apply_rope(k, positions)
        s = (q @ k.transpose(1, 2) / math.sqrt(hs)).masked_fill(future, -math.inf)
        heads.append(s.softmax(-1) @ v)
    return attn.c_proj(torch.cat(heads, dim=-1))


@pytest.mark.parametrize("n_kv_head, pos_emb", list(itertools.product(
    [None, 4, 2, 1], ["learned", "rope"])))
def test_attention_equals_explicit_heads_in_float64(n_kv_head, pos_emb):
    m = tiny(n_kv_head=n_kv_head, pos_emb=pos_emb)
    attn = m.transformer.h[0].attn
    nkv = 4 if n_kv_head is None else n_kv_head
    assert attn.c_attn.weight.shape == (16 + 2 * nkv * 4, 16)
    x = torch.randn(3, 9, 16, generator=torch.Generator().manual_seed(5), dtype=F64)
    pos = torch.arange(9) if pos_emb == "rope" else None
    ref = attention_by_hand(attn, x, pos)
    torch.testing.assert_close(attn(x, pos), ref, atol=1e-12, rtol=0)


def test_n_kv_head_equal_to_n_head_is_multi_head_attention_exactly():
    a, b = tiny(), tiny(n_kv_head=4)  # same seed: the same weights
    assert all(torch.equal(p, q) for p, q in zip(a.state_dict().values(),
                                                 b.state_dict().values()))
    idx = ids((2, 16))
    assert torch.equal(a(idx)[0], b(idx)[0])


@pytest.mark.parametrize("n_kv_head", [2, 1])
def test_grouped_query_is_multi_head_with_copied_key_value_heads(n_kv_head):
    # copy each key/value head to the query heads of its group: a multi-head
    # model with those weights computes the same logits
    gqa, mha = tiny(n_kv_head=n_kv_head), tiny()
    C, hs, group = 16, 4, 4 // n_kv_head
    state = gqa.state_dict()
    for name, w in list(state.items()):
        if "c_attn" in name:
            q, kv = w[:C], w[C:]  # (C, ...), (2 nkv hs, ...)
            kv = kv.reshape(2, n_kv_head, hs, *w.shape[1:])
            kv = kv.repeat_interleave(group, dim=1).reshape(2 * C, *w.shape[1:])
            state[name] = torch.cat([q, kv])
    mha.load_state_dict(state)
    idx = ids((2, 16))
    torch.testing.assert_close(mha(idx)[0], gqa(idx)[0], atol=1e-12, rtol=0)


# ---------------------------------------------------------------- KV cache

OPTIONS = list(itertools.product(["layernorm", "rmsnorm"], ["gelu", "swiglu"],
                                 [None, 2, 1], ["learned", "rope"]))


@pytest.mark.parametrize("norm, mlp, n_kv_head, pos_emb", OPTIONS)
def test_cached_generation_equals_uncached_for_every_option(norm, mlp, n_kv_head,
                                                            pos_emb):
    m = tiny(scale=5.0, norm=norm, mlp=mlp, n_kv_head=n_kv_head, pos_emb=pos_emb)
    idx = ids((2, 5), seed=2)
    # 5 + 20 tokens: past block_size 16 the window slides and the cache is rebuilt
    cached = m.generate(idx, 20, do_sample=False)
    plain = m.generate(idx, 20, do_sample=False, use_cache=False)
    assert torch.equal(cached, plain) and cached.shape == (2, 25)
    # and the cached logits are the full forward's, to float64 rounding
    full, _ = m(plain[:, :16])
    cache = KVCache()
    got = [m(plain[:, lo:hi], kv_cache=cache)[0]
           for lo, hi in [(0, 5), (5, 6), (6, 9)] + [(t, t + 1) for t in range(9, 16)]]
    torch.testing.assert_close(torch.cat(got, dim=1), full, atol=1e-10, rtol=0)


@pytest.mark.parametrize("n_kv_head", [None, 2, 1])
def test_the_cache_holds_n_kv_head_heads(n_kv_head):
    m = tiny(n_kv_head=n_kv_head).float()
    cache = KVCache()
    m(ids((3, 10)), kv_cache=cache)
    nkv = 4 if n_kv_head is None else n_kv_head
    assert cache.keys[0].shape == (3, nkv, 10, 4)
    # 2 (K and V) x layers x batch x kv heads x positions x head size x 4 bytes
    assert cache.nbytes == 2 * 2 * 3 * nkv * 10 * 4 * 4


# ---------------------------------------------------------------- counts

def block_params(C, nh, nkv, H, norm, mlp, bias):
    hs = C // nh
    attn = C * (C + 2 * nkv * hs) + C * C + bias * (C + 2 * nkv * hs + C)
    mlp_n = (3 if mlp == "swiglu" else 2) * C * H + bias * (
        (2 * H if mlp == "swiglu" else H) + C)
    norm_n = C if norm == "rmsnorm" else C * (1 + bias)
    return attn + mlp_n + 2 * norm_n


@pytest.mark.parametrize("norm, mlp, n_kv_head, pos_emb", OPTIONS)
@pytest.mark.parametrize("bias", [True, False])
def test_parameter_counts_match_the_formulas(norm, mlp, n_kv_head, pos_emb, bias):
    C, V, T, L = 24, 23, 16, 2
    cfg = GPTConfig(block_size=T, vocab_size=V, n_layer=L, n_head=4, n_embd=C,
                    norm=norm, mlp=mlp, n_kv_head=n_kv_head, pos_emb=pos_emb,
                    bias=bias)
    m = GPT(cfg)
    nkv = 4 if n_kv_head is None else n_kv_head
    H = 64 if mlp == "swiglu" else 96
    final = C if norm == "rmsnorm" else C * (1 + bias)
    expected = (V * C + (T * C if pos_emb == "learned" else 0)
                + L * block_params(C, 4, nkv, H, norm, mlp, bias) + final)
    assert sum(p.numel() for p in m.parameters()) == expected
    # matmul FLOPs of one cached position: 2 per weight of every block matrix
    weights = sum(p.numel() for n, p in m.transformer.h.named_parameters()
                  if n.endswith(".weight") and p.dim() == 2)
    assert m.flops_per_generated_token(5) == weights * 2 + L * 4 * 5 * C + 2 * C * V


# ---------------------------------------------------------------- defaults

def test_defaults_are_gpt2s_block_unchanged():
    cfg = dict(block_size=8, vocab_size=23, n_layer=1, n_head=2, n_embd=8)
    m = GPT(GPTConfig(**cfg))
    assert [(k, tuple(v.shape)) for k, v in m.state_dict().items()] == [
        ("transformer.wte.weight", (23, 8)), ("transformer.wpe.weight", (8, 8)),
        ("transformer.h.0.ln_1.weight", (8,)), ("transformer.h.0.ln_1.bias", (8,)),
        ("transformer.h.0.attn.c_attn.weight", (24, 8)),
        ("transformer.h.0.attn.c_attn.bias", (24,)),
        ("transformer.h.0.attn.c_proj.weight", (8, 8)),
        ("transformer.h.0.attn.c_proj.bias", (8,)),
        ("transformer.h.0.ln_2.weight", (8,)), ("transformer.h.0.ln_2.bias", (8,)),
        ("transformer.h.0.mlp.c_fc.weight", (32, 8)),
        ("transformer.h.0.mlp.c_fc.bias", (32,)),
        ("transformer.h.0.mlp.c_proj.weight", (8, 32)),
        ("transformer.h.0.mlp.c_proj.bias", (8,)),
        ("transformer.ln_f.weight", (8,)), ("transformer.ln_f.bias", (8,)),
        ("lm_head.weight", (23, 8))]
    assert isinstance(m.transformer.h[0].ln_1, nn.LayerNorm)
    assert isinstance(m.transformer.h[0].mlp.gelu, nn.GELU)
    assert "norm=" not in repr(m) and "n_kv_head" not in repr(m)
    # the options spelled out give the same weights and bit-identical logits
    torch.manual_seed(0)
    a = GPT(GPTConfig(**cfg))
    torch.manual_seed(0)
    b = GPT(GPTConfig(**cfg, norm="layernorm", mlp="gelu", n_kv_head=2,
                      mlp_hidden=32))
    idx = ids((2, 8))
    assert torch.equal(a(idx)[0], b(idx)[0])


def test_modern_options_show_in_the_repr_and_module_types():
    m = tiny(norm="rmsnorm", mlp="swiglu", n_kv_head=2, pos_emb="rope", bias=False)
    r = repr(m)
    assert "norm='rmsnorm'" in r and "mlp='swiglu'" in r and "n_kv_head=2" in r
    assert isinstance(m.transformer.ln_f, RMSNorm)
    assert not any(n.endswith("bias") for n, _ in m.named_parameters())


# ---------------------------------------------------------------- errors

@pytest.mark.parametrize("kw, msg", [
    ({"n_head": 4, "n_kv_head": 3}, r"GPTConfig: n_head \(4\) must be divisible by "
                                    r"n_kv_head \(3\)"),
    ({"n_kv_head": 0}, r"n_kv_head must be a positive integer or None, got 0"),
    ({"norm": "batchnorm"}, r"norm must be one of \('layernorm', 'rmsnorm'\), got "
                            r"'batchnorm'"),
    ({"mlp": "relu"}, r"mlp must be one of \('gelu', 'swiglu'\), got 'relu'"),
    ({"mlp_hidden": 0}, r"mlp_hidden must be positive or None, got 0"),
])
def test_bad_options_name_the_config_and_what_came(kw, msg):
    base = dict(block_size=8, vocab_size=11, n_layer=1, n_head=4, n_embd=8)
    base.update(kw)
    with pytest.raises(ValueError, match=msg):
        GPTConfig(**base)
