"""torch.nn features added to dlbook.numpy: containers, activations, losses,
pooling, padding, RMSNorm. Each against torch.autograd in float64 (same weights
via load_state_dict) and, where cheap, by finite differences."""

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


# ---- ModuleList / ModuleDict ---------------------------------------------------
class NpStack(npnn.Module):
    def __init__(self):
        super().__init__()
        self.layers = npnn.ModuleList([npnn.Linear(4, 4), npnn.Linear(4, 4)])
        self.acts = npnn.ModuleDict({"first": npnn.Tanh(), "second": npnn.GELU()})

    def forward(self, x):
        x = self.acts["first"](self.layers[0](x))
        return self.acts["second"](self.layers[1](x))

    def backward(self, g):
        g = self.layers[1].backward(self.acts["second"].backward(g))
        return self.layers[0].backward(self.acts["first"].backward(g))


class TorchStack(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.layers = torch.nn.ModuleList([torch.nn.Linear(4, 4),
                                           torch.nn.Linear(4, 4)])
        self.acts = torch.nn.ModuleDict({"first": torch.nn.Tanh(),
                                         "second": torch.nn.GELU()})

    def forward(self, x):
        x = self.acts["first"](self.layers[0](x))
        return self.acts["second"](self.layers[1](x))


def test_modulelist_and_moduledict_register_like_torch():
    np_m, t_m = NpStack(), TorchStack()
    assert list(np_m.state_dict()) == list(t_m.state_dict())
    check_against_torch(np_m, t_m, rng.standard_normal((3, 4)))


def test_modulelist_api():
    ml = npnn.ModuleList([npnn.Tanh()]).extend([npnn.ReLU(), npnn.Linear(2, 2)])
    assert len(ml) == 3 and isinstance(ml[-1], npnn.Linear)
    assert [type(m).__name__ for m in ml] == ["Tanh", "ReLU", "Linear"]
    ml[0] = npnn.Sigmoid()
    assert isinstance(ml[0], npnn.Sigmoid) and len(ml[1:]) == 2
    with pytest.raises(TypeError, match="ModuleList: expected a dlbook.numpy.nn"):
        ml.append(torch.nn.Tanh())
    with pytest.raises(IndexError):
        ml[3]
    with pytest.raises(NotImplementedError, match="ModuleList has no forward"):
        ml(np.zeros(2))
    md = npnn.ModuleDict({"a": npnn.Tanh()})
    md["b"] = npnn.ReLU()
    assert list(md) == ["a", "b"] and "b" in md and len(md) == 2
    with pytest.raises(TypeError, match="ModuleDict: 'c' is a int"):
        md["c"] = 3


# ---- activations ----------------------------------------------------------------
ACTIVATIONS = [
    (lambda: npnn.ReLU6(), lambda: torch.nn.ReLU6()),
    (lambda: npnn.Softplus(), lambda: torch.nn.Softplus()),
    (lambda: npnn.Softplus(beta=2.0, threshold=3.0),
     lambda: torch.nn.Softplus(beta=2.0, threshold=3.0)),
    (lambda: npnn.PReLU(), lambda: torch.nn.PReLU()),
    (lambda: npnn.PReLU(3, init=0.1), lambda: torch.nn.PReLU(3, init=0.1)),
    (lambda: npnn.SELU(), lambda: torch.nn.SELU()),
    (lambda: npnn.Hardswish(), lambda: torch.nn.Hardswish()),
    (lambda: npnn.Mish(), lambda: torch.nn.Mish()),
    (lambda: npnn.LogSigmoid(), lambda: torch.nn.LogSigmoid()),
]


@pytest.mark.parametrize("make", ACTIVATIONS, ids=lambda m: type(m[0]()).__name__)
@pytest.mark.parametrize("shape", [(4, 3, 5), (2, 3)])
def test_activations_match_torch(make, shape):
    x = rng.standard_normal(shape) * 4  # reaches both sides of every kink
    x.flat[:4] = [0.0, 6.0, -3.0, 3.0]  # the kinks: torch's one-sided choices
    check_against_torch(make[0](), make[1](), x)


@pytest.mark.parametrize("make", ACTIVATIONS, ids=lambda m: type(m[0]()).__name__)
def test_activations_by_finite_differences(make):
    x = rng.uniform(-5, 5, (3, 3))
    x = x[np.all(np.abs(x[..., None] - [0.0, 6.0, -3.0, 3.0]) > 1e-2, axis=(1, 2))]
    m = make[0]().double()
    gradcheck(m, x)


def test_prelu_checks_channels():
    with pytest.raises(ValueError, match=r"PReLU.*expected input with 3 channels"):
        npnn.PReLU(3)(np.zeros((2, 4)))


# ---- losses -----------------------------------------------------------------------
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("make", [
    (lambda r: npnn.SmoothL1Loss(r), lambda r: torch.nn.SmoothL1Loss(reduction=r)),
    (lambda r: npnn.SmoothL1Loss(r, beta=0.5),
     lambda r: torch.nn.SmoothL1Loss(reduction=r, beta=0.5)),
    (lambda r: npnn.SmoothL1Loss(r, beta=0.0),
     lambda r: torch.nn.SmoothL1Loss(reduction=r, beta=0.0)),
    (lambda r: npnn.HuberLoss(r), lambda r: torch.nn.HuberLoss(reduction=r)),
    (lambda r: npnn.HuberLoss(r, delta=2.0),
     lambda r: torch.nn.HuberLoss(reduction=r, delta=2.0)),
], ids=["smoothl1", "smoothl1-beta", "smoothl1-0", "huber", "huber-delta"])
def test_robust_regression_losses_match_torch(make, reduction):
    x, y = rng.standard_normal((5, 3)) * 2, rng.standard_normal((5, 3))
    check_against_torch(make[0](reduction), make[1](reduction), x, y,
                        grad_inputs=[0])


@pytest.mark.parametrize("reduction", ["mean", "batchmean", "sum", "none"])
@pytest.mark.parametrize("log_target", [False, True])
def test_kldiv_matches_torch(reduction, log_target):
    logits = rng.standard_normal((4, 5))
    logq = logits - np.log(np.exp(logits).sum(1, keepdims=True))
    p = rng.dirichlet(np.ones(5), size=4)
    p[0, 1] = 0.0  # a zero-probability target: 0 log 0 = 0
    target = np.log(p + 1e-300) if log_target else p
    check_against_torch(npnn.KLDivLoss(reduction, log_target=log_target),
                        torch.nn.KLDivLoss(reduction=reduction, log_target=log_target),
                        logq, target, grad_inputs=[0])


def test_new_losses_check_arguments():
    with pytest.raises(ValueError, match="KLDivLoss: reduction"):
        npnn.KLDivLoss("average")
    with pytest.raises(ValueError, match="HuberLoss: delta must be > 0"):
        npnn.HuberLoss(delta=0)
    with pytest.raises(ValueError, match="same shape"):
        npnn.SmoothL1Loss()(np.zeros(3), np.zeros(4))


# ---- pooling ----------------------------------------------------------------------
POOLS = [
    (lambda: npnn.MaxPool1d(3), lambda: torch.nn.MaxPool1d(3), (2, 3, 10)),
    (lambda: npnn.MaxPool1d(3, 2, 1), lambda: torch.nn.MaxPool1d(3, 2, 1), (3, 10)),
    (lambda: npnn.MaxPool1d(2, dilation=2), lambda: torch.nn.MaxPool1d(2, dilation=2),
     (2, 3, 9)),
    (lambda: npnn.AvgPool1d(3, 2, 1), lambda: torch.nn.AvgPool1d(3, 2, 1), (2, 3, 10)),
    (lambda: npnn.AvgPool1d(3, 2, 1, count_include_pad=False),
     lambda: torch.nn.AvgPool1d(3, 2, 1, count_include_pad=False), (2, 3, 10)),
    (lambda: npnn.AdaptiveAvgPool1d(4), lambda: torch.nn.AdaptiveAvgPool1d(4),
     (2, 3, 10)),
    (lambda: npnn.AdaptiveMaxPool1d(3), lambda: torch.nn.AdaptiveMaxPool1d(3), (3, 7)),
    (lambda: npnn.AdaptiveAvgPool2d((3, 4)), lambda: torch.nn.AdaptiveAvgPool2d((3, 4)),
     (2, 3, 7, 10)),
    (lambda: npnn.AdaptiveAvgPool2d((None, 2)),
     lambda: torch.nn.AdaptiveAvgPool2d((None, 2)), (2, 3, 5, 7)),
    (lambda: npnn.AdaptiveAvgPool2d(1), lambda: torch.nn.AdaptiveAvgPool2d(1),
     (3, 5, 5)),
    (lambda: npnn.AdaptiveMaxPool2d((2, 3)), lambda: torch.nn.AdaptiveMaxPool2d((2, 3)),
     (2, 3, 5, 7)),
    (lambda: npnn.AdaptiveMaxPool2d((5, None)),
     lambda: torch.nn.AdaptiveMaxPool2d((5, None)), (2, 2, 3, 4)),
]


@pytest.mark.parametrize("case", POOLS, ids=lambda c: repr(c[0]()) + str(c[2]))
def test_pooling_matches_torch(case):
    check_against_torch(case[0](), case[1](), rng.standard_normal(case[2]))


def test_adaptive_pool_checks_arguments():
    with pytest.raises(ValueError, match="AdaptiveAvgPool2d: output_size must be"):
        npnn.AdaptiveAvgPool2d(0)
    with pytest.raises(ValueError, match=r"expected input of shape \(N, C, L\)"):
        npnn.MaxPool1d(2)(np.zeros((1, 2, 3, 4)))


# ---- padding ----------------------------------------------------------------------
PADS = [
    (lambda: npnn.ZeroPad2d(2), lambda: torch.nn.ZeroPad2d(2)),
    (lambda: npnn.ZeroPad2d((1, 0, 2, 3)), lambda: torch.nn.ZeroPad2d((1, 0, 2, 3))),
    (lambda: npnn.ConstantPad2d((2, -1, 0, 1), 3.5),
     lambda: torch.nn.ConstantPad2d((2, -1, 0, 1), 3.5)),
    (lambda: npnn.ReflectionPad2d(2), lambda: torch.nn.ReflectionPad2d(2)),
    (lambda: npnn.ReflectionPad2d((3, 1, 0, 2)),
     lambda: torch.nn.ReflectionPad2d((3, 1, 0, 2))),
]


@pytest.mark.parametrize("case", PADS, ids=lambda c: repr(c[0]()))
@pytest.mark.parametrize("shape", [(2, 3, 4, 5), (3, 4, 5)])
def test_padding_matches_torch(case, shape):
    check_against_torch(case[0](), case[1](), rng.standard_normal(shape))


def test_reflection_pad_refuses_padding_as_large_as_the_input():
    with pytest.raises(ValueError, match=r"ReflectionPad2d: padding \(4, 4, 4, 4\) "
                                         r"must be smaller"):
        npnn.ReflectionPad2d(4)(np.zeros((1, 1, 4, 8)))


# ---- RMSNorm ----------------------------------------------------------------------
@pytest.mark.parametrize("args", [dict(normalized_shape=5),
                                  dict(normalized_shape=(4, 5), eps=1e-3),
                                  dict(normalized_shape=5, elementwise_affine=False)],
                         ids=["last", "two-dims", "no-affine"])
def test_rmsnorm_matches_torch(args):
    t = torch.nn.RMSNorm(**args)
    if t.weight is not None:
        with torch.no_grad():
            t.weight.uniform_(0.5, 1.5)  # not all ones: the weight's gradient shows
    check_against_torch(npnn.RMSNorm(**args), t, rng.standard_normal((3, 4, 5)))
    gradcheck(npnn.RMSNorm(**args).double(), rng.standard_normal((2, 4, 5)))


def test_rmsnorm_used_twice_matches_torch():
    class Twice(npnn.Module):
        def __init__(self):
            super().__init__()
            self.norm = npnn.RMSNorm(4)

        def forward(self, x):
            return self.norm(2 * self.norm(x))

        def backward(self, g):
            return self.norm.backward(2 * self.norm.backward(g))

    class TorchTwice(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.norm = torch.nn.RMSNorm(4)

        def forward(self, x):
            return self.norm(2 * self.norm(x))

    check_against_torch(Twice(), TorchTwice(), rng.standard_normal((3, 4)))
