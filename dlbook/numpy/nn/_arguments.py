"""Clear refusals for constructor arguments that torch takes and dlbook does not.

``dlbook.numpy`` mirrors ``torch.nn`` and ``torch.optim`` signatures, but not every
argument: ``device=`` has no meaning for NumPy arrays, ``size_average=`` and
``reduce=`` are deprecated in torch itself, and a few options (``Embedding``'s
``max_norm``, say) are not implemented. Python's own message for such a call
("__init__() got an unexpected keyword argument 'device'") names neither the
layer nor a way out; :func:`checked_init` wraps a constructor so the message
says which class, which argument, why, and what it does accept.

An argument given at torch's default value asks for nothing different, so it
is accepted and dropped: ``SGD(params, lr=0.1, foreach=None)`` or
``Linear(3, 4, device="cpu")`` from torch code run unchanged.
"""

from __future__ import annotations

import functools
import inspect

# why an argument that torch takes is absent here, and what to do instead
_WHY = {
    "device": "dlbook.numpy keeps every array in CPU memory; leave device out",
    "size_average": "torch deprecated it; use reduction='mean', 'sum' or 'none'",
    "reduce": "torch deprecated it; use reduction='mean', 'sum' or 'none'",
    "foreach": "dlbook.numpy updates one parameter at a time; leave it out",
    "fused": "dlbook.numpy has no fused kernels; leave it out",
    "capturable": "there are no CUDA graphs in NumPy; leave it out",
    "differentiable": "there is no autograd in dlbook.numpy; leave it out",
    "decoupled_weight_decay": "AdamW is Adam with decoupled weight decay; use AdamW",
}

# torch's defaults of those arguments: given at these values they change nothing
_DEFAULTS = {
    "foreach": (None, False), "fused": (None, False), "capturable": (False,),
    "differentiable": (False,), "decoupled_weight_decay": (False,),
    "size_average": (None,), "reduce": (None,), "max_norm": (None,),
    "norm_type": (2.0,), "scale_grad_by_freq": (False,), "sparse": (False,),
    "_weight": (None,), "_freeze": (False,), "three_phase": (False,),
}


def _at_default(key: str, value) -> bool:
    if key == "device":
        return value is None or str(value) == "cpu"
    return any(value is d or (type(value) is type(d) and value == d)
               for d in _DEFAULTS.get(key, ()))


def _refusal(name: str, sig: inspect.Signature, args, kwargs, exc: TypeError) -> str:
    accepted = [p for p in list(sig.parameters)[1:]
                if sig.parameters[p].kind not in (inspect.Parameter.VAR_POSITIONAL,
                                                  inspect.Parameter.VAR_KEYWORD)]
    unknown = [k for k in kwargs if k not in sig.parameters]
    if unknown:
        k = unknown[0]
        why = _WHY.get(k, f"dlbook.numpy's {name} does not take it")
        return (f"{name}: unsupported argument {k}={kwargs[k]!r} ({why}). "
                f"{name} accepts: {', '.join(accepted)}")
    return f"{name}: {exc} ({name} accepts: {', '.join(accepted)})"


def checked_init(init):
    """Wrap ``__init__`` so that a call it cannot bind raises a TypeError naming
    the class, the argument and what is accepted; otherwise call it unchanged."""
    sig = inspect.signature(init)

    @functools.wraps(init)
    def init_with_clear_errors(self, *args, **kwargs):
        if any(k not in sig.parameters for k in kwargs):  # torch's, at its default
            kwargs = {k: v for k, v in kwargs.items()
                      if k in sig.parameters or not _at_default(k, v)}
        try:
            sig.bind(self, *args, **kwargs)
        except TypeError as exc:
            raise TypeError(_refusal(type(self).__name__, sig, args, kwargs, exc)) \
                from None
        init(self, *args, **kwargs)

    init_with_clear_errors.__signature__ = sig
    return init_with_clear_errors
