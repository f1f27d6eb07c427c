"""The PyTorch half of dlbook: what a reader runs on a GPU."""

from .device import device

__all__ = ["device"]
