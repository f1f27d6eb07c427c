"""The training loop a reader keeps: ``fit``, ``evaluate``, ``History``,
``ArrayLoader`` and checkpoints.

``fit`` picks the device (cuda, then mps, then cpu), moves the model and each
batch there, uses bf16 autocast on CUDA, clips gradients, evaluates every epoch,
stops early restoring the best weights, shows a progress bar, and returns a
``History`` that plots::

    history = fit(model, (X_train, y_train), (X_test, y_test), epochs=20, lr=1e-3)
    history.plot()
"""

from __future__ import annotations

import contextlib
import copy
import math
import os
import random
import time
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .device import device as pick_device

__all__ = [
    "fit",
    "evaluate",
    "accuracy",
    "History",
    "ArrayLoader",
    "save_checkpoint",
    "load_checkpoint",
]


# ------------------------------------------------------------------ metrics


def accuracy(logits: Tensor, y: Tensor) -> float:
    """Fraction of correct predictions.

    logits (N, C) or (..., C) with class targets y (N,) or (...): argmax over the
    last dimension. Logits of the same shape as y are binary: a logit > 0
    predicts 1.
    """
    if logits.shape == y.shape:
        pred = (logits > 0).to(y.dtype)
    elif logits.shape[:-1] == y.shape:
        pred = logits.argmax(dim=-1)
    else:
        raise ValueError(
            f"accuracy: expected logits (..., C) with targets (...), or both of one "
            f"shape (binary), got logits {tuple(logits.shape)} and targets "
            f"{tuple(y.shape)}"
        )
    return (pred == y).float().mean().item()


METRICS: dict[str, Callable[[Tensor, Tensor], float]] = {"accuracy": accuracy}


def _default_loss(logits: Tensor, y: Tensor) -> Tensor:
    """Cross-entropy over the last dimension: (N, C) or (B, T, C) logits alike."""
    if logits.dim() > 2 and logits.shape[:-1] == y.shape:
        return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1))
    return F.cross_entropy(logits, y)


def _resolve_metrics(metrics) -> dict[str, Callable]:
    if metrics is None:
        return {}
    if isinstance(metrics, dict):  # {name: metric(output, y)}
        return dict(metrics)
    if isinstance(metrics, str) or callable(metrics):
        metrics = (metrics,)
    out = {}
    for m in metrics:
        if isinstance(m, str):
            if m not in METRICS:
                raise ValueError(
                    f"unknown metric {m!r}; known: {', '.join(METRICS)}, or pass a "
                    "callable metric(logits, y) -> float"
                )
            out[m] = METRICS[m]
        elif callable(m):
            out[getattr(m, "__name__", type(m).__name__)] = m
        else:
            raise TypeError(f"a metric is a name or a callable, got {m!r}")
    return out


# ------------------------------------------------------------------ data


class ArrayLoader:
    """Mini-batches from in-memory arrays, indexed on the device.

    A ``DataLoader`` over a ``TensorDataset`` collates every batch in Python on
    the CPU and copies it to the GPU; for data sets that fit in GPU memory it is
    far faster to move everything once and index there. ``ArrayLoader`` does that
    when the arrays take less than half of the free GPU memory, and otherwise
    keeps them on the CPU (batches are then moved as usual).

    X, y: NumPy arrays or tensors with the same first dimension. ``seed`` fixes
    the shuffling order (a new permutation every epoch, the same sequence on
    every run).
    """

    def __init__(self, X, y, batch_size: int = 64, shuffle: bool = False,
                 device=None, seed: int | None = None, drop_last: bool = False):
        X, y = _as_tensor(X, "X"), _as_tensor(y, "y")
        if len(X) != len(y):
            raise ValueError(
                f"ArrayLoader: X and y must have the same length, got X "
                f"{tuple(X.shape)} and y {tuple(y.shape)}"
            )
        if batch_size <= 0:
            raise ValueError(f"ArrayLoader: batch_size must be positive, got "
                             f"{batch_size}")
        self.device = pick_device() if device is None else torch.device(device)
        target = self.device if _fits_on(self.device, X, y) else torch.device("cpu")
        self.X, self.y = X.to(target), y.to(target)  # moved once
        self.batch_size, self.shuffle, self.drop_last = batch_size, shuffle, drop_last
        self.seed = seed
        self._gen = torch.Generator()
        self._gen.manual_seed(seed if seed is not None else
                              int(torch.randint(0, 2**62, (1,)).item()))

    def __len__(self) -> int:
        n = len(self.X)
        if self.drop_last:
            return n // self.batch_size
        return math.ceil(n / self.batch_size)

    def __iter__(self):
        n = len(self.X)
        if self.shuffle:
            order = torch.randperm(n, generator=self._gen).to(self.X.device)
        else:
            order = torch.arange(n, device=self.X.device)
        for i in range(len(self)):
            idx = order[i * self.batch_size:(i + 1) * self.batch_size]
            yield self.X[idx], self.y[idx]

    @property
    def dataset_size(self) -> int:
        return len(self.X)

    def __repr__(self):
        return (f"ArrayLoader({len(self.X)} samples, X {tuple(self.X.shape[1:])} "
                f"{str(self.X.dtype).replace('torch.', '')}, batch_size="
                f"{self.batch_size}, shuffle={self.shuffle}, on {self.X.device})")


