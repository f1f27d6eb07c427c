"""A battery of bad-input probes over every public ``dlbook.numpy.nn`` layer.

Each probe feeds a layer something a reader may well pass by mistake: one
dimension too many or too few, a wrong size along any axis (channels, features,
length), a Python list, int64 or uint8 data, an empty batch, a backward before
any forward, a grad_output of the wrong shape. torch is the oracle: where its
layer accepts the input, the NumPy layer must give torch's numbers (float64);
where it does not, the NumPy layer must raise a ValueError or TypeError whose
message names the layer (never a raw NumPy error such as "operands could not be
broadcast"), and must leave its parameters, buffers and gradients as they were.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pytest
import torch

from dlbook.numpy import nn as npnn
from dlbook.numpy.testing import check_against_torch, copy_torch_to_np

# torch warns about broadcasting targets and KLDivLoss's mean; the probes expect it
pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


@dataclass
class Spec:
    """One layer: how to build its NumPy and torch twins and a good input."""

    name: str
    make: Callable  # () -> (numpy module, torch module)
    shape: tuple  # a good, batched input
    call: Callable = field(default=lambda m, x: m(x))  # -> output (or tuple)
    names: tuple = ()  # more class names an error may name (a container's child)


def mha_call(m, x):
    return m(x, x, x, need_weights=False)


def dec_call(m, x):  # a fixed memory, the probe varies the target
    mem = np.ones((np.shape(x)[0], 3, 8)) if np.ndim(x) == 3 else np.ones((3, 8))
    return m(x, mem if isinstance(m, npnn.Module) else torch.tensor(mem))


def pair(np_cls, t_cls=None, *args, **kw):
    return lambda: (getattr(npnn, np_cls)(*args, **kw),
                    getattr(torch.nn, t_cls or np_cls)(*args, **kw))


ACT = (4, 5)  # activations: any shape works, in torch and here
SPECS = [
    Spec("ReLU", pair("ReLU"), ACT), Spec("ReLU6", pair("ReLU6"), ACT),
    Spec("LeakyReLU", pair("LeakyReLU", None, 0.1), ACT),
    Spec("ELU", pair("ELU"), ACT), Spec("SELU", pair("SELU"), ACT),
    Spec("GELU", pair("GELU"), ACT), Spec("SiLU", pair("SiLU"), ACT),
    Spec("Mish", pair("Mish"), ACT), Spec("Hardswish", pair("Hardswish"), ACT),
    Spec("Softplus", pair("Softplus"), ACT), Spec("Sigmoid", pair("Sigmoid"), ACT),
    Spec("Tanh", pair("Tanh"), ACT), Spec("LogSigmoid", pair("LogSigmoid"), ACT),
    Spec("PReLU", pair("PReLU", None, 5), ACT),
    Spec("Softmax", pair("Softmax", None, 1), ACT),
    Spec("LogSoftmax", pair("LogSoftmax", None, 1), ACT),
    Spec("Identity", pair("Identity"), ACT),
    Spec("Linear", pair("Linear", None, 5, 3), (4, 5)),
    Spec("Flatten", pair("Flatten"), (2, 3, 4)),
    Spec("Dropout", pair("Dropout", None, 0.0), ACT),
    Spec("Conv1d", pair("Conv1d", None, 3, 2, 3), (2, 3, 7)),
    Spec("Conv2d", pair("Conv2d", None, 3, 2, 3, padding=1), (2, 3, 5, 6)),
    Spec("ConvTranspose2d", pair("ConvTranspose2d", None, 3, 2, 3, stride=2),
         (2, 3, 4, 5)),
    Spec("MaxPool1d", pair("MaxPool1d", None, 2), (2, 3, 6)),
    Spec("AvgPool1d", pair("AvgPool1d", None, 2), (2, 3, 6)),
    Spec("MaxPool2d", pair("MaxPool2d", None, 2), (2, 3, 4, 6)),
    Spec("AvgPool2d", pair("AvgPool2d", None, 2), (2, 3, 4, 6)),
    Spec("AdaptiveAvgPool1d", pair("AdaptiveAvgPool1d", None, 3), (2, 3, 7)),
    Spec("AdaptiveMaxPool1d", pair("AdaptiveMaxPool1d", None, 3), (2, 3, 7)),
    Spec("AdaptiveAvgPool2d", pair("AdaptiveAvgPool2d", None, (2, 3)), (2, 3, 5, 7)),
    Spec("AdaptiveMaxPool2d", pair("AdaptiveMaxPool2d", None, (2, 3)), (2, 3, 5, 7)),
    Spec("ZeroPad2d", pair("ZeroPad2d", None, (1, 2, 0, 1)), (2, 3, 4, 5)),
    Spec("ConstantPad2d", pair("ConstantPad2d", None, 1, 0.5), (2, 3, 4, 5)),
    Spec("ReflectionPad2d", pair("ReflectionPad2d", None, 1), (2, 3, 4, 5)),
    Spec("BatchNorm1d", pair("BatchNorm1d", None, 3), (4, 3, 5)),
    Spec("BatchNorm2d", pair("BatchNorm2d", None, 3), (4, 3, 2, 2)),
    Spec("InstanceNorm1d", pair("InstanceNorm1d", None, 3, affine=True), (2, 3, 5)),
    Spec("InstanceNorm2d", pair("InstanceNorm2d", None, 3, affine=True),
         (2, 3, 4, 4)),
    Spec("GroupNorm", pair("GroupNorm", None, 2, 4), (2, 4, 5)),
    Spec("LayerNorm", pair("LayerNorm", None, 5), (2, 3, 5)),
    Spec("RMSNorm", pair("RMSNorm", None, 5), (2, 3, 5)),
    Spec("RNN", pair("RNN", None, 3, 4), (5, 2, 3), names=("RNN",)),
    Spec("GRU", pair("GRU", None, 3, 4, batch_first=True), (2, 5, 3)),
    Spec("LSTM", pair("LSTM", None, 3, 4, 2, bidirectional=True), (5, 2, 3)),
    Spec("LSTM_proj", pair("LSTM", None, 3, 4, proj_size=2), (5, 2, 3)),
    Spec("RNNCell", pair("RNNCell", None, 3, 4), (2, 3)),
    Spec("GRUCell", pair("GRUCell", None, 3, 4), (2, 3)),
    Spec("LSTMCell", pair("LSTMCell", None, 3, 4), (2, 3)),
    Spec("MultiheadAttention", pair("MultiheadAttention", None, 8, 2), (5, 2, 8),
         call=mha_call),
    Spec("TransformerEncoderLayer",
         pair("TransformerEncoderLayer", None, 8, 2, 16, 0.0, batch_first=True),
         (2, 5, 8), names=("MultiheadAttention",)),
    Spec("TransformerDecoderLayer",
         pair("TransformerDecoderLayer", None, 8, 2, 16, 0.0, batch_first=True),
         (2, 5, 8), call=dec_call, names=("MultiheadAttention",)),
    Spec("Sequential", lambda: (npnn.Sequential(npnn.Linear(5, 3), npnn.ReLU()),
                                torch.nn.Sequential(torch.nn.Linear(5, 3),
                                                    torch.nn.ReLU())),
         (4, 5), names=("Linear",)),
]
IDS = [s.name for s in SPECS]


def build(spec):
    m, t = spec.make()
    copy_torch_to_np(m, t)  # the same weights, float64 both
    if spec.name == "Dropout":
        m.eval(), t.eval()
    return m, t


def first(out):
    while isinstance(out, (tuple, list)):
        out = out[0]
    return out


def snapshot(m):
    return ({k: v.copy() for k, v in m.state_dict().items()},
            {k: None if p.grad is None else p.grad.copy()
             for k, p in m.named_parameters()})


def assert_unchanged(m, before, what):
    state, grads = before
    for k, v in m.state_dict().items():
        assert np.array_equal(v, state[k], equal_nan=True), f"{what}: {k} changed"
    for k, p in m.named_parameters():
        assert (p.grad is None) == (grads[k] is None) and (
            p.grad is None or np.array_equal(p.grad, grads[k])), \
            f"{what}: the gradient of {k} changed"


def assert_clear(exc, m, spec, what):
    names = {type(mod).__name__ for mod in m.modules()} | set(spec.names)
    assert isinstance(exc, (ValueError, TypeError)), \
        f"{what}: raised {type(exc).__name__}: {exc}"
    assert any(n in str(exc) for n in names), \
        f"{what}: the message does not name the layer: {exc}"


def torch_result(spec, t, x):
    """torch's output for x (float64 module), or the exception it raises."""
    try:
        xt = torch.tensor(x)
        if xt.is_floating_point():
            xt = xt.double()
        with torch.no_grad():
            return first(spec.call(t, xt)), None
    except Exception as exc:  # noqa: BLE001 - any refusal counts as one
        return None, exc


