"""Training with dlbook.numpy alone reaches real accuracy on real data.

Protocol of the MNIST-1D paper (Greydanus, 2020): Adam, lr 1e-2, batch 100,
6,000 steps, no weight decay. The paper's table: MLP 68%, CNN 94%. The CNN is
the paper's ConvBase: Conv1d(1, 25, 5, stride 2, padding 1) and two
Conv1d(25, 25, 3, stride 2, padding 1), ReLU after each; on length-40 inputs the
lengths go 40 -> 19 -> 10 -> 5, so the classifier is Linear(25 * 5 = 125, 10).
(With kernel 5 in all three convolutions it would be 40 -> 19 -> 9 -> 4 and
Linear(100, 10).)
"""

import contextlib

import numpy as np
import pytest

from dlbook.data import load_digits, load_mnist1d
from dlbook.numpy import nn as npnn
from dlbook.numpy import optim as npoptim
from dlbook.numpy.optim import lr_scheduler
from dlbook.utils import seed_everything

try:  # one BLAS thread: these matrices are small, and threads fight on 2 cores
    from threadpoolctl import threadpool_limits
except ImportError:  # pragma: no cover
    threadpool_limits = None


def _one_thread():
    return threadpool_limits(1) if threadpool_limits else contextlib.nullcontext()


def fit(model, X, y, steps, batch_size, lr, seed=0, weight_decay=None):
    """Minibatch training; Adam, or AdamW with a cosine schedule if weight_decay."""
    rng = np.random.default_rng(seed)
    if weight_decay is None:
        opt, schedule = npoptim.Adam(model.parameters(), lr=lr), None
    else:
        opt = npoptim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
        schedule = lr_scheduler.CosineAnnealingLR(opt, T_max=steps)
    criterion = npnn.CrossEntropyLoss()
    for _ in range(steps):
        idx = rng.integers(0, len(X), batch_size)
        opt.zero_grad()
        criterion(model(X[idx]), y[idx])
        model.backward(criterion.backward())
        opt.step()
        if schedule is not None:
            schedule.step()
    return model


def accuracy(model, X, y):
    model.eval()
    acc = float((model(X).argmax(axis=1) == y).mean())
    model.train()
    return acc


def test_digits_mlp_reaches_97_percent():
    X, y, Xt, yt = load_digits()
    seed_everything(0)
    model = npnn.Sequential(npnn.Linear(64, 256), npnn.ReLU(), npnn.Linear(256, 10))
    with _one_thread():
        fit(model, X, y, steps=2000, batch_size=64, lr=3e-3, weight_decay=1e-2)
    acc = accuracy(model, Xt, yt)
    # measured 97.2-97.8% over seeds 0-3 (97.5% with seed 0); 360 test images
    assert acc >= 0.97, f"digits MLP test accuracy {acc:.3f}"


def test_mnist1d_mlp_paper_protocol():
    X, y, Xt, yt = load_mnist1d()
    seed_everything(0)
    model = npnn.Sequential(npnn.Linear(40, 100), npnn.ReLU(), npnn.Linear(100, 100), npnn.ReLU(),
                          npnn.Linear(100, 10))
    with _one_thread():
        fit(model, X, y, steps=6000, batch_size=100, lr=1e-2)
    acc = accuracy(model, Xt, yt)
    # the paper reports 68%; single runs measured 63-68% here
    assert acc >= 0.60, f"MNIST-1D MLP test accuracy {acc:.3f}"


@pytest.mark.slow
def test_mnist1d_cnn_paper_protocol():
    X, y, Xt, yt = load_mnist1d()
    X, Xt = X[:, None, :], Xt[:, None, :]  # (N, 1, 40): one input channel
    seed_everything(0)
    model = npnn.Sequential(
        npnn.Conv1d(1, 25, 5, stride=2, padding=1), npnn.ReLU(),  # (N, 25, 19)
        npnn.Conv1d(25, 25, 3, stride=2, padding=1), npnn.ReLU(),  # (N, 25, 10)
        npnn.Conv1d(25, 25, 3, stride=2, padding=1), npnn.ReLU(),  # (N, 25, 5)
        npnn.Flatten(), npnn.Linear(125, 10))
    assert model(X[:2]).shape == (2, 10)
    with _one_thread():
        fit(model, X, y, steps=6000, batch_size=100, lr=1e-2)
    acc = accuracy(model, Xt, yt)
    # the paper reports 94%; this run measured about 93%
    assert acc >= 0.85, f"MNIST-1D CNN test accuracy {acc:.3f}"
