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
