"""The dlbook model zoo (chapter 4 and the MNIST-1D experiments).

Full size, ImageNet input ``(N, 3, 224, 224)`` -> ``(N, 1000)``, with the exact
parameter counts of the widely used reference implementations: ``alexnet``,
``vgg11`` .. ``vgg19``, ``googlenet``, ``resnet18`` .. ``resnet152``; and
``lenet5`` for ``(N, 1, 32, 32)`` digits.

Small, trained on a CPU in seconds: ``digits_mlp`` and ``digits_cnn`` (8x8
digits), ``small_cnn`` and ``small_resnet`` (28x28 images), ``shapes_cnn``
(chapter 8's 32x32 shapes), the MNIST-1D
baselines ``mnist1d_logistic``, ``mnist1d_mlp``, ``mnist1d_cnn``,
``mnist1d_gru``, and a small Vision Transformer, ``vit``.

``get_model(name, **kwargs)`` builds any of them by name; ``list_models()``
lists the names. Count a full-size model without allocating its weights::

    with torch.device("meta"):
        m = resnet152()
    sum(p.numel() for p in m.parameters())  # 60,192,808
"""

from .alexnet import AlexNet, alexnet
from .googlenet import GoogLeNet, GoogLeNetOutputs, googlenet
from .lenet import LeNet5, lenet5
from .mnist1d import (
    MNIST1DCNN,
    MNIST1DGRU,
    MNIST1DMLP,
    MNIST1DLogistic,
    mnist1d_cnn,
    mnist1d_gru,
    mnist1d_logistic,
    mnist1d_mlp,
)
from .registry import get_model, list_models
from .resnet import (
    BasicBlock,
    Bottleneck,
    ResNet,
    resnet18,
    resnet34,
    resnet50,
    resnet101,
    resnet152,
)
from .small import (
    DigitsCNN,
    DigitsMLP,
    ShapesCNN,
    SmallCNN,
    digits_cnn,
    digits_mlp,
    shapes_cnn,
    small_cnn,
)
from .small_resnet import SmallBlock, SmallResNet, small_resnet
from .vgg import VGG, vgg11, vgg13, vgg16, vgg19
from .vit import PatchEmbedding, ViT, patchify, vit

__all__ = [
    "AlexNet", "alexnet",
    "VGG", "vgg11", "vgg13", "vgg16", "vgg19",
    "GoogLeNet", "GoogLeNetOutputs", "googlenet",
    "BasicBlock", "Bottleneck", "ResNet",
    "resnet18", "resnet34", "resnet50", "resnet101", "resnet152",
    "LeNet5", "lenet5",
    "DigitsMLP", "DigitsCNN", "SmallCNN", "digits_mlp", "digits_cnn", "small_cnn",
    "ShapesCNN", "shapes_cnn",
    "SmallBlock", "SmallResNet", "small_resnet",
    "MNIST1DLogistic", "MNIST1DMLP", "MNIST1DCNN", "MNIST1DGRU",
    "mnist1d_logistic", "mnist1d_mlp", "mnist1d_cnn", "mnist1d_gru",
    "PatchEmbedding", "ViT", "patchify", "vit",
    "get_model", "list_models",
]
from .gpt import GPT, GPTConfig  # noqa: F401 (re-exported, not in __all__)
