"""CIFAR-10 (Krizhevsky 2009) through the verified downloader, without pickle.

The data set's authors publish three archives; this loader reads the *binary*
one, whose layout is fixed bytes rather than Python pickles, so loading it runs
no code from the file. Each of the six batch files is a run of 3,073-byte
records: one label byte (0..9), then 1,024 red, 1,024 green and 1,024 blue
pixel bytes of a 32x32 image in row-major order.
"""

from __future__ import annotations

import tarfile

import numpy as np

from .download import download

#: Class names in label order.
CIFAR10_CLASSES: tuple[str, ...] = (
    "airplane", "automobile", "bird", "cat", "deer",
    "dog", "frog", "horse", "ship", "truck",
)  # fmt: skip

CIFAR10_URL = "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz"
#: The MD5 published beside the archive on the data set's page (162 MB).
CIFAR10_MD5 = "c32a1d4ab5d03f1284b67883e8d87530"

_RECORD = 1 + 3 * 32 * 32
_FOLDER = "cifar-10-batches-bin"
_TRAIN = tuple(f"{_FOLDER}/data_batch_{i}.bin" for i in range(1, 6))
_TEST = (f"{_FOLDER}/test_batch.bin",)


def parse_cifar_batch(raw: bytes, name: str = "batch") -> tuple[np.ndarray, np.ndarray]:
    """Images ``(N, 3, 32, 32)`` uint8 and labels ``(N,)`` int64 from one batch file.

    Raises ValueError when the size is not a whole number of 3,073-byte records
    or a label lies outside 0..9.
    """
    if len(raw) == 0 or len(raw) % _RECORD:
        raise ValueError(
            f"CIFAR-10 {name}: expected a whole number of {_RECORD}-byte records "
            f"(1 label byte + 3072 pixel bytes), got {len(raw)} bytes"
        )
    records = np.frombuffer(raw, np.uint8).reshape(-1, _RECORD)
    labels = records[:, 0].astype(np.int64)
    if labels.max() > 9:
        raise ValueError(
            f"CIFAR-10 {name}: expected labels in 0..9, found {int(labels.max())}"
        )
    return records[:, 1:].reshape(-1, 3, 32, 32).copy(), labels


def _read_batches(archive) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Every batch file of the archive, parsed, in one pass over the gzip stream."""
    batches = {}
    with tarfile.open(archive, "r:gz") as tar:
        for name in _TRAIN + _TEST:
            try:
                member = tar.getmember(name)
            except KeyError:
                raise ValueError(
                    f"{archive}: expected the CIFAR-10 binary archive with {name}; "
                    f"it is missing (members: {tar.getnames()[:8]}...)"
                ) from None
            if not member.isfile():
                raise ValueError(f"{archive}: {name} is not a regular file")
            batches[name] = parse_cifar_batch(tar.extractfile(member).read(), name)
    return batches


def _stack(batches, names):
    return (np.concatenate([batches[n][0] for n in names]),
            np.concatenate([batches[n][1] for n in names]))


def load_cifar10(url: str = CIFAR10_URL, root=None, timeout: float = 60.0,
                 md5: str = CIFAR10_MD5):
    """CIFAR-10: 60,000 32x32 colour images in 10 classes; downloads 162 MB once.

    Returns ``(X_train, y_train, X_test, y_test)``: X float32 ``(N, 3, 32, 32)`` in
    [0, 1], y int64 indexing :data:`CIFAR10_CLASSES`; 50,000 training and 10,000
    test images (the training set alone takes 614 MB as float32). The archive is
    verified against the published MD5 and cached (see
    :func:`~dlbook.data.download.download`; offline, it says where to put a copy).
    Members are read from the archive directly, never extracted to disk.

    Args:
        url: the archive's address (a mirror may be given).
        root: keep the archive here instead of the cache folder ``cifar10``.
        timeout: seconds to wait for the server.
        md5: the expected digest; change it only for a verified mirror that
            repacked the archive.
    """
    archive = download(url, md5=md5, filename="cifar-10-binary.tar.gz",
                       subdir="cifar10", root=root, timeout=timeout)
    batches = _read_batches(archive)
    x_train, y_train = _stack(batches, _TRAIN)
    x_test, y_test = _stack(batches, _TEST)
    return (x_train.astype(np.float32) / 255.0, y_train,
            x_test.astype(np.float32) / 255.0, y_test)
