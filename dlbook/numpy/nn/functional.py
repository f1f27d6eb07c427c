"""Stateless functions: activations, numerically stable softmax family, losses.

Each function computes a forward value only; the layers in ``activation.py`` and
``loss.py`` pair them with hand-written backward passes. Names and arguments are
those of ``torch.nn.functional``; ``dim`` counts axes as torch does.

The stable tricks, once: ``softmax`` subtracts the row maximum before ``exp``
(the result is unchanged, nothing overflows); ``log_softmax`` is ``x - logsumexp``
(never ``log(softmax)``, which gives ``log(0) = -inf`` for very negative logits);
``sigmoid`` evaluates ``exp`` only of non-positive numbers.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.special import erf as _erf

__all__ = [
    "relu", "leaky_relu", "elu", "gelu", "silu", "sigmoid", "tanh", "softplus",
    "softmax", "log_softmax", "logsumexp", "one_hot",
    "mse_loss", "l1_loss", "nll_loss", "cross_entropy",
    "binary_cross_entropy", "binary_cross_entropy_with_logits",
]


# ---- activations --------------------------------------------------------------
def relu(x: np.ndarray) -> np.ndarray:
    """``max(x, 0)`` elementwise."""
    return np.maximum(x, 0)


def leaky_relu(x: np.ndarray, negative_slope: float = 0.01) -> np.ndarray:
    """``x`` where positive, ``negative_slope * x`` elsewhere."""
    return np.where(x > 0, x, x * negative_slope)


def elu(x: np.ndarray, alpha: float = 1.0) -> np.ndarray:
    """ELU: ``x`` where positive, ``alpha * (exp(x) - 1)`` elsewhere."""
    # expm1 is accurate near 0, and min(x, 0) keeps exp from overflowing
    return np.where(x > 0, x, alpha * np.expm1(np.minimum(x, 0)))


def gelu(x: np.ndarray, approximate: str = "none") -> np.ndarray:
    """x * Phi(x) (Hendrycks & Gimpel, 2016); ``approximate='tanh'`` is their
    tanh formula, used by GPT-2."""
    if approximate == "none":
        # Python-float constants keep float32 inputs float32 (NumPy 2 promotion);
        # scipy's erf has no float16 loop, so float16 is computed in float32 and
        # returned as float16, as torch returns it
        out = 0.5 * x * (1.0 + _erf(x / math.sqrt(2.0)))
        return out.astype(x.dtype, copy=False) if x.dtype == np.float16 else out
    if approximate == "tanh":
        k = math.sqrt(2.0 / math.pi)
        return 0.5 * x * (1.0 + np.tanh(k * (x + 0.044715 * x**3)))
    raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")


def sigmoid(x: np.ndarray) -> np.ndarray:
    """1 / (1 + exp(-x)) without overflow: exp only ever sees ``-|x|``."""
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def silu(x: np.ndarray) -> np.ndarray:
    """SiLU (swish): ``x * sigmoid(x)``."""
    return x * sigmoid(x)


def tanh(x: np.ndarray) -> np.ndarray:
    """Hyperbolic tangent elementwise."""
    return np.tanh(x)


def softplus(x: np.ndarray) -> np.ndarray:
    """``log(1 + exp(x)) = max(x, 0) + log1p(exp(-|x|))``, stable for any x."""
    return np.maximum(x, 0) + np.log1p(np.exp(-np.abs(x)))


# ---- softmax family -----------------------------------------------------------
def logsumexp(x: np.ndarray, dim=-1, keepdim: bool = False) -> np.ndarray:
    """log(sum(exp(x))) along ``dim``, shifted by the maximum so exp cannot
    overflow; rows that are all -inf give -inf (not nan), as in torch."""
    m = np.max(x, axis=dim, keepdims=True)
    m = np.where(np.isfinite(m), m, 0)  # an all -inf row: shift by 0, not -inf
    with np.errstate(divide="ignore"):  # log(0) = -inf is the right answer there
        out = np.log(np.sum(np.exp(x - m), axis=dim, keepdims=True)) + m
    return out if keepdim else np.squeeze(out, axis=dim)


def softmax(x: np.ndarray, dim: int = -1) -> np.ndarray:
    """Exponentials normalised to sum to one along ``dim`` (the maximum is
    subtracted first, which changes nothing but keeps ``exp`` from overflowing)."""
    if x.ndim == 0:  # one number: all the probability
        return np.ones_like(x, dtype=np.result_type(x, np.float32))
    if x.shape[dim] == 0:  # nothing to normalise over (attention with no keys)
        return np.exp(x)
    e = np.exp(x - np.max(x, axis=dim, keepdims=True))
    return e / np.sum(e, axis=dim, keepdims=True)


def log_softmax(x: np.ndarray, dim: int = -1) -> np.ndarray:
    """``log(softmax(x))`` computed as ``x - logsumexp(x)``, stable for large logits.

    Shifted by the maximum first, as torch computes it, so a row holding +inf is
    nan throughout (``logsumexp`` alone says inf there, which would give -inf
    for the finite entries); a row that is all -inf is nan, as in torch.
    """
    m = np.max(x, axis=dim, keepdims=True) if x.ndim else x
    m = np.where(np.isneginf(m), 0, m)  # an all -inf row: shift by 0, not -inf
    with np.errstate(invalid="ignore", divide="ignore"):
        shifted = x - m  # +inf - +inf = nan, as in torch
        return shifted - np.log(np.sum(np.exp(shifted), axis=dim, keepdims=True))


def one_hot(y: np.ndarray, num_classes: int, dtype=np.float64) -> np.ndarray:
    """``(*)`` integer labels -> ``(*, num_classes)`` one-hot array."""
    y = np.asarray(y)
    _check_classes("one_hot", y, num_classes)
    out = np.zeros(y.shape + (num_classes,), dtype=dtype)
    np.put_along_axis(out, y[..., None], 1, axis=-1)
    return out


# ---- losses (forward values) --------------------------------------------------
def _reduce(loss: np.ndarray, reduction: str, name: str):
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    if reduction == "none":
        return loss
    raise ValueError(f"{name}: reduction must be 'mean', 'sum' or 'none', "
                     f"got {reduction!r}")


def _check_same_shape(name: str, input: np.ndarray, target: np.ndarray) -> None:
    if np.shape(input) != np.shape(target):
        raise ValueError(
            f"{name}: input and target must have the same shape, got input "
            f"{np.shape(input)} and target {np.shape(target)}"
        )


def mse_loss(input, target, reduction: str = "mean"):
    """Mean (or sum, or per-element) squared error, as torch's ``mse_loss``."""
    _check_same_shape("mse_loss", input, target)
    return _reduce((input - target) ** 2, reduction, "mse_loss")


