"""Conceptual diagrams of chapters 2 to 4: a neuron, convolution arithmetic,
an Inception module and a residual block.

Each function draws with the shared vocabulary of
:mod:`dlbook.diagrams._canvas` and returns the matplotlib Figure, so a page
shows one with ``diagrams.conv_arithmetic();``. Shapes on arrows are written
as ``(B, C, H, W)``: batch, channels, height, width.
"""

from __future__ import annotations

from matplotlib.patches import Rectangle

from dlbook.diagrams._canvas import (
    EDGE_COLOR,
    KINDS,
    SHAPE_SIZE,
    TEXT_SIZE,
    arrow,
    box,
    canvas,
    label,
    op,
    path,
)

PAD_FILL = "#D9D9D9"  # zero padding: grey, not data
WINDOW = KINDS["layer"][1]  # the kernel is a learned layer: its orange edge


def conv_output_size(n: int, kernel_size: int, padding: int = 0, stride: int = 1) -> int:
    """``floor((n + 2p - k) / s) + 1``: the output length of a convolution.

    Raises ``ValueError`` when the kernel does not fit in the padded input.
    """
    if min(n, kernel_size, stride) < 1 or padding < 0:
        raise ValueError(
            f"conv_output_size: need n, kernel_size, stride >= 1 and padding >= 0, "
            f"got n={n}, kernel_size={kernel_size}, padding={padding}, stride={stride}")
    if kernel_size > n + 2 * padding:
        raise ValueError(
            f"conv_output_size: a {kernel_size}-wide kernel does not fit in an input "
            f"of {n} padded by {padding} on each side ({n + 2 * padding})")
    return (n + 2 * padding - kernel_size) // stride + 1


def _grid(ax, x0, y0, rows, cols, cell, fill, edge, pad=0, pad_fill=PAD_FILL):
    """A rows x cols grid of square cells, lower-left corner at (x0, y0).

    The outer ``pad`` rings are drawn in ``pad_fill``. Row 0 is the top row.
    """
    for r in range(rows):
        for c in range(cols):
            border = r < pad or c < pad or r >= rows - pad or c >= cols - pad
            ax.add_patch(Rectangle(
                (x0 + c * cell, y0 + (rows - 1 - r) * cell), cell, cell,
                facecolor=pad_fill if border else fill, edgecolor=edge, lw=0.8,
                zorder=2))


def _window(ax, x0, y0, rows, cell, r, c, k, dashed=False):
    """Outline a k x k window whose top-left cell is (r, c) of a grid."""
    ax.add_patch(Rectangle(
        (x0 + c * cell, y0 + (rows - r - k) * cell), k * cell, k * cell,
        facecolor="none", edgecolor=WINDOW, lw=2.6, ls="--" if dashed else "-",
        zorder=4))


def conv_arithmetic(n: int = 5, kernel_size: int = 3, padding: int = 1,
                    stride: int = 2, scale: float = 0.62):
    """A kernel sliding over a zero-padded input with a stride.

    Left: the ``n x n`` input (blue) inside its ring of ``padding`` zeros
    (grey), with the kernel window at its first position (solid orange) and
    at the next position one stride to the right (dashed). Right: the output
    grid, whose first cell is the one the solid window computes. Below: the
    output-size formula with the numbers filled in.

    Returns the Figure.
    """
    out = conv_output_size(n, kernel_size, padding, stride)
    if kernel_size + stride > n + 2 * padding:
        raise ValueError(
            f"conv_arithmetic: the window must fit twice in a row to show the stride; "
            f"{kernel_size} + {stride} > {n + 2 * padding}")
    size = n + 2 * padding
    cell = 0.55
    width = size * cell + out * cell + 3.6
    fig, ax = canvas(width, size * cell + 2.6, scale=scale)
    x_in, y0 = 0.3, 1.6
    fill_in, edge_in = KINDS["tensor"]
    _grid(ax, x_in, y0, size, size, cell, fill_in, edge_in, pad=padding)
    _window(ax, x_in, y0, size, cell, 0, 0, kernel_size)
    _window(ax, x_in, y0, size, cell, 0, stride, kernel_size, dashed=True)
    top = y0 + size * cell
    # the stride, drawn above the grid between the two windows' left edges
    arrow(ax, (x_in, top + 0.3), (x_in + stride * cell, top + 0.3))
    label(ax, (x_in + stride * cell, top + 0.3), f"stride s = {stride}", mono=False,
          size=SHAPE_SIZE)
    pad_text = f"padding p = {padding} (grey)" if padding else "no padding (p = 0)"
    label(ax, (x_in + size * cell / 2, y0 - 0.1), f"input n = {n}, {pad_text}",
          side="below", mono=False, size=SHAPE_SIZE)

    x_out = x_in + size * cell + 2.4
    y_out = top - out * cell  # tops aligned: output row 0 comes from window row 0
    _grid(ax, x_out, y_out, out, out, cell, fill_in, edge_in)
    ax.add_patch(Rectangle((x_out, top - cell), cell, cell,
                           facecolor=KINDS["layer"][0], edgecolor=WINDOW, lw=2.6,
                           zorder=4))
    ax.add_patch(Rectangle((x_out + cell, top - cell), cell, cell, facecolor="none",
                           edgecolor=WINDOW, lw=2.6, ls="--", zorder=4))
    label(ax, (x_out + out * cell / 2, y_out - 0.1), f"output {out} × {out}",
          side="below", mono=False, size=SHAPE_SIZE)
    start = (x_in + size * cell + 0.1, top - kernel_size * cell / 2)
    end = (x_out - 0.1, top - cell / 2)
    arrow(ax, start, end)
    label(ax, ((start[0] + end[0]) / 2, max(start[1], end[1]) + 0.05),
          f"kernel k = {kernel_size}", side="above", mono=False, size=SHAPE_SIZE,
          color=WINDOW)
    formula = (r"$o = \lfloor (n + 2p - k)\,/\,s \rfloor + 1"
               rf" = \lfloor ({n} + {2 * padding} - {kernel_size})\,/\,{stride}"
               rf" \rfloor + 1 = {out}$")
    ax.text(width / 2, 0.35, formula, ha="center", va="center", fontsize=TEXT_SIZE + 1)
    return fig


