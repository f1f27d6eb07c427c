"""Pooling: ``MaxPool2d``, ``AvgPool2d``, adaptive pooling, and their 1-D versions.

Shapes: x (N, C, H, W) or (C, H, W) -> (N, C, Ho, Wo), Ho = floor((H + 2 ph -
dh (kh - 1) - 1) / sh) + 1. Windows come from an ``as_strided`` view of the
padded input, (N, C, Ho, Wo, kh, kw), so forward is one reduction; backward
loops over the kh*kw kernel offsets only, vectorised over everything else.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import as_strided

from .conv import _check_geometry, _pair, _whole
from .module import Module

__all__ = ["MaxPool2d", "AvgPool2d", "AdaptiveAvgPool2d", "AdaptiveMaxPool2d",
           "MaxPool1d", "AvgPool1d", "AdaptiveAvgPool1d", "AdaptiveMaxPool1d",
           "max_pool2d_naive", "avg_pool2d_naive"]


def _windows(x_p, kernel, stride, dilation, out_hw):
    """View (N, C, Hp, Wp) as (N, C, Ho, Wo, kh, kw) windows, without a copy."""
    N, C = x_p.shape[:2]
    sN, sC, sH, sW = x_p.strides
    (kh, kw), (sh, sw), (dh, dw) = kernel, stride, dilation
    return as_strided(x_p, (N, C) + tuple(out_hw) + (kh, kw),
                      (sN, sC, sH * sh, sW * sw, sH * dh, sW * dw), writeable=False)


class _Pool2d(Module):
    _int_input = "keep"

    def __init__(self, kernel_size, stride=None, padding=0, dilation=1,
                 ceil_mode: bool = False):
        super().__init__()
        self.kernel_size = _pair(kernel_size, f"{type(self).__name__}: kernel_size")
        who = type(self).__name__
        self.stride = (self.kernel_size if stride is None
                       else _pair(stride, f"{who}: stride"))
        self.padding = _pair(padding, f"{type(self).__name__}: padding")
        self.dilation = _pair(dilation, f"{type(self).__name__}: dilation")
        if ceil_mode:
            raise NotImplementedError(f"{type(self).__name__}: ceil_mode=True is not "
                                      f"implemented")
        _check_geometry(type(self).__name__, kernel_size=self.kernel_size,
                        stride=self.stride, dilation=self.dilation, padding=self.padding)
        for p, k in zip(self.padding, self.kernel_size):
            if p > k // 2:
                raise ValueError(f"{type(self).__name__}: padding {self.padding} must "
                                 f"be at most half the kernel size {self.kernel_size}")
        self.ceil_mode = ceil_mode

    def _prepare(self, x, fill):
        """Check and pad x; returns the padded (N, C, Hp, Wp) input and (Ho, Wo)."""
        self._unbatched = x.ndim == 3
        if self._unbatched:
            x = x[None]
        if x.ndim != 4:
            raise ValueError(f"{self!r}: expected input of shape (N, C, H, W) or "
                             f"(C, H, W), got shape {x.shape}")
        (kh, kw), (sh, sw) = self.kernel_size, self.stride
        (ph, pw), (dh, dw) = self.padding, self.dilation
        H, W = x.shape[2:]
        Ho = (H + 2 * ph - dh * (kh - 1) - 1) // sh + 1
        Wo = (W + 2 * pw - dw * (kw - 1) - 1) // sw + 1
        if Ho < 1 or Wo < 1:
            raise ValueError(f"{self!r}: input of shape {x.shape} is smaller than the "
                             f"window")
        self.x_shape = x.shape
        if ph or pw:
            x = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)), constant_values=fill)
        return x, (Ho, Wo)

    def _scatter(self, per_offset, padded_shape, dtype):
        """Add per_offset(i, j) -> (N, C, Ho, Wo) into the window slots; unpad."""
        (kh, kw), (sh, sw), (dh, dw) = self.kernel_size, self.stride, self.dilation
        Ho, Wo = self.out_hw
        dx = np.zeros(padded_shape, dtype=dtype)
        for i in range(kh):  # kh*kw iterations, each vectorised over N, C, Ho, Wo
            for j in range(kw):
                dx[:, :, i * dh: i * dh + sh * (Ho - 1) + 1: sh,
                   j * dw: j * dw + sw * (Wo - 1) + 1: sw] += per_offset(i, j)
        ph, pw = self.padding
        H, W = self.x_shape[2:]
        dx = dx[:, :, ph:ph + H, pw:pw + W]
        return dx[0] if self._unbatched else dx

    def extra_repr(self):
        return (f"kernel_size={self.kernel_size}, stride={self.stride}, "
                f"padding={self.padding}")


class MaxPool2d(_Pool2d):
    """The maximum of each window; the gradient goes to the (first) maximum."""

    def __init__(self, kernel_size, stride=None, padding=0, dilation=1,
                 return_indices: bool = False, ceil_mode: bool = False):
        super().__init__(kernel_size, stride, padding, dilation, ceil_mode)
        if return_indices:
            raise NotImplementedError(f"{type(self).__name__}: return_indices=True is not "
                                      "implemented")

    def forward(self, x):
        x_p, self.out_hw = self._prepare(x, -np.inf)
        N, C = x_p.shape[:2]
        win = _windows(x_p, self.kernel_size, self.stride, self.dilation, self.out_hw)
        k = self.kernel_size[0] * self.kernel_size[1]
        win = win.reshape(N, C, *self.out_hw, k)  # (N, C, Ho, Wo, kh*kw), a copy
        self.arg = win.argmax(axis=-1)  # (N, C, Ho, Wo): first maximum, as torch
        self.padded_shape = x_p.shape
        out = np.take_along_axis(win, self.arg[..., None], axis=-1)[..., 0]
        return out[0] if self._unbatched else out

    def backward(self, grad_output):
        g = grad_output[None] if self._unbatched else grad_output
        kw = self.kernel_size[1]
        arg = self.arg
        return self._scatter(lambda i, j: g * (arg == i * kw + j), self.padded_shape,
                             g.dtype)


class AvgPool2d(_Pool2d):
    """The mean of each window; zero padding counts toward the divisor unless
    ``count_include_pad=False``; ``divisor_override`` replaces the divisor."""

    # torch truncates an integer mean (int64) or has no kernel (uint8): refused
    _int_input = "refuse"

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode: bool = False,
                 count_include_pad: bool = True, divisor_override=None):
        super().__init__(kernel_size, stride, padding, 1, ceil_mode)
        self.count_include_pad = count_include_pad
        self.divisor_override = divisor_override

    def _divisor(self, dtype):
        kh, kw = self.kernel_size
        if self.divisor_override is not None:
            return np.asarray(self.divisor_override, dtype=dtype)
        if self.count_include_pad or self.padding == (0, 0):
            return np.asarray(kh * kw, dtype=dtype)
        # count the real (unpadded) pixels under each window
        ones = np.ones((1, 1) + self.x_shape[2:], dtype=dtype)
        ph, pw = self.padding
        ones = np.pad(ones, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
        win = _windows(ones, self.kernel_size, self.stride, self.dilation, self.out_hw)
        return win.sum(axis=(-2, -1))  # (1, 1, Ho, Wo)

    def forward(self, x):
        x_p, self.out_hw = self._prepare(x, 0)
        win = _windows(x_p, self.kernel_size, self.stride, self.dilation, self.out_hw)
        self.div = self._divisor(x.dtype)
        self.padded_shape = x_p.shape
        out = win.sum(axis=(-2, -1)) / self.div
        return out[0] if self._unbatched else out

    def backward(self, grad_output):
        g = grad_output[None] if self._unbatched else grad_output
        share = g / self.div  # every pixel of a window gets an equal share
        return self._scatter(lambda i, j: share, self.padded_shape, g.dtype)


def _adaptive_bins(size: int, out: int) -> list[tuple[int, int]]:
    """torch's adaptive windows: bin i covers [floor(i L / out),
    ceil((i + 1) L / out))."""
    return [(i * size // out, -(-(i + 1) * size // out)) for i in range(out)]


class _AdaptivePool2d(Module):
    """Pool (N, C, H, W) or (C, H, W) to a fixed ``output_size`` (oh, ow); None
    keeps that input size. Windows may overlap and differ in size, as torch's;
    forward and backward loop over the oh * ow output cells."""

    _int_input = "refuse"

    def __init__(self, output_size):
        super().__init__()
        pair = isinstance(output_size, (tuple, list))
        size = tuple(output_size) if pair else (output_size, output_size)
        if len(size) != 2 or any(s is not None and (not isinstance(s, int) or s < 1)
                                 for s in size):
            raise ValueError(f"{type(self).__name__}: output_size must be a positive "
                             f"int, None, or a pair of them, got {output_size!r}")
        self.output_size = size

    def _bins(self, x):
        if x.ndim not in (3, 4):
            raise ValueError(f"{self!r}: expected input of shape (N, C, H, W) or "
                             f"(C, H, W), got {x.shape}")
        H, W = x.shape[-2:]
        oh, ow = (H if o is None else o for o, H in zip(self.output_size, (H, W)))
        return _adaptive_bins(H, oh), _adaptive_bins(W, ow)

    def extra_repr(self):
        return f"output_size={self.output_size}"


class AdaptiveAvgPool2d(_AdaptivePool2d):
    """The mean of each adaptive window; (1, 1) is global average pooling (ResNet)."""

    def forward(self, x):
        rows, cols = self._bins(x)
        self.x_shape = x.shape
        self.bins = (rows, cols)
        out = np.empty(x.shape[:-2] + (len(rows), len(cols)), dtype=x.dtype)
        for i, (r0, r1) in enumerate(rows):
            for j, (c0, c1) in enumerate(cols):
                out[..., i, j] = x[..., r0:r1, c0:c1].mean(axis=(-2, -1))
        return out

    def backward(self, grad_output):
        rows, cols = self.bins
        dx = np.zeros(self.x_shape, dtype=grad_output.dtype)
        for i, (r0, r1) in enumerate(rows):
            for j, (c0, c1) in enumerate(cols):
                share = grad_output[..., i, j] / ((r1 - r0) * (c1 - c0))
                dx[..., r0:r1, c0:c1] += share[..., None, None]  # windows may overlap
        return dx


class AdaptiveMaxPool2d(_AdaptivePool2d):
    """The maximum of each adaptive window; the gradient goes to its (first)
    maximum. ``return_indices=True`` is not implemented."""

    _int_input = "refuse"  # torch has no integer kernel

    def __init__(self, output_size, return_indices: bool = False):
        super().__init__(output_size)
        if return_indices:
            raise NotImplementedError(f"{type(self).__name__}: return_indices=True is not "
                                      "implemented")

    def forward(self, x):
        rows, cols = self._bins(x)
        self.x_shape = x.shape
        self.bins = (rows, cols)
        lead = x.shape[:-2]
        out = np.empty(lead + (len(rows), len(cols)), dtype=x.dtype)
        self.arg = np.empty(lead + (len(rows), len(cols)), dtype=np.int64)
        for i, (r0, r1) in enumerate(rows):
            for j, (c0, c1) in enumerate(cols):
                # (*, h*w); the size spelt out, not -1, so an empty batch works
                win = x[..., r0:r1, c0:c1].reshape(lead + ((r1 - r0) * (c1 - c0),))
                self.arg[..., i, j] = win.argmax(axis=-1)
                out[..., i, j] = win.max(axis=-1)
        return out

    def backward(self, grad_output):
        rows, cols = self.bins
        lead = self.x_shape[:-2]
        dx = np.zeros(self.x_shape, dtype=grad_output.dtype)
        for i, (r0, r1) in enumerate(rows):
            for j, (c0, c1) in enumerate(cols):
                g = np.zeros(lead + ((r1 - r0) * (c1 - c0),), dtype=dx.dtype)
                np.put_along_axis(g, self.arg[..., i, j, None],
                                  grad_output[..., i, j, None], axis=-1)
                dx[..., r0:r1, c0:c1] += g.reshape(lead + (r1 - r0, c1 - c0))
        return dx


# ---- 1-D versions: the 2-D layers on (N, C, 1, L) ----------------------------------
def _single(value, name):
    vals = tuple(value) if isinstance(value, (tuple, list)) else (value,)
    if len(vals) != 1 or not _whole(vals[0]):
        raise TypeError(f"{name} must be an int or a 1-tuple, got {value!r}")
    return int(vals[0])


def _forward_1d(m, base, x):
    """Run the 2-D ``base`` layer's forward on (N, C, 1, L); drop the unit axis."""
    if x.ndim not in (2, 3):
        raise ValueError(f"{type(m).__name__}: expected input of shape (N, C, L) or "
                         f"(C, L), got {x.shape}")
    return base.forward(m, x[..., None, :])[..., 0, :]


