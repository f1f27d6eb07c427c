"""One figure style for the whole book, and the plots chapters share.

Call :func:`use_style` once in a notebook's setup cell; every figure after it
shares fonts, sizes, colours and grid. The helpers return their ``Axes`` (or
``Figure``) so a chapter can add to them.
"""

from __future__ import annotations

import contextlib
import os
import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import matplotlib as mpl
import matplotlib.axes
import matplotlib.axis
import matplotlib.spines
import matplotlib.text
import numpy as np

# A colour-blind-safe palette (Okabe & Ito 2008), in the order lines are drawn.
COLORS = [
    "#0072B2",
    "#E69F00",
    "#009E73",
    "#D55E00",
    "#CC79A7",
    "#56B4E9",
    "#F0E442",
    "#000000",
]

STYLE: dict[str, Any] = {
    "figure.figsize": (6.4, 4.0),
    "figure.dpi": 100,
    "savefig.dpi": 150,
    "savefig.bbox": "tight",
    "font.size": 11,
    "axes.titlesize": 12,
    "axes.labelsize": 11,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "axes.prop_cycle": mpl.cycler(color=COLORS),
    "lines.linewidth": 2.0,
    "legend.frameon": False,
    "image.cmap": "viridis",
}


def use_style() -> None:
    """Apply the book's matplotlib style to every figure that follows.

    Every pyplot figure made afterwards also checks, each time it is drawn,
    that no two of its text labels overlap (:func:`overlapping_texts`). The
    notebook tests set ``DLBOOK_STRICT_FIGURES=1``, which turns an overlap into
    an error (``warn`` makes it a warning, ``file:PATH`` appends it to PATH);
    a reader sees nothing.
    """
    mpl.rcParams.update(STYLE)
    hook = f"{__name__}:guard_text_overlap"
    hooks = list(mpl.rcParams.get("figure.hooks", []))
    if hook not in hooks:
        mpl.rcParams["figure.hooks"] = hooks + [hook]


class OverlappingTextWarning(UserWarning):
    """Two text labels of a figure are drawn on top of each other."""


def _hidden_tick_labels(fig) -> set[int]:
    """ids of tick labels matplotlib will not draw (ticks outside the view)."""
    hidden = set()
    for ax in fig.axes:
        for axis in ax._axis_map.values():
            drawn = {id(t) for t in axis._update_ticks()}
            for tick in axis.get_major_ticks() + axis.get_minor_ticks():
                if id(tick) not in drawn:
                    hidden.update({id(tick.label1), id(tick.label2)})
    return hidden


def _drawn_artists(artist):
    """``artist`` and its descendants that matplotlib will draw.

    A hidden parent hides its children, and an Axes switched off with
    ``set_axis_off()`` draws neither its axes (ticks, tick labels, axis labels)
    nor its spines, although those stay "visible" one by one.
    """
    if not artist.get_visible():
        return
    yield artist
    children = artist.get_children()
    if isinstance(artist, mpl.axes.Axes) and not artist.axison:
        children = [c for c in children
                    if not isinstance(c, (mpl.axis.Axis, mpl.spines.Spine))]
    for child in children:
        yield from _drawn_artists(child)


def _visible_texts(fig) -> list:
    try:
        hidden = _hidden_tick_labels(fig)
    except AttributeError:  # private matplotlib API moved: check every label
        hidden = set()
    return [
        t for t in _drawn_artists(fig)
        if isinstance(t, mpl.text.Text) and t.get_text().strip() and id(t) not in hidden
    ]


def overlapping_texts(fig, tolerance: float = 1.0) -> list[tuple[str, str]]:
    """Pairs of text labels of ``fig`` whose drawn boxes overlap.

    Boxes are shrunk by ``tolerance`` pixels on each side, so labels that only
    touch do not count. Ticks, titles, axis labels, legends and annotations are
    all ``Text`` artists, so one check covers them all. Call after drawing.
    """
    renderer = fig.canvas.get_renderer()
    boxes = []
    for text in _visible_texts(fig):
        try:
            box = text.get_window_extent(renderer)
        except (RuntimeError, ValueError):  # text without a position yet
            continue
        if box.width <= 2 * tolerance or box.height <= 2 * tolerance:
            continue
        boxes.append((text, box.expanded(1, 1).padded(-tolerance)))
    found = []
    for i, (a, box_a) in enumerate(boxes):
        for b, box_b in boxes[i + 1:]:
            if box_a.overlaps(box_b):
                found.append((a.get_text(), b.get_text()))
    return found


def guard_text_overlap(fig) -> None:
    """Check ``fig`` for overlapping labels every time it is drawn."""

    def check(event) -> None:
        pairs = overlapping_texts(fig)
        if not pairs:
            return
        message = f"overlapping text in a figure: {pairs[:4]}"
        mode = os.environ.get("DLBOOK_STRICT_FIGURES", "")
        if mode == "1":
            raise RuntimeError(message)
        if mode == "warn":
            warnings.warn(message, OverlappingTextWarning, stacklevel=2)
        if mode.startswith("file:"):  # collect across notebooks, for a review
            with open(mode[5:], "a") as log:
                log.write(f"{os.getcwd()}\t{message}\n")

    fig.canvas.mpl_connect("draw_event", check)


