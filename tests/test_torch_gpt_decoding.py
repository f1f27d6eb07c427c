"""GPT decoding: KV cache, greedy, top-p, beam search, FLOPs per generated token."""

import itertools

import pytest
import torch
import torch.nn.functional as F
from gpt_helpers import tiny_gpt
from torch.nn.attention import SDPBackend, sdpa_kernel
from torch.utils.flop_counter import FlopCounterMode

from dlbook.torch.models.gpt import (
    KVCache,
    top_k_filter,
    top_p_filter,
)

pytestmark = pytest.mark.usefixtures("torch_one_thread")


tiny = tiny_gpt


@pytest.mark.parametrize("pos_emb", ["learned", "sinusoidal", "rope"])
def test_cached_logits_equal_the_full_forward_in_float64(pos_emb):
    m = tiny(scale=5.0, pos_emb=pos_emb)
    idx = torch.randint(0, 23, (3, 16), generator=torch.Generator().manual_seed(1))
    full, _ = m(idx)  # (3, 16, 23)
    cache = KVCache()
    got = []
    # a prompt of 5, then one token at a time, then a chunk of 3 (which needs the
    # causal band of the past as a mask), then the rest one by one
    chunks = [(0, 5), (5, 6), (6, 7), (7, 10)] + [(t, t + 1) for t in range(10, 16)]
    for lo, hi in chunks:
        logits, _ = m(idx[:, lo:hi], kv_cache=cache)
        assert len(cache) == hi
        got.append(logits)
    torch.testing.assert_close(torch.cat(got, dim=1), full, atol=1e-12, rtol=0)
    assert len(cache.keys) == 2 and cache.keys[0].shape == (3, 2, 16, 8)
    assert "positions=16" in repr(cache)
    with pytest.raises(ValueError, match="after 16 cached positions exceeds "
                                         "block_size 16"):
        m(idx[:, :1], kv_cache=cache)
    # crop back to 10 positions and feed the rest again: the same logits
    cache.crop(10)
    assert len(cache) == 10
    again, _ = m(idx[:, 10:], kv_cache=cache)
    torch.testing.assert_close(again, full[:, 10:], atol=1e-12, rtol=0)
    with pytest.raises(ValueError, match=r"n must lie in \[0, 16\]"):
        cache.crop(17)


@pytest.mark.parametrize("pos_emb", ["learned", "rope"])
def test_greedy_tokens_are_identical_with_and_without_the_cache(pos_emb):
    m = tiny(scale=5.0, pos_emb=pos_emb)
    idx = torch.randint(0, 23, (2, 5), generator=torch.Generator().manual_seed(2))
    # 5 + 30 tokens: past block_size 16 the window slides and the cache is rebuilt
    cached = m.generate(idx, 30, do_sample=False)
    plain = m.generate(idx, 30, do_sample=False, use_cache=False)
    assert torch.equal(cached, plain) and cached.shape == (2, 35)
    for t in range(5, 35):  # and each token is the argmax of a full forward
        logits, _ = m(plain[:, max(0, t - 16):t])
        assert torch.equal(plain[:, t], logits[:, -1].argmax(-1))
    # greedy ignores the generator: nothing is drawn
    g = torch.Generator().manual_seed(0)
    state = g.get_state()
    assert torch.equal(m.generate(idx, 30, do_sample=False, generator=g), cached)
    assert torch.equal(g.get_state(), state)


def test_sampling_with_and_without_the_cache_draws_the_same_tokens():
    m = tiny(scale=3.0)
    idx = torch.randint(0, 23, (4, 3), generator=torch.Generator().manual_seed(3))
    a = m.generate(idx, 25, top_k=5, generator=torch.Generator().manual_seed(4))
    b = m.generate(idx, 25, top_k=5, use_cache=False,
                   generator=torch.Generator().manual_seed(4))
    assert torch.equal(a, b)


