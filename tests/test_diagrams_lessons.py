"""Diagrams of the core lessons (dlbook.diagrams.lessons): each returns a Figure
whose labels do not overlap, fits a book page, uses readable fonts, writes the
numbers it draws correctly, and refuses bad arguments with its name."""

import matplotlib

matplotlib.use("Agg")
import pytest  # noqa: E402
from diagram_checks import book_style, draw_on_a_page  # noqa: E402, F401

from dlbook import diagrams  # noqa: E402
from dlbook.diagrams import lessons  # noqa: E402


def _texts(fig):
    return [t.get_text() for t in fig.findobj(matplotlib.text.Text) if t.get_text()]


@pytest.mark.parametrize("draw", [
    diagrams.small_cnn,
    lambda: diagrams.small_cnn(size=32, channels=(4, 8, 16), classes=10),
    diagrams.sawtooth_network,
    lambda: diagrams.sawtooth_network(layers=8),
    diagrams.training_checklist,
    lambda: diagrams.training_checklist([("look", "a bug")]),
])
def test_diagram_is_a_figure_without_overlapping_text(draw):
    fig = draw_on_a_page(draw(), max_width=6.6)
    sizes = [t.get_fontsize() for t in fig.findobj(matplotlib.text.Text) if t.get_text()]
    assert min(sizes) >= 9


def test_small_cnn_writes_the_shapes_torch_computes():
    import torch
    from torch import nn

    net = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                        nn.Conv2d(8, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2))
    out = net(torch.zeros(2, 1, 16, 16))
    texts = _texts(diagrams.small_cnn(size=16, channels=(8, 16, 32)))
    assert "(B, 8, 8, 8)" in texts
    assert f"(B, {out.shape[1]}, {out.shape[2]}, {out.shape[3]})" in texts


def test_sawtooth_network_states_two_to_the_l_pieces():
    texts = _texts(diagrams.sawtooth_network(layers=5))
    assert "$2^{5}$ = 32 linear pieces" in texts
    assert "the same block, 4 more times" in texts


def test_training_checklist_numbers_the_checks_in_order():
    texts = _texts(diagrams.training_checklist())
    assert [t for t in texts if t[:2] in {"1.", "2.", "3.", "4.", "5."}] == [
        f"{i + 1}. {check}" for i, (check, _) in enumerate(lessons.CHECKLIST)]
    assert all(bug in texts for _, bug in lessons.CHECKLIST)


@pytest.mark.parametrize("call, words", [
    (lambda: diagrams.small_cnn(size=10), "small_cnn: size must be a multiple of 4"),
    (lambda: diagrams.small_cnn(channels=(8, 16)), "small_cnn: channels must be three"),
    (lambda: diagrams.sawtooth_network(layers=1), "sawtooth_network: layers must be"),
    (lambda: diagrams.training_checklist([]), "training_checklist: checks must be"),
    (lambda: diagrams.training_checklist([("only a check",)]), "training_checklist"),
])
def test_bad_arguments_are_refused_with_the_function_name(call, words):
    with pytest.raises(ValueError, match=words):
        call()
