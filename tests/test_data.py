"""dlbook.data: offline loaders, the cache, the verified downloader and IDX."""

from __future__ import annotations

import gzip
import hashlib
import random
import socket
import struct

import numpy as np
import pytest
from http_fixtures import file_server

from dlbook import data
from dlbook.data import ChecksumError, DownloadError, download, read_idx


# ---- digits -----------------------------------------------------------------------
def test_digits_shapes_types_and_range():
    X_train, y_train, X_test, y_test = data.load_digits()
    assert X_train.shape == (1437, 64) and X_test.shape == (360, 64)
    assert X_train.dtype == np.float32 and y_train.dtype == np.int64
    assert 0.0 <= X_train.min() and X_train.max() <= 1.0 and X_train.max() == 1.0
    assert set(np.unique(y_train)) == set(range(10)) == set(np.unique(y_test))


def test_digits_split_is_stratified_fixed_and_disjoint():
    a = data.load_digits()
    b = data.load_digits()
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)
    X_train, y_train, X_test, y_test = a
    # stratified: each class's share of the test set is within one image of 20%
    counts_all = np.bincount(np.concatenate([y_train, y_test]))
    counts_test = np.bincount(y_test)
    assert np.all(np.abs(counts_test - 0.2 * counts_all) <= 1)
    # no image appears on both sides
    train_rows = {row.tobytes() for row in X_train}
    overlap = sum(row.tobytes() in train_rows for row in X_test)
    from sklearn.datasets import load_digits as sk

    sk_rows = [row.tobytes() for row in (sk().data / 16.0).astype(np.float32)]
    duplicates_in_source = len(sk_rows) - len(set(sk_rows))
    assert overlap <= duplicates_in_source


def test_digits_rejects_bad_test_size():
    with pytest.raises(ValueError, match="test_size"):
        data.load_digits(test_size=1.5)


# ---- MNIST-1D -----------------------------------------------------------------------
def test_mnist1d_is_exactly_the_packages_dataset_and_cached_outside_cwd(
    tmp_cache, tmp_path, monkeypatch
):
    from mnist1d.data import get_dataset_args, make_dataset

    workdir = tmp_path / "work"
    workdir.mkdir()
    monkeypatch.chdir(workdir)
    X_train, y_train, X_test, y_test = data.load_mnist1d()
    assert X_train.shape == (4000, 40) and X_test.shape == (1000, 40)
    assert X_train.dtype == np.float32 and y_train.dtype == np.int64
    reference = make_dataset(get_dataset_args())
    np.testing.assert_array_equal(X_train, reference["x"].astype(np.float32))
    np.testing.assert_array_equal(y_test, reference["y_test"])
    assert list(workdir.iterdir()) == []  # nothing written into the working directory
    cached = list((tmp_cache / "mnist1d").glob("*.npz"))
    assert len(cached) == 1
    # the second call reads the cache (identical arrays, no regeneration)
    monkeypatch.setattr(
        "mnist1d.data.make_dataset",
        lambda *a, **k: pytest.fail("regenerated despite a cache"),
    )
    again = data.load_mnist1d()
    np.testing.assert_array_equal(again[0], X_train)


def test_mnist1d_leaves_global_random_state_alone(tmp_cache):
    np.random.seed(123)
    random.seed(123)
    expected_np, expected_py = np.random.rand(), random.random()
    np.random.seed(123)
    random.seed(123)
    data.load_mnist1d(cache=False)
    assert np.random.rand() == expected_np and random.random() == expected_py


def test_mnist1d_shuffled_variant_permutes_positions(tmp_cache):
    plain = data.load_mnist1d()[0]
    shuffled = data.load_mnist1d(shuffle_seq=True)[0]
    assert shuffled.shape == plain.shape and not np.array_equal(shuffled, plain)
    # the same multiset of values in each row: a permutation of positions
    np.testing.assert_allclose(
        np.sort(shuffled[:5], axis=1), np.sort(plain[:5], axis=1), rtol=1e-5, atol=1e-6
    )


def test_mnist1d_damaged_cache_is_regenerated(tmp_cache):
    good = data.load_mnist1d()[0]
    (path,) = (tmp_cache / "mnist1d").glob("*.npz")
    path.write_bytes(b"not a zip file")
    np.testing.assert_array_equal(data.load_mnist1d()[0], good)


# ---- download -----------------------------------------------------------------------
PAYLOAD = bytes(range(256)) * 400  # 100 KB
SHA = hashlib.sha256(PAYLOAD).hexdigest()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_download_good_file_is_verified_cached_and_reused(tmp_path):
    with file_server({"good.bin": PAYLOAD}) as (url, server):
        path = download(f"{url}/good.bin", SHA, root=tmp_path)
        assert path.read_bytes() == PAYLOAD and path.parent == tmp_path
        again = download(f"{url}/good.bin", SHA, root=tmp_path)
        assert again == path
        assert server.requests == ["/good.bin"]  # the second call used the cache
    assert [p.name for p in tmp_path.iterdir()] == ["good.bin"]


def test_download_default_location_is_the_cache(tmp_cache):
    with file_server({"good.bin": PAYLOAD}) as (url, _):
        path = download(f"{url}/good.bin", SHA)
    assert path == tmp_cache / "downloads" / "good.bin"


def test_download_accepts_md5(tmp_path):
    with file_server({"good.bin": PAYLOAD}) as (url, _):
        path = download(
            f"{url}/good.bin", md5=hashlib.md5(PAYLOAD).hexdigest(), root=tmp_path
        )
    assert path.exists()


