"""LoRA: low-rank adaptation of a frozen Linear layer (Hu et al. 2021).

Fine-tuning changes a pre-trained weight W (out, in) by some update. LoRA keeps
W frozen and learns the update as a product of two thin matrices,

    y = x W^T + b + (alpha / r) * x A^T B^T,    A (r, in), B (out, r),

so a layer trains r * (in + out) numbers instead of in * out. B starts at zero,
so the wrapped layer starts as exactly the pre-trained one; A starts random
(like an nn.Linear weight, as in Microsoft's ``loralib``), so that the gradient
of B is not zero and training can move. After training, ``merge()`` adds
(alpha / r) B A into W: the layer is one Linear again and costs nothing extra
at inference. ``unmerge()`` subtracts it back (exact up to float rounding).

``add_lora(model, r, alpha, target)`` wraps the Linear layers whose names match
``target`` and freezes every other parameter.

Letters in shape comments: N any leading dimensions, in/out the base layer's
in_features/out_features, r the rank.
"""

from __future__ import annotations

import math
import re

import torch
from torch import Tensor, nn

__all__ = ["LoRALinear", "add_lora", "lora_layers"]


def _check_rank(r: int, base: nn.Linear, where: str) -> None:
    if not isinstance(base, nn.Linear):
        raise TypeError(f"{where}: expected an nn.Linear to wrap, got "
                        f"{type(base).__name__}")
    if isinstance(r, bool) or not isinstance(r, int):
        raise TypeError(f"{where}: expected an int rank r, got {r!r}")
    most = min(base.in_features, base.out_features)
    if not 1 <= r <= most:
        raise ValueError(
            f"{where}: expected a rank r in 1..min(in_features, out_features) = "
            f"1..{most} for Linear(in_features={base.in_features}, "
            f"out_features={base.out_features}), got r={r}")


class LoRALinear(nn.Module):
    """A frozen ``nn.Linear`` plus a trainable low-rank update (Hu et al. 2021).

    ``forward(x) = base(x) + (alpha / r) * dropout(x) @ A.T @ B.T``.

    Args:
        base: the pre-trained layer; its weight and bias are frozen
            (``requires_grad=False``) and kept as ``self.base``.
        r: the rank of the update, 1 <= r <= min(in_features, out_features).
        alpha: the update is scaled by ``alpha / r``; default ``alpha = r``
            (scale 1). Fixing alpha while trying several ranks keeps the size of
            the first steps about the same for every r.
        dropout: dropout probability on the input of the low-rank path only.

    Shapes: x (N, in) -> (N, out), like the base layer. Parameters ``lora_A``
    (r, in), initialised like a Linear weight (Kaiming uniform), and ``lora_B``
    (out, r), initialised to zero, so the layer starts equal to ``base``.
    """

    def __init__(self, base: nn.Linear, r: int, alpha: float | None = None,
                 dropout: float = 0.0):
        super().__init__()
        _check_rank(r, base, "LoRALinear")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"LoRALinear: expected dropout in [0, 1), got {dropout}")
        self.base = base
        for p in base.parameters():
            p.requires_grad_(False)
        self.in_features, self.out_features = base.in_features, base.out_features
        self.r = r
        self.alpha = float(r if alpha is None else alpha)
        self.scaling = self.alpha / r
        like = dict(device=base.weight.device, dtype=base.weight.dtype)
        self.lora_A = nn.Parameter(torch.empty(r, self.in_features, **like))
        self.lora_B = nn.Parameter(torch.zeros(self.out_features, r, **like))
        nn.init.kaiming_uniform_(self.lora_A, a=math.sqrt(5))  # nn.Linear's init
        self.lora_dropout = nn.Dropout(dropout)
        self.merged = False

    def delta_weight(self) -> Tensor:
        """The update the adapter adds to the base weight: (alpha / r) B A, (out, in)."""
        return self.scaling * (self.lora_B @ self.lora_A)  # (out, r) @ (r, in)

    def forward(self, x: Tensor) -> Tensor:
        """x (N, in) -> (N, out)."""
        y = self.base(x)  # (N, out)
        if self.merged:  # the update already sits in base.weight
            return y
        # two thin matmuls, never the (out, in) product: r * (in + out) per row
        h = self.lora_dropout(x) @ self.lora_A.T  # (N, r)
        return y + self.scaling * (h @ self.lora_B.T)  # (N, out)

    @torch.no_grad()
    def merge(self) -> None:
        """Add the update into ``base.weight``; forward is then one plain Linear."""
        if self.merged:
            raise RuntimeError("LoRALinear.merge: the update is already merged")
        self.base.weight += self.delta_weight()
        self.merged = True

    @torch.no_grad()
    def unmerge(self) -> None:
        """Subtract the update from ``base.weight`` again (exact up to rounding)."""
        if not self.merged:
            raise RuntimeError("LoRALinear.unmerge: the update is not merged")
        self.base.weight -= self.delta_weight()
        self.merged = False

    def extra_repr(self) -> str:
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"r={self.r}, alpha={self.alpha:g}, merged={self.merged}")


