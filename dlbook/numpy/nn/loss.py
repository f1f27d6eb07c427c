"""Loss layers: ``loss = criterion(input, target)``, then ``criterion.backward()``.

A call returns the loss (a 0-d value for 'mean'/'sum', an array for 'none') and
stores what the gradient needs; ``backward(grad_output=1.0)`` returns dL/d input.
Targets get no gradient (they are data). Formulas are torch's, including its
corner cases (BCE's log clamp at -100, cross-entropy's weighted mean).
"""

from __future__ import annotations

import numpy as np

from . import functional as F
from .module import Module

__all__ = ["MSELoss", "L1Loss", "CrossEntropyLoss", "cross_entropy_naive", "NLLLoss",
           "BCELoss", "BCEWithLogitsLoss", "SmoothL1Loss", "HuberLoss", "KLDivLoss"]


class _Loss(Module):
    _int_input = "keep"

    def __init__(self, reduction: str = "mean"):
        super().__init__()
        if reduction not in ("mean", "sum", "none"):
            raise ValueError(f"{type(self).__name__}: reduction must be 'mean', 'sum' "
                             f"or 'none', got {reduction!r}")
        self.reduction = reduction

    def __call__(self, input, target, *args, **kwargs):
        try:
            return super().__call__(input, target, *args, **kwargs)
        except (ValueError, TypeError, IndexError) as exc:
            name = type(self).__name__
            if name in str(exc):
                raise
            # the functional's message ("mse_loss: ..."), said by the layer
            raise type(exc)(f"{name}: {exc}") from exc

    def _upstream(self, grad_output, shape, n: int, dtype=None):
        """dL/d(per-element loss): an array of ``shape`` for reduction 'none',
        else a Python float (so float32 gradients stay float32); n = elements
        averaged by 'mean'."""
        g = np.asarray(1.0 if grad_output is None else grad_output)
        if self.reduction == "none":
            return np.broadcast_to(g.astype(dtype or g.dtype, copy=False), shape)
        if g.size != 1:
            raise ValueError(f"{type(self).__name__}.backward: reduction "
                             f"{self.reduction!r} gives a scalar, so grad_output must "
                             f"be a scalar, got shape {g.shape}")
        g = float(g.reshape(()))
        # an empty batch has an empty gradient (its mean loss is nan, as torch's)
        return g / max(n, 1) if self.reduction == "mean" else g

    def extra_repr(self):
        return f"reduction={self.reduction!r}"


class MSELoss(_Loss):
    """mean((input - target)^2); gradient 2 (input - target) / n."""

    def forward(self, input, target):
        loss = F.mse_loss(input, target, self.reduction)  # checks the shapes first
        self.diff = input - target
        return loss

    def backward(self, grad_output=None):
        d = self.diff
        return 2 * d * self._upstream(grad_output, d.shape, d.size, d.dtype)


class L1Loss(_Loss):
    """``mean(|input - target|)``; gradient ``sign(input - target) / n``.

    The gradient is 0 at a tie, as in torch.
    """

    def forward(self, input, target):
        loss = F.l1_loss(input, target, self.reduction)  # checks the shapes first
        self.diff = input - target
        return loss

    def backward(self, grad_output=None):
        d = self.diff
        return np.sign(d) * self._upstream(grad_output, d.shape, d.size, d.dtype)


def cross_entropy_naive(logits: np.ndarray, labels: np.ndarray):
    """The idea of ``CrossEntropyLoss``, written plainly: logits (N, C), labels
    (N,) -> (mean loss, dL/dlogits (N, C)). No weights, no ignore_index, no
    smoothing; a test checks that ``CrossEntropyLoss`` agrees with it."""
    N = logits.shape[0]
    p = F.softmax(logits, dim=1)  # (N, C)
    loss = -np.mean(np.log(p[np.arange(N), labels]))
    onehot = np.eye(logits.shape[1], dtype=p.dtype)[labels]  # (N, C)
    return loss, (p - onehot) / N