def _as_tensor(a, name) -> Tensor:
    if isinstance(a, Tensor):
        return a
    if isinstance(a, np.ndarray):
        return torch.from_numpy(np.ascontiguousarray(a))
    try:
        return torch.as_tensor(np.asarray(a))
    except Exception as e:  # noqa: BLE001 - re-raised with context
        raise TypeError(f"ArrayLoader: {name} must be an array or tensor, got "
                        f"{type(a).__name__}") from e


def _fits_on(dev: torch.device, *tensors: Tensor) -> bool:
    if dev.type != "cuda":
        return True  # cpu, and mps shares memory with the host anyway
    need = sum(t.numel() * t.element_size() for t in tensors)
    free, _ = torch.cuda.mem_get_info(dev)
    return need < 0.5 * free


def _as_loader(data, *, batch_size, shuffle, device, seed, what):
    """A DataLoader, ArrayLoader or any iterable of (x, y) batches passes through;
    a tuple (X, y) of arrays becomes an ArrayLoader."""
    if data is None:
        return None
    if isinstance(data, (tuple, list)) and len(data) == 2 and all(
            isinstance(a, (np.ndarray, Tensor)) for a in data):
        return ArrayLoader(data[0], data[1], batch_size=batch_size, shuffle=shuffle,
                           device=device, seed=seed)
    if isinstance(data, Iterable) and not isinstance(data, (str, bytes, dict)):
        return data
    raise TypeError(
        f"{what}: expected a DataLoader, an ArrayLoader, an iterable of (x, y) "
        f"batches, or a tuple (X, y) of arrays/tensors; got {type(data).__name__}"
    )


def _to(obj, dev):
    if isinstance(obj, Tensor):
        # non_blocking only towards an accelerator: a non-blocking copy to the
        # CPU may still be in flight when the CPU reads the result
        return obj.to(dev, non_blocking=torch.device(dev).type != "cpu")
    if isinstance(obj, (tuple, list)):
        return type(obj)(_to(o, dev) for o in obj)
    return obj


def _split(batch, what):
    if not (isinstance(batch, (tuple, list)) and len(batch) == 2):
        raise TypeError(
            f"{what}: each batch must be a pair (inputs, targets), got "
            f"{type(batch).__name__}"
            + (f" of length {len(batch)}" if isinstance(batch, (tuple, list)) else "")
        )
    return batch


def _forward(model, x):
    out = model(*x) if isinstance(x, (tuple, list)) else model(x)
    # models that return (prediction, extra), like GPT's (logits, loss)
    return out[0] if isinstance(out, (tuple, list)) else out


def _n(y) -> int:
    return len(y) if not isinstance(y, (tuple, list)) else len(y[0])


# ------------------------------------------------------------------ precision


def _amp_dtype(amp, dev: torch.device):
    if amp == "auto":
        if dev.type == "cuda" and torch.cuda.is_bf16_supported():
            return torch.bfloat16
        return None
    if amp in (False, None):
        return None
    if amp is True or amp == "bf16":
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


# ------------------------------------------------------------------ history


