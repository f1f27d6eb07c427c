"""Gradient clipping and weight re-parametrisations, as ``torch.nn.utils``.

``weight_norm`` and ``spectral_norm`` follow torch's (classic) API: they change
a module in place so that its ``weight`` is recomputed before every forward from
new parameters (``weight_g``/``weight_v``, or ``weight_orig`` plus the buffers
``weight_u``/``weight_v``), with the same names, shapes and state_dict keys as
torch, so a torch state loads unchanged. Where torch uses a forward pre-hook,
dlbook wraps the module's own ``forward``/``backward`` (on that one instance):
forward builds the weight, then runs the layer; backward runs the layer's
backward, which fills ``weight.grad``, then maps that gradient onto the real
parameters.
"""

from __future__ import annotations

import math

import numpy as np

from .module import Module, Parameter

__all__ = ["clip_grad_norm_", "clip_grad_value_", "weight_norm", "remove_weight_norm",
           "spectral_norm", "remove_spectral_norm", "parameters_to_vector"]


def _param_list(parameters) -> list[Parameter]:
    if isinstance(parameters, Parameter):
        return [parameters]
    return list(parameters)


def _with_grad(parameters) -> list[Parameter]:
    """Parameters that have a gradient (torch skips those whose .grad is None)."""
    return [p for p in _param_list(parameters) if p.grad is not None]


def clip_grad_norm_(parameters, max_norm: float, norm_type: float = 2.0,
                    error_if_nonfinite: bool = False):
    """Scale all gradients together so their joint norm is at most ``max_norm``.

    The joint norm is the norm of the vector of per-parameter norms (for p = 2,
    the norm of all gradients concatenated). Gradients are multiplied by
    min(1, max_norm / (total_norm + 1e-6)), as torch. Returns the total norm
    *before* clipping (handy for logging).
    """
    params = _with_grad(parameters)
    if not params:
        return np.float64(0.0)
    norm_type = float(norm_type)
    if math.isinf(norm_type):
        norms = [np.max(np.abs(p.grad), initial=0.0) for p in params]
        total = np.max(norms)
    else:
        norms = [np.sum(np.abs(p.grad) ** norm_type) ** (1.0 / norm_type)
                 for p in params]
        total = np.sum(np.asarray(norms) ** norm_type) ** (1.0 / norm_type)
    if error_if_nonfinite and not np.isfinite(total):
        raise RuntimeError(f"clip_grad_norm_: the total norm of order {norm_type} is "
                           f"{total}; set error_if_nonfinite=False to clip anyway")
    coef = min(max_norm / (total + 1e-6), 1.0)
    for p in params:
        p.grad *= coef  # in place: the optimiser holds these arrays
    return total


def clip_grad_value_(parameters, clip_value: float) -> None:
    """Clamp every gradient element to [-clip_value, clip_value], in place."""
    for p in _with_grad(parameters):
        np.clip(p.grad, -clip_value, clip_value, out=p.grad)


def parameters_to_vector(parameters) -> np.ndarray:
    """All parameter values concatenated into one flat vector."""
    return np.concatenate([p.data.reshape(-1) for p in _param_list(parameters)])


