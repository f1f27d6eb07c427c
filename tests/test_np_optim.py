"""Optimizers and schedulers: trajectories equal torch.optim's step for step."""

import math

import numpy as np
import pytest
import torch

from dlbook.numpy import nn as npnn
from dlbook.numpy import optim as npoptim
from dlbook.numpy.optim import lr_scheduler

rng = np.random.default_rng(6)
X = rng.standard_normal((16, 5))
Y = rng.standard_normal((16, 2))


def _models():
    """A small regression net in both frameworks, same float64 weights."""
    torch.manual_seed(0)  # the same start in every test, whatever ran before
    t_m = torch.nn.Sequential(torch.nn.Linear(5, 4), torch.nn.Tanh(),
                              torch.nn.Linear(4, 2)).double()
    np_m = npnn.Sequential(npnn.Linear(5, 4), npnn.Tanh(), npnn.Linear(4, 2)).double()
    np_m.load_state_dict({k: v.detach().numpy() for k, v in t_m.state_dict().items()})
    return np_m, t_m


def _run(np_cls, t_cls, kwargs, steps=50):
    np_m, t_m = _models()
    np_opt = np_cls(np_m.parameters(), **kwargs)
    t_opt = t_cls(t_m.parameters(), **kwargs)
    np_loss, t_loss = npnn.MSELoss(), torch.nn.MSELoss()
    xt, yt = torch.tensor(X), torch.tensor(Y)
    losses = []
    for _ in range(steps):
        np_opt.zero_grad()
        loss = np_loss(np_m(X), Y)
        np_m.backward(np_loss.backward())
        np_opt.step()
        t_opt.zero_grad()
        tl = t_loss(t_m(xt), yt)
        tl.backward()
        t_opt.step()
        np.testing.assert_allclose(loss, tl.item(), rtol=1e-9)
        losses.append(float(loss))
    for (name, p), (t_name, tp) in zip(np_m.named_parameters(), t_m.named_parameters()):
        assert name == t_name
        np.testing.assert_allclose(p.data, tp.detach().numpy(), rtol=1e-9, atol=1e-12)
    return losses


CASES = [
    ("SGD", dict(lr=0.1)),
    ("SGD", dict(lr=0.05, momentum=0.9)),
    ("SGD", dict(lr=0.05, momentum=0.9, dampening=0.3, weight_decay=0.01)),
    ("SGD", dict(lr=0.05, momentum=0.8, nesterov=True, weight_decay=1e-3)),
    ("SGD", dict(lr=0.05, maximize=False)),
    ("Adagrad", dict()),
    ("Adagrad", dict(lr=0.1, lr_decay=0.01, weight_decay=0.01,
                     initial_accumulator_value=0.1, eps=1e-8)),
    ("Adadelta", dict()),
    ("Adadelta", dict(lr=0.5, rho=0.8, eps=1e-5, weight_decay=0.01)),
    ("RMSprop", dict()),
    ("RMSprop", dict(lr=0.005, alpha=0.9, eps=1e-6, weight_decay=0.01)),
    ("RMSprop", dict(lr=0.005, momentum=0.9)),
    ("RMSprop", dict(lr=0.005, centered=True)),
    ("RMSprop", dict(lr=0.002, centered=True, momentum=0.5, weight_decay=0.1)),
    ("Adam", dict(lr=0.01)),
    ("Adam", dict(lr=0.01, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.01)),
    ("Adam", dict(lr=0.01, amsgrad=True)),
    ("Adam", dict(lr=0.01, betas=(0.3, 0.9))),  # beta1 < 0.5: the other lerp branch
    ("AdamW", dict(lr=0.01)),
    ("AdamW", dict(lr=0.01, weight_decay=0.1, amsgrad=True)),
]


@pytest.mark.parametrize("name,kwargs", CASES, ids=lambda c: str(c))
def test_trajectory_matches_torch(name, kwargs):
    losses = _run(getattr(npoptim, name), getattr(torch.optim, name), kwargs)
    assert losses[-1] < losses[0]  # and it actually optimizes


