"""Diagrams of chapter 7: attention, multi-head attention, the Transformer block
and the encoder-decoder.

Each function draws one figure in the book's shared visual language
(:mod:`dlbook.diagrams._canvas`): light-blue tensors, orange learned layers,
white parameter-free operations, arrows labelled with tensor shapes. Data flows
upwards, as in the figures of Vaswani et al. (2017). Shape letters: ``T``
query positions, ``S`` key/value positions, ``d_k`` and ``d_v`` the widths of
a query/key and of a value, ``h`` heads, ``d_model`` the width of the residual
stream, ``V`` the vocabulary.
"""

from __future__ import annotations

from dlbook.diagrams._canvas import SHAPE_SIZE, arrow, box, canvas, group, label, legend, op, path

GREY = "#555555"


def qkv_attention(masked: bool = True):
    """Scaled dot-product attention, ``softmax(Q K^T / sqrt(d_k)) V``, with shapes.

    Queries ``Q`` (T, d_k) and keys ``K`` (S, d_k) give one score per pair,
    (T, S); the scores are divided by ``sqrt(d_k)``, optionally masked,
    turned into weights by a row-wise softmax, and the weights average the
    values ``V`` (S, d_v) into the output (T, d_v).

    Parameters
    ----------
    masked : bool
        Draw the optional mask step (dashed), as used by causal attention.

    Returns
    -------
    matplotlib.figure.Figure
    """
    fig, ax = canvas(6.6, 8.4 if masked else 7.25, scale=0.62)
    q = box(ax, 0.9, 0.95, "Q", kind="tensor", w=0.9, h=0.5)
    k = box(ax, 2.7, 0.95, "K", kind="tensor", w=0.9, h=0.5)
    v = box(ax, 5.4, 0.95, "V", kind="tensor", w=0.9, h=0.5)
    scores = box(ax, 1.8, 2.3, r"$Q K^\top$", kind="op", w=2.0, h=0.5)
    arrow(ax, q.top, (1.3, scores.bottom[1]), "(T, d_k)", side="left", offset=0.18)
    arrow(ax, k.top, (2.3, scores.bottom[1]), "(S, d_k)", side="right", offset=0.18)
    scale = box(ax, 1.8, 3.45, r"$\div \sqrt{d_k}$", kind="op", w=1.4, h=0.5)
    arrow(ax, scores.top, scale.bottom, "(T, S)", side="right")
    last = scale
    if masked:
        mask = box(ax, 1.8, 4.6, "mask (optional)", kind="op", w=2.0, h=0.5, dashed=True)
        arrow(ax, scale.top, mask.bottom, "(T, S)", side="right")
        last = mask
    soft = box(ax, 1.8, last.y + 1.15, "softmax (each row)", kind="op", w=2.3, h=0.5)
    arrow(ax, last.top, soft.bottom, "(T, S)", side="right")
    mix = box(ax, 3.6, soft.y + 1.2, "weights · V", kind="op", w=1.6, h=0.5)
    path(ax, [soft.top, (soft.x, mix.y), mix.left])
    label(ax, (soft.x, (soft.top[1] + mix.y) / 2), "weights (T, S)", side="left")
    path(ax, [v.top, (v.x, mix.y), mix.right])
    label(ax, (v.x, (v.top[1] + mix.y) / 2), "(S, d_v)", side="left")
    out = box(ax, 3.6, mix.y + 1.0, "output", kind="tensor", w=1.3, h=0.5)
    arrow(ax, mix.top, out.bottom, "(T, d_v)", side="right")
    legend(ax, kinds=("tensor", "op"), x=3.5, y=0.25, step=1.4)
    return fig


