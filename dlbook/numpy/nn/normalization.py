"""Normalization layers: BatchNorm1d/2d, LayerNorm, GroupNorm, InstanceNorm1d/2d.

All compute x_hat = (x - mean) / sqrt(var + eps) over some axes (biased variance),
then y = gamma * x_hat + beta. They differ only in the axes::

    BatchNorm    over (N, *spatial) per channel    (Ioffe & Szegedy, 2015)
    LayerNorm    over the last dims of each sample (Ba et al., 2016)
    InstanceNorm over (*spatial) per sample and channel (Ulyanov et al., 2016)
    GroupNorm    over (channels of a group, *spatial) per sample (Wu & He, 2018)

so they share one backward: with g = dL/dx_hat and means over those axes,

    dx = (g - mean(g) - x_hat * mean(g * x_hat)) / sqrt(var + eps).
"""

from __future__ import annotations

import numpy as np

from .module import Module, Parameter

__all__ = ["BatchNorm1d", "BatchNorm2d", "LayerNorm", "GroupNorm", "InstanceNorm1d",
           "InstanceNorm2d"]


def _normalize(x, axes, eps):
    """x_hat and 1/sqrt(var + eps) (keepdims) over ``axes``; biased variance."""
    mean = x.mean(axis=axes, keepdims=True)
    xc = x - mean
    var = (xc * xc).mean(axis=axes, keepdims=True)
    inv_std = 1.0 / np.sqrt(var + eps)
    return xc * inv_std, inv_std, mean, var


def _normalize_backward(g_hat, x_hat, inv_std, axes):
    """dx from dL/dx_hat when mean and variance were taken over ``axes``."""
    mean_g = g_hat.mean(axis=axes, keepdims=True)
    mean_gx = (g_hat * x_hat).mean(axis=axes, keepdims=True)
    return (g_hat - mean_g - x_hat * mean_gx) * inv_std


class _BatchNorm(Module):
    _int_input = "refuse"

    _expected_ndims: tuple = ()
    _layout: str = ""

    def __init__(self, num_features: int, eps: float = 1e-5, momentum=0.1,
                 affine: bool = True, track_running_stats: bool = True, *,
                 bias: bool = True, dtype=np.float32):
        super().__init__()
        self.num_features = num_features
        self.eps = eps
        self.momentum = momentum
        self.affine = affine
        self.track_running_stats = track_running_stats
        if affine:  # bias=False: a scale without a shift, as torch's
            self.weight = Parameter(np.ones(num_features, dtype=dtype))
            self.bias = Parameter(np.zeros(num_features, dtype=dtype)) if bias else None
        else:
            self.weight = self.bias = None
        if track_running_stats:
            self.register_buffer("running_mean", np.zeros(num_features, dtype=dtype))
            self.register_buffer("running_var", np.ones(num_features, dtype=dtype))
            self.register_buffer("num_batches_tracked", np.array(0, dtype=np.int64))
        else:
            self.register_buffer("running_mean", None)
            self.register_buffer("running_var", None)
            self.register_buffer("num_batches_tracked", None)

    def _check(self, x):
        if x.ndim not in self._expected_ndims or x.shape[1] != self.num_features:
            raise ValueError(
                f"{type(self).__name__}({self.num_features}): expected input of shape "
                f"{self._layout.format(C=self.num_features)}, got shape {x.shape}")

    def forward(self, x):
        self._check(x)
        axes = (0,) + tuple(range(2, x.ndim))  # all but the channel axis
        bshape = (1, -1) + (1,) * (x.ndim - 2)  # per-channel values broadcast
        use_batch = self.training or not self.track_running_stats
        if use_batch:
            n = x.size // x.shape[1]
            if self.training and n == 0:  # an empty batch: torch returns it as is
                if self.track_running_stats:
                    self.num_batches_tracked = np.array(self.num_batches_tracked + 1)
                self.saved = (x, None, axes, False, bshape)
                return x.copy()
            if self.training and n <= 1:
                raise ValueError(f"{type(self).__name__}: expected more than 1 value "
                                 f"per channel when training, got input of shape "
                                 f"{x.shape}")
            x_hat, inv_std, mean, var = _normalize(x, axes, self.eps)
            if self.training and self.track_running_stats:
                self._update_running(mean.reshape(-1), var.reshape(-1), n)
        else:
            mean = self.running_mean.reshape(bshape)
            inv_std = 1.0 / np.sqrt(self.running_var.reshape(bshape) + self.eps)
            x_hat = (x - mean) * inv_std
        self.saved = (x_hat, inv_std, axes, use_batch, bshape)
        return self._affine(x_hat, bshape)

    def _affine(self, x_hat, bshape):
        """gamma * x_hat + beta, per channel (as far as the layer has them)."""
        out = x_hat
        if self.weight is not None:
            out = out * self.weight.data.reshape(bshape)
        if self.bias is not None:
            out = out + self.bias.data.reshape(bshape)
        return out

    def _update_running(self, mean, var, n, count: bool = True):
        if count:  # torch's InstanceNorm keeps the buffer but never counts
            self.num_batches_tracked = np.array(self.num_batches_tracked + 1)
        if self.momentum is not None:
            factor = self.momentum
        elif count:  # a cumulative average over all batches so far
            factor = 1.0 / float(self.num_batches_tracked)
        else:  # torch's InstanceNorm turns momentum=None into 0: stats stay put
            factor = 0.0
        # the running variance is the unbiased one, n / (n - 1) times the batch's
        unbiased = var * (n / (n - 1))
        dtype = self.running_mean.dtype
        new_mean = (1 - factor) * self.running_mean + factor * mean
        new_var = (1 - factor) * self.running_var + factor * unbiased
        self.running_mean = new_mean.astype(dtype)
        self.running_var = new_var.astype(dtype)

    def backward(self, grad_output):
        x_hat, inv_std, axes, use_batch, bshape = self.saved
        if inv_std is None:  # the empty batch
            return np.zeros_like(grad_output)
        g_hat = grad_output
        if self.affine:
            self.weight.grad += (grad_output * x_hat).sum(axis=axes)
            if self.bias is not None:
                self.bias.grad += grad_output.sum(axis=axes)
            g_hat = grad_output * self.weight.data.reshape(bshape)
        if not use_batch:  # running statistics are constants
            return g_hat * inv_std
        return _normalize_backward(g_hat, x_hat, inv_std, axes)

    def extra_repr(self):
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, "
                f"affine={self.affine}, track_running_stats={self.track_running_stats}")


