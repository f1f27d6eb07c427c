"""Looking inside a trained CNN: feature maps, saliency, adversarial examples and
texture statistics.

* :func:`feature_maps` records the outputs of named layers with forward hooks;
* :func:`saliency` is the input-gradient map of Simonyan, Vedaldi & Zisserman
  (2014), ``|d score / d x|`` maximised over the colour channels;
* :func:`class_activation_map` (CAM, Zhou et al. 2016) weights the last
  convolutional maps by the classifier's weights of a class, and
  :func:`grad_cam` (Selvaraju et al. 2017) by the mean gradient of the class
  score, which works at any layer;
* :func:`fgsm` is the fast gradient sign method of Goodfellow, Shlens & Szegedy
  (2015), ``x' = clip(x + eps * sign(grad_x L), 0, 1)``;
* :func:`gram_matrix`, :func:`texture_loss`, :class:`RandomTextureNet` and
  :func:`synthesize_texture` are texture synthesis after Gatys, Ecker & Bethge
  (2015), with the random multi-scale filters of Ustyuzhaninov et al. (2017)
  in place of a pretrained VGG.

Letters: N images, C channels, H, W height and width, K classes.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = [
    "RandomTextureNet",
    "class_activation_map",
    "grad_cam",
    "feature_maps",
    "fgsm",
    "gram_matrix",
    "saliency",
    "synthesize_texture",
    "texture_loss",
]


def _check_images(x, who: str) -> None:
    if not isinstance(x, Tensor):
        raise TypeError(f"{who}: expected a torch.Tensor, got {type(x).__name__}")
    if x.dim() != 4:
        raise ValueError(
            f"{who}: expected images (N, C, H, W), got shape {tuple(x.shape)}"
        )
    if not x.is_floating_point():
        raise TypeError(f"{who}: expected floating-point images, got {x.dtype}")


# ------------------------------------------------------------ feature maps


def feature_maps(model: nn.Module, x: Tensor, names: Sequence[str]
                 ) -> dict[str, Tensor]:
    """Run ``model(x)`` without gradients and return the outputs of the submodules
    called ``names`` (as in ``model.named_modules()``), detached, in that order.

    Hooks are removed afterwards, even if the forward pass raises.
    """
    modules = dict(model.named_modules())
    missing = [n for n in names if n not in modules]
    if missing:
        raise KeyError(
            f"feature_maps: no submodule named {missing}; expected names from "
            f"model.named_modules(): {[n for n in modules if n]}"
        )
    out: dict[str, Tensor] = {}
    handles = []
    for name in names:
        def hook(module, inputs, output, name=name):
            out[name] = output.detach()
        handles.append(modules[name].register_forward_hook(hook))
    try:
        with torch.no_grad():
            model(x)
    finally:
        for h in handles:
            h.remove()
    return {n: out[n] for n in names}


# ----------------------------------------------------------------- saliency


def saliency(model: nn.Module, x: Tensor, target: Tensor | None = None) -> Tensor:
    """Saliency map: how much a small change of each pixel moves the class score.

    x (N, C, H, W) images; target (N,) class indices, default the model's own
    prediction. The score is the unnormalised logit of the target class
    (Simonyan et al. 2014), not its softmax probability. Returns (N, H, W): the
    absolute input gradient, maximised over the C channels. The model's
    parameters' ``.grad`` is left untouched, and so is its train/eval mode.
    """
    _check_images(x, "saliency")
    x = x.detach().clone().requires_grad_(True)
    with torch.enable_grad():
        logits = model(x)  # (N, K)
        if logits.dim() != 2 or logits.shape[0] != x.shape[0]:
            raise ValueError(
                f"saliency: expected the model to return logits (N, K) with "
                f"N = {x.shape[0]}, got {tuple(logits.shape)}"
            )
        if target is None:
            target = logits.argmax(dim=1)
        target = torch.as_tensor(target, device=logits.device)
        if target.shape != (x.shape[0],):
            raise ValueError(
                f"saliency: expected target (N,) = ({x.shape[0]},), got "
                f"{tuple(target.shape)}"
            )
        # the sum of per-image scores: image i's score depends on x[i] only;
        # autograd.grad with inputs=x leaves the parameters' .grad untouched
        score = logits.gather(1, target.long()[:, None]).sum()
        (grad,) = torch.autograd.grad(score, x)
    return grad.abs().amax(dim=1)  # (N, H, W)


# ------------------------------------------------------------ CAM, Grad-CAM


def _submodule(model: nn.Module, name: str, who: str) -> nn.Module:
    modules = dict(model.named_modules())
    if name not in modules:
        raise KeyError(
            f"{who}: no submodule named {name!r}; expected a name from "
            f"model.named_modules(): {[n for n in modules if n]}"
        )
    return modules[name]


def _targets(target, logits: Tensor, who: str) -> Tensor:
    if target is None:
        return logits.argmax(dim=1)
    target = torch.as_tensor(target, device=logits.device).long()
    if target.shape != (logits.shape[0],):
        raise ValueError(
            f"{who}: expected target (N,) = ({logits.shape[0]},), got "
            f"{tuple(target.shape)}"
        )
    return target


def class_activation_map(model: nn.Module, x: Tensor, target: Tensor | None = None,
                         layer: str = "relu3", classifier: str = "fc") -> Tensor:
    """Class activation map (Zhou, Khosla, Lapedriza, Oliva & Torralba 2016).

    For a network that ends in global pooling of the maps ``A_k`` of ``layer``
    followed by the linear ``classifier``, the map of class c is
    ``sum_k W[c, k] * A_k`` (bias left out): where in the image the evidence
    for c lies. With global *average* pooling its mean over positions plus the
    bias is the logit exactly. x (N, C, H, W); target (N,) classes, default the
    prediction. Returns (N, h, w) at the layer's resolution, not rectified.
    """
    _check_images(x, "class_activation_map")
    fc = _submodule(model, classifier, "class_activation_map")
    if not isinstance(fc, nn.Linear):
        raise TypeError(f"class_activation_map: {classifier!r} must be an nn.Linear, "
                        f"got {type(fc).__name__}")
    maps = feature_maps(model, x, [layer])[layer]  # (N, K, h, w)
    if maps.dim() != 4 or maps.shape[1] != fc.in_features:
        raise ValueError(
            f"class_activation_map: {layer!r} gives {tuple(maps.shape)}, expected "
            f"(N, {fc.in_features}, h, w) to match {classifier!r}'s inputs"
        )
    with torch.no_grad():
        target = _targets(target, model(x), "class_activation_map")
        weights = fc.weight[target]  # (N, K)
        return torch.einsum("nk,nkhw->nhw", weights, maps)


def grad_cam(model: nn.Module, x: Tensor, layer: str, target: Tensor | None = None,
             ) -> Tensor:
    """Grad-CAM (Selvaraju et al. 2017): ``ReLU(sum_k alpha_k * A_k)`` with
    ``alpha_k`` the mean over positions of ``d score_c / d A_k``.

    ``layer`` names any submodule whose output is (N, K, h, w); the score is the
    logit of ``target`` (default the prediction). On the last convolutional
    maps of a network with global average pooling and one linear layer it is
    ``ReLU(CAM) / (h * w)``. Returns (N, h, w). Parameters' ``.grad`` and the
    train/eval mode are left untouched.
    """
    _check_images(x, "grad_cam")
    module = _submodule(model, layer, "grad_cam")
    saved = {}

    def hook(mod, inputs, output):
        saved["A"] = output

    handle = module.register_forward_hook(hook)
    try:
        with torch.enable_grad():
            logits = model(x.detach())  # (N, classes)
            target = _targets(target, logits, "grad_cam")
            acts = saved["A"]  # (N, K, h, w)
            if acts.dim() != 4:
                raise ValueError(f"grad_cam: {layer!r} gives {tuple(acts.shape)}, "
                                 "expected feature maps (N, K, h, w)")
            score = logits.gather(1, target[:, None]).sum()  # image n: its own score
            (grads,) = torch.autograd.grad(score, acts)
    finally:
        handle.remove()
    alpha = grads.mean(dim=(2, 3), keepdim=True)  # (N, K, 1, 1)
    return torch.relu((alpha * acts.detach()).sum(dim=1))  # (N, h, w)


# --------------------------------------------------------------------- FGSM


def fgsm(model: nn.Module, x: Tensor, y: Tensor, eps: float,
         loss_fn: Callable[[Tensor, Tensor], Tensor] | None = None,
         clip: tuple[float, float] | None = (0.0, 1.0)) -> Tensor:
    """Fast gradient sign method (Goodfellow, Shlens & Szegedy 2015).

    One step of size ``eps`` in the direction that raises the loss fastest under
    an L-infinity budget: ``x' = x + eps * sign(grad_x loss(model(x), y))``,
    then clamped to ``clip`` (the valid pixel range; None to skip). x (N, C, H, W)
    images; y (N,) true labels; loss_fn default cross-entropy. Returns x' detached,
    with ``|x' - x| <= eps`` everywhere. The parameters' ``.grad`` is untouched.
    """
    _check_images(x, "fgsm")
    if not isinstance(eps, (int, float)) or eps < 0:
        raise ValueError(f"fgsm: expected eps >= 0 (a float), got {eps!r}")
    if y.shape != (x.shape[0],):
        raise ValueError(
            f"fgsm: expected labels y (N,) = ({x.shape[0]},), got {tuple(y.shape)}"
        )
    if clip is not None and clip[0] > clip[1]:
        raise ValueError(f"fgsm: expected clip (low, high) with low <= high, "
                         f"got {clip}")
    loss_fn = F.cross_entropy if loss_fn is None else loss_fn
    x_req = x.detach().clone().requires_grad_(True)
    with torch.enable_grad():
        loss = loss_fn(model(x_req), y)
        (grad,) = torch.autograd.grad(loss, x_req)  # parameters' .grad untouched
    x_adv = x.detach() + eps * grad.sign()
    if clip is not None:
        x_adv = x_adv.clamp(clip[0], clip[1])
    return x_adv


# ------------------------------------------------------------------- texture


def gram_matrix(features: Tensor) -> Tensor:
    """Gram matrix of feature maps: which channels fire together, wherever.

    features (N, C, H, W) -> (N, C, C) with
    ``G[n, i, j] = sum_p F[n, i, p] * F[n, j, p] / (H * W)`` over the H * W
    positions p. Dividing by H * W makes it an average, so images of different
    sizes can be compared. Position is summed away: the Gram matrix keeps the
    statistics of a texture and forgets its layout.
    """
    if not isinstance(features, Tensor) or features.dim() != 4:
        got = tuple(features.shape) if isinstance(features, Tensor) else type(
            features).__name__
        raise ValueError(
            f"gram_matrix: expected feature maps (N, C, H, W), got {got}"
        )
    n, c, h, w = features.shape
    flat = features.reshape(n, c, h * w)  # (N, C, HW)
    return flat @ flat.transpose(1, 2) / (h * w)  # (N, C, C)


def texture_loss(feats: Sequence[Tensor], target_grams: Sequence[Tensor]) -> Tensor:
    """Sum over layers of the mean squared difference of Gram matrices,
    each layer's term divided by the squared mean of its target Gram entries so
    that layers with large activations do not dominate.

    feats: the feature maps of the image being optimised, one (N, C, H, W) per
    layer; target_grams: the target's Gram matrices, one (N or 1, C, C) per layer.
    """
    if len(feats) != len(target_grams):
        raise ValueError(
            f"texture_loss: expected one target Gram matrix per layer, got "
            f"{len(feats)} layers and {len(target_grams)} Gram matrices"
        )
    total = feats[0].new_zeros(())
    for f, g_t in zip(feats, target_grams):
        g = gram_matrix(f)
        if g.shape[1:] != g_t.shape[1:]:
            raise ValueError(
                f"texture_loss: a layer's Gram matrix is {tuple(g.shape)} but its "
                f"target is {tuple(g_t.shape)}"
            )
        total = total + ((g - g_t) ** 2).mean() / (g_t.abs().mean() ** 2 + 1e-12)
    return total


class RandomTextureNet(nn.Module):
    """One layer of random convolutions at several scales, each followed by ReLU
    (Ustyuzhaninov, Brendel, Gatys & Bethge 2017: random shallow multi-scale
    filters synthesise textures almost as well as a trained VGG).

    ``(N, in_channels, H, W)`` -> a list with one ``(N, channels, H, W)`` map per
    kernel size. The filters are drawn from ``seed``, have zero mean (so they
    respond to structure, not to brightness) and are frozen.
    """

    def __init__(self, kernel_sizes: Sequence[int] = (3, 5, 7, 11),
                 channels: int = 32, in_channels: int = 3, seed: int = 0):
        super().__init__()
        if not kernel_sizes or any(k < 1 or k % 2 == 0 for k in kernel_sizes):
            raise ValueError(
                f"RandomTextureNet: expected odd kernel sizes >= 1, got "
                f"{tuple(kernel_sizes)}"
            )
        gen = torch.Generator().manual_seed(seed)
        self.kernel_sizes = tuple(kernel_sizes)
        self.convs = nn.ModuleList()
        for k in self.kernel_sizes:
            conv = nn.Conv2d(in_channels, channels, k, padding=k // 2,
                             padding_mode="reflect")
            w = torch.randn(channels, in_channels, k, k, generator=gen)
            w = w - w.mean(dim=(1, 2, 3), keepdim=True)  # zero-mean filters
            w = w / w.flatten(1).norm(dim=1)[:, None, None, None]  # unit norm
            conv.weight.data.copy_(w)
            conv.bias.data.zero_()
            conv.requires_grad_(False)
            self.convs.append(conv)

    def forward(self, x: Tensor) -> list[Tensor]:
        _check_images(x, "RandomTextureNet")
        return [F.relu(conv(x)) for conv in self.convs]

    def extra_repr(self) -> str:
        conv = self.convs[0]
        return (f"kernel_sizes={self.kernel_sizes}, channels={conv.out_channels}, "
                f"in_channels={conv.in_channels}")


def synthesize_texture(net: Callable[[Tensor], Sequence[Tensor]], target: Tensor,
                       size: tuple[int, int] | None = None, steps: int = 200,
                       lr: float = 0.05, init: Tensor | None = None,
                       seed: int = 0) -> tuple[Tensor, list[float]]:
    """Optimise an image so that its Gram matrices under ``net`` match
    ``target``'s (Gatys et al. 2015), starting from uniform noise.

    net maps (1, C, H, W) images to a list of feature maps; target (1, C, H, W)
    in [0, 1]; size (H, W) of the result, default the target's; init a starting
    image instead of noise. Adam on the pixels, clamped to [0, 1] after each step.
    Returns the image (1, C, H, W) and the texture loss at each step (the first
    entry is the loss of the starting image).
    """
    _check_images(target, "synthesize_texture")
    if target.shape[0] != 1:
        raise ValueError(
            f"synthesize_texture: expected one target image (1, C, H, W), got "
            f"{tuple(target.shape)}"
        )
    with torch.no_grad():
        target_grams = [gram_matrix(f) for f in net(target)]
    if init is None:
        h, w = size if size is not None else target.shape[-2:]
        gen = torch.Generator().manual_seed(seed)
        init = torch.rand(1, target.shape[1], h, w, generator=gen)
    x = init.detach().clone().to(target).requires_grad_(True)
    opt = torch.optim.Adam([x], lr=lr)
    losses = []  # kept on the device and read once at the end: no sync per step
    for _ in range(steps):
        opt.zero_grad()
        loss = texture_loss(net(x), target_grams)
        losses.append(loss.detach())
        loss.backward()
        opt.step()
        with torch.no_grad():
            x.clamp_(0.0, 1.0)
    with torch.no_grad():
        losses.append(texture_loss(net(x), target_grams))
    return x.detach(), torch.stack(losses).tolist()
