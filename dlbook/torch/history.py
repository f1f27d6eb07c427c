"""``History``: what :func:`dlbook.torch.fit` records per epoch, and its plot."""

from __future__ import annotations

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
        """Loss curves, and metric curves if any, drawn by
        :func:`dlbook.plot.plot_history`; a dotted line marks the best epoch
        when early stopping ran. Returns (fig, axes)."""
        from dlbook.plot import plot_history

        axes = plot_history(self, axes)
        if self.best_epoch is not None:
            for ax in axes:
                ax.axvline(self.best_epoch, color="gray", ls=":", lw=1)
        fig = axes[0].figure
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
