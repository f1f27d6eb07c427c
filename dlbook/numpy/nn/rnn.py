"""Recurrent layers: ``RNN``, ``GRU``, ``LSTM`` and their one-step cells.

Everything mirrors ``torch.nn``: constructor arguments, parameter names
(``weight_ih_l0``, ``weight_hh_l0``, ``bias_ih_l0``, ``bias_hh_l0``, ``..._l1``),
gate order (LSTM: i, f, g, o; GRU: r, z, n), layouts and the initialisation
U(-1/sqrt(H), 1/sqrt(H)). Backpropagation through time (BPTT) is written out by
hand: forward keeps every time step's gates, backward walks the steps in reverse.

Letters used in shape comments:
    T time steps, N batch, I input features (``input_size``), H ``hidden_size``,
    L ``num_layers``, G number of gate blocks (RNN 1, GRU 3, LSTM 4), D number of
    directions (2 if ``bidirectional``), P the size of h: H, or an LSTM's
    ``proj_size`` when it is set.

Each step function below takes ``gi = x_t W_ih^T + b_ih`` already computed:
the input projection does not depend on the previous state, so the sequence
layers compute it for all T steps with one large matmul, which is much faster
than T small ones. Only ``h_{t-1} W_hh^T`` has to stay inside the time loop.
"""

from __future__ import annotations

import numpy as np

from . import functional as F
from . import init
from .dropout import dropout_mask
from .module import Module, Parameter


# ---------------------------------------------------------------------------
# One time step, forward and backward side by side. Shapes: gi (N, G*H),
# h and c (N, H), w_hh (G*H, H), b_hh (G*H,) or None.
# ---------------------------------------------------------------------------
def rnn_step(gi, h, w_hh, b_hh, nonlinearity="tanh"):
    """Elman RNN: h' = act(x W_ih^T + b_ih + h W_hh^T + b_hh)."""
    a = gi + h @ w_hh.T  # (N, H)
    if b_hh is not None:
        a += b_hh
    h_new = np.tanh(a) if nonlinearity == "tanh" else np.maximum(a, 0)
    return h_new, (h, h_new)


def rnn_step_backward(dh_new, cache, w_hh, nonlinearity="tanh"):
    """Returns (d a, d h): the pre-activation grad serves both gi and the h term."""
    h, h_new = cache
    if nonlinearity == "tanh":
        da = dh_new * (1 - h_new * h_new)  # tanh' = 1 - tanh^2
    else:
        da = dh_new * (h_new > 0)
    return da, da @ w_hh


def gru_step(gi, h, w_hh, b_hh):
    """GRU as torch computes it (note r multiplies W_hn h + b_hn, bias included).

    r = sig(gi_r + W_hr h + b_hr),  z = sig(gi_z + W_hz h + b_hz)
    n = tanh(gi_n + r * (W_hn h + b_hn)),  h' = (1 - z) * n + z * h
    """
    H = h.shape[1]
    gh = h @ w_hh.T  # (N, 3H): r | z | n blocks of the hidden projection
    if b_hh is not None:
        gh += b_hh
    rz = F.sigmoid(gi[:, : 2 * H] + gh[:, : 2 * H])  # (N, 2H)
    r, z = rz[:, :H], rz[:, H:]
    ghn = gh[:, 2 * H :]  # (N, H) kept: dL/dr needs it
    n = np.tanh(gi[:, 2 * H :] + r * ghn)
    h_new = n + z * (h - n)  # = (1 - z) * n + z * h with one product fewer
    return h_new, (h, r, z, n, ghn)


def gru_step_backward(dh_new, cache, w_hh):
    """Returns (d gi, d gh, d h). d gi and d gh differ only in the n block."""
    h, r, z, n, ghn = cache
    H = h.shape[1]
    dn = dh_new * (1 - z)
    dz = dh_new * (h - n)
    dan = dn * (1 - n * n)  # through tanh
    dgi = np.empty((h.shape[0], 3 * H), dtype=dan.dtype)
    dgi[:, :H] = dan * ghn * r * (1 - r)  # dL/dr times sigmoid'
    dgi[:, H : 2 * H] = dz * z * (1 - z)
    dgi[:, 2 * H :] = dan
    dgh = dgi.copy()
    dgh[:, 2 * H :] = dan * r  # the hidden n term is gated by r
    dh = dh_new * z + dgh @ w_hh
    return dgi, dgh, dh


def lstm_step(gi, h, c, w_hh, b_hh):
    """LSTM, gate order i, f, g, o as torch.

    i, f, o = sig(.), g = tanh(.),  c' = f * c + i * g,  h' = o * tanh(c')
    """
    H = c.shape[1]  # h may have fewer features (proj_size), c always has H
    gates = gi + h @ w_hh.T  # (N, 4H)
    if b_hh is not None:
        gates += b_hh
    act = F.sigmoid(gates)  # i, f, o blocks; the g block is replaced next
    act[:, 2 * H : 3 * H] = np.tanh(gates[:, 2 * H : 3 * H])
    i, f, g, o = act[:, :H], act[:, H : 2 * H], act[:, 2 * H : 3 * H], act[:, 3 * H :]
    c_new = f * c + i * g
    tc = np.tanh(c_new)
    h_new = o * tc
    return h_new, c_new, (h, c, act, tc)