def multi_head_attention(heads: int = 3):
    """Multi-head self-attention: project, split into heads, attend, concatenate, project.

    ``X`` (T, d_model) goes through three learned projections; each result is
    split into ``h`` heads of width ``d_k = d_model / h``; every head runs
    scaled dot-product attention on its own slice; the heads' outputs are
    concatenated back to (T, d_model) and mixed by the output projection
    ``W^O``.

    Parameters
    ----------
    heads : int
        How many head boxes to draw (2 to 4; the last is labelled ``h``).

    Returns
    -------
    matplotlib.figure.Figure
    """
    if not 2 <= heads <= 4:
        raise ValueError(f"multi_head_attention: heads must be 2 to 4, got {heads}")
    fig, ax = canvas(9.6, 8.9, scale=0.6)
    cx0 = 4.6                                           # the centre column
    x = box(ax, cx0, 0.45, "X", kind="tensor", w=1.0, h=0.5)
    label(ax, x.left, "(T, d_model)", side="left", offset=0.12)
    cols = [cx0 - 2.4, cx0, cx0 + 2.4]
    proj = [box(ax, cx, 1.75, name, kind="layer", w=1.3, h=0.5)
            for cx, name in zip(cols, (r"$W^Q$", r"$W^K$", r"$W^V$"))]
    for p in proj:
        arrow(ax, x.top, p.bottom)
    split = box(ax, cx0, 3.1, "split each into h heads of width d_k = d_model / h",
                kind="op", w=7.4, h=0.5)
    for p, name in zip(proj, "QKV"):
        arrow(ax, p.top, (p.x, split.bottom[1]))
        label(ax, (p.x, (p.top[1] + split.bottom[1]) / 2), f"{name} (T, d_model)",
              side="right", offset=0.08)
    width = 7.0 / heads
    xs = [cx0 - 3.5 + width * (i + 0.5) for i in range(heads)]
    names = [f"head {i + 1}" for i in range(heads - 1)] + ["head h"]
    head_boxes = [box(ax, hx, 4.6, f"attention\n{name}", kind="op", w=width - 0.5,
                      h=0.8) for hx, name in zip(xs, names)]
    for hb in head_boxes:
        arrow(ax, (hb.x, split.top[1]), hb.bottom)
    label(ax, (xs[0], (split.top[1] + head_boxes[0].bottom[1]) / 2),
          "Q, K, V: (T, d_k)", side="right", offset=0.08)
    concat = box(ax, cx0, 6.05, "concatenate the heads", kind="op", w=7.4, h=0.5)
    for hb in head_boxes:
        arrow(ax, hb.top, (hb.x, concat.bottom[1]), "(T, d_k)", side="right",
              offset=0.08)
    w_o = box(ax, cx0, 7.15, r"$W^O$", kind="layer", w=1.3, h=0.5)
    arrow(ax, concat.top, w_o.bottom, "(T, h·d_k) = (T, d_model)", side="right")
    out = box(ax, cx0, 8.35, "output", kind="tensor", w=1.3, h=0.5)
    arrow(ax, w_o.top, out.bottom, "(T, d_model)", side="right")
    return fig


