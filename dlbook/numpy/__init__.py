"""A deep learning framework written from scratch in NumPy.

Every module has a ``forward`` and a hand-written ``backward``; class names,
constructor arguments, parameter names and layouts mirror ``torch.nn``, so a
torch ``state_dict`` converted to NumPy loads unchanged.
"""

from . import nn, optim
from .gradcheck import gradcheck

__all__ = ["nn", "optim", "gradcheck"]
