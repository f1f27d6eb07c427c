"""``Parameter`` and ``Module``: the two classes every NumPy layer builds on.

A ``Module`` mirrors ``torch.nn.Module``: it owns parameters, buffers and child
modules, found by attribute assignment, so ``named_parameters()`` and
``state_dict()`` produce torch's names (``0.weight``, ``layers.1.bias`` ...).
Unlike torch, there is no autograd: each layer's ``forward`` stores what its
``backward(grad_output)`` needs, and ``backward`` returns the gradient with
respect to the input while *accumulating* parameter gradients into ``.grad``.

What a forward stores is saved *per call* (see ``Module``), so one layer used
twice before ``backward`` gets both gradients right, as with torch's autograd.
"""

from __future__ import annotations

import functools
import inspect
from collections import OrderedDict, deque
from collections.abc import Iterator
from typing import Any, NamedTuple

import numpy as np

from ._arguments import checked_init

_MISSING = object()  # "the attribute did not exist before this forward"


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
        if self.grad is not None:
            self.grad = self.grad.astype(dtype)

    def __repr__(self) -> str:
        return f"Parameter(shape={self.data.shape}, dtype={self.data.dtype})"


class Module:
    """Base class of every NumPy layer; subclasses define forward and backward.

    Subclasses call ``super().__init__()`` first, then assign parameters
    (:class:`Parameter`), child modules and buffers (``self.register_buffer(name, array)``).

    **One saved context per forward call.** A forward keeps what its backward
    needs as plain attributes (``self.x = x``), the way one writes it by hand.
    When the forward returns, the base class saves the attributes it assigned
    on a stack (one entry per call); ``backward`` takes the most recent entry
    off the stack and restores those attributes before running. Calls are thus
    differentiated last-in first-out, the order in which a backward pass walks
    a network, like torch's autograd tape:

        y = tanh(tanh(x))          # Tanh saves out1, then out2
        tanh.backward(tanh.backward(g))  # uses out2, then out1

    and parameter gradients of a shared layer accumulate (``+=``) over its
    uses. Each ``backward`` consumes one forward call; once all are consumed,
    another ``backward`` repeats the last one (the same gradient again, added
    to ``.grad``). ``backward`` before any ``forward`` raises a RuntimeError;
    a ``grad_output`` whose shape differs from that call's output raises a
    ValueError naming the layer. ``train()`` and ``eval()`` forget forward
    calls that were never backpropagated (an evaluation pass, say), and at
    most ``max_saved`` calls are kept (the oldest are dropped), so inference
    loops do not hold on to memory. A forward that raises leaves the module's
    attributes as they were.
    """

    # at most this many forward calls wait for their backward (see above)
    max_saved = 256
    # How the layer treats its input, checked before forward runs. None: not at
    # all (a reader's own modules). Otherwise lists are refused, as torch
    # refuses them, and integer or bool arrays are "keep": used as they are;
    # "float": computed on a float32 copy (torch promotes, e.g. sigmoid);
    # "refuse": a TypeError (torch has no integer kernel, e.g. Linear).
    _int_input: str | None = None

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        # every forward/backward written by a subclass gets the saving rule
        if "forward" in cls.__dict__:
            cls.forward = _saves_context(cls.__dict__["forward"])
        if "backward" in cls.__dict__:
            cls.backward = _uses_context(cls.__dict__["backward"])
        if "__init__" in cls.__dict__:  # torch's arguments it lacks: a clear error
            cls.__init__ = checked_init(cls.__dict__["__init__"])

    def __init__(self):
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "training", True)
        object.__setattr__(self, "_saved", deque(maxlen=self.max_saved))
        object.__setattr__(self, "_last_saved", None)  # the latest one consumed
        object.__setattr__(self, "_recording", None)
        object.__setattr__(self, "_in_backward", False)

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
        recording = self.__dict__.get("_recording")
        if (recording is not None and name not in recording
                and not isinstance(value, (Parameter, Module))
                and name not in self._parameters and name not in self._modules):
            # a forward is running: this attribute belongs to its saved context;
            # keep the old value in case the forward fails
            recording[name] = self.__dict__.get(name, _MISSING)
        keep = (self._parameters if isinstance(value, Parameter)
                else self._modules if isinstance(value, Module) else None)
        for store in (self._parameters, self._modules, self._buffers):
            if store is not keep:  # replacing keeps its place (state_dict order)
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
    def named_modules(self, prefix: str = "") -> Iterator[tuple[str, Module]]:
        yield prefix, self
        for name, child in self._modules.items():
            yield from child.named_modules(f"{prefix}.{name}" if prefix else name)

    def modules(self) -> Iterator[Module]:
        for _, m in self.named_modules():
            yield m

    def children(self) -> Iterator[Module]:
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

    def zero_grad(self, set_to_none: bool = False) -> None:
        """Zero every parameter's gradient, or drop it (``set_to_none=True``;
        the next backward allocates it again). torch's default is True; dlbook
        keeps zero arrays by default so that they can be printed."""
        for p in self.parameters():
            if set_to_none:
                p.grad = None
            else:
                p.zero_grad()

    # ---- modes and dtypes ---------------------------------------------------
    def train(self, mode: bool = True) -> Module:
        """Set the mode of every submodule; forget forward calls not yet
        backpropagated (an evaluation pass leaves nothing behind)."""
        for m in self.modules():
            object.__setattr__(m, "training", mode)
            m._saved.clear()
            object.__setattr__(m, "_last_saved", None)
        return self

    def eval(self) -> Module:
        return self.train(False)

    def to_dtype(self, dtype) -> Module:
        """Cast every floating parameter and buffer to ``dtype``."""
        for m in self.modules():
            for p in m._parameters.values():
                if np.issubdtype(p.data.dtype, np.floating):
                    p.astype(dtype)
            for name, b in list(m._buffer_items()):
                if b is not None and np.issubdtype(np.asarray(b).dtype, np.floating):
                    object.__setattr__(m, name, np.asarray(b).astype(dtype))
        return self

    def double(self) -> Module:
        return self.to_dtype(np.float64)

    def float(self) -> Module:
        return self.to_dtype(np.float32)

    # ---- state --------------------------------------------------------------
    def state_dict(self) -> OrderedDict[str, np.ndarray]:
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

    def load_state_dict(self, state_dict, strict: bool = True):
        """Copy arrays (or anything ``np.asarray`` accepts) into this module.

        Shapes must match exactly; with ``strict`` the key sets must be equal.
        Values keep this module's dtype for parameters, so loading a float32
        torch state into a float64 module gives float64 parameters. Returns
        ``(missing_keys, unexpected_keys)``, a named tuple, as torch does.
        """
        if not hasattr(state_dict, "items"):
            raise TypeError(
                f"{type(self).__name__}.load_state_dict: expected a dict of arrays "
                f"(e.g. model.state_dict()), got {type(state_dict).__name__}"
            )
        own = self.state_dict()
        given = {k: np.asarray(v) for k, v in state_dict.items()}
        missing = [k for k in own if k not in given]
        unexpected = [k for k in given if k not in own]
        if strict and (missing or unexpected):
            raise KeyError(
                f"{type(self).__name__}.load_state_dict: missing keys {missing}, "
                f"unexpected keys {unexpected}"
            )
        self._check_shapes(given)  # all shapes first: a bad state changes nothing
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
        return _IncompatibleKeys(missing, unexpected)

    def _check_shapes(self, given: dict) -> None:
        for key, value in self.state_dict().items():
            if key in given and given[key].shape != value.shape:
                raise ValueError(f"{type(self).__name__}.load_state_dict: {key} "
                                 f"expected shape {value.shape}, got "
                                 f"{given[key].shape}")

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


