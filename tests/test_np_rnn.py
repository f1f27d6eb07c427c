"""dlbook.numpy RNN, GRU, LSTM and their cells against torch.autograd (float64)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from dlbook.numpy import nn as npnn
from dlbook.numpy.gradcheck import numerical_gradient

sys.path.insert(0, str(Path(__file__).parent))
from np_helpers import check_against_torch  # noqa: E402

ATOL, RTOL = 1e-10, 1e-7
T, N, I, H = 4, 3, 5, 7  # odd sizes on purpose: a transposed layout would show


def make_pair(kind, **kw):
    """A float64 torch layer and the NumPy layer loaded with its weights."""
    torch_cls = {"RNN": torch.nn.RNN, "RNN_relu": torch.nn.RNN, "GRU": torch.nn.GRU,
                 "LSTM": torch.nn.LSTM}[kind]
    np_cls = {"RNN": npnn.RNN, "RNN_relu": npnn.RNN, "GRU": npnn.GRU, "LSTM": npnn.LSTM}[kind]
    if kind == "RNN_relu":
        kw["nonlinearity"] = "relu"
    t = torch_cls(I, H, **kw).double()
    m = np_cls(I, H, **kw).double()
    m.load_state_dict({k: v.detach().numpy() for k, v in t.state_dict().items()})
    return t, m


def assert_close(got, want, what):
    want = want.detach().numpy() if torch.is_tensor(want) else want
    assert got.shape == want.shape, f"{what}: shape {got.shape} != torch {want.shape}"
    err = np.max(np.abs(got - want))
    assert np.allclose(got, want, atol=ATOL, rtol=RTOL), f"{what}: max error {err:.2e}"


def assert_param_grads(m, t):
    np_params = dict(m.named_parameters())
    assert list(np_params) == [n for n, _ in t.named_parameters()]
    for name, p in t.named_parameters():
        assert_close(np_params[name].grad, p.grad, f"grad of {name}")


@pytest.mark.parametrize("kind", ["RNN", "RNN_relu", "GRU", "LSTM"])
@pytest.mark.parametrize("num_layers", [1, 2])
@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("with_h0", [False, True])
def test_matches_torch(kind, num_layers, batch_first, with_h0):
    rng = np.random.default_rng(0)
    t, m = make_pair(kind, num_layers=num_layers, batch_first=batch_first)
    x = rng.standard_normal((N, T, I) if batch_first else (T, N, I))
    xt = torch.tensor(x, requires_grad=True)
    lstm = kind == "LSTM"
    state = [rng.standard_normal((num_layers, N, H)) for _ in range(2 if lstm else 1)]
    state_t = [torch.tensor(s, requires_grad=True) for s in state]
    if with_h0:
        hx, hx_t = (tuple(state), tuple(state_t)) if lstm else (state[0], state_t[0])
    else:
        hx, hx_t = None, None

    out_t, hn_t = t(xt, hx_t)
    out, hn = m(x, hx)
    assert_close(out, out_t, "output")
    if lstm:
        assert_close(hn[0], hn_t[0], "h_n")
        assert_close(hn[1], hn_t[1], "c_n")
    else:
        assert_close(hn, hn_t, "h_n")

    # the contract: backward takes the gradient of the output only
    g = rng.standard_normal(out.shape)
    (out_t * torch.tensor(g)).sum().backward()
    dx = m.backward(g)
    assert_close(dx, xt.grad, "grad of input")
    assert_param_grads(m, t)
    if with_h0:
        assert_close(m.grad_h0, state_t[0].grad, "grad of h0")
        if lstm:
            assert_close(m.grad_c0, state_t[1].grad, "grad of c0")


@pytest.mark.parametrize("kind", ["RNN", "GRU", "LSTM"])
def test_state_gradients_and_shared_helper(kind):
    """Upstream grads on h_n (and c_n) too, through the shared torch comparison."""
    t, m = make_pair(kind, num_layers=2)
    rng = np.random.default_rng(1)
    x = rng.standard_normal((T, N, I))
    result = check_against_torch(m, t, x, atol=ATOL, rtol=RTOL)
    assert result["output"][0].shape == (T, N, H)


def test_grad_h_n_keywords_match_torch():
    t, m = make_pair("LSTM", num_layers=2, batch_first=True)
    rng = np.random.default_rng(2)
    x = rng.standard_normal((N, T, I))
    xt = torch.tensor(x, requires_grad=True)
    out_t, (h_t, c_t) = t(xt)
    out, (h, c) = m(x)
    g_h, g_c = rng.standard_normal(h.shape), rng.standard_normal(c.shape)
    ((h_t * torch.tensor(g_h)).sum() + (c_t * torch.tensor(g_c)).sum()).backward()
    dx = m.backward(None, grad_h_n=g_h, grad_c_n=g_c)  # the output is not used
    assert_close(dx, xt.grad, "grad of input")
    assert_param_grads(m, t)


@pytest.mark.parametrize("kind", ["GRU", "LSTM"])
def test_no_bias_and_unbatched(kind):
    t, m = make_pair(kind, num_layers=2, bias=False)
    assert not any("bias" in n for n, _ in m.named_parameters())
    rng = np.random.default_rng(3)
    x = rng.standard_normal((T, I))  # unbatched: (T, I)
    h0 = rng.standard_normal((2, H))  # (L, H)
    xt, h0t = torch.tensor(x, requires_grad=True), torch.tensor(h0, requires_grad=True)
    if kind == "LSTM":
        c0 = rng.standard_normal((2, H))
        out_t, _ = t(xt, (h0t, torch.tensor(c0)))
        out, (hn, cn) = m(x, (h0, c0))
        assert cn.shape == (2, H)
    else:
        out_t, _ = t(xt, h0t)
        out, hn = m(x, h0)
    assert out.shape == (T, H) and hn.shape == (2, H)
    assert_close(out, out_t, "output")
    g = rng.standard_normal(out.shape)
    (out_t * torch.tensor(g)).sum().backward()
    assert_close(m.backward(g), xt.grad, "grad of input")
    assert_close(m.grad_h0, h0t.grad, "grad of h0")
    assert_param_grads(m, t)


@pytest.mark.parametrize("kind", ["RNNCell", "GRUCell", "LSTMCell"])
def test_cells_match_torch(kind):
    t = getattr(torch.nn, kind)(I, H).double()
    m = getattr(npnn, kind)(I, H).double()
    m.load_state_dict({k: v.detach().numpy() for k, v in t.state_dict().items()})
    rng = np.random.default_rng(4)
    x, h, c = (rng.standard_normal(s) for s in [(N, I), (N, H), (N, H)])
    xt, ht, ct = (torch.tensor(a, requires_grad=True) for a in (x, h, c))
    g = rng.standard_normal((N, H))
    if kind == "LSTMCell":
        gc = rng.standard_normal((N, H))
        h1t, c1t = t(xt, (ht, ct))
        h1, c1 = m(x, (h, c))
        assert_close(c1, c1t, "c'")
        ((h1t * torch.tensor(g)).sum() + (c1t * torch.tensor(gc)).sum()).backward()
        dx = m.backward(g, gc)
        assert_close(m.grad_cx, ct.grad, "grad of c")
    else:
        h1t, h1 = t(xt, ht), m(x, h)
        (h1t * torch.tensor(g)).sum().backward()
        dx = m.backward(g)
    assert_close(h1, h1t, "h'")
    assert_close(dx, xt.grad, "grad of input")
    assert_close(m.grad_hx, ht.grad, "grad of h")
    assert_param_grads(m, t)


def test_lstm_equals_a_loop_over_its_cell():
    """The fast layer (one input matmul for all steps) equals the naive loop."""
    rng = np.random.default_rng(5)
    layer = npnn.LSTM(I, H).double()
    cell = npnn.LSTMCell(I, H).double()
    cell.load_state_dict({k[:-3]: v for k, v in layer.state_dict().items()})
    x = rng.standard_normal((T, N, I))
    out, (h_n, c_n) = layer(x)
    h = c = np.zeros((N, H))
    for t in range(T):
        h, c = cell(x[t], (h, c))
        np.testing.assert_allclose(out[t], h, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(h_n[0], h, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(c_n[0], c, rtol=1e-12, atol=1e-14)


def _fd_check(module, x, G, rel_tol=1e-6):
    """Central differences on the input and every parameter of a sequence layer."""
    def f():
        module.rng = np.random.default_rng(0)  # the same dropout masks every call
        return float(np.sum(G * module(x)[0]))

    module.zero_grad()
    f()
    dx = module.backward(G)
    arrays = [("input", x, dx)]
    arrays += [(n, p.data, p.grad.copy()) for n, p in module.named_parameters()]
    for name, arr, analytic in arrays:
        numeric = numerical_gradient(f, arr, eps=1e-6)
        rel = np.max(np.abs(analytic - numeric)) / max(np.max(np.abs(numeric)), 1e-12)
        assert rel < rel_tol, f"{name}: relative error {rel:.1e} (expected < {rel_tol})"


def test_lstm_finite_differences():
    rng = np.random.default_rng(6)
    m = npnn.LSTM(3, 4, num_layers=2, batch_first=True).double()
    x = rng.standard_normal((2, 3, 3))  # (N, T, I)
    _fd_check(m, x, rng.standard_normal((2, 3, 4)))


def test_dropout_between_layers_finite_differences():
    """Training-mode dropout between layers: backward reuses the forward's masks."""
    rng = np.random.default_rng(7)
    m = npnn.GRU(3, 4, num_layers=2, dropout=0.5).double()
    x = rng.standard_normal((3, 2, 3))
    G = rng.standard_normal((3, 2, 4))
    m.rng = np.random.default_rng(0)
    out_train = m(x)[0]
    m.eval()
    out_eval = m(x)[0]
    assert not np.allclose(out_train, out_eval)  # dropout really acted in training
    m.train()
    _fd_check(m, x, G)


