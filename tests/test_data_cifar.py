"""CIFAR-10's binary archive: parsed without pickle, verified, tested on 127.0.0.1."""

from __future__ import annotations

import hashlib
import io
import tarfile

import numpy as np
import pytest
from http_fixtures import file_server

from dlbook.data import CIFAR10_CLASSES, ChecksumError, load_cifar10
from dlbook.data.cifar import CIFAR10_MD5, parse_cifar_batch


def _batch(rng, n):
    labels = rng.integers(0, 10, n, dtype=np.uint8)
    images = rng.integers(0, 256, (n, 3, 32, 32), dtype=np.uint8)
    raw = np.concatenate([labels[:, None], images.reshape(n, -1)], axis=1).tobytes()
    return raw, images, labels


def _archive(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


@pytest.fixture
def fake_cifar():
    rng = np.random.default_rng(0)
    members, train_x, train_y = {}, [], []
    for i in range(1, 6):
        raw, x, y = _batch(rng, 3)
        members[f"cifar-10-batches-bin/data_batch_{i}.bin"] = raw
        train_x.append(x)
        train_y.append(y)
    raw, test_x, test_y = _batch(rng, 4)
    members["cifar-10-batches-bin/test_batch.bin"] = raw
    members["cifar-10-batches-bin/batches.meta.txt"] = "\n".join(CIFAR10_CLASSES).encode()
    return members, (np.concatenate(train_x), np.concatenate(train_y), test_x, test_y)


def test_loader_downloads_verifies_and_parses(tmp_path, fake_cifar):
    members, (tx, ty, vx, vy) = fake_cifar
    blob = _archive(members)
    with file_server({"c.tar.gz": blob}) as (url, server):
        out = load_cifar10(f"{url}/c.tar.gz", root=tmp_path, md5=hashlib.md5(blob).hexdigest())
        again = load_cifar10(f"{url}/c.tar.gz", root=tmp_path,
                             md5=hashlib.md5(blob).hexdigest())
        assert len(server.requests) == 1  # the second call used the cache
    X_train, y_train, X_test, y_test = out
    assert X_train.shape == (15, 3, 32, 32) and X_test.shape == (4, 3, 32, 32)
    assert X_train.dtype == np.float32 and y_train.dtype == np.int64
    np.testing.assert_array_equal(np.rint(X_train * 255).astype(np.uint8), tx)
    np.testing.assert_array_equal(y_train, ty)
    np.testing.assert_array_equal(np.rint(X_test * 255).astype(np.uint8), vx)
    np.testing.assert_array_equal(y_test, vy)
    assert all(np.array_equal(a, b) for a, b in zip(out, again))


def test_corrupted_archive_is_refused(tmp_path, fake_cifar):
    blob = _archive(fake_cifar[0])
    with file_server({"c.tar.gz": blob[:-1] + b"x"}) as (url, _):
        with pytest.raises(ChecksumError):
            load_cifar10(f"{url}/c.tar.gz", root=tmp_path,
                         md5=hashlib.md5(blob).hexdigest())
    assert not list(tmp_path.rglob("*.tar.gz"))


def test_archive_missing_a_batch_names_it(tmp_path, fake_cifar):
    members = dict(fake_cifar[0])
    del members["cifar-10-batches-bin/data_batch_3.bin"]
    blob = _archive(members)
    with file_server({"c.tar.gz": blob}) as (url, _):
        with pytest.raises(ValueError, match="data_batch_3.bin; it is missing"):
            load_cifar10(f"{url}/c.tar.gz", root=tmp_path,
                         md5=hashlib.md5(blob).hexdigest())


def test_batch_parser_rejects_malformed_records():
    with pytest.raises(ValueError, match="whole number of 3073-byte records"):
        parse_cifar_batch(b"\x00" * 3072)
    with pytest.raises(ValueError, match="whole number"):
        parse_cifar_batch(b"")
    bad = bytes([12]) + bytes(3072)
    with pytest.raises(ValueError, match=r"labels in 0..9, found 12"):
        parse_cifar_batch(bad)


def test_published_digest_and_classes():
    assert CIFAR10_MD5 == "c32a1d4ab5d03f1284b67883e8d87530"
    assert len(CIFAR10_CLASSES) == 10 and CIFAR10_CLASSES[0] == "airplane"