class _IncompatibleKeys(NamedTuple):
    """What ``load_state_dict`` returns, as torch: keys it lacked / did not use."""

    missing_keys: list
    unexpected_keys: list


# ---- the per-call saving rule (see Module) ----------------------------------------
def _output_shape(out):
    """The shape a backward's grad_output must have: that of the (first) output."""
    if isinstance(out, tuple) and out:
        out = out[0]
    if isinstance(out, (np.ndarray, np.generic, float, int)):
        return np.shape(out)
    return None  # an output of another kind: not checked


def _check_input(module: Module, args: tuple) -> tuple:
    """Lists are refused and integer input converted or refused, as torch does."""
    if not args:
        return args
    name, x = type(module).__name__, args[0]
    if isinstance(x, (list, tuple)):
        raise TypeError(f"{name}: expected a NumPy array as input, got a "
                        f"{type(x).__name__}; convert it with np.asarray(...)")
    if isinstance(x, (bool, int, float, np.generic)):
        # a Python or NumPy number: a 0-d array, so the rules below apply
        x = np.asarray(x)
        args = (x,) + args[1:]
    if isinstance(x, np.ndarray) and x.dtype.kind in "biu":
        if module._int_input == "refuse":
            raise TypeError(f"{name}: expected a floating-point input, got dtype "
                            f"{x.dtype} (torch refuses it too); convert it with "
                            f"x.astype(np.float32)")
        if module._int_input == "float":
            return (x.astype(np.float32),) + args[1:]
    return args


