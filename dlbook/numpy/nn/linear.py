"""``Linear`` (y = x W^T + b) and ``Identity``."""

from __future__ import annotations

import math

import numpy as np

from . import init
from .module import Module, Parameter


class Identity(Module):
    """Returns its input; a placeholder that keeps a model's structure."""

    _int_input = "keep"

    def __init__(self, *args, **kwargs):
        super().__init__()

    def forward(self, x):
        return x

    def backward(self, grad_output):
        return grad_output


class Linear(Module):
    """y = x W^T + b, as ``torch.nn.Linear``.

    Shapes: x (*, in_features) -> y (*, out_features); weight
    (out_features, in_features), bias (out_features,). Initialised as torch does:
    W ~ kaiming_uniform_(a=sqrt(5)) = U(-1/sqrt(in), 1/sqrt(in)), b the same.
    """

    _int_input = "refuse"

    def __init__(self, in_features: int, out_features: int, bias: bool = True, *,
                 dtype=np.float32, rng=None):
        super().__init__()
        self.in_features = in_features
        self.out_features = out_features
        self.weight = Parameter(np.empty((out_features, in_features), dtype=dtype))
        self.bias = Parameter(np.empty(out_features, dtype=dtype)) if bias else None
        self.reset_parameters(rng)

    def reset_parameters(self, rng=None) -> None:
        init.kaiming_uniform_(self.weight, a=math.sqrt(5), rng=rng)
        if self.bias is not None:
            fan_in, _ = init._calculate_fan_in_and_fan_out(self.weight)
            bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0
            init.uniform_(self.bias, -bound, bound, rng=rng)

    def forward(self, x: np.ndarray) -> np.ndarray:
        if x.ndim < 1 or x.shape[-1] != self.in_features:
            raise ValueError(
                f"Linear(in_features={self.in_features}, out_features="
                f"{self.out_features}): expected input with {self.in_features} "
                f"features in the last dimension, got shape {x.shape}"
            )
        self.x = x  # backward needs the input for dL/dW
        y = x @ self.weight.data.T
        if self.bias is not None:
            y += self.bias.data
        return y

    def backward(self, grad_output: np.ndarray) -> np.ndarray:
        x = self.x
        g2 = grad_output.reshape(-1, self.out_features)  # (M, out) with M = prod(*)
        x2 = x.reshape(-1, self.in_features)  # (M, in)
        self.weight.grad += g2.T @ x2
        if self.bias is not None:
            self.bias.grad += g2.sum(axis=0)
        return grad_output @ self.weight.data

    def extra_repr(self) -> str:
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"bias={self.bias is not None}")
