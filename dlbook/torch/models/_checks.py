"""Input checks shared by the model zoo.

A wrong input shape inside a deep network surfaces as a matmul error ten layers
down ("mat1 and mat2 shapes cannot be multiplied"); checking at the door lets
the error name the model, the shape it expects and the shape it received.
"""

from __future__ import annotations

import torch

# Letters used in shape specs across the zoo: N batch, C channels, H height,
# W width, L sequence length.


def _fmt(spec) -> str:
    return "(" + ", ".join(str(d) for d in spec) + ")"


def _matches(shape: tuple, spec: tuple) -> bool:
    return len(shape) == len(spec) and all(
        isinstance(want, str) or got == want for got, want in zip(shape, spec)
    )


def check_input(
    x: torch.Tensor,
    model: str,
    spec: tuple | list[tuple],
    *,
    min_size: int | None = None,
    hint: str = "",
) -> None:
    """Raise a ``ValueError`` unless ``x`` has the shape ``spec``.

    ``spec`` mixes ints (that size exactly) and letters (any size), for example
    ``("N", 3, "H", "W")``; a list of such tuples accepts any of them.
    ``min_size`` is the smallest spatial size (every dimension after the
    channel dimension) that survives the model's downsampling. ``hint`` is
    appended to the message (say how to fix it).
    """
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{model}: expected a torch.Tensor, got {type(x).__name__}")
    specs = spec if isinstance(spec, list) else [spec]
    shape = tuple(x.shape)
    ok = any(_matches(shape, s) for s in specs)
    if ok and min_size is not None:
        ok = all(got >= min_size for got in shape[2:])
    if not ok:
        need = " or ".join(_fmt(s) for s in specs)
        if min_size is not None:
            need += f" with every spatial size >= {min_size}"
        msg = f"{model}: expected input of shape {need}, got {_fmt(shape)}"
        raise ValueError(msg + (f"; {hint}" if hint else ""))
