"""Small utilities every chapter uses: seeding, counting parameters, timing."""

from __future__ import annotations

import os
import random
import time
from typing import Any

import numpy as np


def seed_everything(seed: int = 0, deterministic: bool = False) -> np.random.Generator:
    """Seed Python's ``random``, NumPy's global state and torch (CPU and CUDA).

    Returns a fresh ``np.random.Generator`` seeded with ``seed`` for code that
    prefers explicit generators. ``deterministic=True`` also asks torch for
    deterministic kernels (slower on a GPU; CPU results are deterministic anyway).
    On CUDA torch then raises a RuntimeError at any operation that has no
    deterministic kernel, among them the backward passes of adaptive pooling
    (GoogLeNet, ResNet heads) and of reflection padding.
    torch is optional: without it only Python and NumPy are seeded.
    """
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool):
        raise TypeError(
            f"seed_everything: seed must be an int, got {type(seed).__name__}"
        )
    random.seed(seed)
    np.random.seed(seed % 2**32)
    os.environ["PYTHONHASHSEED"] = str(seed)  # for subprocesses started from here
    try:
        import torch
    except ImportError:  # pragma: no cover - torch is a dependency, but stay usable
        return np.random.default_rng(seed)
    torch.manual_seed(seed)  # seeds CUDA and MPS generators too
    if deterministic:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.use_deterministic_algorithms(True)
        if torch.cuda.is_available():  # cuDNN only matters, and may only be
            torch.backends.cudnn.benchmark = False  # set, where CUDA runs
    return np.random.default_rng(seed)


SEED_VARIABLE = "DLBOOK_SEED"


def book_seed(default: int = 0) -> int:
    """The seed a notebook runs with: ``$DLBOOK_SEED`` if set, else ``default``.

    Every page calls this once in its setup cell and derives all of its
    randomness from the result, so ``DLBOOK_SEED=7 make test`` changes every
    data draw, initialisation, batch order and sample on every page. The stored
    outputs are recorded with the default.
    """
    value = os.environ.get(SEED_VARIABLE, "").strip()
    if not value:
        return int(default)
    try:
        return int(value)
    except ValueError:
        raise ValueError(
            f"book_seed: ${SEED_VARIABLE} must be an integer, got {value!r}"
        ) from None


def seeds(n: int, base: int) -> list[int]:
    """``n`` distinct seeds derived from ``base``: ``[base, base + 1, ...]``.

    For claims about a method rather than a run: repeat an experiment over
    ``seeds(3, SEED)`` and report the spread.
    """
    if n < 1:
        raise ValueError(f"seeds: n must be at least 1, got {n}")
    return [int(base) + k for k in range(n)]


def _iter_parameters(model: Any):
    params = getattr(model, "parameters", None)
    if params is None:
        raise TypeError(
            f"count_parameters: expected a torch.nn.Module or dlbook.numpy Module, "
            f"got {type(model).__name__}"
        )
    return params()


def count_parameters(model: Any, trainable_only: bool = False) -> int:
    """Number of scalar parameters of a torch or dlbook.numpy module.

    Tied parameters (one tensor used twice) count once, as in the papers.
    ``trainable_only`` skips torch parameters with ``requires_grad=False``.
    Works on the ``meta`` device, so full-size models cost no memory to count.
    """
    total, seen = 0, set()
    for p in _iter_parameters(model):
        if id(p) in seen:
            continue
        seen.add(id(p))
        if trainable_only and not getattr(p, "requires_grad", True):
            continue
        n = p.numel() if callable(getattr(p, "numel", None)) else np.size(p.data)
        total += int(n)
    return total


class Timer:
    """Measure wall time with ``with Timer() as t: ...``; then ``t.elapsed`` (s).

    ``Timer("train")`` with ``verbose=True`` prints ``train: 1.23 s`` on exit. For
    GPU work pass ``sync=torch.cuda.synchronize`` so queued kernels are counted.
    """

    def __init__(self, name: str | None = None, verbose: bool = False, sync=None):
        self.name, self.verbose, self.sync = name, verbose, sync
        self.start: float | None = None
        self.elapsed: float = 0.0

    def __enter__(self) -> Timer:
        if self.sync:
            self.sync()
        self.start = time.perf_counter()
        return self

    def __exit__(self, *exc) -> None:
        if self.sync:
            self.sync()
        self.elapsed = time.perf_counter() - self.start
        if self.verbose:
            print(f"{self.name or 'elapsed'}: {self.elapsed:.3f} s")

    def __repr__(self) -> str:
        return f"Timer(name={self.name!r}, elapsed={self.elapsed:.4f})"


def format_count(n: int) -> str:
    """``61100840 -> '61.1M'``: parameter counts the way papers quote them."""
    for unit, scale in (("B", 1e9), ("M", 1e6), ("K", 1e3)):
        if abs(n) >= scale:
            return f"{n / scale:.1f}{unit}"
    return str(n)
