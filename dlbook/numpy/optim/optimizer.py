"""``Optimizer``: the base class, as ``torch.optim.Optimizer``.

An optimizer holds ``param_groups`` (a list of dicts, each with ``params`` and
its own hyperparameters such as ``lr``) and per-parameter ``state`` (momentum
buffers, moment estimates). ``step()`` updates every parameter *in place* from
its ``.grad``; subclasses write the update rule for one parameter in
``_update(p, grad, state, group)``, so the rule reads like the paper's.
"""

from __future__ import annotations

import copy
import functools
import inspect

import numpy as np

from ..nn._arguments import checked_init
from ..nn.module import Parameter

__all__ = ["Optimizer"]


class Optimizer:
    """Base class of the optimisers, as ``torch.optim.Optimizer``: parameter
    groups with their own hyperparameters, per-parameter ``state``,
    ``zero_grad``, ``step``, ``state_dict`` and ``load_state_dict``."""

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if "__init__" in cls.__dict__:  # torch's arguments it lacks: a clear error;
            # every hyperparameter a number, finite, in range, before the rule runs
            cls.__init__ = checked_init(_checks_hyperparameters(cls.__dict__["__init__"]))

    def __init__(self, params, defaults: dict):
        self.defaults = defaults
        self.state: dict[Parameter, dict] = {}
        self.param_groups: list[dict] = []
        if isinstance(params, Parameter):
            raise TypeError(f"{type(self).__name__}: params must be an iterable of "
                            f"Parameters (e.g. model.parameters()), got one Parameter")
        params = list(params)
        if not params:
            raise ValueError(f"{type(self).__name__} got an empty parameter list")
        if not isinstance(params[0], dict):
            params = [{"params": params}]
        for group in params:
            self.add_param_group(group)

    def add_param_group(self, group: dict) -> None:
        group = dict(group)
        ps = group["params"]
        group["params"] = [ps] if isinstance(ps, Parameter) else list(ps)
        name = type(self).__name__
        seen = {id(p) for g in self.param_groups for p in g["params"]}
        for p in group["params"]:
            if not isinstance(p, Parameter):
                raise TypeError(f"{name}: can only optimize Parameters, "
                                f"got {type(p).__name__}")
            if id(p) in seen:
                raise ValueError(f"{name}: some parameters appear in more than one "
                                 f"parameter group")
        if len({id(p) for p in group["params"]}) != len(group["params"]):
            # torch warns and would step such a parameter twice; refuse instead
            raise ValueError(f"{name}: a parameter group contains the same parameter "
                             f"twice (it would be updated twice per step)")
        for key, value in self.defaults.items():
            group.setdefault(key, value)
        _check_lr(name, group.get("lr", 0.0))
        self.param_groups.append(group)

    def zero_grad(self, set_to_none: bool = False) -> None:
        """Zero every gradient in place, or drop it (``set_to_none=True``: the
        next backward allocates it again, and ``step`` skips it until then).

        torch's default is ``set_to_none=True``; dlbook keeps the arrays by
        default so that a zeroed gradient can still be printed.
        """
        for group in self.param_groups:
            for p in group["params"]:
                if set_to_none:
                    p.grad = None
                elif p.grad is not None:
                    p.grad[...] = 0  # in place: no new allocation every step

    def step(self, closure=None):
        """One update of every parameter; ``closure`` re-evaluates the loss.

        Parameters whose ``.grad`` is None (never backpropagated, or set to
        None) are skipped, as in torch. A ``.grad`` that is not an array of the
        parameter's shape is refused before any parameter changes (NumPy would
        broadcast a (out,) gradient over an (out, in) weight without a word;
        torch refuses to assign such a gradient)."""
        loss = closure() if closure is not None else None
        self._check_grads()
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                grad = -p.grad if group.get("maximize", False) else p.grad
                self._update(p, grad, self.state.setdefault(p, {}), group)
        return loss

    def _check_grads(self) -> None:
        for g, group in enumerate(self.param_groups):
            for i, p in enumerate(group["params"]):
                grad = p.grad
                if grad is None:
                    continue
                where = (f"{type(self).__name__}.step: the .grad of parameter {i}"
                         + (f" of group {g}" if len(self.param_groups) > 1 else ""))
                if not isinstance(grad, (np.ndarray, np.generic)):
                    raise TypeError(f"{where} is a {type(grad).__name__}; expected a "
                                    f"NumPy array of shape {p.data.shape}")
                if grad.shape != p.data.shape:
                    raise ValueError(f"{where} has shape {grad.shape}, but the "
                                     f"parameter has shape {p.data.shape}; nothing "
                                     f"was updated")

    def _update(self, p: Parameter, grad: np.ndarray, state: dict, group: dict):
        raise NotImplementedError(f"{type(self).__name__} does not define _update")

    # ---- saving and loading -----------------------------------------------------
    def state_dict(self) -> dict:
        """Hyperparameters and state, parameters referred to by their index."""
        index = {}
        groups = []
        for group in self.param_groups:
            g = {k: v for k, v in group.items() if k != "params"}
            g["params"] = [index.setdefault(id(p), len(index)) for p in group["params"]]
            groups.append(g)
        state = {index[id(p)]: copy.deepcopy(s) for p, s in self.state.items()}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict) -> None:
        groups = state_dict["param_groups"]
        if len(groups) != len(self.param_groups) or any(
                len(a["params"]) != len(b["params"])
                for a, b in zip(groups, self.param_groups)):
            raise ValueError(f"{type(self).__name__}.load_state_dict: the saved groups "
                             f"do not match this optimizer's")
        params = [p for g in self.param_groups for p in g["params"]]
        self.state = {params[i]: copy.deepcopy(s)
                      for i, s in state_dict["state"].items()}
        for own, saved in zip(self.param_groups, groups):
            own.update({k: v for k, v in saved.items() if k != "params"})

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__} ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            for key in sorted(k for k in group if k != "params"):
                lines.append(f"    {key}: {group[key]}")
        return "\n".join(lines) + "\n)"


