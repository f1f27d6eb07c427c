"""Activation layers; each backward sits under its forward.

Every layer is element-wise except ``Softmax``/``LogSoftmax`` (along ``dim``) and
``Maxout`` (a linear map followed by a max over groups of ``pool_size`` units).
"""

from __future__ import annotations

import math

import numpy as np

from . import functional as F
from . import init
from .module import Module, Parameter


class ReLU(Module):
    """max(x, 0); the gradient at exactly 0 is 0, as in torch."""

    _int_input = "keep"

    def __init__(self, inplace: bool = False):
        super().__init__()
        self.inplace = inplace  # accepted for torch compatibility; never in place

    def forward(self, x):
        # not (x <= 0) rather than x > 0: a nan input passes its gradient on,
        # as torch's (which masks where the output is <= 0)
        self.mask = ~(x <= 0)
        return np.maximum(x, 0)

    def backward(self, grad_output):
        return grad_output * self.mask


class LeakyReLU(Module):
    """``x`` where positive, ``negative_slope * x`` elsewhere: a dead unit still
    gets a small gradient."""

    _int_input = "refuse"

    def __init__(self, negative_slope: float = 0.01, inplace: bool = False):
        super().__init__()
        self.negative_slope = negative_slope

    def forward(self, x):
        self.mask = x > 0
        return np.where(self.mask, x, x * self.negative_slope)

    def backward(self, grad_output):
        return np.where(self.mask, grad_output, grad_output * self.negative_slope)

    def extra_repr(self):
        return f"negative_slope={self.negative_slope}"


class ELU(Module):
    """x for x > 0, alpha (exp(x) - 1) otherwise (Clevert et al., 2015)."""

    _int_input = "refuse"

    def __init__(self, alpha: float = 1.0, inplace: bool = False):
        super().__init__()
        self.alpha = alpha

    def forward(self, x):
        self.x = x
        return F.elu(x, self.alpha)

    def backward(self, grad_output):
        x = self.x
        return np.where(x > 0, grad_output,
                        grad_output * self.alpha * np.exp(np.minimum(x, 0)))

    def extra_repr(self):
        return f"alpha={self.alpha}"


class GELU(Module):
    """x * Phi(x) (Hendrycks & Gimpel, 2016); ``approximate='tanh'`` as GPT-2."""

    _int_input = "refuse"

    def __init__(self, approximate: str = "none"):
        super().__init__()
        if approximate not in ("none", "tanh"):
            raise ValueError(f"GELU: approximate must be 'none' or 'tanh', "
                             f"got {approximate!r}")
        self.approximate = approximate

    def forward(self, x):
        self.x = x
        return F.gelu(x, self.approximate)

    def backward(self, grad_output):
        x = self.x
        if self.approximate == "none":
            cdf = 0.5 * (1.0 + F._erf(x / math.sqrt(2.0)))  # Phi(x)
            pdf = np.exp(-0.5 * x * x) / math.sqrt(2.0 * math.pi)  # phi(x)
            return grad_output * (cdf + x * pdf)
        k = math.sqrt(2.0 / math.pi)
        inner = k * (x + 0.044715 * x**3)
        t = np.tanh(inner)
        d_inner = k * (1.0 + 3 * 0.044715 * x * x)
        return grad_output * (0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * d_inner)

    def extra_repr(self):
        return f"approximate={self.approximate!r}"


class Sigmoid(Module):
    """``1 / (1 + exp(-x))``; backward uses the saved output: ``y * (1 - y)``."""

    _int_input = "float"

    def forward(self, x):
        self.out = F.sigmoid(x)  # the derivative is out * (1 - out)
        return self.out

    def backward(self, grad_output):
        return grad_output * self.out * (1.0 - self.out)


class Tanh(Module):
    """Hyperbolic tangent; backward uses the saved output: ``1 - y**2``."""

    _int_input = "float"

    def forward(self, x):
        self.out = np.tanh(x)  # the derivative is 1 - out^2
        return self.out

    def backward(self, grad_output):
        return grad_output * (1.0 - self.out * self.out)


class SiLU(Module):
    """x * sigmoid(x), also called swish (Ramachandran et al., 2017)."""

    _int_input = "refuse"

    def __init__(self, inplace: bool = False):
        super().__init__()

    def forward(self, x):
        self.x = x
        self.s = F.sigmoid(x)
        return x * self.s

    def backward(self, grad_output):
        s = self.s
        return grad_output * s * (1.0 + self.x * (1.0 - s))


