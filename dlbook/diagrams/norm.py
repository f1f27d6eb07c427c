"""Diagrams of chapter 5: which numbers a normalization layer averages over,
and what dropout does to a network in training and in evaluation.

Drawn in the book's shared visual language (:mod:`dlbook.diagrams._canvas`):
light-blue for the tensor entries that matter, grey for the rest. Shape
letters: ``N`` the batch, ``C`` the channels, ``H, W`` the spatial positions.
"""

from __future__ import annotations

from matplotlib.patches import Circle, Polygon

from dlbook.diagrams._canvas import KINDS, SHAPE_SIZE, TEXT_SIZE, canvas

GREY_FILL, GREY_EDGE = "#EEEEEE", "#999999"
DEPTH = 0.55  # how far one unit of depth moves a point right and up (oblique view)

# method: (title, what one set S is, the cells of S as a test on (n, c))
NORMALIZERS = {
    "batch": ("Batch Norm", "one channel,\nall of N, H, W", lambda n, c, g: c == 0),
    "layer": ("Layer Norm", "one example,\nall of C, H, W", lambda n, c, g: n == 0),
    "instance": ("Instance Norm", "one example and\none channel: H, W",
                 lambda n, c, g: n == 0 and c == 0),
    "group": ("Group Norm", "one example and a\ngroup of channels",
              lambda n, c, g: n == 0 and c < g),
}


def _face(ax, corners, filled):
    fill, edge = KINDS["tensor"] if filled else (GREY_FILL, GREY_EDGE)
    if filled:
        fill = "#7FB3D9"
    ax.add_patch(Polygon(corners, closed=True, facecolor=fill, edgecolor=edge,
                         lw=0.6, zorder=2 if not filled else 2.1))


def _cube(ax, x0, y0, in_set, n=4, c=4, hw=4, s=0.3):
    """A N x C x (H, W) block seen obliquely: N to the right, C in depth, H, W up.

    Draws the three visible faces cell by cell; a cell is blue when the
    entries behind it belong to the set ``in_set(n, c)``.
    """
    dx, dy = DEPTH * s, DEPTH * s  # one step in depth (C)

    def point(i, j, k):  # i along N, j along C (depth), k along H, W
        return (x0 + i * s + j * dx, y0 + k * s + j * dy)

    for i in range(n):  # front face: c = 0
        for k in range(hw):
            _face(ax, [point(i, 0, k), point(i + 1, 0, k), point(i + 1, 0, k + 1),
                       point(i, 0, k + 1)], in_set(i, 0))
    for i in range(n):  # top face: k = hw
        for j in range(c):
            _face(ax, [point(i, j, hw), point(i + 1, j, hw), point(i + 1, j + 1, hw),
                       point(i, j + 1, hw)], in_set(i, j))
    for j in range(c):  # right face: n = last
        for k in range(hw):
            _face(ax, [point(n, j, k), point(n, j + 1, k), point(n, j + 1, k + 1),
                       point(n, j, k + 1)], in_set(n - 1, j))
    size = SHAPE_SIZE
    ax.text(*point(n / 2, 0, -0.25), "N", ha="center", va="top", fontsize=size)
    ax.text(*point(n + 0.35, c / 2, -0.2), "C", ha="left", va="top", fontsize=size)
    ax.text(*point(-0.25, 0, hw / 2), "H, W", ha="right", va="center", fontsize=size)
    return point


