"""Recurrent layers written from matmuls, tanh and sigmoid.

Constructor arguments, parameter names, shapes, initialisation and tensor layouts
are those of ``torch.nn.RNN`` / ``GRU`` / ``LSTM`` (and their cells), so that
``mine.load_state_dict(theirs.state_dict())`` makes both compute the same function.
The cuDNN kernels behind ``torch.nn`` fuse the time loop; here it is a Python loop
so that a reader can see backprop through time is nothing but autograd over it.

Letters used in shape comments: L sequence length, N batch, H hidden size,
I input size, P projected size (LSTM ``proj_size``), D directions (1 or 2),
G gates (1 for RNN, 3 for GRU, 4 for LSTM).
References: Elman 1990 (RNN); Cho et al. 2014 (GRU); Hochreiter & Schmidhuber 1997
and Gers et al. 2000 (LSTM with forget gate); Sak et al. 2014 (LSTM projection).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = [
    "rnn_cell",
    "gru_cell",
    "lstm_cell",
    "RNNCell",
    "GRUCell",
    "LSTMCell",
    "RNN",
    "GRU",
    "LSTM",
]


# ----------------------------------------------------------------------------------
# one time step, as plain functions of the weights (shared by cells and layers)


def rnn_cell(x, h, w_ih, w_hh, b_ih=None, b_hh=None, nonlinearity="tanh"):
    """h' = act(x W_ih^T + b_ih + h W_hh^T + b_hh).  x (N, I), h (N, H) -> (N, H)."""
    pre = F.linear(x, w_ih, b_ih) + F.linear(h, w_hh, b_hh)
    return torch.tanh(pre) if nonlinearity == "tanh" else torch.relu(pre)


def gru_cell(x, h, w_ih, w_hh, b_ih=None, b_hh=None):
    """One GRU step; gates stacked (r, z, n) as in torch.  (N, I), (N, H) -> (N, H)."""
    gi = F.linear(x, w_ih, b_ih)  # (N, 3H)
    gh = F.linear(h, w_hh, b_hh)  # (N, 3H)
    i_r, i_z, i_n = gi.chunk(3, dim=-1)  # 3 x (N, H)
    h_r, h_z, h_n = gh.chunk(3, dim=-1)  # 3 x (N, H)
    r = torch.sigmoid(i_r + h_r)  # reset gate
    z = torch.sigmoid(i_z + h_z)  # update gate
    # torch (and cuDNN) apply r *after* the hidden matmul and its bias, which is
    # why GRU keeps two biases: r gates (W_hn h + b_hn), not h alone.
    n = torch.tanh(i_n + r * h_n)
    return (1 - z) * n + z * h


def lstm_cell(x, h, c, w_ih, w_hh, b_ih=None, b_hh=None, w_hr=None):
    """One LSTM step; gates stacked (i, f, g, o) as in torch.

    x (N, I), h (N, P or H), c (N, H) -> h' (N, P or H), c' (N, H).
    """
    gates = F.linear(x, w_ih, b_ih) + F.linear(h, w_hh, b_hh)  # (N, 4H)
    i, f, g, o = gates.chunk(4, dim=-1)  # 4 x (N, H)
    i, f, o = torch.sigmoid(i), torch.sigmoid(f), torch.sigmoid(o)
    g = torch.tanh(g)
    c = f * c + i * g  # the additive path that lets gradients survive long spans
    h = o * torch.tanh(c)
    if w_hr is not None:
        h = F.linear(h, w_hr)  # (N, P) projection, Sak et al. 2014
    return h, c


# ----------------------------------------------------------------------------------
# cells: one step, parameters weight_ih, weight_hh, bias_ih, bias_hh


