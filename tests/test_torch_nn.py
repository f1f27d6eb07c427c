"""dlbook.torch.nn against torch.nn: same weights -> same outputs and gradients.

Everything in float64 so that agreement to ~1e-10 is meaningful.
"""

import math
from fractions import Fraction

import pytest
import torch
import torch.nn.functional as F

import dlbook.torch.nn as dtnn

pytestmark = pytest.mark.usefixtures("torch_one_thread")

DT = torch.float64
TOL = {"atol": 1e-10, "rtol": 1e-8}


def _close(a, b, what=""):
    assert a.shape == b.shape, f"{what}: {a.shape} != {b.shape}"
    torch.testing.assert_close(a, b, **TOL, msg=lambda m: f"{what}: {m}")


def _flat(out):
    """Nested outputs ((out, (h, c)) or (out, h)) as a flat list of tensors."""
    if isinstance(out, torch.Tensor):
        return [out]
    return [t for o in out if o is not None for t in _flat(o)]


def _compare(mine, ref, inputs, seed=0):
    """Load ref's weights into mine, run both, compare outputs and all gradients."""
    mine.load_state_dict(ref.state_dict())
    g = torch.Generator().manual_seed(seed)
    xs_m = [x.clone().requires_grad_(x.is_floating_point()) for x in inputs]
    xs_r = [x.clone().requires_grad_(x.is_floating_point()) for x in inputs]
    out_m, out_r = _flat(mine(*xs_m)), _flat(ref(*xs_r))
    assert len(out_m) == len(out_r)
    loss_m = loss_r = 0.0
    for k, (a, b) in enumerate(zip(out_m, out_r)):
        _close(a, b, f"output {k}")
        w = torch.randn(a.shape, generator=g, dtype=DT)  # random upstream gradient
        loss_m, loss_r = loss_m + (a * w).sum(), loss_r + (b * w).sum()
    loss_m.backward()
    loss_r.backward()
    for k, (a, b) in enumerate(zip(xs_m, xs_r)):
        if a.grad is not None or b.grad is not None:
            _close(a.grad, b.grad, f"input grad {k}")
    pm, pr = dict(mine.named_parameters()), dict(ref.named_parameters())
    assert sorted(pm) == sorted(pr)
    for name in pr:
        _close(pm[name].grad, pr[name].grad, f"grad of {name}")


def _rand(*shape):
    return torch.randn(*shape, dtype=DT)


# ------------------------------------------------------------------------- RNNs

RNN_CASES = [
    dict(),
    dict(num_layers=2, batch_first=True),
    dict(bidirectional=True),
    dict(num_layers=2, bidirectional=True, bias=False),
]


@pytest.mark.parametrize("kind", ["RNN", "GRU", "LSTM"])
@pytest.mark.parametrize("cfg", RNN_CASES, ids=str)
def test_rnn_layers_match_torch(kind, cfg):
    torch.manual_seed(0)
    ref = getattr(torch.nn, kind)(3, 4, dtype=DT, **cfg)
    mine = getattr(dtnn, kind)(3, 4, dtype=DT, **cfg)
    L, N = 5, 2
    x = _rand(N, L, 3) if cfg.get("batch_first") else _rand(L, N, 3)
    _compare(mine, ref, [x])


@pytest.mark.parametrize("kind", ["RNN", "GRU", "LSTM"])
def test_rnn_layers_with_initial_state_and_unbatched(kind):
    torch.manual_seed(1)
    ref = getattr(torch.nn, kind)(3, 4, num_layers=2, dtype=DT)
    mine = getattr(dtnn, kind)(3, 4, num_layers=2, dtype=DT)
    mine.load_state_dict(ref.state_dict())
    for shape, hshape in [((5, 2, 3), (2, 2, 4)), ((5, 3), (2, 4))]:
        h0 = _rand(*hshape)
        state = (h0, _rand(*hshape)) if kind == "LSTM" else h0
        if kind == "LSTM":
            # the state is a tuple, which _compare does not unpack: compare here
            x = _rand(*shape)
            h = [t.clone().requires_grad_() for t in state]
            hr = [t.clone().requires_grad_() for t in state]
            out_m, (hm, cm) = mine(x, tuple(h))
            out_r, (hrr, cr) = ref(x, tuple(hr))
            _close(out_m, out_r, "output")
            _close(cm, cr, "c_n")
            (out_m.sum() + hm.sum() + 2 * cm.sum()).backward()
            (out_r.sum() + hrr.sum() + 2 * cr.sum()).backward()
            _close(h[0].grad, hr[0].grad, "grad h0")
            _close(h[1].grad, hr[1].grad, "grad c0")
        else:
            _compare(mine, ref, [_rand(*shape), state])