def lstm_step_backward(dh_new, dc_new, cache, w_hh, out=None):
    """Returns (d gates, d h, d c); d gates is the grad of both gi and gh.

    ``out`` (N, 4H), if given, receives d gates (saves a copy in the BPTT loop).
    """
    h, c, act, tc = cache
    H = c.shape[1]
    i, f, g, o = act[:, :H], act[:, H : 2 * H], act[:, 2 * H : 3 * H], act[:, 3 * H :]
    dc = dc_new + dh_new * o * (1 - tc * tc)  # c' reaches the loss directly and via h'
    dgates = np.empty_like(act) if out is None else out  # (N, 4H)
    # upstream gradient of each activated gate: c' = f c + i g, h' = o tanh(c')
    np.multiply(dc, g, out=dgates[:, :H])  # d i
    np.multiply(dc, c, out=dgates[:, H : 2 * H])  # d f
    np.multiply(dc, i, out=dgates[:, 2 * H : 3 * H])  # d g
    np.multiply(dh_new, tc, out=dgates[:, 3 * H :])  # d o
    # times the activations' derivatives: s (1 - s) for sigmoid, 1 - g^2 for tanh
    local = act * (1 - act)  # (N, 4H), right for i, f, o
    local[:, 2 * H : 3 * H] = 1 - g * g
    dgates *= local
    return dgates, dgates @ w_hh, dc * f


def rnn_naive(x, h0, w_ih, w_hh, b_ih=None, b_hh=None, mode="tanh", c0=None):
    """The idea of ``RNN``, ``GRU`` and ``LSTM``, written plainly: one layer, one
    direction, one time step after the other, the equations as in a paper.

    x (T, N, I), h0 and c0 (N, H) -> (output (T, N, H), h_T), or for
    ``mode='lstm'`` (output, (h_T, c_T)). ``mode`` is 'tanh', 'relu', 'gru' or
    'lstm'; weights in torch's layouts (gate blocks stacked: GRU r, z, n; LSTM
    i, f, g, o). No speed tricks; a test checks that the layers agree with it.
    """
    def sigmoid(a):
        return 1.0 / (1.0 + np.exp(-a))

    b_ih = 0.0 if b_ih is None else b_ih
    b_hh = 0.0 if b_hh is None else b_hh
    h, c, outputs = h0, c0, []
    for x_t in x:  # (N, I)
        gi = x_t @ w_ih.T + b_ih  # (N, G*H): the input's share of every gate
        gh = h @ w_hh.T + b_hh  # (N, G*H): the previous state's share
        if mode == "tanh":
            h = np.tanh(gi + gh)
        elif mode == "relu":
            h = np.maximum(gi + gh, 0.0)
        elif mode == "gru":
            i_r, i_z, i_n = np.split(gi, 3, axis=1)
            h_r, h_z, h_n = np.split(gh, 3, axis=1)
            r = sigmoid(i_r + h_r)  # reset gate
            z = sigmoid(i_z + h_z)  # update gate
            n = np.tanh(i_n + r * h_n)  # candidate state
            h = (1 - z) * n + z * h
        elif mode == "lstm":
            i, f, g, o = np.split(gi + gh, 4, axis=1)
            i, f, g, o = sigmoid(i), sigmoid(f), np.tanh(g), sigmoid(o)
            c = f * c + i * g  # forget some of the old cell, write some new
            h = o * np.tanh(c)
        else:
            raise ValueError(f"rnn_naive: mode must be 'tanh', 'relu', 'gru' or "
                             f"'lstm', got {mode!r}")
        outputs.append(h)
    out = np.stack(outputs)  # (T, N, H)
    return (out, (h, c)) if mode == "lstm" else (out, h)


def _uniform(shape, bound, dtype, rng) -> Parameter:
    """A Parameter ~ U(-bound, bound); without ``rng`` numpy's global state."""
    param = Parameter(np.empty(shape, dtype=dtype))
    init.uniform_(param, -bound, bound, rng=rng)
    return param


def _as_float_array(x, layer: str, what: str) -> np.ndarray:
    x = np.asarray(x)
    if not np.issubdtype(x.dtype, np.floating):
        raise TypeError(f"{layer}: expected a floating-point {what}, got dtype "
                        f"{x.dtype}")
    return x