class _CellBase(nn.Module):
    _gates = 1

    def __init__(self, input_size, hidden_size, bias=True, device=None, dtype=None):
        super().__init__()
        kw = {"device": device, "dtype": dtype}
        self.input_size, self.hidden_size, self.bias = input_size, hidden_size, bias
        g = self._gates * hidden_size
        self.weight_ih = nn.Parameter(torch.empty(g, input_size, **kw))
        self.weight_hh = nn.Parameter(torch.empty(g, hidden_size, **kw))
        if bias:
            self.bias_ih = nn.Parameter(torch.empty(g, **kw))
            self.bias_hh = nn.Parameter(torch.empty(g, **kw))
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.reset_parameters()

    def reset_parameters(self):
        # torch draws every weight and bias from U(-1/sqrt(H), 1/sqrt(H)), in
        # registration order; same order here, so the same seed gives the same cell
        bound = 1.0 / math.sqrt(self.hidden_size)
        for p in self.parameters():
            nn.init.uniform_(p, -bound, bound)

    def _check(self, x, hx):
        name = type(self).__name__
        if x.dim() not in (1, 2) or x.shape[-1] != self.input_size:
            raise ValueError(
                f"{name}: expected input of shape (N, {self.input_size}) or "
                f"({self.input_size},), got {tuple(x.shape)}"
            )
        batched = x.dim() == 2
        if not batched:
            x = x.unsqueeze(0)  # (1, I)
        n = x.shape[0]
        if hx is None:
            hx = x.new_zeros(n, self.hidden_size)
        else:
            if not batched:
                hx = hx.unsqueeze(0)
            if tuple(hx.shape) != (n, self.hidden_size):
                want = (n, self.hidden_size) if batched else (self.hidden_size,)
                raise ValueError(
                    f"{name}: expected hidden state of shape {want}, "
                    f"got {tuple(hx.shape) if batched else tuple(hx.shape[1:])}"
                )
        return x, hx, batched

    def extra_repr(self):
        s = f"{self.input_size}, {self.hidden_size}"
        return s if self.bias else s + ", bias=False"


class RNNCell(_CellBase):
    """Elman cell: h' = tanh(x W_ih^T + b_ih + h W_hh^T + b_hh)."""

    def __init__(self, input_size, hidden_size, bias=True, nonlinearity="tanh",
                 device=None, dtype=None):
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(
                f"RNNCell: nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}"
            )
        self.nonlinearity = nonlinearity
        super().__init__(input_size, hidden_size, bias, device, dtype)

    def forward(self, x: Tensor, hx: Tensor | None = None) -> Tensor:
        x, hx, batched = self._check(x, hx)
        h = rnn_cell(x, hx, self.weight_ih, self.weight_hh, self.bias_ih,
                     self.bias_hh, self.nonlinearity)
        return h if batched else h.squeeze(0)


class GRUCell(_CellBase):
    """Gated recurrent unit (Cho et al. 2014), torch's gate order (r, z, n)."""

    _gates = 3

    def forward(self, x: Tensor, hx: Tensor | None = None) -> Tensor:
        x, hx, batched = self._check(x, hx)
        h = gru_cell(x, hx, self.weight_ih, self.weight_hh, self.bias_ih,
                     self.bias_hh)
        return h if batched else h.squeeze(0)


class LSTMCell(_CellBase):
    """LSTM cell (Hochreiter & Schmidhuber 1997), torch's gate order (i, f, g, o)."""

    _gates = 4

    def forward(self, x: Tensor, hx: tuple[Tensor, Tensor] | None = None):
        if hx is not None and not (isinstance(hx, (tuple, list)) and len(hx) == 2):
            raise TypeError("LSTMCell: hx must be a tuple (h_0, c_0)")
        x, h, batched = self._check(x, None if hx is None else hx[0])
        if hx is None:
            c = torch.zeros_like(h)
        else:
            c = hx[1] if batched else hx[1].unsqueeze(0)  # (N, H)
            if c.shape != h.shape:
                raise ValueError(
                    f"LSTMCell: expected c_0 of the same shape as h_0 "
                    f"{tuple(hx[0].shape)}, got {tuple(hx[1].shape)}"
                )
        h, c = lstm_cell(x, h, c, self.weight_ih, self.weight_hh, self.bias_ih,
                         self.bias_hh)
        return (h, c) if batched else (h.squeeze(0), c.squeeze(0))


# ----------------------------------------------------------------------------------
# multi-layer, optionally bidirectional layers over whole sequences


