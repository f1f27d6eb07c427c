"""dlbook.data text: the stdlib corpus, its split, tokenizers, batches, downloads."""

from __future__ import annotations

import hashlib
import json
import platform
import socket

import numpy as np
import pytest
from http_fixtures import file_server
from hypothesis import given, settings
from hypothesis import strategies as st

from dlbook import data
from dlbook.data import (
    BPETokenizer,
    CharVocab,
    ChecksumError,
    ChecksumNotRecordedError,
    DownloadError,
    WordVocab,
)
from dlbook.data.text import module_path, read_module

SMALL = 200_000  # characters: enough for every test, fast to read


@pytest.fixture(scope="module")
def corpus():
    return data.stdlib_corpus(max_chars=SMALL)


@pytest.fixture(scope="module")
def bpe(corpus):
    return BPETokenizer.train(corpus.text[:60_000], vocab_size=256 + 200)


# ---- the corpus -------------------------------------------------------------------
def test_documented_selection_exists_and_is_read_in_order():
    assert len(data.STDLIB_MODULES) == 50
    assert list(data.STDLIB_MODULES) == sorted(data.STDLIB_MODULES)
    for name in data.STDLIB_MODULES:
        assert module_path(name).is_file(), name
    full = data.stdlib_corpus()
    assert full.files == data.STDLIB_MODULES
    assert 1_000_000 < len(full) < 4_000_000  # "a few MB at most"
    # spans tile the text, and each span is that module's normalised source
    assert full.spans[0][0] == 0 and full.spans[-1][1] == len(full.text)
    for (_, end), (start, _) in zip(full.spans, full.spans[1:]):
        assert end == start
    assert full.file_text("json.decoder") == read_module("json.decoder")
    assert "class JSONDecoder" in full.file_text("json.decoder")
    assert full.python_version == platform.python_version()


def test_corpus_is_deterministic_with_a_fingerprint(corpus):
    again = data.stdlib_corpus(max_chars=SMALL)
    assert again.text == corpus.text and again.spans == corpus.spans
    assert corpus.fingerprint == hashlib.sha256(corpus.text.encode()).hexdigest()
    assert corpus.fingerprint[:12] in repr(corpus)
    assert "chars" in repr(corpus) and len(repr(corpus)) < 120  # never the text


def test_max_chars_keeps_whole_lines_and_a_prefix_of_the_full_corpus(corpus):
    full = data.stdlib_corpus()
    assert len(corpus) <= SMALL and corpus.text.endswith("\n")
    assert full.text.startswith(corpus.text)
    assert corpus.files == full.files[: len(corpus.files)]


def test_text_is_printable_ascii():
    full = data.stdlib_corpus()
    assert full.text.isascii()
    assert set(full.text) <= {"\n"} | {chr(c) for c in range(32, 127)}


def test_normalize_text():
    assert data.normalize_text("a\r\nb\rc") == "a\nb\nc"
    assert data.normalize_text("\tx\n  \ty") == "        x\n        y"
    assert data.normalize_text("café €5\x0c") == "cafe ?5"


def test_corpus_rejects_bad_input():
    with pytest.raises(FileNotFoundError, match="no_such_module"):
        data.stdlib_corpus(["json", "no_such_module"])
    with pytest.raises(ValueError, match="dotted module name"):
        data.stdlib_corpus(["../etc/passwd"])
    with pytest.raises(TypeError, match="sequence of module names"):
        data.stdlib_corpus("json")
    with pytest.raises(ValueError, match="max_chars"):
        data.stdlib_corpus(max_chars=0)
    with pytest.raises(ValueError, match="distinct"):
        data.stdlib_corpus(["json", "json"])