# ---------------------------------------------------------------------------
# Cells: one step, as torch.nn.RNNCell / GRUCell / LSTMCell.
# ---------------------------------------------------------------------------
class _CellBase(Module):
    _int_input = "refuse"

    _gates = 1

    def __init__(self, input_size, hidden_size, bias=True, *, dtype=np.float32,
                 rng=None):
        super().__init__()
        if input_size <= 0 or hidden_size <= 0:
            raise ValueError(
                f"{type(self).__name__}: input_size and hidden_size must be positive, "
                f"got {input_size} and {hidden_size}"
            )
        self.input_size, self.hidden_size, self.bias = input_size, hidden_size, bias
        G, H, k = self._gates, hidden_size, 1.0 / np.sqrt(hidden_size)
        self.weight_ih = _uniform((G * H, input_size), k, dtype, rng)
        self.weight_hh = _uniform((G * H, H), k, dtype, rng)
        if bias:
            self.bias_ih = _uniform((G * H,), k, dtype, rng)
            self.bias_hh = _uniform((G * H,), k, dtype, rng)
        else:
            self.bias_ih = self.bias_hh = None
        self._cache = None

    def _prepare(self, input, hx):
        """(N, I) or unbatched (I,) input; returns x (N, I), hx list, batched flag."""
        name = type(self).__name__
        x = _as_float_array(input, name, "input")
        if x.ndim not in (1, 2) or x.shape[-1] != self.input_size:
            raise ValueError(
                f"{name}: expected input of shape (N, {self.input_size}) or "
                f"({self.input_size},), got {x.shape}"
            )
        batched = x.ndim == 2
        x = x if batched else x[None]  # (N, I)
        n_states = 2 if isinstance(self, LSTMCell) else 1
        if hx is None:
            zeros = np.zeros((x.shape[0], self.hidden_size), dtype=x.dtype)
            states = [zeros] * n_states
        else:
            states = list(hx) if n_states == 2 else [hx]
            want = (x.shape[0], self.hidden_size) if batched else (self.hidden_size,)
            for j, s in enumerate(states):
                s = _as_float_array(s, name, "hidden state")
                if s.shape != want:
                    raise ValueError(
                        f"{name}: expected hidden state of shape {want}, got {s.shape}"
                    )
                states[j] = s if batched else s[None]
        return x, states, batched

    def _gi(self, x):
        gi = x @ self.weight_ih.data.T  # (N, G*H)
        return gi + self.bias_ih.data if self.bias else gi

    def _accumulate(self, dgi, dgh, x, h):
        self.weight_ih.grad += dgi.T @ x
        self.weight_hh.grad += dgh.T @ h
        if self.bias:
            self.bias_ih.grad += dgi.sum(0)
            self.bias_hh.grad += dgh.sum(0)

    def _need_cache(self):
        if self._cache is None:
            raise RuntimeError(f"{type(self).__name__}: call forward before backward")
        return self._cache

    def extra_repr(self):
        s = f"{self.input_size}, {self.hidden_size}"
        return s if self.bias else s + ", bias=False"


class RNNCell(_CellBase):
    """h' = tanh(x W_ih^T + b_ih + h W_hh^T + b_hh) for one time step.

    forward(input (N, I), hx (N, H) or None) -> h' (N, H).
    backward(grad_h (N, H)) -> grad input (N, I); grad of hx in ``.grad_hx``.
    A cell remembers only its latest step; ``RNN`` keeps all steps for BPTT.
    """

    def __init__(self, input_size, hidden_size, bias=True, nonlinearity="tanh", *,
                 dtype=np.float32, rng=None):
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(
                f"RNNCell: nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}"
            )
        super().__init__(input_size, hidden_size, bias, dtype=dtype, rng=rng)
        self.nonlinearity = nonlinearity

    def forward(self, input, hx=None):
        x, (h,), batched = self._prepare(input, hx)
        b = self.bias_hh.data if self.bias else None
        w_hh = self.weight_hh.data
        h_new, step = rnn_step(self._gi(x), h, w_hh, b, self.nonlinearity)
        self._cache = (x, step, batched)
        return h_new if batched else h_new[0]

    def backward(self, grad_output):
        x, step, batched = self._need_cache()
        dh = np.asarray(grad_output).reshape(step[1].shape)
        w_hh = self.weight_hh.data
        da, dh_prev = rnn_step_backward(dh, step, w_hh, self.nonlinearity)
        self._accumulate(da, da, x, step[0])
        self.grad_hx = dh_prev if batched else dh_prev[0]
        dx = da @ self.weight_ih.data
        return dx if batched else dx[0]

    def extra_repr(self):
        s = super().extra_repr()
        return s if self.nonlinearity == "tanh" else s + ", nonlinearity='relu'"