def neuron(num_inputs: int = 3, scale: float = 0.85):
    """One artificial neuron: inputs times weights, summed with a bias, then
    an activation: ``a = f(w · x + b)``.

    Returns the Figure.
    """
    if num_inputs < 1:
        raise ValueError(f"neuron: num_inputs must be at least 1, got {num_inputs}")
    height = max(3.2, 1.0 * num_inputs + 1.2)
    fig, ax = canvas(7.6, height, scale=scale)
    mid = height / 2 + 0.1
    total = op(ax, 3.6, mid, "Σ", r=0.32)
    ys = [mid + (num_inputs - 1) / 2 - i for i in range(num_inputs)]
    for i, y in enumerate(ys, start=1):
        x = box(ax, 0.7, y, f"x{_sub(i)}", kind="tensor", w=0.8, h=0.5)
        arrow(ax, x.right, (total.x - 0.3, total.y + (y - mid) * 0.25))
        label(ax, (2.0, y + (mid - y) * 0.2 + 0.16), f"w{_sub(i)}", mono=False,
              size=TEXT_SIZE, side="above", offset=0.0, color=WINDOW)
    bias = box(ax, 3.6, mid - 1.2 if num_inputs > 1 else mid - 1.0, "b", kind="layer",
               w=0.6, h=0.45)
    arrow(ax, bias.top, total.bottom)
    act = box(ax, 5.2, mid, "f", kind="op", w=0.7, h=0.55)
    arrow(ax, total.right, act.left, "z", side="above", offset=0.08)
    out = box(ax, 6.85, mid, "a", kind="tensor", w=0.7, h=0.5)
    arrow(ax, act.right, out.left)
    ax.text(3.8, 0.25, "a = f(w₁x₁ + … + wₙxₙ + b)", ha="center", va="center",
            fontsize=TEXT_SIZE)
    return fig


def _sub(i: int) -> str:
    return str(i).translate(str.maketrans("0123456789", "₀₁₂₃₄₅₆₇₈₉"))