def test_lstm_proj_size_matches_torch():
    torch.manual_seed(0)
    ref = torch.nn.LSTM(3, 5, num_layers=2, proj_size=2, bidirectional=True,
                        dtype=DT)
    mine = dtnn.LSTM(3, 5, num_layers=2, proj_size=2, bidirectional=True, dtype=DT)
    _compare(mine, ref, [_rand(4, 2, 3)])


@pytest.mark.parametrize("kind", ["RNN", "GRU", "LSTM"])
def test_same_seed_same_init_and_keys(kind):
    torch.manual_seed(3)
    ref = getattr(torch.nn, kind)(3, 4, num_layers=2, bidirectional=True)
    torch.manual_seed(3)
    mine = getattr(dtnn, kind)(3, 4, num_layers=2, bidirectional=True)
    sr, sm = ref.state_dict(), mine.state_dict()
    assert list(sr) == list(sm)
    for k in sr:
        assert torch.equal(sr[k], sm[k]), k


@pytest.mark.parametrize("kind", ["RNNCell", "GRUCell", "LSTMCell"])
def test_cells_match_torch(kind):
    torch.manual_seed(0)
    ref = getattr(torch.nn, kind)(3, 4, dtype=DT)
    mine = getattr(dtnn, kind)(3, 4, dtype=DT)
    _compare(mine, ref, [_rand(2, 3)])
    _compare(mine, ref, [_rand(3)])  # unbatched
    h = _rand(2, 4)
    hx = (h, _rand(2, 4)) if kind == "LSTMCell" else h
    x = _rand(2, 3)
    mine_out, ref_out = _flat(mine(x, hx)), _flat(ref(x, hx))
    for a, b in zip(mine_out, ref_out):
        _close(a, b, "cell with state")


def test_rnn_dropout_between_layers_only_in_training():
    torch.manual_seed(0)
    m = dtnn.GRU(3, 8, num_layers=2, dropout=0.5, dtype=DT)
    x = _rand(4, 2, 3)
    m.eval()
    a, b = m(x)[0], m(x)[0]
    assert torch.equal(a, b)
    m.train()
    c = m(x)[0]
    assert not torch.allclose(a, c)


def test_rnn_bad_shapes_say_what_was_expected():
    m = dtnn.LSTM(3, 4)
    with pytest.raises(ValueError, match=r"LSTM: expected input.*I=3.*\(5, 2, 7\)"):
        m(torch.zeros(5, 2, 7))
    with pytest.raises(ValueError, match=r"expected h_0 of shape \(1, 2, 4\)"):
        m(torch.zeros(5, 2, 3), (torch.zeros(1, 3, 4), torch.zeros(1, 2, 4)))
    with pytest.raises(ValueError, match="GRUCell"):
        dtnn.GRUCell(3, 4)(torch.zeros(2, 5))


# -------------------------------------------------------------------- attention