class GRUCell(_CellBase):
    """One GRU step (torch's equations, see ``gru_step``).

    forward(input (N, I), hx (N, H) or None) -> h' (N, H).
    backward(grad_h (N, H)) -> grad input (N, I); grad of hx in ``.grad_hx``.
    """

    _gates = 3

    def forward(self, input, hx=None):
        x, (h,), batched = self._prepare(input, hx)
        b = self.bias_hh.data if self.bias else None
        h_new, step = gru_step(self._gi(x), h, self.weight_hh.data, b)
        self._cache = (x, step, batched)
        return h_new if batched else h_new[0]

    def backward(self, grad_output):
        x, step, batched = self._need_cache()
        dh = np.asarray(grad_output).reshape(step[0].shape)
        dgi, dgh, dh_prev = gru_step_backward(dh, step, self.weight_hh.data)
        self._accumulate(dgi, dgh, x, step[0])
        self.grad_hx = dh_prev if batched else dh_prev[0]
        dx = dgi @ self.weight_ih.data
        return dx if batched else dx[0]


class LSTMCell(_CellBase):
    """One LSTM step (gate order i, f, g, o, see ``lstm_step``).

    forward(input (N, I), hx=(h, c) each (N, H) or None) -> (h', c').
    backward(grad_h (N, H), grad_c=None) -> grad input (N, I); the grads of h
    and c arrive in ``.grad_hx`` and ``.grad_cx``.
    """

    _gates = 4

    def forward(self, input, hx=None):
        x, (h, c), batched = self._prepare(input, hx)
        b = self.bias_hh.data if self.bias else None
        h_new, c_new, step = lstm_step(self._gi(x), h, c, self.weight_hh.data, b)
        self._cache = (x, step, batched)
        return (h_new, c_new) if batched else (h_new[0], c_new[0])

    def backward(self, grad_output, grad_c=None):
        """grad of h' (and optionally of c') -> grad input; the pair
        ``(grad_h, grad_c)``, shaped like forward's return value, works too."""
        if isinstance(grad_output, tuple):
            grad_output, grad_c = grad_output
        x, step, batched = self._need_cache()
        want = step[0].shape if batched else step[0].shape[1:]
        for what, g in (("grad_h", grad_output), ("grad_c", grad_c)):
            if g is not None and np.shape(g) != want:
                raise ValueError(f"LSTMCell.backward: expected {what} of shape {want}, "
                                 f"got {np.shape(g)}")
        dh = np.zeros(step[0].shape) if grad_output is None else \
            np.asarray(grad_output).reshape(step[0].shape)
        dc = np.zeros_like(dh) if grad_c is None else \
            np.asarray(grad_c).reshape(dh.shape)
        dgates, dh_prev, dc_prev = lstm_step_backward(dh, dc, step, self.weight_hh.data)
        self._accumulate(dgates, dgates, x, step[0])
        self.grad_hx = dh_prev if batched else dh_prev[0]
        self.grad_cx = dc_prev if batched else dc_prev[0]
        dx = dgates @ self.weight_ih.data
        return dx if batched else dx[0]


