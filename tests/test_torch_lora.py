"""LoRALinear and add_lora: start equal to the base, merge exactly, train only A, B."""

import pytest
import torch
from torch import nn

from dlbook.torch.models import GPT, GPTConfig
from dlbook.torch.nn import LoRALinear, add_lora

F64 = torch.float64


def _gpt(seed=0):
    torch.manual_seed(seed)
    cfg = GPTConfig(block_size=8, vocab_size=11, n_layer=2, n_head=2, n_embd=16)
    return GPT(cfg).double()


def test_starts_equal_to_base_and_merge_round_trips():
    torch.manual_seed(0)
    base = nn.Linear(7, 5).double()
    x = torch.randn(3, 4, 7, dtype=F64)
    reference = base(x)
    lora = LoRALinear(base, r=2, alpha=4.0)
    assert torch.equal(lora(x), reference)  # B = 0: exactly the base layer
    with torch.no_grad():
        lora.lora_B.normal_()
    moved = lora(x)
    assert (moved - reference).abs().max() > 1e-3
    expected = reference + 2.0 * x @ (lora.lora_B @ lora.lora_A).T
    assert torch.allclose(moved, expected, atol=1e-12)
    w0 = base.weight.clone()
    lora.merge()
    assert torch.allclose(lora(x), moved, atol=1e-12)
    assert torch.allclose(base.weight, w0 + lora.delta_weight(), atol=1e-15)
    lora.unmerge()
    assert torch.allclose(base.weight, w0, atol=1e-14)
    assert torch.allclose(lora(x), moved, atol=1e-12)


def test_merge_twice_and_unmerge_unmerged_raise():
    lora = LoRALinear(nn.Linear(4, 4), r=1)
    with pytest.raises(RuntimeError, match="not merged"):
        lora.unmerge()
    lora.merge()
    with pytest.raises(RuntimeError, match="already merged"):
        lora.merge()


def test_merged_gpt_equals_unmerged_gpt():
    gpt = _gpt()
    idx = torch.randint(0, 11, (3, 8))
    before, _ = gpt(idx)
    add_lora(gpt, r=3, alpha=6.0, target=r"c_attn|c_fc")
    assert torch.equal(gpt(idx)[0], before)
    with torch.no_grad():
        for name, p in gpt.named_parameters():
            if name.endswith("lora_B"):
                p.normal_(std=0.5)
    unmerged, _ = gpt(idx)
    assert (unmerged - before).abs().max() > 1e-3
    for m in gpt.modules():
        if isinstance(m, LoRALinear):
            m.merge()
    assert torch.allclose(gpt(idx)[0], unmerged, atol=1e-12)


def test_only_A_and_B_get_gradients_and_count_matches_formula():
    gpt = _gpt()
    n = add_lora(gpt, r=2, target=r"attn\.c_attn")
    # two layers of c_attn, in 16, out 48: r * (in + out) each
    assert n == 2 * 2 * (16 + 48)
    trainable = {name for name, p in gpt.named_parameters() if p.requires_grad}
    assert trainable == {f"transformer.h.{i}.attn.c_attn.lora_{m}"
                         for i in range(2) for m in "AB"}
    idx = torch.randint(0, 11, (2, 8))
    _, loss = gpt(idx, idx)
    loss.backward()
    for name, p in gpt.named_parameters():
        assert (p.grad is not None) == (name in trainable), name
    # at B = 0 the gradient reaches B (A is random), not yet A
    assert gpt.transformer.h[0].attn.c_attn.lora_B.grad.abs().max() > 0
    assert gpt.transformer.h[0].attn.c_attn.lora_A.grad.abs().max() == 0


def test_also_train_keeps_matching_parameters_trainable():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(6, 8), nn.Tanh(), nn.Linear(8, 3))
    n = add_lora(net, r=2, target=r"^0$", also_train=r"^2\.")
    assert n == 2 * (6 + 8) + 8 * 3 + 3


def _fit_delta(delta, r, steps=600):
    """Fit a LoRA update of rank r to the weight change delta by regression."""
    torch.manual_seed(1)
    out, inp = delta.shape
    base = nn.Linear(inp, out, bias=False).double()
    target = nn.Linear(inp, out, bias=False).double()
    with torch.no_grad():
        target.weight.copy_(base.weight + delta)
    lora = LoRALinear(base, r=r)
    opt = torch.optim.Adam([lora.lora_A, lora.lora_B], lr=0.05)
    x = torch.randn(256, inp, dtype=F64)
    for _ in range(steps):
        loss = (lora(x) - target(x)).pow(2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    return (lora.delta_weight() - delta).norm() / delta.norm()


def test_rank_r_update_fits_rank_r_change_but_not_rank_r_plus_1():
    torch.manual_seed(2)
    u, v = torch.randn(10, 3, dtype=F64), torch.randn(3, 8, dtype=F64)
    rank3 = u @ v
    # rank 3 fits a rank-3 change (to optimisation precision) ...
    assert _fit_delta(rank3, r=3) < 1e-3
    # ... but a rank-2 update keeps at least the part beyond the top 2 singular
    # directions (Eckart-Young: the best rank-2 error is sigma_3 / ||delta||)
    s = torch.linalg.svdvals(rank3)
    best = s[2] / s.norm()
    err2 = _fit_delta(rank3, r=2)
    assert err2 > best - 1e-6 and best > 0.05


def test_bad_input_errors_name_layer_expected_and_got():
    gpt = _gpt()
    with pytest.raises(ValueError, match=r"1\.\.16.*got r=0"):
        add_lora(gpt, r=0, target="c_attn")
    with pytest.raises(ValueError, match=r"'transformer\.h\.0\.attn\.c_attn'.*got r=17"):
        add_lora(gpt, r=17, target="c_attn")
    with pytest.raises(ValueError, match=r"matches no nn\.Linear.*c_proj"):
        add_lora(gpt, r=2, target="query")
    with pytest.raises(ValueError, match=r"'lm_head'.*shared with 'transformer\.wte"):
        add_lora(gpt, r=2, target="lm_head")
    with pytest.raises(TypeError, match="expected an nn.Linear"):
        LoRALinear(nn.Conv1d(2, 2, 1), r=1)
    with pytest.raises(ValueError, match="dropout"):
        LoRALinear(nn.Linear(4, 4), r=1, dropout=1.0)
    add_lora(gpt, r=2, target="c_attn")
    with pytest.raises(ValueError, match="already the base of a LoRALinear"):
        add_lora(gpt, r=2, target="c_attn")
    # a failed call changed nothing: the model still has its 2 adapters
    assert sum(isinstance(m, LoRALinear) for m in gpt.modules()) == 2


def test_dropout_only_on_the_lora_path_and_repr():
    torch.manual_seed(0)
    lora = LoRALinear(nn.Linear(5, 4), r=2, dropout=0.5)
    x = torch.randn(64, 5)
    assert torch.equal(lora(x), lora.base(x))  # B = 0: dropout changes nothing
    assert "r=2, alpha=2, merged=False" in repr(lora)
