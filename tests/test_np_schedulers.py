"""LinearLR and OneCycleLR of dlbook.numpy give torch's learning rates (and, for
the one-cycle policy, its momenta) value for value, step after step."""

import math

import numpy as np
import pytest
import torch

from dlbook.numpy import nn as npnn
from dlbook.numpy import optim as npoptim
from dlbook.numpy.optim import lr_scheduler


def _optimizers(kind, lr=0.1):
    p = npnn.Parameter(np.zeros(1))
    tp = torch.zeros(1, requires_grad=True)
    if kind == "SGD":
        return npoptim.SGD([p], lr=lr, momentum=0.9), torch.optim.SGD([tp], lr=lr,
                                                                       momentum=0.9)
    return npoptim.Adam([p], lr=lr), torch.optim.Adam([tp], lr=lr)


def _run(name, kwargs, steps, kind="SGD", keys=("lr",)):
    """The values of ``keys`` in group 0 after construction and after each step."""
    np_opt, t_opt = _optimizers(kind)
    s = getattr(lr_scheduler, name)(np_opt, **kwargs)
    ts = getattr(torch.optim.lr_scheduler, name)(t_opt, **kwargs)
    a = [[np_opt.param_groups[0][k] for k in keys]]
    b = [[t_opt.param_groups[0][k] for k in keys]]
    for _ in range(steps):
        np_opt.step()
        t_opt.step()
        s.step()
        ts.step()
        a.append([np_opt.param_groups[0][k] for k in keys])
        b.append([t_opt.param_groups[0][k] for k in keys])
    assert s.get_last_lr() == ts.get_last_lr()
    return a, b


@pytest.mark.parametrize("kwargs", [
    {}, dict(start_factor=0.01, total_iters=10), dict(start_factor=0.5, end_factor=0.1,
                                                      total_iters=7),
    dict(start_factor=1.0, end_factor=0.0, total_iters=4),
])
def test_linear_lr_matches_torch(kwargs):
    a, b = _run("LinearLR", kwargs, steps=20)
    assert a == b  # the same recursion, bit for bit


def test_linear_lr_is_the_linear_ramp():
    a, _ = _run("LinearLR", dict(start_factor=0.1, total_iters=9), steps=15)
    ramp = [0.1 * (0.1 + 0.9 * min(t, 9) / 9) for t in range(16)]
    np.testing.assert_allclose([v[0] for v in a], ramp, rtol=1e-12)


@pytest.mark.parametrize("kind", ["SGD", "Adam"])
@pytest.mark.parametrize("kwargs", [
    dict(max_lr=0.5, total_steps=40),
    dict(max_lr=1.0, epochs=3, steps_per_epoch=7, pct_start=0.25,
         anneal_strategy="linear"),
    dict(max_lr=0.2, total_steps=30, cycle_momentum=False, div_factor=10.0,
         final_div_factor=100.0),
])
def test_one_cycle_matches_torch_lr_and_momentum(kind, kwargs):
    total = kwargs.get("total_steps") or kwargs["epochs"] * kwargs["steps_per_epoch"]
    key = "momentum" if kind == "SGD" else "betas"
    a, b = _run("OneCycleLR", kwargs, steps=total - 1, kind=kind, keys=("lr", key))
    assert a == b
    lrs = [v[0] for v in a]
    assert lrs[0] == pytest.approx(kwargs["max_lr"] / kwargs.get("div_factor", 25.0))
    assert kwargs["max_lr"] * 0.9 < max(lrs) <= kwargs["max_lr"]


def test_one_cycle_refuses_steps_beyond_its_length():
    opt, _ = _optimizers("SGD")
    s = lr_scheduler.OneCycleLR(opt, max_lr=0.1, total_steps=3)
    for _ in range(3):
        s.step()
    with pytest.raises(ValueError, match="OneCycleLR: stepped 4 times"):
        s.step()


@pytest.mark.parametrize("call, words", [
    (lambda o: lr_scheduler.LinearLR(o, start_factor=0.0), "LinearLR: start_factor"),
    (lambda o: lr_scheduler.OneCycleLR(o, max_lr=0.1), "OneCycleLR: give total_steps"),
    (lambda o: lr_scheduler.OneCycleLR(o, max_lr=0.1, total_steps=0),
     "OneCycleLR: total_steps must be"),
    (lambda o: lr_scheduler.OneCycleLR(o, max_lr=0.1, total_steps=5, pct_start=1.5),
     "OneCycleLR: pct_start"),
])
def test_bad_arguments_name_the_scheduler(call, words):
    opt, _ = _optimizers("SGD")
    with pytest.raises(ValueError, match=words):
        call(opt)


def test_one_cycle_needs_momentum_to_cycle_it():
    opt = npoptim.Adagrad([npnn.Parameter(np.zeros(1))], lr=0.1)
    with pytest.raises(ValueError, match="OneCycleLR: cycle_momentum needs"):
        lr_scheduler.OneCycleLR(opt, max_lr=0.1, total_steps=5)
    lr_scheduler.OneCycleLR(opt, max_lr=0.1, total_steps=5, cycle_momentum=False)


def test_warmup_then_cosine_with_lambda_lr_matches_torch():
    warmup, total = 5, 30

    def factor(t):
        if t < warmup:
            return (t + 1) / warmup
        return 0.5 * (1 + math.cos(math.pi * (t - warmup) / (total - warmup)))

    a, b = _run("LambdaLR", dict(lr_lambda=factor), steps=total)
    assert a == b