# torch itself crashes here (an internal IndexError on an empty batch); dlbook
# returns the empty output that every other normalization layer returns
TORCH_CRASHES = {("InstanceNorm1d", "an empty batch"), ("InstanceNorm2d", "an empty batch")}


def probe(spec, x, what, label=""):
    """torch's numbers, or a clear error and an unchanged module."""
    m, t = build(spec)
    want, t_exc = torch_result(spec, t, x)
    before = snapshot(m)
    try:
        got = first(spec.call(m, x))
    except Exception as exc:  # noqa: BLE001 - checked below
        assert_clear(exc, m, spec, what)
        assert_unchanged(m, before, what)
        return "refused"
    if (spec.name, label) in TORCH_CRASHES:
        assert got.shape == x.shape, what
        return "accepted"
    assert t_exc is None, f"{what}: torch refuses ({t_exc}), dlbook returned a result"
    want = want.numpy()
    assert got.shape == want.shape, f"{what}: shape {got.shape}, torch {want.shape}"
    if np.issubdtype(want.dtype, np.floating):
        assert np.issubdtype(got.dtype, np.floating), f"{what}: dtype {got.dtype}"
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6, err_msg=what)
    if got.size:  # and a backward of the right shape runs
        g = m.backward(np.ones_like(got, dtype=np.float64))
        g = first(g) if isinstance(g, tuple) else g
        assert g is None or np.shape(g) == np.shape(x), what
    return "accepted"