# ---------------------------------------------------------------------------
# Sequence layers: a time loop per layer, layers stacked.
# ---------------------------------------------------------------------------
class _RNNBase(Module):
    """Shared by RNN, GRU and LSTM: parameters, shape checks, layer stacking.

    Subclasses define ``_layer_forward`` (the time loop of one layer) and
    ``_layer_backward`` (the same loop reversed: BPTT).
    """

    _int_input = "refuse"

    _gates = 1
    _has_cell_state = False

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True,
                 batch_first=False, dropout=0.0, bidirectional=False, proj_size=0,
                 *, dtype=np.float32, rng=None):
        super().__init__()
        name = type(self).__name__
        if input_size <= 0 or hidden_size <= 0 or num_layers <= 0:
            raise ValueError(
                f"{name}: input_size, hidden_size and num_layers must be positive, "
                f"got {input_size}, {hidden_size}, {num_layers}"
            )
        if not 0.0 <= dropout <= 1.0:
            raise ValueError(f"{name}: dropout must be in [0, 1], got {dropout}")
        if not 0 <= proj_size < hidden_size:
            raise ValueError(f"{name}: proj_size must be in [0, hidden_size) = "
                             f"[0, {hidden_size}), got {proj_size}")
        self.input_size, self.hidden_size = input_size, hidden_size
        self.num_layers, self.bias, self.batch_first = num_layers, bias, batch_first
        self.dropout, self.bidirectional, self.rng = dropout, bool(bidirectional), rng
        self.proj_size = proj_size
        D = 2 if bidirectional else 1  # directions
        G, H, k = self._gates, hidden_size, 1.0 / np.sqrt(hidden_size)
        P = proj_size or H  # the size of h (LSTM with proj_size: h = W_hr h)
        shapes = {"weight_ih": None, "weight_hh": (G * H, P), "bias_ih": (G * H,),
                  "bias_hh": (G * H,)}
        if proj_size:
            shapes["weight_hr"] = (P, H)
        for layer in range(num_layers):
            shapes["weight_ih"] = (G * H, input_size if layer == 0 else D * P)
            # torch's registration order, so state_dict keys come out identical
            for key in self._keys(layer):
                for name, shape in shapes.items():
                    if bias or name.startswith("weight"):
                        setattr(self, f"{name}_{key}", _uniform(shape, k, dtype, rng))
        self._cache = None

    def _keys(self, layer):
        """Parameter-name suffixes of one layer: ``l0`` and, if bidirectional,
        ``l0_reverse`` (the direction that reads the sequence backwards)."""
        return [f"l{layer}"] + ([f"l{layer}_reverse"] if self.bidirectional else [])

    def _weights(self, key):
        """(W_ih, W_hh, b_ih, b_hh) Parameters of one layer and direction, ``key``
        as ``l0`` or ``l0_reverse`` (biases may be None)."""
        get = lambda n: getattr(self, f"{n}_{key}", None)  # noqa: E731
        return get("weight_ih"), get("weight_hh"), get("bias_ih"), get("bias_hh")

    @property
    def _h_size(self) -> int:
        """P, the size of h: hidden_size, or proj_size when it is set."""
        return self.proj_size or self.hidden_size

    # ---- shape checks -------------------------------------------------------
    def _check_input(self, input):
        name, I = type(self).__name__, self.input_size
        x = _as_float_array(input, name, "input")
        seq = "(N, T, {0})" if self.batch_first else "(T, N, {0})"
        if x.ndim not in (2, 3) or x.shape[-1] != I:
            raise ValueError(
                f"{name}: expected input of shape {seq.format(I)} "
                f"(batch_first={self.batch_first}) or unbatched (T, {I}), got {x.shape}"
            )
        if x.ndim == 2:
            return x[:, None, :], False  # (T, 1, I)
        return (x.transpose(1, 0, 2) if self.batch_first else x), True  # (T, N, I)

    def _check_state(self, s, what, N, batched, dtype):
        name = type(self).__name__
        H = self.hidden_size if what == "c0" else self._h_size  # c0: H, h0: P
        L = self.num_layers * (2 if self.bidirectional else 1)
        if s is None:
            return np.zeros((L, N, H), dtype=dtype)
        s = _as_float_array(s, name, what)
        want = (L, N, H) if batched else (L, H)
        if s.shape != want:
            raise ValueError(
                f"{name}: expected {what} of shape (num_layers * num_directions, N, "
                f"{'hidden_size' if H == self.hidden_size else 'proj_size'}) = {want}, "
                f"got {s.shape}"
            )
        return s if batched else s[:, None, :]  # (L*D, N, H)

    # ---- forward ------------------------------------------------------------
    def forward(self, input, hx=None):
        """input (T, N, I), or (N, T, I) with batch_first, or unbatched (T, I).

        Returns (output, h_n) for RNN and GRU, (output, (h_n, c_n)) for LSTM:
        output (T, N, D*H) (batch_first: (N, T, D*H)) is the last layer's h at
        every step; h_n and c_n (L*D, N, H) are every layer's final state (an
        LSTM with ``proj_size`` P: output (T, N, D*P), h_n (L*D, N, P)). D = 2
        with ``bidirectional=True``: a second direction reads the sequence
        backwards, its outputs concatenated after the forward ones, its states
        at index 2 * layer + 1, as torch.
        """
        x, batched = self._check_input(input)  # (T, N, I)
        T, N, _ = x.shape
        if T == 0:
            raise ValueError(f"{type(self).__name__}: got a sequence of length 0")
        dtype = np.result_type(x.dtype, self.weight_ih_l0.data.dtype)
        if self._has_cell_state:
            h0, c0 = (None, None) if hx is None else hx
            c0 = self._check_state(c0, "c0", N, batched, dtype)
        else:
            h0, c0 = hx, None
        h0 = self._check_state(h0, "h0", N, batched, dtype)

        caches, masks, h_n, c_n = [], [], [], []
        layer_in = x.astype(dtype, copy=False)
        for layer in range(self.num_layers):
            if layer > 0 and self.training and self.dropout > 0:
                # torch drops the outputs of every layer but the last
                mask = dropout_mask(layer_in.shape, self.dropout, dtype, self.rng)
                layer_in = layer_in * mask
                masks.append(mask)
            else:
                masks.append(None)
            outs = []
            for d, key in enumerate(self._keys(layer)):
                i = layer * len(self._keys(layer)) + d  # torch's index in h_n
                c_init = None if c0 is None else c0[i]
                # the reverse direction runs the same loop on the time-reversed input
                seq = layer_in if d == 0 else layer_in[::-1]
                out, h_last, c_last, cache = self._layer_forward(key, seq, h0[i],
                                                                 c_init)
                outs.append(out if d == 0 else out[::-1])
                caches.append(cache)
                h_n.append(h_last)
                c_n.append(c_last)
            layer_in = np.concatenate(outs, axis=-1) if len(outs) > 1 else outs[0]
        self._cache = (caches, masks, batched, (T, N))

        output = layer_in if batched else layer_in[:, 0]  # (T, N, H) or (T, H)
        if batched and self.batch_first:
            output = output.transpose(1, 0, 2)  # (N, T, H)
        h_n = np.stack(h_n) if batched else np.stack(h_n)[:, 0]  # (L, N, H)
        if self._has_cell_state:
            c_n = np.stack(c_n) if batched else np.stack(c_n)[:, 0]
            return output, (h_n, c_n)
        return output, h_n

    # ---- backward -----------------------------------------------------------
    def _grad_in(self, g, what, want_batched, want_plain, dtype):
        name = type(self).__name__
        g = np.asarray(g)
        if g.shape != want_plain:
            raise ValueError(f"{name}.backward: expected {what} of shape {want_plain}, "
                             f"got {g.shape}")
        return g.astype(dtype, copy=False).reshape(want_batched)

    def _backward(self, grad_output, grad_h_n=None, grad_c_n=None):
        if self._cache is None:
            raise RuntimeError(f"{type(self).__name__}: call forward before backward")
        if isinstance(grad_output, tuple):
            # the forward's structure: (g_out, g_h_n) or (g_out, (g_h_n, g_c_n))
            grad_output, g_state = grad_output
            if self._has_cell_state:
                grad_h_n, grad_c_n = (None, None) if g_state is None else g_state
            else:
                grad_h_n = g_state
        caches, masks, batched, (T, N) = self._cache
        D = 2 if self.bidirectional else 1
        L, H = self.num_layers * D, self._h_size  # L counts directions here
        dtype = self.weight_ih_l0.data.dtype
        dtype = np.result_type(dtype, caches[0]["x"].dtype)
        if grad_output is None:
            d_out = np.zeros((T, N, D * H), dtype=dtype)
        else:
            if not batched:
                plain = (T, D * H)
            else:
                plain = (N, T, D * H) if self.batch_first else (T, N, D * H)
            g = np.asarray(grad_output)
            if g.shape != plain:
                raise ValueError(
                    f"{type(self).__name__}.backward: expected grad_output of the "
                    f"output's shape {plain}, got {g.shape}"
                )
            g = g.astype(dtype, copy=False)
            if batched and self.batch_first:
                g = g.transpose(1, 0, 2)  # (T, N, H)
            d_out = g.reshape(T, N, D * H)
        state_plain = (L, N, H) if batched else (L, H)
        zeros = np.zeros((L, N, H), dtype=dtype)
        dh_n = zeros if grad_h_n is None else self._grad_in(
            grad_h_n, "grad_h_n", (L, N, H), state_plain, dtype)
        Hc = self.hidden_size  # the cell state has H even when h has P
        c_plain = (L, N, Hc) if batched else (L, Hc)
        dc_n = np.zeros((L, N, Hc), dtype=dtype) if grad_c_n is None else \
            self._grad_in(grad_c_n, "grad_c_n", (L, N, Hc), c_plain, dtype)

        grad_h0 = np.empty((L, N, H), dtype=dtype)
        grad_c0 = np.empty((L, N, Hc), dtype=dtype)
        for layer in reversed(range(self.num_layers)):
            dx = 0
            for d, key in enumerate(self._keys(layer)):
                i = layer * D + d
                g = d_out[..., d * H:(d + 1) * H]  # this direction's half
                if d == 1:
                    g = g[::-1]  # the reverse direction saw time backwards
                dxd, dh0, dc0 = self._layer_backward(key, caches[i], g, dh_n[i],
                                                     dc_n[i])
                dx = dx + (dxd if d == 0 else dxd[::-1])
                grad_h0[i] = dh0
                if dc0 is not None:
                    grad_c0[i] = dc0
            if masks[layer] is not None:
                dx = dx * masks[layer]
            d_out = dx  # the layer below produced this layer's input
        # gradient w.r.t. the initial states (zeros when none were given)
        self.grad_h0 = grad_h0 if batched else grad_h0[:, 0]
        if self._has_cell_state:
            self.grad_c0 = grad_c0 if batched else grad_c0[:, 0]
        dx = d_out if batched else d_out[:, 0]  # (T, N, I) or (T, I)
        return dx.transpose(1, 0, 2) if (batched and self.batch_first) else dx

    def backward(self, grad_output, grad_h_n=None):
        """grad_output like output -> grad input like input.

        ``grad_h_n`` (L, N, H) optionally adds a gradient for h_n (default:
        none, h_n unused in the loss); the pair ``(grad_output, grad_h_n)``,
        shaped like forward's return value, is accepted as well. The gradient
        of h0 is left in ``.grad_h0`` (L, N, H).
        """
        return self._backward(grad_output, grad_h_n)

    # ---- helpers shared by the layer loops ----------------------------------
    def _input_projection(self, layer, x, add_b_hh=False):
        """x (T, N, I) -> x W_ih^T + b_ih for all steps at once: (T, N, G*H).

        With ``add_b_hh`` the constant b_hh is added here too, once, instead of
        at every step (RNN and LSTM; GRU's r gates b_hn, so it must stay).
        """
        w_ih, _, b_ih, b_hh = self._weights(layer)
        T, N, I = x.shape
        gi = x.reshape(T * N, I) @ w_ih.data.T  # (T*N, G*H)
        if b_ih is not None:
            gi += b_ih.data
            if add_b_hh:
                gi += b_hh.data
        return gi.reshape(T, N, gi.shape[-1])  # (T, N, G*H)

    def _accumulate(self, layer, x, h_prev, dgi, dgh):
        """Parameter grads summed over all steps with one matmul each.

        x (T, N, I), h_prev (T, N, H) the state entering each step,
        dgi and dgh (T, N, G*H). Returns grad x (T, N, I).
        """
        w_ih, w_hh, b_ih, b_hh = self._weights(layer)
        T, N, I = x.shape
        dgi2 = dgi.reshape(T * N, dgi.shape[-1])  # (T*N, G*H)
        dgh2 = dgh.reshape(T * N, dgh.shape[-1])
        w_ih.grad += dgi2.T @ x.reshape(T * N, I)
        w_hh.grad += dgh2.T @ h_prev.reshape(T * N, h_prev.shape[-1])
        if b_ih is not None:
            db = dgi2.sum(0)
            b_ih.grad += db
            b_hh.grad += db if dgh is dgi else dgh2.sum(0)  # RNN, LSTM: same grad
        return (dgi2 @ w_ih.data).reshape(T, N, I)

    def extra_repr(self):
        s = f"{self.input_size}, {self.hidden_size}"
        if self.num_layers != 1:
            s += f", num_layers={self.num_layers}"
        if not self.bias:
            s += ", bias=False"
        if self.batch_first:
            s += ", batch_first=True"
        if self.dropout:
            s += f", dropout={self.dropout}"
        if self.bidirectional:
            s += ", bidirectional=True"
        if self.proj_size:
            s += f", proj_size={self.proj_size}"
        return s


