"""gradcheck: passes correct backwards, catches a wrong one, reports errors."""

import numpy as np
import pytest

from dlbook.numpy import gradcheck
from dlbook.numpy import nn as npnn
from dlbook.numpy.gradcheck import GradcheckError, numerical_gradient

rng = np.random.default_rng(5)


@pytest.mark.parametrize("make,shape", [
    (lambda: npnn.Linear(4, 3), (5, 4)),
    (lambda: npnn.Sequential(npnn.Linear(4, 6), npnn.Tanh(), npnn.Linear(6, 2)), (3, 4)),
    (lambda: npnn.Conv1d(2, 3, 3, stride=2, padding=1), (2, 2, 7)),
    (lambda: npnn.LayerNorm(4), (3, 4)),
    (lambda: npnn.GELU(), (3, 4)),
    (lambda: npnn.Softmax(dim=1), (3, 4)),
])
def test_correct_modules_pass(make, shape):
    res = gradcheck(make().double(), rng.standard_normal(shape))
    assert res and res.max_rel_error < 1e-6
    assert "passed" in repr(res)


class WrongLinear(npnn.Linear):
    """A classic bug: forgetting to transpose in the input gradient."""

    def backward(self, grad_output):
        super().backward(grad_output)
        return grad_output @ self.weight.data[:, ::-1]  # wrong on purpose


class WrongBias(npnn.Linear):
    def backward(self, grad_output):
        dx = super().backward(grad_output)
        self.bias.grad *= 2  # wrong parameter gradient on purpose
        return dx


def test_wrong_input_gradient_is_caught():
    m = WrongLinear(3, 3).double()
    x = rng.standard_normal((4, 3))
    with pytest.raises(GradcheckError, match="input 0"):
        gradcheck(m, x)
    res = gradcheck(m, x, raise_exception=False)
    assert not res
    assert "WRONG" in repr(res) or "suspicious" in repr(res)
    names_failed = [r[0] for r in res.rows if not r[3]]
    assert names_failed == ["input 0"]


def test_wrong_parameter_gradient_is_caught():
    res = gradcheck(WrongBias(3, 2).double(), rng.standard_normal((4, 3)),
                    raise_exception=False)
    assert [r[0] for r in res.rows if not r[3]] == ["bias"]


def test_plain_function_with_backward():
    def f(a, b):
        return np.tanh(a) * b

    def f_backward(g, a, b):
        return g * b * (1 - np.tanh(a) ** 2), g * np.tanh(a)

    a, b = rng.standard_normal((3, 2)), rng.standard_normal((3, 2))
    res = gradcheck(f, a, b, backward=f_backward)
    assert [r[0] for r in res.rows] == ["input 0", "input 1"]
    with pytest.raises(GradcheckError):
        gradcheck(f, a, b, backward=lambda g, a, b: (g * b, g * np.tanh(a)))
    with pytest.raises(TypeError, match="backward"):
        gradcheck(f, a, b)


def test_scalar_function_and_loss_module():
    x = rng.standard_normal(5)
    gradcheck(lambda v: np.sum(v**3), x, backward=lambda g, v: 3 * g * v**2)
    gradcheck(npnn.CrossEntropyLoss(), rng.standard_normal((4, 3)), rng.integers(0, 3, 4))


def test_float32_is_refused():
    with pytest.raises(TypeError, match="input 0 is float32"):
        gradcheck(npnn.Linear(3, 2).double(),
                  rng.standard_normal((2, 3)).astype(np.float32))
    with pytest.raises(TypeError, match="double"):
        gradcheck(npnn.Linear(3, 2), rng.standard_normal((2, 3)))


def test_numerical_gradient_of_quadratic():
    A = rng.standard_normal((3, 3))
    x = rng.standard_normal(3)
    num = numerical_gradient(lambda: x @ A @ x, x)
    np.testing.assert_allclose(num, (A + A.T) @ x, rtol=1e-7, atol=1e-9)


def test_verbose_prints_report(capsys):
    gradcheck(npnn.Tanh(), rng.standard_normal((2, 2)), verbose=True)
    out = capsys.readouterr().out
    assert "max relative error" in out and "1e-7" in out