# ---- shared wrapping machinery ---------------------------------------------------
class _Reparam:
    """Builds ``module.<name>`` before each forward and routes its gradient back."""

    kind = ""

    def __init__(self, module: Module, name: str):
        if any(isinstance(getattr(module, a, None), _Reparam) for a in
               (f"_{self.kind}_{name}",)):
            raise RuntimeError(f"{self.kind}: already applied to {name!r} of "
                               f"{module!r}")
        self.module, self.name = module, name
        self.inner_forward = module.forward  # bound method (or an earlier wrapper)
        self.inner_backward = module.backward

    def install(self):
        m = self.module
        self._own = {k: m.__dict__[k] for k in ("forward", "backward")
                     if k in m.__dict__}
        object.__setattr__(m, f"_{self.kind}_{self.name}", self)
        object.__setattr__(m, "forward", self.forward)  # this instance only
        object.__setattr__(m, "backward", self.backward)

    def uninstall(self):
        m = self.module
        for k in ("forward", "backward"):  # back to the class's own methods
            if k in self._own:
                m.__dict__[k] = self._own[k]
            else:
                m.__dict__.pop(k, None)
        del m.__dict__[f"_{self.kind}_{self.name}"]

    def _set_weight(self, w):
        # a Parameter that is *not* registered: the real parameters are others
        object.__setattr__(self.module, self.name, Parameter(w))

    def forward(self, *args, **kwargs):
        self._set_weight(self.compute_weight())
        return self.inner_forward(*args, **kwargs)

    def backward(self, grad_output):
        # the built weight collects this call's gradient only (a module used
        # twice would otherwise hand the first call's gradient on twice)
        weight = getattr(self.module, self.name)
        weight.grad = np.zeros_like(weight.data)
        dx = self.inner_backward(grad_output)
        self.backward_weight(getattr(self.module, self.name).grad)
        return dx


# ---- weight normalization -----------------------------------------------------
class _WeightNorm(_Reparam):
    """w = g * v / ||v|| (Salimans & Kingma, 2016), the norm over all dims but
    ``dim`` (over everything when dim is None or -1, as torch's legacy API)."""

    kind = "weight_norm"

    def __init__(self, module, name, dim):
        super().__init__(module, name)
        self.dim = -1 if dim is None else dim

    def _axes(self, ndim):
        if self.dim == -1:
            return tuple(range(ndim))
        d = self.dim % ndim
        return tuple(a for a in range(ndim) if a != d)

    def _norm(self, v):
        axes = self._axes(v.ndim)
        keep = self.dim != -1  # the whole-tensor norm is a 0-d g, as torch
        return np.sqrt(np.sum(v * v, axis=axes, keepdims=keep))

    def compute_weight(self):
        g = getattr(self.module, self.name + "_g").data
        v = getattr(self.module, self.name + "_v").data
        return v * (g / self._norm(v))

    def backward_weight(self, G):
        g_p = getattr(self.module, self.name + "_g")
        v_p = getattr(self.module, self.name + "_v")
        v = v_p.data
        n = self._norm(v)
        axes = self._axes(v.ndim)
        dg = np.sum(G * v, axis=axes, keepdims=self.dim != -1) / n
        g_p.grad += dg
        v_p.grad += (g_p.data / n) * (G - v * (dg / n))


def weight_norm(module: Module, name: str = "weight", dim: int | None = 0) -> Module:
    """Replace ``module.<name>`` by ``<name>_g`` (magnitude) and ``<name>_v``
    (direction), as ``torch.nn.utils.weight_norm``; returns the module."""
    w = module._parameters.get(name)
    if w is None:
        raise ValueError(f"weight_norm: {type(module).__name__} has no parameter "
                         f"{name!r}")
    fn = _WeightNorm(module, name, dim)
    delattr(module, name)
    setattr(module, name + "_g", Parameter(fn._norm(w.data).astype(w.data.dtype)))
    setattr(module, name + "_v", Parameter(w.data.copy()))
    fn._set_weight(fn.compute_weight())
    fn.install()
    return module


def remove_weight_norm(module: Module, name: str = "weight") -> Module:
    """Undo :func:`weight_norm`: fold g and v back into one plain weight."""
    fn = module.__dict__.get(f"_weight_norm_{name}")
    if fn is None:
        raise ValueError(f"remove_weight_norm: no weight_norm on {name!r}")
    w = fn.compute_weight()
    fn.uninstall()
    delattr(module, name + "_g")
    delattr(module, name + "_v")
    setattr(module, name, Parameter(w))
    return module


# ---- spectral normalization ---------------------------------------------------
def _l2_normalize(x, eps):
    return x / max(float(np.sqrt(np.sum(x * x))), eps)