class RNN(_RNNBase):
    """Elman RNN (torch.nn.RNN): h_t = act(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh).

    forward(input, h0=None) -> (output, h_n); see ``_RNNBase.forward`` for shapes.
    backward(grad_output) -> grad input; grad of h0 in ``.grad_h0``.
    """

    _gates = 1

    def __init__(self, input_size, hidden_size, num_layers=1, nonlinearity="tanh",
                 bias=True, batch_first=False, dropout=0.0, bidirectional=False,
                 *, dtype=np.float32, rng=None):
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(
                f"RNN: nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}"
            )
        super().__init__(input_size, hidden_size, num_layers, bias, batch_first,
                         dropout, bidirectional, dtype=dtype, rng=rng)
        self.nonlinearity = nonlinearity

    def _layer_forward(self, layer, x, h0, c0):
        w_hh = self._weights(layer)[1].data  # (H, H)
        gi = self._input_projection(layer, x, add_b_hh=True)  # (T, N, H)
        T, N, _ = x.shape
        hs = np.empty((T + 1, N, self.hidden_size), dtype=gi.dtype)  # hs[t+1] = h_t
        hs[0] = h0
        for t in range(T):
            hs[t + 1], _ = rnn_step(gi[t], hs[t], w_hh, None, self.nonlinearity)
        return hs[1:], hs[T], None, {"x": x, "hs": hs}

    def _layer_backward(self, layer, cache, d_out, dh_last, dc_last):
        x, hs = cache["x"], cache["hs"]
        w_hh = self._weights(layer)[1].data
        T = x.shape[0]
        da = np.empty((T,) + hs.shape[1:], dtype=hs.dtype)  # (T, N, H)
        dh = dh_last
        for t in reversed(range(T)):
            # h_t feeds the output at t and the next step: add both gradients
            da[t], dh = rnn_step_backward(d_out[t] + dh, (hs[t], hs[t + 1]), w_hh,
                                          self.nonlinearity)
        dx = self._accumulate(layer, x, hs[:-1], da, da)
        return dx, dh, None

    def extra_repr(self):
        s = super().extra_repr()
        return s if self.nonlinearity == "tanh" else s + ", nonlinearity='relu'"


