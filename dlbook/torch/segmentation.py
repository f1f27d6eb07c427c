"""Semantic segmentation: a small U-Net and the IoU metrics.

* :class:`UNet` (Ronneberger, Fischer and Brox 2015, "U-Net: Convolutional
  Networks for Biomedical Image Segmentation"), small and configurable: an
  encoder of double 3×3 convolutions and 2×2 max pooling, a decoder of 2×2
  transposed convolutions (stride 2) whose outputs are concatenated with the
  encoder's feature maps of the same size (skip connections), and a 1×1
  convolution that gives one score per class and pixel. ``padding=1`` keeps
  every feature map the size of its level, so the output has the input's size.
* :func:`confusion_matrix`, :func:`iou_per_class`, :func:`mean_iou`: the
  standard metric of semantic segmentation (Everingham et al. 2010, PASCAL VOC),
  ``IoU = TP / (TP + FP + FN)`` per class, counted over all pixels of a data set.

Letters: N images, C input channels, K classes, H, W image size.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

__all__ = ["UNet", "confusion_matrix", "iou_per_class", "mean_iou"]


def _double_conv(c_in: int, c_out: int, batch_norm: bool) -> nn.Sequential:
    """Two 3×3 convolutions (padding 1, so the size is kept), each then ReLU."""
    layers = []
    for c in (c_in, c_out):
        layers.append(nn.Conv2d(c, c_out, 3, padding=1, bias=not batch_norm))
        if batch_norm:
            layers.append(nn.BatchNorm2d(c_out))
        layers.append(nn.ReLU(inplace=True))
    return nn.Sequential(*layers)


class UNet(nn.Module):
    """A U-Net with ``depth`` poolings; ``width`` channels at the top level,
    doubled at each level down.

    Input ``(N, C, H, W)`` with ``H`` and ``W`` divisible by ``2**depth``;
    output: scores (logits) of shape ``(N, K, H, W)``.

    Args:
        in_channels: channels of the input image (3 for RGB).
        num_classes: classes to score at every pixel, background included.
        width: channels of the first level; level ``l`` has ``width * 2**l``.
        depth: number of 2×2 poolings (and of upsamplings); 0 gives a plain fully
            convolutional network with no change of resolution.
        batch_norm: insert ``BatchNorm2d`` after every 3×3 convolution.
    """

    def __init__(self, in_channels: int = 3, num_classes: int = 4, width: int = 16,
                 depth: int = 2, batch_norm: bool = True):
        super().__init__()
        for name, value, low in (("in_channels", in_channels, 1),
                                 ("num_classes", num_classes, 2),
                                 ("width", width, 1), ("depth", depth, 0)):
            if not isinstance(value, int) or value < low:
                raise ValueError(f"UNet: {name} must be an int >= {low}, "
                                 f"got {value!r}")
        self.in_channels, self.num_classes = in_channels, num_classes
        self.width, self.depth = width, depth
        chans = [width * 2**level for level in range(depth + 1)]
        self.down = nn.ModuleList([_double_conv(in_channels, chans[0], batch_norm)])
        self.down.extend(_double_conv(chans[i], chans[i + 1], batch_norm)
                         for i in range(depth))
        self.pool = nn.MaxPool2d(2)
        # learnable upsampling: k = s = 2, so every output pixel gets one tap
        self.up = nn.ModuleList(nn.ConvTranspose2d(chans[i + 1], chans[i], 2, stride=2)
                                for i in reversed(range(depth)))
        self.merge = nn.ModuleList(_double_conv(2 * chans[i], chans[i], batch_norm)
                                   for i in reversed(range(depth)))
        self.head = nn.Conv2d(chans[0], num_classes, 1)

    def forward(self, x: Tensor) -> Tensor:
        if x.dim() != 4 or x.shape[1] != self.in_channels:
            raise ValueError(f"UNet: expected input (N, {self.in_channels}, H, W), "
                             f"got {tuple(x.shape)}")
        m = 2**self.depth
        if x.shape[-2] % m or x.shape[-1] % m:
            raise ValueError(f"UNet(depth={self.depth}): H and W must be divisible "
                             f"by {m}, got {tuple(x.shape[-2:])}")
        skips = []
        for level, block in enumerate(self.down):
            x = block(x if level == 0 else self.pool(x))
            skips.append(x)  # (N, width * 2**level, H / 2**level, W / 2**level)
        x = skips.pop()
        for up, merge in zip(self.up, self.merge):
            x = up(x)  # twice the size, half the channels
            x = torch.cat([skips.pop(), x], dim=1)  # (N, 2c, h, w): skip first
            x = merge(x)  # (N, c, h, w)
        return self.head(x)  # (N, K, H, W)

    def extra_repr(self) -> str:
        return (f"in_channels={self.in_channels}, num_classes={self.num_classes}, "
                f"width={self.width}, depth={self.depth}")


def _as_labels(x, name: str) -> Tensor:
    t = torch.as_tensor(x)
    if t.is_floating_point() or t.is_complex() or t.dtype == torch.bool:
        raise TypeError(f"confusion_matrix: {name} must hold integer class indices, "
                        f"got dtype {t.dtype} (take .argmax(1) of the scores first)")
    return t


def confusion_matrix(pred, target, num_classes: int,
                     ignore_index: int | None = None) -> Tensor:
    """Count pixels by (true class, predicted class).

    Args:
        pred: predicted class of every pixel, a tensor or array of ints of any
            shape (e.g. ``(N, H, W)``), values in ``0 .. num_classes - 1``.
        target: true class of every pixel, the same shape as ``pred``.
        num_classes: number of classes ``K``.
        ignore_index: target value whose pixels are left out (e.g. 255 for
            "void"); None keeps every pixel.

    Returns:
        ``(K, K)`` int64 tensor; entry ``[i, j]`` counts pixels of true class
        ``i`` predicted as ``j``. Rows are the truth, columns the prediction.
    """
    pred, target = _as_labels(pred, "pred"), _as_labels(target, "target")
    if pred.shape != target.shape:
        raise ValueError(f"confusion_matrix: pred and target must have the same "
                         f"shape, got {tuple(pred.shape)} and {tuple(target.shape)}")
    if not isinstance(num_classes, int) or num_classes < 1:
        raise ValueError(f"confusion_matrix: num_classes must be a positive int, "
                         f"got {num_classes!r}")
    pred, target = pred.reshape(-1).long(), target.reshape(-1).long().to(pred.device)
    if ignore_index is not None:
        keep = target != ignore_index
        pred, target = pred[keep], target[keep]
    for name, t in (("pred", pred), ("target", target)):
        if t.numel() and (t.min() < 0 or t.max() >= num_classes):
            raise ValueError(f"confusion_matrix: {name} values must lie in "
                             f"0..{num_classes - 1}, got range "
                             f"{int(t.min())}..{int(t.max())}")
    flat = target * num_classes + pred  # one bin per (true, predicted) pair
    counts = torch.bincount(flat, minlength=num_classes**2)
    return counts.reshape(num_classes, num_classes)


def iou_per_class(cm: Tensor) -> Tensor:
    """Intersection over union of each class from a confusion matrix.

    ``IoU[c] = cm[c, c] / (row c + column c - cm[c, c])``: true positives over
    the union of the pixels that are class c and the pixels predicted as c.

    Args:
        cm: ``(K, K)`` confusion matrix, rows the truth (see
            :func:`confusion_matrix`).

    Returns:
        ``(K,)`` float64 tensor; NaN for a class that neither occurs nor is
        predicted.
    """
    cm = torch.as_tensor(cm)
    if cm.dim() != 2 or cm.shape[0] != cm.shape[1]:
        raise ValueError(f"iou_per_class: expected a square (K, K) confusion matrix, "
                         f"got shape {tuple(cm.shape)}")
    cm = cm.to(torch.float64)
    tp = cm.diagonal()
    union = cm.sum(0) + cm.sum(1) - tp
    return torch.where(union > 0, tp / union.clamp(min=1), torch.nan)


def mean_iou(pred, target, num_classes: int, ignore_index: int | None = None) -> float:
    """Mean over classes of the IoU, pixels pooled over the whole batch.

    Classes absent from both ``pred`` and ``target`` are skipped (their IoU is
    undefined). Arguments as in :func:`confusion_matrix`.
    """
    iou = iou_per_class(confusion_matrix(pred, target, num_classes, ignore_index))
    return float(iou.nanmean())
