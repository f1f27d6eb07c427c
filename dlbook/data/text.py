"""A text corpus every Python installation carries: the standard library's source.

Language models need text, and a reader offline has at least one corpus: the
pure-Python modules of the standard library. :func:`stdlib_corpus` reads a fixed,
documented list of them (:data:`STDLIB_MODULES`, about 2 MB), normalises the text
to printable ASCII, and records where each file begins and ends.
:func:`load_text_corpus` splits it into training and validation text by file;
:func:`stdlib_snippets` cuts labelled snippets for "which module is this from?";
:func:`get_batch` draws the shifted ``(X, Y)`` pairs a language model trains on.

The exact text depends on the Python version (the standard library changes with
every release), so every corpus carries the version it was read from and a
SHA-256 fingerprint of its text: two readers with the same fingerprint have the
same corpus, character for character.
"""

from __future__ import annotations

import hashlib
import os
import platform
import sysconfig
import unicodedata
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import numpy as np

#: Pure-Python modules present as plain ``.py`` files on CPython 3.10 to 3.13, in
#: the order the corpus reads them (alphabetical). Left out on purpose: modules
#: that became packages or shims in this range (re, pathlib, zipfile, datetime),
#: modules removed by PEP 594/632 (distutils, cgi, ...), pieces some Linux
#: distributions ship separately (tkinter, turtle, lib2to3), and huge tables
#: (locale's aliases, _pydecimal) that would dominate the statistics.
STDLIB_MODULES: tuple[str, ...] = (
    "argparse", "ast", "base64", "bdb", "bisect", "calendar", "cmd", "collections",
    "configparser", "contextlib", "copy", "csv", "dataclasses", "difflib", "enum",
    "fnmatch", "fractions", "functools", "getopt", "glob", "graphlib", "gzip",
    "heapq", "http.client", "inspect", "ipaddress", "json", "json.decoder",
    "json.encoder", "logging", "numbers", "operator", "optparse", "pprint", "queue",
    "random", "sched", "shlex", "shutil", "statistics", "subprocess", "tarfile",
    "tempfile", "textwrap", "threading", "tokenize", "typing", "unittest.case",
    "urllib.parse", "weakref",
)  # fmt: skip

#: Six modules with distinct jobs (and enough text for a test region) for the
#: snippet-classification task of chapter 7 (:func:`stdlib_snippets`).
SNIPPET_MODULES: tuple[str, ...] = (
    "argparse", "difflib", "http.client", "logging", "tarfile", "typing",
)  # fmt: skip


# ---- reading and normalising ------------------------------------------------------
def stdlib_dir() -> Path:
    """The folder holding this Python's pure-Python standard library.

    Taken from ``sysconfig`` (the installation scheme's ``stdlib`` path); if that
    folder does not exist, the folder of the ``os`` module is used instead.
    """
    path = Path(sysconfig.get_paths()["stdlib"])
    if not (path / "os.py").is_file():
        path = Path(os.__file__).resolve().parent
    return path


