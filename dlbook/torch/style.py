"""Neural style transfer after Gatys, Ecker & Bethge (2016), with no download.

Style transfer looks for an image x whose *content* is that of one image and
whose *style* is that of another, by optimising the pixels of x:

* the content loss compares feature maps position by position, so it keeps the
  layout. :func:`content_loss` is the squared error of the maps relative to
  the target's; :func:`block_average` makes the maps coarse first (the role of
  Gatys et al.'s deep ``conv4_2``, whose units see large windows at 1/8 of the
  resolution), so the content fixes where things are and leaves the fine
  pattern free;
* the style loss compares Gram matrices, which forget positions:
  :func:`dlbook.torch.interpret.texture_loss` of
  :func:`dlbook.torch.interpret.gram_matrix`.

:func:`style_transfer` minimises ``content + style_weight * style`` with
L-BFGS, as Gatys et al. did, on pixels written as ``sigmoid(z)`` so that they
stay in (0, 1) without a clamp that would break L-BFGS's memory of curvature.
Any network that maps images to a list of feature maps will do; the book uses
the random multi-scale filters of
:class:`dlbook.torch.interpret.RandomTextureNet` (Ustyuzhaninov et al. 2017;
He, Wang & Hopcroft 2016 ran style transfer with random weights).

Letters: N images, C channels, H, W height and width, k block size.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import Tensor

from .interpret import _check_images, gram_matrix, texture_loss

__all__ = ["block_average", "content_loss", "style_transfer"]


def block_average(features: Tensor, k: int) -> Tensor:
    """Average feature maps over non-overlapping k x k blocks.

    The same as ``torch.nn.functional.avg_pool2d(features, k)`` when k divides
    both sides, written as a reshape so that its backward pass is cheap.

    Args:
        features: feature maps (N, C, H, W); k must divide H and W.
        k: the block size; 1 returns the maps unchanged.

    Returns:
        The block means, (N, C, H // k, W // k).
    """
    _check_images(features, "block_average")
    n, c, h, w = features.shape
    if not isinstance(k, int) or k < 1 or h % k or w % k:
        raise ValueError(
            f"block_average: expected a block size k >= 1 that divides the maps' "
            f"height and width, got k = {k!r} for maps of shape {tuple(features.shape)}"
        )
    blocks = features.reshape(n, c, h // k, k, w // k, k)  # (N, C, H/k, k, W/k, k)
    return blocks.mean(dim=(3, 5))  # (N, C, H/k, W/k)


def content_loss(feats: Sequence[Tensor], target_feats: Sequence[Tensor]) -> Tensor:
    """Relative squared error of feature maps, position by position, averaged over
    layers: the mean over layers of ``||F - T||^2 / ||T||^2``.

    Dividing by the target's energy puts the layers on an equal footing and
    makes the loss 1 for an image whose maps are all zero.

    Args:
        feats: the maps of the image being optimised, one (N, C, H, W) per layer.
        target_feats: the content image's maps, one per layer, of the same shapes
            (or with N = 1, broadcast over the batch).

    Returns:
        A scalar tensor.
    """
    if len(feats) != len(target_feats) or not feats:
        raise ValueError(
            f"content_loss: expected one target map per layer, got {len(feats)} "
            f"layers and {len(target_feats)} target maps"
        )
    total = feats[0].new_zeros(())
    for layer, (f, t) in enumerate(zip(feats, target_feats)):
        if f.shape[1:] != t.shape[1:]:
            raise ValueError(
                f"content_loss: layer {layer}'s maps are {tuple(f.shape)} but its "
                f"target is {tuple(t.shape)}"
            )
        per_image = ((f - t) ** 2).flatten(1).sum(1)  # (N,)
        total = total + per_image.mean() / ((t ** 2).sum() / t.shape[0] + 1e-12)
    return total / len(feats)


def style_transfer(net: Callable[[Tensor], Sequence[Tensor]], content: Tensor,
                   style: Tensor, style_weight: float = 1.0, *, pool: int = 4,
                   steps: int = 80, init: Tensor | None = None
                   ) -> tuple[Tensor, dict[str, list[float]]]:
    """Optimise an image to have ``content``'s layout and ``style``'s textures
    (Gatys, Ecker & Bethge 2016).

    The loss is ``content_loss`` of the maps block-averaged over ``pool`` x
    ``pool`` blocks plus ``style_weight`` times ``texture_loss`` of the Gram
    matrices, both through the same ``net``. The pixels are ``sigmoid(z)`` and
    L-BFGS (strong Wolfe line search, memory 20) optimises ``z``.

    Args:
        net: maps (1, C, H, W) images to a list of feature maps (N, C', H', W').
        content: the content image (1, C, H, W) in [0, 1]; the result has its size.
        style: the style image (1, C, H', W') in [0, 1]; any size.
        style_weight: the weight of the style loss; 0 reconstructs the content.
        pool: the block size of the content maps; 1 compares them pixel by pixel.
        steps: the most evaluations of the loss (forward and backward passes).
        init: the starting image (1, C, H, W), default the content image (Gatys
            et al. started from white noise: pass ``torch.rand`` of the content's
            shape); it is clipped to [0.01, 0.99] so that the sigmoid can be
            inverted.

    Returns:
        The image (1, C, H, W), and a dict with the lists ``"content"``,
        ``"style"`` and ``"total"``: the losses at each evaluation, in order.
    """
    for image, name in ((content, "content"), (style, "style")):
        _check_images(image, "style_transfer")
        if image.shape[0] != 1:
            raise ValueError(
                f"style_transfer: expected one {name} image (1, C, H, W), got "
                f"{tuple(image.shape)}"
            )
    if style.shape[1] != content.shape[1]:
        raise ValueError(
            f"style_transfer: the style image has {style.shape[1]} channels and the "
            f"content image {content.shape[1]}"
        )
    if style_weight < 0 or steps < 1:
        raise ValueError(
            f"style_transfer: expected style_weight >= 0 and steps >= 1, got "
            f"style_weight = {style_weight}, steps = {steps}"
        )
    with torch.no_grad():
        content_maps = [block_average(f, pool) for f in net(content)]
        style_grams = [gram_matrix(f) for f in net(style.to(content))]
    if init is None:
        init = content
    if init.shape != content.shape:
        raise ValueError(
            f"style_transfer: expected init of the content's shape "
            f"{tuple(content.shape)}, got {tuple(init.shape)}"
        )
    z = torch.logit(init.detach().to(content).clamp(0.01, 0.99)).requires_grad_(True)
    history: dict[str, list[Tensor]] = {"content": [], "style": [], "total": []}
    opt = torch.optim.LBFGS([z], lr=1.0, max_iter=steps, max_eval=steps,
                            history_size=20, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        feats = net(torch.sigmoid(z))
        c_loss = content_loss([block_average(f, pool) for f in feats], content_maps)
        s_loss = texture_loss(feats, style_grams)
        loss = c_loss + style_weight * s_loss
        loss.backward()
        for key, value in (("content", c_loss), ("style", s_loss), ("total", loss)):
            history[key].append(value.detach())  # read once at the end: no sync
        return loss

    opt.step(closure)
    image = torch.sigmoid(z).detach()
    return image, {k: torch.stack(v).tolist() for k, v in history.items()}
