"""Adadelta (Zeiler, 2012): steps scaled by the ratio of running RMS of past
updates to running RMS of gradients, so the units match and lr can be 1."""

from __future__ import annotations

import numpy as np

from .optimizer import Optimizer, _check_lr


class Adadelta(Optimizer):
    """As ``torch.optim.Adadelta``. With g = grad + weight_decay * p:

        v = rho v + (1 - rho) g^2
        delta = sqrt(u + eps) / sqrt(v + eps) * g
        u = rho u + (1 - rho) delta^2
        p = p - lr * delta
    """

    def __init__(self, params, lr: float = 1.0, rho: float = 0.9, eps: float = 1e-6,
                 weight_decay: float = 0.0, *, maximize: bool = False):
        _check_lr(type(self).__name__, lr)
        if lr < 0 or not 0 <= rho <= 1 or eps < 0 or weight_decay < 0:
            raise ValueError(f"Adadelta: invalid lr={lr}, rho={rho}, eps={eps} or "
                             f"weight_decay={weight_decay}")
        super().__init__(params, dict(lr=lr, rho=rho, eps=eps,
                                      weight_decay=weight_decay, maximize=maximize))

    def _update(self, p, grad, state, group):
        if not state:
            state.update(step=0, square_avg=np.zeros_like(p.data),
                         acc_delta=np.zeros_like(p.data))
        state["step"] += 1
        rho, eps = group["rho"], group["eps"]
        if group["weight_decay"]:
            grad = grad + group["weight_decay"] * p.data
        square_avg, acc_delta = state["square_avg"], state["acc_delta"]
        square_avg *= rho
        square_avg += (1 - rho) * (grad * grad)
        delta = np.sqrt(acc_delta + eps) / np.sqrt(square_avg + eps) * grad
        acc_delta *= rho
        acc_delta += (1 - rho) * (delta * delta)
        p.data -= group["lr"] * delta
