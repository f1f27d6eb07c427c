"""Conceptual diagrams of the book, drawn from code in one visual language.

:mod:`dlbook.diagrams._canvas` defines the vocabulary (tensor, layer,
operation and loss nodes; arrows labelled with tensor shapes). Each chapter's
diagrams live in a module of their own and are re-exported here, so a page
calls, for example, ``diagrams.residual_block()`` and gets a Figure.
"""

from dlbook.diagrams._canvas import (  # noqa: F401
    KINDS,
    Node,
    arrow,
    box,
    canvas,
    group,
    label,
    legend,
    op,
    path,
)
from dlbook.diagrams.attention import (  # noqa: F401, E402
    data_parallel,
    encoder_decoder,
    modern_block,
    multi_head_attention,
    qkv_attention,
    tensor_parallel_mlp,
    transformer_block,
)
from dlbook.diagrams.vision import rcnn_pipelines, unet  # noqa: F401, E402
from dlbook.diagrams.cnn import (  # noqa: F401, E402
    conv_arithmetic,
    conv_output_size,
    inception_module,
    neuron,
    residual_block,
    transposed_conv,
    transposed_conv_output_size,
)
from dlbook.diagrams.norm import dropout, normalization_axes  # noqa: F401, E402
from dlbook.diagrams.rnn import gru_cell, lstm_cell, rnn_unrolled  # noqa: F401, E402
from dlbook.diagrams.lessons import (  # noqa: F401, E402
    sawtooth_network,
    small_cnn,
    training_checklist,
)