def _backward_1d(m, base, grad_output):
    return base.backward(m, grad_output[..., None, :])[..., 0, :]


class MaxPool1d(MaxPool2d):
    """Max over windows of a sequence: (N, C, L) or (C, L) -> (N, C, Lo)."""

    _int_input = "refuse"  # torch has no integer kernel (MaxPool2d has one)

    def __init__(self, kernel_size, stride=None, padding=0, dilation=1,
                 return_indices: bool = False, ceil_mode: bool = False):
        who = type(self).__name__
        k = _single(kernel_size, f"{who}: kernel_size")
        s = k if stride is None else _single(stride, f"{who}: stride")
        super().__init__((1, k), (1, s), (0, _single(padding, f"{who}: padding")),
                         (1, _single(dilation, f"{who}: dilation")), return_indices,
                         ceil_mode)

    def forward(self, x):
        return _forward_1d(self, MaxPool2d, x)

    def backward(self, grad_output):
        return _backward_1d(self, MaxPool2d, grad_output)

    def extra_repr(self):
        return (f"kernel_size={self.kernel_size[1]}, stride={self.stride[1]}, "
                f"padding={self.padding[1]}")


class AvgPool1d(AvgPool2d):
    """Mean over windows of a sequence: (N, C, L) or (C, L) -> (N, C, Lo)."""

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode: bool = False,
                 count_include_pad: bool = True):
        who = type(self).__name__
        k = _single(kernel_size, f"{who}: kernel_size")
        s = k if stride is None else _single(stride, f"{who}: stride")
        super().__init__((1, k), (1, s), (0, _single(padding, f"{who}: padding")), ceil_mode,
                         count_include_pad)

    def forward(self, x):
        return _forward_1d(self, AvgPool2d, x)

    def backward(self, grad_output):
        return _backward_1d(self, AvgPool2d, grad_output)
    extra_repr = MaxPool1d.extra_repr


