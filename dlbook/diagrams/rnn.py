"""Diagrams of chapter 6: a recurrent network unrolled in time, the LSTM cell
and the GRU cell.

Each function draws one figure in the book's shared visual language
(:mod:`dlbook.diagrams._canvas`): light-blue tensors, orange learned layers,
white parameter-free operations, arrows labelled with tensor shapes. Shape
letters: ``B`` the batch, ``d`` (or ``I``) the input size, ``H`` the hidden
size, ``V`` the number of outputs (the vocabulary of a language model).
"""

from __future__ import annotations

from dlbook.diagrams._canvas import arrow, box, canvas, group, label, legend, op, path


def rnn_unrolled(steps: int = 3):
    """An Elman RNN unrolled over ``steps`` time steps, with shared weights.

    Every step reads the input ``x_t`` (B, d) and the previous hidden state
    ``h_{t-1}`` (B, H) and computes ``h_t = tanh(W_xh x_t + W_hh h_{t-1} +
    b_h)``; the output layer ``W_hy`` turns each ``h_t`` into scores
    ``y_t`` (B, V). The same three weight tensors are used at every step
    (the dashed frame), which is what makes the network recurrent; the
    gradient of each weight is a sum over the steps.

    Parameters
    ----------
    steps : int
        Number of time steps to draw (2 to 4).

    Returns
    -------
    matplotlib.figure.Figure
    """
    if not 2 <= steps <= 4:
        raise ValueError(f"rnn_unrolled: steps must be 2 to 4, got {steps}")
    gap = 2.7
    width = 1.6 + gap * steps + 0.3
    fig, ax = canvas(width, 6.9, scale=min(0.62, 6.4 / width))
    cy, hy, yy, xy = 3.0, 4.75, 6.2, 1.25           # rows: cell, W_hy, y_t, x_t
    h0 = box(ax, 0.75, cy, "$h_0 = 0$", kind="tensor", w=1.1, h=0.55)
    prev = h0
    names = [str(t + 1) for t in range(steps - 1)] + ["T"]
    for k, name in enumerate(names):
        cx = 1.6 + gap * (k + 0.5) + 0.2
        x = box(ax, cx, xy, f"$x_{name}$", kind="tensor", w=0.9, h=0.55)
        cell = box(ax, cx, cy, "tanh cell", kind="layer", w=1.35, h=0.7)
        head = box(ax, cx, hy, "$W_{hy}$", kind="layer", w=1.0, h=0.55)
        y = box(ax, cx, yy, f"$y_{name}$", kind="tensor", w=0.9, h=0.55)
        arrow(ax, x.top, cell.bottom, "(B, d)")
        arrow(ax, cell.top, head.bottom, "(B, H)")
        label(ax, (cx, (cell.top[1] + head.bottom[1]) / 2), f"$h_{name}$",
              side="left", mono=False, size=10)
        arrow(ax, head.top, y.bottom, "(B, V)")
        arrow(ax, prev.right, cell.left)
        mid = (prev.right[0] + cell.left[0]) / 2
        hname = "$h_0$" if k == 0 else f"$h_{names[k - 1]}$"
        label(ax, (mid, cy + 0.05), hname, side="above", offset=0.05, mono=False,
              size=10)
        label(ax, (mid, cy - 0.05), "(B, H)", side="below", offset=0.05)
        prev = cell
    group(ax, 1.55, cy - 0.6, width - 0.1, cy + 0.6)
    ax.text(width - 0.1, 0.3, "dashed frame: the same $W_{xh}$, $W_{hh}$, $b_h$"
            + ("\n" if steps < 3 else " ") + "at every step", ha="right",
            va="center", fontsize=9, color="#555555")
    legend(ax, kinds=("tensor", "layer"), x=0.15, y=0.3, step=1.2)
    return fig



def _input_bus(ax, bus: float):
    """The gated cells' inputs: ``h_{t-1}`` on a bus at height ``bus``, and
    ``x_t`` below it joining the bus at x = 2.05. Returns both boxes."""
    h_prev = box(ax, 0.65, bus, "$h_{t-1}$", kind="tensor", w=1.0, h=0.55)
    x_t = box(ax, 0.65, 0.55, "$x_t$", kind="tensor", w=1.0, h=0.55)
    label(ax, ((h_prev.right[0] + 2.05) / 2, bus), "(B, H)", side="above",
          offset=0.06)
    label(ax, (2.05, (x_t.y + bus) / 2), "(B, I)", side="right", offset=0.1)
    path(ax, [x_t.right, (2.05, x_t.y), (2.05, bus)], style="-")
    return h_prev, x_t

