"""Tokenizers written from scratch: characters, byte-level BPE, and words.

All three map ``str -> np.ndarray[int64]`` with ``encode`` and back with ``decode``,
report their vocabulary size with ``len``, and save to a JSON-compatible dict
(``to_dict``/``from_dict``), so a trained tokenizer travels with a checkpoint.

:class:`BPETokenizer` follows GPT-2 (Radford et al. 2019): byte-level BPE
(Sennrich et al. 2016) over chunks cut by a regular expression, so a merge never
joins a word to the space or punctuation after it, and any string round-trips
exactly. :func:`train_bpe_naive` is the same algorithm written the slow, obvious
way; the tests check that both learn the same merges. :class:`WordVocab` is the
word-level baseline, with an unknown-word id.
"""

from __future__ import annotations

import heapq
import re
from collections import Counter, defaultdict
from collections.abc import Iterable
from itertools import pairwise

import numpy as np


def _as_ids(ids, vocab_size: int, who: str) -> np.ndarray:
    arr = np.asarray(ids)
    if arr.size == 0:
        return arr.astype(np.int64).reshape(0)
    if arr.ndim != 1 or not np.issubdtype(arr.dtype, np.integer):
        raise ValueError(
            f"{who}.decode: expected a 1-D sequence of integer ids, got "
            f"shape {arr.shape} and dtype {arr.dtype}"
        )
    bad = arr[(arr < 0) | (arr >= vocab_size)]
    if bad.size:
        raise ValueError(
            f"{who}.decode: expected ids in [0, {vocab_size}), got {bad[:5].tolist()}"
        )
    return arr.astype(np.int64)