def l1_loss(input, target, reduction: str = "mean"):
    """Mean (or sum, or per-element) absolute error, as torch's ``l1_loss``."""
    _check_same_shape("l1_loss", input, target)
    return _reduce(np.abs(input - target), reduction, "l1_loss")


def _check_classes(name: str, target: np.ndarray, num_classes: int,
                   ignore_index: int | None = None) -> None:
    """Raise IndexError naming the valid range and the first bad label."""
    if not np.issubdtype(target.dtype, np.integer):
        raise TypeError(f"{name}: class labels must be integers, got dtype "
                        f"{target.dtype}")
    bad = (target < 0) | (target >= num_classes)
    if ignore_index is not None:
        bad &= target != ignore_index
    if bad.any():
        value = int(target[bad].flat[0])
        raise IndexError(
            f"{name}: class labels must lie in [0, {num_classes - 1}] "
            f"(num_classes={num_classes}), got {value}"
        )


def _class_layout(name: str, input: np.ndarray, target: np.ndarray):
    """Move the class axis last: (N, C, d1..) -> (N, d1.., C); (C,) -> (1, C).

    Returns the moved input, the target with matching leading shape, and C.
    """
    if input.ndim == 1:  # a single sample: (C,) with a 0-d target
        if np.ndim(target) != 0:
            raise ValueError(f"{name}: input of shape {input.shape} needs a 0-d "
                             f"target, got shape {np.shape(target)}")
        return input[None, :], np.asarray(target).reshape(1), input.shape[0]
    expected = (input.shape[0],) + input.shape[2:]
    if np.shape(target) != expected:
        raise ValueError(
            f"{name}: input of shape {input.shape} (N, C, ...) needs class labels of "
            f"shape {expected}, got {np.shape(target)}"
        )
    return np.moveaxis(input, 1, -1), np.asarray(target), input.shape[1]


def _cross_entropy_parts(input, target, weight, ignore_index, label_smoothing,
                         name="cross_entropy"):
    """Shared by the value and the gradient of cross-entropy.

    Returns (z, y, w_y, keep, logp, C, w) with z (M, C) the logits with classes
    last, y (M,) labels (ignored ones replaced by 0), w_y (M,) the weight of each
    sample's label (0 where ignored), keep (M,) bool.
    """
    z, y, C = _class_layout(name, np.asarray(input), target)
    _check_classes(name, y, C, ignore_index)
    lead = y.shape
    z = z.reshape(-1, C)  # (M, C)
    y = y.reshape(-1)  # (M,)
    keep = y != ignore_index
    y = np.where(keep, y, 0)
    w = (np.ones(C, dtype=z.dtype) if weight is None
         else np.asarray(weight, dtype=z.dtype))
    if w.shape != (C,):
        raise ValueError(f"{name}: weight must have shape ({C},), got {w.shape}")
    w_y = w[y] * keep
    logp = log_softmax(z, dim=-1)
    return z, y, w_y, keep, logp, C, w, lead


