"""The training loop a reader keeps: ``fit`` and ``evaluate``.

``fit`` picks the device (cuda, then mps, then cpu), moves the model and each
batch there (floating data converted to the model's dtype), uses autocast where
the hardware computes fast in low precision, clips gradients, never applies a
non-finite step, steps the LR scheduler per batch or per epoch, evaluates every
epoch, stops early restoring the best weights, shows a progress bar per batch,
and returns a :class:`~dlbook.torch.history.History` that plots::

    history = fit(model, (X_train, y_train), (X_test, y_test), epochs=20, lr=1e-3)
    history.plot()

Launched by ``torchrun --nproc_per_node=N``, the same call trains N replicas
with DistributedDataParallel (:mod:`dlbook.torch.distributed`) and ends with the
weights one process reaches with the same global batches.

The bookkeeping lives in modules of its own: :mod:`~dlbook.torch.loader`
(``ArrayLoader``), :mod:`~dlbook.torch.metrics`, :mod:`~dlbook.torch.history`
and :mod:`~dlbook.torch.checkpoint`; they are re-exported here.
"""

from __future__ import annotations

import contextlib
import copy
import importlib.util
import math
import random
import sys
import time
from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.optim import lr_scheduler

from . import distributed
from .checkpoint import load_checkpoint, save_checkpoint
from .device import autocast_dtype
from .device import device as pick_device
from .history import History
from .loader import ArrayLoader, _split, _to, as_loader
from .metrics import METRICS, accuracy, metrics_for_task, resolve_metrics

__all__ = [
    "fit",
    "evaluate",
    "accuracy",
    "History",
    "ArrayLoader",
    "save_checkpoint",
    "load_checkpoint",
]
_ = METRICS  # re-exported: train.METRICS is the registry of metric names


def _default_loss(logits: Tensor, y: Tensor) -> Tensor:
    """Cross-entropy over the last dimension: (N, C) or (B, T, C) logits alike."""
    if logits.dim() > 2 and logits.shape[:-1] == y.shape:
        return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1))
    return F.cross_entropy(logits, y)


def _forward(model, x):
    out = model(*x) if isinstance(x, (tuple, list)) else model(x)
    # models that return (prediction, extra), like GPT's (logits, loss)
    return out[0] if isinstance(out, (tuple, list)) else out


def _n(y) -> int:
    return len(y) if not isinstance(y, (tuple, list)) else len(y[0])


def _scalar(loss, who: str) -> Tensor:
    """The batch's loss must be one number: a mean over its samples."""
    if isinstance(loss, Tensor) and loss.dim() == 0:
        return loss
    got = (f"a tensor of shape {tuple(loss.shape)}" if isinstance(loss, Tensor)
           else f"a {type(loss).__name__}")
    raise ValueError(
        f"{who}: loss_fn must return the batch's mean loss as a scalar tensor, "
        f"got {got}. A per-sample loss (reduction='none') needs reducing: use "
        "reduction='mean' (the default), or loss_fn=lambda out, y: "
        "per_sample(out, y).mean()"
    )


# ------------------------------------------------------------------ precision


def _amp_dtype(amp, dev: torch.device):
    """'auto': what the hardware computes natively (bf16 on compute capability
    >= 8.0, fp16 on older CUDA GPUs, nothing on the CPU); True: the same, or bf16
    where 'auto' has nothing (CPU autocast computes bf16)."""
    if amp == "auto":
        return autocast_dtype(dev)
    if amp in (False, None):
        return None
    if amp is True:
        return autocast_dtype(dev) or torch.bfloat16
    if amp == "bf16":
        return torch.bfloat16
    if amp == "fp16":
        return torch.float16
    raise ValueError(f"amp must be 'auto', True, False, 'bf16' or 'fp16', got {amp!r}")