def variants(shape):
    """(label, array) pairs around a good input of ``shape``."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal(shape)
    out = [("one more dimension", x[None]), ("unbatched", x[0]),
           ("two dimensions fewer", x[0][0]) if len(shape) > 2 else None]
    for axis in range(len(shape)):
        bigger = list(shape)
        bigger[axis] += 1
        out.append((f"size {bigger[axis]} along axis {axis}",
                    rng.standard_normal(bigger)))
    out.append(("int64", np.round(x * 3).astype(np.int64)))
    out.append(("uint8", np.abs(np.round(x * 3)).astype(np.uint8)))
    empty = list(shape)
    empty[0] = 0
    out.append(("an empty batch", np.zeros(empty)))
    return [v for v in out if v is not None]


@pytest.mark.parametrize("spec", SPECS, ids=IDS)
def test_good_input_matches_torch(spec):
    m, t = build(spec)
    x = np.random.default_rng(1).standard_normal(spec.shape)
    if spec.call is mha_call or spec.call is dec_call:
        want = first(spec.call(t, torch.tensor(x)))
        np.testing.assert_allclose(first(spec.call(m, x)), want.detach().numpy(),
                                   atol=1e-10)
    else:
        check_against_torch(m, t, x)


@pytest.mark.parametrize("spec", SPECS, ids=IDS)
def test_bad_shapes_and_dtypes_give_torchs_result_or_a_clear_error(spec):
    outcomes = {}
    for label, x in variants(spec.shape):
        outcomes[label] = probe(spec, x, f"{spec.name} with {label} {x.shape}", label)
    assert outcomes[f"size {spec.shape[0] + 1} along axis 0"] == "accepted"


@pytest.mark.parametrize("spec", SPECS, ids=IDS)
def test_a_list_is_refused_naming_the_layer(spec):
    m, _ = build(spec)
    before = snapshot(m)
    with pytest.raises(TypeError) as info:
        spec.call(m, np.ones(spec.shape).tolist())
    assert_clear(info.value, m, spec, f"{spec.name} with a list")
    assert_unchanged(m, before, f"{spec.name} with a list")


@pytest.mark.parametrize("spec", SPECS, ids=IDS)
def test_backward_before_forward_is_a_clear_error(spec):
    m, _ = build(spec)
    with pytest.raises(RuntimeError, match=r"before forward"):
        m.backward(np.ones(spec.shape))


@pytest.mark.parametrize("spec", SPECS, ids=IDS)
def test_wrong_grad_output_shape_is_refused_and_consumes_nothing(spec):
    m, t = build(spec)
    x = np.random.default_rng(2).standard_normal(spec.shape)
    out = first(spec.call(m, x))
    before = snapshot(m)
    for bad in (np.ones(out.shape[:-1] + (out.shape[-1] + 1,)), np.ones(out.shape[1:]),
                np.ones((1,) + out.shape)):
        with pytest.raises(ValueError) as info:
            m.backward(bad)
        assert_clear(info.value, m, spec, f"{spec.name}.backward with {bad.shape}")
        assert_unchanged(m, before, f"{spec.name}.backward with {bad.shape}")
    g = m.backward(np.ones(out.shape))  # the forward call is still there
    g = first(g) if isinstance(g, tuple) else g
    assert g.shape == x.shape


# ---- layers whose inputs are not one float array ---------------------------------
def test_embedding_probes():
    m, t = npnn.Embedding(5, 3), torch.nn.Embedding(5, 3)
    copy_torch_to_np(m, t)
    before = snapshot(m)
    for bad, kind in [(np.ones((2, 3)), TypeError), ([[1, 2]], TypeError),
                      (np.array([[0, 5]]), IndexError), (np.array([-1]), IndexError)]:
        with pytest.raises(kind, match=r"Embedding"):
            m(bad)
        assert_unchanged(m, before, f"Embedding({bad!r})")
    for idx in (np.array([[0, 4], [1, 1]]), np.array([3]), np.array(2),
                np.zeros((0, 4), dtype=np.int64), np.array([1, 2], dtype=np.uint8)):
        np.testing.assert_allclose(m(idx), t(torch.tensor(idx).long()).detach().numpy())
    with pytest.raises(ValueError, match=r"Embedding.backward"):
        m(np.array([1, 2]))
        m.backward(np.ones((2, 4)))


LOSSES = [("MSELoss", {}), ("L1Loss", {}), ("SmoothL1Loss", {}), ("HuberLoss", {}),
          ("BCELoss", {}), ("BCEWithLogitsLoss", {}), ("KLDivLoss", {}),
          ("CrossEntropyLoss", {}), ("NLLLoss", {})]


@pytest.mark.parametrize("name, kw", LOSSES, ids=[n for n, _ in LOSSES])
def test_loss_probes(name, kw):
    m, t = getattr(npnn, name)(**kw), getattr(torch.nn, name)(**kw)
    rng = np.random.default_rng(3)
    x = rng.random((4, 3)) * 0.8 + 0.1  # valid for BCE too
    classes = name in ("CrossEntropyLoss", "NLLLoss")
    y = rng.integers(0, 3, 4) if classes else rng.random((4, 3))
    with pytest.raises(RuntimeError, match=rf"{name}.backward called before forward"):
        m.backward(np.float64(1.0))
    got, want = m(x, y), t(torch.tensor(x), torch.tensor(y))
    np.testing.assert_allclose(got, want.numpy(), rtol=1e-10)
    with pytest.raises(ValueError, match=name):
        m.backward(np.ones(3))
    bad_targets = [rng.integers(0, 3, 5), rng.integers(0, 3, (4, 3))] if classes \
        else [rng.random((4, 4)), rng.random(4)]
    for bad in bad_targets + [x.tolist()]:
        try:
            t(torch.tensor(x), torch.tensor(bad))
            torch_ok = True
        except Exception:  # noqa: BLE001
            torch_ok = False
        try:
            m(x, bad)
        except (ValueError, TypeError) as exc:
            assert name in str(exc), f"{name}({np.shape(bad)}): {exc}"
            continue
        assert torch_ok, f"{name} accepted a target of shape {np.shape(bad)}"
    with pytest.raises(TypeError, match=name):
        m(x.tolist(), y)


# ---- unbatched inputs: torch's numbers, forward and backward ----------------------
class _NpSelfAttention(npnn.Module):
    """Self-attention as one-input module: m(x, x, x); backward sums the three."""

    def __init__(self, m):
        super().__init__()
        self.m = m

    def forward(self, x):
        return self.m(x, x, x, need_weights=False)[0]

    def backward(self, g):
        return sum(self.m.backward(g))


class _NpDecoder(npnn.Module):
    """A decoder layer with a fixed memory; backward returns the target's grad."""

    def __init__(self, m):
        super().__init__()
        self.m = m

    def forward(self, x):
        return self.m(x, np.ones(x.shape[:-2] + (3, 8)))

    def backward(self, g):
        return self.m.backward(g)[0]


