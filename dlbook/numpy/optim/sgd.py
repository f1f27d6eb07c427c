"""Stochastic gradient descent with momentum and Nesterov momentum."""

from __future__ import annotations

import numpy as np

from .optimizer import Optimizer, _check_lr


class SGD(Optimizer):
    """As ``torch.optim.SGD``. With g = grad + weight_decay * p:

        buf = g (first step), else momentum * buf + (1 - dampening) * g
        g   = g + momentum * buf (Nesterov), else buf
        p   = p - lr * g

    (Sutskever et al., 2013 for Nesterov in this form.)
    """

    def __init__(self, params, lr: float = 1e-3, momentum: float = 0.0,
                 dampening: float = 0.0, weight_decay: float = 0.0,
                 nesterov: bool = False, *, maximize: bool = False):
        _check_lr(type(self).__name__, lr)
        if lr < 0 or momentum < 0 or weight_decay < 0:
            raise ValueError(f"SGD: invalid lr={lr}, momentum={momentum} or "
                             f"weight_decay={weight_decay}")
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("SGD: Nesterov momentum needs momentum > 0 and "
                             "dampening 0")
        super().__init__(params, dict(lr=lr, momentum=momentum, dampening=dampening,
                                      weight_decay=weight_decay, nesterov=nesterov,
                                      maximize=maximize))

    def _update(self, p, grad, state, group):
        if group["weight_decay"]:
            grad = grad + group["weight_decay"] * p.data
        momentum = group["momentum"]
        if momentum:
            buf = state.get("momentum_buffer")
            if buf is None:
                buf = state["momentum_buffer"] = np.array(grad, copy=True)
            else:
                buf *= momentum
                buf += (1 - group["dampening"]) * grad
            grad = grad + momentum * buf if group["nesterov"] else buf
        p.data -= group["lr"] * grad