def test_parameters_mirror_torch_names_shapes_and_init():
    t = torch.nn.LSTM(I, H, num_layers=2)
    m = npnn.LSTM(I, H, num_layers=2)
    assert [(n, tuple(p.shape)) for n, p in t.named_parameters()] == \
        [(n, p.shape) for n, p in m.named_parameters()]
    bound = 1 / np.sqrt(H)
    for name, p in m.named_parameters():
        assert p.dtype == np.float32, name
        assert np.abs(p.data).max() <= bound, name
        assert np.abs(p.data).max() > 0.5 * bound, name  # spread over the interval
    assert repr(m) == "LSTM(5, 7, num_layers=2)"


def test_gradients_accumulate():
    m = npnn.RNN(I, H).double()
    x = np.random.default_rng(8).standard_normal((T, N, I))
    g = np.ones((T, N, H))
    m(x)
    m.backward(g)
    once = m.weight_hh_l0.grad.copy()
    m(x)
    m.backward(g)
    np.testing.assert_allclose(m.weight_hh_l0.grad, 2 * once)


def test_float32_by_default():
    m = npnn.GRU(I, H)
    x = np.random.default_rng(9).standard_normal((T, N, I)).astype(np.float32)
    out, h_n = m(x)
    assert out.dtype == np.float32 and h_n.dtype == np.float32
    assert m.backward(np.ones_like(out)).dtype == np.float32