def _grad_scaler(dev):
    if hasattr(torch.amp, "GradScaler"):  # torch >= 2.3
        return torch.amp.GradScaler(dev.type)
    return torch.cuda.amp.GradScaler(enabled=dev.type == "cuda")


def _autocast(dev, dtype):
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device_type=dev.type, dtype=dtype)


def _model_dtype(model) -> torch.dtype | None:
    p = next((p for p in model.parameters() if p.is_floating_point()), None)
    return p.dtype if p is not None else None


# ------------------------------------------------------------------ checks


def _check_finite(loss: float, model: nn.Module, scaler, where: str,
                  ranks: distributed.Ranks) -> None:
    """Refuse a step whose loss or (without a GradScaler) gradient is not finite.

    Called after backward and before the optimizer: the weights are untouched.
    Under torchrun the gradients are already averaged, so every rank sees a nan
    that any one of them produced, and all stop together.
    """
    if not math.isfinite(loss):
        raise FloatingPointError(
            f"fit: the loss became {loss} {where}; the step was not applied. Lower "
            "lr, scale the inputs, check the data for nan, or set grad_clip to "
            "keep the weights from growing"
        )
    if scaler is not None:
        return  # the GradScaler skips steps with inf/nan gradients by design
    named = [(k, p.grad) for k, p in model.named_parameters() if p.grad is not None]
    if not named or torch.stack([torch.isfinite(g).all() for _, g in named]).all():
        return
    bad = [k for k, g in named if not torch.isfinite(g).all()]
    on = " on this rank" if ranks.distributed else ""
    raise FloatingPointError(
        f"fit: the loss was finite ({loss:.4g}{on}) but the gradient of "
        f"{', '.join(bad[:3])}{' and others' if len(bad) > 3 else ''} holds nan or "
        f"inf {where}; the step was not applied, so the weights are unchanged. "
        "Some operation has an infinite slope at these inputs: sqrt or x**0.5 at "
        "0, log at 0, a division by a value near 0, the norm of a zero vector, "
        "or float16 overflow. Run the step under torch.autograd.detect_anomaly() "
        "to name it. grad_clip cannot help: a clipped nan is still nan"
    )


def _fingerprint(obj) -> list[float]:
    if isinstance(obj, Tensor):
        return [float(len(obj)), obj.double().sum().item()]
    if isinstance(obj, (tuple, list)):
        return [v for o in obj for v in _fingerprint(o)]
    return []


def _check_same_batch(x, y, ranks: distributed.Ranks) -> None:
    """Every rank must start the epoch from the same global batch: fit shares it
    out itself. A loader that shuffles differently on each rank (no seed), or a
    DistributedSampler that already splits the data, would train on a mix."""
    mine = _fingerprint((x, y))
    same = float(ranks.broadcast(mine) == mine)
    if ranks.sum([same])[0] < ranks.world_size:  # every rank raises together
        raise ValueError(
            f"fit (rank {ranks.rank} of {ranks.world_size}): the ranks' first "
            "batches differ. Under torchrun every rank must see the same global "
            "batches, and fit gives each rank its share: pass seed= to fit (or a "
            "DataLoader with a seeded generator), and no DistributedSampler"
        )


def _scheduler_interval(scheduler, interval):
    """'step' or 'epoch'. By default OneCycleLR and CyclicLR, which torch's
    documentation steps after every batch, step per batch; the rest per epoch."""
    if interval is None:
        per_batch = (lr_scheduler.OneCycleLR, lr_scheduler.CyclicLR)
        interval = "step" if isinstance(scheduler, per_batch) else "epoch"
    if interval not in ("step", "epoch"):
        raise ValueError(f"fit: scheduler_interval must be 'step' or 'epoch', got "
                         f"{interval!r}")
    if interval == "step" and isinstance(scheduler, lr_scheduler.ReduceLROnPlateau):
        raise ValueError("fit: ReduceLROnPlateau watches the validation loss once "
                         "per epoch; use scheduler_interval='epoch'")
    return interval