class BatchNorm1d(_BatchNorm):
    """Batch normalization of (N, C) or (N, C, L), statistics per channel."""

    _expected_ndims = (2, 3)
    _layout = "(N, {C}) or (N, {C}, L)"


class BatchNorm2d(_BatchNorm):
    """Batch normalization of (N, C, H, W), statistics per channel."""

    _expected_ndims = (4,)
    _layout = "(N, {C}, H, W)"


class _InstanceNorm(_BatchNorm):
    """Per-sample, per-channel statistics over the spatial axes.

    torch's defaults differ from BatchNorm's: affine=False and
    track_running_stats=False. With running statistics, the batch's instance
    statistics are averaged over N before the momentum update, as in torch.
    """

    def __init__(self, num_features: int, eps: float = 1e-5, momentum=0.1,
                 affine: bool = False, track_running_stats: bool = False, *,
                 bias: bool = True, dtype=np.float32):
        super().__init__(num_features, eps, momentum, affine, track_running_stats,
                         bias=bias, dtype=dtype)

    def forward(self, x):
        self._unbatched = x.ndim == len(self._spatial) + 1
        if self._unbatched:
            x = x[None]
        self._check(x)
        axes = tuple(range(2, x.ndim))  # spatial axes only
        bshape = (1, -1) + (1,) * (x.ndim - 2)
        use_batch = self.training or not self.track_running_stats
        if use_batch:
            n = int(np.prod(x.shape[2:]))
            if self.training and n <= 1:
                raise ValueError(f"{type(self).__name__}: expected more than 1 spatial "
                                 f"element per channel, got input of shape {x.shape}")
            x_hat, inv_std, mean, var = _normalize(x, axes, self.eps)
            if self.training and self.track_running_stats:
                self._update_running(mean.mean(axis=0).reshape(-1),
                                     var.mean(axis=0).reshape(-1), n, count=False)
        else:
            mean = self.running_mean.reshape(bshape)
            inv_std = 1.0 / np.sqrt(self.running_var.reshape(bshape) + self.eps)
            x_hat = (x - mean) * inv_std
        self.saved = (x_hat, inv_std, axes, use_batch, bshape)
        out = self._affine(x_hat, bshape)
        return out[0] if self._unbatched else out

    def backward(self, grad_output):
        x_hat, inv_std, axes, use_batch, bshape = self.saved
        g = grad_output[None] if self._unbatched else grad_output
        g_hat = g
        if self.affine:
            self.weight.grad += (g * x_hat).sum(axis=(0,) + axes)
            if self.bias is not None:
                self.bias.grad += g.sum(axis=(0,) + axes)
            g_hat = g * self.weight.data.reshape(bshape)
        dx = g_hat * inv_std if not use_batch else \
            _normalize_backward(g_hat, x_hat, inv_std, axes)
        return dx[0] if self._unbatched else dx


