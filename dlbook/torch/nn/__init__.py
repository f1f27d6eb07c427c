"""Teaching modules written from tensor operations, beside torch's fast paths.

Each class mirrors its ``torch.nn`` namesake (constructor, parameter names,
``state_dict`` keys and init), so ``mine.load_state_dict(theirs.state_dict())``
gives the same outputs and gradients.
"""

from .attention import (
    MultiheadAttention,
    scaled_dot_product_attention,
    scaled_dot_product_attention_naive,
)
from .conv import Conv2d, conv2d_unfold
from .lora import LoRALinear, add_lora, lora_layers
from .positional import SinusoidalPositionalEncoding, sinusoidal_positional_encoding
from .rmsnorm import RMSNorm
from .rnn import GRU, LSTM, RNN, GRUCell, LSTMCell, RNNCell
from .roi import RoIPool, roi_pool
from .roi_align import RoIAlign, bilinear_sample, roi_align
from .transformer import TransformerBlock

__all__ = [
    "RNNCell", "GRUCell", "LSTMCell", "RNN", "GRU", "LSTM",
    "MultiheadAttention",
    "scaled_dot_product_attention_naive", "scaled_dot_product_attention",
    "SinusoidalPositionalEncoding", "sinusoidal_positional_encoding",
    "TransformerBlock",
    "conv2d_unfold", "Conv2d",
    "roi_pool", "RoIPool",
    "roi_align", "RoIAlign", "bilinear_sample",
    "LoRALinear", "add_lora", "lora_layers",
    "RMSNorm",
]