class History:
    """Per-epoch records: ``train_loss``, ``val_loss``, metrics, ``time``, ``lr``.

    ``history["val_accuracy"]`` is the list over epochs; ``history.records`` the
    list of dicts; ``best_epoch`` (1-based) is set when early stopping ran.
    """

    def __init__(self, records: list[dict] | None = None):
        self.records: list[dict] = list(records or [])
        self.best_epoch: int | None = None
        self.stopped_early = False

    def append(self, record: dict) -> None:
        self.records.append(dict(record))

    def __len__(self):
        return len(self.records)

    def __getitem__(self, key: str) -> list:
        if not self.records or key not in self.records[0]:
            have = ", ".join(self.keys()) or "nothing yet"
            raise KeyError(f"History has no {key!r}; it records: {have}")
        return [r.get(key) for r in self.records]

    def keys(self) -> list[str]:
        return list(self.records[0]) if self.records else []

    def to_dict(self) -> dict:
        """Plain Python (JSON-serialisable): {key: [value per epoch], ...}."""
        out = {k: self[k] for k in self.keys()}
        out["best_epoch"] = self.best_epoch
        out["stopped_early"] = self.stopped_early
        return out

    def plot(self, axes=None):
        """Loss curves (and metric curves if any). Returns (fig, axes)."""
        import matplotlib.pyplot as plt

        metric_keys = [k for k in self.keys()
                       if k not in ("epoch", "train_loss", "val_loss", "time", "lr")]
        ncols = 2 if metric_keys else 1
        if axes is None:
            fig, axes = plt.subplots(1, ncols, figsize=(5 * ncols, 3.5), squeeze=False)
            axes = axes[0]
        else:
            axes = np.atleast_1d(axes)
            fig = axes[0].figure
        epochs = (self["epoch"] if "epoch" in self.keys()
                  else list(range(1, len(self) + 1)))
        for k in ("train_loss", "val_loss"):
            if k in self.keys() and any(v is not None for v in self[k]):
                axes[0].plot(epochs, self[k], marker="o", ms=3, label=k)
        axes[0].set_xlabel("epoch")
        axes[0].set_ylabel("loss")
        axes[0].legend()
        if metric_keys and len(axes) > 1:
            for k in metric_keys:
                axes[1].plot(epochs, self[k], marker="o", ms=3, label=k)
            axes[1].set_xlabel("epoch")
            axes[1].legend()
        if self.best_epoch is not None:
            for ax in axes:
                ax.axvline(self.best_epoch, color="gray", ls=":", lw=1)
        fig.tight_layout()
        return fig, axes

    def __repr__(self):
        if not self.records:
            return "History(0 epochs)"
        first, last = self.records[0], self.records[-1]
        parts = [f"{len(self)} epochs"]
        for k in self.keys():
            if k in ("epoch", "lr") or last[k] is None:
                continue
            if k == "time":
                parts.append(f"{sum(self['time']):.1f}s")
            elif k.endswith("loss"):
                parts.append(f"{k} {first[k]:.4g} -> {last[k]:.4g}")
            else:
                parts.append(f"{k} {last[k]:.4g}")
        if self.best_epoch is not None:
            parts.append(f"best epoch {self.best_epoch}"
                         + (" (stopped early)" if self.stopped_early else ""))
        return "History(" + ", ".join(parts) + ")"


# ------------------------------------------------------------------ loops