@contextlib.contextmanager
def style():
    """The book's style for the figures made inside a ``with`` block only."""
    with mpl.rc_context(STYLE):
        yield


def _as_mapping(history: Any) -> Mapping[str, Sequence[float]]:
    if hasattr(history, "to_dict"):
        history = history.to_dict()
    if not isinstance(history, Mapping):
        raise TypeError(
            "plot_history: expected a mapping of name -> per-epoch values (or an "
            f"object with .to_dict()), got {type(history).__name__}"
        )
    series = {}
    for k, v in history.items():
        if isinstance(v, (list, tuple, np.ndarray)) and len(v) and np.isscalar(v[0]):
            series[k] = list(v)
    if not series:
        raise ValueError(
            f"plot_history: no per-epoch series found in keys {list(history)}"
        )
    return series


def plot_history(history: Any, axes=None, title: str | None = None):
    """Training curves: losses in the upper panel, other metrics below it.

    ``history`` maps names to per-epoch values, e.g. ``{"train_loss": [...],
    "val_loss": [...], "val_accuracy": [...]}``, or is an object with
    ``to_dict()`` such as :class:`dlbook.torch.train.History`. Keys containing
    ``"loss"`` go to the first panel; the rest (accuracies) to the second. Keys
    named ``epoch`` or ``time`` are not plotted. Without ``axes`` the panels are
    stacked in one 7-inch-wide column, so they stay readable at phone width.
    Returns the array of Axes.
    """
    import matplotlib.pyplot as plt

    series = _as_mapping(history)
    skip = {"epoch", "time", "lr"}
    losses = {k: v for k, v in series.items() if "loss" in k and k not in skip}
    others = {k: v for k, v in series.items() if "loss" not in k and k not in skip}
    panels = [p for p in (losses, others) if p]
    stacked = axes is None
    if stacked:
        _, axes = plt.subplots(
            len(panels), 1, figsize=(7, 3.3 * len(panels)), squeeze=False,
            sharex=True,
        )
        axes = axes[:, 0]
    axes = np.atleast_1d(axes)
    if len(axes) < len(panels):
        raise ValueError(f"plot_history: need {len(panels)} axes, got {len(axes)}")
    for ax, panel, ylabel in zip(
        axes, panels, ["loss", "metric"] if losses else ["metric"]
    ):
        for name, values in panel.items():
            epochs = np.arange(1, len(values) + 1)
            ax.plot(
                epochs, values, label=name, linestyle="--" if "train" in name else "-"
            )
        if not stacked or ax is axes[len(panels) - 1]:
            ax.set_xlabel("epoch")  # stacked panels share the bottom one's axis
        ax.set_ylabel(ylabel)
        ax.legend()
    if title:
        axes[0].figure.suptitle(title)
    return axes


def plot_decision_boundary(
    predict: Callable[[np.ndarray], np.ndarray],
    X: np.ndarray,
    y: np.ndarray,
    ax=None,
    resolution: int = 200,
    margin: float = 0.5,
    title: str | None = None,
):
    """Shade the regions a 2-D classifier assigns to each class, with the data.

    ``predict`` maps an (M, 2) array of points to M class labels (ints). ``X`` is
    (N, 2) and ``y`` (N,). Returns the Axes.
    """
    import matplotlib.pyplot as plt
    from matplotlib.colors import ListedColormap

    X = np.asarray(X, dtype=float)
    y = np.asarray(y)
    if X.ndim != 2 or X.shape[1] != 2:
        raise ValueError(
            f"plot_decision_boundary: X must have shape (N, 2), got {X.shape}"
        )
    if y.shape != (X.shape[0],):
        raise ValueError(
            f"plot_decision_boundary: y must have shape ({X.shape[0]},), got {y.shape}"
        )
    if ax is None:
        _, ax = plt.subplots(figsize=(3.6, 3.6))
    lo, hi = X.min(axis=0) - margin, X.max(axis=0) + margin
    gx, gy = np.meshgrid(
        np.linspace(lo[0], hi[0], resolution), np.linspace(lo[1], hi[1], resolution)
    )
    grid = np.column_stack([gx.ravel(), gy.ravel()])  # (resolution**2, 2)
    labels = np.asarray(predict(grid)).reshape(gx.shape)
    classes = np.unique(np.concatenate([np.unique(y), np.unique(labels)]))
    cmap = ListedColormap([COLORS[int(c) % len(COLORS)] for c in classes])
    index = np.searchsorted(classes, labels)
    ax.contourf(
        gx, gy, index, levels=np.arange(len(classes) + 1) - 0.5, cmap=cmap, alpha=0.25
    )
    for c in np.unique(y):
        ax.scatter(
            *X[y == c].T,
            color=COLORS[int(c) % len(COLORS)],
            edgecolor="k",
            s=60,
            zorder=3,
            label=f"class {c}",
        )
    ax.set_xlim(lo[0], hi[0])
    ax.set_ylim(lo[1], hi[1])
    ax.set_aspect("equal")
    ax.grid(False)
    if title:
        ax.set_title(title)
    return ax
