"""Checkpoints: model, optimizer and plain extra values in one file, written
atomically and read back with ``weights_only=True``."""

from __future__ import annotations

import os
from pathlib import Path

import torch
from torch import Tensor, nn

from .device import device as pick_device

__all__ = ["save_checkpoint", "load_checkpoint"]


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


def _model_device(model):
    p = next(model.parameters(), None)
    return p.device if p is not None else pick_device()
