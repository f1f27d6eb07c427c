"""Look up a model of the zoo by name: ``get_model("resnet18", num_classes=10)``."""

from __future__ import annotations

import difflib
from collections.abc import Callable

from torch import nn

from .alexnet import alexnet
from .googlenet import googlenet
from .lenet import lenet5
from .mnist1d import mnist1d_cnn, mnist1d_gru, mnist1d_logistic, mnist1d_mlp
from .resnet import resnet18, resnet34, resnet50, resnet101, resnet152
from .small import digits_cnn, digits_mlp, shapes_cnn, small_cnn
from .small_resnet import small_resnet
from .vgg import vgg11, vgg13, vgg16, vgg19
from .vit import vit

# Built once from the factory functions above; read-only after import.
_MODELS: dict[str, Callable[..., nn.Module]] = {
    f.__name__: f
    for f in [
        lenet5, alexnet, vgg11, vgg13, vgg16, vgg19, googlenet,
        resnet18, resnet34, resnet50, resnet101, resnet152,
        digits_mlp, digits_cnn, small_cnn, small_resnet,
        mnist1d_logistic, mnist1d_mlp, mnist1d_cnn, mnist1d_gru,
        shapes_cnn, vit,
    ]
}


def list_models() -> list[str]:
    """Names accepted by :func:`get_model`, in the order of the book."""
    return list(_MODELS)


def get_model(name: str, **kwargs) -> nn.Module:
    """Build the model called ``name``, passing ``kwargs`` to its factory.

    Names are case-insensitive and ignore ``-``, so ``"ResNet-18"`` works.
    An unknown name raises a ``ValueError`` that lists the valid names.
    """
    if not isinstance(name, str):
        raise TypeError(f"get_model: name must be a str, got {type(name).__name__}")
    key = name.lower().replace("-", "")
    if key not in _MODELS:
        close = difflib.get_close_matches(key, _MODELS, n=1)
        guess = f" Did you mean {close[0]!r}?" if close else ""
        raise ValueError(
            f"get_model: unknown model {name!r}.{guess} "
            f"Valid names: {', '.join(_MODELS)}"
        )
    return _MODELS[key](**kwargs)