@pytest.mark.parametrize("mask", ["none", "causal", "bool", "float", "bool_bcast"])
def test_sdpa_naive_matches_fused(mask):
    torch.manual_seed(0)
    q, k, v = _rand(2, 3, 5, 4), _rand(2, 3, 6, 4), _rand(2, 3, 6, 7)
    kw = {}
    if mask == "causal":
        kw = {"is_causal": True}
    elif mask == "bool":
        m = torch.rand(5, 6) > 0.3
        m[:, 0] = True  # keep every row attending to something (no NaN rows)
        kw = {"attn_mask": m}
    elif mask == "float":
        kw = {"attn_mask": _rand(5, 6)}
    elif mask == "bool_bcast":
        m = torch.rand(2, 1, 5, 6) > 0.5
        m[..., 0] = True
        kw = {"attn_mask": m}
    args_n = [t.clone().requires_grad_() for t in (q, k, v)]
    args_f = [t.clone().requires_grad_() for t in (q, k, v)]
    yn = dtnn.scaled_dot_product_attention_naive(*args_n, **kw)
    yf = dtnn.scaled_dot_product_attention(*args_f, **kw)
    yt = F.scaled_dot_product_attention(q, k, v, **kw)
    _close(yn, yf, "naive vs fast")
    _close(yf, yt, "fast vs torch")
    w = _rand(*yn.shape)
    (yn * w).sum().backward()
    (yf * w).sum().backward()
    for a, b in zip(args_n, args_f):
        _close(a.grad, b.grad, "grad")


def test_sdpa_naive_is_the_formula_and_causal_rows():
    torch.manual_seed(0)
    q, k, v = _rand(4, 3), _rand(4, 3), _rand(4, 2)
    want = torch.softmax(q @ k.T / math.sqrt(3), dim=-1) @ v
    _close(dtnn.scaled_dot_product_attention_naive(q, k, v), want, "formula")
    y = dtnn.scaled_dot_product_attention_naive(q, k, v, is_causal=True)
    _close(y[0], v[0], "first query sees only the first key")
    with pytest.raises(ValueError, match="not both"):
        dtnn.scaled_dot_product_attention_naive(q, k, v, attn_mask=torch.ones(4, 4,
                                               dtype=torch.bool), is_causal=True)
    # dropout_p=1 drops every weight, as torch does
    assert torch.all(dtnn.scaled_dot_product_attention_naive(q, k, v, dropout_p=1.0)
                     == 0)


MHA_CASES = [
    dict(),
    dict(batch_first=True),
    dict(bias=False),
    dict(kdim=3, vdim=5),
    dict(add_bias_kv=True, add_zero_attn=True),
]


@pytest.mark.parametrize("cfg", MHA_CASES, ids=str)
@pytest.mark.parametrize("avg", [True, False])
def test_mha_matches_torch(cfg, avg):
    torch.manual_seed(0)
    ref = torch.nn.MultiheadAttention(8, 2, dtype=DT, **cfg)
    mine = dtnn.MultiheadAttention(8, 2, dtype=DT, **cfg)
    kd, vd = cfg.get("kdim", 8), cfg.get("vdim", 8)
    L, S, N = 4, 6, 3
    if cfg.get("batch_first"):
        q, k, v = _rand(N, L, 8), _rand(N, S, kd), _rand(N, S, vd)
    else:
        q, k, v = _rand(L, N, 8), _rand(S, N, kd), _rand(S, N, vd)

    class Call(torch.nn.Module):
        def __init__(self, m):
            super().__init__()
            self.m = m

        def forward(self, q, k, v):
            return self.m(q, k, v, average_attn_weights=avg)

    a, b = Call(mine), Call(ref)
    _compare(a, b, [q, k, v])


