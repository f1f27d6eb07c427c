"""RoI max pooling (Girshick 2015, Fast R-CNN, section 2.1).

Each region of interest, whatever its size, is cut into an output_size grid of
roughly equal bins and max-pooled, so every region becomes a fixed-size feature
map that fully connected layers can take. Coordinates follow torchvision's
``roi_pool`` (the original Caffe layer): box corners are scaled by
``spatial_scale`` and rounded to the nearest feature cell, both corners are
*inclusive*, bin edges are floor/ceil of fractional boundaries (so neighbouring
bins may share a row), and an empty bin yields 0.

Letters: N images, C channels, H, W feature size, K boxes, ph, pw output size.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn.modules.utils import _pair

__all__ = ["roi_pool", "RoIPool"]


def _round_half_away(x: Tensor) -> Tensor:
    # C's round(), which the reference kernel uses; torch.round rounds half to even
    return torch.sign(x) * torch.floor(x.abs() + 0.5)


def _bin_masks(start, length, n_bins, size):
    """Which of `size` cells each bin covers, per box: (K, n_bins, size)."""
    bin_len = length.to(torch.float64) / n_bins  # (K,)
    idx = torch.arange(n_bins, device=start.device, dtype=torch.float64)
    lo = torch.floor(idx[None] * bin_len[:, None]).long() + start[:, None]  # (K, nb)
    hi = torch.ceil((idx[None] + 1) * bin_len[:, None]).long() + start[:, None]
    lo, hi = lo.clamp(0, size), hi.clamp(0, size)  # clip bins to the feature map
    cells = torch.arange(size, device=start.device)
    mask = (cells >= lo[..., None]) & (cells < hi[..., None])  # (K, nb, size)
    return mask, hi <= lo  # the second: (K, nb) True where the bin is empty


def roi_pool(features: Tensor, boxes: Tensor, output_size, spatial_scale: float = 1.0
             ) -> Tensor:
    """Max-pool each box of ``boxes`` to ``output_size``.

    features (N, C, H, W); boxes (K, 5) rows [batch_index, x1, y1, x2, y2] in input
    image coordinates; output_size int or (ph, pw); spatial_scale = feature size /
    image size (1/16 for a VGG16 conv5 map). Returns (K, C, ph, pw).
    """
    ph, pw = _pair(output_size)
    if features.dim() != 4:
        raise ValueError(
            f"roi_pool: expected features (N, C, H, W), got {tuple(features.shape)}"
        )
    if boxes.dim() != 2 or boxes.shape[1] != 5:
        raise ValueError(
            "roi_pool: expected boxes (K, 5) rows [batch_index, x1, y1, x2, y2], "
            f"got {tuple(boxes.shape)}"
        )
    N, C, H, W = features.shape
    K = boxes.shape[0]
    if K == 0:
        return features.new_zeros(0, C, ph, pw)
    b = boxes[:, 0].long()
    if b.min() < 0 or b.max() >= N:
        raise ValueError(
            f"roi_pool: box batch indices must lie in [0, {N - 1}], got "
            f"{b.min().item()}..{b.max().item()}"
        )
    corners = _round_half_away(boxes[:, 1:].detach().to(torch.float64)
                               * spatial_scale).long()  # (K, 4) feature cells
    x1, y1, x2, y2 = corners.unbind(1)
    # corners are inclusive, and a degenerate box still covers one cell
    roi_w = (x2 - x1 + 1).clamp(min=1)
    roi_h = (y2 - y1 + 1).clamp(min=1)
    mask_h, empty_h = _bin_masks(y1, roi_h, ph, H)  # (K, ph, H), (K, ph)
    mask_w, empty_w = _bin_masks(x1, roi_w, pw, W)  # (K, pw, W), (K, pw)

    feats = features[b]  # (K, C, H, W): each box's own image
    neg_inf = torch.finfo(features.dtype).min
    # max over a rectangle = max over rows of the max over columns; one column
    # bin at a time keeps memory at (K, C, H, W) instead of (K, C, H, pw, W)
    cols = []
    for j in range(pw):
        m = mask_w[:, j][:, None, None, :]  # (K, 1, 1, W)
        cols.append(feats.masked_fill(~m, neg_inf).amax(dim=-1))  # (K, C, H)
    colmax = torch.stack(cols, dim=-1)  # (K, C, H, pw)
    m = mask_h[:, None, :, :, None]  # (K, 1, ph, H, 1)
    out = colmax[:, :, None].masked_fill(~m, neg_inf).amax(dim=3)  # (K, C, ph, pw)
    empty = empty_h[:, :, None] | empty_w[:, None, :]  # (K, ph, pw)
    return out.masked_fill(empty[:, None], 0.0)


class RoIPool(nn.Module):
    """Module form of :func:`roi_pool`, torchvision's ``RoIPool`` arguments."""

    def __init__(self, output_size, spatial_scale: float):
        super().__init__()
        self.output_size, self.spatial_scale = _pair(output_size), spatial_scale

    def forward(self, features: Tensor, boxes: Tensor) -> Tensor:
        return roi_pool(features, boxes, self.output_size, self.spatial_scale)

    def extra_repr(self):
        return f"output_size={self.output_size}, spatial_scale={self.spatial_scale}"
