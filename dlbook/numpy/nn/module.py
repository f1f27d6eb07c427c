"""``Parameter`` and ``Module``: the two classes every NumPy layer builds on.

A ``Module`` mirrors ``torch.nn.Module``: it owns parameters, buffers and child
modules, found by attribute assignment, so ``named_parameters()`` and
``state_dict()`` produce torch's names (``0.weight``, ``layers.1.bias`` ...).
Unlike torch, there is no autograd: each layer's ``forward`` stores what its
``backward(grad_output)`` needs, and ``backward`` returns the gradient with
respect to the input while *accumulating* parameter gradients into ``.grad``.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any, Iterator

import numpy as np


class Parameter:
    """A learnable array: ``.data`` holds the values, ``.grad`` their gradient.

    ``.grad`` starts as zeros of the same shape and dtype and accumulates with
    ``+=`` across backward calls until ``zero_grad()``, as in torch.
    """

    def __init__(self, data: np.ndarray):
        self.data = np.asarray(data)
        self.grad = np.zeros_like(self.data)

    @property
    def shape(self) -> tuple[int, ...]:
        return self.data.shape

    @property
    def dtype(self) -> np.dtype:
        return self.data.dtype

    def numel(self) -> int:
        return int(self.data.size)

    def zero_grad(self) -> None:
        self.grad = np.zeros_like(self.data)

    def astype(self, dtype) -> None:
        """Cast values and gradient in place (used by ``Module.double()``)."""
        self.data = self.data.astype(dtype)
        self.grad = self.grad.astype(dtype)

    def __repr__(self) -> str:
        return f"Parameter(shape={self.data.shape}, dtype={self.data.dtype})"


class Module:
    """Base class of every NumPy layer; subclasses define forward and backward.

    Subclasses call ``super().__init__()`` first, then assign ``Parameter``s,
    child ``Module``s and buffers (``self.register_buffer(name, array)``).
    """

    def __init__(self):
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "training", True)

    # ---- registration -------------------------------------------------------
    def __setattr__(self, name: str, value: Any) -> None:
        if "_parameters" not in self.__dict__:
            raise AttributeError(
                f"{type(self).__name__}: call super().__init__() before assigning "
                f"attribute {name!r}"
            )
        if name in self._buffers and not isinstance(value, (Parameter, Module)):
            # assigning to a buffer updates it and keeps it a buffer, as in torch
            # (BatchNorm reassigns running_mean every training step)
            object.__setattr__(self, name, value)
            return
        for store in (self._parameters, self._modules, self._buffers):
            store.pop(name, None)
        if isinstance(value, Parameter):
            self._parameters[name] = value
        elif isinstance(value, Module):
            self._modules[name] = value
        object.__setattr__(self, name, value)

    def __delattr__(self, name: str) -> None:
        # forget the registration too, or state_dict() would still list the name
        for store in (self._parameters, self._modules, self._buffers):
            store.pop(name, None)
        object.__delattr__(self, name)

    def register_buffer(self, name: str, value: np.ndarray | None) -> None:
        """A state array that is saved in ``state_dict`` but not trained."""
        object.__setattr__(self, name, value)
        self._buffers[name] = name  # the value lives on the attribute

    def _buffer_items(self) -> Iterator[tuple[str, Any]]:
        for name in self._buffers:
            yield name, getattr(self, name)

    # ---- forward / backward -------------------------------------------------
    def forward(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__} does not define forward")

    def backward(self, grad_output):
        raise NotImplementedError(f"{type(self).__name__} does not define backward")

    def __call__(self, *args, **kwargs):
        return self.forward(*args, **kwargs)

    # ---- traversal ----------------------------------------------------------
    def named_modules(self, prefix: str = "") -> Iterator[tuple[str, "Module"]]:
        yield prefix, self
        for name, child in self._modules.items():
            yield from child.named_modules(f"{prefix}.{name}" if prefix else name)

    def modules(self) -> Iterator["Module"]:
        for _, m in self.named_modules():
            yield m

    def children(self) -> Iterator["Module"]:
        yield from self._modules.values()

    def named_parameters(self, prefix: str = "") -> Iterator[tuple[str, Parameter]]:
        seen: set[int] = set()
        for mod_name, mod in self.named_modules(prefix):
            for name, p in mod._parameters.items():
                if id(p) in seen:  # shared (tied) parameters are listed once
                    continue
                seen.add(id(p))
                yield (f"{mod_name}.{name}" if mod_name else name), p

    def parameters(self) -> Iterator[Parameter]:
        for _, p in self.named_parameters():
            yield p

    def named_buffers(self) -> Iterator[tuple[str, np.ndarray]]:
        for mod_name, mod in self.named_modules():
            for name, b in mod._buffer_items():
                if b is not None:
                    yield (f"{mod_name}.{name}" if mod_name else name), b

    def zero_grad(self) -> None:
        for p in self.parameters():
            p.zero_grad()

    # ---- modes and dtypes ---------------------------------------------------
    def train(self, mode: bool = True) -> "Module":
        for m in self.modules():
            object.__setattr__(m, "training", mode)
        return self

    def eval(self) -> "Module":
        return self.train(False)

    def to_dtype(self, dtype) -> "Module":
        """Cast every floating parameter and buffer to ``dtype``."""
        for m in self.modules():
            for p in m._parameters.values():
                if np.issubdtype(p.data.dtype, np.floating):
                    p.astype(dtype)
            for name, b in list(m._buffer_items()):
                if b is not None and np.issubdtype(np.asarray(b).dtype, np.floating):
                    object.__setattr__(m, name, np.asarray(b).astype(dtype))
        return self

    def double(self) -> "Module":
        return self.to_dtype(np.float64)

    def float(self) -> "Module":
        return self.to_dtype(np.float32)

    # ---- state --------------------------------------------------------------
    def state_dict(self) -> "OrderedDict[str, np.ndarray]":
        """Parameters then buffers, each module in registration order (torch's)."""
        out: OrderedDict[str, np.ndarray] = OrderedDict()
        for mod_name, mod in self.named_modules():
            pre = f"{mod_name}." if mod_name else ""
            for name, p in mod._parameters.items():
                out[pre + name] = p.data.copy()
            for name, b in mod._buffer_items():
                if b is not None:
                    out[pre + name] = np.array(b, copy=True)
        return out

    def load_state_dict(self, state_dict, strict: bool = True) -> None:
        """Copy arrays (or anything ``np.asarray`` accepts) into this module.

        Shapes must match exactly; with ``strict`` the key sets must be equal.
        Values keep this module's dtype for parameters, so loading a float32
        torch state into a float64 module gives float64 parameters.
        """
        own = self.state_dict()
        given = {k: np.asarray(v) for k, v in state_dict.items()}
        if strict:
            missing = [k for k in own if k not in given]
            unexpected = [k for k in given if k not in own]
            if missing or unexpected:
                raise KeyError(
                    f"{type(self).__name__}.load_state_dict: missing keys {missing}, "
                    f"unexpected keys {unexpected}"
                )
        for mod_name, mod in self.named_modules():
            pre = f"{mod_name}." if mod_name else ""
            for name, p in mod._parameters.items():
                if pre + name in given:
                    value = given[pre + name]
                    if value.shape != p.data.shape:
                        raise ValueError(
                            f"{type(mod).__name__}.{name} ({pre + name}): expected "
                            f"shape {p.data.shape}, got {value.shape}"
                        )
                    p.data = value.astype(p.data.dtype, copy=True)
                    p.grad = np.zeros_like(p.data)
            for name, b in list(mod._buffer_items()):
                if pre + name in given:
                    value = given[pre + name]
                    if b is not None and np.shape(b) != value.shape:
                        raise ValueError(
                            f"{type(mod).__name__}.{name} ({pre + name}): expected "
                            f"shape {np.shape(b)}, got {value.shape}"
                        )
                    dtype = np.asarray(b).dtype if b is not None else value.dtype
                    object.__setattr__(mod, name, value.astype(dtype, copy=True))

    # ---- display ------------------------------------------------------------
    def extra_repr(self) -> str:
        return ""

    def __repr__(self) -> str:
        head = f"{type(self).__name__}({self.extra_repr()}"
        if not self._modules:
            return head + ")"
        lines = [head]
        for name, child in self._modules.items():
            body = repr(child).replace("\n", "\n  ")
            lines.append(f"  ({name}): {body}")
        return "\n".join(lines) + "\n)"
