"""RoI max pooling (Girshick 2015, Fast R-CNN, section 2.1).

Each region of interest, whatever its size, is cut into an output_size grid of
roughly equal bins and max-pooled, so every region becomes a fixed-size feature
map that fully connected layers can take. Coordinates follow torchvision's
``roi_pool`` (the original Caffe layer): box corners are scaled by
``spatial_scale`` and rounded to the nearest feature cell, both corners are
*inclusive*, bin edges are floor/ceil of fractional boundaries (so neighbouring
bins may share a row), and an empty bin yields 0. One difference: the edges are
computed exactly, in integers, where torchvision's kernel uses the feature dtype
and for a few region sizes lets the last bin reach one cell past the region.

Letters: N images, C channels, H, W feature size, K boxes, ph, pw output size.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.modules.utils import _pair

__all__ = ["roi_pool", "RoIPool"]


def _round_half_away(x: Tensor) -> Tensor:
    # C's round(), which the reference kernel uses; torch.round rounds half to even
    return torch.sign(x) * torch.floor(x.abs() + 0.5)


def _bin_edges(start: Tensor, length: Tensor, n_bins: int, size: int):
    """First and one-past-last cell of each bin, clipped to the map: (K, n_bins) x 2.

    Bin i of a region `length` cells long covers floor(i * length / n_bins) up to
    ceil((i + 1) * length / n_bins), in exact integer arithmetic. (In floating
    point, (i + 1) * (length / n_bins) can land just above an integer, and the
    last bin then reaches one cell past the region: 29 cells in 7 bins does so
    in float64, 57 in 7 in float32.)
    """
    i = torch.arange(n_bins, device=start.device)
    lo = (i[None] * length[:, None]) // n_bins + start[:, None]
    hi = -((-(i[None] + 1) * length[:, None]) // n_bins) + start[:, None]  # ceil
    return lo.clamp(0, size), hi.clamp(0, size)


def _pool_boxes(features: Tensor, b: Tensor, corners: Tensor, output_size,
                with_indices: bool):
    """Pooled boxes (K, C, ph, pw) and, with_indices, the flat index into
    ``features`` of each output's maximum (``features.numel()`` where there is
    none: an empty bin, or an all -inf bin whose first cell is off the map)."""
    N, C, H, W = features.shape
    ph, pw = output_size
    x1, y1, x2, y2 = corners.unbind(1)
    # corners are inclusive, and a degenerate box still covers one cell
    roi_w = (x2 - x1 + 1).clamp(min=1)
    roi_h = (y2 - y1 + 1).clamp(min=1)
    # channels last: the pooling kernel then runs over C contiguous values (on a
    # CPU about 7x faster for a 512-channel map than slices of an NCHW tensor)
    nhwc = features.detach().contiguous(memory_format=torch.channels_last)
    pooled, local, off_map = [], [], False
    for bk, xk, yk, wk, hk in torch.stack([b, x1, y1, roi_w, roi_h], 1).tolist():
        # the box's cells that lie on the map; cells off the map become -inf
        # padding, so each bin's edges stay those of the whole box
        xa, xb = min(max(xk, 0), W), min(max(xk + wk, 0), W)
        ya, yb = min(max(yk, 0), H), min(max(yk + hk, 0), H)
        if (yb - ya, xb - xa) == (hk, wk):
            block = nhwc[bk:bk + 1, :, ya:yb, xa:xb]  # (1, C, hk, wk)
        else:
            off_map = True
            block = F.pad(nhwc[bk:bk + 1, :, ya:yb, xa:xb],
                          (xa - xk, xk + wk - xb, ya - yk, yk + hk - yb),
                          value=float("-inf")) if xb > xa and yb > ya else \
                nhwc.new_full((1, C, hk, wk), float("-inf"))  # wholly off the map
        if with_indices:
            p, i = F.adaptive_max_pool2d(block, (ph, pw), return_indices=True)
            local.append(i)  # (1, C, ph, pw): flat index r * wk + c into the box
        else:
            p = F.adaptive_max_pool2d(block, (ph, pw))
        pooled.append(p)  # (1, C, ph, pw)
    out = torch.cat(pooled).contiguous()  # (K, C, ph, pw)
    empty = None
    if off_map:  # only boxes reaching off the map can have empty bins
        lo_h, hi_h = _bin_edges(y1, roi_h, ph, H)  # (K, ph) each
        lo_w, hi_w = _bin_edges(x1, roi_w, pw, W)  # (K, pw) each
        empty = ((hi_h <= lo_h)[:, :, None] | (hi_w <= lo_w)[:, None, :])[:, None]
        out = out.masked_fill(empty, 0.0)  # empty bins give 0, not -inf
    if not with_indices:
        return out, None

    # box index r * wk + c -> features index ((b * C + ch) * H + y1 + r) * W + x1 + c
    def per_box(v):
        return v[:, None, None, None]

    local = torch.cat(local)  # (K, C, ph, pw)
    r = local // per_box(roi_w)
    chan = torch.arange(C, device=features.device)[None, :, None, None]
    base = (per_box(b) * C + chan) * (H * W) + per_box(y1 * W + x1)  # (K, C, 1, 1)
    flat = base + local + r * (W - per_box(roi_w))
    if off_map:
        row, col = per_box(y1) + r, per_box(x1) + local - r * per_box(roi_w)
        lost = empty | (row < 0) | (row >= H) | (col < 0) | (col >= W)
        flat = flat.masked_fill(lost, features.numel())
    return out, flat


class _RoIMaxPool(torch.autograd.Function):
    """Forward: :func:`_pool_boxes`, remembering where each maximum came from.
    Backward: every output gradient goes to that one cell (the reference
    kernel's argmax), all added in one index_add."""

    @staticmethod
    def forward(ctx, features, b, corners, output_size):
        out, flat = _pool_boxes(features, b, corners, output_size, with_indices=True)
        ctx.save_for_backward(flat)
        ctx.features_shape = features.shape
        return out

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad_out):
        (flat,) = ctx.saved_tensors
        # one extra slot: the sink that outputs without a cell point to
        grad = grad_out.new_zeros(ctx.features_shape.numel() + 1)
        grad.index_add_(0, flat.reshape(-1), grad_out.reshape(-1))
        return grad[:-1].view(ctx.features_shape), None, None, None