def cross_entropy(input, target, weight=None, ignore_index: int = -100,
                  reduction: str = "mean", label_smoothing: float = 0.0):
    """Cross-entropy of logits ``input`` (N, C, ...) or (C,).

    ``target`` is either class indices (N, ...) or, as in torch, class
    probabilities of the input's shape (float). With label smoothing eps the
    target becomes (1 - eps) target + eps / C; with class indices, ``weight`` and
    ``reduction='mean'``, the loss is divided by the summed weight of the
    (non-ignored) labels, exactly as torch does; with probabilities, by the
    number of samples.
    """
    target = np.asarray(target)
    if np.issubdtype(target.dtype, np.floating):
        return _soft_cross_entropy(input, target, weight, reduction, label_smoothing)[0]
    parts = _cross_entropy_parts(input, target, weight, ignore_index, label_smoothing)
    return _cross_entropy_value(parts, np.ndim(input), reduction, label_smoothing)


def _cross_entropy_value(parts, input_ndim, reduction, label_smoothing):
    z, y, w_y, keep, logp, C, w, lead = parts
    nll = -np.take_along_axis(logp, y[:, None], axis=1)[:, 0] * w_y  # (M,)
    loss = nll
    if label_smoothing > 0:
        smooth = -(logp * w).sum(axis=1) * keep  # (M,)
        loss = (1 - label_smoothing) * nll + label_smoothing / C * smooth
    if reduction == "mean":
        return loss.sum() / w_y.sum()
    if reduction == "none" and input_ndim == 1:
        return loss.reshape(())
    return _reduce(loss.reshape(lead), reduction, "cross_entropy")


def _soft_cross_entropy(input, target, weight, reduction, label_smoothing,
                        name="cross_entropy"):
    """Cross-entropy against class probabilities of the input's shape.

    Returns the loss and (logp, q, lead) for the gradient, with logp (M, C) the
    log-probabilities and q (M, C) the weighted (smoothed) targets.
    """
    x = np.asarray(input)
    if target.shape != x.shape:
        raise ValueError(f"{name}: class-probability targets must have the input's "
                         f"shape {x.shape}, got {target.shape}")
    if x.ndim == 1:
        z, t, lead = x[None], target[None], ()
    else:
        z, t = np.moveaxis(x, 1, -1), np.moveaxis(target, 1, -1)  # classes last
        lead = z.shape[:-1]
    C = z.shape[-1]
    z, t = z.reshape(-1, C), t.reshape(-1, C)  # (M, C)
    if label_smoothing > 0:
        t = t * (1 - label_smoothing) + label_smoothing / C
    q = t if weight is None else t * np.asarray(weight, dtype=z.dtype)
    logp = log_softmax(z, dim=-1)
    loss = -(q * logp).sum(axis=1)  # (M,)
    if reduction == "none":
        loss = loss.reshape(lead)
    else:
        loss = _reduce(loss, reduction, name)
    return loss, (logp, q, lead)


def nll_loss(input, target, weight=None, ignore_index: int = -100,
             reduction: str = "mean"):
    """Negative log-likelihood of log-probabilities ``input`` (N, C, ...)."""
    z, y, C = _class_layout("nll_loss", np.asarray(input), target)
    _check_classes("nll_loss", y, C, ignore_index)
    lead = () if np.ndim(input) == 1 else y.shape  # one sample (C,): a 0-d loss
    z, y = z.reshape(-1, C), y.reshape(-1)
    keep = y != ignore_index
    y = np.where(keep, y, 0)
    w = (np.ones(C, dtype=z.dtype) if weight is None
         else np.asarray(weight, dtype=z.dtype))
    w_y = w[y] * keep
    loss = -np.take_along_axis(z, y[:, None], axis=1)[:, 0] * w_y
    if reduction == "mean":
        return loss.sum() / w_y.sum()
    return _reduce(loss.reshape(lead), reduction, "nll_loss")


def binary_cross_entropy(input, target, weight=None, reduction: str = "mean"):
    """-(y log p + (1 - y) log(1 - p)); each log is clamped at -100 as in torch,
    so p = 0 or 1 gives a large finite loss instead of inf."""
    _check_same_shape("binary_cross_entropy", input, target)
    if np.any((input < 0) | (input > 1)):
        raise ValueError("binary_cross_entropy: input must be probabilities in [0, 1]; "
                         "for logits use binary_cross_entropy_with_logits")
    with np.errstate(divide="ignore"):
        log_p = np.maximum(np.log(input), -100)
        log_1mp = np.maximum(np.log1p(-input), -100)
    loss = -(target * log_p + (1 - target) * log_1mp)
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, reduction, "binary_cross_entropy")


def binary_cross_entropy_with_logits(input, target, weight=None, reduction="mean",
                                     pos_weight=None):
    """BCE on logits x: (1 - y) x + (1 + (pw - 1) y) softplus(-x), stable for any x."""
    _check_same_shape("binary_cross_entropy_with_logits", input, target)
    if pos_weight is None:
        loss = (1 - target) * input + softplus(-input)
    else:
        loss = (1 - target) * input + (1 + (pos_weight - 1) * target) * softplus(-input)
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, reduction, "binary_cross_entropy_with_logits")
