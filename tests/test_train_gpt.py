"""python -m dlbook.torch.train_gpt: exact resumption, gradient accumulation,
flags, and (slow) two ranks under torchrun."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from dlbook.torch import train_gpt as tg

pytestmark = pytest.mark.usefixtures("torch_one_thread")
ROOT = Path(__file__).resolve().parents[1]

TINY = tg.TrainConfig(n_layer=1, n_head=2, n_embd=32, block_size=16, dropout=0.1,
                      max_chars=60_000, batch_size=6, max_steps=6, warmup_steps=2,
                      eval_interval=0, log_interval=100, save=False, device="cpu")


def run(tmp_path=None, **changes):
    cfg = dataclasses.replace(TINY, **changes)
    if tmp_path is not None:
        cfg = dataclasses.replace(cfg, out_dir=str(tmp_path))
    return tg.train(cfg, log=lambda *a: None)


def same_weights(a, b):
    sa, sb = a.state_dict(), b.state_dict()
    return all(torch.equal(sa[k], sb[k]) for k in sa)


def test_resuming_continues_exactly(tmp_path):
    """6 steps in one go = 4 steps, save, resume, 2 more: the same bits, dropout
    and the cosine schedule included."""
    whole = run()
    first = run(tmp_path, stop_after=4, save=True)
    assert first["step"] == 4 and (tmp_path / "ckpt.pt").is_file()
    assert not same_weights(first["model"], whole["model"])  # the test can fail
    rest = run(tmp_path, resume=True, save=True)
    assert rest["step"] == 6 and rest["losses"] == whole["losses"]
    assert same_weights(rest["model"], whole["model"])


def test_gradient_accumulation_is_the_larger_batch():
    """One batch of 6 = 3 micro-batches of 2 whose gradients add up (dropout off,
    so that the two runs see the same function)."""
    big = run(dropout=0.0, max_steps=3)
    acc = run(dropout=0.0, max_steps=3, grad_accum=3)
    sb, sa = big["model"].state_dict(), acc["model"].state_dict()
    diff = max((sb[k] - sa[k]).abs().max().item() for k in sb)
    assert diff < 1e-5, diff
    assert acc["losses"] == pytest.approx(big["losses"], rel=1e-5)
    uneven = run(dropout=0.0, max_steps=3, grad_accum=4)  # micro-batches 2, 2, 1, 1
    su = uneven["model"].state_dict()
    assert max((sb[k] - su[k]).abs().max().item() for k in sb) < 1e-5


def test_flags_make_the_config():
    cfg = tg.parse_args(["--n-layer", "3", "--lr", "0.01", "--no-save",
                         "--compile", "off", "--out-dir", "x"])
    assert cfg == dataclasses.replace(tg.TrainConfig(), n_layer=3, lr=0.01,
                                      save=False, compile="off", out_dir="x")
    with pytest.raises(ValueError, match="dtype must be auto, float32, bf16 or fp16"):
        tg.parse_args(["--dtype", "half"])
    # warm-up, then a cosine down to min_lr
    cfg = tg.TrainConfig(lr=1.0, min_lr=0.1, warmup_steps=10, max_steps=110)
    assert tg.lr_at(0, cfg) == pytest.approx(0.1) and tg.lr_at(9, cfg) == 1.0
    assert tg.lr_at(60, cfg) == pytest.approx(0.55) and tg.lr_at(110, cfg) == 0.1


@pytest.mark.slow
def test_two_ranks_with_accumulation_equal_one_process(tmp_path):
    """torchrun, 2 gloo ranks x 2 micro-batches = one process with the batch."""
    env = dict(os.environ, OMP_NUM_THREADS="1", DLBOOK_DIST_TIMEOUT="300",
               PYTHONPATH=os.pathsep.join([str(ROOT),
                                           os.environ.get("PYTHONPATH", "")]))
    flags = ["--n-layer", "1", "--n-head", "2", "--n-embd", "32", "--block-size", "16",
             "--max-chars", "60000", "--batch-size", "6", "--max-steps", "3",
             "--eval-interval", "0", "--device", "cpu", "--warmup-steps", "2"]
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone",
           "--nproc_per_node=2", "-m", "dlbook.torch.train_gpt", *flags,
           "--grad-accum", "2", "--out-dir", str(tmp_path)]
    done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.count("saved") == 1  # rank 0 alone prints and saves
    one = run(dropout=0.0, max_steps=3)
    from dlbook.torch.models import GPT, GPTConfig

    two = GPT(GPTConfig(block_size=16, vocab_size=len(one["vocab"]), n_layer=1,
                        n_head=2, n_embd=32))
    from dlbook.torch import load_checkpoint

    extra = load_checkpoint(tmp_path / "ckpt.pt", two)
    assert len(extra["rng"]) == 2  # both ranks' generators
    s1, s2 = one["model"].state_dict(), two.state_dict()
    assert max((s1[k] - s2[k]).abs().max().item() for k in s1) < 1e-5