class GRU(_RNNBase):
    """Gated recurrent unit (Cho et al., 2014) with torch's equations (``gru_step``).

    forward(input, h0=None) -> (output, h_n); backward(grad_output) -> grad input;
    grad of h0 in ``.grad_h0``.
    """

    _gates = 3

    def _layer_forward(self, layer, x, h0, c0):
        _, w_hh, _, b_hh = self._weights(layer)
        w_hh = w_hh.data  # (3H, H)
        b = None if b_hh is None else b_hh.data
        gi = self._input_projection(layer, x)  # (T, N, 3H)
        T, N, _ = x.shape
        hs = np.empty((T + 1, N, self.hidden_size), dtype=gi.dtype)
        hs[0] = h0
        steps = []
        for t in range(T):
            hs[t + 1], step = gru_step(gi[t], hs[t], w_hh, b)
            steps.append(step)
        return hs[1:], hs[T], None, {"x": x, "hs": hs, "steps": steps}

    def _layer_backward(self, layer, cache, d_out, dh_last, dc_last):
        x, hs, steps = cache["x"], cache["hs"], cache["steps"]
        w_hh = self._weights(layer)[1].data
        T, N, _ = x.shape
        dgi = np.empty((T, N, 3 * self.hidden_size), dtype=hs.dtype)
        dgh = np.empty_like(dgi)
        dh = dh_last
        for t in reversed(range(T)):
            dgi[t], dgh[t], dh = gru_step_backward(d_out[t] + dh, steps[t], w_hh)
        dx = self._accumulate(layer, x, hs[:-1], dgi, dgh)
        return dx, dh, None


