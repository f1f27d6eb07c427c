"""The drawing vocabulary every conceptual diagram of the book shares.

One visual language for all diagrams, so a reader learns it once:

* **tensors** (inputs, activations, outputs) are light-blue rounded boxes;
* **layers with parameters** (Linear, Conv, embeddings) are orange boxes;
* **operations without parameters** (add, multiply, softmax, activations,
  concatenation) are small white circles or boxes with a grey edge;
* **losses and targets** are green boxes;
* arrows carry data in the direction it flows, and the **tensor shape** is
  written beside the arrow in a monospace font, for example ``(B, T, C)``.

Coordinates are in abstract units (one unit is about one box width), with
``y`` growing upwards. Build a diagram with :func:`canvas`, place nodes with
:func:`box` and :func:`op`, join them with :func:`arrow`, and return the
figure. Every text is at least 9 pt, so a diagram stays readable when the
page is narrowed to a phone's width.
"""

from __future__ import annotations

from dataclasses import dataclass

import matplotlib.pyplot as plt
from matplotlib.patches import Circle, FancyArrowPatch, FancyBboxPatch

# fill, edge
KINDS: dict[str, tuple[str, str]] = {
    "tensor": ("#DCEBF7", "#0072B2"),
    "layer": ("#FBE3B8", "#B87700"),
    "op": ("#FFFFFF", "#555555"),
    "loss": ("#CDEBDD", "#00785A"),
    "group": ("none", "#888888"),
}
TEXT_SIZE = 10
SHAPE_SIZE = 9
EDGE_COLOR = "#333333"


@dataclass(frozen=True)
class Node:
    """A placed box or circle; its anchors are where arrows attach."""

    x: float
    y: float
    w: float
    h: float

    @property
    def top(self) -> tuple[float, float]:
        return (self.x, self.y + self.h / 2)

    @property
    def bottom(self) -> tuple[float, float]:
        return (self.x, self.y - self.h / 2)

    @property
    def left(self) -> tuple[float, float]:
        return (self.x - self.w / 2, self.y)

    @property
    def right(self) -> tuple[float, float]:
        return (self.x + self.w / 2, self.y)

    @property
    def center(self) -> tuple[float, float]:
        return (self.x, self.y)


def canvas(width: float, height: float, scale: float = 0.9):
    """A blank figure ``width`` x ``height`` units (``scale`` inches per unit).

    Returns ``(fig, ax)``; the axes has no frame or ticks and equal aspect.
    """
    if width <= 0 or height <= 0:
        raise ValueError(f"canvas: width and height must be positive, got {width} x {height}")
    fig, ax = plt.subplots(figsize=(width * scale, height * scale))
    ax.set_xlim(0, width)
    ax.set_ylim(0, height)
    ax.set_aspect("equal")
    ax.set_axis_off()
    fig.subplots_adjust(0, 0, 1, 1)
    return fig, ax


def box(ax, x: float, y: float, text: str, kind: str = "layer", w: float = 1.6,
        h: float = 0.6, size: float = TEXT_SIZE, dashed: bool = False) -> Node:
    """A rounded box centred at ``(x, y)`` labelled ``text``; returns its :class:`Node`."""
    if kind not in KINDS:
        raise ValueError(f"box: kind must be one of {sorted(KINDS)}, got {kind!r}")
    fill, edge = KINDS[kind]
    ax.add_patch(FancyBboxPatch(
        (x - w / 2, y - h / 2), w, h, boxstyle="round,pad=0,rounding_size=0.08",
        facecolor=fill, edgecolor=edge, lw=1.4, ls="--" if dashed else "-",
        zorder=2))
    if text:
        ax.text(x, y, text, ha="center", va="center", fontsize=size, zorder=3)
    return Node(x, y, w, h)


def op(ax, x: float, y: float, symbol: str, r: float = 0.22,
       size: float = TEXT_SIZE + 1) -> Node:
    """A small circle for a parameter-free operation (``"+"``, ``"×"``, ``"σ"``)."""
    fill, edge = KINDS["op"]
    ax.add_patch(Circle((x, y), r, facecolor=fill, edgecolor=edge, lw=1.4, zorder=2))
    ax.text(x, y, symbol, ha="center", va="center", fontsize=size, zorder=3)
    return Node(x, y, 2 * r, 2 * r)