class AdaptiveAvgPool1d(AdaptiveAvgPool2d):
    """Mean over ``output_size`` adaptive windows: (N, C, L) -> (N, C, output_size)."""

    def __init__(self, output_size):
        super().__init__((1, _single(output_size,
                                     f"{type(self).__name__}: output_size")))

    def forward(self, x):
        return _forward_1d(self, AdaptiveAvgPool2d, x)

    def backward(self, grad_output):
        return _backward_1d(self, AdaptiveAvgPool2d, grad_output)

    def extra_repr(self):
        return f"output_size={self.output_size[1]}"


class AdaptiveMaxPool1d(AdaptiveMaxPool2d):
    """Max over ``output_size`` adaptive windows: (N, C, L) -> (N, C, output_size)."""

    def __init__(self, output_size, return_indices: bool = False):
        size = _single(output_size, f"{type(self).__name__}: output_size")
        super().__init__((1, size), return_indices)

    def forward(self, x):
        return _forward_1d(self, AdaptiveMaxPool2d, x)

    def backward(self, grad_output):
        return _backward_1d(self, AdaptiveMaxPool2d, grad_output)
    extra_repr = AdaptiveAvgPool1d.extra_repr


def _pool2d_naive(x, kernel_size, stride, padding, reduce, fill):
    """Pooling by its definition, in loops: ``reduce`` over each padded window."""
    kh, kw = _pair(kernel_size)
    sh, sw = _pair(stride) if stride is not None else (kh, kw)
    ph, pw = _pair(padding)
    N, C, H, W = x.shape
    xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)), constant_values=fill)
    Ho, Wo = (H + 2 * ph - kh) // sh + 1, (W + 2 * pw - kw) // sw + 1
    y = np.empty((N, C, Ho, Wo), dtype=x.dtype)
    for p in range(Ho):
        for q in range(Wo):
            window = xp[:, :, p * sh:p * sh + kh, q * sw:q * sw + kw]
            y[:, :, p, q] = reduce(window, axis=(2, 3))
    return y


def max_pool2d_naive(x, kernel_size, stride=None, padding=0):
    """The definition, in loops (for tests): max over each padded window."""
    return _pool2d_naive(x, kernel_size, stride, padding, np.max, -np.inf)


def avg_pool2d_naive(x, kernel_size, stride=None, padding=0):
    """The definition, in loops (count_include_pad=True)."""
    return _pool2d_naive(x, kernel_size, stride, padding, np.mean, 0)