class InstanceNorm1d(_InstanceNorm):
    _expected_ndims = (3,)
    _layout = "(N, {C}, L) or ({C}, L)"
    _spatial = ("L",)


class InstanceNorm2d(_InstanceNorm):
    _expected_ndims = (4,)
    _layout = "(N, {C}, H, W) or ({C}, H, W)"
    _spatial = ("H", "W")


class LayerNorm(Module):
    """Normalizes each sample over its last ``len(normalized_shape)`` dims.

    ``x (*, *normalized_shape)`` -> same shape; weight and bias have
    ``normalized_shape`` and are applied element-wise (not per channel).
    """

    _int_input = "refuse"

    def __init__(self, normalized_shape, eps: float = 1e-5,
                 elementwise_affine: bool = True, bias: bool = True, *,
                 dtype=np.float32):
        super().__init__()
        if isinstance(normalized_shape, int):
            normalized_shape = (normalized_shape,)
        self.normalized_shape = tuple(normalized_shape)
        self.eps = eps
        self.elementwise_affine = elementwise_affine
        if elementwise_affine:
            self.weight = Parameter(np.ones(self.normalized_shape, dtype=dtype))
            self.bias = (Parameter(np.zeros(self.normalized_shape, dtype=dtype))
                         if bias else None)
        else:
            self.weight = self.bias = None

    def forward(self, x):
        k = len(self.normalized_shape)
        if x.shape[x.ndim - k:] != self.normalized_shape or x.ndim < k:
            raise ValueError(f"{self!r}: expected input of shape (*, "
                             f"{', '.join(map(str, self.normalized_shape))}), got "
                             f"shape {x.shape}")
        axes = tuple(range(x.ndim - k, x.ndim))
        x_hat, inv_std, _, _ = _normalize(x, axes, self.eps)
        self.saved = (x_hat, inv_std, axes)
        out = x_hat
        if self.weight is not None:
            out = out * self.weight.data
        if self.bias is not None:
            out = out + self.bias.data
        return out

    def backward(self, grad_output):
        x_hat, inv_std, axes = self.saved
        lead = tuple(range(grad_output.ndim - len(axes)))  # batch-like axes
        g_hat = grad_output
        if self.weight is not None:
            self.weight.grad += (grad_output * x_hat).sum(axis=lead)
            g_hat = grad_output * self.weight.data
        if self.bias is not None:
            self.bias.grad += grad_output.sum(axis=lead)
        return _normalize_backward(g_hat, x_hat, inv_std, axes)

    def extra_repr(self):
        return (f"{self.normalized_shape}, eps={self.eps}, "
                f"elementwise_affine={self.elementwise_affine}")