def group(ax, x0: float, y0: float, x1: float, y1: float, title: str = "",
          title_side: str = "left") -> Node:
    """A dashed frame around part of a diagram (a block repeated N times)."""
    fill, edge = KINDS["group"]
    ax.add_patch(FancyBboxPatch(
        (x0, y0), x1 - x0, y1 - y0, boxstyle="round,pad=0,rounding_size=0.12",
        facecolor=fill, edgecolor=edge, lw=1.1, ls="--", zorder=1))
    if title:
        tx = x0 + 0.1 if title_side == "left" else x1 - 0.1
        ax.text(tx, y1 - 0.1, title, ha=title_side, va="top", fontsize=SHAPE_SIZE,
                color="#555555", zorder=3)
    return Node((x0 + x1) / 2, (y0 + y1) / 2, x1 - x0, y1 - y0)


def arrow(ax, start, end, shape: str | None = None, side: str = "right",
          curve: float = 0.0, offset: float = 0.12, style: str = "-|>",
          dashed: bool = False, color: str = EDGE_COLOR) -> None:
    """An arrow from point ``start`` to point ``end``, with an optional shape label.

    ``start`` and ``end`` are ``(x, y)`` points, usually node anchors
    (``node.top``). ``shape`` is written at the arrow's midpoint, on its
    ``side`` ("right", "left", "above", "below"), ``offset`` units away.
    ``curve`` bends the arrow (the ``rad`` of an arc; 0 is straight).
    """
    ax.add_patch(FancyArrowPatch(
        start, end, arrowstyle=style, mutation_scale=12, lw=1.3, color=color,
        ls="--" if dashed else "-", connectionstyle=f"arc3,rad={curve}",
        shrinkA=0, shrinkB=0, zorder=1.5))
    if shape:
        label(ax, ((start[0] + end[0]) / 2, (start[1] + end[1]) / 2), shape,
              side=side, offset=offset)


def label(ax, point, text: str, side: str = "right", offset: float = 0.12,
          size: float = SHAPE_SIZE, mono: bool = True, color: str = "#444444") -> None:
    """Small text beside ``point``: a tensor shape, or a note."""
    placements = {
        "right": ((offset, 0), "left", "center"),
        "left": ((-offset, 0), "right", "center"),
        "above": ((0, offset), "center", "bottom"),
        "below": ((0, -offset), "center", "top"),
    }
    if side not in placements:
        raise ValueError(f"label: side must be one of {sorted(placements)}, got {side!r}")
    (dx, dy), ha, va = placements[side]
    ax.text(point[0] + dx, point[1] + dy, text, ha=ha, va=va, fontsize=size,
            family="monospace" if mono else None, color=color, zorder=3)


def path(ax, points, shape: str | None = None, side: str = "right",
         label_at: int = 0, style: str = "-|>", dashed: bool = False) -> None:
    """A polyline with right-angle turns through ``points``, arrow head at the end.

    Used for skip connections and loops. ``shape`` is written beside segment
    ``label_at``.
    """
    if len(points) < 2:
        raise ValueError(f"path: needs at least two points, got {len(points)}")
    xs, ys = zip(*points)
    ax.plot(xs[:-1], ys[:-1], color=EDGE_COLOR, lw=1.3, ls="--" if dashed else "-",
            solid_capstyle="butt", zorder=1.5)
    arrow(ax, points[-2], points[-1], style=style, dashed=dashed)
    if shape:
        a, b = points[label_at], points[label_at + 1]
        label(ax, ((a[0] + b[0]) / 2, (a[1] + b[1]) / 2), shape, side=side)


def legend(ax, kinds=("tensor", "layer", "op"), x: float = 0.1, y: float = 0.25,
           step: float = 1.9) -> None:
    """A one-line key of the node kinds used, along the bottom of the canvas."""
    names = {"tensor": "tensor", "layer": "learned layer", "op": "operation",
             "loss": "loss / target"}
    for i, kind in enumerate(kinds):
        fill, edge = KINDS[kind]
        cx = x + i * step
        ax.add_patch(FancyBboxPatch((cx, y - 0.1), 0.3, 0.2,
                                    boxstyle="round,pad=0,rounding_size=0.04",
                                    facecolor=fill, edgecolor=edge, lw=1.2))
        ax.text(cx + 0.4, y, names[kind], ha="left", va="center", fontsize=SHAPE_SIZE)
