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


def autocast_dtype(dev) -> torch.dtype | None:
    """The low-precision dtype that autocast should use on ``dev``, or None.

    bf16 on GPUs that compute it natively (compute capability 8.0 and up: A100,
    H100, RTX 30xx and later); fp16, which needs loss scaling, on older CUDA GPUs
    such as the V100 (7.0) and Colab's T4 (7.5). ``torch.cuda.is_bf16_supported()``
    is no guide: it also says yes where bf16 is only emulated, and slow. None
    (full precision) on the CPU and MPS.
    """
    dev = torch.device(dev)
    if dev.type != "cuda":
        return None
    major, _ = torch.cuda.get_device_capability(dev)
    return torch.bfloat16 if major >= 8 else torch.float16