def test_download_corrupted_file_raises_and_keeps_nothing(tmp_path):
    corrupted = bytearray(PAYLOAD)
    corrupted[1000] ^= 0xFF
    with file_server({"file.bin": bytes(corrupted)}) as (url, _):
        with pytest.raises(ChecksumError, match=r"sha256 mismatch, expected " + SHA):
            download(f"{url}/file.bin", SHA, root=tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_download_cut_off_halfway_leaves_no_partial_file(tmp_path):
    with file_server({"file.bin": PAYLOAD}) as (url, _):
        with pytest.raises(DownloadError, match="cut off") as info:
            download(f"{url}/cut/file.bin", SHA, root=tmp_path, filename="file.bin")
    assert not isinstance(info.value, ChecksumError)
    assert list(tmp_path.iterdir()) == []


def test_download_without_network_says_what_to_do(tmp_path):
    url = f"http://127.0.0.1:{_free_port()}/data.bin"  # nothing listens there
    with pytest.raises(DownloadError) as info:
        download(url, SHA, root=tmp_path, timeout=5)
    message = str(info.value)
    assert "could not connect" in message and "offline" in message
    assert str(tmp_path / "data.bin") in message  # where to put the file by hand
    assert list(tmp_path.iterdir()) == []


def test_download_http_error_is_reported(tmp_path):
    with file_server({}) as (url, _):
        with pytest.raises(DownloadError, match="HTTP 404"):
            download(f"{url}/missing.bin", SHA, root=tmp_path)


def test_download_replaces_a_stale_cached_file(tmp_path):
    (tmp_path / "good.bin").write_bytes(b"an old, different file")
    with file_server({"good.bin": PAYLOAD}) as (url, server):
        path = download(f"{url}/good.bin", SHA, root=tmp_path)
        assert server.requests == ["/good.bin"]
    assert path.read_bytes() == PAYLOAD


def test_manually_placed_file_is_used_offline(tmp_path):
    (tmp_path / "data.bin").write_bytes(PAYLOAD)
    url = f"http://127.0.0.1:{_free_port()}/data.bin"  # offline
    assert download(url, SHA, root=tmp_path).read_bytes() == PAYLOAD


def test_download_requires_a_checksum(tmp_path):
    with pytest.raises(ValueError, match="sha256"):
        download("http://127.0.0.1/x.bin", root=tmp_path)


# ---- IDX ------------------------------------------------------------------------
def _idx_bytes(array: np.ndarray, code: int) -> bytes:
    header = struct.pack(">BBBB", 0, 0, code, array.ndim)
    header += struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(array.dtype.newbyteorder(">")).tobytes()


def test_read_idx_round_trips_types_and_gzip(tmp_path):
    images = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    floats = np.linspace(-1, 1, 6).astype(np.float32).reshape(3, 2)
    np.testing.assert_array_equal(read_idx(_idx_bytes(images, 0x08)), images)
    np.testing.assert_array_equal(read_idx(_idx_bytes(floats, 0x0D)), floats)
    path = tmp_path / "x.idx.gz"
    path.write_bytes(gzip.compress(_idx_bytes(images, 0x08)))
    np.testing.assert_array_equal(read_idx(path), images)


@pytest.mark.parametrize(
    "raw, message",
    [
        (b"\x01\x00\x08\x01", "not an IDX file"),
        (b"\x00\x00\x42\x01\x00\x00\x00\x01\x00", "unknown data type"),
        (b"\x00\x00\x08\x02\x00\x00\x00\x02", "header"),
        (b"\x00\x00\x08\x01\x00\x00\x00\x05\x00\x01", "needs 5 data bytes"),
    ],
)
def test_read_idx_rejects_malformed_files(raw, message):
    with pytest.raises(ValueError, match=message):
        read_idx(raw)


def test_idx_loader_downloads_verifies_and_parses(tmp_path, monkeypatch):
    from dlbook.data import idx

    rng = np.random.default_rng(0)
    arrays = {
        "train-images-idx3-ubyte.gz": rng.integers(0, 256, (6, 28, 28), dtype=np.uint8),
        "train-labels-idx1-ubyte.gz": rng.integers(0, 10, 6, dtype=np.uint8),
        "t10k-images-idx3-ubyte.gz": rng.integers(0, 256, (3, 28, 28), dtype=np.uint8),
        "t10k-labels-idx1-ubyte.gz": rng.integers(0, 10, 3, dtype=np.uint8),
    }
    files = {name: gzip.compress(_idx_bytes(a, 0x08)) for name, a in arrays.items()}
    table = {
        key: (name, hashlib.md5(files[name]).hexdigest())
        for key, (name, _) in idx._MNIST_FILES.items()
    }
    monkeypatch.setattr(idx, "_MNIST_FILES", table)
    with file_server(files) as (url, _):
        X_train, y_train, X_test, y_test = idx.load_mnist(base_url=url, root=tmp_path)
    assert X_train.shape == (6, 1, 28, 28) and X_test.shape == (3, 1, 28, 28)
    assert X_train.dtype == np.float32 and y_train.dtype == np.int64
    np.testing.assert_allclose(
        X_train[:, 0] * 255, arrays["train-images-idx3-ubyte.gz"]
    )
    np.testing.assert_array_equal(y_test, arrays["t10k-labels-idx1-ubyte.gz"])


def test_real_loaders_carry_the_published_checksums():
    from dlbook.data import idx

    for table in (idx._MNIST_FILES, idx._FASHION_FILES):
        assert len(table) == 4
        for name, digest in table.values():
            assert name.endswith("-ubyte.gz") and len(digest) == 32
            int(digest, 16)  # hexadecimal