def transformer_block(masked: bool = True):
    """A pre-norm Transformer block on the residual stream.

    The stream ``x`` (B, T, d_model) runs straight through; each of the two
    branches reads it through a LayerNorm, computes an update (multi-head
    self-attention, then the position-wise MLP) and adds it back:
    ``x = x + MHA(LN(x))``, ``x = x + MLP(LN(x))``. A GPT stacks N of them.

    Parameters
    ----------
    masked : bool
        Label the attention as masked (causal), as in a decoder or a GPT;
        ``False`` for an encoder block.

    Returns
    -------
    matplotlib.figure.Figure
    """
    fig, ax = canvas(7.6, 8.4, scale=0.6)
    sx, bx = 2.4, 5.4                                  # stream and branch columns
    x_in = box(ax, sx, 0.4, "x", kind="tensor", w=1.0, h=0.5)
    add1 = op(ax, sx, 3.9, "+")
    add2 = op(ax, sx, 6.7, "+")
    x_out = box(ax, sx, 7.9, "x", kind="tensor", w=1.0, h=0.5)
    group(ax, 0.3, 1.2, 7.3, 7.25, "N ×", title_side="right")
    tap1, tap2 = 1.7, 4.5
    ln1 = box(ax, bx, 2.3, "LayerNorm", kind="layer", w=2.2, h=0.5)
    mha = box(ax, bx, 3.2, ("masked multi-head\nself-attention" if masked else
                            "multi-head\nself-attention"), kind="layer", w=2.6, h=0.75)
    ln2 = box(ax, bx, 5.1, "LayerNorm", kind="layer", w=2.2, h=0.5)
    mlp = box(ax, bx, 6.0, "MLP  d → 4d → d", kind="layer", w=2.6, h=0.5)
    # the residual stream: a straight line through both sums
    arrow(ax, x_in.top, add1.bottom)
    arrow(ax, add1.top, add2.bottom)
    arrow(ax, add2.top, x_out.bottom)
    label(ax, (sx, 0.93), "(B, T, d_model)", side="right", offset=0.12)
    label(ax, (sx - 0.25, 5.3), "residual\nstream", side="left", offset=0.05,
          mono=False)
    for tap, ln, branch, add in ((tap1, ln1, mha, add1), (tap2, ln2, mlp, add2)):
        path(ax, [(sx, tap), (bx, tap), ln.bottom])
        arrow(ax, ln.top, branch.bottom)
        path(ax, [branch.top, (bx, add.y), add.right])
    label(ax, ((sx + bx) / 2, tap1), "read", side="below", offset=0.08, mono=False)
    label(ax, ((sx + bx) / 2, add1.y), "write: add the update", side="above",
          offset=0.08, mono=False)
    return fig


def encoder_decoder():
    """The encoder-decoder Transformer of Vaswani et al. (2017), as stacks of blocks.

    The encoder reads the source tokens (S of them) with unmasked
    self-attention and hands its output, the *memory* (S, d_model), to every
    decoder block. Each decoder block has masked self-attention over the
    target tokens so far, cross-attention whose queries come from the decoder
    and whose keys and values come from the memory, and an MLP. Every
    sublayer sits inside a residual connection with a LayerNorm.

    Returns
    -------
    matplotlib.figure.Figure
    """
    fig, ax = canvas(11.7, 9.3, scale=0.55)
    ex, dx = 3.1, 8.4                                   # encoder and decoder columns
    src = box(ax, ex, 0.45, "source tokens", kind="tensor", w=2.2, h=0.5)
    tgt = box(ax, dx, 0.45, "target tokens, shifted", kind="tensor", w=3.0, h=0.5)
    e_emb = box(ax, ex, 1.75, "embedding + position", kind="layer", w=3.0, h=0.5)
    d_emb = box(ax, dx, 1.75, "embedding + position", kind="layer", w=3.0, h=0.5)
    arrow(ax, src.top, e_emb.bottom, "(S,)", side="right")
    arrow(ax, tgt.top, d_emb.bottom, "(T,)", side="right")
    group(ax, 1.35, 2.5, 4.85, 5.25)
    e_att = box(ax, ex, 3.55, "self-attention", kind="layer", w=2.8, h=0.55)
    e_mlp = box(ax, ex, 4.65, "MLP", kind="layer", w=2.8, h=0.55)
    arrow(ax, e_emb.top, e_att.bottom)
    arrow(ax, e_att.top, e_mlp.bottom)
    memory = box(ax, ex, 6.5, "memory", kind="tensor", w=1.6, h=0.5)
    arrow(ax, e_mlp.top, memory.bottom, "(S, d_model)", side="right")
    group(ax, 6.5, 2.5, 10.3, 6.6)
    d_self = box(ax, dx, 3.55, "masked self-attention", kind="layer", w=3.4, h=0.55)
    d_cross = box(ax, dx, 4.75, "cross-attention", kind="layer", w=3.4, h=0.55)
    d_mlp = box(ax, dx, 5.95, "MLP", kind="layer", w=3.4, h=0.55)
    arrow(ax, d_emb.top, d_self.bottom)
    arrow(ax, d_self.top, d_cross.bottom, "Q", side="right")
    arrow(ax, d_cross.top, d_mlp.bottom)
    path(ax, [memory.right, (5.5, memory.y), (5.5, d_cross.y), d_cross.left])
    label(ax, (5.5, (memory.y + d_cross.y) / 2), "K, V", side="right", offset=0.1)
    head = box(ax, dx, 7.8, "Linear + softmax", kind="layer", w=3.0, h=0.5)
    arrow(ax, d_mlp.top, head.bottom, "(T, d_model)", side="right")
    probs = box(ax, dx, 8.8, "next-token probabilities", kind="tensor", w=3.4, h=0.5)
    arrow(ax, head.top, probs.bottom, "(T, V)", side="right")
    ax.text(1.2, 3.9, "encoder\nblock\n× N", ha="right", va="center",
            fontsize=SHAPE_SIZE + 1, color=GREY)
    ax.text(10.45, 4.55, "decoder\nblock\n× N", ha="left", va="center",
            fontsize=SHAPE_SIZE + 1, color=GREY)
    return fig