@pytest.mark.parametrize("mask_kind", ["bool", "float"])
def test_mha_masks_match_torch(mask_kind):
    torch.manual_seed(0)
    ref = torch.nn.MultiheadAttention(8, 2, batch_first=True, dtype=DT)
    mine = dtnn.MultiheadAttention(8, 2, batch_first=True, dtype=DT)
    mine.load_state_dict(ref.state_dict())
    N, L = 3, 5
    x = _rand(N, L, 8)
    causal = torch.ones(L, L, dtype=torch.bool).triu(1)
    pad = torch.zeros(N, L, dtype=torch.bool)
    pad[0, -2:] = True
    pad[2, -1] = True
    per_head = torch.rand(N * 2, L, L) > 0.6
    per_head[..., 0] = False  # key 0 always visible: no all-masked rows
    if mask_kind == "float":
        to_f = lambda m: torch.zeros(m.shape, dtype=DT).masked_fill(m, -1e9)  # noqa
        causal, pad, per_head = to_f(causal), to_f(pad), to_f(per_head)
    for kw in [dict(attn_mask=causal), dict(key_padding_mask=pad),
               dict(attn_mask=causal, key_padding_mask=pad),
               dict(attn_mask=per_head), dict(attn_mask=causal, need_weights=False)]:
        ym, wm = mine(x, x, x, **kw)
        yr, wr = ref(x, x, x, **kw)
        _close(ym, yr, f"output with {sorted(kw)}")
        if wr is None:
            assert wm is None
        else:
            _close(wm, wr, f"weights with {sorted(kw)}")
    # is_causal=True is a hint next to the mask; alone it raises, as torch's
    causal = torch.ones(L, L, dtype=torch.bool).triu(1)
    ym, _ = mine(x, x, x, attn_mask=causal, is_causal=True)
    yr, _ = ref(x, x, x, attn_mask=causal, is_causal=True)
    _close(ym, yr, "is_causal")
    with pytest.raises(RuntimeError, match="is_causal=True .*needs attn_mask"):
        mine(x, x, x, is_causal=True)
    with pytest.raises(RuntimeError, match="Need attn_mask"):
        ref(x, x, x, is_causal=True)
    # torch's fast path takes the hint at its word: with need_weights=False and
    # no padding mask the causal mask is applied whatever attn_mask says
    none = torch.zeros(L, L, dtype=torch.bool)
    for kw in [dict(need_weights=False), dict(need_weights=True),
               dict(need_weights=False, key_padding_mask=pad)]:
        ym, _ = mine(x, x, x, attn_mask=none, is_causal=True, **kw)
        yr, _ = ref(x, x, x, attn_mask=none, is_causal=True, **kw)
        _close(ym, yr, f"is_causal hint with {sorted(kw)}")


def test_mha_unbatched_matches_torch():
    torch.manual_seed(0)
    ref = torch.nn.MultiheadAttention(8, 4, dtype=DT)
    mine = dtnn.MultiheadAttention(8, 4, dtype=DT)
    _compare(mine, ref, [_rand(3, 8), _rand(5, 8), _rand(5, 8)])
    kpm = torch.tensor([False, False, True, False, True])
    q, k, v = _rand(3, 8), _rand(5, 8), _rand(5, 8)
    ym, wm = mine(q, k, v, key_padding_mask=kpm)
    yr, wr = ref(q, k, v, key_padding_mask=kpm)
    _close(ym, yr, "unbatched with padding mask")
    _close(wm, wr, "unbatched weights")
    assert torch.all(wm[:, kpm] == 0)


def test_mha_dropout_only_in_training_and_errors():
    m = dtnn.MultiheadAttention(8, 2, dropout=0.5, batch_first=True, dtype=DT)
    x = _rand(2, 4, 8)
    m.eval()
    assert torch.equal(m(x, x, x)[0], m(x, x, x)[0])
    with pytest.raises(ValueError, match="multiple of num_heads"):
        dtnn.MultiheadAttention(10, 3)
    with pytest.raises(ValueError, match=r"attn_mask of shape \(4, 4\)"):
        m(x, x, x, attn_mask=torch.zeros(3, 3, dtype=torch.bool))
    with pytest.raises(ValueError, match="query with last dimension 8"):
        m(_rand(2, 4, 7), x, x)


# ---------------------------------------------------------- positional encoding