def inception_module(scale: float = 0.78):
    """GoogLeNet's Inception module (block 3a): four branches in parallel,
    concatenated along the channels.

    The 1×1 convolutions before the 3×3 and 5×5 ones cut the channels
    (192 to 96 and to 16) so the wide kernels stay cheap; the pooling branch
    ends in a 1×1 convolution so it does not pass all 192 channels on.
    Shapes are channels × height × width for one image.

    Returns the Figure.
    """
    fig, ax = canvas(8.4, 6.4, scale=scale)
    xs = [1.1, 3.15, 5.25, 7.3]
    inp = box(ax, 4.2, 0.55, "previous layer", kind="tensor", w=2.6, h=0.5)
    label(ax, inp.right, "192×28×28", offset=0.15)
    y1, y2 = 2.2, 3.5
    first = [box(ax, xs[0], y1, "1×1 conv", w=1.5),
             box(ax, xs[1], y1, "1×1 conv", w=1.5),
             box(ax, xs[2], y1, "1×1 conv", w=1.5),
             box(ax, xs[3], y1, "3×3 max pool", kind="op", w=1.7)]
    split = (inp.x, inp.y + 0.55)
    ax.plot([inp.x, inp.x], [inp.top[1], split[1]], color=EDGE_COLOR, lw=1.3, zorder=1.5)
    for node in first:
        path(ax, [split, (node.x, split[1]), node.bottom])
    second = [None,
              box(ax, xs[1], y2, "3×3 conv", w=1.5),
              box(ax, xs[2], y2, "5×5 conv", w=1.5),
              box(ax, xs[3], y2, "1×1 conv", w=1.5)]
    for node, below, shape in zip(second[1:], first[1:], ["96", "16", "192"]):
        arrow(ax, below.top, node.bottom, shape)
    cat = box(ax, 4.2, 5.0, "concatenate along channels", kind="op", w=7.4, h=0.5)
    for node, below, ch in zip(second, first, [64, 128, 32, 32]):
        start = (node or below).top
        arrow(ax, start, (start[0], cat.bottom[1]), str(ch))
    out = box(ax, 4.2, 6.05, "output", kind="tensor", w=1.6, h=0.45)
    arrow(ax, cat.top, out.bottom)
    label(ax, out.right, "256×28×28 (64+128+32+32)", offset=0.15)
    label(ax, (0.1, out.y), "numbers: channels", side="right", offset=0, mono=False)
    return fig


def residual_block(scale: float = 0.78):
    """A plain block next to a residual block (ResNet's basic block).

    Both stack conv–BN–ReLU–conv–BN. The residual block adds its input
    back before the last ReLU, ``y = ReLU(F(x) + x)``, so a block whose
    ``F`` outputs zero passes ``x`` on unchanged (for ``x >= 0``), and the
    gradient has a path that skips the block's layers.

    Returns the Figure.
    """
    fig, ax = canvas(8.2, 7.2, scale=scale)
    shape = "(B, C, H, W)"
    for x0, title, skip in [(1.9, "plain block", False), (5.9, "residual block", True)]:
        ax.text(x0, 6.95, title, ha="center", va="center", fontsize=TEXT_SIZE + 1,
                fontweight="bold")
        x = box(ax, x0, 0.45, "x", kind="tensor", w=1.0, h=0.45)
        ys = [1.45, 2.2, 2.95, 3.7, 4.45]
        names = ["3×3 conv", "batch norm", "ReLU", "3×3 conv", "batch norm"]
        kinds = ["layer", "layer", "op", "layer", "layer"]
        nodes = [box(ax, x0, y, n, kind=k, w=1.6, h=0.42) for y, n, k in zip(ys, names, kinds)]
        arrow(ax, x.top, nodes[0].bottom, shape, side="left", offset=0.1)
        for a, b in zip(nodes, nodes[1:]):
            arrow(ax, a.top, b.bottom)
        if skip:
            add = op(ax, x0, 5.2, "+", r=0.2)
            arrow(ax, nodes[-1].top, add.bottom, "F(x)", side="left", offset=0.1)
            fork = (x0, x.top[1] + 0.12)
            side_x = x0 + 1.35
            ax.plot([x0, side_x, side_x], [fork[1], fork[1], add.y], color=EDGE_COLOR,
                    lw=1.3, zorder=1.5)
            ax.plot([x0], [fork[1]], "o", color=EDGE_COLOR, ms=4, zorder=3)
            arrow(ax, (side_x, add.y), add.right)
            label(ax, (side_x, 2.95), "identity x", mono=False, size=SHAPE_SIZE)
            relu = box(ax, x0, 5.85, "ReLU", kind="op", w=1.6, h=0.42)
            arrow(ax, add.top, relu.bottom)
        else:
            relu = box(ax, x0, 5.85, "ReLU", kind="op", w=1.6, h=0.42)
            arrow(ax, nodes[-1].top, relu.bottom, "F(x)", side="left", offset=0.1)
        top = (x0, 6.55)
        arrow(ax, relu.top, top, "y = ReLU(F(x) + x)" if skip else "y = ReLU(F(x))",
              side="right", offset=0.1)
    return fig