def test_top_p_keeps_the_smallest_set_that_reaches_p():
    probs = torch.tensor([[0.05, 0.40, 0.30, 0.20, 0.05],
                          [0.12, 0.08, 0.60, 0.15, 0.05]])
    logits = probs.log()
    kept = {p: top_p_filter(logits, p).isfinite() for p in (0.3, 0.65, 0.85, 0.97)}
    # row 0 ranks 1, 2, 3, {0, 4}; row 1 ranks 2, 3, 0, 1, 4 (no sum lands on a p)
    assert kept[0.3].tolist() == [[0, 1, 0, 0, 0], [0, 0, 1, 0, 0]]
    assert kept[0.65].tolist() == [[0, 1, 1, 0, 0], [0, 0, 1, 1, 0]]
    assert kept[0.85].tolist() == [[0, 1, 1, 1, 0], [1, 0, 1, 1, 0]]
    assert kept[0.97][0].tolist() == [1, 1, 1, 1, 1]  # 0.95 is not enough
    assert kept[0.97][1].tolist() == [1, 1, 1, 1, 1]
    assert torch.equal(top_p_filter(logits, 1.0), logits)
    # kept logits are unchanged; the rest are -inf
    out = top_p_filter(logits, 0.65)
    assert torch.equal(out[kept[0.65]], logits[kept[0.65]])
    assert (out[~kept[0.65]] == float("-inf")).all()
    # works on any leading shape, and top_k keeps ties with the k-th
    assert top_p_filter(logits[None], 0.65).isfinite().equal(kept[0.65][None])
    assert top_k_filter(torch.tensor([3.0, 1.0, 3.0, 2.0]), 1).isfinite().tolist() \
        == [True, False, True, False]


def test_top_p_samples_lie_in_the_nucleus_and_top_p_one_is_plain_sampling():
    m = tiny(scale=3.0)
    idx = torch.randint(0, 23, (3, 6), generator=torch.Generator().manual_seed(5))
    nucleus = top_p_filter(m(idx)[0][:, -1], 0.5).isfinite()  # (3, 23)
    g = torch.Generator().manual_seed(6)
    for _ in range(20):
        nxt = m.generate(idx, 1, top_p=0.5, generator=g)[:, -1]
        assert nucleus[torch.arange(3), nxt].all()
    same = [m.generate(idx, 10, temperature=1.3, generator=torch.Generator()
                       .manual_seed(7), **kw) for kw in ({}, {"top_p": 1.0})]
    assert torch.equal(*same)


def test_decoding_arguments_are_checked():
    m = tiny()
    idx = torch.zeros(1, 3, dtype=torch.long)
    for top_p in (0, 1.5, -0.1):
        with pytest.raises(ValueError, match=r"top_p must lie in \(0, 1\]"):
            m.generate(idx, 1, top_p=top_p)
        with pytest.raises(ValueError, match=r"p must lie in \(0, 1\]"):
            top_p_filter(torch.zeros(3), top_p)
    with pytest.raises(ValueError, match="top_k must be an integer >= 1"):
        m.generate(idx, 1, top_k=0)
    with pytest.raises(ValueError, match="k must be an integer >= 1"):
        top_k_filter(torch.zeros(3), 0)
    with pytest.raises(ValueError, match="max_new_tokens must be an integer >= 0"):
        m.generate(idx, -1)
    with pytest.raises(ValueError, match="do_sample=False"):
        m.generate(idx, 1, temperature=0)
    with pytest.raises(ValueError, match="num_beams must be an integer >= 1"):
        m.beam_search(idx, 2, num_beams=0)
    with pytest.raises(ValueError, match=r"eos_token_id must lie in \[0, "
                                         r"vocab_size=23\)"):
        m.beam_search(idx, 2, num_beams=2, eos_token_id=23)
    with pytest.raises(ValueError, match="T must be >= 1"):
        m.flops_per_generated_token(0)


