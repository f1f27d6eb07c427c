"""dlbook.numpy Embedding against torch.nn.Embedding (float64)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dlbook.numpy import nn as npnn


def make_pair(num, dim, padding_idx=None):
    t = torch.nn.Embedding(num, dim, padding_idx=padding_idx).double()
    m = npnn.Embedding(num, dim, padding_idx=padding_idx).double()
    m.load_state_dict({k: v.detach().numpy() for k, v in t.state_dict().items()})
    return t, m


@pytest.mark.parametrize("padding_idx", [None, 0, -1])
def test_repeated_indices_and_padding_match_torch(padding_idx):
    t, m = make_pair(6, 5, padding_idx)
    # index 2 appears four times, the padding rows (0 and 5) appear too
    idx = np.array([[2, 0, 2, 5], [2, 3, 2, 0], [1, 5, 4, 4]])  # (N, T)
    out_t = t(torch.tensor(idx))
    out = m(idx)
    assert out.shape == (3, 4, 5)
    np.testing.assert_allclose(out, out_t.detach().numpy(), rtol=0, atol=0)
    g = np.random.default_rng(0).standard_normal(out.shape)
    (out_t * torch.tensor(g)).sum().backward()
    assert m.backward(g) is None  # integer indices have no gradient
    np.testing.assert_allclose(m.weight.grad, t.weight.grad.numpy(), rtol=1e-12,
                               atol=1e-12)
    # the sum over the four uses of row 2, computed independently
    uses = g[idx == 2]
    np.testing.assert_allclose(m.weight.grad[2], uses.sum(0), rtol=1e-12)
    if padding_idx is not None:
        assert m.padding_idx == t.padding_idx
        assert not m.weight.grad[m.padding_idx].any()


def test_init_is_standard_normal_with_zero_padding_row():
    m = npnn.Embedding(2000, 50, padding_idx=3, rng=np.random.default_rng(0))
    assert m.weight.dtype == np.float32
    assert not m.weight.data[3].any()
    w = np.delete(m.weight.data, 3, axis=0)
    assert abs(w.mean()) < 0.01 and abs(w.std() - 1) < 0.01
    assert repr(m) == "Embedding(2000, 50, padding_idx=3)"


def test_gradients_accumulate_across_calls():
    m = npnn.Embedding(4, 3).double()
    idx = np.array([1, 1, 3])
    for _ in range(2):
        m(idx)
        m.backward(np.ones((3, 3)))
    np.testing.assert_array_equal(m.weight.grad[:, 0], [0, 4, 0, 2])


def test_bad_input_errors():
    m = npnn.Embedding(5, 3)
    msg = r"Embedding\(5, 3\): indices must be in \[0, 4\], got \[5\]"
    with pytest.raises(IndexError, match=msg):
        m(np.array([0, 5, 1]))
    with pytest.raises(IndexError, match=r"got \[-1\]"):
        m(np.array([-1, 2]))
    with pytest.raises(TypeError, match="integer indices"):
        m(np.array([0.0, 1.0]))
    with pytest.raises(ValueError, match="padding_idx"):
        npnn.Embedding(5, 3, padding_idx=5)
    with pytest.raises(RuntimeError, match="backward called before forward"):
        npnn.Embedding(5, 3).backward(np.zeros((2, 3)))
    m(np.array([[0, 1]]))
    msg = r"grad_output has shape \(2, 3\), expected \(1, 2, 3\)"
    with pytest.raises(ValueError, match=msg):
        m.backward(np.zeros((2, 3)))