# ---- characters -------------------------------------------------------------------
class CharVocab:
    """One id per character, ids in sorted character order (as in char-rnn).

    Args:
        chars: the vocabulary, one distinct character each (``itos``).
        unk: what to do with a character outside the vocabulary when encoding.
            ``None`` (default) raises ``ValueError`` naming the characters; a
            single character (e.g. ``"?"``) stands in for every unknown one and
            is added to the vocabulary if missing.

    Example::

        vocab = CharVocab.build("hello world")
        vocab.encode("hello")   # array([3, 2, 4, 4, 5])
        vocab.decode([3, 2])    # 'he'
    """

    def __init__(self, chars: Iterable[str], unk: str | None = None):
        itos = list(chars)
        if any(not isinstance(c, str) or len(c) != 1 for c in itos):
            raise ValueError("CharVocab: expected single characters as the vocabulary")
        if len(set(itos)) != len(itos):
            counts = Counter(itos)  # linear: a whole corpus may arrive here
            dupes = sorted(c for c, n in counts.items() if n > 1)
            hint = (" To build the vocabulary of a text, use CharVocab.build(text)."
                    if isinstance(chars, str) else "")
            raise ValueError(
                f"CharVocab: expected distinct characters, got {len(itos):,} "
                f"characters with repeats of {dupes[:10]}.{hint}"
            )
        if unk is not None:
            if not isinstance(unk, str) or len(unk) != 1:
                raise ValueError(
                    f"CharVocab: expected unk to be one character or None, got {unk!r}"
                )
            if unk not in itos:
                itos.append(unk)
        if not itos:
            raise ValueError("CharVocab: expected at least one character, got none")
        self.itos: list[str] = itos
        self.stoi: dict[str, int] = {c: i for i, c in enumerate(itos)}
        self.unk = unk
        # encode() maps code points below 2**16 through a lookup table (one NumPy
        # gather); rarer characters beyond it go through the dict
        codes = np.array([ord(c) for c in itos], dtype=np.int64)
        small = codes < 1 << 16
        self._table = np.full(int(codes[small].max(initial=-1)) + 1, -1, np.int64)
        self._table[codes[small]] = np.flatnonzero(small)
        self._chars = np.array(itos, dtype=object)  # a str dtype drops "\x00"

    @classmethod
    def build(cls, text: str, unk: str | None = None) -> CharVocab:
        """The vocabulary of the distinct characters of ``text``, sorted."""
        if not isinstance(text, str) or not text:
            raise ValueError("CharVocab.build: expected a non-empty string")
        return cls(sorted(set(text)), unk=unk)

    def __len__(self) -> int:
        return len(self.itos)

    def __contains__(self, char: str) -> bool:
        return char in self.stoi

    def encode(self, text: str) -> np.ndarray:
        """Ids of the characters of ``text``, int64 of shape ``(len(text),)``."""
        if not isinstance(text, str):
            raise TypeError(
                f"CharVocab.encode: expected a str, got {type(text).__name__}"
            )
        if not text:
            return np.zeros(0, dtype=np.int64)
        codes = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), np.uint32)
        codes = codes.astype(np.int64)
        ids = np.full(len(codes), -1, dtype=np.int64)
        known = codes < len(self._table)
        ids[known] = self._table[codes[known]]
        for i in np.flatnonzero(~known):  # characters beyond the table
            ids[i] = self.stoi.get(chr(codes[i]), -1)
        missing = ids < 0
        if missing.any():
            if self.unk is None:
                unknown = sorted({chr(c) for c in codes[missing].tolist()})
                raise ValueError(
                    f"CharVocab.encode: {int(missing.sum())} characters are not in the "
                    f"vocabulary of {len(self)}, e.g. {unknown[:10]}; build the "
                    f"vocabulary from this text, or pass unk='?' to map them to one id"
                )
            ids[missing] = self.stoi[self.unk]
        return ids

    def decode(self, ids) -> str:
        """The string whose characters have ids ``ids`` (shape ``(N,)``)."""
        arr = _as_ids(ids, len(self), "CharVocab")
        return "".join(self._chars[arr].tolist())

    def to_dict(self) -> dict:
        """A JSON-compatible description; :meth:`from_dict` rebuilds the vocabulary."""
        return {"type": "CharVocab", "chars": "".join(self.itos), "unk": self.unk}

    @classmethod
    def from_dict(cls, d: dict) -> CharVocab:
        if not isinstance(d, dict) or d.get("type") != "CharVocab":
            raise ValueError(
                f"expected a dict from CharVocab.to_dict(), got {str(d)[:80]}"
            )
        return cls(d["chars"], unk=d.get("unk"))

    def __repr__(self) -> str:
        shown = "".join(self.itos[:20]).replace("\n", "\\n")
        more = "..." if len(self) > 20 else ""
        return f"CharVocab({len(self)} chars: {shown!r}{more}, unk={self.unk!r})"


# ---- byte-pair encoding -----------------------------------------------------------
#: GPT-2's pre-tokenizer, simplified to ASCII classes: an optional space then a
#: name, a number, or a run of punctuation; or whitespace. Every character matches
#: some branch, so the chunks concatenate back to the text.
CHUNK_PATTERN = r" ?[A-Za-z_][A-Za-z0-9_]*| ?[0-9]+| ?[^\sA-Za-z0-9_]+|\s+(?!\S)|\s+"
_CHUNK_RE = re.compile(CHUNK_PATTERN)


def _chunk_ids(text: str) -> tuple[list[list[int]], list[int]]:
    """Distinct chunks of ``text`` as lists of byte values, and their counts."""
    counts = Counter(_CHUNK_RE.findall(text))
    return [list(c.encode("utf-8")) for c in counts], list(counts.values())


def _merge(ids: list[int], pair: tuple[int, int], new: int) -> list[int]:
    """Replace each occurrence of ``pair`` in ``ids`` by ``new``, left to right."""
    out, i, n = [], 0, len(ids)
    while i < n:
        if i + 1 < n and ids[i] == pair[0] and ids[i + 1] == pair[1]:
            out.append(new)
            i += 2
        else:
            out.append(ids[i])
            i += 1
    return out


