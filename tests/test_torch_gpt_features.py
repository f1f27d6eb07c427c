"""GPT.features: the final hidden states that lm_head reads, for fine-tuning."""

import pytest
import torch

from dlbook.torch.models.gpt import GPT, GPTConfig

pytestmark = pytest.mark.usefixtures("torch_one_thread")


def tiny(**kw):
    cfg = {"block_size": 16, "vocab_size": 23, "n_layer": 2, "n_head": 2,
           "n_embd": 16, "dropout": 0.0, "bias": True}
    cfg.update(kw)
    torch.manual_seed(0)
    return GPT(GPTConfig(**cfg))


def test_lm_head_of_features_equals_the_logits_in_float64():
    m = tiny().eval().double()
    idx = torch.randint(0, 23, (3, 11), generator=torch.Generator().manual_seed(0))
    h = m.features(idx)
    assert h.shape == (3, 11, 16) and h.dtype == torch.float64
    logits, _ = m(idx)
    torch.testing.assert_close(m.lm_head(h), logits, atol=1e-12, rtol=0)


def test_features_are_layer_normalised_and_causal():
    m = tiny(bias=False).eval().double()
    idx = torch.randint(0, 23, (2, 16), generator=torch.Generator().manual_seed(1))
    h = m.features(idx)
    # ln_f at init has gain 1 and no bias: each position has mean 0 and variance
    # v / (v + eps), just under 1 (the residual stream is small at init: std 0.02)
    torch.testing.assert_close(h.mean(-1), torch.zeros(2, 16, dtype=h.dtype),
                               atol=1e-12, rtol=0)
    var = h.var(-1, unbiased=False)
    assert ((0.9 < var) & (var < 1.0)).all()
    # changing the last token changes only the last position's features
    other = idx.clone()
    other[:, -1] = (other[:, -1] + 1) % 23
    h2 = m.features(other)
    torch.testing.assert_close(h2[:, :-1], h[:, :-1], atol=0, rtol=0)
    assert not torch.allclose(h2[:, -1], h[:, -1])


def test_features_carry_gradients_to_every_trainable_parameter():
    m = tiny()
    idx = torch.randint(0, 23, (2, 8))
    m.features(idx).mean(1).pow(2).sum().backward()  # a pooled "classifier" loss
    missing = [n for n, p in m.named_parameters() if p.grad is None]
    assert missing == []


def test_features_errors_name_what_was_expected():
    m = tiny()
    with pytest.raises(ValueError, match=r"idx of shape \(B, T\), got \(17,\)"):
        m.features(torch.zeros(17, dtype=torch.long))
    with pytest.raises(ValueError, match="sequence length 17 exceeds block_size 16"):
        m.features(torch.zeros(1, 17, dtype=torch.long))