def test_positional_encoding_table():
    pe = dtnn.sinusoidal_positional_encoding(50, 16)
    assert pe.shape == (50, 16)
    assert pe.min() >= -1 and pe.max() <= 1
    # position 0: sin(0)=0 in even columns, cos(0)=1 in odd columns
    assert torch.equal(pe[0, 0::2], torch.zeros(8))
    assert torch.equal(pe[0, 1::2], torch.ones(8))
    # column 0 has frequency 1: PE[p, 0] = sin(p), PE[p, 1] = cos(p)
    p = torch.arange(50, dtype=torch.float64)
    torch.testing.assert_close(pe[:, 0].double(), torch.sin(p), atol=1e-6, rtol=0)
    torch.testing.assert_close(pe[:, 1].double(), torch.cos(p), atol=1e-6, rtol=0)
    # the last pair has frequency 1/10000^(14/16)
    f = 10000 ** (-14 / 16)
    torch.testing.assert_close(pe[7, 14].double(), torch.tensor(math.sin(7 * f),
                               dtype=torch.float64), atol=1e-6, rtol=0)
    # rows are distinct positions
    assert torch.cdist(pe, pe).add(torch.eye(50)).min() > 0.1
    # odd d_model works
    assert dtnn.sinusoidal_positional_encoding(4, 5).shape == (4, 5)


def test_positional_encoding_module():
    m = dtnn.SinusoidalPositionalEncoding(8, max_len=10)
    x = torch.randn(2, 6, 8)
    torch.testing.assert_close(m(x), x + dtnn.sinusoidal_positional_encoding(10, 8)[:6])
    assert len(m.state_dict()) == 0  # a fixed function, not weights
    with pytest.raises(ValueError, match="max_len=10"):
        m(torch.zeros(1, 11, 8))
    with pytest.raises(ValueError, match=r"\(\.\.\., T, 8\)"):
        m(torch.zeros(1, 3, 7))


# -------------------------------------------------------------- Transformer block


def test_transformer_block_matches_torch_encoder_layer():
    torch.manual_seed(0)
    ref = torch.nn.TransformerEncoderLayer(8, 2, dim_feedforward=32, dropout=0.0,
                                           activation="gelu", batch_first=True,
                                           norm_first=True, dtype=DT)
    mine = dtnn.TransformerBlock(8, 2, causal=True).to(DT)
    rename = {"self_attn.": "attn.", "linear1.": "mlp.0.", "linear2.": "mlp.2.",
              "norm1.": "ln1.", "norm2.": "ln2."}
    sd = {}
    for k, v in ref.state_dict().items():
        for a, b in rename.items():
            k = k.replace(a, b) if k.startswith(a) else k
        sd[k] = v
    mine.load_state_dict(sd)
    x1 = _rand(2, 5, 8).requires_grad_()
    x2 = x1.detach().clone().requires_grad_()
    mask = torch.ones(5, 5, dtype=torch.bool).triu(1)
    ym, yr = mine(x1), ref(x2, src_mask=mask)
    _close(ym, yr, "block output")
    ym.pow(2).sum().backward()
    yr.pow(2).sum().backward()
    _close(x1.grad, x2.grad, "input grad")
    # causal: changing the last position leaves earlier outputs alone
    x3 = x1.detach().clone()
    x3[:, -1] += 1.0
    _close(mine(x3)[:, :-1], ym[:, :-1].detach(), "causality")


# ---------------------------------------------------------------- unfold conv


@pytest.mark.parametrize("stride,padding,dilation", [
    (1, 0, 1), (1, 1, 1), (2, 0, 1), (2, 1, 1), ((1, 2), (2, 0), 1), (1, 2, 2),
    (3, 2, 1),
])
def test_conv2d_unfold_matches_conv2d(stride, padding, dilation):
    torch.manual_seed(0)
    x = _rand(2, 3, 9, 8).requires_grad_()
    w = _rand(4, 3, 3, 2).requires_grad_()
    b = _rand(4).requires_grad_()
    y = dtnn.conv2d_unfold(x, w, b, stride, padding, dilation)
    ref_args = [t.detach().clone().requires_grad_() for t in (x, w, b)]
    yr = F.conv2d(*ref_args, stride=stride, padding=padding, dilation=dilation)
    _close(y, yr, "conv output")
    g = _rand(*y.shape)
    (y * g).sum().backward()
    (yr * g).sum().backward()
    for a, r in zip((x, w, b), ref_args):
        _close(a.grad, r.grad, "conv grad")