def test_bad_input_errors():
    m = npnn.LSTM(I, H, num_layers=2)
    with pytest.raises(ValueError, match=r"LSTM: expected input of shape \(T, N, 5\)"):
        m(np.zeros((T, N, I + 1), dtype=np.float32))
    with pytest.raises(ValueError, match=r"h0 of shape .*\(2, 3, 7\), got \(1, 3, 7\)"):
        m(np.zeros((T, N, I)), (np.zeros((1, N, H)), np.zeros((2, N, H))))
    with pytest.raises(TypeError, match="pair"):
        m(np.zeros((T, N, I)), np.zeros((2, N, H)))
    with pytest.raises(TypeError, match="floating-point input"):
        m(np.zeros((T, N, I), dtype=np.int64))
    with pytest.raises(RuntimeError, match="backward called before forward"):
        npnn.GRU(I, H).backward(np.zeros((T, N, H)))
    with pytest.raises(ValueError, match="nonlinearity"):
        npnn.RNN(I, H, nonlinearity="sigmoid")
    m(np.zeros((T, N, I)))
    msg = r"LSTM.backward: grad_output has shape \(4, 3, 8\), expected \(4, 3, 7\)"
    with pytest.raises(ValueError, match=msg):
        m.backward(np.zeros((T, N, H + 1)))
    with pytest.raises(ValueError, match=r"GRUCell: expected input of shape \(N, 5\)"):
        npnn.GRUCell(I, H)(np.zeros((N, I + 2)))