def _softmax_dim(dim, ndim: int, name: str) -> int:
    if dim is None:  # torch's legacy implicit choice (it warns about it)
        dim = 0 if ndim in (0, 1, 3) else 1
    if not -ndim <= dim < max(ndim, 1):
        raise ValueError(f"{name}(dim={dim}): dim out of range for a {ndim}-D input")
    return dim


class Softmax(Module):
    """exp(x) / sum(exp(x)) along ``dim``; backward: y * (g - sum(g * y))."""

    _int_input = "refuse"

    def __init__(self, dim: int | None = None):
        super().__init__()
        self.dim = dim

    def forward(self, x):
        self._dim = _softmax_dim(self.dim, x.ndim, "Softmax")
        self.out = F.softmax(x, self._dim)
        return self.out

    def backward(self, grad_output):
        y = self.out
        dot = np.sum(grad_output * y, axis=self._dim, keepdims=True)
        return y * (grad_output - dot)

    def extra_repr(self):
        return f"dim={self.dim}"


class LogSoftmax(Module):
    """x - logsumexp(x) along ``dim``; backward: g - softmax(x) * sum(g)."""

    _int_input = "refuse"

    def __init__(self, dim: int | None = None):
        super().__init__()
        self.dim = dim

    def forward(self, x):
        self._dim = _softmax_dim(self.dim, x.ndim, "LogSoftmax")
        self.out = F.log_softmax(x, self._dim)
        return self.out

    def backward(self, grad_output):
        p = np.exp(self.out)
        return grad_output - p * np.sum(grad_output, axis=self._dim, keepdims=True)

    def extra_repr(self):
        return f"dim={self.dim}"


class Maxout(Module):
    """Maxout units (Goodfellow et al., 2013): the max of ``pool_size`` linear maps.

    Shapes: x (*, in_features) -> z = x W^T + b, (*, out_features * pool_size),
    viewed as (*, out_features, pool_size) -> max over the last axis ->
    y (*, out_features). Unit j takes pieces j*pool_size ... (j+1)*pool_size - 1.
    There is no torch twin; tests check the backward by finite differences.
    """

    _int_input = "refuse"

    def __init__(self, in_features: int, out_features: int, pool_size: int,
                 bias: bool = True, *, dtype=np.float32, rng=None):
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        self.pool_size = pool_size
        k = out_features * pool_size
        self.weight = Parameter(np.empty((k, in_features), dtype=dtype))
        self.bias = Parameter(np.empty(k, dtype=dtype)) if bias else None
        init.kaiming_uniform_(self.weight, a=math.sqrt(5), rng=rng)  # as Linear
        if self.bias is not None:
            bound = 1 / math.sqrt(in_features)
            init.uniform_(self.bias, -bound, bound, rng=rng)

    def forward(self, x):
        if x.ndim < 1 or x.shape[-1] != self.in_features:
            raise ValueError(f"{self!r}: expected input with {self.in_features} "
                             f"features in the last dimension, got shape {x.shape}")
        self.x = x
        z = x @ self.weight.data.T
        if self.bias is not None:
            z += self.bias.data
        z = z.reshape(x.shape[:-1] + (self.out_features, self.pool_size))  # (*, out, k)
        self.arg = np.argmax(z, axis=-1)  # (*, out): the winning piece
        return np.take_along_axis(z, self.arg[..., None], axis=-1)[..., 0]

    def backward(self, grad_output):
        # only the winning piece of each unit receives the gradient
        gz = np.zeros(grad_output.shape + (self.pool_size,), dtype=grad_output.dtype)
        np.put_along_axis(gz, self.arg[..., None], grad_output[..., None], axis=-1)
        gz = gz.reshape(-1, self.out_features * self.pool_size)  # (M, out * k)
        x2 = self.x.reshape(-1, self.in_features)  # (M, in)
        self.weight.grad += gz.T @ x2
        if self.bias is not None:
            self.bias.grad += gz.sum(axis=0)
        return (gz @ self.weight.data).reshape(self.x.shape)

    def extra_repr(self):
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"pool_size={self.pool_size}")


# ---- more of torch's element-wise activations ------------------------------------
class ReLU6(Module):
    """min(max(x, 0), 6) (Howard et al., 2017, MobileNets); gradient 1 strictly
    between 0 and 6, as torch's hardtanh."""

    _int_input = "keep"

    def __init__(self, inplace: bool = False):
        super().__init__()
        self.inplace = inplace  # accepted for torch compatibility; never in place

    def forward(self, x):
        self.inside = (x > 0) & (x < 6)
        return np.clip(x, 0, 6)

    def backward(self, grad_output):
        return grad_output * self.inside


