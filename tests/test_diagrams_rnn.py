"""Chapter 5 and 6 diagrams: each returns a Figure whose text labels do not overlap."""

import matplotlib

matplotlib.use("Agg")
import pytest  # noqa: E402
from diagram_checks import book_style, draw_on_a_page  # noqa: E402, F401

from dlbook import diagrams as d  # noqa: E402


@pytest.mark.parametrize("draw", [
    lambda: d.rnn_unrolled(),
    lambda: d.rnn_unrolled(steps=2),
    lambda: d.rnn_unrolled(steps=4),
    d.lstm_cell,
    d.gru_cell,
    lambda: d.normalization_axes(),
    lambda: d.normalization_axes(groups=3),
    lambda: d.dropout(),
    lambda: d.dropout(p=0.2),
], ids=["rnn3", "rnn2", "rnn4", "lstm", "gru", "norm", "norm-g3", "dropout",
        "dropout-0.2"])
def test_diagram_draws_without_overlapping_text(draw):
    draw_on_a_page(draw(), max_width=6.6)


def test_every_text_is_at_least_9_points():
    for fig in (d.rnn_unrolled(), d.lstm_cell(), d.gru_cell(), d.normalization_axes(),
                d.dropout()):
        sizes = [t.get_fontsize() for t in fig.findobj(matplotlib.text.Text)
                 if t.get_text()]
        assert sizes and min(sizes) >= 9


@pytest.mark.parametrize("call, words", [
    (lambda: d.rnn_unrolled(steps=1), "rnn_unrolled: steps must be 2 to 4"),
    (lambda: d.normalization_axes(groups=5), "normalization_axes: groups must be"),
    (lambda: d.dropout(p=1.0), "dropout: p must be between 0 and 1"),
])
def test_bad_arguments_are_refused_with_the_function_name(call, words):
    with pytest.raises(ValueError, match=words):
        call()


def test_normalization_sets_have_the_right_extent():
    # the set tests the panels draw: BN spans every example, the others one
    tests = {name: test for name, (_, _, test) in d.norm.NORMALIZERS.items()}
    cells = [(n, c) for n in range(4) for c in range(4)]
    count = {name: sum(t(n, c, 2) for n, c in cells) for name, t in tests.items()}
    assert count == {"batch": 4, "layer": 4, "instance": 1, "group": 2}
    assert {n for n, c in cells if tests["batch"](n, c, 2)} == {0, 1, 2, 3}