@pytest.mark.parametrize("cls", ["RNN", "GRU", "LSTM"])
@pytest.mark.parametrize("num_layers, batch_first, batched",
                         [(1, False, True), (2, True, True), (2, False, False)])
def test_bidirectional_matches_torch(cls, num_layers, batch_first, batched):
    T, N, I, H = 5, 3, 4, 6
    kw = dict(num_layers=num_layers, batch_first=batch_first, bidirectional=True)
    np_m = getattr(npnn, cls)(I, H, **kw)
    t_m = getattr(torch.nn, cls)(I, H, **kw)
    assert list(np_m.state_dict()) == list(t_m.state_dict())
    shape = ((N, T, I) if batch_first else (T, N, I)) if batched else (T, I)
    x = np.random.default_rng(1).standard_normal(shape)
    check_against_torch(np_m, t_m, x)
    assert "bidirectional=True" in repr(np_m)


def test_bidirectional_with_initial_state_matches_torch():
    T, N, I, H = 4, 2, 3, 5
    rng_ = np.random.default_rng(2)
    x = rng_.standard_normal((T, N, I))
    h0 = rng_.standard_normal((4, N, H))  # num_layers * 2 directions
    c0 = rng_.standard_normal((4, N, H))
    np_m = npnn.LSTM(I, H, num_layers=2, bidirectional=True)
    out, (h, c) = np_m(x, (h0, c0))
    with pytest.raises(ValueError, match=r"num_layers \* num_directions"):
        np_m(x, (h0[:2], c0[:2]))
    check_against_torch(npnn.GRU(I, H, num_layers=2, bidirectional=True),
                        torch.nn.GRU(I, H, num_layers=2, bidirectional=True), x, h0)


@pytest.mark.parametrize("num_layers, bidirectional, batch_first, batched",
                         [(1, False, False, True), (2, False, True, True),
                          (1, True, False, True), (2, True, True, True),
                          (2, True, False, False), (1, False, False, False)])
def test_lstm_proj_size_matches_torch(num_layers, bidirectional, batch_first, batched):
    """proj_size: torch's weight_hr_l{k} (P, H), h and output with P features,
    c with H; outputs, h_n, c_n and every gradient equal in float64."""
    T, N, I, H, P = 5, 3, 4, 6, 2
    kw = dict(num_layers=num_layers, batch_first=batch_first,
              bidirectional=bidirectional, proj_size=P)
    np_m, t_m = npnn.LSTM(I, H, **kw), torch.nn.LSTM(I, H, **kw)
    assert [(k, v.shape) for k, v in np_m.state_dict().items()] == \
        [(k, tuple(v.shape)) for k, v in t_m.state_dict().items()]
    shape = ((N, T, I) if batch_first else (T, N, I)) if batched else (T, I)
    x = np.random.default_rng(4).standard_normal(shape)
    res = check_against_torch(np_m, t_m, x)
    D = 2 if bidirectional else 1
    out, (h_n, c_n) = res["output"]
    assert out.shape[-1] == D * P and h_n.shape[-1] == P and c_n.shape[-1] == H
    assert f"proj_size={P}" in repr(np_m)


