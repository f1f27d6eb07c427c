"""Linear, Sequential, Flatten and activations against torch in float64."""

import pathlib
import sys

import numpy as np
import pytest
import torch

sys.path.insert(0, str(pathlib.Path(__file__).parent))
from np_helpers import check_against_torch  # noqa: E402

from dlbook.numpy import gradcheck  # noqa: E402
from dlbook.numpy import nn as npnn

rng = np.random.default_rng(0)


@pytest.mark.parametrize("shape", [(5, 3), (2, 4, 3), (3,)])
@pytest.mark.parametrize("bias", [True, False])
def test_linear_matches_torch(shape, bias):
    res = check_against_torch(npnn.Linear(3, 4, bias=bias),
                              torch.nn.Linear(3, 4, bias=bias),
                              rng.standard_normal(shape))
    assert res["output"].shape == shape[:-1] + (4,)


def test_linear_parameters_and_repr():
    lin = npnn.Linear(3, 4)
    assert [n for n, _ in lin.named_parameters()] == ["weight", "bias"]
    assert lin.weight.shape == (4, 3) and lin.weight.dtype == np.float32
    assert repr(lin) == "Linear(in_features=3, out_features=4, bias=True)"
    assert np.abs(lin.weight.data).max() <= 1 / np.sqrt(3)


def test_linear_bad_input_message():
    with pytest.raises(ValueError) as e:
        npnn.Linear(3, 4)(np.zeros((2, 5)))
    assert str(e.value) == ("Linear(in_features=3, out_features=4): expected input "
                            "with 3 features in the last dimension, got shape (2, 5)")


def test_linear_gradients_accumulate():
    lin = npnn.Linear(3, 2).double()
    x = rng.standard_normal((4, 3))
    g = rng.standard_normal((4, 2))
    lin(x)
    lin.backward(g)
    first = lin.weight.grad.copy()
    lin(x)
    lin.backward(g)
    np.testing.assert_allclose(lin.weight.grad, 2 * first)
    lin.zero_grad()
    assert not lin.weight.grad.any()


def test_linear_float32_stays_float32():
    lin = npnn.Linear(3, 2)
    y = lin(rng.standard_normal((4, 3)).astype(np.float32))
    assert y.dtype == np.float32
    assert lin.backward(np.ones_like(y)).dtype == np.float32


def test_sequential_matches_torch():
    np_m = npnn.Sequential(npnn.Linear(6, 8), npnn.Tanh(), npnn.Linear(8, 5), npnn.ReLU(),
                         npnn.Linear(5, 3))
    t_m = torch.nn.Sequential(torch.nn.Linear(6, 8), torch.nn.Tanh(),
                              torch.nn.Linear(8, 5), torch.nn.ReLU(),
                              torch.nn.Linear(5, 3))
    check_against_torch(np_m, t_m, rng.standard_normal((7, 6)))
    assert len(np_m) == 5
    assert isinstance(np_m[1], npnn.Tanh) and isinstance(np_m[-1], npnn.Linear)
    assert len(np_m[1:3]) == 2
    assert [type(m).__name__ for m in np_m] == ["Linear", "Tanh", "Linear", "ReLU",
                                               "Linear"]
    assert list(np_m.state_dict()) == list(t_m.state_dict())
    with pytest.raises(IndexError):
        np_m[5]


@pytest.mark.parametrize("start,end", [(1, -1), (0, -1), (1, 2), (2, 3)])
def test_flatten_matches_torch(start, end):
    check_against_torch(npnn.Flatten(start, end), torch.nn.Flatten(start, end),
                        rng.standard_normal((2, 3, 4, 5)))