def module_path(name: str) -> Path:
    """The source file of standard-library module ``name`` (``"json.decoder"``).

    A module is ``<stdlib>/json/decoder.py``, a package its ``__init__.py``.

    Raises:
        FileNotFoundError: this Python has no source file for ``name`` (the module
            does not exist in this version, or the installation ships compiled
            files only, as some embedded and minimal installs do).
    """
    if not name or not all(part.isidentifier() for part in name.split(".")):
        raise ValueError(
            f"expected a dotted module name like 'json.decoder', got {name!r}"
        )
    root = stdlib_dir()
    base = root.joinpath(*name.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    raise FileNotFoundError(
        f"expected the source of standard-library module {name!r} at "
        f"{base.with_suffix('.py')} or {base / '__init__.py'}, found neither. Python "
        f"{platform.python_version()} may lack this module, or this installation "
        f"ships the standard library without its .py sources."
    )


def normalize_text(text: str) -> str:
    """Reduce text to printable ASCII plus ``"\\n"``, the corpus's alphabet.

    In order: line endings become ``"\\n"``; tabs expand to 8-column tab stops (as
    Python reads them); accented letters lose their accents (NFKD decomposition,
    so ``é`` becomes ``e``); any other non-ASCII character becomes ``?``; other
    control characters (form feeds, ...) are removed. The result has at most
    96 distinct characters.
    """
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if "\t" in text:
        text = "\n".join(line.expandtabs(8) for line in text.split("\n"))
    if not text.isascii():
        decomposed = unicodedata.normalize("NFKD", text)
        text = "".join(
            c if c.isascii() else ("" if unicodedata.combining(c) else "?")
            for c in decomposed
        )
    return "".join(c for c in text if c == "\n" or " " <= c <= "~")


def read_module(name: str) -> str:
    """The normalised source of one standard-library module, ending in ``"\\n"``."""
    raw = module_path(name).read_text(encoding="utf-8")
    text = normalize_text(raw)
    return text if text.endswith("\n") else text + "\n"


# ---- the corpus -------------------------------------------------------------------
@dataclass(frozen=True, repr=False)
class TextCorpus:
    """Concatenated text with per-file boundaries (see :func:`stdlib_corpus`)."""

    #: the whole corpus, one file after another
    text: str
    #: the module name of each file, in reading order
    files: tuple[str, ...]
    #: ``(start, end)`` character offsets of each file in ``text``;
    #: ``text[start:end]`` is that file (the last one may be truncated)
    spans: tuple[tuple[int, int], ...]
    #: the Python whose standard library was read
    python_version: str = field(default_factory=platform.python_version)
    #: SHA-256 hex digest of ``text`` (UTF-8): equal fingerprints, equal corpora
    fingerprint: str = field(init=False)

    def __post_init__(self):
        digest = hashlib.sha256(self.text.encode("utf-8")).hexdigest()
        object.__setattr__(self, "fingerprint", digest)

    def __len__(self) -> int:
        return len(self.text)

    def file_text(self, name: str) -> str:
        """The text of the file read from module ``name``."""
        if name not in self.files:
            raise KeyError(
                f"expected one of this corpus's {len(self.files)} files, got {name!r}"
            )
        start, end = self.spans[self.files.index(name)]
        return self.text[start:end]

    def __repr__(self) -> str:
        return (
            f"TextCorpus({len(self.text):,} chars, {len(self.files)} files, "
            f"Python {self.python_version}, sha256 {self.fingerprint[:12]}...)"
        )


def stdlib_corpus(
    modules: Sequence[str] | None = None, max_chars: int | None = None
) -> TextCorpus:
    """The standard library's source as one deterministic text corpus.

    Args:
        modules: module names to read, in this order; default :data:`STDLIB_MODULES`
            (50 modules: 1.92 M characters on Python 3.10, 2.01 M on 3.11,
            2.03 M on 3.12, 2.11 M on 3.13).
        max_chars: stop after this many characters: files are read in order, and
            the file that would cross the limit is cut at its last complete line
            that fits. ``None`` reads every file.

    Every file is normalised by :func:`normalize_text` (printable ASCII and
    ``"\\n"``). The same Python version gives the same text; another version
    gives a slightly different one, so compare ``corpus.fingerprint`` before
    comparing numbers measured on two machines. Nothing touches the network.

    Example::

        corpus = stdlib_corpus(max_chars=200_000)
        corpus.files[:3]              # ('argparse', 'ast', 'base64')
        corpus.file_text("argparse")  # the source of argparse.py
    """
    names = tuple(STDLIB_MODULES if modules is None else modules)
    if isinstance(modules, str):
        raise TypeError(
            f"expected a sequence of module names, got the string {modules!r}"
        )
    if not names:
        raise ValueError("expected at least one module name, got none")
    if len(set(names)) != len(names):
        raise ValueError(f"expected distinct module names, got duplicates in {names}")
    if max_chars is not None and (not isinstance(max_chars, int) or max_chars < 1):
        raise ValueError(
            f"expected max_chars to be a positive int or None, got {max_chars!r}"
        )
    pieces, files, spans, pos = [], [], [], 0
    for name in names:
        text = read_module(name)
        if max_chars is not None and pos + len(text) > max_chars:
            cut = text.rfind("\n", 0, max_chars - pos) + 1  # keep whole lines only
            text = text[:cut]
        if not text:
            break
        pieces.append(text)
        files.append(name)
        spans.append((pos, pos + len(text)))
        pos += len(text)
        if max_chars is not None and pos >= max_chars - 1:
            break
    if not pieces:
        raise ValueError(
            f"max_chars={max_chars} is shorter than the first line of "
            f"{names[0]!r}; expected a larger limit"
        )
    return TextCorpus("".join(pieces), tuple(files), tuple(spans))


class TextSplit(NamedTuple):
    """Training and validation text, split by file (see :func:`load_text_corpus`)."""

    train: str
    val: str
    train_files: tuple[str, ...]
    val_files: tuple[str, ...]
    corpus: TextCorpus

    def __repr__(self) -> str:
        # the default repr would print the two million characters of the text
        return (f"TextSplit(train={len(self.train):,} chars, val={len(self.val):,} "
                f"chars, train_files={len(self.train_files)}, "
                f"val_files={len(self.val_files)}, corpus={self.corpus!r})")


def split_by_file(corpus: TextCorpus, val_fraction: float = 0.1) -> TextSplit:
    """Assign whole files to training or validation, about ``val_fraction`` of text.

    Files are visited in order, and a file goes to validation when that brings the
    validation share of the text seen so far closer to ``val_fraction``. The
    validation files are spread over the corpus (not its last few modules), and
    no line of a validation file is in the training text (apart from lines that
    two files happen to share, such as ``import os``).
    """
    if not 0.0 < val_fraction < 1.0:
        raise ValueError(f"expected val_fraction in (0, 1), got {val_fraction}")
    if len(corpus.files) < 2:
        raise ValueError(
            f"a split by file needs at least 2 files, the corpus has "
            f"{len(corpus.files)}; pass more modules or a larger max_chars"
        )
    seen = val_chars = 0
    is_val = []
    for start, end in corpus.spans:
        size = end - start
        seen += size
        with_it = abs((val_chars + size) / seen - val_fraction)
        without = abs(val_chars / seen - val_fraction)
        is_val.append(with_it < without)
        val_chars += size if is_val[-1] else 0
    if all(is_val) or not any(is_val):  # tiny corpora: force one file to each side
        is_val = [False] * (len(is_val) - 1) + [True]
    parts = {True: [], False: []}
    names = {True: [], False: []}
    for name, (start, end), v in zip(corpus.files, corpus.spans, is_val):
        parts[v].append(corpus.text[start:end])
        names[v].append(name)
    return TextSplit(
        "".join(parts[False]),
        "".join(parts[True]),
        tuple(names[False]),
        tuple(names[True]),
        corpus,
    )


def load_text_corpus(
    val_fraction: float = 0.1,
    modules: Sequence[str] | None = None,
    max_chars: int | None = None,
) -> TextSplit:
    """The standard-library corpus split into training and validation text.

    The split is by file (:func:`split_by_file`): a validation file is never seen
    in training, so validation loss measures how well a model generalises to new
    modules, not how well it remembers the end of one it has read. Returns
    ``(train, val, train_files, val_files, corpus)``; ``modules`` and
    ``max_chars`` go to :func:`stdlib_corpus`.
    """
    return split_by_file(stdlib_corpus(modules, max_chars), val_fraction)


# ---- language-model batches -------------------------------------------------------
def _check_tokens(data, block_size: int, batch_size: int | None) -> np.ndarray:
    data = np.asarray(data)
    if data.ndim != 1 or not np.issubdtype(data.dtype, np.integer):
        raise ValueError(
            f"expected a 1-D integer array of token ids, got shape "
            f"{data.shape} and dtype {data.dtype}"
        )
    if not isinstance(block_size, (int, np.integer)) or block_size < 1:
        raise ValueError(f"expected a positive int block_size, got {block_size!r}")
    if batch_size is not None and (
        not isinstance(batch_size, (int, np.integer)) or batch_size < 1
    ):
        raise ValueError(f"expected a positive int batch_size, got {batch_size!r}")
    if len(data) < block_size + 1:
        raise ValueError(
            f"expected at least block_size + 1 = {block_size + 1} tokens "
            f"(inputs plus one target), got {len(data)}"
        )
    return data


def get_batch(
    data, block_size: int, batch_size: int, rng
) -> tuple[np.ndarray, np.ndarray]:
    """Random windows of a token sequence and the same windows shifted by one.

    As nanoGPT's ``get_batch``: ``batch_size`` start positions are drawn
    uniformly; ``X[b] = data[i:i + T]`` and ``Y[b] = data[i + 1:i + T + 1]``, so
    ``Y[b, t]`` is the token that follows ``X[b, :t + 1]``.

    Args:
        data: token ids, shape ``(N,)``, integer dtype.
        block_size: ``T``, the context length.
        batch_size: ``B``.
        rng: a ``numpy.random.Generator`` (or an int seed for a fresh one).

    Returns:
        ``(X, Y)``, both int64 of shape ``(B, T)``.
    """
    data = _check_tokens(data, block_size, batch_size)
    if isinstance(rng, (int, np.integer)):
        rng = np.random.default_rng(rng)
    if not isinstance(rng, np.random.Generator):
        raise TypeError(
            f"expected a numpy.random.Generator or an int seed as rng, "
            f"got {type(rng).__name__}"
        )
    starts = rng.integers(0, len(data) - block_size, size=batch_size)
    idx = starts[:, None] + np.arange(block_size)  # (B, T)
    return data[idx].astype(np.int64), data[idx + 1].astype(np.int64)


def sequential_batches(
    data, block_size: int, batch_size: int
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Every non-overlapping window of ``data`` once, in order, as ``(X, Y)`` batches.

    For a deterministic validation loss: windows start at ``0, T, 2T, ...``; the
    last batch may hold fewer than ``batch_size`` rows; a tail shorter than
    ``T + 1`` tokens is left out. Shapes as in :func:`get_batch`.
    """
    data = _check_tokens(data, block_size, batch_size)
    n_windows = (len(data) - 1) // block_size
    starts = np.arange(n_windows) * block_size
    for i in range(0, n_windows, batch_size):
        idx = starts[i : i + batch_size, None] + np.arange(block_size)  # (B, T)
        yield data[idx].astype(np.int64), data[idx + 1].astype(np.int64)


# ---- labelled snippets ------------------------------------------------------------
class Snippets(NamedTuple):
    """Labelled snippets; ``y`` indexes ``label_names``; ``starts`` are offsets."""

    texts_train: list[str]
    y_train: np.ndarray
    texts_test: list[str]
    y_test: np.ndarray
    label_names: tuple[str, ...]
    starts_train: np.ndarray
    starts_test: np.ndarray


def stdlib_snippets(
    modules: Sequence[str] = SNIPPET_MODULES,
    length: int = 256,
    n_per_module: int = 100,
    seed: int = 0,
    test_fraction: float = 0.2,
) -> Snippets:
    """Snippets of standard-library source labelled by the module they came from.

    Each module's normalised text is cut once, at the line boundary nearest
    ``1 - test_fraction`` of its length: training snippets lie wholly before the
    cut and test snippets wholly after it, so no character of a test snippet is in
    a training snippet. Each snippet is ``length`` characters starting at the
    beginning of a line, drawn without replacement by ``seed``; a module gives
    ``round(n_per_module * test_fraction)`` test snippets and the rest for
    training. Both sets are shuffled (classes interleaved).

    Returns:
        :class:`Snippets` ``(texts_train, y_train, texts_test, y_test,
        label_names, starts_train, starts_test)``: ``y`` int64 indexes
        ``label_names`` (the module names, in the order given); ``starts`` are
        character offsets in the module's text. Encode the texts with a
        tokenizer to get token arrays.
    """
    names = tuple(modules)
    if isinstance(modules, str) or len(names) < 2 or len(set(names)) != len(names):
        raise ValueError(f"expected at least 2 distinct module names, got {modules!r}")
    if not isinstance(length, int) or length < 1:
        raise ValueError(f"expected a positive int length, got {length!r}")
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"expected test_fraction in (0, 1), got {test_fraction}")
    n_test = round(n_per_module * test_fraction)
    n_train = n_per_module - n_test
    if n_train < 1 or n_test < 1:
        raise ValueError(
            f"n_per_module={n_per_module} with test_fraction="
            f"{test_fraction} leaves {n_train} training and {n_test} "
            f"test snippets per module; expected at least 1 of each"
        )
    rng = np.random.default_rng(seed)
    rows = {"train": [], "test": []}  # (text, label, start)
    for label, name in enumerate(names):
        text = read_module(name)
        line_starts = np.flatnonzero(
            np.frombuffer(text.encode("ascii"), np.uint8) == 10
        )
        line_starts = np.concatenate([[0], line_starts + 1])
        cut = int(
            line_starts[
                np.argmin(np.abs(line_starts - (1 - test_fraction) * len(text)))
            ]
        )
        regions = {"train": (0, cut, n_train), "test": (cut, len(text), n_test)}
        for part, (lo, hi, n) in regions.items():
            ok = line_starts[(line_starts >= lo) & (line_starts + length <= hi)]
            if len(ok) < n:
                raise ValueError(
                    f"module {name!r}: its {part} region (characters {lo}..{hi}) has "
                    f"{len(ok)} line starts with room for a {length}-character "
                    f"snippet, expected at least {n}; ask for fewer or shorter "
                    f"snippets, or a larger module"
                )
            for s in np.sort(rng.choice(ok, size=n, replace=False)):
                rows[part].append((text[s : s + length], label, int(s)))
    out = []
    for part in ("train", "test"):
        order = rng.permutation(len(rows[part]))
        texts = [rows[part][i][0] for i in order]
        labels = np.array([rows[part][i][1] for i in order], dtype=np.int64)
        starts = np.array([rows[part][i][2] for i in order], dtype=np.int64)
        out.append((texts, labels, starts))
    (tr_x, tr_y, tr_s), (te_x, te_y, te_s) = out
    return Snippets(tr_x, tr_y, te_x, te_y, names, tr_s, te_s)