# ---- the split --------------------------------------------------------------------
def test_split_is_by_file_disjoint_and_near_the_fraction():
    split = data.load_text_corpus(val_fraction=0.1)
    assert set(split.train_files).isdisjoint(split.val_files)
    assert set(split.train_files) | set(split.val_files) == set(data.STDLIB_MODULES)
    assert len(split.train) + len(split.val) == len(split.corpus)
    assert 0.07 < len(split.val) / len(split.corpus) < 0.13
    c = split.corpus
    assert split.val == "".join(c.file_text(f) for f in split.val_files)
    # no long validation passage appears in the training text
    for name in split.val_files:
        text = c.file_text(name)
        for start in range(0, len(text) - 200, max(1, len(text) // 5)):
            assert text[start : start + 200] not in split.train
    # validation files are spread over the corpus, not only its end
    positions = [data.STDLIB_MODULES.index(f) for f in split.val_files]
    assert min(positions) < 10


def test_split_rejects_bad_input():
    with pytest.raises(ValueError, match="val_fraction"):
        data.load_text_corpus(val_fraction=1.0)
    with pytest.raises(ValueError, match="at least 2 files"):
        data.load_text_corpus(modules=["json"])


# ---- character vocabulary ---------------------------------------------------------
def test_char_vocab_round_trip_and_save(corpus):
    vocab = CharVocab.build(corpus.text)
    ids = vocab.encode(corpus.text)
    assert ids.dtype == np.int64 and ids.shape == (len(corpus),)
    assert vocab.decode(ids) == corpus.text
    assert vocab.itos == sorted(vocab.itos) and len(vocab) <= 96
    restored = CharVocab.from_dict(json.loads(json.dumps(vocab.to_dict())))
    np.testing.assert_array_equal(restored.encode(corpus.text[:500]), ids[:500])
    assert "CharVocab(" in repr(vocab)


def test_char_vocab_unknown_policy():
    strict = CharVocab.build("abc")
    with pytest.raises(ValueError, match=r"not in the vocabulary.*'z'"):
        strict.encode("abz")
    lenient = CharVocab.build("abc", unk="?")
    assert len(lenient) == 4
    assert lenient.decode(lenient.encode("azbé")) == "a?b?"
    with pytest.raises(ValueError, match=r"ids in \[0, 4\)"):
        lenient.decode([0, 7])
    with pytest.raises(ValueError, match="one character"):
        CharVocab.build("abc", unk="<unk>")
    with pytest.raises(ValueError, match="from CharVocab.to_dict"):
        CharVocab.from_dict({"type": "BPETokenizer"})
    assert strict.encode("").shape == (0,) and strict.decode([]) == ""
    nul = CharVocab.build("a\x00")  # NumPy's str arrays would drop a trailing NUL
    assert nul.decode(nul.encode("\x00a\x00")) == "\x00a\x00"


@settings(max_examples=25, deadline=None)
@given(st.text(max_size=60))
def test_char_vocab_round_trips_random_strings(s):
    vocab = CharVocab.build(s + "a")
    assert vocab.decode(vocab.encode(s)) == s


# ---- byte-pair encoding -----------------------------------------------------------
def test_bpe_fast_training_matches_the_naive_reference(corpus):
    text = corpus.text[:20_000]
    fast = BPETokenizer.train(text, vocab_size=256 + 60)
    assert fast.merges == data.train_bpe_naive(text, vocab_size=256 + 60)
    assert len(fast) == 256 + 60


def test_bpe_round_trip_compression_and_save(corpus, bpe):
    text = corpus.text[60_000:90_000]  # text it was not trained on
    ids = bpe.encode(text)
    assert ids.dtype == np.int64 and ids.ndim == 1
    assert bpe.decode(ids) == text
    assert len(ids) < 0.6 * len(text)  # merges compress code well
    assert ids.max() < len(bpe) == 456
    restored = BPETokenizer.from_dict(json.loads(json.dumps(bpe.to_dict())))
    np.testing.assert_array_equal(restored.encode(text), ids)
    # merge k produced token 256 + k, which spells its two parts
    a, b = bpe.merges[0]
    assert bpe.vocab[256] == bpe.vocab[a] + bpe.vocab[b]
    assert "200 merges" in repr(bpe)


@settings(max_examples=25, deadline=None)
@given(st.text(max_size=80))
def test_bpe_round_trips_random_strings(bpe, s):
    assert bpe.decode(bpe.encode(s)) == s


def test_bpe_stops_when_nothing_is_left_to_merge():
    tok = BPETokenizer.train("ab ab", vocab_size=300)
    assert tok.decode(tok.encode("ab ab ba")) == "ab ab ba"
    assert len(tok) < 300  # "ab" and " ab" need only a few merges


def test_bpe_rejects_bad_input(bpe):
    with pytest.raises(ValueError, match="vocab_size >= 256"):
        BPETokenizer.train("hello", vocab_size=100)
    with pytest.raises(ValueError, match="non-empty"):
        BPETokenizer.train("", vocab_size=300)
    with pytest.raises(ValueError, match=r"ids in \[0, 456\)"):
        bpe.decode([1, 456])
    with pytest.raises(ValueError, match="below 256"):
        BPETokenizer([(0, 300)])
    with pytest.raises(TypeError, match="expected a str"):
        bpe.encode(b"bytes")


# ---- words ------------------------------------------------------------------------
def test_word_vocab_round_trip_unknowns_and_save(corpus):
    vocab = WordVocab.build(corpus.text, max_size=2000)
    assert len(vocab) == 2000 and vocab.itos[0] == "<unk>"
    seen = corpus.text[:5000]
    ids = vocab.encode(seen)
    assert ids.dtype == np.int64 and 0 < (ids == 0).mean() < 0.15  # some unknown
    known = vocab.decode(vocab.encode(" self = self"))
    assert known == " self = self"
    assert vocab.decode(vocab.encode(" zqxjkv_unseen_name")) == "<unk>"
    full = WordVocab.build(corpus.text)
    assert full.decode(full.encode(corpus.text)) == corpus.text
    restored = WordVocab.from_dict(json.loads(json.dumps(vocab.to_dict())))
    np.testing.assert_array_equal(restored.encode(seen), ids)
    with pytest.raises(ValueError, match="max_size >= 2"):
        WordVocab.build("a b", max_size=1)
    with pytest.raises(ValueError, match=r"ids in \[0, 2000\)"):
        vocab.decode([2000])


# ---- batches ----------------------------------------------------------------------
def test_get_batch_shapes_and_shift_by_one():
    tokens = np.arange(1000, dtype=np.int32) * 3
    X, Y = data.get_batch(
        tokens, block_size=16, batch_size=8, rng=np.random.default_rng(0)
    )
    assert X.shape == Y.shape == (8, 16) and X.dtype == Y.dtype == np.int64
    np.testing.assert_array_equal(X[:, 1:], Y[:, :-1])
    np.testing.assert_array_equal(Y - X, 3)  # Y is the next token of X
    X2, _ = data.get_batch(tokens, 16, 8, rng=0)
    X3, _ = data.get_batch(tokens, 16, 8, rng=0)
    np.testing.assert_array_equal(X2, X3)
    # every window fits, including the very last start position
    _, Ys = data.get_batch(np.arange(17), 16, 50, rng=1)
    np.testing.assert_array_equal(Ys[:, -1], 16)


def test_sequential_batches_cover_the_data_once():
    tokens = np.arange(103)
    batches = list(data.sequential_batches(tokens, block_size=10, batch_size=4))
    assert [X.shape for X, _ in batches] == [(4, 10), (4, 10), (2, 10)]
    X = np.concatenate([X for X, _ in batches]).ravel()
    Y = np.concatenate([Y for _, Y in batches]).ravel()
    np.testing.assert_array_equal(X, np.arange(100))
    np.testing.assert_array_equal(Y, np.arange(1, 101))


def test_batches_reject_bad_input():
    with pytest.raises(ValueError, match="at least block_size"):
        data.get_batch(np.arange(8), block_size=8, batch_size=2, rng=0)
    with pytest.raises(ValueError, match="1-D integer"):
        data.get_batch(np.zeros((4, 4)), block_size=2, batch_size=2, rng=0)
    with pytest.raises(TypeError, match="Generator"):
        data.get_batch(np.arange(100), 4, 2, rng="seed")
    with pytest.raises(ValueError, match="batch_size"):
        next(data.sequential_batches(np.arange(100), 4, 0))


# ---- labelled snippets ------------------------------------------------------------
def test_snippets_labels_sizes_and_disjoint_regions():
    sn = data.stdlib_snippets(length=128, n_per_module=50, seed=0)
    k = len(data.SNIPPET_MODULES)
    assert sn.label_names == data.SNIPPET_MODULES
    assert len(sn.texts_train) == 40 * k and len(sn.texts_test) == 10 * k
    assert np.bincount(sn.y_train).tolist() == [40] * k
    assert np.bincount(sn.y_test).tolist() == [10] * k
    assert sn.y_train.dtype == np.int64
    assert all(len(t) == 128 for t in sn.texts_train + sn.texts_test)
    texts = {label: read_module(name) for label, name in enumerate(sn.label_names)}
    for label in texts:
        tr = sn.starts_train[sn.y_train == label]
        te = sn.starts_test[sn.y_test == label]
        assert (tr + 128).max() <= te.min()  # train windows end before test ones
    for snippet, label, start in zip(sn.texts_test, sn.y_test, sn.starts_test):
        assert texts[label][start : start + 128] == snippet
        assert start == 0 or texts[label][start - 1] == "\n"  # starts a line
    # classes are interleaved, not in blocks
    assert len(set(sn.y_train[:20].tolist())) > 1


def test_snippets_are_deterministic():
    a = data.stdlib_snippets(n_per_module=20, seed=3)
    b = data.stdlib_snippets(n_per_module=20, seed=3)
    c = data.stdlib_snippets(n_per_module=20, seed=4)
    assert a.texts_train == b.texts_train and a.texts_test == b.texts_test
    np.testing.assert_array_equal(a.y_train, b.y_train)
    assert a.texts_train != c.texts_train


def test_snippets_reject_bad_input():
    with pytest.raises(ValueError, match="at least 2 distinct"):
        data.stdlib_snippets(modules=["json"])
    with pytest.raises(ValueError, match="expected at least 1 of each"):
        data.stdlib_snippets(n_per_module=1)
    with pytest.raises(ValueError, match="line starts"):
        data.stdlib_snippets(modules=["bisect", "json"], n_per_module=5000)


# ---- public-domain texts through the verified downloader -----------------------
BOOK = (
    "\ufeffThe Project Gutenberg eBook of A Test\r\n\r\nRelease date: never\r\n"
    "*** START OF THE PROJECT GUTENBERG EBOOK A TEST ***\r\n\r\n"
    "To be, or not to be\u2014that is the question.\r\n\r\n"
    "*** END OF THE PROJECT GUTENBERG EBOOK A TEST ***\r\nLicence text.\r\n"
).encode("utf-8")
BOOK_SHA = hashlib.sha256(BOOK).hexdigest()


def test_load_text_url_downloads_verifies_caches_and_strips(tmp_cache):
    with file_server({"book.txt": BOOK}) as (url, server):
        text = data.load_text_url(f"{url}/book.txt", BOOK_SHA, gutenberg=True)
        assert text == "To be, or not to be\u2014that is the question.\n"
        assert (tmp_cache / "texts" / "book.txt").read_bytes() == BOOK
        again = data.load_text_url(f"{url}/book.txt", BOOK_SHA, gutenberg=True)
        assert again == text and server.requests == ["/book.txt"]  # cached
        ascii_text = data.load_text_url(f"{url}/book.txt", BOOK_SHA, ascii_only=True)
        assert ascii_text.isascii() and "Licence text." in ascii_text


def test_load_text_url_rejects_a_corrupted_file(tmp_cache):
    corrupted = BOOK.replace(b"question", b"questlon")
    with (
        file_server({"book.txt": corrupted}) as (url, _),
        pytest.raises(ChecksumError, match="sha256 mismatch"),
    ):
        data.load_text_url(f"{url}/book.txt", BOOK_SHA)
    assert not (tmp_cache / "texts" / "book.txt").exists()


def test_load_text_url_offline_says_what_to_do(tmp_cache):
    with socket.socket() as s:  # a port with nobody listening
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(DownloadError, match="could not connect.*copy it to"):
        data.load_text_url(f"http://127.0.0.1:{port}/book.txt", BOOK_SHA, timeout=2)


def test_registry_entry_without_checksum_raises_before_any_download(tmp_cache):
    assert data.TEXT_SOURCES["shakespeare"].sha256 is None
    with pytest.raises(ChecksumNotRecordedError, match=r"sha256=.*load_text_url"):
        data.load_text("shakespeare")
    with pytest.raises(KeyError, match="known texts"):
        data.load_text("no such book")
    with pytest.raises(ValueError, match="expected the sha256"):
        data.load_text_url("http://127.0.0.1:1/x.txt", None)
    assert not (tmp_cache / "texts").exists()


def test_registry_entry_with_a_passed_checksum_and_mirror(tmp_cache):
    with file_server({"pg100.txt": BOOK}) as (url, _):
        text = data.load_text("shakespeare", sha256=BOOK_SHA, url=f"{url}/pg100.txt")
    assert text.startswith("To be, or not to be")  # Gutenberg header stripped


def test_recorded_checksum_is_enforced(tmp_cache):
    entry = data.TEXT_SOURCES["tinyshakespeare"]
    assert len(entry.sha256) == 64 and int(entry.sha256, 16) >= 0
    # a mirror serving other bytes under the recorded checksum is refused
    with (
        file_server({"input.txt": BOOK}) as (url, _),
        pytest.raises(ChecksumError),
    ):
        data.load_text("tinyshakespeare", url=f"{url}/input.txt")
    assert not (tmp_cache / "texts" / entry.filename).exists()
    # and the same bytes under their own checksum load, not stripped of anything
    with file_server({"input.txt": BOOK}) as (url, _):
        text = data.load_text("tinyshakespeare", sha256=BOOK_SHA, url=f"{url}/input.txt")
    assert text.startswith("The Project Gutenberg eBook of A Test\n")


def test_strip_gutenberg_and_bad_text(tmp_cache):
    with pytest.raises(ValueError, match="START OF THE PROJECT GUTENBERG"):
        data.strip_gutenberg("no markers here\n")
    latin1 = "caf\xe9".encode("latin-1")
    with (
        file_server({"l.txt": latin1}) as (url, _),
        pytest.raises(ValueError, match="expected UTF-8"),
    ):
        data.load_text_url(f"{url}/l.txt", hashlib.sha256(latin1).hexdigest())