class _TorchOne(torch.nn.Module):
    def __init__(self, m, decoder=False):
        super().__init__()
        self.m, self.decoder = m, decoder

    def forward(self, x):
        if self.decoder:
            return self.m(x, torch.ones(x.shape[:-2] + (3, 8), dtype=x.dtype))
        return self.m(x, x, x, need_weights=False)[0]


@pytest.mark.parametrize("spec", SPECS, ids=IDS)
def test_unbatched_input_matches_torch_forward_and_backward(spec):
    m, t = build(spec)
    x = np.random.default_rng(5).standard_normal(spec.shape[1:])  # no batch axis
    if spec.call is mha_call:
        m, t = _NpSelfAttention(m), _TorchOne(t)
    elif spec.call is dec_call:
        m, t = _NpDecoder(m), _TorchOne(t, decoder=True)
    try:
        with torch.no_grad():
            t(torch.tensor(x))
    except Exception:  # noqa: BLE001 - torch has no unbatched form of this layer
        with pytest.raises((ValueError, TypeError)):
            m(x)
        return
    check_against_torch(m, t, x, copy_weights=False)


@pytest.mark.parametrize("spec", [s for s in SPECS if s.call not in (mha_call, dec_call)],
                         ids=lambda s: s.name)
def test_input_can_be_passed_by_torchs_keyword(spec):
    m, t = build(spec)
    x = np.random.default_rng(6).standard_normal(spec.shape)
    want = first(t(input=torch.tensor(x)) if spec.name == "Linear" else t(torch.tensor(x)))
    np.testing.assert_allclose(first(m(input=x)), want.detach().numpy(), atol=1e-10)


