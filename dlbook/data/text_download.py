"""Public-domain texts for readers who are online, through the verified downloader.

A text comes from a URL and a SHA-256 that :func:`~dlbook.data.download.download`
checks before the file is used or cached. Known texts sit in
:data:`TEXT_SOURCES`; an entry whose checksum has not been recorded yet has
``sha256=None``, and loading it raises :class:`ChecksumNotRecordedError` until
you pass the checksum of a copy you trust::

    text = load_text("tinyshakespeare")  # checksum recorded: nanoGPT's corpus
    text = load_text("shakespeare", sha256="<sha256 of pg100.txt>")
    text = load_text_url("https://example.org/book.txt", sha256="<sha256>")

(``sha256sum pg100.txt`` prints it.) Project Gutenberg regenerates its files from
time to time, so a recorded checksum can go stale; the error then says so.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from types import MappingProxyType

from .download import download
from .text import normalize_text


@dataclass(frozen=True)
class TextSource:
    """Where a public-domain text lives, and the SHA-256 of the file (or ``None``)."""

    url: str
    sha256: str | None
    title: str
    filename: str
    gutenberg: bool = False  # has Project Gutenberg's header and licence footer


#: Known texts by name (read-only). An entry with ``sha256=None`` has no recorded
#: checksum yet: pass one to :func:`load_text`.
TEXT_SOURCES = MappingProxyType({
    # Karpathy's char-rnn selection (about 40,000 lines from the plays), the corpus
    # of nanoGPT's shakespeare-char runs: 1,115,394 bytes.
    "tinyshakespeare": TextSource(
        url="https://raw.githubusercontent.com/karpathy/char-rnn/master/data/"
        "tinyshakespeare/input.txt",
        sha256="86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed",
        title="Tiny Shakespeare (char-rnn, A. Karpathy)",
        filename="tinyshakespeare.txt",
    ),
    "shakespeare": TextSource(
        url="https://www.gutenberg.org/cache/epub/100/pg100.txt",
        sha256=None,  # not recorded yet: this project's machines have no internet
        title="The Complete Works of William Shakespeare (Project Gutenberg #100)",
        filename="pg100.txt",
        gutenberg=True,
    ),
})  # fmt: skip


class ChecksumNotRecordedError(ValueError):
    """A known text whose SHA-256 has not been recorded, and none was passed."""


_START = ("*** START OF THE PROJECT GUTENBERG", "*** START OF THIS PROJECT GUTENBERG")
_END = ("*** END OF THE PROJECT GUTENBERG", "*** END OF THIS PROJECT GUTENBERG")


def strip_gutenberg(text: str) -> str:
    """The body of a Project Gutenberg text, without its header and licence footer.

    Keeps what lies between the line that starts ``*** START OF THE PROJECT
    GUTENBERG EBOOK`` and the line that starts ``*** END OF THE PROJECT
    GUTENBERG EBOOK`` (older files say ``THIS`` instead of ``THE``), with
    surrounding blank lines removed.
    """
    lines = text.split("\n")
    upper = [line.lstrip().upper() for line in lines]
    start = next((i for i, u in enumerate(upper) if u.startswith(_START)), None)
    end = next((i for i, u in enumerate(upper) if u.startswith(_END)), None)
    if start is None or end is None or end <= start:
        raise ValueError(
            "strip_gutenberg: expected a '*** START OF THE PROJECT GUTENBERG EBOOK' "
            f"line followed by an '*** END OF ...' line, found start at "
            f"{start} and end at {end} (line numbers; None = missing)"
        )
    return "\n".join(lines[start + 1 : end]).strip("\n") + "\n"


def load_text_url(
    url: str,
    sha256: str,
    *,
    filename: str | None = None,
    gutenberg: bool = False,
    ascii_only: bool = False,
    root: str | os.PathLike | None = None,
    timeout: float = 30.0,
) -> str:
    """Download a UTF-8 text once, verify its SHA-256, cache it, return its text.

    Args:
        url: where the text lives.
        sha256: expected SHA-256 of the file's bytes; required.
        filename: its name in the cache (default: the last part of the URL).
        gutenberg: strip Project Gutenberg's header and footer
            (:func:`strip_gutenberg`).
        ascii_only: reduce the text to the stdlib corpus's alphabet
            (:func:`~dlbook.data.text.normalize_text`).
        root: keep the file here instead of the cache folder ``texts``.
        timeout: seconds to wait for the server.

    Line endings become ``"\\n"`` and a UTF-8 byte-order mark is dropped. The
    second call reads the cached file without touching the network.

    Raises:
        dlbook.data.download.ChecksumError: the bytes do not match ``sha256``
            (nothing is cached).
        dlbook.data.download.DownloadError: no connection or an HTTP error; says
            where to put the
            file by hand.
        ValueError: the file is not UTF-8 text, or lacks Gutenberg markers.
    """
    if not sha256:
        raise ValueError(
            f"load_text_url: expected the sha256 of {url}, got "
            f"{sha256!r}; dlbook never uses a download it cannot verify"
        )
    path = download(
        url, sha256, filename=filename, subdir="texts", root=root, timeout=timeout
    )
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ValueError(
            f"{path}: expected UTF-8 text, but byte {exc.start} is "
            f"not valid UTF-8 ({exc.reason})"
        ) from exc
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if gutenberg:
        text = strip_gutenberg(text)
    return normalize_text(text) if ascii_only else text


def load_text(
    name: str,
    sha256: str | None = None,
    *,
    url: str | None = None,
    ascii_only: bool = False,
    root: str | os.PathLike | None = None,
    timeout: float = 30.0,
) -> str:
    """A known public-domain text from :data:`TEXT_SOURCES`, by name.

    ``sha256`` overrides (or supplies) the recorded checksum, ``url`` points at a
    mirror. Gutenberg texts come without their header and footer. See
    :func:`load_text_url` for the rest.

    Raises:
        ChecksumNotRecordedError: the entry has no recorded checksum and none
            was passed; raised before any network access.
    """
    if name not in TEXT_SOURCES:
        raise KeyError(
            f"expected one of the known texts {sorted(TEXT_SOURCES)}, got "
            f"{name!r}; use load_text_url(url, sha256) for any other text"
        )
    source = TEXT_SOURCES[name]
    digest = sha256 or source.sha256
    if digest is None:
        raise ChecksumNotRecordedError(
            f"the SHA-256 of {name!r} ({source.title}, {source.url}) has not been "
            f"recorded yet, and dlbook never uses a download it cannot verify. "
            f"Download the file, check it, and pass its checksum: "
            f"load_text({name!r}, sha256='...') or "
            f"load_text_url({source.url!r}, sha256='...')."
        )
    return load_text_url(
        url or source.url,
        digest,
        filename=source.filename,
        gutenberg=source.gutenberg,
        ascii_only=ascii_only,
        root=root,
        timeout=timeout,
    )