class _RNNBase(nn.Module):
    mode = "RNN_TANH"
    _gates = 1

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True,
                 batch_first=False, dropout=0.0, bidirectional=False, proj_size=0,
                 device=None, dtype=None):
        super().__init__()
        name = type(self).__name__
        if not 0.0 <= float(dropout) <= 1.0:
            raise ValueError(f"{name}: dropout must be in [0, 1], got {dropout}")
        if num_layers < 1:
            raise ValueError(f"{name}: num_layers must be >= 1, got {num_layers}")
        if proj_size < 0 or (proj_size and proj_size >= hidden_size):
            raise ValueError(
                f"{name}: proj_size must be in [0, hidden_size={hidden_size}), "
                f"got {proj_size}"
            )
        self.input_size, self.hidden_size = input_size, hidden_size
        self.num_layers, self.bias, self.batch_first = num_layers, bias, batch_first
        self.dropout, self.bidirectional = float(dropout), bidirectional
        self.proj_size = proj_size
        kw = {"device": device, "dtype": dtype}
        d = 2 if bidirectional else 1
        h_out = proj_size or hidden_size
        g = self._gates * hidden_size
        # registration order matters for reset_parameters(): torch's is, per layer
        # and direction, w_ih, w_hh, b_ih, b_hh, w_hr
        for layer in range(num_layers):
            layer_in = input_size if layer == 0 else h_out * d
            for sfx in ["", "_reverse"][:d]:
                s = f"_l{layer}{sfx}"
                self.register_parameter(
                    "weight_ih" + s, nn.Parameter(torch.empty(g, layer_in, **kw)))
                self.register_parameter(
                    "weight_hh" + s, nn.Parameter(torch.empty(g, h_out, **kw)))
                if bias:
                    self.register_parameter(
                        "bias_ih" + s, nn.Parameter(torch.empty(g, **kw)))
                    self.register_parameter(
                        "bias_hh" + s, nn.Parameter(torch.empty(g, **kw)))
                if proj_size:
                    self.register_parameter(
                        "weight_hr" + s,
                        nn.Parameter(torch.empty(proj_size, hidden_size, **kw)))
        self.reset_parameters()

    def reset_parameters(self):
        bound = 1.0 / math.sqrt(self.hidden_size)
        for p in self.parameters():
            nn.init.uniform_(p, -bound, bound)

    def _weights(self, layer, sfx):
        s = f"_l{layer}{sfx}"
        get = lambda n: getattr(self, n + s, None)  # noqa: E731
        return get("weight_ih"), get("weight_hh"), get("bias_ih"), get("bias_hh"), \
            get("weight_hr")

    def _step(self, x, state, w):
        raise NotImplementedError

    def _check_input(self, x):
        name = type(self).__name__
        if isinstance(x, nn.utils.rnn.PackedSequence):
            raise TypeError(
                f"{name}: PackedSequence is not supported by the teaching version; "
                "pad the batch, or use torch.nn." + name
            )
        if x.dim() not in (2, 3) or x.shape[-1] != self.input_size:
            layout = "(N, L, I)" if self.batch_first else "(L, N, I)"
            raise ValueError(
                f"{name}: expected input of shape {layout} or (L, I) with "
                f"I={self.input_size}, got {tuple(x.shape)}"
            )

    def _check_state(self, hx, n, size, batched, what="h_0"):
        d = 2 if self.bidirectional else 1
        want = (d * self.num_layers, n, size)
        got = tuple(hx.shape) if batched else (hx.shape[0], 1, *hx.shape[1:])
        if hx.dim() != (3 if batched else 2) or got != want:
            shown = want if batched else (want[0], want[2])
            raise ValueError(
                f"{type(self).__name__}: expected {what} of shape {shown}, "
                f"got {tuple(hx.shape)}"
            )
        return hx if batched else hx.unsqueeze(1)

    def _run(self, x, states):
        """x (L, N, I); states: list over layer*direction of per-step states.

        Returns the last layer's output (L, N, D*H_out) and the final states.
        """
        d = 2 if self.bidirectional else 1
        finals = []
        for layer in range(self.num_layers):
            outs = []
            for k, sfx in enumerate(["", "_reverse"][:d]):
                w = self._weights(layer, sfx)
                state = states[layer * d + k]
                steps = range(x.shape[0]) if k == 0 else reversed(range(x.shape[0]))
                ys = [None] * x.shape[0]
                for t in steps:
                    state = self._step(x[t], state, w)
                    ys[t] = state[0] if isinstance(state, tuple) else state
                outs.append(torch.stack(ys))  # (L, N, H_out)
                finals.append(state)
            x = torch.cat(outs, dim=-1) if d == 2 else outs[0]  # (L, N, D*H_out)
            if self.dropout and self.training and layer < self.num_layers - 1:
                x = F.dropout(x, self.dropout, training=True)
        return x, finals

    def extra_repr(self):
        s = f"{self.input_size}, {self.hidden_size}"
        for k, default in [("num_layers", 1), ("bias", True), ("batch_first", False),
                           ("dropout", 0.0), ("bidirectional", False),
                           ("proj_size", 0)]:
            if getattr(self, k) != default:
                s += f", {k}={getattr(self, k)}"
        return s


