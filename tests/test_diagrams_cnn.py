"""Chapter 2-4 diagrams: each returns a Figure whose labels do not overlap,
fits a book page, and the convolution arithmetic they draw is right."""

import matplotlib

matplotlib.use("Agg")
import pytest  # noqa: E402
import torch  # noqa: E402
from diagram_checks import book_style, draw_on_a_page  # noqa: E402, F401

from dlbook import diagrams  # noqa: E402
from dlbook.diagrams import cnn  # noqa: E402


@pytest.mark.parametrize("draw", [
    diagrams.neuron,
    lambda: diagrams.neuron(num_inputs=1),
    diagrams.conv_arithmetic,
    lambda: diagrams.conv_arithmetic(n=6, kernel_size=3, padding=0, stride=1),
    lambda: diagrams.conv_arithmetic(n=4, kernel_size=2, padding=2, stride=3),
    diagrams.inception_module,
    diagrams.residual_block,
    diagrams.transposed_conv,
    lambda: diagrams.transposed_conv(n=3, kernel_size=2, stride=2),
    lambda: diagrams.transposed_conv(n=2, kernel_size=4, stride=1),
])
def test_diagram_is_a_figure_without_overlapping_text(draw):
    fig = draw_on_a_page(draw(), max_width=6.6)
    sizes = [t.get_fontsize() for t in fig.findobj(matplotlib.text.Text) if t.get_text()]
    assert min(sizes) >= 9


@pytest.mark.parametrize("n, k, p, s", [(5, 3, 1, 2), (7, 3, 0, 1), (8, 5, 2, 3),
                                        (224, 7, 3, 2), (4, 4, 0, 1)])
def test_output_size_formula_matches_torch(n, k, p, s):
    conv = torch.nn.Conv2d(1, 1, k, stride=s, padding=p)
    assert cnn.conv_output_size(n, k, p, s) == conv(torch.zeros(1, 1, n, n)).shape[-1]


def test_conv_arithmetic_writes_the_output_size_it_draws():
    fig = diagrams.conv_arithmetic(n=5, kernel_size=3, padding=1, stride=2)
    texts = [t.get_text() for t in fig.findobj(matplotlib.text.Text)]
    assert "output 3 × 3" in texts
    assert any(t.endswith("= 3$") for t in texts)


@pytest.mark.parametrize("call, words", [
    (lambda: cnn.conv_output_size(3, 5), "does not fit"),
    (lambda: cnn.conv_output_size(5, 3, stride=0), "stride >= 1"),
    (lambda: diagrams.conv_arithmetic(n=3, kernel_size=3, padding=0, stride=1),
     "must fit twice"),
    (lambda: diagrams.neuron(num_inputs=0), "num_inputs must be at least 1"),
])
def test_bad_arguments_are_refused_with_the_function_name(call, words):
    with pytest.raises(ValueError, match=words):
        call()


@pytest.mark.parametrize("n, k, p, s", [(2, 3, 0, 2), (3, 2, 0, 2), (4, 4, 1, 2),
                                        (7, 3, 1, 1), (5, 5, 2, 3)])
def test_transposed_output_size_formula_matches_torch(n, k, p, s):
    layer = torch.nn.ConvTranspose2d(1, 1, k, stride=s, padding=p)
    assert cnn.transposed_conv_output_size(n, k, p, s) == \
        layer(torch.zeros(1, 1, n, n)).shape[-1]


def test_transposed_conv_shades_exactly_the_cells_two_copies_write():
    # the shaded output cells are where input (0, 0)'s and (0, 1)'s kernel copies
    # overlap: k rows by k - s columns
    def shaded(fig):
        fill = matplotlib.colors.to_rgba(cnn.KINDS["layer"][0])
        return [p for p in fig.axes[0].patches if p.get_facecolor() == fill
                and p.get_width() < 1]
    assert len(shaded(diagrams.transposed_conv(n=2, kernel_size=3, stride=2))) == 3
    assert len(shaded(diagrams.transposed_conv(n=2, kernel_size=4, stride=1))) == 12
    assert shaded(diagrams.transposed_conv(n=3, kernel_size=2, stride=2)) == []
    texts = [t.get_text() for t in
             diagrams.transposed_conv(n=2, kernel_size=3, stride=2).findobj(
                 matplotlib.text.Text)]
    assert any(t.startswith("output 5 × 5") for t in texts)


def test_transposed_conv_refuses_what_it_cannot_draw():
    with pytest.raises(ValueError, match="n >= 2"):
        diagrams.transposed_conv(n=1)
    with pytest.raises(ValueError, match="crops all"):
        cnn.transposed_conv_output_size(1, 2, padding=1, stride=1)
