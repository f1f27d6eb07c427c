"""RMSprop (Hinton, Coursera lecture 6e, 2012): divide by a running RMS of the
gradient; optionally centered (Graves, 2013) and with momentum."""

from __future__ import annotations

import numpy as np

from .optimizer import Optimizer, _check_lr, _lerp_


class RMSprop(Optimizer):
    """As ``torch.optim.RMSprop``.

    With g = grad + weight_decay * p::

        v = alpha v + (1 - alpha) g^2
        avg = sqrt(v - m^2) + eps with m = lerp(m, g, 1 - alpha) if centered,
              else sqrt(v) + eps
        buf = momentum buf + g / avg; p -= lr buf    (momentum > 0)
        p -= lr g / avg                              (otherwise)
    """

    def __init__(self, params, lr: float = 1e-2, alpha: float = 0.99, eps: float = 1e-8,
                 weight_decay: float = 0.0, momentum: float = 0.0,
                 centered: bool = False, *, maximize: bool = False):
        _check_lr(type(self).__name__, lr)
        if lr < 0 or eps < 0 or momentum < 0 or weight_decay < 0 or alpha < 0:
            raise ValueError("RMSprop: lr, alpha, eps, momentum and weight_decay must "
                             "be >= 0")
        super().__init__(params, dict(lr=lr, alpha=alpha, eps=eps,
                                      weight_decay=weight_decay, momentum=momentum,
                                      centered=centered, maximize=maximize))

    def _update(self, p, grad, state, group):
        if not state:
            state.update(step=0, square_avg=np.zeros_like(p.data))
            if group["momentum"] > 0:
                state["momentum_buffer"] = np.zeros_like(p.data)
            if group["centered"]:
                state["grad_avg"] = np.zeros_like(p.data)
        state["step"] += 1
        alpha = group["alpha"]
        if group["weight_decay"]:
            grad = grad + group["weight_decay"] * p.data
        square_avg = state["square_avg"]
        square_avg *= alpha
        square_avg += (1 - alpha) * (grad * grad)
        if group["centered"]:
            grad_avg = state["grad_avg"]
            _lerp_(grad_avg, grad, 1 - alpha)
            avg = np.sqrt(square_avg - grad_avg * grad_avg) + group["eps"]
        else:
            avg = np.sqrt(square_avg) + group["eps"]
        if group["momentum"] > 0:
            buf = state["momentum_buffer"]
            buf *= group["momentum"]
            buf += grad / avg
            p.data -= group["lr"] * buf
        else:
            p.data -= group["lr"] * (grad / avg)