def _check_schedule_length(scheduler, interval, epochs, loader):
    total = getattr(scheduler, "total_steps", None)  # OneCycleLR's budget
    if total is None or not hasattr(loader, "__len__"):
        return
    need = epochs * len(loader) if interval == "step" else epochs
    if need > total:
        raise ValueError(
            f"fit: the scheduler was built for total_steps={total}, but fit will "
            f"step it {need} times ({epochs} epochs"
            + (f" x {len(loader)} batches" if interval == "step" else "")
            + f"); build it with total_steps={need}"
        )


# ------------------------------------------------------------------ progress


def _progress_bar(total, enabled: bool):
    """A per-batch bar: a widget in a notebook that has ipywidgets, text
    elsewhere (tqdm.auto without ipywidgets warns 'IProgress not found')."""
    if "ipykernel" in sys.modules and importlib.util.find_spec("ipywidgets"):
        from tqdm.auto import tqdm
    else:
        from tqdm.std import tqdm
    return tqdm(total=total, unit="batch", disable=not enabled, leave=True,
                dynamic_ncols=True)


# ------------------------------------------------------------------ loops


@torch.no_grad()
def _evaluate(model, loader, loss_fn, fns, dev, dtype, ranks) -> dict:
    """Sums over this rank's share of every batch, added up over ranks."""
    was_training = model.training
    model.eval()
    model_dtype = _model_dtype(model)
    totals: dict[str, float] = {}
    n = 0
    try:
        for batch in loader:
            x, y = _to(_split(batch, "evaluate"), dev, model_dtype)
            x, y, rows, _ = ranks.share(x, y, _n(y))
            if rows == 0:
                continue  # no collective inside: a rank may sit a batch out
            with _autocast(dev, dtype):
                out = _forward(model, x)
                loss = _scalar(loss_fn(out, y), "evaluate")
            if fns is None:
                fns = metrics_for_task(out, y)
            totals["loss"] = totals.get("loss", 0.0) + loss.item() * rows
            for k, f in fns.items():
                totals[k] = totals.get(k, 0.0) + float(f(out.float(), y)) * rows
            n += rows
    finally:
        model.train(was_training)
    keys = ["loss", *(fns or {})]
    n, *sums = ranks.sum([n, *(totals.get(k, 0.0) for k in keys)])
    if n == 0:
        raise ValueError("evaluate: the data gave no batches")
    return {k: s / n for k, s in zip(keys, sums)}


def evaluate(model: nn.Module, data, loss_fn: Callable | None = None,
             metrics="auto", device=None, amp="auto", batch_size: int = 256) -> dict:
    """Mean loss and metrics over ``data`` in eval mode.

    data as in :func:`fit`; metrics as in :func:`fit` ('auto': accuracy for
    class targets, none for regression). Returns {"loss": ..., metric name:
    ...}; each value is averaged over samples (batches weighted by their size).
    """
    dev = torch.device(device) if device is not None else _model_device(model)
    _check_model_device(model, dev)
    loader = as_loader(data, batch_size=batch_size, shuffle=False, device=dev,
                       seed=None, what="evaluate")
    return _evaluate(model, loader, loss_fn or _default_loss,
                     resolve_metrics(metrics), dev, _amp_dtype(amp, dev),
                     distributed.Ranks(0, 1, dev))


def _model_device(model):
    p = next(model.parameters(), None)
    return p.device if p is not None else pick_device()


def _same_device(a: torch.device, b: torch.device) -> bool:
    # "cuda" and "cuda:0" name the same GPU when 0 is the current one
    if a.type != b.type:
        return False
    if a.index is None or b.index is None:
        current = torch.cuda.current_device() if a.type == "cuda" else 0
        return (a.index if a.index is not None else current) == \
            (b.index if b.index is not None else current)
    return a.index == b.index


