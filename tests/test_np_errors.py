"""torch's semantics around the computation: empty batches, state dicts, optimizers."""

import inspect
import math

import numpy as np
import pytest
import torch

from dlbook.numpy import nn as npnn
from dlbook.numpy import optim as npoptim

rng = np.random.default_rng(0)


# ---- a zero-size batch gives an empty output, as in torch ---------------------
def _empty_cases():
    x2, x3, x4 = np.ones((0, 3)), np.ones((0, 3, 5)), np.ones((0, 3, 4, 4))
    return [
        (npnn.Linear(3, 2), torch.nn.Linear(3, 2), x2),
        (npnn.Conv2d(3, 2, 3), torch.nn.Conv2d(3, 2, 3), x4),
        (npnn.Conv2d(3, 6, 3, groups=3), torch.nn.Conv2d(3, 6, 3, groups=3), x4),
        (npnn.Conv1d(3, 2, 2), torch.nn.Conv1d(3, 2, 2), x3),
        (npnn.ConvTranspose2d(3, 2, 2), torch.nn.ConvTranspose2d(3, 2, 2), x4),
        (npnn.MaxPool2d(2), torch.nn.MaxPool2d(2), x4),
        (npnn.AvgPool2d(2), torch.nn.AvgPool2d(2), x4),
        (npnn.AdaptiveAvgPool2d(1), torch.nn.AdaptiveAvgPool2d(1), x4),
        (npnn.Flatten(), torch.nn.Flatten(), x4),
        (npnn.GroupNorm(3, 3), torch.nn.GroupNorm(3, 3), x4),
        (npnn.BatchNorm1d(3), torch.nn.BatchNorm1d(3), x2),
        (npnn.BatchNorm2d(3), torch.nn.BatchNorm2d(3), x4),
        (npnn.LayerNorm(3), torch.nn.LayerNorm(3), x2),
        (npnn.RNN(3, 2, batch_first=True), torch.nn.RNN(3, 2, batch_first=True),
         np.ones((0, 4, 3))),
        (npnn.GRU(3, 2), torch.nn.GRU(3, 2), np.ones((4, 0, 3))),
        (npnn.LSTM(3, 2, num_layers=2), torch.nn.LSTM(3, 2, num_layers=2),
         np.ones((4, 0, 3))),
        (npnn.Softmax(1), torch.nn.Softmax(1), x2),
    ]


@pytest.mark.parametrize("case", _empty_cases(), ids=lambda c: type(c[0]).__name__)
def test_empty_batch_gives_empty_output_and_gradient(case):
    m, t, x = case
    out = m(x)
    out = out[0] if isinstance(out, tuple) else out
    want = t(torch.tensor(x, dtype=torch.float32))
    want = want[0] if isinstance(want, tuple) else want
    assert out.shape == tuple(want.shape)
    dx = m.backward(np.zeros(out.shape))
    assert dx.shape == x.shape
    for p in m.parameters():
        assert not np.any(p.grad)  # nothing to learn from no examples


def test_batchnorm_empty_batch_leaves_running_stats_like_torch():
    bn, tbn = npnn.BatchNorm1d(3), torch.nn.BatchNorm1d(3)
    bn(np.ones((0, 3)))
    tbn(torch.ones(0, 3))
    np.testing.assert_array_equal(bn.running_mean, tbn.running_mean.numpy())
    assert int(bn.num_batches_tracked) == int(tbn.num_batches_tracked) == 1


# ---- load_state_dict ----------------------------------------------------------------
def test_load_state_dict_refuses_a_non_dict():
    with pytest.raises(TypeError, match=r"Linear.load_state_dict: expected a dict "
                                        r"of arrays .*got list"):
        npnn.Linear(2, 2).load_state_dict([np.zeros((2, 2))])


def test_load_state_dict_non_strict_returns_missing_and_unexpected_like_torch():
    state = {"weight": np.zeros((2, 3)), "extra": np.ones(1)}
    got = npnn.Linear(3, 2).load_state_dict(state, strict=False)
    want = torch.nn.Linear(3, 2).load_state_dict(
        {k: torch.tensor(v) for k, v in state.items()}, strict=False)
    assert got.missing_keys == want.missing_keys == ["bias"]
    assert got.unexpected_keys == want.unexpected_keys == ["extra"]
    missing, unexpected = got  # a named tuple, as torch's
    assert (missing, unexpected) == (["bias"], ["extra"])
    full = npnn.Linear(3, 2).load_state_dict(npnn.Linear(3, 2).state_dict())
    assert full.missing_keys == [] and full.unexpected_keys == []


