"""Download a file once, verify its checksum, and keep it in the cache.

The rules a reader can rely on:

* a file is used only after its checksum matched (SHA-256, or MD5 where the
  publisher gives nothing else);
* the cache never holds a partial or corrupted file: bytes go to a temporary file
  beside the target and are renamed into place only after verification;
* a failure says what happened and what to do, including when there is no network.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import socket
import urllib.error
import urllib.request
from pathlib import Path

from .cache import cache_dir

_CHUNK = 1 << 16


class DownloadError(RuntimeError):
    """The file could not be fetched (network, HTTP status, cut-off transfer)."""


class ChecksumError(DownloadError):
    """The bytes arrived but are not the expected file."""


def _hasher(sha256: str | None, md5: str | None):
    if sha256:
        return "sha256", sha256.lower(), hashlib.sha256()
    if md5:
        return "md5", md5.lower(), hashlib.md5()
    raise ValueError(
        "download: pass the expected sha256 (or md5) of the file; dlbook never "
        "uses a download it cannot verify"
    )


def file_digest(path: str | os.PathLike, algorithm: str = "sha256") -> str:
    """Hex digest of a file, read in chunks."""
    h = hashlib.new(algorithm)
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(_CHUNK), b""):
            h.update(chunk)
    return h.hexdigest()


def download(
    url: str,
    sha256: str | None = None,
    *,
    md5: str | None = None,
    filename: str | None = None,
    subdir: str = "downloads",
    root: str | os.PathLike | None = None,
    timeout: float = 30.0,
    quiet: bool = True,
) -> Path:
    """Fetch ``url`` into the cache, verify it, and return its path.

    Args:
        url: where the file lives (``http``, ``https`` or ``file``).
        sha256: the expected SHA-256 hex digest (preferred).
        md5: the expected MD5 hex digest, for files whose publisher gives only that.
        filename: the name in the cache; defaults to the last part of the URL.
        subdir: folder inside :func:`~dlbook.data.cache.cache_dir`.
        root: use this folder instead of the cache (tests, shared data disks).
        timeout: seconds to wait for the server before giving up.

    A cached file whose checksum matches is returned without network access; one
    that does not match is deleted and fetched again.

    Raises:
        ChecksumError: the downloaded bytes do not match the checksum (nothing is
            kept).
        DownloadError: no connection, an HTTP error, or a transfer cut off
            (nothing is kept); the message says where to put the file by hand.
    """
    algorithm, expected, h = _hasher(sha256, md5)
    folder = Path(root) if root is not None else cache_dir(subdir)
    folder.mkdir(parents=True, exist_ok=True)
    name = filename or url.rstrip("/").rsplit("/", 1)[-1].split("?", 1)[0]
    if not name:
        raise ValueError(
            f"download: cannot derive a file name from {url!r}; pass filename="
        )
    target = folder / name

    if target.exists():
        if file_digest(target, algorithm) == expected:
            return target
        target.unlink()  # stale or damaged: fetch a fresh copy

    manual = (
        f"If this machine is offline, download {url} on one that is online and copy "
        f"it to {target}; dlbook checks its {algorithm} before using it."
    )
    tmp = target.with_name(f".{name}.{os.getpid()}.part")
    try:
        try:
            response = urllib.request.urlopen(url, timeout=timeout)  # noqa: S310
        except urllib.error.HTTPError as exc:
            raise DownloadError(
                f"{url}: the server answered HTTP {exc.code} {exc.reason}. {manual}"
            ) from exc
        except (urllib.error.URLError, socket.timeout, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise DownloadError(
                f"could not connect to download {url} ({reason}). Check your internet "
                f"connection. {manual}"
            ) from exc
        with response, open(tmp, "wb") as out:
            length = response.headers.get("Content-Length")
            expected_size = int(length) if length and length.isdigit() else None
            received = 0
            try:
                while chunk := response.read(_CHUNK):
                    out.write(chunk)
                    h.update(chunk)
                    received += len(chunk)
            except (http.client.IncompleteRead, socket.timeout, OSError) as exc:
                raise DownloadError(
                    f"the download of {url} was cut off after {received:,} bytes "
                    f"({exc.__class__.__name__}). Try again. {manual}"
                ) from exc
        if expected_size is not None and received != expected_size:
            raise DownloadError(
                f"the download of {url} was cut off: received {received:,} of "
                f"{expected_size:,} bytes. Try again. {manual}"
            )
        got = h.hexdigest()
        if got != expected:
            raise ChecksumError(
                f"{url}: {algorithm} mismatch, expected {expected}, got {got}. The "
                f"file is corrupted or not the one expected, so it was discarded."
            )
        os.replace(tmp, target)
        if not quiet:
            print(f"downloaded {url} -> {target} ({received:,} bytes)")
        return target
    finally:
        if tmp.exists():
            tmp.unlink()