@torch.no_grad()
def evaluate(model: nn.Module, data, loss_fn: Callable | None = None,
             metrics=("accuracy",), device=None, amp="auto",
             batch_size: int = 256) -> dict:
    """Mean loss and metrics over ``data`` in eval mode.

    data as in :func:`fit`. Returns {"loss": ..., metric name: ...}; each value
    is averaged over samples (batches weighted by their size).
    """
    dev = torch.device(device) if device is not None else _model_device(model)
    _check_model_device(model, dev)
    loader = _as_loader(data, batch_size=batch_size, shuffle=False, device=dev,
                        seed=None, what="evaluate")
    loss_fn = loss_fn or _default_loss
    fns = _resolve_metrics(metrics)
    dtype = _amp_dtype(amp, dev)
    was_training = model.training
    model.eval()
    totals = {"loss": 0.0, **{k: 0.0 for k in fns}}
    n = 0
    try:
        for batch in loader:
            x, y = _to(_split(batch, "evaluate"), dev)
            with _autocast(dev, dtype):
                out = _forward(model, x)
                loss = loss_fn(out, y)
            b = _n(y)
            totals["loss"] += loss.item() * b
            for k, f in fns.items():
                totals[k] += float(f(out.float(), y)) * b
            n += b
    finally:
        model.train(was_training)
    if n == 0:
        raise ValueError("evaluate: the data gave no batches")
    return {k: v / n for k, v in totals.items()}


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
    metrics=("accuracy",),
    scheduler=None,
    progress: bool = True,
    seed: int | None = None,
) -> History:
    """Train ``model`` and return its :class:`History`.

    train_data / val_data: a ``DataLoader``, an :class:`ArrayLoader`, any
    iterable of (inputs, targets) batches, or a tuple ``(X, y)`` of arrays or
    tensors (batched here with ``batch_size``, shuffled for training).

    loss_fn(output, y) -> scalar, default cross-entropy over the last dimension.
    optimizer: an optimizer over ``model.parameters()``, or a factory called as
    ``optimizer(model.parameters())`` (e.g. ``functools.partial(torch.optim.SGD,
    lr=0.1)``); default AdamW with ``lr``. scheduler: an LR scheduler, stepped
    once per epoch. device: default :func:`dlbook.torch.device`. amp: 'auto'
    (bf16 autocast on CUDA only), True/'bf16', 'fp16' (with loss scaling) or
    False. grad_clip: clip the global gradient norm to this value.
    early_stopping: patience in epochs without a better ``val_loss``; the best
    weights are restored at the end. metrics: names ('accuracy'), callables
    metric(output, y) -> float, or a dict {name: callable}, computed on the
    validation data (and as a running value on the training batches).
    seed: seeds Python, NumPy and torch so that runs on the CPU repeat exactly.
    """
    if not isinstance(epochs, int) or epochs < 0:
        raise ValueError(f"fit: epochs must be a non-negative int, got {epochs!r}")
    if early_stopping is not None and val_data is None:
        raise ValueError("fit: early_stopping needs val_data to watch the val_loss")
    if seed is not None:
        _seed(seed)
    dev = pick_device() if device is None else torch.device(device)
    model.to(dev)
    train_loader = _as_loader(train_data, batch_size=batch_size, shuffle=True,
                              device=dev, seed=seed, what="fit(train_data)")
    val_loader = _as_loader(val_data, batch_size=max(batch_size, 256), shuffle=False,
                            device=dev, seed=None, what="fit(val_data)")
    if optimizer is None:
        optimizer = torch.optim.AdamW(model.parameters(), lr=lr)
    elif not isinstance(optimizer, torch.optim.Optimizer):
        optimizer = optimizer(model.parameters())
    loss_fn = loss_fn or _default_loss
    fns = _resolve_metrics(metrics)
    dtype = _amp_dtype(amp, dev)
    # float16 has too few exponent bits for small gradients: scale the loss up
    scaler = _grad_scaler(dev) if dtype == torch.float16 else None
    params = [p for p in model.parameters() if p.requires_grad]

    history = History()
    best_loss, best_state, bad_epochs = math.inf, None, 0
    bar = _progress(range(1, epochs + 1), progress)
    for epoch in bar:
        start = time.perf_counter()
        model.train()
        sums = {"loss": 0.0, **{k: 0.0 for k in fns}}
        n = 0
        for batch in train_loader:
            x, y = _to(_split(batch, "fit"), dev)
            with _autocast(dev, dtype):
                out = _forward(model, x)
                loss = loss_fn(out, y)
            if not torch.isfinite(loss):
                raise FloatingPointError(
                    f"fit: the loss became {loss.item()} in epoch {epoch}; lower lr, "
                    "or set grad_clip"
                )
            optimizer.zero_grad(set_to_none=True)
            if scaler is not None:
                scaler.scale(loss).backward()
                scaler.unscale_(optimizer)  # clip the true gradients, not scaled ones
            else:
                loss.backward()
            if grad_clip is not None:
                torch.nn.utils.clip_grad_norm_(params, grad_clip)
            if scaler is not None:
                scaler.step(optimizer)
                scaler.update()
            else:
                optimizer.step()
            b = _n(y)
            n += b
            sums["loss"] += loss.item() * b
            with torch.no_grad():
                for k, f in fns.items():
                    sums[k] += float(f(out.detach().float(), y)) * b
        if n == 0:
            raise ValueError("fit: train_data gave no batches")
        record = {"epoch": epoch, "train_loss": sums["loss"] / n}
        record.update({f"train_{k}": sums[k] / n for k in fns})
        if val_loader is not None:
            ev = evaluate(model, val_loader, loss_fn, fns, dev, amp)
            record["val_loss"] = ev["loss"]
            record.update({f"val_{k}": ev[k] for k in fns})
        record["lr"] = optimizer.param_groups[0]["lr"]
        if scheduler is not None:
            scheduler.step()
        record["time"] = time.perf_counter() - start
        history.append(record)
        if hasattr(bar, "set_postfix"):
            bar.set_postfix({k: f"{v:.4g}" for k, v in record.items()
                             if k not in ("epoch", "time", "lr")})

        if early_stopping is not None:
            if record["val_loss"] < best_loss:
                best_loss, bad_epochs = record["val_loss"], 0
                history.best_epoch = epoch
                best_state = copy.deepcopy(model.state_dict())
            else:
                bad_epochs += 1
                if bad_epochs >= early_stopping:
                    history.stopped_early = True
                    break
    if hasattr(bar, "close"):
        bar.close()
    if best_state is not None:
        model.load_state_dict(best_state)  # the weights of the best epoch
    return history