def lstm_cell():
    """One LSTM step: three sigmoid gates, a tanh candidate and the cell path.

    The previous output ``h_{t-1}`` (B, H) and the input ``x_t`` (B, I)
    feed four learned blocks, each ``W_i· x_t + W_h· h_{t-1} + b`` followed
    by its nonlinearity: the forget gate ``f``, the input gate ``i`` and
    the output gate ``o`` (sigmoids, between 0 and 1) and the candidate
    ``g`` (tanh). The cell state runs along the top: ``c_t = f ⊙ c_{t-1} +
    i ⊙ g``, with no weight matrix on that path; the output is ``h_t = o ⊙
    tanh(c_t)``. Every gate and state has shape (B, H).

    Returns
    -------
    matplotlib.figure.Figure
    """
    fig, ax = canvas(10.2, 7.2, scale=0.63)
    top = 5.75
    c_prev = box(ax, 0.75, top, "$c_{t-1}$", kind="tensor", w=1.2, h=0.55)
    mul_f = op(ax, 2.6, top, "×")
    add = op(ax, 4.6, top, "+")
    c_new = box(ax, 9.4, top, "$c_t$", kind="tensor", w=1.0, h=0.55)
    arrow(ax, c_prev.right, mul_f.left)
    label(ax, ((c_prev.right[0] + mul_f.left[0]) / 2, top), "(B, H)", side="above",
          offset=0.1)
    arrow(ax, mul_f.right, add.left)
    arrow(ax, add.right, c_new.left)
    label(ax, (6.4, top), "cell state (B, H)", side="above", offset=0.1)

    gy = 2.9
    gates = {}
    for gx, name, w in [(2.6, "forget $f$\nσ", 1.2), (3.95, "input $i$\nσ", 1.2),
                        (5.35, "candidate $g$\ntanh", 1.4), (6.75, "output $o$\nσ", 1.2)]:
        gates[name.split()[0]] = box(ax, gx, gy, name, kind="layer", w=w, h=0.8)
    arrow(ax, gates["forget"].top, mul_f.bottom)
    label(ax, (2.6, 4.45), "(B, H)", side="left", offset=0.1)
    mul_ig = op(ax, 4.6, 4.45, "×")
    path(ax, [gates["input"].top, (3.95, mul_ig.y), mul_ig.left])
    path(ax, [gates["candidate"].top, (5.35, mul_ig.y), mul_ig.right])
    arrow(ax, mul_ig.top, add.bottom)
    label(ax, (4.6, 5.05), "$i \\odot g$", side="right", offset=0.1, mono=False)

    tanh_c = op(ax, 8.0, 4.45, "tanh", r=0.34, size=9)
    path(ax, [(8.0, top), tanh_c.top])
    mul_o = op(ax, 8.0, gy, "×")
    arrow(ax, tanh_c.bottom, mul_o.top)
    arrow(ax, gates["output"].right, mul_o.left)
    h_new = box(ax, 9.4, gy, "$h_t$", kind="tensor", w=1.0, h=0.55)
    arrow(ax, mul_o.right, h_new.left)
    label(ax, (h_new.x, h_new.bottom[1]), "(B, H)", side="below", offset=0.08)

    bus = 1.55
    h_prev, x_t = _input_bus(ax, bus)
    ax.plot([2.05, gates["output"].x], [bus, bus], color="#333333", lw=1.3,
            zorder=1.5)
    for g in gates.values():
        arrow(ax, (g.x, bus), g.bottom)
    ax.text(2.3, 0.4, "each block: $W x_t + U h_{t-1} + b$, then σ or tanh",
            ha="left", va="center", fontsize=9, color="#444444")
    legend(ax, kinds=("tensor", "layer", "op"), x=0.15, y=6.85, step=1.9)
    return fig