def _check_train_args(text: str, vocab_size: int) -> int:
    if not isinstance(text, str) or not text:
        raise ValueError("BPE training: expected a non-empty string of training text")
    if not isinstance(vocab_size, int) or vocab_size < 256:
        raise ValueError(
            f"BPE training: expected vocab_size >= 256 (the 256 byte "
            f"tokens plus merges), got {vocab_size!r}"
        )
    return vocab_size - 256


def train_bpe_naive(text: str, vocab_size: int) -> list[tuple[int, int]]:
    """Learn BPE merges the obvious way: recount every pair after every merge.

    ``O(merges x chunk bytes)``: the reference that :meth:`BPETokenizer.train`
    must agree with. The most frequent pair wins; ties go to the smallest pair.
    """
    n_merges = _check_train_args(text, vocab_size)
    words, freqs = _chunk_ids(text)
    merges = []
    for k in range(n_merges):
        counts = Counter()
        for ids, f in zip(words, freqs):
            for pair in pairwise(ids):
                counts[pair] += f
        if not counts:
            break  # every chunk is a single token: nothing left to merge
        pair = min(counts, key=lambda p: (-counts[p], p))
        merges.append(pair)
        words = [_merge(ids, pair, 256 + k) for ids in words]
    return merges


def _train_bpe_fast(text: str, vocab_size: int) -> list[tuple[int, int]]:
    n_merges = _check_train_args(text, vocab_size)
    words, freqs = _chunk_ids(text)
    counts: dict[tuple[int, int], int] = defaultdict(int)  # pair -> weighted count
    where: dict[tuple[int, int], set[int]] = defaultdict(set)  # pair -> chunk indices
    for w, ids in enumerate(words):
        for pair in pairwise(ids):
            counts[pair] += freqs[w]
            where[pair].add(w)
    # max-heap by (count, then smallest pair); entries go stale when a count
    # changes and are skipped when popped (lazy deletion)
    heap = [(-c, pair) for pair, c in counts.items()]
    heapq.heapify(heap)
    merges: list[tuple[int, int]] = []
    while len(merges) < n_merges:
        while heap and counts.get(heap[0][1], 0) != -heap[0][0]:
            heapq.heappop(heap)
        if not heap:
            break  # every chunk is a single token: nothing left to merge
        _, pair = heapq.heappop(heap)
        new = 256 + len(merges)
        merges.append(pair)
        changed = set()
        for w in where.pop(pair):
            ids, f = words[w], freqs[w]
            new_ids = _merge(ids, pair, new)
            if len(new_ids) == len(ids):
                continue  # an earlier merge already used these bytes
            for p in pairwise(ids):
                counts[p] -= f
                changed.add(p)
            for p in pairwise(new_ids):
                counts[p] += f
                where[p].add(w)
                changed.add(p)
            words[w] = new_ids
        for p in changed:
            if counts[p] > 0:
                heapq.heappush(heap, (-counts[p], p))
            else:
                del counts[p]
    return merges