def transposed_conv_output_size(n: int, kernel_size: int, padding: int = 0,
                                stride: int = 1) -> int:
    """``(n - 1) s + k - 2p``: the output length of a transposed convolution
    (``output_padding = 0``, ``dilation = 1``).

    Raises ``ValueError`` when the padding would leave no output.
    """
    if min(n, kernel_size, stride) < 1 or padding < 0:
        raise ValueError(
            f"transposed_conv_output_size: need n, kernel_size, stride >= 1 and "
            f"padding >= 0, got n={n}, kernel_size={kernel_size}, padding={padding}, "
            f"stride={stride}")
    out = (n - 1) * stride + kernel_size - 2 * padding
    if out < 1:
        raise ValueError(
            f"transposed_conv_output_size: padding {padding} crops all of the "
            f"{(n - 1) * stride + kernel_size} outputs")
    return out


def transposed_conv(n: int = 2, kernel_size: int = 3, stride: int = 2,
                    scale: float = 0.62):
    """A transposed convolution as scatter-and-add (no padding).

    Left: the ``n x n`` input. Right: the output, of size ``(n - 1) s + k``.
    Input cell (0, 0) writes a copy of the kernel, times its value, into the
    solid window; input cell (0, 1) writes its copy one *stride* further right
    (dashed). Where the copies overlap (``k > s``), the contributions add: those
    output cells are shaded. Below: the output-size formula with the numbers
    filled in.

    Returns the Figure.
    """
    if n < 2:
        raise ValueError(f"transposed_conv: need n >= 2 to show two copies, got {n}")
    out = transposed_conv_output_size(n, kernel_size, 0, stride)
    cell = 0.55
    width = n * cell + out * cell + 3.6
    height = out * cell + 2.6
    fig, ax = canvas(width, height, scale=scale)
    fill, edge = KINDS["tensor"]
    y0 = 1.6
    top = y0 + out * cell
    x_in = 0.3
    _grid(ax, x_in, top - n * cell, n, n, cell, fill, edge)
    names = "abcdefghijklmnopqrstuvwxyz"
    for r in range(n):
        for c in range(n):
            ax.text(x_in + (c + 0.5) * cell, top - (r + 0.5) * cell,
                    names[(r * n + c) % 26], ha="center", va="center",
                    fontsize=TEXT_SIZE, zorder=5)
    ax.add_patch(Rectangle((x_in, top - cell), cell, cell, facecolor="none",
                           edgecolor=WINDOW, lw=2.6, zorder=4))
    ax.add_patch(Rectangle((x_in + cell, top - cell), cell, cell, facecolor="none",
                           edgecolor=WINDOW, lw=2.6, ls="--", zorder=4))
    label(ax, (x_in + n * cell / 2, top - n * cell - 0.1), f"input {n} × {n}",
          side="below", mono=False, size=SHAPE_SIZE)

    x_out = x_in + n * cell + 2.4
    _grid(ax, x_out, y0, out, out, cell, fill, edge)
    overlap = max(0, kernel_size - stride)  # columns written by both copies
    for r in range(kernel_size):
        for c in range(stride, stride + overlap):
            ax.add_patch(Rectangle((x_out + c * cell, top - (r + 1) * cell), cell, cell,
                                   facecolor=KINDS["layer"][0], edgecolor=edge, lw=0.8,
                                   zorder=3))
    _window(ax, x_out, y0, out, cell, 0, 0, kernel_size)
    _window(ax, x_out, y0, out, cell, 0, stride, kernel_size, dashed=True)
    arrow(ax, (x_out, top + 0.3), (x_out + stride * cell, top + 0.3))
    label(ax, (x_out + stride * cell, top + 0.3), f"stride s = {stride}", mono=False,
          size=SHAPE_SIZE)
    label(ax, (x_out + out * cell / 2, y0 - 0.1),
          f"output {out} × {out}" + (": shaded cells add two copies" if overlap else ""),
          side="below", mono=False, size=SHAPE_SIZE)
    start = (x_in + n * cell + 0.1, top - cell / 2)
    end = (x_out - 0.1, top - kernel_size * cell / 2)
    arrow(ax, start, end)
    label(ax, ((start[0] + end[0]) / 2, max(start[1], end[1]) + 0.05),
          f"a × kernel ({kernel_size}×{kernel_size})", side="above", mono=False,
          size=SHAPE_SIZE, color=WINDOW)
    formula = (r"$o = (n - 1)\,s + k"
               rf" = ({n} - 1) \cdot {stride} + {kernel_size} = {out}$")
    ax.text(width / 2, 0.35, formula, ha="center", va="center", fontsize=TEXT_SIZE + 1)
    return fig
