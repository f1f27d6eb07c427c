"""Download a file once, verify its checksum, and keep it in the cache.

The rules a reader can rely on:

* a file is used only after its checksum matched (SHA-256, or MD5 where the
  publisher gives nothing else);
* the cache never holds a partial or corrupted download: bytes go to a temporary
  file of its own beside the target (two processes never share one) and are
  renamed into place only after verification;
* a file already in the cache that fails its checksum (a copy made by hand,
  say) is never used, and is kept until a verified download replaces it, so a
  failure offline does not delete what the reader put there;
* a failure says what happened and what to do, including when there is no network;
* large downloads show a progress bar (``progress=``).
"""

from __future__ import annotations

import hashlib
import http.client
import os
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

from .cache import cache_dir

_CHUNK = 1 << 16
_PROGRESS_ABOVE = 10_000_000  # bytes: smaller files arrive before a bar helps


def _progress_bar(name: str, total: int | None):
    """A byte-counting tqdm bar (plain text: no notebook widget needed)."""
    from tqdm import tqdm

    return tqdm(total=total, desc=f"downloading {name}", unit="B", unit_scale=True,
                unit_divisor=1024, leave=False)


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
    progress: bool | None = None,
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
        quiet: print nothing when the download succeeds.
        progress: show a progress bar; default: for files over 10 MB.

    A cached file whose checksum matches is returned without network access; one
    that does not match is fetched again, and replaced only by a verified copy.

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

    bad_copy = None
    if target.exists():
        got = file_digest(target, algorithm)
        if got == expected:
            return target
        bad_copy = got  # not used, not deleted: only a verified copy replaces it

    manual = (
        f"If this machine is offline, download {url} on one that is online and copy "
        f"it to {target}; dlbook checks its {algorithm} before using it."
    )
    if bad_copy is not None:
        manual = (
            f"The file already at {target} is not the expected one ({algorithm} "
            f"{bad_copy}, expected {expected}): it was kept but not used; it may be "
            f"truncated or another version. Replace it with a complete copy of {url} "
            f"(downloaded on a machine that is online), or delete it."
        )
    fd, tmp_name = tempfile.mkstemp(prefix=f".{name}.", suffix=".part", dir=folder)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        try:
            response = urllib.request.urlopen(url, timeout=timeout)  # noqa: S310
        except urllib.error.HTTPError as exc:
            raise DownloadError(
                f"{url}: the server answered HTTP {exc.code} {exc.reason}. {manual}"
            ) from exc
        except (TimeoutError, urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise DownloadError(
                f"could not connect to download {url} ({reason}). Check your internet "
                f"connection. {manual}"
            ) from exc
        with response, open(tmp, "wb") as out:
            length = response.headers.get("Content-Length")
            expected_size = int(length) if length and length.isdigit() else None
            show = (progress if progress is not None
                    else (expected_size or 0) > _PROGRESS_ABOVE)
            bar = _progress_bar(name, expected_size) if show else None
            received = 0
            try:
                while chunk := response.read(_CHUNK):
                    out.write(chunk)
                    h.update(chunk)
                    received += len(chunk)
                    if bar is not None:
                        bar.update(len(chunk))
            except (TimeoutError, http.client.IncompleteRead, OSError) as exc:
                raise DownloadError(
                    f"the download of {url} was cut off after {received:,} bytes "
                    f"({exc.__class__.__name__}). Try again. {manual}"
                ) from exc
            finally:
                if bar is not None:
                    bar.close()
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
