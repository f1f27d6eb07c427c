"""``dlbook.numpy.nn``: layers, losses and containers with hand-written backward."""

from . import functional, init, utils
from .activation import (ELU, GELU, SELU, Hardswish, LeakyReLU, LogSigmoid,
                         LogSoftmax, Maxout, Mish, PReLU, ReLU, ReLU6, Sigmoid, SiLU,
                         Softmax, Softplus, Tanh)
from .container import Flatten, ModuleDict, ModuleList, Sequential
from .conv import Conv1d, Conv2d, ConvTranspose2d
from .linear import Identity, Linear
from .loss import (BCELoss, BCEWithLogitsLoss, CrossEntropyLoss, HuberLoss,
                   KLDivLoss, L1Loss, MSELoss, NLLLoss, SmoothL1Loss,
                   cross_entropy_naive)
from .module import Module, Parameter
from .normalization import (BatchNorm1d, BatchNorm2d, GroupNorm, InstanceNorm1d,
                            InstanceNorm2d, LayerNorm, RMSNorm)
from .padding import ConstantPad2d, ReflectionPad2d, ZeroPad2d
from .pooling import (AdaptiveAvgPool1d, AdaptiveAvgPool2d, AdaptiveMaxPool1d,
                      AdaptiveMaxPool2d, AvgPool1d, AvgPool2d, MaxPool1d, MaxPool2d)

# sequence layers
from .attention import MultiheadAttention
from .dropout import Dropout
from .rnn import GRU, LSTM, RNN, GRUCell, LSTMCell, RNNCell
from .sparse import Embedding