class CrossEntropyLoss(_Loss):
    """Softmax + negative log-likelihood on logits (N, C, ...) or (C,) and class
    indices (N, ...) or class probabilities (input's shape); ``weight`` (C,),
    ``ignore_index``, ``label_smoothing``.

    The gradient is (softmax(z) - onehot(y)) / N (see ``cross_entropy_naive``).
    Every option only changes the target distribution q that replaces onehot(y)
    and the divisor N: label smoothing mixes eps / C into q, ``weight`` scales
    q, an ignored label makes q zero, and the weighted mean divides by the
    summed weight of the kept labels instead of N. In general dL/dz = softmax *
    sum(q) - q, which is softmax - q when q sums to one.
    """

    _int_input = "refuse"

    def __init__(self, weight=None, ignore_index: int = -100, reduction="mean",
                 label_smoothing: float = 0.0):
        super().__init__(reduction)
        if not 0.0 <= label_smoothing <= 1.0:
            raise ValueError(f"CrossEntropyLoss: label_smoothing must be in [0, 1], "
                             f"got {label_smoothing}")
        # a buffer, as in torch: it is in state_dict and follows .double()
        self.register_buffer("weight", None if weight is None else np.asarray(weight))
        self.ignore_index = ignore_index
        self.label_smoothing = label_smoothing

    def forward(self, input, target):
        target = np.asarray(target)
        if np.issubdtype(target.dtype, np.floating):  # class probabilities
            loss, (logp, q, lead) = F._soft_cross_entropy(
                input, target, self.weight, self.reduction, self.label_smoothing,
                "CrossEntropyLoss")
            divisor = q.shape[0]  # 'mean' averages over samples
            keep = None
        else:
            parts = F._cross_entropy_parts(input, target, self.weight,
                                           self.ignore_index, self.label_smoothing,
                                           "CrossEntropyLoss")
            _, y, w_y, keep, logp, C, w, lead = parts
            eps = self.label_smoothing
            q = np.zeros_like(logp)  # (M, C): the target distribution
            np.put_along_axis(q, y[:, None], ((1 - eps) * w_y)[:, None], axis=1)
            if eps > 0:
                q += (eps / C) * keep[:, None] * w  # smoothing, not for ignored
            divisor = w_y.sum()  # torch's weighted mean
            loss = F._cross_entropy_value(parts, np.ndim(input), self.reduction, eps)
        self.saved = (np.exp(logp), q, divisor, lead, np.shape(input), keep)
        return loss

    def backward(self, grad_output=None):
        p, q, divisor, lead, in_shape, keep = self.saved  # p = softmax(z), (M, C)
        grad = p * q.sum(axis=1, keepdims=True) - q  # p - onehot in the plain case
        with np.errstate(divide="ignore", invalid="ignore"):  # a 0 divisor: as torch
            factor = self._per_sample(grad_output, lead, divisor, p.dtype)
        if keep is not None:  # ignored targets get exactly 0, even when every
            factor = np.where(keep, factor, 0)  # target is ignored (torch's rule)
        grad *= factor[:, None]
        return self._classes_back(grad, lead, in_shape)

    def _per_sample(self, grad_output, lead, divisor, dtype):
        """The factor of each per-sample loss, (M,): upstream / divisor."""
        if self.reduction == "none":
            g = np.asarray(1.0 if grad_output is None else grad_output, dtype=dtype)
            return np.broadcast_to(g, lead).reshape(-1)
        g = self._upstream(grad_output, (), 1)
        M = int(np.prod(lead))
        return np.full(M, g / divisor if self.reduction == "mean" else g, dtype=dtype)

    @staticmethod
    def _classes_back(grad, lead, in_shape):
        """(M, C) -> the input's layout (N, C, d1..) or (C,)."""
        if len(in_shape) == 1:
            return grad.reshape(in_shape)
        grad = grad.reshape(lead + (grad.shape[-1],))  # (N, d1.., C)
        return np.ascontiguousarray(np.moveaxis(grad, -1, 1))  # (N, C, d1..)

    def extra_repr(self):
        return (f"reduction={self.reduction!r}, ignore_index={self.ignore_index}, "
                f"label_smoothing={self.label_smoothing}")