ACTIVATIONS = [
    (lambda: npnn.ReLU(), lambda: torch.nn.ReLU()),
    (lambda: npnn.LeakyReLU(0.2), lambda: torch.nn.LeakyReLU(0.2)),
    (lambda: npnn.LeakyReLU(), lambda: torch.nn.LeakyReLU()),
    (lambda: npnn.ELU(), lambda: torch.nn.ELU()),
    (lambda: npnn.ELU(0.5), lambda: torch.nn.ELU(0.5)),
    (lambda: npnn.GELU(), lambda: torch.nn.GELU()),
    (lambda: npnn.GELU("tanh"), lambda: torch.nn.GELU("tanh")),
    (lambda: npnn.SiLU(), lambda: torch.nn.SiLU()),
    (lambda: npnn.Sigmoid(), lambda: torch.nn.Sigmoid()),
    (lambda: npnn.Tanh(), lambda: torch.nn.Tanh()),
    (lambda: npnn.Softmax(dim=-1), lambda: torch.nn.Softmax(dim=-1)),
    (lambda: npnn.Softmax(dim=1), lambda: torch.nn.Softmax(dim=1)),
    (lambda: npnn.LogSoftmax(dim=0), lambda: torch.nn.LogSoftmax(dim=0)),
]


@pytest.mark.parametrize("make", ACTIVATIONS, ids=lambda m: repr(m[0]()))
@pytest.mark.parametrize("shape", [(4, 7), (2, 3, 5)])
def test_activations_match_torch(make, shape):
    x = 3 * rng.standard_normal(shape)
    x.flat[0] = 0.0  # the kink of ReLU-like functions: torch's convention at 0
    check_against_torch(make[0](), make[1](), x)


def test_activations_extreme_inputs_are_finite():
    x = np.array([[-1000.0, -30.0, 0.0, 30.0, 1000.0]])
    for m in [npnn.Sigmoid(), npnn.SiLU(), npnn.ELU(), npnn.GELU(), npnn.Softmax(-1),
              npnn.LogSoftmax(-1)]:
        y = m(x)
        g = m.backward(np.ones_like(y))
        assert np.all(np.isfinite(y)) and np.all(np.isfinite(g)), m
    check_against_torch(npnn.Softmax(-1), torch.nn.Softmax(-1), x)
    check_against_torch(npnn.LogSoftmax(-1), torch.nn.LogSoftmax(-1), x)
    check_against_torch(npnn.Sigmoid(), torch.nn.Sigmoid(), x)


def test_maxout_gradcheck_and_shape():
    m = npnn.Maxout(5, 3, pool_size=4).double()
    x = rng.standard_normal((6, 5))
    assert m(x).shape == (6, 3)
    res = gradcheck(m, x, atol=1e-7, rtol=1e-6)
    assert res.max_rel_error < 1e-6
    x3 = rng.standard_normal((2, 3, 5))
    assert m(x3).shape == (2, 3, 3)
    gradcheck(m, x3)


def test_maxout_is_max_of_linear_pieces():
    m = npnn.Maxout(4, 2, pool_size=3).double()
    x = rng.standard_normal((5, 4))
    z = x @ m.weight.data.T + m.bias.data  # (5, 6)
    np.testing.assert_allclose(m(x), z.reshape(5, 2, 3).max(axis=-1))
    with pytest.raises(ValueError, match="Maxout"):
        m(np.zeros((5, 3)))


class NpMul(npnn.Module):
    """a * b: two inputs, so backward returns a tuple in input order."""

    def forward(self, a, b):
        self.a, self.b = a, b
        return a * b

    def backward(self, grad_output):
        return grad_output * self.b, grad_output * self.a


class TorchMul(torch.nn.Module):
    def forward(self, a, b):
        return a * b


class NpResidual(npnn.Module):
    """y = x + f(x): the input is used twice, so its gradients add."""

    def __init__(self, f):
        super().__init__()
        self.f = f

    def forward(self, x):
        return x + self.f(x)

    def backward(self, grad_output):
        return grad_output + self.f.backward(grad_output)


class TorchResidual(torch.nn.Module):
    def __init__(self, f):
        super().__init__()
        self.f = f

    def forward(self, x):
        return x + self.f(x)


def test_reused_inputs_accumulate():
    x = rng.standard_normal((3, 4))
    res = check_against_torch(NpMul(), TorchMul(), x, x)  # d(x * x)/dx = 2x, summed
    assert len(res["grads"]) == 2
    check_against_torch(NpMul(), TorchMul(), x, rng.standard_normal((3, 4)))
    check_against_torch(NpResidual(npnn.Sequential(npnn.Linear(4, 4), npnn.GELU())),
                        TorchResidual(torch.nn.Sequential(torch.nn.Linear(4, 4),
                                                          torch.nn.GELU())), x)


