"""``dlbook.numpy.nn``: layers, losses and containers with hand-written backward."""

from . import functional, init, utils
from .activation import (
    ELU,
    GELU,
    SELU,
    Hardswish,
    LeakyReLU,
    LogSigmoid,
    LogSoftmax,
    Maxout,
    Mish,
    PReLU,
    ReLU,
    ReLU6,
    Sigmoid,
    SiLU,
    Softmax,
    Softplus,
    Tanh,
)
from .attention import MultiheadAttention, multi_head_attention_naive
from .container import Flatten, ModuleDict, ModuleList, Sequential
from .conv import Conv1d, Conv2d, ConvTranspose2d
from .dropout import Dropout
from .linear import Identity, Linear
from .loss import (
    BCELoss,
    BCEWithLogitsLoss,
    CrossEntropyLoss,
    HuberLoss,
    KLDivLoss,
    L1Loss,
    MSELoss,
    NLLLoss,
    SmoothL1Loss,
    cross_entropy_naive,
)
from .module import Module, Parameter
from .normalization import (
    BatchNorm1d,
    BatchNorm2d,
    GroupNorm,
    InstanceNorm1d,
    InstanceNorm2d,
    LayerNorm,
    RMSNorm,
)
from .padding import ConstantPad2d, ReflectionPad2d, ZeroPad2d
from .pooling import (
    AdaptiveAvgPool1d,
    AdaptiveAvgPool2d,
    AdaptiveMaxPool1d,
    AdaptiveMaxPool2d,
    AvgPool1d,
    AvgPool2d,
    MaxPool1d,
    MaxPool2d,
)
from .rnn import GRU, LSTM, RNN, GRUCell, LSTMCell, RNNCell, rnn_naive
from .sparse import Embedding
from .transformer import TransformerDecoderLayer, TransformerEncoderLayer

__all__ = [
    "functional", "init", "utils",
    # base classes and containers
    "Module", "Parameter", "Sequential", "ModuleList", "ModuleDict", "Flatten",
    "Identity",
    # layers
    "Linear", "Conv1d", "Conv2d", "ConvTranspose2d", "Dropout", "Embedding",
    "MaxPool1d", "MaxPool2d", "AvgPool1d", "AvgPool2d", "AdaptiveAvgPool1d",
    "AdaptiveAvgPool2d", "AdaptiveMaxPool1d", "AdaptiveMaxPool2d",
    "ZeroPad2d", "ConstantPad2d", "ReflectionPad2d",
    "BatchNorm1d", "BatchNorm2d", "GroupNorm", "InstanceNorm1d", "InstanceNorm2d",
    "LayerNorm", "RMSNorm",
    # activations
    "ELU", "GELU", "SELU", "Hardswish", "LeakyReLU", "LogSigmoid", "LogSoftmax",
    "Maxout", "Mish", "PReLU", "ReLU", "ReLU6", "Sigmoid", "SiLU", "Softmax",
    "Softplus", "Tanh",
    # sequences and attention
    "RNN", "GRU", "LSTM", "RNNCell", "GRUCell", "LSTMCell", "MultiheadAttention",
    "TransformerEncoderLayer", "TransformerDecoderLayer",
    # losses
    "BCELoss", "BCEWithLogitsLoss", "CrossEntropyLoss", "HuberLoss", "KLDivLoss",
    "L1Loss", "MSELoss", "NLLLoss", "SmoothL1Loss",
    # the basic versions the fast layers are tested against
    "cross_entropy_naive", "multi_head_attention_naive", "rnn_naive",
]