def gru_cell():
    """One GRU step in torch's form: a reset gate, an update gate, a candidate.

    The reset gate ``r`` and the update gate ``z`` are sigmoids of
    ``W x_t + U h_{t-1} + b``. The candidate is ``n = tanh(W_in x_t + b_in
    + r ⊙ (W_hn h_{t-1} + b_hn))``: the reset gate decides how much of the
    old state the candidate may see. The new state mixes the old one and the
    candidate, ``h_t = z ⊙ h_{t-1} + (1 − z) ⊙ n``, along the top path,
    which has no weight matrix on it. Every gate and state has shape (B, H).

    Returns
    -------
    matplotlib.figure.Figure
    """
    fig, ax = canvas(10.2, 7.2, scale=0.63)
    top = 5.75
    h_prev_top = box(ax, 0.65, top, "$h_{t-1}$", kind="tensor", w=1.0, h=0.55)
    mul_z = op(ax, 2.6, top, "×")
    add = op(ax, 7.0, top, "+")
    h_new = box(ax, 9.4, top, "$h_t$", kind="tensor", w=1.0, h=0.55)
    arrow(ax, h_prev_top.right, mul_z.left)
    label(ax, ((h_prev_top.right[0] + mul_z.left[0]) / 2, top), "(B, H)",
          side="above", offset=0.1)
    arrow(ax, mul_z.right, add.left)
    label(ax, (4.8, top), "$z \\odot h_{t-1}$", side="above", offset=0.1, mono=False)
    arrow(ax, add.right, h_new.left)
    label(ax, ((add.right[0] + h_new.left[0]) / 2, top), "(B, H)", side="above",
          offset=0.1)

    gy, bus = 2.9, 1.55
    z = box(ax, 2.6, gy, "update $z$\nσ", kind="layer", w=1.2, h=0.8)
    r = box(ax, 3.95, gy, "reset $r$\nσ", kind="layer", w=1.2, h=0.8)
    mul_r = op(ax, 5.4, gy, "×")
    w_hn = box(ax, 5.4, bus, "$W_{hn}$", kind="layer", w=0.9, h=0.55)
    n = box(ax, 7.0, gy, "candidate $n$\ntanh", kind="layer", w=1.45, h=0.8)
    arrow(ax, z.top, mul_z.bottom)
    label(ax, (2.6, 4.0), "(B, H)", side="left", offset=0.1)
    one_minus = op(ax, 4.8, 4.5, "1−z", r=0.3, size=9)
    path(ax, [(2.6, one_minus.y), one_minus.left])
    mul_n = op(ax, 7.0, 4.5, "×")
    arrow(ax, one_minus.right, mul_n.left)
    arrow(ax, n.top, mul_n.bottom)
    arrow(ax, mul_n.top, add.bottom)
    label(ax, (7.0, (mul_n.top[1] + add.bottom[1]) / 2), "$(1 - z) \\odot n$",
          side="right", offset=0.1, mono=False)
    arrow(ax, r.right, mul_r.left)
    arrow(ax, w_hn.top, mul_r.bottom)
    arrow(ax, mul_r.right, n.left)

    h_prev, x_t = _input_bus(ax, bus)
    ax.plot([h_prev.right[0], r.x], [bus, bus], color="#333333", lw=1.3, zorder=1.5)
    for g in (z, r):
        arrow(ax, (g.x, bus), g.bottom)
    arrow(ax, (r.x, bus), w_hn.left)
    label(ax, ((r.x + w_hn.left[0]) / 2, bus), "$h_{t-1}$ part", side="below",
          offset=0.08, mono=False)
    path(ax, [(2.05, x_t.y), (8.2, x_t.y), (8.2, gy), n.right])
    label(ax, (8.2, (x_t.y + gy) / 2), "$x_t$", side="right", offset=0.1, mono=False,
          size=10)
    ax.text(2.6, 0.2, "z, r: $W x_t + U h_{t-1} + b$, then σ;  "
            "n: $W_{in} x_t + r \\odot (W_{hn} h_{t-1} + b_{hn})$, then tanh",
            ha="left", va="center", fontsize=9, color="#444444")
    legend(ax, kinds=("tensor", "layer", "op"), x=0.15, y=6.85, step=1.9)
    return fig
