"""Batches for :func:`dlbook.torch.fit`: ``ArrayLoader`` (mini-batches from
in-memory arrays, indexed on the device) and the helpers that turn what a reader
passes into batches on the right device and dtype."""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np
import torch
from torch import Tensor

from .device import device as pick_device

__all__ = ["ArrayLoader"]


class ArrayLoader:
    """Mini-batches from in-memory arrays, indexed on the device.

    A ``DataLoader`` over a ``TensorDataset`` collates every batch in Python on
    the CPU and copies it to the GPU; for data sets that fit in GPU memory it is
    far faster to move everything once and index there. ``ArrayLoader`` does that
    when the arrays take less than half of the free GPU memory, and otherwise
    keeps them on the CPU (batches are then moved as usual).

    X, y: NumPy arrays or tensors with the same first dimension. ``seed`` fixes
    the shuffling order (a new permutation every epoch, the same sequence on
    every run).
    """

    def __init__(self, X, y, batch_size: int = 64, shuffle: bool = False,
                 device=None, seed: int | None = None, drop_last: bool = False):
        X, y = _as_tensor(X, "X"), _as_tensor(y, "y")
        if len(X) != len(y):
            raise ValueError(
                f"ArrayLoader: X and y must have the same length, got X "
                f"{tuple(X.shape)} and y {tuple(y.shape)}"
            )
        if batch_size <= 0:
            raise ValueError(f"ArrayLoader: batch_size must be positive, got "
                             f"{batch_size}")
        self.device = pick_device() if device is None else torch.device(device)
        target = self.device if _fits_on(self.device, X, y) else torch.device("cpu")
        self.X, self.y = X.to(target), y.to(target)  # moved once
        self.batch_size, self.shuffle, self.drop_last = batch_size, shuffle, drop_last
        self.seed = seed
        self._gen = torch.Generator()
        self._gen.manual_seed(seed if seed is not None else
                              int(torch.randint(0, 2**62, (1,)).item()))

    def __len__(self) -> int:
        n = len(self.X)
        if self.drop_last:
            return n // self.batch_size
        return math.ceil(n / self.batch_size)

    def __iter__(self):
        n = len(self.X)
        if self.shuffle:
            order = torch.randperm(n, generator=self._gen).to(self.X.device)
        else:
            order = torch.arange(n, device=self.X.device)
        for i in range(len(self)):
            idx = order[i * self.batch_size:(i + 1) * self.batch_size]
            yield self.X[idx], self.y[idx]

    @property
    def dataset_size(self) -> int:
        return len(self.X)

    def __repr__(self):
        return (f"ArrayLoader({len(self.X)} samples, X {tuple(self.X.shape[1:])} "
                f"{str(self.X.dtype).replace('torch.', '')}, batch_size="
                f"{self.batch_size}, shuffle={self.shuffle}, on {self.X.device})")


def _as_tensor(a, name) -> Tensor:
    if isinstance(a, Tensor):
        return a
    if isinstance(a, np.ndarray):
        return torch.from_numpy(np.ascontiguousarray(a))
    try:
        return torch.as_tensor(np.asarray(a))
    except Exception as e:  # noqa: BLE001 - re-raised with context
        raise TypeError(f"ArrayLoader: {name} must be an array or tensor, got "
                        f"{type(a).__name__}") from e


def _fits_on(dev: torch.device, *tensors: Tensor) -> bool:
    if dev.type != "cuda":
        return True  # cpu, and mps shares memory with the host anyway
    need = sum(t.numel() * t.element_size() for t in tensors)
    free, _ = torch.cuda.mem_get_info(dev)
    return need < 0.5 * free


def as_loader(data, *, batch_size, shuffle, device, seed, what):
    """A DataLoader, ArrayLoader or any iterable of (x, y) batches passes through;
    a tuple (X, y) of arrays becomes an ArrayLoader."""
    if data is None:
        return None
    if isinstance(data, (tuple, list)) and len(data) == 2 and all(
            isinstance(a, (np.ndarray, Tensor)) for a in data):
        return ArrayLoader(data[0], data[1], batch_size=batch_size, shuffle=shuffle,
                           device=device, seed=seed)
    if isinstance(data, Iterable) and not isinstance(data, (str, bytes, dict)):
        return data
    raise TypeError(
        f"{what}: expected a DataLoader, an ArrayLoader, an iterable of (x, y) "
        f"batches, or a tuple (X, y) of arrays/tensors; got {type(data).__name__}"
    )


def _to(obj, dev, dtype: torch.dtype | None = None):
    """Tensors (also inside tuples and lists) moved to ``dev``; floating ones
    converted to ``dtype`` when given (float64 NumPy data meets a float32 model)."""
    if isinstance(obj, Tensor):
        # non_blocking only towards an accelerator: a non-blocking copy to the
        # CPU may still be in flight when the CPU reads the result
        non_blocking = torch.device(dev).type != "cpu"
        if dtype is not None and obj.is_floating_point() and obj.dtype != dtype:
            return obj.to(dev, dtype=dtype, non_blocking=non_blocking)
        return obj.to(dev, non_blocking=non_blocking)
    if isinstance(obj, (tuple, list)):
        return type(obj)(_to(o, dev, dtype) for o in obj)
    return obj


def _split(batch, what):
    if not (isinstance(batch, (tuple, list)) and len(batch) == 2):
        raise TypeError(
            f"{what}: each batch must be a pair (inputs, targets), got "
            f"{type(batch).__name__}"
            + (f" of length {len(batch)}" if isinstance(batch, (tuple, list)) else "")
        )
    return batch