def _check_model_device(model, dev):
    """``evaluate`` sends the batches to ``dev`` and never moves the model, so the
    model must already be there."""
    p = next(model.parameters(), None)
    if p is not None and not _same_device(p.device, dev):
        raise ValueError(
            f"evaluate: the model's parameters are on {p.device} but device={dev}; "
            f"move the model first (model.to({str(dev)!r})) or leave device=None "
            "to evaluate where the model is"
        )


def _seed(seed):
    try:
        from dlbook.utils import seed_everything
    except ImportError:  # pragma: no cover - utils ships with dlbook
        random.seed(seed)
        np.random.seed(seed % 2**32)
        torch.manual_seed(seed)
    else:
        seed_everything(seed)


def _is_arrays(data) -> bool:
    return isinstance(data, (tuple, list)) and len(data) == 2 and all(
        isinstance(a, (np.ndarray, Tensor)) for a in data)



def _loaders(train_data, val_data, batch_size, dev, seed, ranks):
    """Training and validation loaders; arrays are shuffled in the same order on
    every rank (fit shares each global batch out itself)."""
    loader_seed = seed
    if seed is None and _is_arrays(train_data):
        loader_seed = ranks.broadcast(int(torch.randint(0, 2**62, (1,)).item()))
    train = as_loader(train_data, batch_size=batch_size, shuffle=True, device=dev,
                      seed=loader_seed, what="fit(train_data)")
    val = as_loader(val_data, batch_size=max(batch_size, 256), shuffle=False,
                    device=dev, seed=None, what="fit(val_data)")
    return train, val

class _Step:
    """One optimisation step on one batch, the body of the training loop:
    forward (under autocast), backward (scaled for fp16), refuse a non-finite
    loss or gradient, clip, step the optimizer, and step a per-batch scheduler.
    """

    def __init__(self, model, optimizer, loss_fn, dev, amp_dtype, ranks, grad_clip,
                 scheduler):
        self.model, self.optimizer, self.loss_fn = model, optimizer, loss_fn
        self.net = ranks.wrap(model)  # DistributedDataParallel under torchrun
        self.dev, self.amp_dtype, self.ranks = dev, amp_dtype, ranks
        self.grad_clip, self.scheduler = grad_clip, scheduler
        # float16 has too few exponent bits for small gradients: scale the loss up
        self.scaler = _grad_scaler(dev) if amp_dtype == torch.float16 else None
        self.model_dtype = _model_dtype(model)
        self.params = [p for p in model.parameters() if p.requires_grad]

    def __call__(self, batch, epoch: int, i: int):
        """Returns (output, targets, loss value, rows this rank computed)."""
        ranks, scaler, opt = self.ranks, self.scaler, self.optimizer
        x, y = _to(_split(batch, "fit"), self.dev, self.model_dtype)
        if i == 1 and ranks.distributed:
            _check_same_batch(x, y, ranks)
        x, y, rows, weight = ranks.share(x, y, _n(y))
        with _autocast(self.dev, self.amp_dtype):
            out = _forward(self.net, x)
            loss = _scalar(self.loss_fn(out, y), "fit")
        opt.zero_grad(set_to_none=True)
        # weight: this rank's share of the global mean (1 alone)
        scaled = loss * weight if weight != 1.0 else loss
        (scaler.scale(scaled) if scaler is not None else scaled).backward()
        if scaler is not None:
            scaler.unscale_(opt)  # clip true gradients, not scaled ones
        value = loss.item()
        _check_finite(value, self.model, scaler, f"in epoch {epoch}, batch {i}", ranks)
        if self.grad_clip is not None:
            torch.nn.utils.clip_grad_norm_(self.params, self.grad_clip)
        if scaler is not None:
            scaler.step(opt)
            scaler.update()
        else:
            opt.step()
        if self.scheduler is not None:
            self.scheduler.step()
        return out, y, value, rows


