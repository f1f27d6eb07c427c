"""Small real data sets that need no download: scikit-learn's digits and MNIST-1D."""

from __future__ import annotations

import hashlib
import json
import os
import random
import tempfile
import zipfile

import numpy as np

from .cache import cache_dir

Split = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]


def load_digits(test_size: float = 0.2, seed: int = 0) -> Split:
    """scikit-learn's 1,797 real 8x8 handwritten digits, split once and for all.

    Returns ``(X_train, y_train, X_test, y_test)``: X of shape (N, 64), float32,
    pixel values scaled from 0..16 to [0, 1]; y of shape (N,), int64 in 0..9. The
    split is stratified (each digit keeps its share in both parts) and fixed by
    ``seed``: with the defaults, 1,437 training and 360 test images. Reshape X to
    (N, 1, 8, 8) for a CNN.
    """
    from sklearn.datasets import load_digits as _sk_digits
    from sklearn.model_selection import train_test_split

    if not 0.0 < test_size < 1.0:
        raise ValueError(f"load_digits: test_size must lie in (0, 1), got {test_size}")
    bunch = _sk_digits()
    X = (bunch.data / 16.0).astype(np.float32)
    y = bunch.target.astype(np.int64)
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=test_size, stratify=y, random_state=seed
    )
    return X_train, y_train, X_test, y_test


def _mnist1d_args(shuffle_seq: bool):
    from mnist1d.data import get_dataset_args

    args = get_dataset_args()
    args.shuffle_seq = shuffle_seq
    return args


def load_mnist1d(shuffle_seq: bool = False, cache: bool = True) -> Split:
    """MNIST-1D (Greydanus 2020), generated locally, cached after the first call.

    Exactly what ``mnist1d.data.make_dataset(get_dataset_args())`` produces: 4,000
    training and 1,000 test sequences of length 40, ten classes. Returns
    ``(X_train, y_train, X_test, y_test)`` with X float32 of shape (N, 40) and y
    int64. ``shuffle_seq=True`` gives the paper's variant whose 40 positions are
    permuted by one fixed permutation, which removes the spatial structure that
    convolutions exploit.

    The generator reseeds NumPy's and Python's global random state; this loader
    restores both, so calling it never changes what your own code draws next.
    The cache is a ``.npz`` file in :func:`~dlbook.data.cache.cache_dir`, keyed by
    a hash of the generation arguments; it is never written into the working
    directory.
    """
    args = _mnist1d_args(shuffle_seq)
    settings = {k: v for k, v in vars(args).items() if k != "url"}
    key = hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:16]
    path = cache_dir("mnist1d") / f"mnist1d_{key}.npz"
    if cache and path.exists():
        try:
            with np.load(path) as f:
                return f["X_train"], f["y_train"], f["X_test"], f["y_test"]
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
            path.unlink(missing_ok=True)  # a damaged cache is regenerated, not trusted

    from mnist1d.data import make_dataset

    np_state, py_state = np.random.get_state(), random.getstate()
    try:
        data = make_dataset(args)
    finally:
        np.random.set_state(np_state)
        random.setstate(py_state)
    split = (
        data["x"].astype(np.float32),
        data["y"].astype(np.int64),
        data["x_test"].astype(np.float32),
        data["y_test"].astype(np.int64),
    )
    if cache:
        # a name of its own per writer (two processes may generate at once), then
        # an atomic rename: readers never see a half-written cache
        fd, tmp = tempfile.mkstemp(suffix=".partial.npz", dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as f:
                np.savez(f, X_train=split[0], y_train=split[1], X_test=split[2],
                         y_test=split[3])
            os.replace(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
    return split
