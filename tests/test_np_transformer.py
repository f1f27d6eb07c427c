"""dlbook.numpy TransformerEncoderLayer / TransformerDecoderLayer against torch's
(float64, dropout 0), and the basic versions of MultiheadAttention and the RNNs
against the layers."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from dlbook.numpy import nn as npnn

sys.path.insert(0, str(Path(__file__).parent))
from np_helpers import check_against_torch  # noqa: E402

E, NHEAD, FF, N, S, T = 8, 2, 16, 3, 5, 4


def causal(L, S=None):
    return np.triu(np.ones((L, S or L), dtype=bool), k=1)  # True = may not attend


def pair(cls, **kw):
    kw = dict(dim_feedforward=FF, dropout=0.0, **kw)
    return getattr(npnn, cls)(E, NHEAD, **kw), getattr(torch.nn, cls)(E, NHEAD, **kw)


def layout(L, batched, batch_first):
    return ((N, L, E) if batch_first else (L, N, E)) if batched else (L, E)


@pytest.mark.parametrize("norm_first", [False, True])
@pytest.mark.parametrize("batch_first, batched", [(False, True), (True, True),
                                                  (False, False)])
@pytest.mark.parametrize("activation", ["relu", "gelu"])
def test_encoder_layer_matches_torch(norm_first, batch_first, batched, activation):
    np_m, t_m = pair("TransformerEncoderLayer", norm_first=norm_first,
                     batch_first=batch_first, activation=activation)
    assert list(np_m.state_dict()) == list(t_m.state_dict())
    x = np.random.default_rng(0).standard_normal(layout(S, batched, batch_first))
    check_against_torch(np_m, t_m, x)


@pytest.mark.parametrize("norm_first", [False, True])
@pytest.mark.parametrize("masks", ["none", "causal", "float", "padding", "hint",
                                   "hint+padding"])
def test_encoder_layer_masks_match_torch(norm_first, masks):
    np_m, t_m = pair("TransformerEncoderLayer", norm_first=norm_first,
                     batch_first=True, bias=masks != "float",
                     layer_norm_eps=1e-6)
    rng = np.random.default_rng(1)
    x = rng.standard_normal((N, S, E))
    pad = np.zeros((N, S), dtype=bool)
    pad[0, -2:] = True  # the first sequence is two tokens shorter
    kw = {"none": {}, "causal": {"src_mask": causal(S)},
          "float": {"src_mask": rng.standard_normal((S, S))},
          "padding": {"src_key_padding_mask": pad},
          # is_causal is a hint: torch then applies the causal mask whatever
          # src_mask says (no padding mask), or src_mask as given (with one)
          "hint": {"src_mask": np.zeros((S, S), dtype=bool), "is_causal": True},
          "hint+padding": {"src_mask": causal(S), "is_causal": True,
                           "src_key_padding_mask": pad}}[masks]
    t_kw = {k: torch.tensor(v) if isinstance(v, np.ndarray) else v
            for k, v in kw.items()}

    res = check_against_torch(_Call(np_m, kw), _TorchCall(t_m, t_kw), x)
    assert res["output"].shape == (N, S, E)


class _Call(npnn.Module):
    """A NumPy layer called with fixed keyword arguments (masks)."""

    def __init__(self, m, kw):
        super().__init__()
        self.m, self.kw = m, kw

    def forward(self, *x):
        return self.m(*x, **self.kw)

    def backward(self, g):
        return self.m.backward(g)


class _TorchCall(torch.nn.Module):
    def __init__(self, m, kw):
        super().__init__()
        self.m, self.kw = m, kw

    def forward(self, *x):
        return self.m(*x, **self.kw)


def test_encoder_is_causal_without_mask_raises_as_torch():
    np_m, t_m = pair("TransformerEncoderLayer")
    x = np.zeros((S, N, E))
    with pytest.raises(RuntimeError, match="Need attn_mask"):
        t_m(torch.tensor(x, dtype=torch.float32), is_causal=True)
    with pytest.raises(ValueError, match="is_causal=True needs attn_mask"):
        np_m(x, is_causal=True)


@pytest.mark.parametrize("norm_first", [False, True])
@pytest.mark.parametrize("batch_first, batched", [(False, True), (True, True),
                                                  (False, False)])
def test_decoder_layer_matches_torch(norm_first, batch_first, batched):
    np_m, t_m = pair("TransformerDecoderLayer", norm_first=norm_first,
                     batch_first=batch_first, activation="gelu")
    assert list(np_m.state_dict()) == list(t_m.state_dict())
    rng = np.random.default_rng(2)
    tgt = rng.standard_normal(layout(T, batched, batch_first))
    mem = rng.standard_normal(layout(S, batched, batch_first))
    res = check_against_torch(np_m, t_m, tgt, mem)
    assert res["grads"][1].shape == mem.shape


@pytest.mark.parametrize("norm_first", [False, True])
def test_decoder_layer_masks_match_torch(norm_first):
    np_m, t_m = pair("TransformerDecoderLayer", norm_first=norm_first,
                     batch_first=True)
    rng = np.random.default_rng(3)
    tgt, mem = rng.standard_normal((N, T, E)), rng.standard_normal((N, S, E))
    tpad, mpad = np.zeros((N, T), dtype=bool), np.zeros((N, S), dtype=bool)
    tpad[1, -1], mpad[2, -2:] = True, True
    kw = {"tgt_mask": causal(T), "memory_mask": rng.standard_normal((T, S)),
          "tgt_key_padding_mask": tpad,  # bool like tgt_mask, float like memory_mask
          "memory_key_padding_mask": np.where(mpad, -np.inf, 0.0),
          "tgt_is_causal": True}
    t_kw = {k: torch.tensor(v) if isinstance(v, np.ndarray) else v
            for k, v in kw.items()}
    check_against_torch(_Call2(np_m, kw), _TorchCall(t_m, t_kw), tgt, mem)


class _Call2(_Call):
    def backward(self, g):
        return self.m.backward(g)  # (grad tgt, grad memory)


def test_layers_reused_and_in_training_mode():
    """One encoder layer applied twice (shared weights) gets both gradients; with
    dropout > 0 in training mode the output changes and backward still runs."""
    np_m, t_m = pair("TransformerEncoderLayer", batch_first=True)
    check_against_torch(_Twice(np_m), _TorchTwice(t_m),
                        np.random.default_rng(4).standard_normal((N, S, E)))
    m = npnn.TransformerEncoderLayer(E, NHEAD, FF, dropout=0.5,
                                   rng=np.random.default_rng(5)).double()
    x = np.random.default_rng(6).standard_normal((S, N, E))
    y = m(x)
    assert y.shape == x.shape and m.backward(np.ones_like(y)).shape == x.shape
    m.eval()
    np.testing.assert_array_equal(m(x), m(x))  # no dropout in eval mode


class _Twice(npnn.Module):
    def __init__(self, m):
        super().__init__()
        self.m = m

    def forward(self, x):
        return self.m(self.m(x))

    def backward(self, g):
        return self.m.backward(self.m.backward(g))


class _TorchTwice(torch.nn.Module):
    def __init__(self, m):
        super().__init__()
        self.m = m

    def forward(self, x):
        return self.m(self.m(x))


def test_transformer_layer_errors_name_the_layer():
    m = npnn.TransformerEncoderLayer(E, NHEAD, FF)
    with pytest.raises(ValueError, match=r"TransformerEncoderLayer\(d_model=8\): "
                                         r"expected src of shape"):
        m(np.zeros((S, N, E + 1), dtype=np.float32))
    with pytest.raises(TypeError, match="TransformerEncoderLayer: expected a "
                                        "floating-point input"):
        m(np.zeros((S, N, E), dtype=np.int64))
    with pytest.raises(ValueError, match="d_model .* multiple of nhead"):
        npnn.TransformerEncoderLayer(7, 2)
    with pytest.raises(ValueError, match="activation must be 'relu' or 'gelu'"):
        npnn.TransformerEncoderLayer(E, NHEAD, activation="tanh")
    d = npnn.TransformerDecoderLayer(E, NHEAD, FF)
    with pytest.raises(ValueError, match="both be batched"):
        d(np.zeros((T, N, E), dtype=np.float32), np.zeros((S, E), dtype=np.float32))
    with pytest.raises(TypeError, match="floating-point memory"):
        d(np.zeros((T, N, E), dtype=np.float32), np.zeros((S, N, E), dtype=np.int32))
    assert "norm_first=True" in repr(npnn.TransformerEncoderLayer(E, 2, norm_first=True))


# ---- the basic versions beside the fast layers ---------------------------------
def test_multihead_attention_agrees_with_naive():
    m = npnn.MultiheadAttention(E, NHEAD, batch_first=True).double()
    rng = np.random.default_rng(7)
    m.in_proj_bias.data = rng.standard_normal(3 * E)  # non-zero biases
    q, kv = rng.standard_normal((N, T, E)), rng.standard_normal((N, S, E))
    for mask in (None, causal(T, S)):
        out, w = m(q, kv, kv, attn_mask=mask)
        ref, w_ref = npnn.multi_head_attention_naive(
            q, kv, kv, m.in_proj_weight.data, m.in_proj_bias.data,
            m.out_proj.weight.data, m.out_proj.bias.data, NHEAD, attn_mask=mask)
        np.testing.assert_allclose(out, ref, atol=1e-12)
        np.testing.assert_allclose(w, w_ref, atol=1e-12)


@pytest.mark.parametrize("cls, mode", [("RNN", "tanh"), ("RNN", "relu"),
                                       ("GRU", "gru"), ("LSTM", "lstm")])
def test_rnn_layers_agree_with_naive(cls, mode):
    kw = {"nonlinearity": mode} if cls == "RNN" else {}
    m = getattr(npnn, cls)(3, 5, **kw).double()
    rng = np.random.default_rng(8)
    x, h0, c0 = (rng.standard_normal(s) for s in ((6, 2, 3), (1, 2, 5), (1, 2, 5)))
    w = [p.data for p in m.parameters()]  # weight_ih, weight_hh, bias_ih, bias_hh
    if cls == "LSTM":
        out, (h, c) = m(x, (h0, c0))
        ref, (h_ref, c_ref) = npnn.rnn_naive(x, h0[0], *w, mode=mode, c0=c0[0])
        np.testing.assert_allclose(c[0], c_ref, atol=1e-12)
    else:
        out, h = m(x, h0)
        ref, h_ref = npnn.rnn_naive(x, h0[0], *w, mode=mode)
    np.testing.assert_allclose(out, ref, atol=1e-12)
    np.testing.assert_allclose(h[0], h_ref, atol=1e-12)


def test_activation_may_be_torchs_function():
    np_m, t_m = pair("TransformerEncoderLayer", activation=torch.nn.functional.gelu)
    assert type(np_m.activation).__name__ == "GELU"
    check_against_torch(np_m, t_m, np.random.default_rng(9).standard_normal((S, N, E)))