class RMSNorm(Module):
    """x / sqrt(mean(x^2) + eps) * weight over the last ``len(normalized_shape)``
    dims (Zhang & Sennrich, 2019): LayerNorm without the mean and the bias.

    ``eps=None`` uses the machine epsilon of the input's dtype, as torch.
    Backward, with x_hat = x r and r = 1 / rms: dx = r (g_hat - x_hat
    mean(g_hat x_hat)), g_hat = g * weight.
    """

    _int_input = "refuse"

    def __init__(self, normalized_shape, eps: float | None = None,
                 elementwise_affine: bool = True, *, dtype=np.float32):
        super().__init__()
        if isinstance(normalized_shape, int):
            normalized_shape = (normalized_shape,)
        self.normalized_shape = tuple(normalized_shape)
        self.eps = eps
        self.elementwise_affine = elementwise_affine
        self.weight = (Parameter(np.ones(self.normalized_shape, dtype=dtype))
                       if elementwise_affine else None)

    def forward(self, x):
        k = len(self.normalized_shape)
        if x.ndim < k or x.shape[x.ndim - k:] != self.normalized_shape:
            raise ValueError(f"{self!r}: expected input of shape (*, "
                             f"{', '.join(map(str, self.normalized_shape))}), got "
                             f"shape {x.shape}")
        axes = tuple(range(x.ndim - k, x.ndim))
        eps = np.finfo(x.dtype).eps if self.eps is None else self.eps
        r = 1.0 / np.sqrt(np.mean(x * x, axis=axes, keepdims=True) + eps)
        x_hat = x * r
        self.x_hat, self.r, self.axes = x_hat, r, axes
        return x_hat if self.weight is None else x_hat * self.weight.data

    def backward(self, grad_output):
        x_hat, r, axes = self.x_hat, self.r, self.axes
        g_hat = grad_output
        if self.weight is not None:
            lead = tuple(range(grad_output.ndim - len(axes)))
            self.weight.grad += (grad_output * x_hat).sum(axis=lead)
            g_hat = grad_output * self.weight.data
        return r * (g_hat - x_hat * np.mean(g_hat * x_hat, axis=axes, keepdims=True))

    def extra_repr(self):
        return (f"{self.normalized_shape}, eps={self.eps}, "
                f"elementwise_affine={self.elementwise_affine}")


class GroupNorm(Module):
    """Splits C channels into ``num_groups`` groups; normalizes each sample's group
    over its channels and positions. ``x (N, C, *)`` -> same shape; weight and
    bias (C,)."""

    _int_input = "refuse"

    def __init__(self, num_groups: int, num_channels: int, eps: float = 1e-5,
                 affine: bool = True, *, bias: bool = True, dtype=np.float32):
        super().__init__()
        if num_channels % num_groups:
            raise ValueError(f"GroupNorm: num_channels ({num_channels}) must be "
                             f"divisible by num_groups ({num_groups})")
        self.num_groups, self.num_channels = num_groups, num_channels
        self.eps, self.affine = eps, affine
        if affine:  # bias=False: a scale without a shift, as torch's
            self.weight = Parameter(np.ones(num_channels, dtype=dtype))
            self.bias = Parameter(np.zeros(num_channels, dtype=dtype)) if bias else None
        else:
            self.weight = self.bias = None

    def forward(self, x):
        if x.ndim < 2 or x.shape[1] != self.num_channels:
            raise ValueError(f"{self!r}: expected input of shape (N, "
                             f"{self.num_channels}, *), got shape {x.shape}")
        N, G = x.shape[0], self.num_groups
        if x.size == 0:  # an empty batch: torch returns it as is
            self.saved = (x, None)
            return x.copy()
        xg = x.reshape(N, G, -1)  # (N, G, C/G * spatial)
        x_hat, inv_std, _, _ = _normalize(xg, (2,), self.eps)
        x_hat = x_hat.reshape(x.shape)  # back to (N, C, *)
        self.saved = (x_hat, inv_std)
        if not self.affine:
            return x_hat
        bshape = (1, -1) + (1,) * (x.ndim - 2)
        out = x_hat * self.weight.data.reshape(bshape)
        return out if self.bias is None else out + self.bias.data.reshape(bshape)

    def backward(self, grad_output):
        x_hat, inv_std = self.saved
        if inv_std is None:  # the empty batch
            return np.zeros_like(grad_output)
        g_hat = grad_output
        if self.affine:
            axes = (0,) + tuple(range(2, grad_output.ndim))
            bshape = (1, -1) + (1,) * (grad_output.ndim - 2)
            self.weight.grad += (grad_output * x_hat).sum(axis=axes)
            if self.bias is not None:
                self.bias.grad += grad_output.sum(axis=axes)
            g_hat = grad_output * self.weight.data.reshape(bshape)
        N, G = grad_output.shape[0], self.num_groups
        dx = _normalize_backward(g_hat.reshape(N, G, -1), x_hat.reshape(N, G, -1),
                                 inv_std, (2,))
        return dx.reshape(grad_output.shape)

    def extra_repr(self):
        return (f"{self.num_groups}, {self.num_channels}, eps={self.eps}, "
                f"affine={self.affine}")
