"""Convolutions: ``Conv1d``, ``Conv2d``, ``ConvTranspose2d``.

Shapes (letters used throughout this file): N batch, C input channels, O output
channels, G groups, H x W input size, kh x kw kernel, Ho x Wo output size,
L = Ho * Wo positions, K = C/G * kh * kw values under one window.

The fast path is im2col: ``np.lib.stride_tricks.as_strided`` views the padded
input as every (C, kh, kw) window at every output position without copying, one
reshape copies them into ``cols`` of shape (N, C*kh*kw, L), and the convolution
is a batched matrix product ``W (O, C*kh*kw) @ cols -> (N, O, L)``, already in
NCHW order. Backward is two more products: dW = sum_n dY_n @ cols_n^T, and
dcols = W^T @ dY, which col2im adds back to the positions each window came from
(a short loop over the kh*kw kernel offsets, vectorised over everything else).
``conv2d_naive`` and ``conv_transpose2d_naive`` are the loop definitions the
tests hold the fast path against.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.lib.stride_tricks import as_strided

from . import init
from .module import Module, Parameter

__all__ = ["Conv1d", "Conv2d", "ConvTranspose2d", "conv2d", "conv2d_naive",
           "conv_transpose2d_naive", "im2col", "col2im"]


def _whole(a) -> bool:
    """An int (a float such as 3.0 passes too; 2.5 or True do not)."""
    if isinstance(a, (bool, np.bool_)):
        return False
    return isinstance(a, (int, np.integer)) or (
        isinstance(a, (float, np.floating)) and float(a).is_integer())


def _pair(v, name: str = "argument") -> tuple[int, int]:
    vals = tuple(v) if isinstance(v, (tuple, list)) else (v, v)
    if len(vals) != 2 or not all(_whole(a) for a in vals):
        raise TypeError(f"{name} must be an int or a pair of ints, got {v!r}")
    return int(vals[0]), int(vals[1])


def _check_geometry(who: str, **pairs) -> None:
    """kernel_size, stride and dilation at least 1, padding and output_padding
    at least 0 (stride 0 divided by zero, negative padding broadcast wrongly)."""
    for name, pair in pairs.items():
        low = 0 if name in ("padding", "output_padding") else 1
        if isinstance(pair, tuple) and any(v < low for v in pair):
            raise ValueError(f"{who}: {name} must be {'>= 0' if low == 0 else '>= 1'}"
                             f", got {pair}")


def _padding_pairs(padding, kernel, dilation, stride, who: str):
    """Padding as ((top, bottom), (left, right)); accepts int, pair, 'valid', 'same'.

    'same' pads d*(k-1) in total, the extra one (if odd) at the end, as torch.
    """
    if isinstance(padding, str) and padding not in ("valid", "same"):
        raise ValueError(f"{who}: padding must be 'valid', 'same', an int or a pair, "
                         f"got {padding!r}")
    if padding == "valid":
        return ((0, 0), (0, 0))
    if padding == "same":
        if stride != (1, 1):
            raise ValueError(f"{who}: padding='same' needs stride 1, got {stride}")
        out = []
        for k, d in zip(kernel, dilation):
            total = d * (k - 1)
            out.append((total // 2, total - total // 2))
        return tuple(out)
    ph, pw = _pair(padding, f"{who} padding")
    return ((ph, ph), (pw, pw))


def _out_size(size, pad, k, s, d):
    return (size + pad[0] + pad[1] - d * (k - 1) - 1) // s + 1


def _pad(x, pads) -> np.ndarray:
    """Zero-pad the last two axes by ((top, bottom), (left, right)); a lean
    ``np.pad`` (which costs more than the convolution itself on small inputs)."""
    (pt, pb), (pl, pr) = pads
    if not (pt or pb or pl or pr):
        return x
    N, C, H, W = x.shape
    out = np.zeros((N, C, H + pt + pb, W + pl + pr), dtype=x.dtype)
    out[:, :, pt:pt + H, pl:pl + W] = x
    return out


def im2col(x_p, kernel, stride, dilation, out_hw) -> np.ndarray:
    """Padded input (N, C, Hp, Wp) -> cols (N, C*kh*kw, Ho*Wo), one copy."""
    kh, kw = kernel
    sh, sw = stride
    dh, dw = dilation
    Ho, Wo = out_hw
    N, C = x_p.shape[:2]
    sN, sC, sH, sW = x_p.strides
    # a view: windows[n, c, i, j, y, x] = x_p[n, c, y*sh + i*dh, x*sw + j*dw]
    windows = as_strided(x_p, (N, C, kh, kw, Ho, Wo),
                         (sN, sC, sH * dh, sW * dw, sH * sh, sW * sw), writeable=False)
    return windows.reshape(N, C * kh * kw, Ho * Wo)  # copies the windows


def col2im(cols, padded_shape, kernel, stride, dilation, out_hw) -> np.ndarray:
    """Adjoint of im2col: add cols (N, C*kh*kw, Ho*Wo) back into (N, C, Hp, Wp)."""
    kh, kw = kernel
    sh, sw = stride
    dh, dw = dilation
    Ho, Wo = out_hw
    N, C = padded_shape[:2]
    out = np.zeros(padded_shape, dtype=cols.dtype)
    c6 = cols.reshape(N, C, kh, kw, Ho, Wo)  # (N, C, kh, kw, Ho, Wo)
    for i in range(kh):  # kh*kw iterations; everything else is vectorised
        for j in range(kw):
            out[:, :, i * dh: i * dh + sh * (Ho - 1) + 1: sh,
                j * dw: j * dw + sw * (Wo - 1) + 1: sw] += c6[:, :, i, j]
    return out


def conv2d(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """Functional 2-D convolution (cross-correlation), fast path; forward only."""
    m = Conv2d.__new__(Conv2d)  # skip __init__: no random initialisation wanted
    Module.__init__(m)
    O, Cg, kh, kw = weight.shape
    m._setup(Cg * groups, O, (kh, kw), stride, padding, dilation, groups)
    m.weight = Parameter(weight)
    m.bias = None if bias is None else Parameter(bias)
    return m.forward(x)


def conv2d_naive(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """The definition, in loops: y[n,o,p,q] = b[o] + sum_{c,i,j} w[o,c,i,j] *
    x_pad[n, g*C/G + c, p*sh + i*dh, q*sw + j*dw]. Slow; for tests and teaching."""
    sh, sw = _pair(stride)
    dh, dw = _pair(dilation)
    ph, pw = _pair(padding)
    N, C, H, W = x.shape
    O, Cg, kh, kw = weight.shape
    Og = O // groups
    xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    Ho = (H + 2 * ph - dh * (kh - 1) - 1) // sh + 1
    Wo = (W + 2 * pw - dw * (kw - 1) - 1) // sw + 1
    y = np.zeros((N, O, Ho, Wo), dtype=np.result_type(x, weight))
    for n in range(N):
        for o in range(O):
            g = o // Og
            for p in range(Ho):
                for q in range(Wo):
                    patch = xp[n, g * Cg:(g + 1) * Cg,
                               p * sh: p * sh + dh * (kh - 1) + 1: dh,
                               q * sw: q * sw + dw * (kw - 1) + 1: dw]
                    y[n, o, p, q] = np.sum(patch * weight[o])
            if bias is not None:
                y[n, o] += bias[o]
    return y


def conv_transpose2d_naive(x, weight, bias=None, stride=1, padding=0,
                           output_padding=0, dilation=1):
    """The definition, in loops: every input pixel x[n,c,p,q] scatters
    x * w[c, o, :, :] into the output at (p*sh + i*dh - ph, q*sw + j*dw - pw)."""
    sh, sw = _pair(stride)
    dh, dw = _pair(dilation)
    ph, pw = _pair(padding)
    oph, opw = _pair(output_padding)
    N, C, H, W = x.shape
    _, O, kh, kw = weight.shape
    Ho = (H - 1) * sh - 2 * ph + dh * (kh - 1) + oph + 1
    Wo = (W - 1) * sw - 2 * pw + dw * (kw - 1) + opw + 1
    y = np.zeros((N, O, Ho, Wo), dtype=np.result_type(x, weight))
    for n in range(N):
        for c in range(C):
            for p in range(H):
                for q in range(W):
                    for i in range(kh):
                        for j in range(kw):
                            r, s = p * sh + i * dh - ph, q * sw + j * dw - pw
                            if 0 <= r < Ho and 0 <= s < Wo:
                                y[n, :, r, s] += x[n, c, p, q] * weight[c, :, i, j]
    if bias is not None:
        y += bias[None, :, None, None]
    return y


class Conv2d(Module):
    """2-D convolution (cross-correlation), as ``torch.nn.Conv2d``.

    x (N, C, H, W) or (C, H, W) -> y (N, O, Ho, Wo) with
    Ho = floor((H + 2 ph - dh (kh - 1) - 1) / sh) + 1 (and likewise Wo);
    weight (O, C/G, kh, kw), bias (O,).
    """

    _int_input = "refuse"

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1,
                 padding=0, dilation=1, groups: int = 1, bias: bool = True,
                 padding_mode: str = "zeros", *, dtype=np.float32, rng=None):
        super().__init__()
        if padding_mode != "zeros":
            raise NotImplementedError(f"Conv2d: padding_mode={padding_mode!r}; only "
                                      f"'zeros' is implemented")
        kernel = _pair(kernel_size, f"{type(self).__name__}: kernel_size")
        self._setup(in_channels, out_channels, kernel, stride, padding, dilation,
                    groups)
        kh, kw = self.kernel_size
        self.weight = Parameter(np.empty((out_channels, in_channels // groups, kh, kw),
                                         dtype=dtype))
        self.bias = Parameter(np.empty(out_channels, dtype=dtype)) if bias else None
        _reset_conv(self, rng)

    def _setup(self, C, O, kernel, stride, padding, dilation, groups):
        if C % groups or O % groups:
            raise ValueError(f"{type(self).__name__}: in_channels ({C}) and "
                             f"out_channels "
                             f"({O}) must be divisible by groups ({groups})")
        self.in_channels, self.out_channels = C, O
        self.kernel_size = kernel
        self.stride = _pair(stride, f"{type(self).__name__}: stride")
        self.dilation = _pair(dilation, f"{type(self).__name__}: dilation")
        self.padding = (padding if isinstance(padding, str)
                        else _pair(padding, f"{type(self).__name__}: padding"))
        self.groups = groups
        _check_geometry(type(self).__name__, kernel_size=kernel, stride=self.stride,
                        dilation=self.dilation, padding=self.padding)
        self._pads = _padding_pairs(padding, kernel, self.dilation, self.stride,
                                    type(self).__name__)

    def _weight4(self):
        """The weight as (O, C/G, kh, kw) and its gradient (Conv1d views them)."""
        return self.weight.data, self.weight.grad

    def _describe(self) -> str:
        return (f"Conv2d({self.in_channels}, {self.out_channels}, "
                f"kernel_size={self.kernel_size})")

    def forward(self, x: np.ndarray) -> np.ndarray:
        self._unbatched = x.ndim == 3
        if self._unbatched:
            x = x[None]
        if x.ndim != 4 or x.shape[1] != self.in_channels:
            raise ValueError(f"{self._describe()}: expected input of shape (N, "
                             f"{self.in_channels}, H, W), got shape {x.shape}")
        (pt, pb), (pl, pr) = self._pads
        kh, kw = self.kernel_size
        N, C, H, W = x.shape
        Ho = _out_size(H, (pt, pb), kh, self.stride[0], self.dilation[0])
        Wo = _out_size(W, (pl, pr), kw, self.stride[1], self.dilation[1])
        if Ho < 1 or Wo < 1:
            raise ValueError(f"{self._describe()}: input of shape {x.shape} is smaller "
                             f"than the (dilated) kernel after padding")
        x_p = _pad(x, self._pads)
        self.cols = im2col(x_p, self.kernel_size, self.stride, self.dilation, (Ho, Wo))
        self.shapes = (x_p.shape, (Ho, Wo), x.shape)
        G, O = self.groups, self.out_channels
        K = C // G * kh * kw  # one output's inputs; explicit, so N = 0 works too
        W2 = self._weight4()[0].reshape(G, O // G, K)  # (G, O/G, K)
        out = W2 @ self.cols.reshape(N, G, K, Ho * Wo)  # (N, G, O/G, L)
        out = out.reshape(N, O, Ho, Wo)
        if self.bias is not None:
            out += self.bias.data[:, None, None]
        return out[0] if self._unbatched else out

    def backward(self, grad_output: np.ndarray) -> np.ndarray:
        g = grad_output[None] if self._unbatched else grad_output
        padded_shape, (Ho, Wo), x_shape = self.shapes
        G, O = self.groups, self.out_channels
        N = g.shape[0]
        K = x_shape[1] // G * self.kernel_size[0] * self.kernel_size[1]
        g4 = g.reshape(N, G, O // G, Ho * Wo)  # (N, G, O/G, L)
        cols = self.cols.reshape(N, G, K, Ho * Wo)  # (N, G, K, L)
        w4, w4_grad = self._weight4()
        # one product per sample, summed: avoids copying cols into another layout
        w4_grad += (g4 @ cols.transpose(0, 1, 3, 2)).sum(axis=0).reshape(w4.shape)
        if self.bias is not None:
            self.bias.grad += g.sum(axis=(0, 2, 3))
        W2 = w4.reshape(G, O // G, K)  # (G, O/G, K)
        dcols = (W2.transpose(0, 2, 1) @ g4).reshape(N, G * K, Ho * Wo)  # (N, CK, L)
        dx_p = col2im(dcols, padded_shape, self.kernel_size, self.stride, self.dilation,
                      (Ho, Wo))
        (pt, pb), (pl, pr) = self._pads
        H, W = x_shape[2:]
        dx = dx_p[:, :, pt:pt + H, pl:pl + W]
        return dx[0] if self._unbatched else dx

    def extra_repr(self) -> str:
        return _conv_repr(self, padding=(self.padding, (0, 0)),
                          dilation=(self.dilation, (1, 1)), groups=(self.groups, 1))


def _conv_repr(m, **options) -> str:
    """torch's conv repr: channels, kernel and stride, then each option
    ``name=(value, default)`` whose value differs from its default."""
    s = (f"{m.in_channels}, {m.out_channels}, "
         f"kernel_size={m.kernel_size}, stride={m.stride}")
    for name, (value, default) in options.items():
        if value != default:
            s += f", {name}={value}"
    if m.bias is None:
        s += ", bias=False"
    return s


def _reset_conv(m, rng):
    # torch: kaiming_uniform_(a=sqrt(5)) -> U(-1/sqrt(fan_in), 1/sqrt(fan_in))
    init.kaiming_uniform_(m.weight, a=math.sqrt(5), rng=rng)
    if m.bias is not None:
        fan_in, _ = init._calculate_fan_in_and_fan_out(m.weight)
        bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0
        init.uniform_(m.bias, -bound, bound, rng=rng)


class Conv1d(Conv2d):
    """1-D convolution, as ``torch.nn.Conv1d``: x (N, C, L) -> (N, O, Lo).

    Computed as a Conv2d over a height-1 image; the weight keeps torch's
    (O, C/G, k) layout and is viewed as (O, C/G, 1, k).
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1,
                 padding=0, dilation=1, groups: int = 1, bias: bool = True,
                 padding_mode: str = "zeros", *, dtype=np.float32, rng=None):
        Module.__init__(self)
        if padding_mode != "zeros":
            raise NotImplementedError("Conv1d: only padding_mode='zeros' is "
                                      "implemented")
        k = _single(kernel_size, "Conv1d: kernel_size")
        s, d = _single(stride, "Conv1d: stride"), _single(dilation, "Conv1d: dilation")
        pad = padding if isinstance(padding, str) else (0, _single(padding,
                                                                   "Conv1d: padding"))
        self._setup(in_channels, out_channels, (1, k), (1, s), pad, (1, d), groups)
        self.weight = Parameter(np.empty((out_channels, in_channels // groups, k),
                                         dtype=dtype))
        self.bias = Parameter(np.empty(out_channels, dtype=dtype)) if bias else None
        _reset_conv(self, rng)

    def _describe(self) -> str:
        return (f"Conv1d({self.in_channels}, {self.out_channels}, "
                f"kernel_size={self.kernel_size[1]})")

    def _weight4(self):
        # views, so the Conv2d code reads the weight and its += lands in .grad
        return self.weight.data[:, :, None, :], self.weight.grad[:, :, None, :]

    def forward(self, x: np.ndarray) -> np.ndarray:
        if x.ndim not in (2, 3) or x.shape[-2] != self.in_channels:
            raise ValueError(f"{self._describe()}: expected input of shape (N, "
                             f"{self.in_channels}, L), got shape {x.shape}")
        return super().forward(x[..., None, :])[..., 0, :]  # via (N, C, 1, L)

    def backward(self, grad_output: np.ndarray) -> np.ndarray:
        return super().backward(grad_output[..., None, :])[..., 0, :]

    def extra_repr(self) -> str:
        s = (f"{self.in_channels}, {self.out_channels}, "
             f"kernel_size=({self.kernel_size[1]},), stride=({self.stride[1]},)")
        if isinstance(self.padding, str):
            s += f", padding={self.padding!r}"
        elif self.padding[1]:
            s += f", padding=({self.padding[1]},)"
        if self.dilation[1] != 1:
            s += f", dilation=({self.dilation[1]},)"
        if self.bias is None:
            s += ", bias=False"
        return s


def _single(v, name: str = "argument") -> int:
    vals = tuple(v) if isinstance(v, (tuple, list)) else (v,)
    if len(vals) != 1 or not _whole(vals[0]):
        raise TypeError(f"{name} must be an int or a 1-tuple, got {v!r}")
    return int(vals[0])


class ConvTranspose2d(Module):
    """Transposed convolution, as ``torch.nn.ConvTranspose2d`` (groups=1).

    The adjoint of Conv2d: each input pixel scatters a weighted copy of the
    kernel into the output. x (N, C, H, W) -> y (N, O, Ho, Wo) with
    Ho = (H - 1) sh - 2 ph + dh (kh - 1) + output_padding + 1;
    weight (C, O, kh, kw) (note: in_channels first), bias (O,).
    Forward is Conv2d's backward-to-input (W^T @ x, then col2im); backward is a
    Conv2d forward of the upstream gradient (im2col, then W @ cols).
    """

    _int_input = "refuse"

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1,
                 padding=0, output_padding=0, groups: int = 1, bias: bool = True,
                 dilation=1, padding_mode: str = "zeros", *, dtype=np.float32,
                 rng=None):
        super().__init__()
        if groups != 1:
            raise NotImplementedError("ConvTranspose2d: only groups=1 is implemented")
        if padding_mode != "zeros":
            raise NotImplementedError("ConvTranspose2d: only padding_mode='zeros'")
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size = _pair(kernel_size, f"{type(self).__name__}: kernel_size")
        self.stride = _pair(stride, f"{type(self).__name__}: stride")
        self.padding = _pair(padding, f"{type(self).__name__}: padding")
        self.output_padding = _pair(output_padding, f"{type(self).__name__}: output_padding")
        self.dilation = _pair(dilation, f"{type(self).__name__}: dilation")
        self.groups = groups
        _check_geometry("ConvTranspose2d", kernel_size=self.kernel_size,
                        stride=self.stride, padding=self.padding,
                        output_padding=self.output_padding, dilation=self.dilation)
        for op, s, d in zip(self.output_padding, self.stride, self.dilation):
            if op >= max(s, d):
                raise ValueError(f"ConvTranspose2d: output_padding "
                                 f"{self.output_padding} "
                                 f"must be smaller than stride or dilation")
        kh, kw = self.kernel_size
        self.weight = Parameter(np.empty((in_channels, out_channels, kh, kw),
                                         dtype=dtype))
        self.bias = Parameter(np.empty(out_channels, dtype=dtype)) if bias else None
        # torch's fan_in here is weight.shape[1] * kh * kw = out_channels * kh * kw
        _reset_conv(self, rng)

    def forward(self, x: np.ndarray) -> np.ndarray:
        self._unbatched = x.ndim == 3
        if self._unbatched:
            x = x[None]
        if x.ndim != 4 or x.shape[1] != self.in_channels:
            raise ValueError(f"ConvTranspose2d({self.in_channels}, "
                             f"{self.out_channels}): "
                             f"expected input of shape (N, {self.in_channels}, H, W), "
                             f"got shape {x.shape}")
        N, C, H, W = x.shape
        (kh, kw), (sh, sw) = self.kernel_size, self.stride
        (ph, pw), (dh, dw) = self.padding, self.dilation
        Ho = (H - 1) * sh - 2 * ph + dh * (kh - 1) + self.output_padding[0] + 1
        Wo = (W - 1) * sw - 2 * pw + dw * (kw - 1) + self.output_padding[1] + 1
        self.x3 = x.reshape(N, C, H * W)  # (N, C, H*W)
        W2 = self.weight.data.reshape(C, -1)  # (C, O*kh*kw)
        cols = W2.T @ self.x3  # (N, O*kh*kw, H*W)
        canvas = (N, self.out_channels, Ho + 2 * ph, Wo + 2 * pw)
        y = col2im(cols, canvas, self.kernel_size, self.stride, self.dilation, (H, W))
        y = np.ascontiguousarray(y[:, :, ph:ph + Ho, pw:pw + Wo])  # crop the padding
        if self.bias is not None:
            y += self.bias.data[:, None, None]
        self.hw = (H, W)
        return y[0] if self._unbatched else y

    def backward(self, grad_output: np.ndarray) -> np.ndarray:
        g = grad_output[None] if self._unbatched else grad_output
        (ph, pw) = self.padding
        H, W = self.hw
        N = g.shape[0]
        g_p = _pad(g, ((ph, ph), (pw, pw)))
        cols = im2col(g_p, self.kernel_size, self.stride, self.dilation, (H, W))
        # cols: (N, O*kh*kw, H*W)
        self.weight.grad += (self.x3 @ cols.transpose(0, 2, 1)).sum(axis=0).reshape(
            self.weight.shape)
        if self.bias is not None:
            self.bias.grad += g.sum(axis=(0, 2, 3))
        W2 = self.weight.data.reshape(self.in_channels, -1)  # (C, O*kh*kw)
        dx = (W2 @ cols).reshape(N, self.in_channels, H, W)  # (N, C, H, W)
        return dx[0] if self._unbatched else dx

    def extra_repr(self) -> str:
        return _conv_repr(self, padding=(self.padding, (0, 0)),
                          output_padding=(self.output_padding, (0, 0)),
                          dilation=(self.dilation, (1, 1)))