def test_conv2d_module_matches_torch_and_errors():
    torch.manual_seed(0)
    ref = torch.nn.Conv2d(3, 5, 3, stride=2, padding=1, dtype=DT)
    torch.manual_seed(0)
    mine = dtnn.Conv2d(3, 5, 3, stride=2, padding=1, dtype=DT)
    assert torch.equal(mine.weight, ref.weight) and torch.equal(mine.bias, ref.bias)
    _compare(mine, ref, [_rand(2, 3, 7, 7)])
    _compare(dtnn.Conv2d(3, 5, 3, bias=False, dtype=DT),
             torch.nn.Conv2d(3, 5, 3, bias=False, dtype=DT), [_rand(1, 3, 5, 5)])
    with pytest.raises(ValueError, match=r"Conv2d: expected input \(N, 3, H, W\)"):
        mine(torch.zeros(1, 4, 7, 7, dtype=DT))
    with pytest.raises(ValueError, match="does not fit"):
        dtnn.conv2d_unfold(torch.zeros(1, 1, 2, 2), torch.zeros(1, 1, 3, 3))


# ------------------------------------------------------------------ RoI pooling


def _roi_pool_loops(features, boxes, output_size, scale):
    """Reference: the Caffe/torchvision kernel, one box, bin and cell at a time."""
    ph, pw = output_size
    N, C, H, W = features.shape
    out = torch.zeros(len(boxes), C, ph, pw, dtype=features.dtype)

    def rnd(v):  # C's round(): half away from zero
        return int(math.floor(abs(v) + 0.5)) * (1 if v >= 0 else -1)

    for k, (b, x1, y1, x2, y2) in enumerate(boxes.tolist()):
        xs, ys = rnd(x1 * scale), rnd(y1 * scale)
        xe, ye = rnd(x2 * scale), rnd(y2 * scale)
        rw, rh = max(xe - xs + 1, 1), max(ye - ys + 1, 1)
        for i in range(ph):
            for j in range(pw):
                # bin edges floor(i * len / n) and ceil((i + 1) * len / n), exactly
                h0 = min(max(Fraction(i * rh, ph).__floor__() + ys, 0), H)
                h1 = min(max(Fraction((i + 1) * rh, ph).__ceil__() + ys, 0), H)
                w0 = min(max(Fraction(j * rw, pw).__floor__() + xs, 0), W)
                w1 = min(max(Fraction((j + 1) * rw, pw).__ceil__() + xs, 0), W)
                if h1 <= h0 or w1 <= w0:
                    continue  # empty bin -> 0
                crop = features[int(b), :, h0:h1, w0:w1]
                out[k, :, i, j] = crop.amax(dim=(1, 2))
    return out


def test_roi_pool_hand_computed():
    f = torch.arange(16, dtype=DT).view(1, 1, 4, 4)
    # whole map into 2x2: the max of each quadrant
    y = dtnn.roi_pool(f, torch.tensor([[0, 0, 0, 3, 3]], dtype=DT), 2, 1.0)
    assert y.view(-1).tolist() == [5, 7, 13, 15]
    # a single cell box (x=1, y=2) pools to that cell everywhere
    y = dtnn.roi_pool(f, torch.tensor([[0, 1, 2, 1, 2]], dtype=DT), (2, 2), 1.0)
    assert y.view(-1).tolist() == [9, 9, 9, 9]
    # spatial_scale 0.5: image box (0,0)-(5,3) -> cells x 0..3 (2.5 rounds up), y 0..2
    y = dtnn.roi_pool(f, torch.tensor([[0, 0, 0, 5, 3]], dtype=DT), (1, 2), 0.5)
    assert y.view(-1).tolist() == [9, 11]
    # a box hanging off the map: bins outside are empty and give 0
    y = dtnn.roi_pool(f, torch.tensor([[0, 2, 2, 7, 7]], dtype=DT), 2, 1.0)
    assert y.view(-1).tolist() == [15, 0, 0, 0]
    # 29 cells in 7 bins: the last bin is cells 24..28 and stops at the box's
    # edge (7 * (29 / 7) is just above 29 in float64, and a floating-point ceil
    # would take cell 29 too)
    row = torch.arange(31, dtype=DT).view(1, 1, 1, 31)
    y = dtnn.roi_pool(row, torch.tensor([[0, 0, 0, 28, 0]], dtype=DT), (1, 7), 1.0)
    assert y.view(-1).tolist() == [4, 8, 12, 16, 20, 24, 28]