def _check_roi_inputs(name: str, features: Tensor, boxes: Tensor) -> None:
    """The checks RoI pooling and RoIAlign share: a 4-D feature map, (K, 5) boxes,
    both on one device. Errors name the function ``name``."""
    if features.dim() != 4:
        raise ValueError(
            f"{name}: expected features (N, C, H, W), got {tuple(features.shape)}"
        )
    if boxes.dim() != 2 or boxes.shape[1] != 5:
        raise ValueError(
            f"{name}: expected boxes (K, 5) rows [batch_index, x1, y1, x2, y2], "
            f"got {tuple(boxes.shape)}"
        )
    if boxes.device != features.device:
        raise ValueError(
            f"{name}: boxes are on {boxes.device} but features on "
            f"{features.device}; move the boxes (boxes.to(features.device))"
        )

def roi_pool(features: Tensor, boxes: Tensor, output_size, spatial_scale: float = 1.0
             ) -> Tensor:
    """Max-pool each box of ``boxes`` to ``output_size``.

    features (N, C, H, W); boxes (K, 5) rows [batch_index, x1, y1, x2, y2] in input
    image coordinates; output_size int or (ph, pw); spatial_scale = feature size /
    image size (1/16 for a VGG16 conv5 map). Returns (K, C, ph, pw).

    How: a loop over boxes, each box's block of cells through
    ``adaptive_max_pool2d`` (whose bins have exactly these edges), so the work
    grows with the boxes' areas. The backward pass sends each output's gradient
    to the cell its maximum came from, as the reference kernel does.
    """
    ph, pw = _pair(output_size)
    _check_roi_inputs("roi_pool", features, boxes)
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
    if torch.is_grad_enabled() and features.requires_grad:
        return _RoIMaxPool.apply(features, b, corners, (ph, pw))
    return _pool_boxes(features, b, corners, (ph, pw), with_indices=False)[0]


class RoIPool(nn.Module):
    """Module form of :func:`roi_pool`, torchvision's ``RoIPool`` arguments."""

    def __init__(self, output_size, spatial_scale: float):
        super().__init__()
        self.output_size, self.spatial_scale = _pair(output_size), spatial_scale

    def forward(self, features: Tensor, boxes: Tensor) -> Tensor:
        return roi_pool(features, boxes, self.output_size, self.spatial_scale)

    def extra_repr(self):
        return f"output_size={self.output_size}, spatial_scale={self.spatial_scale}"