def data_parallel():
    """Data parallelism on two ranks: shares of one batch, one all-reduce, one step.

    Each rank holds a whole copy of the model and computes the mean gradient
    ``g_r`` of its share of ``B_r`` samples; the all-reduce gives every rank
    ``g = sum_r (B_r / B) g_r``, the gradient of the whole batch, so all
    ranks take the same optimizer step and stay identical.

    Returns
    -------
    matplotlib.figure.Figure
    """
    fig, ax = canvas(8.6, 7.4, scale=0.6)
    mid = 4.3
    batch = box(ax, mid, 0.45, "global batch of B samples", kind="tensor", w=3.6, h=0.5)
    grads = []
    for r, cx in enumerate((2.15, 6.45)):
        group(ax, cx - 1.85, 1.15, cx + 1.85, 4.75, f"rank {r}")
        share = box(ax, cx, 1.95, f"share: $B_{r}$ samples", kind="tensor", w=2.6, h=0.5)
        model = box(ax, cx, 3.0, "whole model (a copy)", kind="layer", w=2.9, h=0.5)
        grad = box(ax, cx, 4.05, f"$g_{r}$: mean gradient", kind="tensor", w=2.6, h=0.5)
        arrow(ax, batch.top, share.bottom)
        arrow(ax, share.top, model.bottom)
        arrow(ax, model.top, grad.bottom)
        grads.append(grad)
    reduce = box(ax, mid, 5.55, r"all-reduce:  $g = \sum_r\, (B_r / B)\, g_r$",
                 kind="op", w=4.4, h=0.6)
    for grad in grads:
        arrow(ax, grad.top, reduce.bottom)
    step = box(ax, mid, 6.85, "the same optimizer step on every rank", kind="op",
               w=5.0, h=0.5)
    arrow(ax, reduce.top, step.bottom, "g", side="right")
    return fig


