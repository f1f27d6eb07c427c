"""``dlbook.numpy.nn``: layers, losses and containers with hand-written backward."""

from . import functional, init, utils
from .module import Module, Parameter

# layers (added by their modules below)
