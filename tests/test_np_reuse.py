"""One saved context per forward call: a module used twice gets torch's gradients.

Also the errors around backward (before forward, wrong grad_output shape) and
the input checks every layer shares (lists, integer dtypes), see ``Module``.
"""

import pathlib
import sys

import numpy as np
import pytest
import torch

sys.path.insert(0, str(pathlib.Path(__file__).parent))
from np_helpers import check_against_torch  # noqa: E402

from dlbook.numpy import nn as npnn  # noqa: E402

rng = np.random.default_rng(0)


# ---- y = f(f(x)) with the same f: weights shared, gradients accumulated ----------
def _main(out):
    return out[0] if isinstance(out, tuple) else out


class NpTwice(npnn.Module):
    """f(f(x)); ``attention`` calls f(x, x, x) as self-attention."""

    def __init__(self, f, attention=False):
        super().__init__()
        self.f, self.attention = f, attention

    def _call(self, x):
        return _main(self.f(x, x, x) if self.attention else self.f(x))

    def forward(self, x):
        return self._call(self._call(x))

    def _back(self, g):
        g = self.f.backward(g)
        return sum(g) if self.attention else g  # q = k = v: the grads add up

    def backward(self, g):
        return self._back(self._back(g))  # the second call first, as autograd


class TorchTwice(torch.nn.Module):
    def __init__(self, f, attention=False):
        super().__init__()
        self.f, self.attention = f, attention

    def _call(self, x):
        return _main(self.f(x, x, x) if self.attention else self.f(x))

    def forward(self, x):
        return self._call(self._call(x))


def _twice_cases():
    x2 = rng.standard_normal((5, 4))
    x4 = rng.standard_normal((2, 3, 5, 5))
    seq = rng.standard_normal((6, 2, 4))  # (T, N, H) with input_size = H
    return [
        ("Tanh", npnn.Tanh(), torch.nn.Tanh(), x2),
        ("Sigmoid", npnn.Sigmoid(), torch.nn.Sigmoid(), x2),
        ("ReLU", npnn.ReLU(), torch.nn.ReLU(), x2),
        ("GELU", npnn.GELU(), torch.nn.GELU(), x2),
        ("SiLU", npnn.SiLU(), torch.nn.SiLU(), x2),
        ("ELU", npnn.ELU(), torch.nn.ELU(), x2),
        ("LeakyReLU", npnn.LeakyReLU(0.1), torch.nn.LeakyReLU(0.1), x2),
        ("Softmax", npnn.Softmax(-1), torch.nn.Softmax(-1), x2),
        ("LogSoftmax", npnn.LogSoftmax(-1), torch.nn.LogSoftmax(-1), x2),
        ("Linear", npnn.Linear(4, 4), torch.nn.Linear(4, 4), x2),
        ("LayerNorm", npnn.LayerNorm(4), torch.nn.LayerNorm(4), x2),
        ("BatchNorm1d", npnn.BatchNorm1d(4), torch.nn.BatchNorm1d(4), x2),
        ("Conv2d", npnn.Conv2d(3, 3, 3, padding=1), torch.nn.Conv2d(3, 3, 3, padding=1),
         x4),
        ("Conv1d", npnn.Conv1d(4, 4, 3, padding=1), torch.nn.Conv1d(4, 4, 3, padding=1),
         rng.standard_normal((2, 4, 7))),
        ("BatchNorm2d", npnn.BatchNorm2d(3), torch.nn.BatchNorm2d(3), x4),
        ("GroupNorm", npnn.GroupNorm(1, 3), torch.nn.GroupNorm(1, 3), x4),
        ("InstanceNorm2d", npnn.InstanceNorm2d(3, affine=True),
         torch.nn.InstanceNorm2d(3, affine=True), x4),
        ("MaxPool2d", npnn.MaxPool2d(3, 1, 1), torch.nn.MaxPool2d(3, 1, 1), x4),
        ("AvgPool2d", npnn.AvgPool2d(3, 1, 1), torch.nn.AvgPool2d(3, 1, 1), x4),
        ("Sequential", npnn.Sequential(npnn.Linear(4, 4), npnn.Tanh()),
         torch.nn.Sequential(torch.nn.Linear(4, 4), torch.nn.Tanh()), x2),
        ("RNN", npnn.RNN(4, 4), torch.nn.RNN(4, 4), seq),
        ("GRU", npnn.GRU(4, 4, num_layers=2), torch.nn.GRU(4, 4, num_layers=2), seq),
        ("LSTM", npnn.LSTM(4, 4), torch.nn.LSTM(4, 4), seq),
        ("GRUCell", npnn.GRUCell(4, 4), torch.nn.GRUCell(4, 4), x2),
    ]


