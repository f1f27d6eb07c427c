"""Data sets that work offline, and a verified downloader for the ones that don't.

Every loader returns NumPy arrays ``(X_train, y_train, X_test, y_test)`` with X as
float32 and y as int64, so a chapter can hand them to ``dlbook.numpy`` or wrap
them in torch tensors without conversion surprises. :func:`make_shapes` draws
synthetic images with boxes and masks for detection and segmentation.
"""

from .cache import cache_dir
from .cifar import CIFAR10_CLASSES, load_cifar10
from .download import ChecksumError, DownloadError, download
from .idx import load_fashion_mnist, load_mnist, read_idx
from .shapes import (
    SHAPE_BACKGROUND_COLOR,
    SHAPE_CLASS_COLORS,
    SHAPE_CLASSES,
    ShapesDataset,
    make_shape_images,
    make_shapes,
)
from .tabular import load_digits, load_mnist1d
from .text import (
    SNIPPET_MODULES,
    STDLIB_MODULES,
    TextCorpus,
    get_batch,
    load_text_corpus,
    normalize_text,
    sequential_batches,
    stdlib_corpus,
    stdlib_snippets,
)
from .text_download import (
    TEXT_SOURCES,
    ChecksumNotRecordedError,
    load_text,
    load_text_url,
    strip_gutenberg,
)
from .tokenizers import BPETokenizer, CharVocab, WordVocab, train_bpe_naive

__all__ = [
    "cache_dir",
    "download",
    "DownloadError",
    "ChecksumError",
    "read_idx",
    "load_mnist",
    "load_fashion_mnist",
    "load_cifar10",
    "CIFAR10_CLASSES",
    "load_digits",
    "load_mnist1d",
    "SHAPE_BACKGROUND_COLOR",
    "SHAPE_CLASS_COLORS",
    "SHAPE_CLASSES",
    "ShapesDataset",
    "make_shapes",
    "make_shape_images",
    "STDLIB_MODULES",
    "SNIPPET_MODULES",
    "TextCorpus",
    "stdlib_corpus",
    "load_text_corpus",
    "normalize_text",
    "stdlib_snippets",
    "get_batch",
    "sequential_batches",
    "CharVocab",
    "BPETokenizer",
    "train_bpe_naive",
    "WordVocab",
    "TEXT_SOURCES",
    "ChecksumNotRecordedError",
    "load_text",
    "load_text_url",
    "strip_gutenberg",
]