class BPETokenizer:
    """Byte-level byte-pair encoding (Sennrich et al. 2016; GPT-2's variant).

    The base vocabulary is the 256 byte values, so every string encodes (as
    UTF-8) and ``decode(encode(s)) == s`` exactly. Merge ``k`` joins two ids into
    the new id ``256 + k``. Text is first cut into chunks by
    :data:`CHUNK_PATTERN` (a name with its leading space, a number, punctuation,
    whitespace), and merges never cross a chunk boundary.

    Args:
        merges: the learned merges in order, as pairs of ids.

    Example::

        tok = BPETokenizer.train(text, vocab_size=512)
        ids = tok.encode("def f(x):")   # int64 ids
        tok.decode(ids)                 # 'def f(x):'
    """

    def __init__(self, merges: Iterable[tuple[int, int]] = ()):
        self.merges: list[tuple[int, int]] = [tuple(map(int, m)) for m in merges]
        self.vocab: list[bytes] = [bytes([b]) for b in range(256)]
        for k, (a, b) in enumerate(self.merges):
            if not (0 <= a < 256 + k and 0 <= b < 256 + k):
                raise ValueError(
                    f"BPETokenizer: merge {k} joins ({a}, {b}), expected "
                    f"ids below {256 + k} (bytes and earlier merges)"
                )
            self.vocab.append(self.vocab[a] + self.vocab[b])
        self._ranks = {pair: k for k, pair in enumerate(self.merges)}
        self._cache: dict[
            str, list[int]
        ] = {}  # chunk -> ids; code repeats chunks a lot

    @classmethod
    def train(cls, text: str, vocab_size: int) -> BPETokenizer:
        """Learn ``vocab_size - 256`` merges from ``text``.

        Counting every pair once and then updating the counts incrementally is
        what makes this fast: the text is reduced to its distinct chunks with
        their counts (18,464 chunks, 166 KB, for the 1.8 MB stdlib training
        text); an index records
        which chunks contain each pair, so a merge rewrites only those chunks and
        adjusts the counts of the pairs they lose and gain; a heap with lazy
        deletion finds the most frequent pair in ``O(log P)``. Training costs
        ``O(C)`` to count plus, per merge, the length of the chunks it touches,
        against ``O(merges x C)`` for :func:`train_bpe_naive` (``C`` bytes in
        the distinct chunks). Ties go to the smallest pair, as in the naive
        version. Training stops early if no pair is left to merge, so
        ``len(tokenizer)`` can be below ``vocab_size`` for a tiny text.
        """
        return cls(_train_bpe_fast(text, vocab_size))

    def __len__(self) -> int:
        return len(self.vocab)

    def _encode_chunk(self, chunk: str) -> list[int]:
        ids = list(chunk.encode("utf-8"))
        ranks = self._ranks
        while len(ids) > 1:
            # apply the earliest-learned merge present; this replays training
            pair = min(pairwise(ids), key=lambda p: ranks.get(p, 1 << 60))
            if pair not in ranks:
                break
            ids = _merge(ids, pair, 256 + ranks[pair])
        return ids

    def encode(self, text: str) -> np.ndarray:
        """Token ids of ``text``: int64, shape ``(N,)``, ``N`` <= its UTF-8 bytes."""
        if not isinstance(text, str):
            raise TypeError(
                f"BPETokenizer.encode: expected a str, got {type(text).__name__}"
            )
        if len(self._cache) > 200_000:
            self._cache.clear()
        out: list[int] = []
        cache = self._cache
        for chunk in _CHUNK_RE.findall(text):
            ids = cache.get(chunk)
            if ids is None:
                ids = cache[chunk] = self._encode_chunk(chunk)
            out.extend(ids)
        return np.array(out, dtype=np.int64)

    def decode(self, ids) -> str:
        """The text of ``ids`` (shape ``(N,)``); invalid UTF-8 becomes ``U+FFFD``.

        Any output of :meth:`encode` decodes exactly; an arbitrary id sequence
        can split a multi-byte character, hence the replacement character.
        """
        arr = _as_ids(ids, len(self), "BPETokenizer")
        vocab = self.vocab
        return b"".join(vocab[i] for i in arr.tolist()).decode("utf-8", "replace")

    def token_str(self, i: int) -> str:
        """Token ``i`` as readable text (for printing a vocabulary)."""
        return self.vocab[i].decode("utf-8", "replace")

    def to_dict(self) -> dict:
        """A JSON-compatible description; :meth:`from_dict` rebuilds the tokenizer."""
        return {
            "type": "BPETokenizer",
            "pattern": CHUNK_PATTERN,
            "merges": [list(m) for m in self.merges],
        }

    @classmethod
    def from_dict(cls, d: dict) -> BPETokenizer:
        if not isinstance(d, dict) or d.get("type") != "BPETokenizer":
            raise ValueError(
                f"expected a dict from BPETokenizer.to_dict(), got {str(d)[:80]}"
            )
        if d.get("pattern", CHUNK_PATTERN) != CHUNK_PATTERN:
            raise ValueError(
                "BPETokenizer.from_dict: the saved chunk pattern differs "
                "from this version's CHUNK_PATTERN; retrain the tokenizer"
            )
        return cls(d["merges"])

    def __repr__(self) -> str:
        return (
            f"BPETokenizer({len(self)} tokens: 256 bytes + {len(self.merges)} merges)"
        )