@pytest.mark.parametrize("case", _twice_cases(), ids=lambda c: c[0])
def test_module_applied_twice_matches_torch(case):
    _, np_f, t_f, x = case
    check_against_torch(NpTwice(np_f), TorchTwice(t_f), x)


def test_attention_applied_twice_matches_torch():
    x = rng.standard_normal((5, 2, 8))
    check_against_torch(NpTwice(npnn.MultiheadAttention(8, 2), attention=True),
                        TorchTwice(torch.nn.MultiheadAttention(8, 2), attention=True),
                        x)


def test_the_issues_example_tanh_twice():
    # the probe that found the bug: tanh(tanh(x)) differed from torch by 0.2
    x = rng.standard_normal((3, 4)) * 2
    tanh = npnn.Tanh()
    y = tanh(tanh(x))
    dx = tanh.backward(tanh.backward(np.ones_like(y)))
    xt = torch.tensor(x, requires_grad=True)
    torch.tanh(torch.tanh(xt)).sum().backward()
    np.testing.assert_allclose(dx, xt.grad.numpy(), atol=1e-12)


def test_a_readers_module_is_saved_per_call_too():
    # a module written the natural way (self.x = x) gets the same rule
    class Square(npnn.Module):
        def forward(self, x):
            self.x = x
            return x * x

        def backward(self, g):
            return 2 * self.x * g

    sq = Square()
    x = rng.standard_normal(5)
    sq(sq(x))
    dx = sq.backward(sq.backward(np.ones(5)))
    np.testing.assert_allclose(dx, 4 * x**3)  # d(x^4)/dx


def test_one_linear_on_two_inputs_accumulates_both_gradients():
    lin = npnn.Linear(3, 2).double()
    a, b = rng.standard_normal((4, 3)), rng.standard_normal((4, 3))
    ga, gb = rng.standard_normal((4, 2)), rng.standard_normal((4, 2))
    lin(a)
    lin(b)
    db = lin.backward(gb)  # last in, first out
    da = lin.backward(ga)
    np.testing.assert_allclose(lin.weight.grad, ga.T @ a + gb.T @ b)
    np.testing.assert_allclose(da, ga @ lin.weight.data)
    np.testing.assert_allclose(db, gb @ lin.weight.data)


def test_backward_again_repeats_the_last_call():
    tanh = npnn.Tanh()
    x = rng.standard_normal(4)
    tanh(x)
    g = tanh.backward(np.ones(4))
    np.testing.assert_array_equal(tanh.backward(np.ones(4)), g)


@pytest.mark.parametrize("make", [npnn.Linear(3, 2), npnn.Tanh(), npnn.ReLU(),
                                  npnn.Conv2d(1, 1, 2), npnn.LayerNorm(3),
                                  npnn.MSELoss(), npnn.GRU(3, 2),
                                  npnn.MultiheadAttention(4, 2), npnn.Embedding(3, 2)],
                         ids=lambda m: type(m).__name__)