def _train_epoch(step: _Step, loader, fns, epoch: int, bar):
    """One pass over the training data: ({"train_loss": ..., metrics}, fns),
    each a mean over the samples of every rank."""
    sums: dict[str, float] = {}
    n = 0
    for i, batch in enumerate(loader, 1):
        out, y, value, rows = step(batch, epoch, i)
        if fns is None:
            fns = metrics_for_task(out, y)  # decided on the first batch
        if rows:
            sums["loss"] = sums.get("loss", 0.0) + value * rows
            with torch.no_grad():
                for k, f in fns.items():
                    sums[k] = sums.get(k, 0.0) + float(f(out.detach().float(), y)) * rows
        n += rows
        bar.set_postfix(loss=f"{value:.4g}", refresh=False)
        bar.update(1)
    keys = ["loss", *(fns or {})]
    n, *totals = step.ranks.sum([n, *(sums.get(k, 0.0) for k in keys)])
    if n == 0:
        raise ValueError("fit: train_data gave no batches")
    return {f"train_{k}": s / n for k, s in zip(keys, totals)}, fns


def _step_per_epoch(scheduler, record: dict) -> None:
    """ReduceLROnPlateau is given the validation loss (the training loss
    without validation data); other schedulers step as they are."""
    if isinstance(scheduler, lr_scheduler.ReduceLROnPlateau):
        scheduler.step(record.get("val_loss", record["train_loss"]))
    else:
        scheduler.step()


class _EarlyStopping:
    """Stop after ``patience`` epochs without a better ``val_loss``; keep a copy
    of the best weights and put them back at the end."""

    def __init__(self, patience: int | None):
        self.patience, self.best, self.bad, self.state = patience, math.inf, 0, None

    def stop(self, record: dict, model, history: History) -> bool:
        if self.patience is None:
            return False
        if record["val_loss"] < self.best:
            self.best, self.bad = record["val_loss"], 0
            history.best_epoch = record["epoch"]
            self.state = copy.deepcopy(model.state_dict())
            return False
        self.bad += 1
        history.stopped_early = self.bad >= self.patience
        return history.stopped_early

    def restore(self, model) -> None:
        if self.state is not None:
            model.load_state_dict(self.state)  # the weights of the best epoch