@pytest.mark.parametrize("batched", [True, False])
def test_lstm_proj_size_initial_state_gradients(batched):
    T, N, I, H, P, L = 4, 2, 3, 5, 3, 4  # 2 layers x 2 directions
    rng_ = np.random.default_rng(5)
    t = torch.nn.LSTM(I, H, num_layers=2, bidirectional=True, proj_size=P).double()
    m = npnn.LSTM(I, H, num_layers=2, bidirectional=True, proj_size=P).double()
    m.load_state_dict({k: v.detach().numpy() for k, v in t.state_dict().items()})
    lead = (N,) if batched else ()
    x = rng_.standard_normal((T, *lead, I))
    h0, c0 = rng_.standard_normal((L, *lead, P)), rng_.standard_normal((L, *lead, H))
    xt, h0t, c0t = (torch.tensor(a, requires_grad=True) for a in (x, h0, c0))
    out_t, (hn_t, cn_t) = t(xt, (h0t, c0t))
    out, (hn, cn) = m(x, (h0, c0))
    for got, want, what in ((out, out_t, "output"), (hn, hn_t, "h_n"), (cn, cn_t, "c_n")):
        assert_close(got, want, what)
    g, gh, gc = (rng_.standard_normal(a.shape) for a in (out, hn, cn))
    ((out_t * torch.tensor(g)).sum() + (hn_t * torch.tensor(gh)).sum()
     + (cn_t * torch.tensor(gc)).sum()).backward()
    assert_close(m.backward(g, grad_h_n=gh, grad_c_n=gc), xt.grad, "grad of input")
    assert_close(m.grad_h0, h0t.grad, "grad of h0")
    assert_close(m.grad_c0, c0t.grad, "grad of c0")
    assert_param_grads(m, t)


def test_lstm_proj_size_errors():
    with pytest.raises(ValueError, match=r"LSTM: proj_size must be in \[0, hidden_size\)"):
        npnn.LSTM(3, 4, proj_size=4)
    m = npnn.LSTM(3, 4, proj_size=2)
    x = np.zeros((5, 2, 3))
    with pytest.raises(ValueError, match=r"expected h0 of shape .*proj_size\) = \(1, 2, 2\)"):
        m(x, (np.zeros((1, 2, 4)), np.zeros((1, 2, 4))))
    with pytest.raises(ValueError, match=r"expected c0 of shape .*hidden_size\) = \(1, 2, 4\)"):
        m(x, (np.zeros((1, 2, 2)), np.zeros((1, 2, 2))))


def test_gates_use_the_librarys_sigmoid():
    # issue 15 item 7: the benchmark-only sigmoid via tanh (in place, x / 2) is
    # gone; the cells call functional.sigmoid, bit for bit, and LSTM stays well
    # inside its speed target (benchmarks/numpy_vs_torch.py)
    from dlbook.numpy.nn import functional as F
    from dlbook.numpy.nn import rnn

    rng = np.random.default_rng(0)
    N, H = 3, 4
    gi, h, c = rng.standard_normal((N, 4 * H)) * 5, np.zeros((N, H)), np.zeros((N, H))
    w_hh = np.zeros((4 * H, H))
    _, _, (_, _, act, _) = rnn.lstm_step(gi, h, c, w_hh, None)
    for block in (slice(0, 2 * H), slice(3 * H, 4 * H)):  # i, f and o
        assert np.array_equal(act[:, block], F.sigmoid(gi[:, block]))
    _, (_, r, z, _, _) = rnn.gru_step(gi[:, :3 * H], h, w_hh[:3 * H], None)
    assert np.array_equal(np.hstack([r, z]), F.sigmoid(gi[:, :2 * H]))