# ---- words ------------------------------------------------------------------------
class WordVocab:
    """One id per word: the chunks of :data:`CHUNK_PATTERN`, most frequent first.

    A word is a name with its leading space, a number, a run of punctuation, or
    whitespace, so in-vocabulary text round-trips exactly. Id 0 is ``"<unk>"``,
    which every other chunk encodes to; decoding it gives the string ``"<unk>"``.
    The contrast with the other two tokenizers is the point: a word vocabulary
    grows with the text and still meets unknown words in new text.

    Args:
        words: the vocabulary after ``"<unk>"``, in id order.

    Example::

        vocab = WordVocab.build(text, max_size=5000)
        vocab.decode(vocab.encode("def f(x):"))   # 'def f(x):' if all are known
    """

    UNK = "<unk>"

    def __init__(self, words: Iterable[str]):
        self.itos: list[str] = [self.UNK, *words]
        self.stoi: dict[str, int] = {w: i for i, w in enumerate(self.itos)}
        if len(self.stoi) != len(self.itos):
            raise ValueError("WordVocab: expected distinct words (and no '<unk>')")

    @classmethod
    def build(
        cls, text: str, max_size: int | None = None, min_count: int = 1
    ) -> WordVocab:
        """Keep the ``max_size - 1`` most frequent words seen ``min_count`` times.

        Ties in frequency go to the alphabetically first word, so the result is
        deterministic. ``max_size`` counts ``"<unk>"``; ``None`` keeps every word.
        """
        if not isinstance(text, str) or not text:
            raise ValueError("WordVocab.build: expected a non-empty string")
        if max_size is not None and (not isinstance(max_size, int) or max_size < 2):
            raise ValueError(
                f"WordVocab.build: expected max_size >= 2 (<unk> plus a "
                f"word) or None, got {max_size!r}"
            )
        counts = Counter(_CHUNK_RE.findall(text))
        ranked = sorted(
            (w for w, c in counts.items() if c >= min_count),
            key=lambda w: (-counts[w], w),
        )
        return cls(ranked if max_size is None else ranked[: max_size - 1])

    def __len__(self) -> int:
        return len(self.itos)

    def encode(self, text: str) -> np.ndarray:
        """Ids of the words of ``text``, int64 of shape ``(N,)``; unknown words -> 0."""
        if not isinstance(text, str):
            raise TypeError(
                f"WordVocab.encode: expected a str, got {type(text).__name__}"
            )
        stoi = self.stoi
        return np.array([stoi.get(w, 0) for w in _CHUNK_RE.findall(text)], np.int64)

    def decode(self, ids) -> str:
        """The text of ``ids`` (shape ``(N,)``), with ``"<unk>"`` for id 0."""
        arr = _as_ids(ids, len(self), "WordVocab")
        itos = self.itos
        return "".join(itos[i] for i in arr.tolist())

    def to_dict(self) -> dict:
        """A JSON-compatible description; :meth:`from_dict` rebuilds the vocabulary."""
        return {"type": "WordVocab", "pattern": CHUNK_PATTERN, "words": self.itos[1:]}

    @classmethod
    def from_dict(cls, d: dict) -> WordVocab:
        if not isinstance(d, dict) or d.get("type") != "WordVocab":
            raise ValueError(
                f"expected a dict from WordVocab.to_dict(), got {str(d)[:80]}"
            )
        return cls(d["words"])

    def __repr__(self) -> str:
        shown = ", ".join(repr(w) for w in self.itos[1:6])
        return f"WordVocab({len(self)} words incl. <unk>: {shown}, ...)"