# hyperparameters that torch requires to be >= 0 (dampening may be anything)
_NON_NEGATIVE = {"lr", "eps", "weight_decay", "momentum", "alpha", "rho", "lr_decay",
                 "initial_accumulator_value"}


def _is_number(v) -> bool:
    return isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(
        v, (bool, np.bool_))


def _check_hyperparameter(name: str, key: str, value) -> None:
    """A number, finite (nan would silently fill the weights with nan), and in
    torch's range; other arguments (flags) are left to the optimizer."""
    if key == "betas":
        if not (isinstance(value, (tuple, list)) and len(value) == 2
                and all(_is_number(b) for b in value)):
            raise TypeError(f"{name}: betas must be a pair of numbers (beta1, beta2), "
                            f"got {value!r}")
        if not all(0.0 <= b < 1.0 for b in value):
            raise ValueError(f"{name}: betas must lie in [0, 1), got {tuple(value)}")
        return
    if key not in _NON_NEGATIVE | {"dampening"}:
        return  # flags, and a reader's own optimizer's own arguments
    if not _is_number(value):
        raise TypeError(f"{name}: {key} must be a number, got {type(value).__name__} "
                        f"{value!r}" + ("; use float(lr)" if key == "lr" else ""))
    if key == "lr":
        _check_lr(name, value)
    elif not np.isfinite(value) or (key in _NON_NEGATIVE and value < 0):
        rule = "a finite number >= 0" if key in _NON_NEGATIVE else "finite"
        raise ValueError(f"{name}: invalid {key}={value} (must be {rule})")
    elif key == "rho" and value > 1:
        raise ValueError(f"{name}: invalid rho={value} (must lie in [0, 1])")


def _checks_hyperparameters(init):
    """Wrap an optimizer's ``__init__``: its hyperparameters (as bound, defaults
    included) are checked before the optimizer's own code sees them."""
    sig = inspect.signature(init)

    @functools.wraps(init)
    def init_with_checks(self, *args, **kwargs):
        try:
            bound = sig.bind(self, *args, **kwargs)
        except TypeError:
            return init(self, *args, **kwargs)  # checked_init words this error
        bound.apply_defaults()
        for key, value in list(bound.arguments.items())[1:]:
            if key not in ("params", "defaults"):
                _check_hyperparameter(type(self).__name__, key, value)
        return init(self, *args, **kwargs)

    init_with_checks.__signature__ = sig
    return init_with_checks


def _check_lr(name: str, lr) -> None:
    """torch's check, which also catches nan (nan < 0 is False)."""
    if not (isinstance(lr, (int, float, np.number)) and 0.0 <= lr < np.inf):
        raise ValueError(f"{name}: Invalid learning rate: {lr} (must be a finite "
                         f"number >= 0)")


def _lerp_(a: np.ndarray, b: np.ndarray, weight: float) -> None:
    """a <- a + weight * (b - a) in place, rounded exactly as torch's lerp_."""
    if weight < 0.5:
        a += weight * (b - a)
    else:
        a[...] = b - (b - a) * (1 - weight)
