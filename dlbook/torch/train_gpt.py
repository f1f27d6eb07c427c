"""Train the book's GPT on the standard-library corpus: one CPU, one GPU or many.

    python -m dlbook.torch.train_gpt --max-steps 200              # CPU or one GPU
    python -m dlbook.torch.train_gpt --n-layer 6 --n-head 6 --n-embd 384 \\
        --block-size 256 --batch-size 64 --max-steps 5000         # nanoGPT's size
    torchrun --nproc_per_node=8 -m dlbook.torch.train_gpt --batch-size 512
    python -m dlbook.torch.train_gpt --resume                     # go on from out-dir

One step takes ``batch_size`` windows of ``block_size`` characters, the
*global* batch: under torchrun every rank draws the same windows and trains on
its share (DistributedDataParallel averages the gradients), and with
``grad_accum`` > 1 the batch is cut into that many micro-batches whose
gradients add up before the step. Either way the step is the one that one
process takes on the whole batch, so the number of GPUs and the memory per
step change the speed, not the result.

A checkpoint holds everything the next step depends on: the weights, AdamW's
moments, the schedule, the step, and every random generator (the batch
sampler's, torch's, Python's). Resuming from step k therefore continues
exactly as if training had never stopped. On CUDA the run uses bf16 autocast
where the GPU has native bf16 (fp16 with loss scaling below compute capability
8.0) and ``torch.compile``; rank 0 prints and saves.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import math
import random
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from . import distributed
from .checkpoint import load_checkpoint, save_checkpoint
from .device import autocast_dtype
from .device import device as pick_device

__all__ = ["TrainConfig", "train", "main"]


@dataclass
class TrainConfig:
    """Everything a run depends on; each field is a command-line flag
    (``n_layer`` -> ``--n-layer``)."""

    # model (dlbook.torch.models.GPTConfig); the defaults are the book's small GPT
    n_layer: int = 2
    n_head: int = 4
    n_embd: int = 64
    block_size: int = 64
    dropout: float = 0.0
    # data: the standard-library corpus of dlbook.data (0: all of it)
    max_chars: int = 0
    # optimisation; batch_size is global: over ranks and micro-batches together
    batch_size: int = 32
    grad_accum: int = 1
    max_steps: int = 200  # the schedule's length
    stop_after: int = 0  # end this run after that many steps (0: at max_steps)
    lr: float = 3e-3
    min_lr: float = 3e-4
    warmup_steps: int = 20
    weight_decay: float = 0.1
    grad_clip: float = 1.0
    # evaluation, logging and checkpoints
    eval_interval: int = 100
    eval_batches: int = 10
    log_interval: int = 20
    out_dir: str = "runs/gpt"
    save: bool = True
    resume: bool = False
    # hardware: 'auto' picks cuda, mps or cpu; bf16/fp16 only on CUDA by default
    device: str = "auto"
    dtype: str = "auto"  # 'auto', 'float32', 'bf16' or 'fp16'
    compile: str = "auto"  # 'auto' (on CUDA), 'on' or 'off'
    seed: int = 0

    def __post_init__(self):
        if self.grad_accum < 1 or self.batch_size < 1 or self.max_steps < 0:
            raise ValueError("TrainConfig: batch_size and grad_accum must be >= 1 "
                             f"and max_steps >= 0, got {self}")
        if self.dtype not in ("auto", "float32", "bf16", "fp16"):
            raise ValueError(f"TrainConfig: dtype must be auto, float32, bf16 or "
                             f"fp16, got {self.dtype!r}")
        if self.compile not in ("auto", "on", "off"):
            raise ValueError(f"TrainConfig: compile must be auto, on or off, got "
                             f"{self.compile!r}")


def lr_at(step: int, cfg: TrainConfig) -> float:
    """Linear warm-up, then a cosine from ``lr`` down to ``min_lr`` (nanoGPT)."""
    if step < cfg.warmup_steps:
        return cfg.lr * (step + 1) / cfg.warmup_steps
    span = max(1, cfg.max_steps - cfg.warmup_steps)
    progress = min(1.0, (step - cfg.warmup_steps) / span)
    return cfg.min_lr + 0.5 * (1 + math.cos(math.pi * progress)) * (cfg.lr - cfg.min_lr)


def load_data(cfg: TrainConfig):
    """Token ids of the training and validation text, and the vocabulary."""
    from dlbook.data import CharVocab, load_text_corpus

    split = load_text_corpus(max_chars=cfg.max_chars or None)
    vocab = CharVocab.build(split.corpus.text)
    return vocab.encode(split.train), vocab.encode(split.val), vocab


def _amp(cfg: TrainConfig, dev: torch.device):
    if cfg.dtype == "auto":
        return autocast_dtype(dev)
    return {"float32": None, "bf16": torch.bfloat16, "fp16": torch.float16}[cfg.dtype]


def _autocast(dev, dtype):
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device_type=dev.type, dtype=dtype)


def _rng_state(batch_rng: np.random.Generator) -> dict:
    state = {"torch": torch.get_rng_state(), "python": random.getstate(),
             "batches": batch_rng.bit_generator.state}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _set_rng_state(state: dict, batch_rng: np.random.Generator) -> None:
    torch.set_rng_state(state["torch"].cpu())
    v, internal, gauss = state["python"]
    random.setstate((v, tuple(internal), gauss))
    batch_rng.bit_generator.state = state["batches"]
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([s.cpu() for s in state["cuda"]])


@torch.no_grad()
def estimate_loss(model, ids, cfg, dev, dtype, ranks) -> float:
    """Mean loss over ``eval_batches`` fixed batches (the same every time)."""
    from dlbook.data import get_batch

    model.eval()
    rng = np.random.default_rng(cfg.seed + 1)
    total = n = 0.0
    for _ in range(cfg.eval_batches):
        X, Y = (torch.from_numpy(a) for a in get_batch(ids, cfg.block_size,
                                                       cfg.batch_size, rng))
        x, y, rows, _ = ranks.share(X, Y, cfg.batch_size)
        if rows:
            with _autocast(dev, dtype):
                _, loss = model(x.to(dev), y.to(dev))
            total += loss.item() * rows
            n += rows
    model.train()
    total, n = ranks.sum([total, n])
    return total / n


def train(cfg: TrainConfig, log=print) -> dict:
    """Run ``cfg``; returns the model, the step reached and the loss history.

    Called by ``python -m dlbook.torch.train_gpt`` (and under torchrun, on every
    rank); a notebook or a test may call it directly.
    """
    from dlbook.data import get_batch
    from dlbook.torch.models import GPT, GPTConfig

    train_ids, val_ids, vocab = load_data(cfg)
    dev = pick_device() if cfg.device == "auto" else torch.device(cfg.device)
    with distributed.process_group(dev, who="train_gpt") as ranks:
        dev = ranks.device
        say = log if ranks.is_main else (lambda *a, **k: None)
        torch.manual_seed(cfg.seed)  # the same initial weights on every rank
        model = GPT(GPTConfig(block_size=cfg.block_size, vocab_size=len(vocab),
                              n_layer=cfg.n_layer, n_head=cfg.n_head,
                              n_embd=cfg.n_embd, dropout=cfg.dropout)).to(dev)
        optimizer = model.configure_optimizers(cfg.weight_decay, cfg.lr)
        schedule = torch.optim.lr_scheduler.LambdaLR(
            optimizer, lambda step: lr_at(step, cfg) / cfg.lr)
        dtype = _amp(cfg, dev)
        scaler = torch.amp.GradScaler(dev.type) if dtype == torch.float16 else None
        batch_rng = np.random.default_rng(cfg.seed)  # the same batches on every rank
        torch.manual_seed(cfg.seed + ranks.rank)  # dropout differs between ranks
        random.seed(cfg.seed + ranks.rank)
        step, losses = 0, []
        path = Path(cfg.out_dir) / "ckpt.pt"
        if cfg.resume:
            extra = load_checkpoint(path, model, optimizer, map_location=dev)
            schedule.load_state_dict(extra["schedule"])
            if scaler is not None and extra.get("scaler"):
                scaler.load_state_dict(extra["scaler"])
            step, losses = extra["step"], list(extra["losses"])
            _set_rng_state(extra["rng"][min(ranks.rank, len(extra["rng"]) - 1)],
                           batch_rng)
            say(f"resumed from {path} at step {step}")
        compile_it = cfg.compile == "on" or (cfg.compile == "auto" and
                                             dev.type == "cuda")
        # compile first, then wrap (as nanoGPT does); `model` keeps the weights
        net = ranks.wrap(torch.compile(model) if compile_it else model)
        say(f"{model.num_params():,} parameters, {ranks.world_size} rank(s) on "
            f"{dev}, autocast {dtype}, compile {compile_it}, "
            f"{len(train_ids):,} training characters")

        micro = [len(a) for a in np.array_split(np.arange(cfg.batch_size),
                                                cfg.grad_accum)]
        t0, since = time.perf_counter(), step
        last = min(cfg.max_steps, step + cfg.stop_after) if cfg.stop_after else \
            cfg.max_steps  # a long run split over jobs: --stop-after, --resume
        while step < last:
            X, Y = (torch.from_numpy(a) for a in get_batch(
                train_ids, cfg.block_size, cfg.batch_size, batch_rng))  # (B, T)
            step_loss, start = 0.0, 0
            for i, rows_micro in enumerate(micro):
                xm, ym = X[start:start + rows_micro], Y[start:start + rows_micro]
                start += rows_micro
                x, y, rows, weight = ranks.share(xm, ym, rows_micro)
                # DDP all-reduces on the last micro-batch only
                sync = i == len(micro) - 1 or not ranks.distributed
                with contextlib.nullcontext() if sync else net.no_sync():
                    with _autocast(dev, dtype):
                        _, loss = net(x.to(dev), y.to(dev))
                    # this micro-batch's share of the mean over the global batch
                    scaled = loss * (weight * rows_micro / cfg.batch_size)
                    (scaler.scale(scaled) if scaler else scaled).backward()
                step_loss += loss.item() * rows
            if scaler is not None:
                scaler.unscale_(optimizer)
            torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
            if scaler is not None:
                scaler.step(optimizer)
                scaler.update()
            else:
                optimizer.step()
            optimizer.zero_grad(set_to_none=True)
            lr = optimizer.param_groups[0]["lr"]  # the rate this step used
            schedule.step()
            step += 1
            (step_loss,) = ranks.sum([step_loss])
            losses.append(step_loss / cfg.batch_size)
            if step % cfg.log_interval == 0 or step == last:
                dt = (time.perf_counter() - t0) / (step - since)
                tokens = cfg.batch_size * cfg.block_size / dt
                say(f"step {step}: loss {losses[-1]:.4f}, lr {lr:.2e}, "
                    f"{dt * 1000:.0f} ms/step, "
                    f"{tokens:,.0f} tokens/s")
                t0, since = time.perf_counter(), step
            if cfg.eval_interval and (step % cfg.eval_interval == 0 or step == last):
                val = estimate_loss(model, val_ids, cfg, dev, dtype, ranks)
                say(f"step {step}: validation loss {val:.4f} "
                    f"({val / math.log(2):.3f} bits per character)")
        if cfg.save and step > 0:
            rng = [_rng_state(batch_rng)]
            if ranks.distributed:  # every rank's generators, gathered on rank 0
                gathered = [None] * ranks.world_size
                torch.distributed.all_gather_object(gathered, rng[0])
                rng = gathered
            if ranks.is_main:
                save_checkpoint(
                    path, model, optimizer, step=step, losses=losses, rng=rng,
                    schedule=schedule.state_dict(),
                    scaler=scaler.state_dict() if scaler is not None else None,
                    config=dataclasses.asdict(cfg))
                say(f"saved {path}")
    return {"model": model, "step": step, "losses": losses, "vocab": vocab}


def parse_args(argv=None) -> TrainConfig:
    """``TrainConfig`` from command-line flags: ``--n-layer 6``, ``--no-save``."""
    parser = argparse.ArgumentParser(
        prog="python -m dlbook.torch.train_gpt",
        description=__doc__.split("\n\n")[0])
    for field in dataclasses.fields(TrainConfig):
        flag = "--" + field.name.replace("_", "-")
        if isinstance(field.default, bool):
            parser.add_argument(flag, action=argparse.BooleanOptionalAction,
                                default=field.default)
        else:
            parser.add_argument(flag, type=type(field.default), default=field.default,
                                help=f"default {field.default}")
    return TrainConfig(**vars(parser.parse_args(argv)))


def main(argv=None) -> None:
    """The command line: parse the flags (``argv``, default ``sys.argv``), train."""
    from torch.distributed.elastic.multiprocessing.errors import record

    # record: under torchrun, the failing rank's traceback reaches the summary
    record(train)(parse_args(argv))


if __name__ == "__main__":
    main()
