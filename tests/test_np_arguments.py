"""Constructor arguments that torch takes and dlbook.numpy does not (issue 15
item 6): given at torch's default they change nothing and are accepted, so torch
code runs unchanged; any other value is refused with a TypeError that names the
class and the argument (it was Python's "__init__() got an unexpected keyword
argument", which names neither the layer nor a way out)."""

from __future__ import annotations

import inspect

import numpy as np
import pytest
import torch

from dlbook.numpy import nn as npnn
from dlbook.numpy import optim as npoptim
from dlbook.numpy.optim import lr_scheduler


def _params():
    return npnn.Linear(2, 2).parameters()


def _opt():
    return npoptim.SGD(_params(), lr=0.1)


# how to build each class that lacks some of torch's arguments
BUILD = {
    "Linear": (npnn, lambda c, **kw: c(3, 4, **kw)),
    "Conv1d": (npnn, lambda c, **kw: c(2, 3, 3, **kw)),
    "Conv2d": (npnn, lambda c, **kw: c(2, 3, 3, **kw)),
    "ConvTranspose2d": (npnn, lambda c, **kw: c(2, 3, 3, **kw)),
    "Embedding": (npnn, lambda c, **kw: c(5, 3, **kw)),
    "BatchNorm1d": (npnn, lambda c, **kw: c(3, **kw)),
    "BatchNorm2d": (npnn, lambda c, **kw: c(3, **kw)),
    "GroupNorm": (npnn, lambda c, **kw: c(1, 3, **kw)),
    "InstanceNorm1d": (npnn, lambda c, **kw: c(3, **kw)),
    "InstanceNorm2d": (npnn, lambda c, **kw: c(3, **kw)),
    "LayerNorm": (npnn, lambda c, **kw: c(3, **kw)),
    "RMSNorm": (npnn, lambda c, **kw: c(3, **kw)),
    "PReLU": (npnn, lambda c, **kw: c(**kw)),
    "RNNCell": (npnn, lambda c, **kw: c(2, 3, **kw)),
    "GRUCell": (npnn, lambda c, **kw: c(2, 3, **kw)),
    "LSTMCell": (npnn, lambda c, **kw: c(2, 3, **kw)),
    "MultiheadAttention": (npnn, lambda c, **kw: c(4, 2, **kw)),
    "TransformerEncoderLayer": (npnn, lambda c, **kw: c(4, 2, **kw)),
    "TransformerDecoderLayer": (npnn, lambda c, **kw: c(4, 2, **kw)),
    **{n: (npnn, lambda c, **kw: c(**kw)) for n in (
        "BCELoss", "BCEWithLogitsLoss", "CrossEntropyLoss", "KLDivLoss", "L1Loss",
        "MSELoss", "NLLLoss", "SmoothL1Loss")},
    **{n: (npoptim, lambda c, **kw: c(_params(), lr=0.1, **kw)) for n in (
        "SGD", "Adam", "AdamW", "Adagrad", "Adadelta", "RMSprop")},
    "OneCycleLR": (lr_scheduler, lambda c, **kw: c(_opt(), 0.1, total_steps=10,
                                                    **kw)),
}
TORCH = {npnn: torch.nn, npoptim: torch.optim, lr_scheduler: torch.optim.lr_scheduler}


def _other_value(default):
    """A value unlike torch's default, which asks for something dlbook lacks."""
    if default is None:
        return 1.0
    if isinstance(default, bool):
        return not default
    if isinstance(default, float):
        return default + 1.0
    return object()


def cases():
    for name, (module, build) in BUILD.items():
        ours = getattr(module, name)
        theirs = getattr(TORCH[module], name)
        have = set(inspect.signature(ours).parameters)
        for arg, p in inspect.signature(theirs.__init__).parameters.items():
            if arg in have or arg in ("self", "args", "kwargs"):
                continue
            yield pytest.param(ours, build, arg, p.default, id=f"{name}-{arg}")


CASES = list(cases())


def test_every_class_lacking_a_torch_argument_is_covered():
    lacking = set()
    for module, theirs in TORCH.items():
        for name in module.__all__:
            ours = getattr(module, name)
            if not inspect.isclass(ours) or not hasattr(theirs, name):
                continue
            torch_args = set(inspect.signature(getattr(theirs, name).__init__)
                             .parameters) - {"self", "args", "kwargs"}
            if torch_args - set(inspect.signature(ours).parameters):
                lacking.add(name)
    assert lacking == set(BUILD) and len(CASES) > 40


@pytest.mark.parametrize("cls, build, arg, default", CASES)
def test_torchs_argument_at_its_default_is_accepted(cls, build, arg, default):
    value = "cpu" if arg == "device" else default
    assert isinstance(build(cls, **{arg: value}), cls)


@pytest.mark.parametrize("cls, build, arg, default", CASES)
def test_torchs_argument_at_another_value_is_refused_by_name(cls, build, arg, default):
    value = "cuda" if arg == "device" else _other_value(default)
    with pytest.raises(TypeError) as info:
        build(cls, **{arg: value})
    message = str(info.value)
    assert message.startswith(f"{cls.__name__}: unsupported argument {arg}=")
    assert f"{cls.__name__} accepts: " in message


def test_wrong_positional_arguments_name_the_class_and_its_arguments():
    with pytest.raises(TypeError, match=r"^Linear: missing a required argument: "
                                        r"'out_features' \(Linear accepts: in_features"):
        npnn.Linear(3)
    with pytest.raises(TypeError, match=r"^Linear: too many positional arguments"):
        npnn.Linear(3, 4, True, np.float64)


def test_a_readers_own_module_keeps_its_signature_and_gets_the_same_errors():
    class Scale(npnn.Module):
        def __init__(self, factor):
            super().__init__()
            self.factor = factor

        def forward(self, x):
            return x * self.factor

    assert str(inspect.signature(Scale)) == "(factor)"
    assert Scale(2.0)(np.ones(2)).tolist() == [2.0, 2.0]
    with pytest.raises(TypeError, match=r"^Scale: unsupported argument facter=2"):
        Scale(facter=2)