# ---- dtypes, memory layouts and non-finite values ---------------------------------
def _one_input(spec):
    """The spec's twins as one-input modules (attention gets x, x, x)."""
    m, t = build(spec)
    if spec.call is mha_call:
        return _NpSelfAttention(m), _TorchOne(t)
    if spec.call is dec_call:
        return _NpDecoder(m), _TorchOne(t, decoder=True)
    return m, t


@pytest.mark.parametrize("spec", SPECS, ids=IDS)
def test_float16_input_gives_torchs_numbers_and_dtype(spec):
    # float16 data (a reader's half-precision array) meets float64 weights: the
    # numbers are torch's on the same rounded values, and a layer without
    # weights keeps float16 as torch's does (GELU returned float64)
    x = np.random.default_rng(7).standard_normal(spec.shape).astype(np.float16)
    m, t = build(spec)
    got = first(spec.call(m, x))
    want, exc = torch_result(spec, t, x.astype(np.float64))
    assert exc is None
    np.testing.assert_allclose(np.asarray(got, np.float64), want.numpy(), rtol=1e-2,
                               atol=1e-2, err_msg=spec.name)
    if not any(True for _ in m.parameters()):
        t_half = spec.make()[1]
        with torch.no_grad():
            half = first(spec.call(t_half, torch.tensor(x)))
        assert got.dtype == np.float16 and half.dtype == torch.float16, spec.name


def _layouts(shape):
    x = np.random.default_rng(8).standard_normal(shape)
    padded = np.zeros(shape + (2,))
    padded[..., 0] = x
    return [("a strided view", padded[..., 0]), ("Fortran order", np.asfortranarray(x)),
            ("negative strides", np.flip(x[::-1], 0))]


@pytest.mark.parametrize("spec", SPECS, ids=IDS)
def test_non_contiguous_inputs_match_torch_forward_and_backward(spec):
    for what, x in _layouts(spec.shape):
        assert not x.flags.c_contiguous or what == "negative strides"
        m, t = _one_input(spec)
        check_against_torch(m, t, x, copy_weights=False)


