"""dlbook.utils, dlbook.plot and dlbook.torch.device."""

from __future__ import annotations

import random
import time

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from dlbook import plot, utils  # noqa: E402
from dlbook.torch import device  # noqa: E402


# ---- seeding ------------------------------------------------------------------------
def _draw():
    return random.random(), np.random.rand(), torch.rand(1).item()


def test_seed_everything_makes_python_numpy_and_torch_repeat():
    rng_a = utils.seed_everything(7)
    first = _draw() + (rng_a.random(),)
    rng_b = utils.seed_everything(7)
    second = _draw() + (rng_b.random(),)
    assert first == second
    utils.seed_everything(8)
    assert _draw() != first[:3]


def test_seed_everything_rejects_non_integers():
    with pytest.raises(TypeError, match="seed must be an int"):
        utils.seed_everything(1.5)


# ---- counting -----------------------------------------------------------------------
def test_count_parameters_torch_and_trainable_only():
    net = torch.nn.Sequential(
        torch.nn.Linear(4, 3), torch.nn.ReLU(), torch.nn.Linear(3, 2)
    )
    assert utils.count_parameters(net) == 4 * 3 + 3 + 3 * 2 + 2
    net[0].weight.requires_grad_(False)
    assert utils.count_parameters(net, trainable_only=True) == 3 + 3 * 2 + 2


def test_count_parameters_counts_tied_weights_once_and_works_on_meta():
    with torch.device("meta"):
        emb = torch.nn.Embedding(100, 8)
        head = torch.nn.Linear(8, 100, bias=False)
    head.weight = emb.weight
    model = torch.nn.ModuleList([emb, head])
    assert utils.count_parameters(model) == 800


def test_count_parameters_numpy_module():
    from dlbook.numpy.nn import Module, Parameter

    class Toy(Module):
        def __init__(self):
            super().__init__()
            self.weight = Parameter(np.zeros((3, 5)))
            self.bias = Parameter(np.zeros(3))

    assert utils.count_parameters(Toy()) == 18


def test_count_parameters_rejects_non_models():
    with pytest.raises(TypeError, match="expected a torch.nn.Module"):
        utils.count_parameters([1, 2, 3])


def test_timer_measures_and_prints(capsys):
    with utils.Timer("nap", verbose=True) as t:
        time.sleep(0.05)
    assert 0.04 < t.elapsed < 1.0
    assert capsys.readouterr().out.startswith("nap: ")
    calls = []
    with utils.Timer(sync=lambda: calls.append(1)):
        pass
    assert len(calls) == 2  # synchronised on entry and on exit


@pytest.mark.parametrize(
    "n, text",
    [
        (61_100_840, "61.1M"),
        (6_624_904, "6.6M"),
        (61_706, "61.7K"),
        (999, "999"),
        (1_500_000_000, "1.5B"),
    ],
)
def test_format_count(n, text):
    assert utils.format_count(n) == text


# ---- plotting -----------------------------------------------------------------------
def test_use_style_and_style_context():
    matplotlib.rcdefaults()
    with plot.style():
        assert matplotlib.rcParams["axes.spines.top"] is False
    assert matplotlib.rcParams["axes.spines.top"] is True
    plot.use_style()
    assert matplotlib.rcParams["axes.grid"] is True
    matplotlib.rcdefaults()


def test_plot_history_splits_losses_from_metrics():
    history = {
        "epoch": [1, 2, 3],
        "train_loss": [1.0, 0.6, 0.4],
        "val_loss": [1.1, 0.7, 0.6],
        "val_accuracy": [0.5, 0.7, 0.8],
    }
    axes = plot.plot_history(history)
    assert len(axes) == 2
    assert sorted(line.get_label() for line in axes[0].lines) == [
        "train_loss",
        "val_loss",
    ]
    assert [line.get_label() for line in axes[1].lines] == ["val_accuracy"]
    np.testing.assert_array_equal(axes[0].lines[0].get_xdata(), [1, 2, 3])
    plt.close("all")


def test_plot_history_accepts_objects_with_to_dict_and_rejects_junk():
    class History:
        def to_dict(self):
            return {"train_loss": [3.0, 2.0]}

    assert len(plot.plot_history(History())) == 1
    with pytest.raises(TypeError, match="mapping"):
        plot.plot_history([1, 2, 3])
    with pytest.raises(ValueError, match="no per-epoch series"):
        plot.plot_history({"note": "nothing to plot"})
    plt.close("all")


def test_plot_decision_boundary_shades_the_predicted_regions():
    X = np.array([[0.0, 0.0], [1.0, 1.0], [0.0, 1.0]])
    y = np.array([0, 1, 1])
    ax = plot.plot_decision_boundary(
        lambda P: (P.sum(axis=1) > 0.5).astype(int), X, y, resolution=50
    )
    assert len(ax.collections) >= 2  # the shaded regions and the points
    with pytest.raises(ValueError, match=r"shape \(N, 2\)"):
        plot.plot_decision_boundary(lambda P: P[:, 0], np.zeros((3, 3)), y)
    with pytest.raises(ValueError, match=r"y must have shape \(3,\)"):
        plot.plot_decision_boundary(lambda P: P[:, 0], X, np.zeros(4))
    plt.close("all")


# ---- device -------------------------------------------------------------------------
def test_device_prefers_cuda_then_mps_then_cpu(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    assert device() == torch.device("cpu")
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: True)
    assert device() == torch.device("mps")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert device() == torch.device("cuda")


def test_device_named_but_missing_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    assert device("cpu") == torch.device("cpu")
    with pytest.raises(RuntimeError, match="no cuda device here; available: cpu"):
        device("cuda")