def test_param_groups_and_state_dict():
    np_m, t_m = _models()
    groups = [{"params": np_m[0].parameters(), "lr": 0.1},
              {"params": np_m[2].parameters()}]
    opt = npoptim.SGD(groups, lr=0.01, momentum=0.9)
    assert [g["lr"] for g in opt.param_groups] == [0.1, 0.01]
    assert opt.param_groups[1]["momentum"] == 0.9
    np_m.zero_grad()
    np_m(X)
    np_m.backward(np.ones((16, 2)))
    opt.step()
    sd = opt.state_dict()
    assert sorted(sd["state"]) == [0, 1, 2, 3]
    opt2 = npoptim.SGD([{"params": np_m[0].parameters(), "lr": 0.5},
                      {"params": np_m[2].parameters()}], lr=0.01)
    opt2.load_state_dict(sd)
    assert opt2.param_groups[0]["lr"] == 0.1
    p0 = next(np_m.parameters())
    np.testing.assert_array_equal(opt2.state[p0]["momentum_buffer"],
                                  opt.state[p0]["momentum_buffer"])
    opt.zero_grad()
    assert not any(p.grad.any() for p in np_m.parameters())
    with pytest.raises(ValueError, match="empty"):
        npoptim.Adam([])
    with pytest.raises(ValueError, match="betas"):
        npoptim.Adam(np_m.parameters(), betas=(1.0, 0.9))
    assert "Parameter Group 0" in repr(opt)


def test_float32_parameters_stay_float32():
    m = npnn.Linear(3, 2)
    opt = npoptim.Adam(m.parameters(), lr=0.1)
    m(np.ones((4, 3), dtype=np.float32))
    m.backward(np.ones((4, 2), dtype=np.float32))
    opt.step()
    assert m.weight.dtype == np.float32
    assert opt.state[m.weight]["exp_avg"].dtype == np.float32


def _lr_sequences(np_sched, t_sched, kwargs, epochs=40, lr=0.1):
    p = npnn.Parameter(np.zeros(1))
    tp = torch.zeros(1, requires_grad=True)
    np_opt, t_opt = npoptim.SGD([p], lr=lr), torch.optim.SGD([tp], lr=lr)
    s = getattr(lr_scheduler, np_sched)(np_opt, **kwargs)
    ts = getattr(torch.optim.lr_scheduler, t_sched)(t_opt, **kwargs)
    a, b = [s.get_last_lr()[0]], [ts.get_last_lr()[0]]
    for _ in range(epochs):
        np_opt.step()
        t_opt.step()
        s.step()
        ts.step()
        a.append(s.get_last_lr()[0])
        b.append(ts.get_last_lr()[0])
    return a, b


@pytest.mark.parametrize("name,kwargs", [
    ("StepLR", dict(step_size=7)), ("StepLR", dict(step_size=3, gamma=0.5)),
    ("CosineAnnealingLR", dict(T_max=10)),
    ("CosineAnnealingLR", dict(T_max=15, eta_min=0.01)),
    ("ExponentialLR", dict(gamma=0.9)),
])
def test_scheduler_sequences_match_torch(name, kwargs):
    a, b = _lr_sequences(name, name, kwargs)
    assert a == b  # bit for bit: the same recursion


def test_cosine_closed_form_and_lambda():
    a, _ = _lr_sequences("CosineAnnealingLR", "CosineAnnealingLR", dict(T_max=10),
                         epochs=10)
    closed = [0.05 * (1 + math.cos(math.pi * t / 10)) for t in range(11)]
    np.testing.assert_allclose(a, closed, atol=1e-15)
    p = npnn.Parameter(np.zeros(1))
    opt = npoptim.SGD([p], lr=1.0)
    s = lr_scheduler.LambdaLR(opt, lambda e: 0.5**e)
    s.step()
    s.step()
    assert opt.param_groups[0]["lr"] == 0.25
