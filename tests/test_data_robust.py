"""dlbook.data under misuse and failure: each test failed before its fix."""

from __future__ import annotations

import hashlib
import importlib
import socket
import threading
import time

import numpy as np
import pytest
from http_fixtures import file_server

from dlbook import data
from dlbook.data import DownloadError, download

download_module = importlib.import_module("dlbook.data.download")  # not the function
PAYLOAD = bytes(range(256)) * 400  # 100 KB
SHA = hashlib.sha256(PAYLOAD).hexdigest()


def _offline_url(name: str) -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/{name}"  # nothing listens there


def test_offline_a_bad_hand_copied_file_is_kept_and_explained(tmp_path):
    copied = tmp_path / "data.bin"
    copied.write_bytes(PAYLOAD[:5000])  # a truncated copy made by hand
    with pytest.raises(DownloadError) as info:
        download(_offline_url("data.bin"), SHA, root=tmp_path, timeout=5)
    message = str(info.value)
    assert copied.read_bytes() == PAYLOAD[:5000]  # not deleted
    got = hashlib.sha256(PAYLOAD[:5000]).hexdigest()
    assert f"The file already at {copied} is not the expected one" in message
    assert got in message and "kept but not used" in message
    assert "Replace it with a complete copy" in message
    assert [p.name for p in tmp_path.iterdir()] == ["data.bin"]  # no temp left


def test_online_a_bad_cached_file_is_replaced_by_a_verified_copy(tmp_path):
    (tmp_path / "good.bin").write_bytes(b"an old, different file")
    with file_server({"good.bin": PAYLOAD}) as (url, _):
        assert download(f"{url}/good.bin", SHA, root=tmp_path).read_bytes() == PAYLOAD


def test_each_download_writes_its_own_temporary_file(tmp_path, monkeypatch):
    # two downloads of one file at once (two processes, or threads): each
    # streams into a temporary file of its own, so neither sees the other's bytes
    seen = []
    real_open = open

    def spy_open(path, mode="r", *args, **kwargs):
        if "w" in mode and str(path).endswith(".part"):
            seen.append(str(path))
            time.sleep(0.2)  # both transfers are in flight together
        return real_open(path, mode, *args, **kwargs)

    monkeypatch.setattr(download_module, "open", spy_open, raising=False)
    results = []
    with file_server({"good.bin": PAYLOAD}) as (url, _):
        threads = [threading.Thread(target=lambda: results.append(
            download(f"{url}/good.bin", SHA, root=tmp_path))) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert len(seen) == 2 and seen[0] != seen[1]
    assert len(results) == 2 and results[0].read_bytes() == PAYLOAD
    assert [p.name for p in tmp_path.iterdir()] == ["good.bin"]


def test_download_progress_bar(tmp_path, capsys):
    with file_server({"good.bin": PAYLOAD}) as (url, _):
        download(f"{url}/good.bin", SHA, root=tmp_path, progress=True)
    err = capsys.readouterr().err
    assert "downloading good.bin" in err and "100k" in err.lower().replace(" ", "")


def test_download_progress_defaults_to_large_files_only(tmp_path, capsys,
                                                         monkeypatch):
    with file_server({"good.bin": PAYLOAD}) as (url, _):
        download(f"{url}/good.bin", SHA, root=tmp_path)
        assert "downloading" not in capsys.readouterr().err  # 100 KB: no bar
        monkeypatch.setattr(download_module, "_PROGRESS_ABOVE", 1000)
        download(f"{url}/good.bin", SHA, root=tmp_path / "again")
        assert "downloading good.bin" in capsys.readouterr().err


def test_mnist1d_truncated_cache_is_regenerated(tmp_cache):
    good = data.load_mnist1d()[0]
    (path,) = (tmp_cache / "mnist1d").glob("*.npz")
    raw = path.read_bytes()
    path.write_bytes(raw[: len(raw) // 2])  # a copy cut off halfway: BadZipFile
    np.testing.assert_array_equal(data.load_mnist1d()[0], good)
    assert [p.name for p in (tmp_cache / "mnist1d").iterdir()] == [path.name]


def test_charvocab_given_a_text_fails_fast_and_points_to_build():
    text = "abcdefghij" * 200_000  # 2 M characters, like the corpus
    start = time.perf_counter()
    with pytest.raises(ValueError, match=r"use CharVocab.build\(text\)"):
        data.CharVocab(text)
    assert time.perf_counter() - start < 5.0  # was quadratic: hours


def test_text_split_repr_is_short():
    split = data.load_text_corpus(max_chars=200_000)
    r = repr(split)
    assert len(r) < 300 and r.startswith("TextSplit(train=")
    assert f"{len(split.train):,} chars" in r