class NLLLoss(_Loss):
    """Negative log-likelihood of log-probabilities (N, C, ...) (pair with
    ``LogSoftmax``); gradient -w_y at the label, 0 elsewhere."""

    _int_input = "refuse"

    def __init__(self, weight=None, ignore_index: int = -100, reduction="mean"):
        super().__init__(reduction)
        # a buffer, as in torch: it is in state_dict and follows .double()
        self.register_buffer("weight", None if weight is None else np.asarray(weight))
        self.ignore_index = ignore_index

    def forward(self, input, target):
        target = np.asarray(target)
        loss = F.nll_loss(input, target, self.weight, self.ignore_index, self.reduction)
        z, y, C = F._class_layout("NLLLoss", np.asarray(input), target)
        lead = y.shape
        y = y.reshape(-1)
        keep = y != self.ignore_index
        y = np.where(keep, y, 0)
        w = np.ones(C) if self.weight is None else self.weight
        self.saved = (y, (w[y] * keep).astype(np.asarray(input).dtype), C, lead,
                      np.shape(input), keep)
        return loss

    def backward(self, grad_output=None):
        y, w_y, C, lead, in_shape, keep = self.saved
        if self.reduction == "none":
            s = np.broadcast_to(np.asarray(1.0 if grad_output is None else grad_output),
                                lead).reshape(-1)
        else:
            s = np.broadcast_to(self._upstream(grad_output, (), 1), y.shape)
            if self.reduction == "mean":
                with np.errstate(divide="ignore", invalid="ignore"):
                    s = s / w_y.sum()  # every target ignored: 0/0, as torch
        grad = np.zeros((y.size, C), dtype=w_y.dtype)
        with np.errstate(invalid="ignore"):
            per_sample = np.where(keep, -w_y * s, 0)  # ignored targets: exactly 0
        np.put_along_axis(grad, y[:, None], per_sample[:, None], axis=1)
        if len(in_shape) == 1:
            return grad.reshape(in_shape)
        return np.ascontiguousarray(np.moveaxis(grad.reshape(lead + (C,)), -1, 1))


class BCELoss(_Loss):
    """Binary cross-entropy on probabilities; gradient (p - y) / (p (1 - p)), the
    denominator clamped at 1e-12 as in torch."""

    _int_input = "refuse"

    def __init__(self, weight=None, reduction: str = "mean"):
        super().__init__(reduction)
        # a buffer, as in torch: it is in state_dict and follows .double()
        self.register_buffer("weight", None if weight is None else np.asarray(weight))

    def forward(self, input, target):
        loss = F.binary_cross_entropy(input, target, self.weight, self.reduction)
        self.input, self.target = input, target
        return loss

    def backward(self, grad_output=None):
        p, y = self.input, self.target
        grad = (p - y) / np.maximum((1 - p) * p, 1e-12)
        if self.weight is not None:
            grad = grad * self.weight
        return grad * self._upstream(grad_output, p.shape, p.size, grad.dtype)


class BCEWithLogitsLoss(_Loss):
    """Sigmoid + binary cross-entropy in one stable step; gradient
    (1 - y) - (1 + (pw - 1) y) sigmoid(-x), which is sigmoid(x) - y without
    ``pos_weight``."""

    _int_input = "refuse"

    def __init__(self, weight=None, reduction: str = "mean", pos_weight=None):
        super().__init__(reduction)
        # a buffer, as in torch: it is in state_dict and follows .double()
        self.register_buffer("weight", None if weight is None else np.asarray(weight))
        self.register_buffer("pos_weight",
                             None if pos_weight is None else np.asarray(pos_weight))

    def forward(self, input, target):
        loss = F.binary_cross_entropy_with_logits(input, target, self.weight,
                                                  self.reduction, self.pos_weight)
        self.input, self.target = input, target
        return loss

    def backward(self, grad_output=None):
        x, y = self.input, self.target
        if self.pos_weight is None:
            grad = F.sigmoid(x) - y
        else:
            grad = (1 - y) - (1 + (self.pos_weight - 1) * y) * F.sigmoid(-x)
        if self.weight is not None:
            grad = grad * self.weight
        return grad * self._upstream(grad_output, x.shape, x.size, grad.dtype)


