"""``dlbook.numpy.optim``: optimizers and learning-rate schedulers with torch's
update rules, so trajectories agree with ``torch.optim`` step for step."""

from . import lr_scheduler
from .adadelta import Adadelta
from .adagrad import Adagrad
from .adam import Adam, AdamW
from .optimizer import Optimizer
from .rmsprop import RMSprop
from .sgd import SGD

__all__ = ["Optimizer", "SGD", "Adagrad", "Adadelta", "RMSprop", "Adam", "AdamW",
           "lr_scheduler"]
