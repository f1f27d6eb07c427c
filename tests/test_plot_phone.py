"""Figures the library draws stay readable at phone width (issue 14)."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402

from dlbook import plot  # noqa: E402


def test_plot_history_stacks_its_panels_in_one_narrow_column():
    history = {"train_loss": [1.0, 0.5], "val_loss": [1.1, 0.7], "val_accuracy": [0.5, 0.8]}
    axes = plot.plot_history(history)
    fig = axes[0].figure
    width, _ = fig.get_size_inches()
    assert width <= 7.5, f"plot_history: figure is {width} in wide, expected at most 7.5"
    top, bottom = (ax.get_position() for ax in axes)
    assert top.y0 > bottom.y1, "plot_history: the loss panel should sit above the metrics"
    assert abs(top.x0 - bottom.x0) < 1e-9  # one column
    # the shared x axis is labelled once, under the bottom panel
    assert axes[0].get_xlabel() == "" and axes[1].get_xlabel() == "epoch"
    plt.close("all")


def test_plot_history_labels_every_axis_it_is_given():
    fig, axes = plt.subplots(1, 2)
    plot.plot_history({"train_loss": [1.0, 0.5], "val_accuracy": [0.5, 0.8]}, axes)
    assert [ax.get_xlabel() for ax in axes] == ["epoch", "epoch"]
    plt.close("all")