def tensor_parallel_mlp():
    """Tensor parallelism: a Transformer MLP cut in two, Megatron-style.

    Device ``r`` holds a column block of ``W_1`` and the matching row block
    of ``W_2``; it computes ``GELU(x W_1^(r)) W_2^(r)`` with no communication,
    because GELU acts on each number separately; one all-reduce sums the two
    partial results, and the second bias is added once. Shapes are for a
    hidden layer of width 4C split in two.

    Returns
    -------
    matplotlib.figure.Figure
    """
    fig, ax = canvas(8.6, 7.7, scale=0.6)
    mid = 4.3
    x = box(ax, mid, 0.45, "x", kind="tensor", w=1.0, h=0.5)
    label(ax, x.left, "(B, T, C)", side="left")
    partials = []
    for r, cx in enumerate((2.15, 6.45)):
        group(ax, cx - 1.85, 1.15, cx + 1.85, 5.1, f"device {r}")
        w1 = box(ax, cx, 1.95, rf"$W_1^{{({r})}}$: half the columns", kind="layer",
                 w=2.9, h=0.55)
        act = box(ax, cx, 3.1, "GELU", kind="op", w=1.2, h=0.5)
        w2 = box(ax, cx, 4.25, rf"$W_2^{{({r})}}$: half the rows", kind="layer",
                 w=2.9, h=0.55)
        arrow(ax, x.top, w1.bottom)
        arrow(ax, w1.top, act.bottom, "(B, T, 2C)", side="right")
        arrow(ax, act.top, w2.bottom, "(B, T, 2C)", side="right")
        partials.append(w2)
    reduce = box(ax, mid, 5.9, "all-reduce: sum the partial results", kind="op", w=4.6,
                 h=0.5)
    for w2 in partials:
        arrow(ax, w2.top, reduce.bottom)
    out = box(ax, mid, 7.15, "y", kind="tensor", w=1.0, h=0.5)
    arrow(ax, reduce.top, out.bottom, "+ second bias: (B, T, C)", side="right")
    return fig


def modern_block():
    """GPT-2's block beside the block of LLaMA-style models, change by change.

    Both are pre-norm blocks on the residual stream. The modern one swaps
    LayerNorm for RMSNorm, multi-head attention with learned positions added
    to the input for grouped-query attention with RoPE on queries and keys,
    and the GELU MLP (d -> 4d -> d) for the SwiGLU MLP (d -> 8d/3 -> d, three
    matrices); it has no biases.

    Returns
    -------
    matplotlib.figure.Figure
    """
    fig, ax = canvas(10.6, 8.3, scale=0.6)
    columns = (
        (0.8, "GPT-2 (2019)", "x + learned positions", "LayerNorm",
         "multi-head\nattention", "MLP, GELU\nd → 4d → d"),
        (6.0, "LLaMA-style (2023)", "x (no positions)", "RMSNorm",
         "grouped-query\nattention, RoPE", "SwiGLU MLP\nd → 8d/3 → d"),
    )
    for sx, title, x_text, norm, attn, mlp in columns:
        bx = sx + 2.35                                 # the branch column
        label(ax, (sx + 1.5, 8.05), title, side="below", offset=0.0, mono=False,
              size=SHAPE_SIZE + 2, color="#222222")
        x_in = box(ax, sx + 0.95, 0.45, x_text, kind="tensor", w=2.7, h=0.5)
        add1, add2 = op(ax, sx, 3.9, "+"), op(ax, sx, 6.5, "+")
        x_out = box(ax, sx, 7.35, "x", kind="tensor", w=0.8, h=0.45)
        arrow(ax, (sx, x_in.top[1]), add1.bottom)
        arrow(ax, add1.top, add2.bottom)
        arrow(ax, add2.top, x_out.bottom)
        for tap, y_norm, y_branch, text, add in ((1.45, 2.1, 3.0, attn, add1),
                                                 (4.45, 5.0, 5.85, mlp, add2)):
            n = box(ax, bx, y_norm, norm, kind="layer", w=2.2, h=0.5)
            b = box(ax, bx, y_branch, text, kind="layer", w=2.6, h=0.75)
            path(ax, [(sx, tap), (bx, tap), n.bottom])
            arrow(ax, n.top, b.bottom)
            path(ax, [b.top, (bx, add.y), add.right])
    group(ax, 0.35, 1.15, 4.95, 6.95, "× N", title_side="right")
    group(ax, 5.55, 1.15, 10.15, 6.95, "× N", title_side="right")
    return fig
