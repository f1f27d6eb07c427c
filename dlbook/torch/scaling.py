"""Scaling laws: power-law fits of loss against size or data, and training compute.

The test loss of a language model falls as a power law in the number of
parameters N and the number of training tokens D (Kaplan et al. 2020), down
to a floor that no model removes (Hoffmann et al. 2022):

    L(N) = E + A / N**alpha.

``fit_power_law`` fits the three numbers by least squares on the logarithm
of the loss; with ``irreducible=False`` it fits the plain power law
L = A / N**alpha, a straight line in log-log axes. ``train_flops`` is the usual
count of training compute, C = 6 N D, and ``compute_optimal`` splits a compute
budget between N and D at a fixed ratio of tokens per parameter (about 20 for
Chinchilla).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

__all__ = ["PowerLaw", "fit_power_law", "train_flops", "compute_optimal"]

#: Tokens per parameter of a compute-optimal model (Hoffmann et al. 2022,
#: rounded): Chinchilla has 70e9 parameters and was trained on 1.4e12 tokens.
CHINCHILLA_TOKENS_PER_PARAM = 20.0


@dataclass(frozen=True)
class PowerLaw:
    """``L(x) = irreducible + coefficient / x**exponent``; call it on x."""

    exponent: float  # alpha
    coefficient: float  # A
    irreducible: float  # E, the loss an infinitely large x would leave

    def __call__(self, x):
        """The fitted loss at ``x`` (a number or an array of positive numbers)."""
        x = np.asarray(x, dtype=np.float64)
        return self.irreducible + self.coefficient * x ** -self.exponent

    def __repr__(self):
        return (f"PowerLaw(L = {self.irreducible:.4g} + {self.coefficient:.4g} / "
                f"x^{self.exponent:.4g})")


def _as_positive(name: str, values, caller: str) -> np.ndarray:
    arr = np.asarray(values, dtype=np.float64)
    if arr.ndim != 1:
        raise ValueError(f"{caller}: {name} must be one-dimensional, got shape "
                         f"{arr.shape}")
    bad = np.flatnonzero(~np.isfinite(arr) | (arr <= 0))
    if bad.size:
        raise ValueError(f"{caller}: every {name} must be positive and finite (a "
                         f"power law lives in log space), got {arr[bad[0]]!r} at "
                         f"index {bad[0]}")
    return arr


def fit_power_law(x, loss, irreducible: bool = True) -> PowerLaw:
    """Fit ``loss = E + A / x**alpha`` by least squares in log space.

    The fit minimises ``sum_i (log loss_i - log(E + A x_i**-alpha))**2``: each
    point counts by its *relative* error, so points a decade apart weigh alike,
    as they look on a log-log plot. With E fixed the best A and alpha are a
    straight-line fit of ``log(loss - E)`` on ``log x``; that profile, scanned
    over E in ``[0, min(loss))``, gives the starting point, and a bounded
    least-squares solver then refines all three numbers together. With
    ``irreducible=False``, E is 0 and the fit is the straight line itself.

    Args:
        x: sizes (parameters, tokens or FLOPs), shape ``(n,)``, all positive.
        loss: the loss at each size, shape ``(n,)``, all positive.
        irreducible: fit the floor E (three parameters, at least 3 points) or
            set it to 0 (two parameters, at least 2 points).

    Returns:
        A :class:`PowerLaw` with ``exponent`` alpha, ``coefficient`` A and
        ``irreducible`` E.

    Raises:
        ValueError: on non-positive or non-finite values, mismatched lengths,
            fewer points than parameters, or fewer than two distinct x.
    """
    caller = "fit_power_law"
    x = _as_positive("x", x, caller)
    loss = _as_positive("loss", loss, caller)
    if x.shape != loss.shape:
        raise ValueError(f"{caller}: x and loss must have the same length, got "
                         f"{len(x)} and {len(loss)}")
    n_params = 3 if irreducible else 2
    if len(x) < n_params:
        law = "E + A / x**alpha" if irreducible else "A / x**alpha"
        raise ValueError(f"{caller}: {law} has {n_params} parameters and needs at "
                         f"least {n_params} points, got {len(x)}")
    if np.unique(x).size < 2:
        raise ValueError(f"{caller}: needs at least two distinct x, got only "
                         f"{x[0]!r}")
    lx, ly = np.log(x), np.log(loss)

    def line(E):
        # the straight line through (log x, log(loss - E)): slope -alpha
        slope, intercept = np.polyfit(lx, np.log(loss - E), 1)
        return -slope, intercept  # alpha, log A

    def residuals(p):  # p = (alpha, log A, E)
        return np.log(p[2] + np.exp(p[1] - p[0] * lx)) - ly

    if not irreducible:
        alpha, log_a = line(0.0)
        return PowerLaw(float(alpha), float(math.exp(log_a)), 0.0)

    from scipy.optimize import least_squares

    top = loss.min()
    grid = top * (1.0 - np.logspace(-4, 0, 200))  # E from just below min(loss) to 0
    starts = [(*line(E), E) for E in grid]
    start = min(starts, key=lambda p: float(np.sum(residuals(p) ** 2)))
    fit = least_squares(residuals, start, bounds=([-np.inf, -np.inf, 0.0],
                                                  [np.inf, np.inf, top]),
                        xtol=1e-15, ftol=1e-15, gtol=1e-15, max_nfev=10_000)
    alpha, log_a, E = fit.x
    return PowerLaw(float(alpha), float(math.exp(log_a)), float(E))


def train_flops(n_params, n_tokens):
    """Training compute C = 6 N D FLOPs (Kaplan et al. 2020, section 2.1).

    Each parameter takes part in one multiply-add per token in the forward
    pass (2 FLOPs) and two in the backward pass (the gradient of the input and
    of the weight, 4 FLOPs). Attention over the context and the embedding
    lookups are left out; Kaplan et al. count N without the embeddings.

    Args:
        n_params: parameters N (a number or an array), positive.
        n_tokens: training tokens D (a number or an array), positive.

    Returns:
        ``6 * n_params * n_tokens``, a float or an array.
    """
    n = np.asarray(n_params, dtype=np.float64)
    d = np.asarray(n_tokens, dtype=np.float64)
    for name, v in (("n_params", n), ("n_tokens", d)):
        if not (np.all(np.isfinite(v)) and np.all(v > 0)):
            raise ValueError(f"train_flops: {name} must be positive, got {v!r}")
    out = 6.0 * n * d
    return float(out) if out.ndim == 0 else out


def compute_optimal(flops, tokens_per_param: float = CHINCHILLA_TOKENS_PER_PARAM):
    """Split a compute budget C = 6 N D at D = r N: ``N = sqrt(C / 6r)``.

    Hoffmann et al. (2022) found that N and D should grow alike, each as
    C**0.5, at about r = 20 tokens per parameter.

    Args:
        flops: the training compute C in FLOPs, positive.
        tokens_per_param: r, the ratio D / N.

    Returns:
        ``(n_params, n_tokens)``, floats with ``6 * n_params * n_tokens == flops``.
    """
    if not (math.isfinite(flops) and flops > 0):
        raise ValueError(f"compute_optimal: flops must be positive, got {flops!r}")
    if not (math.isfinite(tokens_per_param) and tokens_per_param > 0):
        raise ValueError(f"compute_optimal: tokens_per_param must be positive, got "
                         f"{tokens_per_param!r}")
    n = math.sqrt(flops / (6.0 * tokens_per_param))
    return n, tokens_per_param * n
