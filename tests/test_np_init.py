"""nn.init against torch.nn.init: gains, fans, bounds and sampled statistics."""

import math

import numpy as np
import pytest
import torch

from dlbook.numpy import nn as npnn
from dlbook.numpy.nn import init as npinit

SHAPES = [(64, 32), (32, 16, 3, 3), (20, 8, 5)]


GAINS = [("linear", None), ("conv2d", None), ("sigmoid", None), ("tanh", None),
         ("relu", None), ("leaky_relu", None), ("leaky_relu", 0.2), ("selu", None)]


@pytest.mark.parametrize("name,param", GAINS)
def test_calculate_gain(name, param):
    assert npinit.calculate_gain(name, param) == pytest.approx(
        torch.nn.init.calculate_gain(name, param), rel=1e-15)


@pytest.mark.parametrize("shape", SHAPES)
def test_fans_match_torch(shape):
    t = torch.empty(shape)
    assert npinit._calculate_fan_in_and_fan_out(np.empty(shape)) == \
        torch.nn.init._calculate_fan_in_and_fan_out(t)
    with pytest.raises(ValueError, match="at least 2"):
        npinit._calculate_fan_in_and_fan_out(np.empty(5))


def _torch_std(fn, shape, **kw):
    t = torch.empty(shape, dtype=torch.float64)
    torch.manual_seed(0)
    fn(t, **kw)
    return t.std().item(), t.abs().max().item()


CASES = [
    ("xavier_uniform_", {}), ("xavier_uniform_", {"gain": 2.0}), ("xavier_normal_", {}),
    ("kaiming_uniform_", {}), ("kaiming_uniform_", {"a": math.sqrt(5)}),
    ("kaiming_uniform_", {"mode": "fan_out", "nonlinearity": "relu"}),
    ("kaiming_normal_", {"nonlinearity": "relu"}),
    ("kaiming_normal_", {"mode": "fan_out", "a": 0.1}),
]


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("name,kw", CASES)
def test_init_distributions_match_torch(name, kw, shape):
    arr = np.empty(shape)
    getattr(npinit, name)(arr, rng=np.random.default_rng(0), **kw)
    t_std, t_max = _torch_std(getattr(torch.nn.init, name), shape, **kw)
    # same distribution: sample stds agree within sampling error (n >= 2048)
    assert arr.std() == pytest.approx(t_std, rel=0.06)
    if "uniform" in name:  # same bound: both maxima lie just under it
        assert arr.std() * math.sqrt(3) == pytest.approx(t_max, rel=0.06)
        assert np.abs(arr).max() <= t_std * math.sqrt(3) * 1.07


def test_uniform_normal_constant_in_place_on_parameter():
    p = npnn.Parameter(np.zeros((200, 100), dtype=np.float32))
    out = npinit.uniform_(p, -2, 3, rng=np.random.default_rng(1))
    assert out is p and p.dtype == np.float32
    assert -2 <= p.data.min() and p.data.max() <= 3
    assert p.data.mean() == pytest.approx(0.5, abs=0.05)
    npinit.normal_(p, 1.0, 0.5, rng=np.random.default_rng(1))
    assert p.data.std() == pytest.approx(0.5, rel=0.03)
    npinit.constant_(p, 0.3)
    assert np.all(p.data == np.float32(0.3))
    npinit.zeros_(p)
    assert not p.data.any()
    npinit.ones_(p.data)  # a plain array works too
    assert np.all(p.data == 1)


def test_rng_makes_init_reproducible():
    a, b = np.empty((5, 4)), np.empty((5, 4))
    npinit.kaiming_normal_(a, rng=np.random.default_rng(7))
    npinit.kaiming_normal_(b, rng=np.random.default_rng(7))
    np.testing.assert_array_equal(a, b)
    l1 = npnn.Linear(4, 3, rng=np.random.default_rng(3))
    l2 = npnn.Linear(4, 3, rng=np.random.default_rng(3))
    np.testing.assert_array_equal(l1.weight.data, l2.weight.data)


def test_orthogonal_eye_trunc_normal():
    w = np.empty((6, 10))
    npinit.orthogonal_(w, rng=np.random.default_rng(0))
    np.testing.assert_allclose(w @ w.T, np.eye(6), atol=1e-12)
    e = np.empty((3, 4))
    npinit.eye_(e)
    np.testing.assert_array_equal(e, torch.nn.init.eye_(torch.empty(3, 4)).numpy())
    t = np.empty(10000)
    npinit.trunc_normal_(t, std=1.0, a=-1.0, b=1.0, rng=np.random.default_rng(0))
    assert t.min() >= -1 and t.max() <= 1


def test_layers_initialise_like_torch():
    torch.manual_seed(0)
    for np_m, t_m in [(npnn.Linear(300, 200), torch.nn.Linear(300, 200)),
                      (npnn.Conv2d(16, 32, 5), torch.nn.Conv2d(16, 32, 5)),
                      (npnn.Conv1d(8, 30, 3), torch.nn.Conv1d(8, 30, 3)),
                      (npnn.ConvTranspose2d(20, 10, 4),
                       torch.nn.ConvTranspose2d(20, 10, 4))]:
        # torch: weight and bias ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in)), torch's fan_in
        fan_in, _ = torch.nn.init._calculate_fan_in_and_fan_out(t_m.weight)
        bound = 1 / math.sqrt(fan_in)
        pairs = zip(np_m.named_parameters(), t_m.named_parameters())
        for (name, p), (t_name, tp) in pairs:
            assert name == t_name and p.shape == tuple(tp.shape)
            assert np.abs(p.data).max() <= bound
            assert tp.detach().abs().max().item() <= bound
            if p.data.size > 1000:  # enough samples for a tight std estimate
                assert p.data.std() == pytest.approx(bound / math.sqrt(3), rel=0.05)
                assert tp.detach().std().item() == pytest.approx(bound / math.sqrt(3),
                                                                 rel=0.05)