class SmoothL1Loss(_Loss):
    """Squared error below ``beta``, absolute error above (Girshick, 2015, Fast
    R-CNN): ``0.5 d^2 / beta if abs(d) < beta else abs(d) - 0.5 beta``, with
    d = input - target.
    Gradient: d / beta inside, sign(d) outside; beta = 0 is ``L1Loss``."""

    def __init__(self, reduction: str = "mean", beta: float = 1.0):
        super().__init__(reduction)
        if beta < 0:
            raise ValueError(f"SmoothL1Loss: beta must be >= 0, got {beta}")
        self.beta = beta

    def forward(self, input, target):
        F._check_same_shape("SmoothL1Loss", input, target)
        d = input - target
        self.diff = d
        a = np.abs(d)
        if self.beta == 0:
            return F._reduce(a, self.reduction, "SmoothL1Loss")
        loss = np.where(a < self.beta, 0.5 * d * d / self.beta,
                        a - 0.5 * self.beta)
        return F._reduce(loss, self.reduction, "SmoothL1Loss")

    def backward(self, grad_output=None):
        d = self.diff
        if self.beta == 0:
            local = np.sign(d)
        else:
            local = np.where(np.abs(d) < self.beta, d / self.beta, np.sign(d))
        return local * self._upstream(grad_output, d.shape, d.size, d.dtype)

    def extra_repr(self):
        return f"reduction={self.reduction!r}, beta={self.beta}"


class HuberLoss(_Loss):
    """``0.5 d^2 if abs(d) < delta else delta (abs(d) - 0.5 delta)`` (Huber, 1964):
    ``SmoothL1Loss`` times ``delta`` with beta = delta. Gradient: d inside,
    delta * sign(d) outside."""

    def __init__(self, reduction: str = "mean", delta: float = 1.0):
        super().__init__(reduction)
        if delta <= 0:
            raise ValueError(f"HuberLoss: delta must be > 0, got {delta}")
        self.delta = delta

    def forward(self, input, target):
        F._check_same_shape("HuberLoss", input, target)
        d = input - target
        self.diff = d
        a = np.abs(d)
        loss = np.where(a < self.delta, 0.5 * d * d,
                        self.delta * (a - 0.5 * self.delta))
        return F._reduce(loss, self.reduction, "HuberLoss")

    def backward(self, grad_output=None):
        d = self.diff
        local = np.clip(d, -self.delta, self.delta)  # d inside, +-delta outside
        return local * self._upstream(grad_output, d.shape, d.size, d.dtype)

    def extra_repr(self):
        return f"reduction={self.reduction!r}, delta={self.delta}"


class KLDivLoss(_Loss):
    """KL(target || model) with ``input`` the model's log-probabilities:
    target * (log target - input), 0 where target = 0 (torch's xlogy).

    ``log_target=True`` takes log-probabilities as target too. reduction
    'batchmean' (sum / N) is the true KL divergence per sample; 'mean' averages
    over every element, as torch (which warns that it is not the KL).
    Gradient with respect to input: -target (times the reduction's factor).
    """

    def __init__(self, reduction: str = "mean", log_target: bool = False):
        if reduction not in ("mean", "batchmean", "sum", "none"):
            raise ValueError(f"KLDivLoss: reduction must be 'mean', 'batchmean', "
                             f"'sum' or 'none', got {reduction!r}")
        super().__init__("sum" if reduction == "batchmean" else reduction)
        self.reduction = reduction
        self.log_target = log_target

    def forward(self, input, target):
        F._check_same_shape("KLDivLoss", input, target)
        if self.log_target:
            p = np.exp(target)
            loss = p * (target - input)
        else:
            p = np.asarray(target)
            # torch's xlogy: 0 where p = 0; nan for a negative p, as log(p) is
            with np.errstate(invalid="ignore"):
                plogp = np.where(p == 0, 0.0, p * np.log(np.where(p == 0, 1.0, p)))
            loss = plogp - p * input
        self.p, self.n_batch = p, (np.shape(input)[0] if np.ndim(input) else 1)
        if self.reduction == "batchmean":
            return loss.sum() / self.n_batch
        return F._reduce(loss, self.reduction, "KLDivLoss")

    def backward(self, grad_output=None):
        p = self.p
        if self.reduction == "batchmean":
            g = np.asarray(1.0 if grad_output is None else grad_output)
            return -p * (float(g) / self.n_batch)
        return -p * self._upstream(grad_output, p.shape, p.size, p.dtype)

    def extra_repr(self):
        return f"reduction={self.reduction!r}, log_target={self.log_target}"
