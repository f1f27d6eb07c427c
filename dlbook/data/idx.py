"""The IDX format of (Fashion-)MNIST, and loaders that download and parse it.

IDX (LeCun et al.): a 4-byte magic number -- two zero bytes, a type code, the
number of dimensions -- then one big-endian uint32 per dimension, then the data in
row-major order. MNIST and Fashion-MNIST ship gzipped IDX files.
"""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import numpy as np

from .download import download

# type code -> big-endian dtype
_IDX_TYPES = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}


def read_idx(source: str | os.PathLike | bytes) -> np.ndarray:
    """Parse an IDX file (path or bytes; gzip detected by its magic bytes).

    Returns an array of the stored shape in native byte order. Raises ValueError
    for anything that is not well-formed IDX, saying what was wrong.
    """
    raw = source if isinstance(source, bytes) else Path(source).read_bytes()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0:
        raise ValueError(
            f"not an IDX file: magic bytes {raw[:4]!r}, expected 00 00 tt nd"
        )
    code, ndim = raw[2], raw[3]
    if code not in _IDX_TYPES:
        raise ValueError(
            f"IDX: unknown data type code 0x{code:02x}; expected one of "
            f"{', '.join(f'0x{c:02x}' for c in _IDX_TYPES)}"
        )
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise ValueError(
            f"IDX: header for {ndim} dimensions needs {header} bytes, "
            f"file has {len(raw)}"
        )
    shape = tuple(int(d) for d in np.frombuffer(raw, ">u4", count=ndim, offset=4))
    dtype = _IDX_TYPES[code]
    size = int(np.prod(shape)) * dtype.itemsize
    if len(raw) - header != size:
        raise ValueError(
            f"IDX: shape {shape} of {dtype.name} needs {size} data bytes, "
            f"file has {len(raw) - header}"
        )
    data = np.frombuffer(raw, dtype, offset=header).reshape(shape)
    return data.astype(dtype.newbyteorder("="))


# (file name, md5): the digests published with each data set
_MNIST_FILES = {
    "train_images": ("train-images-idx3-ubyte.gz", "f68b3c2dcbeaaa9fbdd348bbdeb94873"),
    "train_labels": ("train-labels-idx1-ubyte.gz", "d53e105ee54ea40749a09fcbcd1e9432"),
    "test_images": ("t10k-images-idx3-ubyte.gz", "9fb629c4189551a2d022fa330f9573f3"),
    "test_labels": ("t10k-labels-idx1-ubyte.gz", "ec29112dd5afa0611ce80d1b7f02629c"),
}
_FASHION_FILES = {
    "train_images": ("train-images-idx3-ubyte.gz", "8d4fb7e6c68d591d4c3dfef9ec88bf0d"),
    "train_labels": ("train-labels-idx1-ubyte.gz", "25c81989df183df01b3e8a0aad5dffbe"),
    "test_images": ("t10k-images-idx3-ubyte.gz", "bef4ecab320f06d8554ea6380940ec79"),
    "test_labels": ("t10k-labels-idx1-ubyte.gz", "bb300cfdad3c16e7a12a480ee83cd310"),
}
MNIST_URL = "https://ossci-datasets.s3.amazonaws.com/mnist/"
FASHION_MNIST_URL = "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"


def _load_idx_set(base_url: str, files: dict, subdir: str, root, timeout: float):
    base = base_url if base_url.endswith("/") else base_url + "/"
    arrays = {}
    for key, (name, md5) in files.items():
        path = download(base + name, md5=md5, subdir=subdir, root=root, timeout=timeout)
        arrays[key] = read_idx(path)
    X_train = (arrays["train_images"].astype(np.float32) / 255.0)[:, None]
    X_test = (arrays["test_images"].astype(np.float32) / 255.0)[:, None]
    return (
        X_train,
        arrays["train_labels"].astype(np.int64),
        X_test,
        arrays["test_labels"].astype(np.int64),
    )


def load_mnist(base_url: str = MNIST_URL, root=None, timeout: float = 30.0):
    """MNIST (LeCun et al. 1998): downloads ~11 MB once, verified, then cached.

    Returns ``(X_train, y_train, X_test, y_test)``: X float32 (N, 1, 28, 28) in
    [0, 1], y int64; 60,000 training and 10,000 test images. Needs internet the
    first time; see :func:`~dlbook.data.download.download` for what happens offline.
    """
    return _load_idx_set(base_url, _MNIST_FILES, "mnist", root, timeout)


def load_fashion_mnist(
    base_url: str = FASHION_MNIST_URL, root=None, timeout: float = 30.0
):
    """Fashion-MNIST (Xiao et al. 2017), same format and shapes as MNIST.

    Ten clothing classes (T-shirt/top, trouser, pullover, dress, coat, sandal,
    shirt, sneaker, bag, ankle boot); a harder drop-in for MNIST.
    """
    return _load_idx_set(base_url, _FASHION_FILES, "fashion_mnist", root, timeout)