def normalization_axes(groups: int = 2):
    """Batch, layer, instance and group normalization as sets of one cube.

    A batch of feature maps (N, C, H, W) is drawn as a block with the batch
    ``N`` across, the channels ``C`` in depth and the spatial positions
    ``H, W`` stacked upwards (the picture of Wu and He, 2018). In each panel
    the blue cells are one set ``S``: the numbers that share one mean and one
    variance. Only batch norm's set spans several examples.

    Parameters
    ----------
    groups : int
        Channels per group in the group-norm panel (1 to 4).

    Returns
    -------
    matplotlib.figure.Figure
    """
    if not 1 <= groups <= 4:
        raise ValueError(f"normalization_axes: groups must be 1 to 4, got {groups}")
    fig, ax = canvas(10.8, 3.55, scale=0.6)
    for k, (title, what, test) in enumerate(NORMALIZERS.values()):
        x0 = 0.75 + 2.7 * k
        _cube(ax, x0, 0.95, lambda n, c, t=test: t(n, c, groups))
        ax.text(x0 + 0.95, 3.25, title, ha="center", va="center", fontsize=TEXT_SIZE)
        ax.text(x0 + 0.75, 0.25, what, ha="center", va="center", fontsize=SHAPE_SIZE,
                color="#444444", linespacing=1.1)
    return fig


def dropout(p: float = 0.5, seed_units=(1, 3, 4, 6)):
    """Dropout in training and in evaluation, on a small fully connected net.

    Left: in training, each hidden unit is zeroed with probability ``p`` (grey,
    crossed out; its connections carry nothing) and the survivors are
    multiplied by ``1 / (1 - p)``, so every step trains a different thinned
    network. Right: in evaluation every unit is used and nothing is rescaled.

    Parameters
    ----------
    p : float
        The drop probability written on the figure.
    seed_units : tuple of int
        Which of the eight hidden units (0 to 7, two layers of four) are
        dropped in the training panel.

    Returns
    -------
    matplotlib.figure.Figure
    """
    if not 0 < p < 1:
        raise ValueError(f"dropout: p must be between 0 and 1, got {p}")
    fig, ax = canvas(9.6, 4.4, scale=0.62)
    sizes = [3, 4, 4, 2]
    fill, edge = KINDS["tensor"]
    for panel, x0 in enumerate((0.6, 5.4)):
        training = panel == 0
        xs = [x0 + 1.15 * layer for layer in range(len(sizes))]
        pos = [[(x, 2.15 + 0.75 * (k - (m - 1) / 2)) for k in range(m)]
               for x, m in zip(xs, sizes)]
        dropped = set()
        if training:
            flat = [(layer, k) for layer in (1, 2) for k in range(sizes[layer])]
            dropped = {flat[u] for u in seed_units}
        for layer in range(len(sizes) - 1):
            for a, pa in enumerate(pos[layer]):
                for b, pb in enumerate(pos[layer + 1]):
                    off = (layer, a) in dropped or (layer + 1, b) in dropped
                    ax.plot([pa[0], pb[0]], [pa[1], pb[1]], lw=0.8, zorder=1,
                            color="#DDDDDD" if off else "#777777",
                            ls=":" if off else "-")
        for layer, column in enumerate(pos):
            for k, (x, y) in enumerate(column):
                off = (layer, k) in dropped
                ax.add_patch(Circle((x, y), 0.2, facecolor=GREY_FILL if off else fill,
                                    edgecolor=GREY_EDGE if off else edge, lw=1.2,
                                    zorder=2))
                if off:
                    ax.plot([x - 0.13, x + 0.13], [y - 0.13, y + 0.13], color="#777777",
                            lw=1.2, zorder=3)
                    ax.plot([x - 0.13, x + 0.13], [y + 0.13, y - 0.13], color="#777777",
                            lw=1.2, zorder=3)
        title = (f"training, p = {p:g}: a random thinned net" if training
                 else "evaluation: all units, no rescaling")
        note = (f"survivors × 1/(1 − p) = × {1 / (1 - p):g};\na new mask every step"
                if training else "one network that stands in for\nthe average of the thinned ones")
        ax.text(x0 + 1.7, 4.05, title, ha="center", va="center", fontsize=TEXT_SIZE)
        ax.text(x0 + 1.7, 0.35, note, ha="center", va="center", fontsize=SHAPE_SIZE,
                color="#444444", linespacing=1.1)
    return fig
