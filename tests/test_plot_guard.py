"""The figure guard: overlapping text labels are found, and fail the book's tests."""

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

from dlbook import plot  # noqa: E402


@pytest.fixture
def styled(monkeypatch):
    monkeypatch.delenv("DLBOOK_STRICT_FIGURES", raising=False)  # a reader's default
    with matplotlib.rc_context():
        plot.use_style()
        yield
    plt.close("all")


def test_a_clean_figure_has_no_overlaps(styled):
    fig, ax = plt.subplots(figsize=(4, 3))
    ax.plot([0, 1], [0, 1], label="line")
    ax.set(title="title", xlabel="x", ylabel="y")
    ax.legend()
    fig.canvas.draw()
    assert plot.overlapping_texts(fig) == []


def test_two_labels_on_top_of_each_other_are_found(styled):
    fig, ax = plt.subplots(figsize=(4, 3))
    ax.text(0.5, 0.5, "deep learning")
    ax.text(0.52, 0.5, "machine learning")
    fig.canvas.draw()
    assert plot.overlapping_texts(fig) == [("deep learning", "machine learning")]


def test_crowded_tick_labels_are_found(styled):
    fig, ax = plt.subplots(figsize=(2, 2))
    ax.set_xticks(range(12), [f"label {i}" for i in range(12)])
    fig.canvas.draw()
    assert len(plot.overlapping_texts(fig)) >= 5


def test_strict_mode_raises_on_draw(styled, monkeypatch, tmp_path):
    monkeypatch.setenv("DLBOOK_STRICT_FIGURES", "1")
    fig, ax = plt.subplots(figsize=(4, 3))
    ax.text(0.5, 0.5, "AI")
    ax.text(0.5, 0.5, "ML")
    with pytest.raises(RuntimeError, match="overlapping text"):
        fig.savefig(tmp_path / "f.png")
    monkeypatch.setenv("DLBOOK_STRICT_FIGURES", "")
    fig.savefig(tmp_path / "f.png")  # a reader's run is never interrupted


def test_labels_of_an_axes_switched_off_are_not_drawn_so_do_not_count(styled):
    # set_axis_off() keeps each tick label "visible" but draws none of them;
    # a figure legend placed where they would be is fine.
    fig, axes = plt.subplots(1, 2, figsize=(4, 2))
    for ax in axes:
        ax.imshow([[0, 1], [1, 0]])
        ax.set_axis_off()
    fig.text(0.25, 0.08, "a label where the tick labels would be", fontsize=12)
    fig.canvas.draw()
    assert plot.overlapping_texts(fig) == []
    axes[0].set_axis_on()  # now the tick labels are drawn under the label
    fig.canvas.draw()
    assert plot.overlapping_texts(fig) != []


def test_texts_inside_a_hidden_legend_do_not_count(styled):
    fig, ax = plt.subplots(figsize=(3, 2))
    ax.plot([0, 1], label="first")
    ax.plot([1, 0], label="second")
    ax.text(0.5, 0.5, "over the legend", transform=ax.transAxes, ha="center")
    legend = ax.legend(loc="center")
    fig.canvas.draw()
    assert plot.overlapping_texts(fig) != []
    legend.set_visible(False)
    fig.canvas.draw()
    assert plot.overlapping_texts(fig) == []