def test_shared_linear_in_two_places():
    # one Linear used twice inside a module: each call saved its own input, so
    # backward runs them last-in first-out and the weight gradient sums both
    class NpTwice(npnn.Module):
        def __init__(self):
            super().__init__()
            self.lin = npnn.Linear(4, 4)

        def forward(self, x):
            h = self.lin(x)
            self.h = h
            return self.lin(np.tanh(h))

        def backward(self, g):
            g = self.lin.backward(g) * (1 - np.tanh(self.h) ** 2)  # second call
            return self.lin.backward(g)  # first call

    class TorchTwice(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = torch.nn.Linear(4, 4)

        def forward(self, x):
            return self.lin(torch.tanh(self.lin(x)))

    check_against_torch(NpTwice(), TorchTwice(), rng.standard_normal((5, 4)))


def _float32_cases():
    x2 = rng.standard_normal((4, 6)).astype(np.float32)
    x3 = rng.standard_normal((2, 6, 7)).astype(np.float32)
    x4 = rng.standard_normal((2, 6, 5, 5)).astype(np.float32)
    return [
        (npnn.ReLU(), x2), (npnn.LeakyReLU(), x2), (npnn.ELU(), x2), (npnn.GELU(), x2),
        (npnn.GELU("tanh"), x2), (npnn.SiLU(), x2), (npnn.Sigmoid(), x2), (npnn.Tanh(), x2),
        (npnn.Softmax(-1), x2), (npnn.LogSoftmax(-1), x2), (npnn.Maxout(6, 3, 2), x2),
        (npnn.Linear(6, 3), x2), (npnn.Conv2d(6, 3, 3, padding=1), x4),
        (npnn.Conv1d(6, 3, 3), x3), (npnn.ConvTranspose2d(6, 3, 3, stride=2), x4),
        (npnn.MaxPool2d(2), x4),
        (npnn.AvgPool2d(2, padding=1, count_include_pad=False), x4),
        (npnn.AdaptiveAvgPool2d(1), x4), (npnn.BatchNorm1d(6), x2), (npnn.BatchNorm2d(6), x4),
        (npnn.LayerNorm(5), x4), (npnn.GroupNorm(3, 6), x4),
        (npnn.InstanceNorm2d(6, affine=True), x4), (npnn.Flatten(), x4),
    ]


@pytest.mark.parametrize("case", _float32_cases(), ids=lambda c: type(c[0]).__name__)
def test_float32_in_float32_out(case):
    # NumPy 2 promotes float32 with float64 scalars: a stray np.sqrt(2.0) would
    # silently double the cost of every layer after it
    m, x = case
    y = m(x)
    g = m.backward(np.ones_like(y))
    assert y.dtype == np.float32 and g.dtype == np.float32
    assert all(p.grad.dtype == np.float32 for p in m.parameters())


@pytest.mark.parametrize("loss", ["CrossEntropyLoss", "MSELoss", "L1Loss", "BCELoss",
                                  "BCEWithLogitsLoss", "NLLLoss"])
def test_losses_keep_float32(loss):
    x = rng.uniform(0.05, 0.95, (4, 6)).astype(np.float32)
    if loss in ("CrossEntropyLoss", "NLLLoss"):
        target = rng.integers(0, 6, 4)
    else:
        target = (x > 0.5).astype(np.float32)
    criterion = getattr(npnn, loss)()
    value = criterion(x, target)
    assert np.asarray(value).dtype == np.float32
    assert criterion.backward().dtype == np.float32


def test_module_delattr_forgets_registration():
    lin = npnn.Linear(3, 2)
    del lin.bias
    assert list(lin.state_dict()) == ["weight"]
    assert [n for n, _ in lin.named_parameters()] == ["weight"]
    bn = npnn.BatchNorm1d(3)
    bn.running_mean = np.ones(3, dtype=np.float32)  # reassigning keeps a buffer
    assert "running_mean" in bn.state_dict()