def test_load_state_dict_with_a_bad_shape_changes_nothing():
    m = npnn.Sequential(npnn.Linear(3, 2), npnn.Linear(2, 2))
    before = m.state_dict()
    bad = {k: np.full(v.shape, 7.0) for k, v in before.items()}
    bad["1.bias"] = np.zeros(5)
    with pytest.raises(ValueError, match=r"1.bias expected shape \(2,\), got \(5,\)"):
        m.load_state_dict(bad)
    for k, v in m.state_dict().items():
        np.testing.assert_array_equal(v, before[k])


# ---- optimizers -------------------------------------------------------------------
OPTIMIZERS = [npoptim.SGD, npoptim.Adam, npoptim.AdamW, npoptim.RMSprop, npoptim.Adagrad,
              npoptim.Adadelta]


@pytest.mark.parametrize("opt", OPTIMIZERS, ids=lambda o: o.__name__)
def test_a_parameter_listed_twice_is_refused(opt):
    p = npnn.Parameter(np.ones(2))
    with pytest.raises(ValueError, match="same parameter twice"):
        opt([p, p], lr=0.1)
    with pytest.raises(ValueError, match="more than one parameter group"):
        opt([{"params": [p]}, {"params": [p]}], lr=0.1)


@pytest.mark.parametrize("lr", [math.nan, -1.0, math.inf])
@pytest.mark.parametrize("opt", OPTIMIZERS, ids=lambda o: o.__name__)
def test_invalid_learning_rate_is_refused(opt, lr):
    with pytest.raises(ValueError, match=r"(?i)invalid (learning rate|lr)"):
        opt([npnn.Parameter(np.ones(2))], lr=lr)


@pytest.mark.parametrize("opt", OPTIMIZERS, ids=lambda o: o.__name__)
def test_step_and_zero_grad_skip_parameters_without_gradient(opt):
    used, unused = npnn.Parameter(np.ones(2)), npnn.Parameter(np.ones(2))
    o = opt([used, unused], lr=0.1)
    used.grad[...] = 1.0
    unused.grad = None  # as torch, where a parameter outside the loss has no grad
    o.step()
    np.testing.assert_array_equal(unused.data, np.ones(2))
    assert not np.array_equal(used.data, np.ones(2))
    o.zero_grad()
    assert unused.grad is None and not used.grad.any()


def test_zero_grad_set_to_none_then_backward_allocates_again():
    lin = npnn.Linear(3, 2)
    o = npoptim.SGD(lin.parameters(), lr=0.1)
    o.zero_grad(set_to_none=True)
    assert lin.weight.grad is None and lin.bias.grad is None
    w = lin.weight.data.copy()
    o.step()  # nothing to apply
    np.testing.assert_array_equal(lin.weight.data, w)
    x = rng.standard_normal((4, 3))
    lin(x)
    lin.backward(np.ones((4, 2)))
    np.testing.assert_allclose(lin.weight.grad, np.ones((2, 4)) @ x)
    lin.zero_grad(set_to_none=True)
    assert lin.bias.grad is None


def test_clip_grad_norm_skips_parameters_without_gradient():
    a, b = npnn.Parameter(np.ones(2)), npnn.Parameter(np.ones(2))
    a.grad = np.array([3.0, 4.0])
    b.grad = None
    total = npnn.utils.clip_grad_norm_([a, b], 1.0)
    assert total == pytest.approx(5.0)


def _numeric_hyperparameters(opt):
    sig = inspect.signature(opt)
    return [k for k, p in sig.parameters.items()
            if isinstance(p.default, float) and not isinstance(p.default, bool)]


@pytest.mark.parametrize("opt", OPTIMIZERS, ids=lambda o: o.__name__)
def test_every_hyperparameter_refuses_nan_and_non_numbers(opt):
    # Adam(weight_decay=nan) and Adagrad(initial_accumulator_value=-1) were
    # accepted (torch refuses both) and filled the weights with nan; betas=0.9
    # raised "'float' object is not subscriptable", lr='0.1' "Invalid learning
    # rate: 0.1"
    keys = _numeric_hyperparameters(opt)
    assert "lr" in keys and "weight_decay" in keys
    for key in keys:
        p = [npnn.Parameter(np.ones(2))]
        with pytest.raises(ValueError, match=rf"^{opt.__name__}: (?i:invalid) "
                                             rf"(learning rate|{key})"):
            opt(p, **{key: math.nan})
        with pytest.raises(TypeError, match=rf"^{opt.__name__}: {key} must be a "
                                            r"number, got str"):
            opt(p, **{key: "0.1"})


