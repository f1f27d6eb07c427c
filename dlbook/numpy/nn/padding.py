"""Padding layers: ``ZeroPad2d``, ``ConstantPad2d`` and ``ReflectionPad2d``.

Shapes: x (N, C, H, W) or (C, H, W) -> (N, C, H + top + bottom, W + left +
right). ``padding`` is an int (all four sides) or torch's 4-tuple ``(left,
right, top, bottom)``. Constant padding's backward crops the gradient;
reflection's adds the gradient of each mirrored pixel back onto its source.
"""

from __future__ import annotations

import numpy as np

from .module import Module

__all__ = ["ConstantPad2d", "ZeroPad2d", "ReflectionPad2d"]


def _four(padding, name: str) -> tuple[int, int, int, int]:
    if isinstance(padding, int):
        return (padding,) * 4
    padding = tuple(padding)
    if len(padding) != 4 or not all(isinstance(p, int) for p in padding):
        raise ValueError(f"{name}: padding must be an int or a 4-tuple (left, right, "
                         f"top, bottom), got {padding!r}")
    return padding


class ConstantPad2d(Module):
    """Pads with ``value``; negative padding crops, as in torch."""

    _int_input = "keep"

    def __init__(self, padding, value: float):
        super().__init__()
        self.padding = _four(padding, type(self).__name__)
        self.value = value

    def _check(self, x):
        if x.ndim not in (3, 4):
            raise ValueError(f"{type(self).__name__}: expected input of shape (N, C, "
                             f"H, W) or (C, H, W), got {x.shape}")
        left, right, top, bottom = self.padding
        H, W = x.shape[-2:]
        if H + top + bottom < 0 or W + left + right < 0:
            raise ValueError(f"{type(self).__name__}: padding {self.padding} crops "
                             f"more than the input's {(H, W)}")

    def forward(self, x):
        self._check(x)
        left, right, top, bottom = self.padding
        self.x_shape = x.shape
        lead = [(0, 0)] * (x.ndim - 2)
        grow = [(max(top, 0), max(bottom, 0)), (max(left, 0), max(right, 0))]
        out = np.pad(x, lead + grow, constant_values=self.value)
        # negative padding removes rows/columns instead
        H, W = out.shape[-2:]
        return out[..., max(-top, 0):H - max(-bottom, 0),
                   max(-left, 0):W - max(-right, 0)]

    def backward(self, grad_output):
        left, right, top, bottom = self.padding
        H, W = self.x_shape[-2:]
        dx = np.zeros(self.x_shape, dtype=grad_output.dtype)
        # the part of the input that survived, and where it sits in the output
        r0, c0 = max(-top, 0), max(-left, 0)
        r1, c1 = H - max(-bottom, 0), W - max(-right, 0)
        o_r, o_c = max(top, 0), max(left, 0)
        dx[..., r0:r1, c0:c1] = grad_output[..., o_r:o_r + r1 - r0, o_c:o_c + c1 - c0]
        return dx

    def extra_repr(self):
        return f"padding={self.padding}, value={self.value}"


class ZeroPad2d(ConstantPad2d):
    """Pads with zeros (``ConstantPad2d(padding, 0.0)``)."""

    def __init__(self, padding):
        super().__init__(padding, 0.0)

    def extra_repr(self):
        return f"padding={self.padding}"


def _reflect_index(size: int, before: int, after: int) -> np.ndarray:
    """For each padded position, the input position it mirrors (edge excluded)."""
    return np.pad(np.arange(size), (before, after), mode="reflect")


class ReflectionPad2d(Module):
    """Pads with the mirror image of the input, the edge pixel not repeated:
    [a b c d] padded by 2 is [c b a b c d c b]. Each padding must be smaller
    than that input dimension, as in torch."""

    _int_input = "keep"

    def __init__(self, padding):
        super().__init__()
        self.padding = _four(padding, "ReflectionPad2d")
        if min(self.padding) < 0:
            raise ValueError(f"ReflectionPad2d: padding must be >= 0, got "
                             f"{self.padding}")

    def forward(self, x):
        if x.ndim not in (3, 4):
            raise ValueError(f"ReflectionPad2d: expected input of shape (N, C, H, W) "
                             f"or (C, H, W), got {x.shape}")
        left, right, top, bottom = self.padding
        H, W = x.shape[-2:]
        if max(top, bottom) >= H or max(left, right) >= W:
            raise ValueError(f"ReflectionPad2d: padding {self.padding} must be smaller "
                             f"than the input's (H, W) = {(H, W)}")
        self.x_shape = x.shape
        rows = _reflect_index(H, top, bottom)  # (Hp,)
        cols = _reflect_index(W, left, right)  # (Wp,)
        self.rows, self.cols = rows, cols
        return x[..., rows[:, None], cols[None, :]]  # (*, Hp, Wp)

    def backward(self, grad_output):
        H, W = self.x_shape[-2:]
        # one-hot maps: padded position -> source position; their products add
        # the gradients of all copies of a pixel, mirrored ones included
        to_rows = np.eye(H, dtype=grad_output.dtype)[self.rows]  # (Hp, H)
        to_cols = np.eye(W, dtype=grad_output.dtype)[self.cols]  # (Wp, W)
        return to_rows.T @ grad_output @ to_cols  # (*, H, W)

    def extra_repr(self):
        return f"padding={self.padding}"
