"""Adagrad (Duchi et al., 2011): per-coordinate steps shrink with the summed
squared gradients."""

from __future__ import annotations

import numpy as np

from .optimizer import Optimizer, _check_lr


class Adagrad(Optimizer):
    """As ``torch.optim.Adagrad``. With g = grad + weight_decay * p, step t:

        clr = lr / (1 + (t - 1) lr_decay);  sum += g^2;  p -= clr g / (sqrt(sum) + eps)
    """

    def __init__(self, params, lr: float = 1e-2, lr_decay: float = 0.0,
                 weight_decay: float = 0.0, initial_accumulator_value: float = 0.0,
                 eps: float = 1e-10, *, maximize: bool = False):
        _check_lr(type(self).__name__, lr)
        if lr < 0 or lr_decay < 0 or weight_decay < 0 or eps < 0:
            raise ValueError("Adagrad: lr, lr_decay, weight_decay and eps must be >= 0")
        defaults = dict(lr=lr, lr_decay=lr_decay, weight_decay=weight_decay,
                        initial_accumulator_value=initial_accumulator_value,
                        eps=eps, maximize=maximize)
        super().__init__(params, defaults)
        for group in self.param_groups:  # torch creates the state eagerly
            for p in group["params"]:
                self.state[p] = {"step": 0, "sum": np.full_like(
                    p.data, group["initial_accumulator_value"])}

    def _update(self, p, grad, state, group):
        state["step"] += 1
        if group["weight_decay"]:
            grad = grad + group["weight_decay"] * p.data
        clr = group["lr"] / (1 + (state["step"] - 1) * group["lr_decay"])
        state["sum"] += grad * grad
        p.data -= clr * (grad / (np.sqrt(state["sum"]) + group["eps"]))