def _progress(it, enabled):
    if not enabled:
        return it
    from tqdm.auto import tqdm  # a widget in notebooks, a text bar in terminals

    return tqdm(it, desc="epoch", unit="epoch", leave=True)


# ------------------------------------------------------------------ checkpoints

_FORMAT = "dlbook-checkpoint"
_EXPECTED = ("a dlbook checkpoint written by save_checkpoint (a torch.save'd dict "
             "with keys 'format', 'model', 'optimizer', 'extra')")


def save_checkpoint(path, model: nn.Module, optimizer=None, **extra) -> Path:
    """Save model (and optimizer) state plus ``extra`` values to ``path``.

    ``extra`` holds plain values that ``torch.load(weights_only=True)`` accepts:
    numbers, strings, None, tensors, and lists/tuples/dicts of them (epoch=3,
    history=history.to_dict()). Writes to a temporary file first, so a crash never
    leaves half a checkpoint under the real name.
    """
    path = Path(path)
    _check_plain(extra, "extra")
    ckpt = {
        "format": _FORMAT,
        "version": 1,
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict() if optimizer is not None else None,
        "extra": extra,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    torch.save(ckpt, tmp)
    os.replace(tmp, path)
    return path


def _check_plain(obj, where):
    if obj is None or isinstance(obj, (bool, int, float, str, Tensor, torch.dtype)):
        return
    if isinstance(obj, (list, tuple)):
        for i, o in enumerate(obj):
            _check_plain(o, f"{where}[{i}]")
        return
    if isinstance(obj, dict):
        for k, v in obj.items():
            if not isinstance(k, (str, int)):
                raise TypeError(f"save_checkpoint: keys must be str or int, {where} "
                                f"has key {k!r}")
            _check_plain(v, f"{where}[{k!r}]")
        return
    raise TypeError(
        f"save_checkpoint: {where} is a {type(obj).__name__}; checkpoints load with "
        "weights_only=True, so extra values must be numbers, strings, tensors, "
        "None, or lists/tuples/dicts of them"
    )


def load_checkpoint(path, model: nn.Module, optimizer=None, map_location=None,
                    strict: bool = True) -> dict:
    """Load a checkpoint from :func:`save_checkpoint` into model (and optimizer).

    map_location defaults to the model's device. Returns the ``extra`` dict. A
    missing, truncated or foreign file raises an error that names the path and
    what was expected.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"load_checkpoint: no file at {path}; expected "
                                f"{_EXPECTED}")
    if map_location is None:
        map_location = _model_device(model)
    try:
        ckpt = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as e:  # noqa: BLE001 - a damaged file fails in many ways
        # (EOFError, UnpicklingError, BadZipFile, RuntimeError, even KeyError from
        # the weights-only unpickler); all mean the same thing to the reader
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise ValueError(
            f"load_checkpoint: {path} is not a readable checkpoint (truncated, "
            f"corrupted or not written by torch.save); expected {_EXPECTED}. "
            f"torch.load said: {first}"
        ) from e
    if not (isinstance(ckpt, dict) and ckpt.get("format") == _FORMAT
            and "model" in ckpt):
        kind = (f"a dict with keys {sorted(map(str, ckpt))[:6]}"
                if isinstance(ckpt, dict) else f"a {type(ckpt).__name__}")
        raise ValueError(f"load_checkpoint: {path} holds {kind}; expected {_EXPECTED}")
    model.load_state_dict(ckpt["model"], strict=strict)
    if optimizer is not None:
        if ckpt.get("optimizer") is None:
            raise ValueError(f"load_checkpoint: {path} has no optimizer state; it "
                             "was saved without an optimizer")
        optimizer.load_state_dict(ckpt["optimizer"])
    return ckpt.get("extra", {})
