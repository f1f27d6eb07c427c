"""dlbook.numpy Dropout: mask statistics, eval identity, mask reuse, edge cases."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dlbook.numpy import nn as npnn


@pytest.mark.parametrize("p", [0.1, 0.5, 0.8])
def test_mask_statistics(p):
    d = npnn.Dropout(p, rng=np.random.default_rng(0))
    x = np.ones((200, 500))
    y = d(x)
    kept = y != 0
    # 100,000 Bernoulli draws: the kept fraction is within ~5 standard errors
    se = np.sqrt(p * (1 - p) / x.size)
    assert abs(kept.mean() - (1 - p)) < 5 * se
    np.testing.assert_allclose(y[kept], 1 / (1 - p))  # inverted scaling
    assert abs(y.mean() - 1) < 5 * se / (1 - p)  # expectation preserved


def test_same_statistics_as_torch():
    """torch draws other random numbers, but the distribution of outputs agrees."""
    p = 0.3
    x = np.full((400, 250), 2.0)
    y = npnn.Dropout(p, rng=np.random.default_rng(1))(x)
    torch.manual_seed(1)
    y_t = torch.nn.Dropout(p)(torch.tensor(x)).numpy()
    assert set(np.unique(y)) == set(np.unique(y_t)) == {0.0, 2.0 / (1 - p)}
    assert abs((y == 0).mean() - (y_t == 0).mean()) < 0.01


def test_eval_is_identity():
    d = npnn.Dropout(0.5)
    x = np.random.default_rng(2).standard_normal((4, 6))
    d.eval()
    assert d(x) is x
    g = np.ones_like(x)
    assert d.backward(g) is g


def test_backward_reuses_the_mask():
    d = npnn.Dropout(0.4, rng=np.random.default_rng(3))
    x = np.random.default_rng(4).standard_normal((50, 40))
    y = d(x)
    g = np.random.default_rng(5).standard_normal(x.shape)
    dx = d.backward(g)
    scale = 1 / 0.6
    np.testing.assert_allclose(dx, np.where(y != 0, g * scale, 0.0))
    np.testing.assert_allclose(y, np.where(y != 0, x * scale, 0.0))
    np.testing.assert_allclose(dx, d.backward(g))  # a second backward: same mask


def test_seed_everything_repeats_masks_and_inits():
    """Without an rng argument the global np.random state is used, so
    dlbook.utils.seed_everything makes dropout masks and initial weights repeat."""
    from dlbook.utils import seed_everything

    x = np.ones((10, 10))
    saved = np.random.get_state(), torch.get_rng_state()  # leave them as found
    try:
        runs = []
        for _ in range(2):
            seed_everything(0)
            runs.append((npnn.Dropout(0.5)(x), npnn.LSTM(3, 4).weight_hh_l0.data,
                         npnn.Embedding(5, 2).weight.data))
        other = npnn.Dropout(0.5)(x)
    finally:
        np.random.set_state(saved[0])
        torch.set_rng_state(saved[1])
    for a, b in zip(*runs):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(runs[0][0], other)


def test_p_zero_and_one_match_torch():
    x = np.random.default_rng(6).standard_normal((3, 7))
    for p in (0.0, 1.0):
        d, d_t = npnn.Dropout(p), torch.nn.Dropout(p)
        xt = torch.tensor(x, requires_grad=True)
        y_t = d_t(xt)
        y_t.backward(torch.ones_like(y_t))
        np.testing.assert_array_equal(d(x), y_t.detach().numpy())
        np.testing.assert_array_equal(d.backward(np.ones_like(x)), xt.grad.numpy())
    assert not np.isnan(npnn.Dropout(1.0)(x)).any()


def test_inplace_and_dtype():
    x = np.ones((5, 5), dtype=np.float32)
    y = npnn.Dropout(0.5, inplace=True, rng=np.random.default_rng(7))(x)
    assert y is x and y.dtype == np.float32 and set(np.unique(x)) <= {0.0, 2.0}


def test_bad_arguments():
    with pytest.raises(ValueError, match=r"Dropout: p must be a probability in \[0, 1"):
        npnn.Dropout(1.5)
    with pytest.raises(TypeError, match="floating-point"):
        npnn.Dropout(0.5)(np.ones(3, dtype=np.int64))
    d = npnn.Dropout(0.5)
    d(np.ones((2, 3)))
    msg = r"Dropout.backward: grad_output has shape \(3, 2\), expected \(2, 3\)"
    with pytest.raises(ValueError, match=msg):
        d.backward(np.ones((3, 2)))
    assert repr(d) == "Dropout(p=0.5, inplace=False)"
