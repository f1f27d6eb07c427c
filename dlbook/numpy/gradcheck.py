"""Numerical gradient checking by central differences (CS231n style).

``gradcheck`` compares a hand-written backward with::

    df/dx_i ~ (f(x + eps e_i) - f(x - eps e_i)) / (2 eps),

where f = sum(G * out) for a fixed random upstream gradient G (a random
projection, so one check covers every output element). It reports, for each
input and parameter, the largest relative error::

    |analytic - numeric| / max(|analytic| + |numeric|, tiny)

next to the range it should fall in. In float64 with eps = 1e-6 a correct
backward gives about 1e-7 or less (less than 1e-4 where the function has kinks,
such as ReLU); above 1e-2 the gradient is almost certainly wrong.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = ["gradcheck", "numerical_gradient", "GradcheckResult", "GradcheckError"]


class GradcheckError(AssertionError):
    """A backward pass disagrees with finite differences."""


def numerical_gradient(f, x: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    """dF/dx of a scalar function ``f()`` of the array ``x``, perturbed in place."""
    grad = np.zeros_like(x, dtype=np.float64)
    it = np.nditer(x, flags=["multi_index"], op_flags=["readwrite"])
    for _ in it:
        i = it.multi_index
        old = x[i]
        x[i] = old + eps
        f_plus = f()
        x[i] = old - eps
        f_minus = f()
        x[i] = old  # restore before the next coordinate
        grad[i] = (f_plus - f_minus) / (2 * eps)
    return grad


def _verdict(rel: float) -> str:
    if rel < 1e-7:
        return "excellent"
    if rel < 1e-4:
        return "ok (fine if the function has kinks)"
    if rel < 1e-2:
        return "suspicious"
    return "WRONG"


@dataclass
class GradcheckResult:
    """Per-array errors; truthy when every array passes."""

    rows: list = field(default_factory=list)  # (name, max_abs, max_rel, passed)
    atol: float = 0.0
    rtol: float = 0.0

    @property
    def passed(self) -> bool:
        return all(r[3] for r in self.rows)

    @property
    def max_rel_error(self) -> float:
        return max((r[2] for r in self.rows), default=0.0)

    def __bool__(self) -> bool:
        return self.passed

    def __repr__(self) -> str:
        lines = [f"gradcheck: {'passed' if self.passed else 'FAILED'} "
                 f"(atol={self.atol:g}, rtol={self.rtol:g}; a correct float64 "
                 f"backward gives relative error < 1e-7, < 1e-4 near kinks)"]
        for name, abs_err, rel_err, ok in self.rows:
            lines.append(f"  {name:<16} max abs error {abs_err:.2e}  max relative "
                         f"error {rel_err:.2e}  {_verdict(rel_err)}"
                         f"{'' if ok else '  <- mismatch'}")
        return "\n".join(lines)


def _as_tuple(x):
    return tuple(x) if isinstance(x, (tuple, list)) else (x,)


def gradcheck(fn, *inputs, backward=None, eps: float = 1e-6, atol: float = 1e-5,
              rtol: float = 1e-3, check_params: bool = True, seed: int = 0,
              raise_exception: bool = True, verbose: bool = False) -> GradcheckResult:
    """Check ``backward`` against central differences.

    ``fn`` is either a ``Module`` (its ``backward(grad_output)`` gives the input
    gradients and accumulates parameter gradients, which are checked too), or a
    function ``fn(*inputs) -> array`` with ``backward(grad_output, *inputs)``
    returning the input gradients (one array, or a tuple in input order).

    Floating inputs are checked (integer ones, such as class labels, are data);
    they and the module's parameters must be float64: in float32 the differences
    drown in rounding. A gradient passes where ``|a - n| <= atol + rtol * |n|``
    everywhere (torch's rule). Returns a :class:`GradcheckResult`; raises
    :class:`GradcheckError` on failure unless ``raise_exception=False``.
    """
    from .nn.module import Module  # local: nn imports this package's siblings

    is_module = isinstance(fn, Module)
    if not is_module and backward is None:
        raise TypeError("gradcheck: a plain function needs backward=..., a function "
                        "(grad_output, *inputs) -> input gradients")
    inputs = [np.asarray(x) for x in inputs]
    checked = [i for i, x in enumerate(inputs) if np.issubdtype(x.dtype, np.floating)]
    params = list(fn.named_parameters()) if (is_module and check_params) else []
    for i in checked:
        if inputs[i].dtype != np.float64:
            raise TypeError(f"gradcheck: input {i} is {inputs[i].dtype}; use float64 "
                            f"(x.astype(np.float64)), float32 is too coarse")
    for name, p in params:
        if p.data.dtype != np.float64:
            raise TypeError(f"gradcheck: parameter {name!r} is {p.data.dtype}; call "
                            f"module.double() first")
    inputs = [x.copy() if i in checked else x for i, x in enumerate(inputs)]

    out = fn(*inputs)
    G = np.random.default_rng(seed).standard_normal(np.shape(out))

    def f() -> float:
        return float(np.sum(G * fn(*inputs)))

    # analytic gradients
    if is_module:
        fn.zero_grad()
        fn(*inputs)
        grads = _as_tuple(fn.backward(G if np.ndim(out) else G.reshape(())))
        param_grads = [p.grad.copy() for _, p in params]
    else:
        grads = _as_tuple(backward(G, *inputs))
        param_grads = []
    if len(grads) < len(checked):
        # a loss returns only d/d input; its other arguments are targets
        checked = checked[: len(grads)]

    result = GradcheckResult(atol=atol, rtol=rtol)
    arrays = [(f"input {i}", inputs[i], grads[i]) for i in checked]
    arrays += [(name, p.data, g) for (name, p), g in zip(params, param_grads)]
    for name, x, analytic in arrays:
        if analytic is None:
            raise GradcheckError(f"gradcheck: backward returned None for {name}")
        analytic = np.asarray(analytic, dtype=np.float64)
        if analytic.shape != x.shape:
            raise GradcheckError(f"gradcheck: gradient of {name} has shape "
                                 f"{analytic.shape}, expected {x.shape}")
        numeric = numerical_gradient(f, x, eps)
        diff = np.abs(analytic - numeric)
        denom = np.maximum(np.abs(analytic) + np.abs(numeric), 1e-300)
        rel = np.atleast_1d(diff / denom)  # 0-d parameters too
        rel[np.atleast_1d(diff) == 0] = 0.0
        ok = bool(np.all(diff <= atol + rtol * np.abs(numeric)))
        result.rows.append((name, float(diff.max(initial=0)),
                            float(rel.max(initial=0)), ok))
    if verbose:
        print(result)
    if raise_exception and not result.passed:
        raise GradcheckError(repr(result))
    return result
