"""``dlbook.numpy.nn``: layers, losses and containers with hand-written backward."""

from . import functional, init
from .activation import (ELU, GELU, LeakyReLU, LogSoftmax, Maxout, ReLU, Sigmoid,
                         SiLU, Softmax, Tanh)
from .container import Flatten, Sequential
from .linear import Identity, Linear
from .loss import BCELoss, BCEWithLogitsLoss, CrossEntropyLoss, L1Loss, MSELoss, NLLLoss
from .module import Module, Parameter

# sequence layers
from .attention import MultiheadAttention
from .dropout import Dropout
from .rnn import GRU, LSTM, RNN, GRUCell, LSTMCell, RNNCell
from .sparse import Embedding