class _SimpleRNNBase(_RNNBase):
    """RNN and GRU: the state is one tensor h."""

    def forward(self, x: Tensor, hx: Tensor | None = None):
        """x (L, N, I) (or (N, L, I) if batch_first, or (L, I)); hx (D*layers, N, H).

        Returns output (L, N, D*H) and h_n (D*layers, N, H), in x's layout.
        """
        self._check_input(x)
        batched = x.dim() == 3
        if not batched:
            x = x.unsqueeze(1)  # (L, 1, I)
        elif self.batch_first:
            x = x.transpose(0, 1)  # (L, N, I)
        n = x.shape[1]
        d = 2 if self.bidirectional else 1
        if hx is None:
            hx = x.new_zeros(d * self.num_layers, n, self.hidden_size)
        else:
            hx = self._check_state(hx, n, self.hidden_size, batched)
        out, finals = self._run(x, list(hx.unbind(0)))
        h_n = torch.stack(finals)  # (D*layers, N, H)
        if not batched:
            return out.squeeze(1), h_n.squeeze(1)
        if self.batch_first:
            out = out.transpose(0, 1)  # (N, L, D*H)
        return out, h_n


class RNN(_SimpleRNNBase):
    """Elman RNN, ``torch.nn.RNN``'s arguments (``nonlinearity='tanh'|'relu'``)."""

    def __init__(self, input_size, hidden_size, num_layers=1, nonlinearity="tanh",
                 bias=True, batch_first=False, dropout=0.0, bidirectional=False,
                 device=None, dtype=None):
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(
                f"RNN: nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}"
            )
        self.nonlinearity = nonlinearity
        super().__init__(input_size, hidden_size, num_layers, bias, batch_first,
                         dropout, bidirectional, 0, device, dtype)

    def _step(self, x, h, w):
        w_ih, w_hh, b_ih, b_hh, _ = w
        return rnn_cell(x, h, w_ih, w_hh, b_ih, b_hh, self.nonlinearity)

    def extra_repr(self):
        s = super().extra_repr()
        return s if self.nonlinearity == "tanh" else s + ", nonlinearity='relu'"


class GRU(_SimpleRNNBase):
    """Gated recurrent unit over sequences, ``torch.nn.GRU``'s arguments."""

    _gates = 3

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True,
                 batch_first=False, dropout=0.0, bidirectional=False,
                 device=None, dtype=None):
        super().__init__(input_size, hidden_size, num_layers, bias, batch_first,
                         dropout, bidirectional, 0, device, dtype)

    def _step(self, x, h, w):
        w_ih, w_hh, b_ih, b_hh, _ = w
        return gru_cell(x, h, w_ih, w_hh, b_ih, b_hh)


class LSTM(_RNNBase):
    """Long short-term memory over sequences, ``torch.nn.LSTM``'s arguments."""

    _gates = 4

    def _step(self, x, state, w):
        w_ih, w_hh, b_ih, b_hh, w_hr = w
        return lstm_cell(x, state[0], state[1], w_ih, w_hh, b_ih, b_hh, w_hr)

    def forward(self, x: Tensor, hx: tuple[Tensor, Tensor] | None = None):
        """x (L, N, I) (or (N, L, I) if batch_first, or (L, I)).

        hx = (h_0 (D*layers, N, P or H), c_0 (D*layers, N, H)), zeros if None.
        Returns output (L, N, D*(P or H)) and (h_n, c_n).
        """
        self._check_input(x)
        batched = x.dim() == 3
        if not batched:
            x = x.unsqueeze(1)  # (L, 1, I)
        elif self.batch_first:
            x = x.transpose(0, 1)  # (L, N, I)
        n = x.shape[1]
        d = 2 if self.bidirectional else 1
        h_size = self.proj_size or self.hidden_size
        if hx is None:
            h0 = x.new_zeros(d * self.num_layers, n, h_size)
            c0 = x.new_zeros(d * self.num_layers, n, self.hidden_size)
        else:
            if not (isinstance(hx, (tuple, list)) and len(hx) == 2):
                raise TypeError("LSTM: hx must be a tuple (h_0, c_0)")
            h0 = self._check_state(hx[0], n, h_size, batched, "h_0")
            c0 = self._check_state(hx[1], n, self.hidden_size, batched, "c_0")
        out, finals = self._run(x, list(zip(h0.unbind(0), c0.unbind(0))))
        h_n = torch.stack([s[0] for s in finals])  # (D*layers, N, P or H)
        c_n = torch.stack([s[1] for s in finals])  # (D*layers, N, H)
        if not batched:
            return out.squeeze(1), (h_n.squeeze(1), c_n.squeeze(1))
        if self.batch_first:
            out = out.transpose(0, 1)  # (N, L, D*(P or H))
        return out, (h_n, c_n)
