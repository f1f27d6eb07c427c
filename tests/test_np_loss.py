"""Losses and the stable functional forms against torch in float64."""

import pathlib
import sys

import numpy as np
import pytest
import torch

sys.path.insert(0, str(pathlib.Path(__file__).parent))
from np_helpers import check_against_torch  # noqa: E402

from dlbook.numpy import gradcheck  # noqa: E402
from dlbook.numpy import nn as npnn
from dlbook.numpy.nn import functional as F  # noqa: E402

rng = np.random.default_rng(1)
REDUCTIONS = ["mean", "sum", "none"]


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("cls", ["MSELoss", "L1Loss"])
def test_regression_losses(cls, reduction):
    x = rng.standard_normal((4, 3))
    y = rng.standard_normal((4, 3))
    y[0, 0] = x[0, 0]  # a tie: L1's gradient there is 0 in both
    check_against_torch(getattr(npnn, cls)(reduction=reduction),
                        getattr(torch.nn, cls)(reduction=reduction), x, y)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("smoothing", [0.0, 0.1])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("ignore", [False, True])
def test_cross_entropy(reduction, smoothing, weighted, ignore):
    C = 5
    x = 2 * rng.standard_normal((6, C))
    y = rng.integers(0, C, 6)
    kwargs = {"reduction": reduction, "label_smoothing": smoothing}
    if ignore:
        y[1] = y[4] = -100  # torch's default ignore_index
    w = rng.uniform(0.5, 2.0, C) if weighted else None
    np_loss = npnn.CrossEntropyLoss(weight=w, **kwargs)
    t_loss = torch.nn.CrossEntropyLoss(
        weight=None if w is None else torch.tensor(w), **kwargs)
    check_against_torch(np_loss, t_loss, x, y)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_cross_entropy_spatial_and_single(reduction):
    # (N, C, d1, d2) logits, e.g. per-pixel classification
    x = rng.standard_normal((2, 4, 3, 5))
    y = rng.integers(0, 4, (2, 3, 5))
    y[0, 1, 2] = 2  # keep ignore_index=2 meaningful
    kw = dict(reduction=reduction, ignore_index=2, label_smoothing=0.2)
    check_against_torch(npnn.CrossEntropyLoss(**kw), torch.nn.CrossEntropyLoss(**kw),
                        x, y)
    # a single sample: (C,) logits and a 0-d label
    check_against_torch(npnn.CrossEntropyLoss(reduction=reduction),
                        torch.nn.CrossEntropyLoss(reduction=reduction),
                        rng.standard_normal(4), np.array(3))


def test_cross_entropy_bad_labels():
    loss = npnn.CrossEntropyLoss()
    with pytest.raises(IndexError, match=r"\[0, 2\].*got 3"):
        loss(np.zeros((2, 3)), np.array([0, 3]))
    with pytest.raises(IndexError, match="got -1"):
        loss(np.zeros((2, 3)), np.array([-1, 0]))
    with pytest.raises(ValueError, match="shape"):
        loss(np.zeros((2, 3)), np.array([0, 1, 2]))


def test_cross_entropy_extreme_logits():
    x = np.array([[1000.0, -1000.0, 0.0], [-1000.0, 1000.0, 1000.0]])
    y = np.array([1, 2])
    res = check_against_torch(npnn.CrossEntropyLoss(), torch.nn.CrossEntropyLoss(), x, y)
    assert np.isfinite(res["output"]) and np.all(np.isfinite(res["grads"][0]))
    # sample 0: label logit is 2000 below the max, so the loss is 1000 + 1000
    np.testing.assert_allclose(F.cross_entropy(x[:1], y[:1]), 2000.0)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weighted", [False, True])
def test_nll_loss(reduction, weighted):
    x = F.log_softmax(rng.standard_normal((5, 4)))
    y = rng.integers(0, 4, 5)
    w = rng.uniform(0.5, 2, 4) if weighted else None
    check_against_torch(npnn.NLLLoss(w, reduction=reduction),
                        torch.nn.NLLLoss(None if w is None else torch.tensor(w),
                                         reduction=reduction), x, y)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weighted", [False, True])
def test_bce(reduction, weighted):
    p = rng.uniform(0.01, 0.99, (4, 3))
    y = rng.uniform(0, 1, (4, 3))
    w = rng.uniform(0.5, 2, (4, 3)) if weighted else None
    check_against_torch(npnn.BCELoss(w, reduction=reduction),
                        torch.nn.BCELoss(None if w is None else torch.tensor(w),
                                         reduction=reduction), p, y)


def test_bce_clamps_log_at_saturation():
    p = np.array([0.0, 1.0, 0.5])
    y = np.array([1.0, 0.0, 1.0])
    check_against_torch(npnn.BCELoss(), torch.nn.BCELoss(), p, y)
    with pytest.raises(ValueError, match="probabilities"):
        npnn.BCELoss()(np.array([1.5]), np.array([1.0]))


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("pos_weight", [None, "vec"])
def test_bce_with_logits(reduction, pos_weight):
    x = 5 * rng.standard_normal((4, 3))
    x[0, :] = [1000.0, -1000.0, 0.0]
    y = (rng.uniform(size=(4, 3)) > 0.5).astype(np.float64)
    pw = rng.uniform(0.5, 3, 3) if pos_weight else None
    check_against_torch(
        npnn.BCEWithLogitsLoss(reduction=reduction, pos_weight=pw),
        torch.nn.BCEWithLogitsLoss(reduction=reduction,
                                   pos_weight=None if pw is None else torch.tensor(pw)),
        x, y)