# torch's own gradient at a nan input differs between its vectorised and scalar
# kernels for Hardswish (nan in one, 1 in the other): no single answer to match
NAN_GRAD_UNDEFINED = {"Hardswish"}


@pytest.mark.parametrize("spec", SPECS, ids=IDS)
def test_nan_and_inf_inputs_propagate_like_torch(spec):
    # one nan, one +inf and one -inf in the input: the output and the input's
    # gradient hold nan and inf exactly where torch's do (ReLU and PReLU's
    # gradients at nan, LogSoftmax of a row holding +inf differed)
    x = np.random.default_rng(9).standard_normal(spec.shape)
    x.flat[0], x.flat[x.size // 2], x.flat[-1] = np.nan, -np.inf, np.inf
    m, t = _one_input(spec)
    g = np.random.default_rng(10).standard_normal
    tx = torch.tensor(x, requires_grad=True)
    t_out = first(t(tx))
    grad = g(tuple(t_out.shape))
    t_out.backward(torch.tensor(grad))
    with np.errstate(all="ignore"):
        out = first(m(x))
        gx = m.backward(grad)
    np.testing.assert_allclose(out, t_out.detach().numpy(), rtol=1e-7, atol=1e-10,
                               equal_nan=True, err_msg=f"{spec.name} forward")
    if spec.name not in NAN_GRAD_UNDEFINED:
        gx = first(gx) if isinstance(gx, tuple) else gx
        np.testing.assert_allclose(gx, tx.grad.numpy(), rtol=1e-7, atol=1e-10,
                                   equal_nan=True, err_msg=f"{spec.name} backward")


# ---- losses on one number, one sample and Python numbers --------------------------
PAIRED = ["MSELoss", "L1Loss", "SmoothL1Loss", "HuberLoss", "BCELoss",
          "BCEWithLogitsLoss", "KLDivLoss"]


def _loss_case(name, reduction, x, y):
    m = getattr(npnn, name)(reduction=reduction)
    t = getattr(torch.nn, name)(reduction=reduction)
    tx = torch.tensor(x, dtype=torch.float64, requires_grad=True)
    ty = torch.tensor(y) if np.asarray(y).dtype.kind in "iu" else \
        torch.tensor(y, dtype=torch.float64)
    t_loss = t(tx, ty)
    up = np.random.default_rng(11).standard_normal(tuple(t_loss.shape))
    t_loss.backward(torch.tensor(up))
    loss = m(x, y)
    gx = m.backward(up)
    what = f"{name}(reduction={reduction!r}) on input of shape {np.shape(x)}"
    assert np.shape(loss) == tuple(t_loss.shape), what
    assert np.shape(gx) == np.shape(x), what
    np.testing.assert_allclose(loss, t_loss.detach().numpy(), rtol=1e-10, err_msg=what)
    np.testing.assert_allclose(gx, tx.grad.numpy(), rtol=1e-10, atol=1e-12,
                               err_msg=what)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("name", PAIRED)
def test_paired_losses_on_0d_and_1d_inputs_match_torch(name, reduction):
    rng = np.random.default_rng(12)
    for shape in [(), (5,)]:
        _loss_case(name, reduction, rng.random(shape) * 0.8 + 0.1, rng.random(shape))


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("name", ["CrossEntropyLoss", "NLLLoss"])
def test_class_losses_on_one_unbatched_sample_match_torch(name, reduction):
    # input (C,) and a 0-d label: torch's loss is 0-d for every reduction
    # (NLLLoss with reduction='none' returned shape (1,))
    rng = np.random.default_rng(13)
    _loss_case(name, reduction, np.log(rng.dirichlet(np.ones(5))), np.array(2))


def test_python_numbers_are_taken_as_0d_arrays():
    # nn.MSELoss()(2.0, 1.0) raised AttributeError: 'float' object has no 'mean'
    assert npnn.MSELoss()(2.0, 1.0) == 1.0
    assert npnn.Sigmoid()(0.0) == 0.5 and npnn.ReLU()(-3) == 0
    with pytest.raises(TypeError, match="Linear: expected a floating-point input"):
        npnn.Linear(1, 1)(3)
    with pytest.raises(ValueError, match=r"Linear.*expected input with 1 features"):
        npnn.Linear(1, 1)(3.0)
