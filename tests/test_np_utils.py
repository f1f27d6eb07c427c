"""Gradient clipping, weight_norm and spectral_norm against torch.nn.utils."""

import pathlib
import sys
import warnings

import numpy as np
import pytest
import torch

sys.path.insert(0, str(pathlib.Path(__file__).parent))
from np_helpers import check_against_torch, copy_torch_to_np  # noqa: E402

from dlbook.numpy import gradcheck  # noqa: E402
from dlbook.numpy import nn as npnn
from dlbook.numpy.nn.utils import (  # noqa: E402
    clip_grad_norm_,
    clip_grad_value_,
    remove_spectral_norm,
    remove_weight_norm,
    spectral_norm,
    weight_norm,
)

rng = np.random.default_rng(4)


def _grads_pair(scale):
    shapes = [(3, 4), (4,), (2, 2, 3)]
    np_ps, t_ps = [], []
    for s in shapes:
        g = scale * rng.standard_normal(s)
        p = npnn.Parameter(np.zeros(s))
        p.grad = g.copy()
        np_ps.append(p)
        t = torch.zeros(s, dtype=torch.float64, requires_grad=True)
        t.grad = torch.tensor(g)
        t_ps.append(t)
    return np_ps, t_ps


@pytest.mark.parametrize("norm_type", [2.0, 1.0, 3.0, float("inf")])
@pytest.mark.parametrize("scale", [0.01, 10.0])
def test_clip_grad_norm(norm_type, scale):
    np_ps, t_ps = _grads_pair(scale)
    total = clip_grad_norm_(np_ps, max_norm=1.0, norm_type=norm_type)
    t_total = torch.nn.utils.clip_grad_norm_(t_ps, max_norm=1.0, norm_type=norm_type)
    np.testing.assert_allclose(total, t_total.item(), rtol=1e-12)
    for p, t in zip(np_ps, t_ps):
        np.testing.assert_allclose(p.grad, t.grad.numpy(), rtol=1e-12, atol=1e-15)


def test_clip_grad_value():
    np_ps, t_ps = _grads_pair(3.0)
    clip_grad_value_(np_ps, 0.5)
    torch.nn.utils.clip_grad_value_(t_ps, 0.5)
    for p, t in zip(np_ps, t_ps):
        np.testing.assert_array_equal(p.grad, t.grad.numpy())
    assert max(np.abs(p.grad).max() for p in np_ps) == 0.5


def _torch_weight_norm(module, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # the classic API is deprecated
        return torch.nn.utils.weight_norm(module, **kw)


def _torch_spectral_norm(module, **kw):
    return torch.nn.utils.spectral_norm(module, **kw)


@pytest.mark.parametrize("dim", [0, 1, None])
def test_weight_norm_linear(dim):
    t_m = _torch_weight_norm(torch.nn.Linear(4, 3), dim=dim)
    np_m = weight_norm(npnn.Linear(4, 3), dim=dim)
    assert list(np_m.state_dict()) == list(t_m.state_dict())  # bias, weight_g, weight_v
    assert np_m.weight_g.shape == tuple(t_m.weight_g.shape)
    check_against_torch(np_m, t_m, rng.standard_normal((5, 4)))


def test_weight_norm_conv_in_sequential():
    t_m = torch.nn.Sequential(_torch_weight_norm(torch.nn.Conv2d(2, 3, 3)),
                              torch.nn.Tanh(), torch.nn.Flatten(),
                              torch.nn.Linear(12, 2))
    np_m = npnn.Sequential(weight_norm(npnn.Conv2d(2, 3, 3)), npnn.Tanh(), npnn.Flatten(),
                         npnn.Linear(12, 2))
    check_against_torch(np_m, t_m, rng.standard_normal((2, 2, 4, 4)))


def test_weight_norm_initial_weight_unchanged_and_removable():
    lin = npnn.Linear(4, 3).double()
    w = lin.weight.data.copy()
    x = rng.standard_normal((2, 4))
    y = lin(x)
    weight_norm(lin)
    np.testing.assert_allclose(lin(x), y, rtol=1e-12)
    np.testing.assert_allclose(lin.weight_g.data[:, 0], np.linalg.norm(w, axis=1))
    gradcheck(lin, x)
    remove_weight_norm(lin)
    assert sorted(n for n, _ in lin.named_parameters()) == ["bias", "weight"]
    np.testing.assert_allclose(lin(x), y, rtol=1e-12)


@pytest.mark.parametrize("train", [True, False])
@pytest.mark.parametrize("n_iter", [1, 3])
def test_spectral_norm_linear(train, n_iter):
    t_m = _torch_spectral_norm(torch.nn.Linear(5, 4), n_power_iterations=n_iter)
    np_m = spectral_norm(npnn.Linear(5, 4), n_power_iterations=n_iter)
    assert list(np_m.state_dict()) == list(t_m.state_dict())
    np_m.train(train)
    t_m.train(train)
    copy_torch_to_np(np_m, t_m)  # same weight_orig and the same u, v
    for step in range(3):  # in training mode u, v are refined each step, as torch
        np_m.zero_grad()
        t_m.zero_grad()
        check_against_torch(np_m, t_m, rng.standard_normal((3, 5)), seed=step,
                            copy_weights=False)


def test_spectral_norm_conv_and_transpose_against_explicit_sigma():
    t_c = _torch_spectral_norm(torch.nn.Conv2d(2, 3, 3)).eval()
    np_c = spectral_norm(npnn.Conv2d(2, 3, 3)).eval()
    check_against_torch(np_c, t_c, rng.standard_normal((2, 2, 5, 5)))
    t_t = _torch_spectral_norm(torch.nn.ConvTranspose2d(2, 3, 3))
    np_t = spectral_norm(npnn.ConvTranspose2d(2, 3, 3))
    check_against_torch(np_t, t_t, rng.standard_normal((2, 2, 3, 3)))
    # after many power iterations sigma is the largest singular value
    # seeded weights and enough iterations: the rate is (s2 / s1)^2 per step, and
    # unseeded weights sometimes drew s2 close to s1 (a flaky rtol=1e-8)
    lin = spectral_norm(npnn.Linear(6, 5, rng=np.random.default_rng(3)).double(),
                        n_power_iterations=300)
    lin(rng.standard_normal((1, 6)))
    W = lin.weight_orig.data
    sigma = np.linalg.svd(W, compute_uv=False)[0]
    np.testing.assert_allclose(lin.weight.data, W / sigma, rtol=1e-8)
    lin.eval()
    gradcheck(lin, rng.standard_normal((2, 6)))
    remove_spectral_norm(lin)
    assert np.linalg.svd(lin.weight.data, compute_uv=False)[0] == pytest.approx(1.0)


def test_remove_restores_plain_module():
    lin = weight_norm(spectral_norm(npnn.Linear(3, 2).double()), name="bias", dim=None)
    assert sorted(lin.state_dict()) == ["bias_g", "bias_v", "weight_orig", "weight_u",
                                        "weight_v"]
    remove_weight_norm(lin, name="bias")
    remove_spectral_norm(lin)
    assert list(lin.state_dict()) == ["bias", "weight"]
    assert "forward" not in vars(lin) and "backward" not in vars(lin)
    gradcheck(lin, rng.standard_normal((2, 3)))