def _saves_context(forward):
    params = list(inspect.signature(forward).parameters)
    first = params[1] if len(params) > 1 else None  # the input's name in forward

    @functools.wraps(forward)
    def saving_forward(self, *args, **kwargs):
        if not args and "input" in kwargs and first not in (None, "input"):
            args = (kwargs.pop("input"),)  # torch's keyword: layer(input=x)
        if self.__dict__.get("_recording") is not None:
            return forward(self, *args, **kwargs)  # super().forward: already saving
        if self._int_input is not None:
            args = _check_input(self, args)
        recording: dict = {}
        object.__setattr__(self, "_recording", recording)
        try:
            out = forward(self, *args, **kwargs)
        except BaseException:
            for name, old in recording.items():  # leave the module as it was
                if old is _MISSING:
                    self.__dict__.pop(name, None)
                else:
                    object.__setattr__(self, name, old)
            raise
        finally:
            object.__setattr__(self, "_recording", None)
        context = {k: self.__dict__[k] for k in recording if k in self.__dict__}
        self._saved.append((context, _output_shape(out)))
        return out

    return saving_forward


def _uses_context(backward):
    @functools.wraps(backward)
    def restoring_backward(self, *args, **kwargs):
        if self.__dict__.get("_in_backward"):
            return backward(self, *args, **kwargs)  # super().backward
        name = type(self).__name__
        if self._saved:
            context, out_shape = self._saved[-1]
        elif self._last_saved is not None:  # all consumed: repeat the last one
            context, out_shape = self._last_saved
        else:
            raise RuntimeError(
                f"{name}.backward called before forward: each backward "
                f"differentiates an earlier forward call (and train()/eval() "
                f"forget the calls not yet backpropagated)")
        from_stack = bool(self._saved)
        grad = args[0] if args else kwargs.get("grad_output")
        if isinstance(grad, list):
            raise TypeError(f"{name}.backward: expected grad_output as a NumPy "
                            f"array, got a list")
        if (out_shape is not None and grad is not None
                and not isinstance(grad, tuple) and np.shape(grad) != out_shape):
            raise ValueError(
                f"{name}.backward: grad_output has shape {np.shape(grad)}, expected "
                f"{out_shape}, the shape of the output of its forward call")
        for p in self._parameters.values():
            if p is not None and p.grad is None:  # after zero_grad(set_to_none=True)
                p.grad = np.zeros_like(p.data)
        if from_stack:
            self._saved.pop()
            object.__setattr__(self, "_last_saved", (context, out_shape))
        for key, value in context.items():
            object.__setattr__(self, key, value)
        object.__setattr__(self, "_in_backward", True)
        try:
            return backward(self, *args, **kwargs)
        except BaseException:
            if from_stack:  # a failed call consumes nothing
                self._saved.append((context, out_shape))
            raise
        finally:
            object.__setattr__(self, "_in_backward", False)

    return restoring_backward
