"""``Sequential``, ``ModuleList``, ``ModuleDict`` and ``Flatten``."""

from __future__ import annotations

from collections import OrderedDict

import numpy as np

from .module import Module


def _checked_index(kind: str, idx: int, n: int) -> int:
    """``idx`` as a position in ``range(n)``, torch's IndexError otherwise."""
    if not -n <= idx < n:
        raise IndexError(f"{kind} index {idx} is out of range for length {n}")
    return idx % n


class Sequential(Module):
    """Chains modules: forward runs them in order, backward in reverse.

    ``Sequential(a, b, c)`` names its children ``0, 1, 2`` (so parameters are
    ``0.weight`` ...); ``Sequential(OrderedDict(fc=..., act=...))`` uses the keys.
    """

    _int_input = "keep"

    def __init__(self, *args):
        super().__init__()
        if len(args) == 1 and isinstance(args[0], (dict, OrderedDict)):
            for name, module in args[0].items():
                self.add_module(name, module)
        else:
            for i, module in enumerate(args):
                self.add_module(str(i), module)

    def add_module(self, name: str, module: Module) -> None:
        if not isinstance(module, Module):
            raise TypeError(f"Sequential: {name!r} is a {type(module).__name__}, "
                            f"not a dlbook.numpy.nn.Module")
        setattr(self, name, module)

    def append(self, module: Module) -> Sequential:
        self.add_module(str(len(self)), module)
        return self

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())

    def __getitem__(self, idx):
        if isinstance(idx, slice):
            return Sequential(OrderedDict(list(self._modules.items())[idx]))
        i = _checked_index("Sequential", idx, len(self))
        return list(self._modules.values())[i]

    def forward(self, x):
        for module in self._modules.values():
            x = module(x)
        return x

    def backward(self, grad_output):
        for module in reversed(self._modules.values()):
            grad_output = module.backward(grad_output)
        return grad_output


class ModuleList(Module):
    """A list of modules whose parameters the parent sees, as ``torch.nn.ModuleList``.

    It has no forward: the parent's forward calls the modules, and its backward
    calls their ``backward`` in reverse order. Children are named ``0, 1, ...``.
    """

    def __init__(self, modules=None):
        super().__init__()
        for module in modules or ():
            self.append(module)

    def append(self, module: Module) -> ModuleList:
        if not isinstance(module, Module):
            raise TypeError(f"ModuleList: expected a dlbook.numpy.nn.Module, got "
                            f"{type(module).__name__}")
        setattr(self, str(len(self)), module)
        return self

    def extend(self, modules) -> ModuleList:
        for module in modules:
            self.append(module)
        return self

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())

    def __getitem__(self, idx):
        if isinstance(idx, slice):
            return ModuleList(list(self._modules.values())[idx])
        i = _checked_index("ModuleList", idx, len(self))
        return list(self._modules.values())[i]

    def __setitem__(self, idx: int, module: Module) -> None:
        setattr(self, str(_checked_index("ModuleList", idx, len(self))), module)

    def forward(self, *args, **kwargs):
        raise NotImplementedError("ModuleList has no forward: call its modules in "
                                  "your own forward (as with torch.nn.ModuleList)")


class ModuleDict(Module):
    """Modules by name, registered like attributes (``torch.nn.ModuleDict``)."""

    def __init__(self, modules=None):
        super().__init__()
        for name, module in dict(modules or {}).items():
            self[name] = module

    def __setitem__(self, name: str, module: Module) -> None:
        if not isinstance(module, Module):
            raise TypeError(f"ModuleDict: {name!r} is a {type(module).__name__}, not "
                            f"a dlbook.numpy.nn.Module")
        setattr(self, name, module)

    def __getitem__(self, name: str) -> Module:
        return self._modules[name]

    def __contains__(self, name: str) -> bool:
        return name in self._modules

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules)

    def keys(self):
        return self._modules.keys()

    def values(self):
        return self._modules.values()

    def items(self):
        return self._modules.items()

    def forward(self, *args, **kwargs):
        raise NotImplementedError("ModuleDict has no forward: call its modules in "
                                  "your own forward (as with torch.nn.ModuleDict)")


class Flatten(Module):
    """Merges dims ``start_dim..end_dim``: (N, C, H, W) -> (N, C*H*W) by default."""

    _int_input = "keep"

    def __init__(self, start_dim: int = 1, end_dim: int = -1):
        super().__init__()
        self.start_dim = start_dim
        self.end_dim = end_dim

    def forward(self, x: np.ndarray) -> np.ndarray:
        nd = x.ndim
        for what, dim in (("start_dim", self.start_dim), ("end_dim", self.end_dim)):
            if not -max(nd, 1) <= dim < max(nd, 1):  # torch's range (0-d counts as 1-d)
                raise ValueError(f"{self!r}: {what} {dim} is out of range for input "
                                 f"of shape {x.shape} ({nd} dimensions)")
        s = self.start_dim % nd if nd else 0
        e = self.end_dim % nd if nd else 0
        if s > e:
            raise ValueError(f"{self!r}: start_dim {self.start_dim} comes after "
                             f"end_dim {self.end_dim} for input of shape {x.shape}")
        self.input_shape = x.shape
        merged = int(np.prod(x.shape[s:e + 1]))  # not -1: an empty batch works too
        return x.reshape(x.shape[:s] + (merged,) + x.shape[e + 1:])

    def backward(self, grad_output: np.ndarray) -> np.ndarray:
        return grad_output.reshape(self.input_shape)

    def extra_repr(self) -> str:
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"