class _SpectralNorm(_Reparam):
    """w = W / sigma(W), sigma from power iteration (Miyato et al., 2018).

    u and v are buffers: in training mode each forward refines them with
    ``n_power_iterations`` steps; in eval mode they stay fixed. Gradients treat
    u and v as constants, as torch does.
    """

    kind = "spectral_norm"

    def __init__(self, module, name, n_power_iterations, dim, eps):
        super().__init__(module, name)
        if n_power_iterations <= 0:
            raise ValueError(f"spectral_norm: n_power_iterations must be positive, "
                             f"got {n_power_iterations}")
        self.n_power_iterations, self.dim, self.eps = n_power_iterations, dim, eps

    def _to_matrix(self, w):
        """(..., dim, ...) -> (size of dim, rest): dim moved first, then flattened."""
        return np.moveaxis(w, self.dim, 0).reshape(w.shape[self.dim], -1)

    def compute_weight(self):
        m = self.module
        w = getattr(m, self.name + "_orig").data
        W = self._to_matrix(w)  # (h, rest)
        u = getattr(m, self.name + "_u")
        v = getattr(m, self.name + "_v")
        if m.training:
            for _ in range(self.n_power_iterations):
                v = _l2_normalize(W.T @ u, self.eps)
                u = _l2_normalize(W @ v, self.eps)
            setattr(m, self.name + "_u", u)  # buffers: updated in place in torch
            setattr(m, self.name + "_v", v)
        self.uv = (u, v)
        self.sigma = u @ (W @ v)
        return w / self.sigma

    def backward_weight(self, G):
        w_p = getattr(self.module, self.name + "_orig")
        u, v = self.uv
        sigma = self.sigma
        # d(W / sigma) with d sigma / dW = u v^T (u, v held constant)
        outer = np.outer(u, v)  # (h, rest)
        moved = np.moveaxis(w_p.data, self.dim, 0).shape
        outer = np.moveaxis(outer.reshape(moved), 0, self.dim)  # back to w's layout
        w_p.grad += G / sigma - (np.sum(G * w_p.data) / sigma**2) * outer


def spectral_norm(module: Module, name: str = "weight", n_power_iterations: int = 1,
                  eps: float = 1e-12, dim: int | None = None, rng=None) -> Module:
    """Divide ``module.<name>`` by its largest singular value, as
    ``torch.nn.utils.spectral_norm``: parameter ``<name>_orig`` and buffers
    ``<name>_u``, ``<name>_v``; returns the module."""
    from .conv import ConvTranspose2d

    w = module._parameters.get(name)
    if w is None:
        raise ValueError(f"spectral_norm: {type(module).__name__} has no parameter "
                         f"{name!r}")
    if dim is None:  # ConvTranspose stores (in, out, ...): the output axis is 1
        dim = 1 if isinstance(module, ConvTranspose2d) else 0
    fn = _SpectralNorm(module, name, n_power_iterations, dim, eps)
    W = fn._to_matrix(w.data)
    r = np.random if rng is None else rng
    u = _l2_normalize(r.normal(0.0, 1.0, W.shape[0]).astype(w.data.dtype), eps)
    v = _l2_normalize(r.normal(0.0, 1.0, W.shape[1]).astype(w.data.dtype), eps)
    delattr(module, name)
    setattr(module, name + "_orig", w)
    module.register_buffer(name + "_u", u)
    module.register_buffer(name + "_v", v)
    fn._set_weight(w.data.copy())
    fn.install()
    return module


def remove_spectral_norm(module: Module, name: str = "weight") -> Module:
    """Undo :func:`spectral_norm`: keep the normalised weight as a plain one."""
    fn = module.__dict__.get(f"_spectral_norm_{name}")
    if fn is None:
        raise ValueError(f"remove_spectral_norm: no spectral_norm on {name!r}")
    training = module.training
    object.__setattr__(module, "training", False)  # no power iteration here
    w = fn.compute_weight()
    object.__setattr__(module, "training", training)
    fn.uninstall()
    w_orig = getattr(module, name + "_orig")
    for suffix in ("_orig", "_u", "_v"):
        delattr(module, name + suffix)
    setattr(module, name, Parameter(w.astype(w_orig.data.dtype)))
    return module
