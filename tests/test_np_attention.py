"""dlbook.numpy MultiheadAttention against torch.nn.MultiheadAttention (float64)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from dlbook.numpy import nn as npnn
from dlbook.numpy.gradcheck import numerical_gradient

sys.path.insert(0, str(Path(__file__).parent))
from np_helpers import check_against_torch  # noqa: E402

ATOL, RTOL = 1e-10, 1e-7
E, HEADS, N, L = 12, 3, 2, 5  # head_dim 4


def make_pair(**kw):
    t = torch.nn.MultiheadAttention(E, HEADS, **kw).double()
    m = npnn.MultiheadAttention(E, HEADS, **kw).double()
    m.load_state_dict({k: v.detach().numpy() for k, v in t.state_dict().items()})
    return t, m


def assert_close(got, want, what):
    want = want.detach().numpy() if torch.is_tensor(want) else want
    assert got.shape == want.shape, f"{what}: shape {got.shape} != torch {want.shape}"
    assert np.allclose(got, want, atol=ATOL, rtol=RTOL, equal_nan=True), \
        f"{what}: max error {np.nanmax(np.abs(got - want)):.2e}"


def causal_bool(L, S):
    return np.triu(np.ones((L, S), dtype=bool), k=1)  # True above the diagonal


CASES = ["self", "cross", "causal_bool", "causal_float", "padding_bool",
         "padding_float", "per_head_mask", "both_masks", "unbatched"]


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("average", [True, False])
def test_matches_torch(case, batch_first, average):
    rng = np.random.default_rng(0)
    t, m = make_pair(batch_first=batch_first)
    S = 7 if case == "cross" else L  # cross-attention: other length for key/value

    def shape(length):
        if case == "unbatched":
            return (length, E)
        return (N, length, E) if batch_first else (length, N, E)

    q = rng.standard_normal(shape(L))
    k = q if case == "self" else rng.standard_normal(shape(S))
    v = q if case == "self" else rng.standard_normal(shape(S))
    masks = {}
    padding = np.zeros((N, S), dtype=bool)
    padding[0, -2:] = True  # the first sequence has two padding positions
    if case in ("causal_bool", "both_masks"):
        masks["attn_mask"] = causal_bool(L, S)
    if case == "causal_float":
        masks["attn_mask"] = np.where(causal_bool(L, S), -np.inf, 0.0)
    if case == "per_head_mask":
        masks["attn_mask"] = rng.standard_normal((N * HEADS, L, S))
    if case in ("padding_bool", "both_masks"):
        masks["key_padding_mask"] = padding
    if case == "padding_float":
        masks["key_padding_mask"] = np.where(padding, -1e4, 0.0)

    tq = torch.tensor(q, requires_grad=True)
    tk = tq if case == "self" else torch.tensor(k, requires_grad=True)
    tv = tq if case == "self" else torch.tensor(v, requires_grad=True)
    t_masks = {name: torch.tensor(a) for name, a in masks.items()}
    out_t, w_t = t(tq, tk, tv, average_attn_weights=average, **t_masks)
    out, w = m(q, k, v, average_attn_weights=average, **masks)
    assert_close(out, out_t, "attn_output")
    assert_close(w, w_t, "attn_weights")

    g = rng.standard_normal(out.shape)
    (out_t * torch.tensor(g)).sum().backward()
    dq, dk, dv = m.backward(g)
    if case == "self":
        assert_close(dq + dk + dv, tq.grad, "grad of x (q = k = v, summed)")
    else:
        for name, got, want in (("query", dq, tq), ("key", dk, tk), ("value", dv, tv)):
            assert_close(got, want.grad, f"grad of {name}")
    np_params = dict(m.named_parameters())
    for name, p in t.named_parameters():
        assert_close(np_params[name].grad, p.grad, f"grad of {name}")


def test_shared_helper_self_attention_with_weights_gradient():
    """The shared comparison also sends a gradient through the returned weights."""
    t, m = make_pair(batch_first=True)
    x = np.random.default_rng(1).standard_normal((N, L, E))
    check_against_torch(m, t, x, x, x, atol=ATOL, rtol=RTOL)
    t2, m2 = make_pair()
    y = np.random.default_rng(2).standard_normal((L, N, E))
    check_against_torch(m2, t2, y, y, y, atol=ATOL, rtol=RTOL,
                        kwargs={"average_attn_weights": False})


def test_state_dict_keys_match_torch():
    for bias in (True, False):
        t = torch.nn.MultiheadAttention(E, HEADS, bias=bias)
        m = npnn.MultiheadAttention(E, HEADS, bias=bias)
        assert list(m.state_dict()) == list(t.state_dict())
        assert {k: v.shape for k, v in m.state_dict().items()} == \
            {k: tuple(v.shape) for k, v in t.state_dict().items()}
    m = npnn.MultiheadAttention(E, HEADS)
    assert np.all(m.in_proj_bias.data == 0) and np.all(m.out_proj.bias.data == 0)
    bound = np.sqrt(6 / (E + 3 * E))  # Xavier on the (3E, E) matrix, as torch
    assert np.abs(m.in_proj_weight.data).max() <= bound


def test_no_bias_matches_torch():
    t, m = make_pair(bias=False)
    x = np.random.default_rng(3).standard_normal((L, N, E))
    check_against_torch(m, t, x, x, x, atol=ATOL, rtol=RTOL)


@pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")
def test_need_weights_false_and_fully_masked_rows():
    t, m = make_pair()
    rng = np.random.default_rng(4)
    x = rng.standard_normal((L, N, E))
    out, w = m(x, x, x, need_weights=False)
    assert w is None and out.shape == (L, N, E)
    # a sequence whose keys are all padding: torch gives NaN, so do we
    padding = np.zeros((N, L), dtype=bool)
    padding[1] = True
    tx = torch.tensor(x)
    out_t, w_t = t(tx, tx, tx, key_padding_mask=torch.tensor(padding))
    out, w = m(x, x, x, key_padding_mask=padding)
    assert np.isnan(out[:, 1]).all() and np.isnan(w[1]).all()
    assert_close(out, out_t, "output")
    assert_close(w, w_t, "weights")


def test_dropout_on_weights():
    rng = np.random.default_rng(5)
    m = npnn.MultiheadAttention(E, HEADS, dropout=0.5, batch_first=True).double()
    x = rng.standard_normal((N, L, E))
    m.rng = np.random.default_rng(0)
    _, w = m(x, x, x, average_attn_weights=False)
    assert (w == 0).mean() > 0.2  # some weights dropped, survivors scaled by 2
    assert not np.allclose(w.sum(-1), 1)
    m.eval()
    _, w_eval = m(x, x, x)
    np.testing.assert_allclose(w_eval.sum(-1), 1, rtol=1e-12)  # identity in eval
    t = torch.nn.MultiheadAttention(E, HEADS, dropout=0.5, batch_first=True).double()
    t.load_state_dict({k: torch.tensor(v) for k, v in m.state_dict().items()})
    t.eval()
    with torch.no_grad():
        out_t, _ = t(*(torch.tensor(x),) * 3)
    assert_close(m(x, x, x)[0], out_t, "eval output")

    # training: backward reuses the forward's mask (finite differences)
    m.train()
    q, k, v = (rng.standard_normal((1, 3, E)) for _ in range(3))
    G = rng.standard_normal((1, 3, E))

    def f():
        m.rng = np.random.default_rng(0)  # the same mask on every call
        return float(np.sum(G * m(q, k, v)[0]))

    m.zero_grad()
    f()
    grads = m.backward(G)
    checks = list(zip((q, k, v), grads))
    checks.append((m.in_proj_weight.data, m.in_proj_weight.grad.copy()))
    for arr, analytic in checks:
        numeric = numerical_gradient(f, arr)
        rel = np.abs(analytic - numeric).max() / np.abs(numeric).max()
        assert rel < 1e-6, rel


def test_bad_input_errors():
    m = npnn.MultiheadAttention(E, HEADS)
    x = np.zeros((L, N, E))
    with pytest.raises(ValueError, match=r"embed_dim=12.*query .*got \(5, 2, 8\)"):
        m(np.zeros((L, N, 8)), x, x)
    with pytest.raises(ValueError, match=r"attn_mask of shape .*got \(4, 4\)"):
        m(x, x, x, attn_mask=np.zeros((4, 4), dtype=bool))
    with pytest.raises(ValueError, match=r"key_padding_mask .*\(2, 5\), got \(5, 2\)"):
        m(x, x, x, key_padding_mask=np.zeros((L, N), dtype=bool))
    with pytest.raises(TypeError, match="bool"):
        m(x, x, x, attn_mask=np.zeros((L, L), dtype=np.int64))
    with pytest.raises(ValueError, match="key and value"):
        m(x, x, np.zeros((L + 1, N, E)))
    with pytest.raises(ValueError, match="is_causal=True needs attn_mask"):
        m(x, x, x, is_causal=True)
    with pytest.raises(ValueError, match="multiple of num_heads"):
        npnn.MultiheadAttention(10, 3)
    with pytest.raises(NotImplementedError, match="kdim"):
        npnn.MultiheadAttention(E, HEADS, kdim=5)
    with pytest.raises(RuntimeError, match="backward called before forward"):
        npnn.MultiheadAttention(E, HEADS).backward(x)
    m(x, x, x)
    with pytest.raises(ValueError, match="grad_output"):
        m.backward(np.zeros((N, L, E)))
