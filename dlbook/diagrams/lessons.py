"""Diagrams of the core lessons added to chapters 2-5: a small CNN on images,
a ReLU network's sawtooth, the training checklist.

Each function draws one figure in the book's shared visual language
(:mod:`dlbook.diagrams._canvas`): light-blue tensors, orange learned layers,
white parameter-free operations, green losses, arrows labelled with tensor
shapes. Data flows upwards. Shape letters: ``B`` the batch, ``C`` channels,
``H`` and ``W`` the image's height and width.
"""

from __future__ import annotations

from dlbook.diagrams._canvas import arrow, box, canvas, group, label, legend

GREY = "#555555"


def small_cnn(size: int = 16, channels: tuple[int, int, int] = (8, 16, 32),
              classes: int = 3, first: str = "learned, or frozen"):
    """A three-block CNN for small grey images, with the shape on every arrow.

    An image ``(B, 1, size, size)`` goes through three blocks of 3x3
    convolution, ReLU and 2x2 max-pooling (the last pools globally), then a
    linear layer gives ``classes`` logits and cross-entropy compares them
    with the labels. The first convolution is drawn dashed and annotated with
    ``first``: the page that uses it trains it, or freezes it.

    Parameters
    ----------
    size : int
        Height and width of the input image (a multiple of 4).
    channels : tuple of three ints
        Output channels of the three convolutions.
    classes : int
        Number of classes.
    first : str
        The note beside the first convolution.

    Returns
    -------
    matplotlib.figure.Figure
    """
    if size < 4 or size % 4:
        raise ValueError(f"small_cnn: size must be a multiple of 4, at least 4, got {size}")
    if len(channels) != 3 or min(channels) < 1:
        raise ValueError(f"small_cnn: channels must be three positive ints, got {channels}")
    c1, c2, c3 = channels
    fig, ax = canvas(7.2, 8.6, scale=0.7)
    x = 2.2
    image = box(ax, x, 0.95, "grey image", kind="tensor", w=1.8, h=0.5)
    conv1 = box(ax, x, 2.05, f"Conv 3×3, {c1} filters", w=2.6, h=0.5, dashed=True)
    arrow(ax, image.top, conv1.bottom, f"(B, 1, {size}, {size})")
    label(ax, conv1.right, first, side="right", mono=False, color=GREY)
    pool1 = box(ax, x, 3.05, "ReLU, max-pool 2", kind="op", w=2.6, h=0.5)
    arrow(ax, conv1.top, pool1.bottom, f"(B, {c1}, {size}, {size})")
    conv2 = box(ax, x, 4.05, f"Conv 3×3, {c2}", w=2.6, h=0.5)
    half, quarter = size // 2, size // 4
    arrow(ax, pool1.top, conv2.bottom, f"(B, {c1}, {half}, {half})")
    pool2 = box(ax, x, 5.05, "ReLU, max-pool 2", kind="op", w=2.6, h=0.5)
    arrow(ax, conv2.top, pool2.bottom, f"(B, {c2}, {half}, {half})")
    conv3 = box(ax, x, 6.05, f"Conv 3×3, {c3}", w=2.6, h=0.5)
    arrow(ax, pool2.top, conv3.bottom, f"(B, {c2}, {quarter}, {quarter})")
    pool3 = box(ax, x, 7.05, "ReLU, global max", kind="op", w=2.6, h=0.5)
    arrow(ax, conv3.top, pool3.bottom, f"(B, {c3}, {quarter}, {quarter})")
    linear = box(ax, 5.5, 7.05, "Linear", w=1.3, h=0.5)
    arrow(ax, pool3.right, linear.left, f"(B, {c3})", side="above", offset=0.08)
    loss = box(ax, 5.5, 8.1, "cross-entropy", kind="loss", w=2.0, h=0.5)
    arrow(ax, linear.top, loss.bottom, f"(B, {classes})")
    legend(ax, kinds=("tensor", "layer", "op", "loss"), x=0.1, y=0.25, step=1.8)
    return fig


