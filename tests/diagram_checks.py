"""What every diagram test checks: drawn in the book's style, a Figure whose
text labels do not overlap and that fits a book page."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from dlbook import plot  # noqa: E402


@pytest.fixture(autouse=True)
def book_style():
    """The book's style for the test's figures (the overlap guard included);
    afterwards matplotlib's settings come back and every figure is closed."""
    with matplotlib.rc_context():
        plot.use_style()
        yield
    plt.close("all")


def draw_on_a_page(fig, max_width: float) -> Figure:
    """Draw ``fig`` and check it: a Figure, no overlapping text, at most
    ``max_width`` inches wide. Returns it for further checks."""
    assert isinstance(fig, Figure)
    fig.canvas.draw()
    assert plot.overlapping_texts(fig) == []
    width, _ = fig.get_size_inches()
    assert width <= max_width  # fits a book page
    return fig