def test_roi_pool_matches_loop_reference_and_module():
    torch.manual_seed(0)
    f = _rand(2, 3, 12, 10)
    g = torch.Generator().manual_seed(1)
    xy1 = torch.rand(20, 2, generator=g) * 30
    wh = torch.rand(20, 2, generator=g) * 20
    b = torch.randint(0, 2, (20, 1), generator=g).to(DT)
    boxes = torch.cat([b, xy1, xy1 + wh], dim=1)
    boxes[0, 1:] = torch.tensor([-5.0, -5.0, 3.0, 2.0])  # partly outside
    boxes[1, 1:] = torch.tensor([8.0, 8.0, 8.0, 8.0])  # degenerate
    boxes[2, 1:] = torch.tensor([60.0, 1.0, 70.0, 5.0])  # wholly off the map
    for size, scale in [((2, 2), 0.25), ((3, 4), 0.5), ((7, 7), 0.3)]:
        got = dtnn.roi_pool(f, boxes, size, scale)
        _close(got, _roi_pool_loops(f, boxes, size, scale), f"size {size}")
        _close(dtnn.RoIPool(size, scale)(f, boxes), got, "module")
    assert dtnn.roi_pool(f, boxes[:0], 2, 1.0).shape == (0, 3, 2, 2)
    assert "spatial_scale=0.5" in repr(dtnn.RoIPool(2, 0.5))


def test_roi_pool_gradient_goes_to_the_max():
    f = torch.zeros(1, 1, 4, 4, dtype=DT)
    f[0, 0, 1, 2] = 5.0
    f.requires_grad_()
    y = dtnn.roi_pool(f, torch.tensor([[0, 0, 0, 3, 3]], dtype=DT), 1, 1.0)
    y.sum().backward()
    want = torch.zeros(1, 1, 4, 4, dtype=DT)
    want[0, 0, 1, 2] = 1.0
    _close(f.grad, want, "roi grad")


def test_roi_pool_gradients_match_loop_reference():
    """Input gradients equal the reference's, boxes partly and wholly off the map
    included."""
    torch.manual_seed(3)
    g = torch.Generator().manual_seed(4)
    xy1 = torch.rand(13, 2, generator=g) * 40 - 5
    boxes = torch.cat([torch.randint(0, 2, (13, 1), generator=g).to(DT), xy1,
                       xy1 + torch.rand(13, 2, generator=g) * 30], dim=1)
    boxes[0, 1:] = torch.tensor([-20.0, -20.0, -12.0, -12.0])  # wholly off the map
    want_f = _rand(2, 4, 11, 13).requires_grad_()
    want = _roi_pool_loops(want_f, boxes, (3, 5), 0.4)
    w = torch.randn_like(want)
    (want * w).sum().backward()
    f = want_f.detach().clone().requires_grad_()
    got = dtnn.roi_pool(f, boxes, (3, 5), 0.4)
    _close(got, want, "forward")
    assert got[0].abs().sum() == 0  # the box off the map pools to zeros
    (got * w).sum().backward()
    _close(f.grad, want_f.grad, "input gradient")


def test_roi_pool_ties_send_the_gradient_to_one_cell():
    # a constant map: every cell of a bin is its maximum; like the reference
    # kernel, the gradient goes to one of them, not a share to each
    f = torch.ones(1, 2, 6, 6, dtype=DT, requires_grad=True)
    dtnn.roi_pool(f, torch.tensor([[0, 0, 0, 5, 5]], dtype=DT), 3, 1.0).sum().backward()
    assert f.grad.sum() == 2 * 9  # one unit per output value
    assert ((f.grad == 0) | (f.grad == 1)).all() and (f.grad == 1).sum() == 18


