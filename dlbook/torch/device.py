"""Pick the fastest available device, the same way in every chapter."""

from __future__ import annotations

import torch


def device(prefer: str | None = None) -> torch.device:
    """Return ``cuda`` if available, then ``mps``, then ``cpu``.

    ``prefer`` forces a device by name (``"cpu"``, ``"cuda"``, ``"cuda:1"``,
    ``"mps"``); asking for one that is not there raises a ``RuntimeError`` that
    says what is available instead of failing later inside a kernel.
    """
    available = ["cpu"]
    if torch.cuda.is_available():
        available.insert(0, "cuda")
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        available.insert(-1, "mps")
    if prefer is None:
        return torch.device(available[0])
    wanted = torch.device(prefer)
    if wanted.type not in available:
        raise RuntimeError(
            f"device({prefer!r}): no {wanted.type} device here; "
            f"available: {', '.join(available)}"
        )
    return wanted