def test_loss_backward_takes_upstream_scalar():
    x = rng.standard_normal((3, 4))
    y = rng.integers(0, 4, 3)
    loss = npnn.CrossEntropyLoss()
    loss(x, y)
    g1 = loss.backward()
    np.testing.assert_allclose(loss.backward(2.5), 2.5 * g1)
    assert np.ndim(loss(x, y)) == 0


def test_losses_by_gradcheck():
    x = rng.standard_normal((4, 5))
    y = rng.integers(0, 5, 4)
    gradcheck(npnn.CrossEntropyLoss(label_smoothing=0.1), x, y)
    gradcheck(npnn.BCEWithLogitsLoss(), x, rng.uniform(size=(4, 5)))


def test_stable_functional_forms():
    x = np.array([[1000.0, -1000.0, 0.0], [-1000.0, -1000.0, -1000.0]])
    t = torch.tensor(x)
    np.testing.assert_allclose(F.softmax(x), torch.softmax(t, -1).numpy())
    np.testing.assert_allclose(F.log_softmax(x), torch.log_softmax(t, -1).numpy())
    np.testing.assert_allclose(F.logsumexp(x, dim=1), torch.logsumexp(t, 1).numpy())
    np.testing.assert_allclose(F.sigmoid(x), torch.sigmoid(t).numpy())
    np.testing.assert_allclose(F.softplus(x), torch.nn.functional.softplus(t).numpy())
    assert np.all(np.isfinite(F.log_softmax(x)))
    # an all -inf row gives -inf, as torch, not nan
    assert F.logsumexp(np.array([-np.inf, -np.inf])) == -np.inf
    np.testing.assert_allclose(F.logsumexp(x, dim=0, keepdim=True),
                               torch.logsumexp(t, 0, keepdim=True).numpy())


def test_functional_matches_torch():
    x = rng.standard_normal((3, 4))
    t = torch.tensor(x)
    tf = torch.nn.functional
    np.testing.assert_allclose(F.relu(x), tf.relu(t).numpy())
    np.testing.assert_allclose(F.leaky_relu(x, 0.1), tf.leaky_relu(t, 0.1).numpy())
    np.testing.assert_allclose(F.elu(x), tf.elu(t).numpy())
    np.testing.assert_allclose(F.gelu(x), tf.gelu(t).numpy())
    np.testing.assert_allclose(F.silu(x), tf.silu(t).numpy())
    y = rng.integers(0, 4, 3)
    np.testing.assert_allclose(F.one_hot(y, 4), tf.one_hot(torch.tensor(y), 4).numpy())
    np.testing.assert_allclose(F.cross_entropy(x, y),
                               tf.cross_entropy(t, torch.tensor(y)).item())


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("smoothing", [0.0, 0.2])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("shape", [(5, 4), (2, 4, 3), (4,)])
def test_cross_entropy_with_class_probabilities(reduction, smoothing, weighted, shape):
    x = rng.standard_normal(shape)
    axis = 0 if len(shape) == 1 else 1
    t = F.softmax(rng.standard_normal(shape), dim=axis)  # a distribution per sample
    C = shape[axis]
    w = rng.uniform(0.5, 2.0, C) if weighted else None
    kw = dict(reduction=reduction, label_smoothing=smoothing)
    check_against_torch(npnn.CrossEntropyLoss(weight=w, **kw),
                        torch.nn.CrossEntropyLoss(
                            weight=None if w is None else torch.tensor(w), **kw),
                        x, t, grad_inputs=(0,))


def test_cross_entropy_agrees_with_its_naive_version():
    # the plain idea, (softmax - onehot) / N, is what the full layer computes
    from dlbook.numpy.nn.loss import cross_entropy_naive

    z = rng.standard_normal((6, 4)) * 3
    y = rng.integers(0, 4, 6)
    ce = npnn.CrossEntropyLoss()
    loss = ce(z, y)
    want_loss, want_grad = cross_entropy_naive(z, y)
    np.testing.assert_allclose(loss, want_loss, rtol=1e-12)
    np.testing.assert_allclose(ce.backward(), want_grad, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("smoothing", [0.0, 0.1])
def test_every_target_ignored_gives_nan_loss_and_zero_gradient_like_torch(smoothing):
    # torch: the mean over no targets is nan, but no gradient reaches the inputs
    # of ignored targets (a case torch's module_db draws at random)
    import torch

    from dlbook.numpy import nn as npnn
    x = np.random.default_rng(0).standard_normal((2, 3))
    t = np.array([-100, -100])
    xt = torch.tensor(x, requires_grad=True)
    torch.nn.CrossEntropyLoss(label_smoothing=smoothing)(xt, torch.tensor(t)).backward()
    ce = npnn.CrossEntropyLoss(label_smoothing=smoothing)
    assert np.isnan(ce(x, t))
    np.testing.assert_array_equal(ce.backward(), xt.grad.numpy())
    nll = npnn.NLLLoss()
    assert np.isnan(nll(x, t))
    assert np.array_equal(nll.backward(), np.zeros_like(x))


def test_zero_weight_targets_give_nan_gradient_like_torch():
    import torch

    from dlbook.numpy import nn as npnn
    x = np.random.default_rng(1).standard_normal((2, 3))
    w = np.array([0.0, 1.0, 1.0])
    xt = torch.tensor(x, requires_grad=True)
    torch.nn.CrossEntropyLoss(weight=torch.tensor(w))(xt, torch.tensor([0, 0])).backward()
    ce = npnn.CrossEntropyLoss(weight=w)
    ce(x, np.array([0, 0]))
    assert np.isnan(ce.backward()).all() and torch.isnan(xt.grad).all()