def test_roi_pool_matches_torchvision_when_installed():
    tv = pytest.importorskip("torchvision.ops", reason="torchvision not installed")
    torch.manual_seed(0)
    f = torch.randn(2, 3, 12, 10)
    xy1 = torch.rand(15, 2) * 30
    boxes = torch.cat([torch.randint(0, 2, (15, 1)).float(), xy1,
                       xy1 + torch.rand(15, 2) * 20], dim=1)
    for size, scale in [((2, 2), 0.25), ((3, 4), 0.5)]:
        torch.testing.assert_close(dtnn.roi_pool(f, boxes, size, scale),
                                   tv.roi_pool(f, boxes, size, scale))


def test_roi_pool_errors():
    with pytest.raises(ValueError, match=r"boxes \(K, 5\)"):
        dtnn.roi_pool(torch.zeros(1, 1, 4, 4), torch.zeros(3, 4), 2)
    with pytest.raises(ValueError, match=r"batch indices must lie in \[0, 0\]"):
        dtnn.roi_pool(torch.zeros(1, 1, 4, 4), torch.tensor([[1.0, 0, 0, 1, 1]]), 2)
    # on a GPU, CPU boxes with CUDA features; meta stands in for the other device
    with pytest.raises(ValueError, match="boxes are on cpu but features on meta"):
        dtnn.roi_pool(torch.zeros(1, 1, 4, 4, device="meta"),
                     torch.tensor([[0.0, 0, 0, 1, 1]]), 2)


# ---------------------------------------------------------------------- GPU


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_scratch_modules_agree_on_cpu_and_gpu():
    torch.manual_seed(0)
    cuda = torch.device("cuda")
    cases = [
        (dtnn.LSTM(3, 4, num_layers=2, batch_first=True), [_rand(2, 5, 3)]),
        (dtnn.GRU(3, 4, bidirectional=True), [_rand(5, 2, 3)]),
        (dtnn.MultiheadAttention(8, 2, batch_first=True), [_rand(2, 5, 8)] * 3),
        (dtnn.TransformerBlock(8, 2, causal=True), [_rand(2, 5, 8)]),
        (dtnn.Conv2d(3, 4, 3, stride=2, padding=1), [_rand(2, 3, 9, 9)]),
    ]
    for m, xs in cases:
        m = m.to(DT)
        out_cpu = _flat(m(*xs))
        out_gpu = _flat(m.to(cuda)(*[x.to(cuda) for x in xs]))
        for a, b in zip(out_cpu, out_gpu):
            torch.testing.assert_close(a, b.cpu(), atol=1e-9, rtol=1e-7)
    f = _rand(2, 3, 12, 10)
    boxes = torch.tensor([[0, 1, 1, 20, 30], [1, 0, 5, 9, 9]], dtype=DT)
    torch.testing.assert_close(dtnn.roi_pool(f, boxes, 3, 0.5),
                               dtnn.roi_pool(f.to(cuda), boxes.to(cuda), 3, 0.5).cpu())
    q, k, v = (_rand(2, 2, 6, 8).to(cuda) for _ in range(3))
    torch.testing.assert_close(
        dtnn.scaled_dot_product_attention_naive(q, k, v, is_causal=True),
        dtnn.scaled_dot_product_attention(q, k, v, is_causal=True))


def test_roi_pool_benchmark_runs_and_checks_equality(tmp_path, benchmark_module):
    import json

    bench = benchmark_module("roi_pool")
    out = tmp_path / "roi.json"
    threads = torch.get_num_threads()
    try:
        res = bench.main(["--workloads", "book", "--repeats", "1", "--warmup", "0",
                          "--json", str(out)])
    finally:
        torch.set_num_threads(threads)  # the benchmark pins one thread
    saved = json.loads(out.read_text())
    impls = saved["book"]["impls"]
    assert {"dlbook", "masked", "slices"} <= set(impls)
    assert impls["dlbook"]["fwd_ratio"] == 1.0
    for r in impls.values():
        assert r["fwd_ms"] > 0 and r["fwd_bwd_ms"] > 0
    assert res["book"]["impls"]["masked"]["fwd_ms"] == impls["masked"]["fwd_ms"]
    with pytest.raises(SystemExit):
        bench.main(["--workloads", "resnet"])
