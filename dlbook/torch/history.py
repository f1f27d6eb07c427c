"""``History``: what :func:`dlbook.torch.fit` records per epoch, and its plot."""

from __future__ import annotations

import numpy as np

__all__ = ["History"]


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
