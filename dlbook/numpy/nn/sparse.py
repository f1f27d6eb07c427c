"""``Embedding``: a lookup table, the layer that turns token ids into vectors.

Looking up row ``i`` of the weight equals multiplying a one-hot vector by it,
so the gradient of the weight is the one-hot transpose times the upstream
gradient: each looked-up row receives the sum of the gradients of every
position that used it. ``np.add.at`` performs that sum; plain fancy-index
assignment ``grad[idx] += g`` would keep only one of several repeated indices.
"""

from __future__ import annotations

import numpy as np

from . import init
from .module import Module, Parameter


class Embedding(Module):
    """A (num_embeddings, embedding_dim) table; input ``(*)`` int -> output ``(*, D)``.

    As ``torch.nn.Embedding``: weight ~ N(0, 1); the row ``padding_idx`` (if
    given, negative counts from the end) starts at zero and never receives a
    gradient. ``backward`` returns None: integer indices have no gradient.
    """

    _int_input = "keep"

    def __init__(self, num_embeddings: int, embedding_dim: int,
                 padding_idx: int | None = None, *, dtype=np.float32, rng=None):
        super().__init__()
        if num_embeddings <= 0 or embedding_dim <= 0:
            raise ValueError(
                f"Embedding: num_embeddings and embedding_dim must be positive, got "
                f"{num_embeddings} and {embedding_dim}"
            )
        if padding_idx is not None:
            if not -num_embeddings <= padding_idx < num_embeddings:
                raise ValueError(
                    f"Embedding: padding_idx must be within [-{num_embeddings}, "
                    f"{num_embeddings - 1}], got {padding_idx}"
                )
            padding_idx = padding_idx % num_embeddings  # torch stores it non-negative
        self.num_embeddings = num_embeddings
        self.embedding_dim = embedding_dim
        self.padding_idx = padding_idx
        self.weight = Parameter(np.empty((num_embeddings, embedding_dim), dtype=dtype))
        self.reset_parameters(rng)
        self._indices = None

    def reset_parameters(self, rng=None) -> None:
        init.normal_(self.weight, rng=rng)
        if self.padding_idx is not None:
            self.weight.data[self.padding_idx] = 0

    def forward(self, input) -> np.ndarray:
        idx = np.asarray(input)
        if not np.issubdtype(idx.dtype, np.integer):
            raise TypeError(
                f"Embedding({self.num_embeddings}, {self.embedding_dim}): expected "
                f"integer indices, got dtype {idx.dtype}"
            )
        if idx.size and (idx.min() < 0 or idx.max() >= self.num_embeddings):
            bad = idx[(idx < 0) | (idx >= self.num_embeddings)]
            raise IndexError(
                f"Embedding({self.num_embeddings}, {self.embedding_dim}): indices must "
                f"be in [0, {self.num_embeddings - 1}], got {bad.ravel()[:5].tolist()}"
            )
        self._indices = idx  # backward scatters the gradient back to these rows
        return self.weight.data[idx]  # (*, D)

    def backward(self, grad_output: np.ndarray) -> None:
        if self._indices is None:
            raise RuntimeError("Embedding: call forward before backward")
        idx, D = self._indices, self.embedding_dim
        if np.shape(grad_output) != idx.shape + (D,):
            raise ValueError(
                f"Embedding.backward: expected grad_output of shape "
                f"{idx.shape + (D,)}, got {np.shape(grad_output)}"
            )
        g = np.asarray(grad_output).reshape(-1, D)  # (M, D), M = number of lookups
        flat = idx.reshape(-1)  # (M,)
        if self.padding_idx is not None:
            keep = flat != self.padding_idx
            flat, g = flat[keep], g[keep]
        np.add.at(self.weight.grad, flat, g)  # repeated indices accumulate
        return None

    def extra_repr(self) -> str:
        s = f"{self.num_embeddings}, {self.embedding_dim}"
        if self.padding_idx is not None:
            s += f", padding_idx={self.padding_idx}"
        return s