def fit(
    model: nn.Module,
    train_data,
    val_data=None,
    *,
    epochs: int,
    loss_fn: Callable | None = None,
    optimizer=None,
    lr: float = 1e-3,
    batch_size: int = 64,
    device=None,
    amp="auto",
    grad_clip: float | None = None,
    early_stopping: int | None = None,
    metrics="auto",
    scheduler=None,
    scheduler_interval: str | None = None,
    progress: bool = True,
    seed: int | None = None,
) -> History:
    """Train ``model`` and return its :class:`History`.

    train_data / val_data: a ``DataLoader``, an :class:`ArrayLoader`, any
    iterable of (inputs, targets) batches, or a tuple ``(X, y)`` of arrays or
    tensors (batched here with ``batch_size``, shuffled for training). Floating
    inputs and targets are converted to the model's dtype.

    loss_fn(output, y) -> the batch's mean loss (a scalar), default
    cross-entropy over the last dimension. optimizer: an optimizer over
    ``model.parameters()``, or a factory called as
    ``optimizer(model.parameters())`` (e.g. ``functools.partial(torch.optim.SGD,
    lr=0.1)``); default AdamW with ``lr``. scheduler: an LR scheduler, stepped
    per batch or per epoch as ``scheduler_interval`` says ('step' or 'epoch';
    default 'step' for OneCycleLR and CyclicLR, 'epoch' for the others);
    ReduceLROnPlateau is given the validation loss (the training loss without
    val_data). device: default :func:`dlbook.torch.device`. amp: 'auto' (bf16
    autocast on GPUs with native bf16, fp16 with loss scaling on older GPUs,
    none on the CPU), True (the same, bf16 on the CPU), 'bf16', 'fp16' or
    False. grad_clip: clip the global gradient norm to this value. A step whose
    loss or gradient is not finite is never applied: fit raises
    FloatingPointError, weights unchanged. early_stopping: patience in epochs
    without a better ``val_loss``; the best weights are restored at the end.
    metrics: 'auto' (accuracy for class targets, none for regression), names
    ('accuracy'), callables metric(output, y) -> float (a mean over the
    samples), or a dict {name: callable}, computed on the validation data (and
    as a running value on the training batches). progress: a per-batch bar.
    seed: seeds Python, NumPy and torch so that runs on the CPU repeat exactly.

    Under ``torchrun`` (``WORLD_SIZE`` > 1) fit joins the process group (gloo
    on the CPU, nccl on CUDA, one GPU per rank) and leaves it at the end, wraps
    the model in DistributedDataParallel, gives each rank its share of every
    global batch (``batch_size`` stays the global batch), weights the gradients
    so that each step is the one-process step, sums the metrics over ranks, and
    shows the bar on rank 0 only; every rank returns the same history. The
    weights then match a one-process run with the same seed to float32
    rounding, for models without batch statistics or dropout (BatchNorm
    normalises each rank's share; use SyncBatchNorm to share statistics).
    """
    if not isinstance(epochs, int) or epochs < 0:
        raise ValueError(f"fit: epochs must be a non-negative int, got {epochs!r}")
    if early_stopping is not None and val_data is None:
        raise ValueError("fit: early_stopping needs val_data to watch the val_loss")
    interval = _scheduler_interval(scheduler, scheduler_interval)
    fns = resolve_metrics(metrics)  # None: decided on the first batch
    dev = pick_device() if device is None else torch.device(device)
    with distributed.process_group(dev) as ranks:
        dev = ranks.device  # cuda:LOCAL_RANK under torchrun
        if seed is not None:
            _seed(seed)
        model.to(dev)
        train_loader, val_loader = _loaders(train_data, val_data, batch_size, dev,
                                            seed, ranks)
        if optimizer is None:
            optimizer = torch.optim.AdamW(model.parameters(), lr=lr)
        elif not isinstance(optimizer, torch.optim.Optimizer):
            optimizer = optimizer(model.parameters())
        _check_schedule_length(scheduler, interval, epochs, train_loader)
        step = _Step(model, optimizer, loss_fn or _default_loss, dev,
                     _amp_dtype(amp, dev), ranks, grad_clip,
                     scheduler if interval == "step" else None)
        history, stopper = History(), _EarlyStopping(early_stopping)
        steps = len(train_loader) if hasattr(train_loader, "__len__") else None
        bar = _progress_bar(epochs * steps if steps is not None else None,
                            progress and ranks.is_main)
        try:
            for epoch in range(1, epochs + 1):
                start = time.perf_counter()
                bar.set_description(f"epoch {epoch}/{epochs}")
                lr_used = optimizer.param_groups[0]["lr"]
                model.train()
                train, fns = _train_epoch(step, train_loader, fns, epoch, bar)
                record = {"epoch": epoch, **train}
                if val_loader is not None:
                    ev = _evaluate(model, val_loader, step.loss_fn, fns, dev,
                                   step.amp_dtype, ranks)
                    record.update({f"val_{k}": v for k, v in ev.items()})
                record["lr"] = lr_used
                if scheduler is not None and interval == "epoch":
                    _step_per_epoch(scheduler, record)
                record["time"] = time.perf_counter() - start
                record = ranks.broadcast(record)  # rank 0's clock on every rank
                history.append(record)
                bar.set_postfix({k: f"{v:.4g}" for k, v in record.items()
                                 if k not in ("epoch", "time", "lr")})
                if stopper.stop(record, model, history):
                    break
        finally:
            bar.close()
        stopper.restore(model)
        return history