def test_backward_before_forward_names_the_layer(make):
    name = type(make).__name__
    with pytest.raises(RuntimeError, match=f"^{name}.backward called before forward"):
        make.backward(np.ones(3))


def test_train_and_eval_forget_unused_forward_calls():
    net = npnn.Sequential(npnn.Linear(3, 3), npnn.Tanh())
    for _ in range(5):
        net(rng.standard_normal((2, 3)))  # an evaluation loop: no backward
    assert len(net[0]._saved) == 5
    net.eval()
    assert len(net[0]._saved) == 0 and len(net[1]._saved) == 0
    with pytest.raises(RuntimeError, match="before forward"):
        net.backward(np.ones((2, 3)))


def test_saved_calls_are_bounded():
    tanh = npnn.Tanh()
    for _ in range(tanh.max_saved + 10):
        tanh(np.zeros(2))
    assert len(tanh._saved) == tanh.max_saved


# ---- grad_output of the wrong shape ------------------------------------------------
def _shape_cases():
    x2 = rng.standard_normal((4, 3))
    x4 = rng.standard_normal((2, 3, 4, 4))
    seq = rng.standard_normal((5, 2, 3))
    return [
        (npnn.ReLU(), (x2,)), (npnn.LeakyReLU(), (x2,)), (npnn.ELU(), (x2,)),
        (npnn.GELU(), (x2,)), (npnn.Sigmoid(), (x2,)), (npnn.Tanh(), (x2,)),
        (npnn.SiLU(), (x2,)), (npnn.Softmax(1), (x2,)), (npnn.LogSoftmax(1), (x2,)),
        (npnn.Maxout(3, 2, 2), (x2,)), (npnn.Linear(3, 2), (x2,)), (npnn.Identity(), (x2,)),
        (npnn.Flatten(), (x4,)), (npnn.Dropout(0.5), (x2,)), (npnn.LayerNorm(3), (x2,)),
        (npnn.BatchNorm1d(3), (x2,)), (npnn.BatchNorm2d(3), (x4,)),
        (npnn.GroupNorm(3, 3), (x4,)), (npnn.InstanceNorm2d(3), (x4,)),
        (npnn.Conv2d(3, 2, 3), (x4,)), (npnn.ConvTranspose2d(3, 2, 3), (x4,)),
        (npnn.Conv1d(3, 2, 2), (rng.standard_normal((2, 3, 5)),)),
        (npnn.MaxPool2d(2), (x4,)), (npnn.AvgPool2d(2), (x4,)),
        (npnn.AdaptiveAvgPool2d(1), (x4,)),
        (npnn.Sequential(npnn.Linear(3, 2), npnn.Tanh()), (x2,)),
        (npnn.RNN(3, 2), (seq,)), (npnn.GRU(3, 2), (seq,)), (npnn.LSTM(3, 2), (seq,)),
        (npnn.RNNCell(3, 2), (x2,)), (npnn.LSTMCell(3, 2), (x2,)),
        (npnn.MultiheadAttention(3, 1), (seq, seq, seq)),
        (npnn.Embedding(5, 2), (np.array([[0, 1], [2, 3]]),)),
        (npnn.MSELoss(reduction="none"), (x2, x2)),
    ]


@pytest.mark.parametrize("case", _shape_cases(), ids=lambda c: type(c[0]).__name__)
def test_wrong_grad_output_shape_names_layer_and_shapes(case):
    m, inputs = case
    out = _main(m(*inputs))
    bad = np.ones(out.shape + (2,))
    name = type(m).__name__
    msg = (rf"^{name}.backward: grad_output has shape {re_shape(bad.shape)}, "
           rf"expected {re_shape(out.shape)}")
    with pytest.raises(ValueError, match=msg):
        m.backward(bad)
    m.backward(np.ones(out.shape))  # the failed call consumed nothing


def re_shape(shape):
    return str(tuple(shape)).replace("(", r"\(").replace(")", r"\)")


