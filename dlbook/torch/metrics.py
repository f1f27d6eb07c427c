"""Metrics for :func:`dlbook.torch.fit` and :func:`~dlbook.torch.evaluate`.

A metric is a function ``metric(output, y) -> float``, the mean over the batch's
samples (so that batches, and ranks under torchrun, combine by weighting with
their sizes). ``"auto"`` picks the metrics that fit the task from the first
batch: accuracy for class targets, none for regression (the loss says it all).
"""

from __future__ import annotations

from collections.abc import Callable

from torch import Tensor

__all__ = ["accuracy", "METRICS", "resolve_metrics", "metrics_for_task"]


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


def metrics_for_task(output, y) -> dict[str, Callable]:
    """The default metrics for one batch: accuracy when y holds class indices
    (integer targets, one fewer dimension than the output), none otherwise."""
    if isinstance(output, Tensor) and isinstance(y, Tensor) and \
            not y.is_floating_point() and not y.is_complex() and \
            output.dim() == y.dim() + 1 and output.shape[:-1] == y.shape:
        return {"accuracy": accuracy}
    return {}


def resolve_metrics(metrics) -> dict[str, Callable] | None:
    """Names, callables or a dict {name: callable} -> {name: callable}.

    Returns None for ``"auto"`` (decided on the first batch by
    :func:`metrics_for_task`).
    """
    if metrics is None:
        return {}
    if isinstance(metrics, str) and metrics == "auto":
        return None
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