def lora_layers(model: nn.Module) -> dict[str, LoRALinear]:
    """The ``LoRALinear`` modules of ``model``, by qualified name."""
    return {name: m for name, m in model.named_modules() if isinstance(m, LoRALinear)}


def add_lora(model: nn.Module, r: int, alpha: float | None = None,
             target: str = r"attn", dropout: float = 0.0,
             also_train: str | None = None) -> int:
    """Wrap the Linear layers whose names match ``target`` in ``LoRALinear``.

    Every parameter of ``model`` is then frozen except the new ``lora_A`` and
    ``lora_B`` and the parameters whose names match ``also_train`` (a new
    classification head, say). The model is changed in place.

    Args:
        model: any module; layers are found with ``named_modules()``.
        r: rank of every update (at most min(in, out) of each matched layer).
        alpha: scale numerator; each update is scaled by ``alpha / r``
            (default ``alpha = r``).
        target: a regular expression, searched (``re.search``) in each
            ``nn.Linear``'s qualified name, e.g. ``r"attn\\.c_attn"`` or
            ``r"c_attn|c_fc"``. Modules of other types are never wrapped.
        dropout: dropout on the input of each low-rank path.
        also_train: a regular expression; parameters whose qualified names match
            it stay trainable. ``None`` keeps none.

    Returns:
        The number of trainable parameters of ``model`` afterwards (shared
        tensors counted once): r * (in + out) per wrapped layer, plus
        ``also_train``'s.

    Raises:
        ValueError: ``target`` matches no Linear layer (the message lists the
            Linear layers there are), a rank does not fit a matched layer, or a
            matched layer's weight is shared with another module (tied weights:
            merging would change both).
    """
    linears = {name: m for name, m in model.named_modules()
               if isinstance(m, nn.Linear) and name}
    inside = {f"{name}.base" for name in lora_layers(model)}  # already wrapped
    matched = [name for name in linears if re.search(target, name)]
    if not matched:
        shown = ", ".join(list(linears)[:12]) + (", ..." if len(linears) > 12 else "")
        raise ValueError(
            f"add_lora: target {target!r} matches no nn.Linear in "
            f"{type(model).__name__}; expected a pattern found in one of its "
            f"{len(linears)} Linear layers: {shown or 'none'}")
    owners: dict[int, list[str]] = {}  # every name under which a tensor is held
    for pname, p in model.named_parameters(remove_duplicate=False):
        owners.setdefault(id(p), []).append(pname)
    for name in matched:
        layer = linears[name]
        where = f"add_lora: layer {name!r}"
        if name in inside:
            raise ValueError(f"{where} is already the base of a LoRALinear; "
                             f"expected a model without adapters on it")
        _check_rank(r, layer, where)
        shared = [n for n in owners[id(layer.weight)] if n != f"{name}.weight"]
        if shared:
            raise ValueError(
                f"{where}: its weight is shared with {shared[0]!r} (tied weights); "
                f"merging an update would change both. Expected an untied Linear")
    for p in model.parameters():
        p.requires_grad_(False)
    for name in matched:
        parent_name, _, child = name.rpartition(".")
        parent = model.get_submodule(parent_name) if parent_name else model
        setattr(parent, child, LoRALinear(linears[name], r, alpha, dropout))
    if also_train is not None:
        for pname, p in model.named_parameters():
            if re.search(also_train, pname):
                p.requires_grad_(True)
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