class Softplus(Module):
    """log(1 + exp(beta x)) / beta, and x itself where beta x > threshold
    (torch's switch to the identity); the gradient is sigmoid(beta x)."""

    _int_input = "refuse"

    def __init__(self, beta: float = 1.0, threshold: float = 20.0):
        super().__init__()
        self.beta, self.threshold = beta, threshold

    def forward(self, x):
        self.x = x
        bx = self.beta * x
        return np.where(bx > self.threshold, x, F.softplus(bx) / self.beta)

    def backward(self, grad_output):
        bx = self.beta * self.x
        return grad_output * np.where(bx > self.threshold, 1.0, F.sigmoid(bx))

    def extra_repr(self):
        return f"beta={self.beta}, threshold={self.threshold}"


class PReLU(Module):
    """max(x, 0) + a min(x, 0) with a learned slope a (He et al., 2015).

    ``weight`` has shape (num_parameters,): one slope shared by all channels, or
    one per channel (dim 1 of the input, as torch). Initialised to ``init``.
    """

    _int_input = "refuse"

    def __init__(self, num_parameters: int = 1, init: float = 0.25, *,
                 dtype=np.float32):
        super().__init__()
        self.num_parameters = num_parameters
        self.weight = Parameter(np.full(num_parameters, init, dtype=dtype))

    def _slope(self, x):
        """The weight broadcast against x: (C,) -> (1, C, 1, ...)."""
        C = self.num_parameters
        if C == 1:
            return self.weight.data.reshape(())
        if x.ndim < 2 or x.shape[1] != C:
            raise ValueError(f"{self!r}: expected input with {C} channels in dim 1, "
                             f"got shape {x.shape}")
        return self.weight.data.reshape((1, C) + (1,) * (x.ndim - 2))

    def forward(self, x):
        a = self._slope(x)
        self.x = x
        return np.where(x > 0, x, a * x)

    def backward(self, grad_output):
        x, a = self.x, self._slope(self.x)
        neg = ~(x > 0)  # not x <= 0: a nan input takes the slope a, as in torch
        g_a = grad_output * x * neg  # dL/da, before summing over a's positions
        if self.num_parameters == 1:
            self.weight.grad += g_a.sum()
        else:
            self.weight.grad += g_a.sum(axis=(0,) + tuple(range(2, x.ndim)))
        return np.where(neg, a * grad_output, grad_output)

    def extra_repr(self):
        return f"num_parameters={self.num_parameters}"


class SELU(Module):
    """scale * ELU(x, alpha) with the constants that make activations
    self-normalising (Klambauer et al., 2017)."""

    _int_input = "refuse"
    alpha = 1.6732632423543772848170429916717
    scale = 1.0507009873554804934193349852946

    def __init__(self, inplace: bool = False):
        super().__init__()

    def forward(self, x):
        self.x = x
        return self.scale * F.elu(x, self.alpha)

    def backward(self, grad_output):
        x = self.x
        return self.scale * np.where(
            x > 0, grad_output, grad_output * self.alpha * np.exp(np.minimum(x, 0)))


class Hardswish(Module):
    """x * relu6(x + 3) / 6 (Howard et al., 2019, MobileNetV3); the gradient is
    0 up to -3, x / 3 + 1/2 below 3, and 1 from 3 on, as torch."""

    _int_input = "refuse"

    def __init__(self, inplace: bool = False):
        super().__init__()

    def forward(self, x):
        self.x = x
        return x * np.clip(x + 3, 0, 6) / 6

    def backward(self, grad_output):
        x = self.x
        slope = np.where(x <= -3, 0.0, np.where(x < 3, x / 3 + 0.5, 1.0))
        return grad_output * slope


class Mish(Module):
    """x * tanh(softplus(x)) (Misra, 2019)."""

    _int_input = "refuse"

    def __init__(self, inplace: bool = False):
        super().__init__()

    def forward(self, x):
        self.x = x
        self.t = np.tanh(F.softplus(x))
        return x * self.t

    def backward(self, grad_output):
        # d/dx [x tanh(sp(x))] = tanh(sp) + x (1 - tanh^2(sp)) sigmoid(x)
        t = self.t
        return grad_output * (t + self.x * (1 - t * t) * F.sigmoid(self.x))


class LogSigmoid(Module):
    """log(sigmoid(x)) = -softplus(-x), stable for any x; gradient sigmoid(-x)."""

    _int_input = "refuse"

    def forward(self, x):
        self.x = x
        return -F.softplus(-x)

    def backward(self, grad_output):
        return grad_output * F.sigmoid(-self.x)