@pytest.mark.parametrize("opt, kwargs", [
    (npoptim.Adagrad, {"initial_accumulator_value": -1.0}),
    (npoptim.Adadelta, {"rho": 1.5}), (npoptim.RMSprop, {"alpha": -1.0}),
    (npoptim.SGD, {"momentum": -0.5}), (npoptim.Adam, {"eps": -1.0}),
    (npoptim.Adam, {"betas": (1.0, 0.9)}), (npoptim.AdamW, {"betas": 0.9}),
])
def test_hyperparameters_torch_refuses_are_refused_by_name(opt, kwargs):
    key = next(iter(kwargs))
    with pytest.raises((ValueError, TypeError)):  # torch refuses it
        getattr(torch.optim, opt.__name__)([torch.zeros(1, requires_grad=True)],
                                           **kwargs)
    with pytest.raises((ValueError, TypeError), match=rf"^{opt.__name__}: .*{key}"):
        opt([npnn.Parameter(np.ones(2))], **kwargs)


@pytest.mark.parametrize("opt", OPTIMIZERS, ids=lambda o: o.__name__)
def test_a_gradient_of_the_wrong_shape_is_refused_before_any_update(opt):
    # a (2,) gradient on a (2, 2) weight was broadcast over its rows and applied
    # without a word; torch refuses to assign such a gradient
    lin = npnn.Linear(2, 2)
    o = opt(lin.parameters(), lr=0.1)
    before = {k: v.copy() for k, v in lin.state_dict().items()}
    lin.weight.grad, lin.bias.grad = np.ones(2), np.ones(2)
    with pytest.raises(ValueError, match=rf"{opt.__name__}.step: the .grad of "
                                         r"parameter 0 has shape \(2,\), but the "
                                         r"parameter has shape \(2, 2\)"):
        o.step()
    lin.weight.grad = [[1.0, 1.0], [1.0, 1.0]]
    with pytest.raises(TypeError, match=r"parameter 0 is a list"):
        o.step()
    after = lin.state_dict()
    assert all(np.array_equal(before[k], after[k]) for k in before)  # bias too


GEOMETRY = {  # layer: a builder taking the keyword to vary
    "Conv1d": lambda **kw: npnn.Conv1d(2, 2, **{"kernel_size": 3, **kw}),
    "Conv2d": lambda **kw: npnn.Conv2d(2, 2, **{"kernel_size": 3, **kw}),
    "ConvTranspose2d": lambda **kw: npnn.ConvTranspose2d(2, 2, **{"kernel_size": 3,
                                                                 **kw}),
    "MaxPool1d": lambda **kw: npnn.MaxPool1d(**{"kernel_size": 3, **kw}),
    "MaxPool2d": lambda **kw: npnn.MaxPool2d(**{"kernel_size": 3, **kw}),
    "AvgPool1d": lambda **kw: npnn.AvgPool1d(**{"kernel_size": 3, **kw}),
    "AvgPool2d": lambda **kw: npnn.AvgPool2d(**{"kernel_size": 3, **kw}),
}
BAD_GEOMETRY = [({"stride": 0}, ValueError), ({"kernel_size": 0}, ValueError),
                ({"padding": -1}, ValueError), ({"dilation": 0}, ValueError),
                ({"kernel_size": 2.5}, TypeError), ({"stride": "2"}, TypeError)]


@pytest.mark.parametrize("kw, kind", BAD_GEOMETRY, ids=lambda v: str(v))
@pytest.mark.parametrize("name", GEOMETRY)
def test_bad_kernel_stride_padding_or_dilation_is_refused_by_name(name, kw, kind):
    # stride 0 raised ZeroDivisionError in forward; dilation 0 and a 0 kernel
    # were accepted; negative padding gave "could not broadcast"; 2.5 was
    # truncated to 2 without a word
    key = next(iter(kw))
    if key == "dilation" and name.startswith("AvgPool"):
        kind = TypeError  # torch's AvgPool has no dilation either
    with pytest.raises(kind, match=rf"^{name}: .*{key}"):
        GEOMETRY[name](**kw)


def test_conv_padding_strings_other_than_same_and_valid_are_refused():
    with pytest.raises(ValueError, match=r"^Conv2d: padding must be 'valid', 'same'"):
        npnn.Conv2d(2, 2, 3, padding="full")
    assert npnn.Conv2d(2, 2, 3, stride=2.0).stride == (2, 2)  # a whole float is fine