def sawtooth_network(layers: int = 3):
    """The tent map as a width-2 ReLU layer, composed ``layers`` times (Telgarsky, 2016).

    One block computes ``T(x) = 2 ReLU(x) - 4 ReLU(x - 1/2)``: two ReLU units
    and a fixed linear combination. Composing the block ``L`` times gives a
    sawtooth with ``2**L`` linear pieces on [0, 1], from ``O(L)`` parameters.
    The diagram draws the first block in full and the rest as a dashed group.

    Parameters
    ----------
    layers : int
        Number of composed blocks ``L`` (at least 2), written in the group title.

    Returns
    -------
    matplotlib.figure.Figure
    """
    if layers < 2:
        raise ValueError(f"sawtooth_network: layers must be at least 2, got {layers}")
    fig, ax = canvas(7.0, 7.6, scale=0.7)
    x = box(ax, 2.6, 0.95, "x in [0, 1]", kind="tensor", w=1.8, h=0.5)
    a = box(ax, 1.5, 2.2, "ReLU(x)", kind="op", w=1.7, h=0.5)
    b = box(ax, 3.7, 2.2, "ReLU(x − ½)", kind="op", w=1.7, h=0.5)
    arrow(ax, x.top, a.bottom)
    arrow(ax, x.top, b.bottom)
    mix = box(ax, 2.6, 3.45, "2a − 4b", kind="op", w=1.5, h=0.5)
    arrow(ax, a.top, mix.bottom, "a", side="left", offset=0.15)
    arrow(ax, b.top, mix.bottom, "b", side="right", offset=0.15)
    t1 = box(ax, 2.6, 4.65, "T(x)", kind="tensor", w=1.3, h=0.5)
    arrow(ax, mix.top, t1.bottom)
    group(ax, 0.4, 1.65, 4.8, 3.95)
    label(ax, (4.8, 2.8), "one block:\n2 ReLU units,\n7 weights\nset by hand",
          side="right", mono=False, color=GREY)
    rest = box(ax, 2.6, 5.8, f"the same block, {layers - 1} more times", kind="op",
               w=3.6, h=0.5, dashed=True)
    arrow(ax, t1.top, rest.bottom)
    out = box(ax, 2.6, 6.85, f"T composed {layers} times", kind="tensor", w=2.8, h=0.5)
    arrow(ax, rest.top, out.bottom)
    label(ax, out.right, f"$2^{{{layers}}}$ = {2 ** layers} linear pieces", side="right",
          mono=False, color=GREY)
    label(ax, t1.right, "2 pieces", side="right", mono=False, color=GREY)
    legend(ax, kinds=("tensor", "op"), x=0.1, y=0.25, step=1.6)
    return fig


CHECKLIST = (
    ("look at the data", "labels out of step with images"),
    ("initial loss ≈ ln C", "inputs not normalized"),
    ("gradient check", "a sign error in a backward pass"),
    ("overfit one batch", "softmax applied twice"),
    ("update / weight ≈ 1e-3", "a forgotten zero_grad"),
)


def training_checklist(checks=CHECKLIST):
    """The checks to run before a long training run, in order, each with a bug it catches.

    Parameters
    ----------
    checks : sequence of (str, str)
        ``(check, bug it catches)`` pairs, drawn from the bottom up; the
        default is the list of the book's checklist page.

    Returns
    -------
    matplotlib.figure.Figure
    """
    checks = list(checks)
    if not checks or any(len(c) != 2 for c in checks):
        raise ValueError("training_checklist: checks must be a non-empty list of "
                         f"(check, bug) pairs, got {checks!r}")
    height = 2.5 + 1.0 * len(checks)
    fig, ax = canvas(7.2, height, scale=0.7)
    x = 2.0
    prev = box(ax, x, 0.95, "model + data", kind="tensor", w=2.4, h=0.5)
    for i, (check, bug) in enumerate(checks):
        node = box(ax, x, 1.95 + i, f"{i + 1}. {check}", kind="op", w=3.4, h=0.5)
        arrow(ax, prev.top, node.bottom)
        label(ax, node.right, bug, side="right", offset=0.3, mono=False, color=GREY)
        prev = node
    final = box(ax, x, 1.95 + len(checks), "train for real", kind="loss", w=2.4, h=0.5)
    arrow(ax, prev.top, final.bottom)
    label(ax, (x + 2.0, final.y), "a bug each check catches:", side="right",
          offset=0.0, mono=False)
    return fig