def test_scalar_loss_takes_a_scalar_upstream_gradient():
    loss = npnn.MSELoss()
    loss(np.ones(3), np.zeros(3))
    with pytest.raises(ValueError, match=r"MSELoss.backward: grad_output has shape"):
        loss.backward(np.ones(3))
    np.testing.assert_allclose(loss.backward(3.0), np.full(3, 2.0))


# ---- inputs: lists, integer dtypes ----------------------------------------------
@pytest.mark.parametrize("m", [npnn.Linear(2, 2), npnn.ReLU(), npnn.Tanh(), npnn.Softmax(-1),
                               npnn.Sequential(npnn.Linear(2, 2)), npnn.Conv2d(1, 1, 1),
                               npnn.LayerNorm(2), npnn.GRU(2, 2)],
                         ids=lambda m: type(m).__name__)
def test_lists_are_refused_with_the_layers_name(m):
    with pytest.raises(TypeError, match=f"^{type(m).__name__}: expected a NumPy array "
                                        f"as input, got a list"):
        m([[1.0, 2.0]])


@pytest.mark.parametrize("dtype", [np.uint8, np.int64, np.bool_])
@pytest.mark.parametrize("layer, t_layer", [(npnn.Sigmoid(), torch.nn.Sigmoid()),
                                            (npnn.Tanh(), torch.nn.Tanh())],
                         ids=["Sigmoid", "Tanh"])
def test_sigmoid_and_tanh_promote_integers_like_torch(layer, t_layer, dtype):
    x = np.array([[0, 1, 3], [1, 0, 2]]).astype(dtype)
    y = layer(x)
    want = t_layer(torch.tensor(x)).numpy()
    assert y.dtype == want.dtype == np.float32  # not float16 (numpy's for uint8)
    np.testing.assert_allclose(y, want, rtol=1e-6)
    assert layer.backward(np.ones_like(y)).dtype == np.float32


@pytest.mark.parametrize("dtype", [np.uint8, np.int64, np.bool_])
@pytest.mark.parametrize("m", [npnn.Softmax(-1), npnn.LogSoftmax(-1), npnn.GELU(), npnn.SiLU(),
                               npnn.ELU(), npnn.LeakyReLU(), npnn.Linear(3, 2),
                               npnn.LayerNorm(3), npnn.BatchNorm1d(3), npnn.Dropout()],
                         ids=lambda m: type(m).__name__)
def test_float_only_layers_refuse_integers_like_torch(m, dtype):
    x = np.array([[0, 1, 3], [1, 0, 2]]).astype(dtype)
    with pytest.raises(TypeError, match=f"^{type(m).__name__}: expected a "
                                        f"floating-point input, got dtype"):
        m(x)


def test_relu_keeps_integers_like_torch():
    x = np.array([-2, 0, 3], dtype=np.int64)
    assert npnn.ReLU()(x).dtype == np.int64


def test_a_failed_forward_leaves_the_layer_as_it_was():
    lin = npnn.Linear(3, 2)
    x = rng.standard_normal((4, 3))
    lin(x)
    with pytest.raises(ValueError):
        lin(rng.standard_normal((4, 5)))
    assert lin.__dict__["x"] is x and len(lin._saved) == 1
    lin.backward(np.ones((4, 2)))
    np.testing.assert_allclose(lin.weight.grad, np.ones((2, 4)) @ x)


def test_a_forward_that_fails_midway_restores_what_it_assigned():
    class Halfway(npnn.Module):
        def forward(self, x):
            self.x = x
            if x.ndim != 1:
                raise ValueError("Halfway: 1-D input only")
            return x

        def backward(self, g):
            return g * self.x

    m = Halfway()
    good = np.arange(3.0)
    m(good)
    with pytest.raises(ValueError):
        m(np.ones((2, 2)))
    assert m.x is good
    np.testing.assert_array_equal(m.backward(np.ones(3)), good)