def sequence_logprob(m, prompt, new):
    """Sum of log p(new tokens | prompt and the new tokens before them)."""
    seq = torch.cat([prompt, torch.tensor(new)])[None]
    logp = F.log_softmax(m(seq)[0][0, :-1], -1)  # (T + n - 1, V)
    T = prompt.numel()
    return sum(logp[T - 1 + i, t].item() for i, t in enumerate(new))


def exhaustive(m, prompt, n, eos=None, length_penalty=1.0):
    """Best sequence over every continuation of at most n tokens, by brute force."""
    V = m.config.vocab_size
    best, best_score = None, float("-inf")
    for new in itertools.product(range(V), repeat=n):
        new = list(new)
        if eos is not None and eos in new:  # ends at its first eos
            new = new[:new.index(eos) + 1]
        score = sequence_logprob(m, prompt, new) / len(new) ** length_penalty
        if score > best_score + 1e-12:
            best, best_score = new, score
    pad = [eos if eos is not None else 0] * (n - len(best))
    return best + pad


def test_a_beam_as_wide_as_every_sequence_finds_the_likeliest_one():
    V, n = 4, 3
    m = tiny(scale=4.0, vocab_size=V, n_embd=8)
    g = torch.Generator().manual_seed(8)
    greedy_was_wrong = 0
    for _ in range(6):
        prompt = torch.randint(0, V, (3,), generator=g)
        want = exhaustive(m, prompt, n)
        for use_cache in (True, False):
            got = m.beam_search(prompt[None], n, num_beams=V**n, use_cache=use_cache)
            assert got[0, 3:].tolist() == want
        greedy = m.generate(prompt[None], n, do_sample=False)[0, 3:].tolist()
        greedy_was_wrong += greedy != want
        # with an end token and a length penalty, over every length up to n
        for lp in (0.0, 1.0):
            want = exhaustive(m, prompt, n, eos=1, length_penalty=lp)
            got = m.beam_search(prompt[None], n, num_beams=V**n, eos_token_id=1,
                                length_penalty=lp)
            assert got[0, 3:].tolist() == want
    assert greedy_was_wrong > 0  # the test can tell beam search from greedy


def test_one_beam_is_greedy_and_wider_beams_never_score_lower():
    m = tiny(scale=4.0)
    idx = torch.randint(0, 23, (2, 4), generator=torch.Generator().manual_seed(9))
    greedy = m.generate(idx, 20, do_sample=False)  # past block_size 16
    assert torch.equal(m.beam_search(idx, 20, num_beams=1), greedy)
    for row in range(2):
        scores = [sequence_logprob(m, idx[row], m.beam_search(
                  idx[row:row + 1], 6, num_beams=b)[0, 4:].tolist()) for b in (1, 8)]
        assert scores[1] >= scores[0] - 1e-12


def count_flops(fn):
    # the math kernel runs attention as matrix products the counter sees
    with sdpa_kernel(SDPBackend.MATH), FlopCounterMode(display=False) as counter:
        fn()
    return counter.get_total_flops()


@pytest.mark.parametrize("T", [1, 2, 7, 16, 20])
def test_flops_per_generated_token_match_a_count(T):
    m = tiny(n_layer=3, n_embd=24, n_head=3)
    idx = torch.randint(0, 23, (1, T), generator=torch.Generator().manual_seed(T))
    plain = count_flops(lambda: m._next_logits(idx, None))
    assert plain == m.flops_per_generated_token(T, use_cache=False)
    cache = KVCache()
    if T > 1:
        m._next_logits(idx[:, :-1], cache)  # the first T - 1 tokens are cached
    cached = count_flops(lambda: m._next_logits(idx, cache))
    assert cached == m.flops_per_generated_token(T, use_cache=True)
    if T <= 16:
        L, C, V = 3, 24, 23
        assert cached == L * (24 * C**2 + 4 * T * C) + 2 * C * V
    else:  # past block_size the cache is rebuilt: no saving
        assert cached == plain == m.flops_per_generated_token(16, use_cache=False)