class LSTM(_RNNBase):
    """Long short-term memory (Hochreiter & Schmidhuber, 1997), torch's gate order.

    forward(input, (h0, c0)=None) -> (output, (h_n, c_n)).
    backward(grad_output, grad_h_n=None, grad_c_n=None) -> grad input; grads of
    h0 and c0 in ``.grad_h0`` and ``.grad_c0``.

    ``proj_size`` P > 0 (Sak et al., 2014) projects each step's h down to P
    features, h_t = W_hr (o * tanh(c_t)), with ``weight_hr_l{k}`` (P, H): h,
    the output and h0/h_n have P features, c keeps H, and W_hh is (4H, P).
    """

    _gates = 4
    _has_cell_state = True

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True,
                 batch_first=False, dropout=0.0, bidirectional=False, proj_size=0,
                 *, dtype=np.float32, rng=None):
        super().__init__(input_size, hidden_size, num_layers, bias, batch_first,
                         dropout, bidirectional, proj_size, dtype=dtype, rng=rng)

    def _layer_forward(self, layer, x, h0, c0):
        gi = self._input_projection(layer, x, add_b_hh=True)  # (T, N, 4H)
        w_hh = self._weights(layer)[1].data  # (4H, P)
        w_hr = getattr(self, f"weight_hr_{layer}", None)  # (P, H) or None
        T, N, _ = x.shape
        H, P = self.hidden_size, self._h_size
        hs = np.empty((T + 1, N, P), dtype=gi.dtype)  # hs[t+1] = h_t
        cs = np.empty((T + 1, N, H), dtype=gi.dtype)
        ms = None if w_hr is None else np.empty((T, N, H), dtype=gi.dtype)
        hs[0], cs[0] = h0, c0
        steps = []
        for t in range(T):
            m, cs[t + 1], step = lstm_step(gi[t], hs[t], cs[t], w_hh, None)
            if w_hr is None:
                hs[t + 1] = m
            else:  # projection: h_t = m_t W_hr^T, m_t = o * tanh(c_t) (N, H)
                ms[t] = m
                hs[t + 1] = m @ w_hr.data.T  # (N, P)
            steps.append(step)
        return hs[1:], hs[T], cs[T], {"x": x, "hs": hs, "steps": steps, "ms": ms}

    def _layer_backward(self, layer, cache, d_out, dh_last, dc_last):
        x, hs, steps, ms = cache["x"], cache["hs"], cache["steps"], cache["ms"]
        w_hh = self._weights(layer)[1].data
        w_hr = getattr(self, f"weight_hr_{layer}", None)
        T, N, _ = x.shape
        dgates = np.empty((T, N, 4 * self.hidden_size), dtype=hs.dtype)
        dhs = None if w_hr is None else np.empty_like(hs[1:])  # (T, N, P)
        dh, dc = dh_last, dc_last
        for t in reversed(range(T)):
            dh = d_out[t] + dh  # h_t feeds the output at t and the next step
            if w_hr is not None:
                dhs[t] = dh
                dh = dh @ w_hr.data  # back through the projection: dL/dm_t (N, H)
            _, dh, dc = lstm_step_backward(dh, dc, steps[t], w_hh, out=dgates[t])
        if w_hr is not None:  # W_hr's gradient summed over all steps at once
            w_hr.grad += dhs.reshape(T * N, -1).T @ ms.reshape(T * N, -1)
        dx = self._accumulate(layer, x, hs[:-1], dgates, dgates)
        return dx, dh, dc

    def forward(self, input, hx=None):
        """hx is None or a pair (h0, c0), h0 (L*D, N, P) and c0 (L*D, N, H)
        (unbatched: without N)."""
        if hx is not None and (not isinstance(hx, (tuple, list)) or len(hx) != 2):
            raise TypeError("LSTM: hx must be None or a pair (h0, c0), got "
                            f"{type(hx).__name__}")
        return super().forward(input, hx)

    def backward(self, grad_output, grad_h_n=None, grad_c_n=None):
        """grad_output like output -> grad input; optional grads of h_n and c_n.

        ``(grad_output, (grad_h_n, grad_c_n))``, shaped like forward's return
        value, is accepted as the first argument too.
        """
        return self._backward(grad_output, grad_h_n, grad_c_n)
