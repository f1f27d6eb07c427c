"""The diagram vocabulary: nodes, arrows and labels, and their input checks.

Chapter diagram functions add their own tests below: each returns a Figure
whose text labels do not overlap.
"""

import matplotlib

matplotlib.use("Agg")
import pytest  # noqa: E402
from diagram_checks import book_style, draw_on_a_page  # noqa: E402, F401

from dlbook import diagrams as d  # noqa: E402
from dlbook import plot  # noqa: E402


def test_nodes_report_their_anchors():
    fig, ax = d.canvas(4, 3)
    node = d.box(ax, 2, 1.5, "Linear", w=1.6, h=0.6)
    assert node.top == (2, 1.8) and node.bottom == (2, 1.2)
    assert node.left == (1.2, 1.5) and node.right == (2.8, 1.5)
    circle = d.op(ax, 1, 1, "+", r=0.25)
    assert circle.w == circle.h == 0.5


def test_a_small_diagram_draws_without_overlapping_text():
    fig, ax = d.canvas(4, 4)
    x = d.box(ax, 2, 0.8, "x", kind="tensor", w=1.0)
    lin = d.box(ax, 2, 2.0, "Linear")
    out = d.box(ax, 2, 3.2, "y", kind="tensor", w=1.0)
    d.arrow(ax, x.top, lin.bottom, "(B, 3)")
    d.arrow(ax, lin.top, out.bottom, "(B, 5)")
    fig.canvas.draw()
    assert plot.overlapping_texts(fig) == []


@pytest.mark.parametrize("call, words", [
    (lambda ax: d.box(ax, 0, 0, "x", kind="weights"), "kind must be one of"),
    (lambda ax: d.label(ax, (0, 0), "x", side="up"), "side must be one of"),
    (lambda ax: d.path(ax, [(0, 0)]), "at least two points"),
])
def test_bad_arguments_are_refused_with_the_function_name(call, words):
    fig, ax = d.canvas(2, 2)
    with pytest.raises(ValueError, match=words):
        call(ax)


def test_canvas_refuses_an_empty_size():
    with pytest.raises(ValueError, match="canvas: width and height must be positive"):
        d.canvas(0, 2)
