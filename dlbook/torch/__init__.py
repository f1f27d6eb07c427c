"""The PyTorch half of dlbook: what a reader runs on a GPU.

* :func:`device` picks cuda, then mps, then cpu;
* :mod:`dlbook.torch.nn` holds teaching modules written from tensor operations
  (RNN/GRU/LSTM, attention, positional encoding, unfold convolution, RoI pooling)
  that match ``torch.nn``;
* :mod:`dlbook.torch.train` holds the training loop (:func:`fit`, :class:`History`,
  :class:`ArrayLoader`, checkpoints);
* :mod:`dlbook.torch.models` (the model zoo, GPT included) is imported on first use.
"""

from . import nn, train
from .device import device
from .train import ArrayLoader, History, evaluate, fit, load_checkpoint, save_checkpoint

__all__ = [
    "device", "nn", "train",
    "fit", "evaluate", "History", "ArrayLoader", "save_checkpoint", "load_checkpoint",
]


def __getattr__(name):
    # `dlbook.torch.models` on first use: the zoo is not needed to import dlbook.torch
    if name == "models":
        import importlib

        return importlib.import_module(".models", __name__)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
