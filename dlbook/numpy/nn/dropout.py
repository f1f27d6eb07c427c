"""``Dropout`` (Srivastava et al., 2014), the inverted form torch uses.

In training each element is zeroed with probability ``p`` and the survivors are
scaled by 1 / (1 - p), so the expected output equals the input and evaluation
needs no rescaling: in ``eval()`` mode the layer is the identity.
"""

from __future__ import annotations

import numbers

import numpy as np

from .module import Module


def dropout_mask(shape, p: float, dtype, rng=None) -> np.ndarray:
    """Scaled keep-mask: 0 with probability p, else 1 / (1 - p) (all 0 if p = 1).

    ``rng`` is a ``numpy.random.Generator``; None uses the global ``np.random``.
    Also used by the dropout inside RNN and MultiheadAttention.
    """
    if p == 1.0:
        return np.zeros(shape, dtype=dtype)  # 1 / (1 - p) would be inf
    u = rng.random(shape) if rng is not None else np.random.random_sample(shape)
    return ((u >= p) / (1.0 - p)).astype(dtype)  # u ~ U[0, 1): kept with prob 1 - p


class Dropout(Module):
    """Zero each element with probability ``p``, scale the rest by 1 / (1 - p).

    Shapes: input (*) -> output (*), any shape. The scaled mask drawn in forward
    is stored and reused by backward, so dL/dx = dL/dy * mask.

    ``rng`` is an optional ``numpy.random.Generator``; without one the global
    ``np.random`` state is used, so ``seed_everything`` makes masks repeatable.
    """

    _int_input = "refuse"

    def __init__(self, p: float = 0.5, inplace: bool = False, *, rng=None):
        super().__init__()
        if isinstance(p, bool) or not isinstance(p, numbers.Real) or not 0 <= p <= 1:
            raise ValueError(f"Dropout: p must be a probability in [0, 1], got {p!r}")
        self.p = float(p)
        self.inplace = inplace
        self.rng = rng
        self.mask = None

    def forward(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x)
        if not np.issubdtype(x.dtype, np.floating):
            raise TypeError(f"Dropout: expected a floating-point input, got {x.dtype}")
        if not self.training or self.p == 0.0:
            self.mask = None  # identity: backward passes the gradient through
            return x
        # p = 1 drops everything: the mask is all zeros, as torch's output
        self.mask = dropout_mask(x.shape, self.p, x.dtype, self.rng)
        if self.inplace:  # overwrite the caller's array, as torch's inplace=True
            return np.multiply(x, self.mask, out=x)
        return x * self.mask

    def backward(self, grad_output: np.ndarray) -> np.ndarray:
        if self.mask is None:
            return grad_output
        if np.shape(grad_output) != self.mask.shape:
            raise ValueError(
                f"Dropout.backward: expected grad_output of the input's shape "
                f"{self.mask.shape}, got {np.shape(grad_output)}"
            )
        return grad_output * self.mask

    def extra_repr(self) -> str:
        return f"p={self.p}, inplace={self.inplace}"
