"""RoIAlign (He, Gkioxari, Dollár & Girshick 2017, Mask R-CNN, section 3).

RoI pooling rounds each box to whole feature cells and max-pools bins whose
edges are rounded again, so the pooled features describe a region shifted by up
to half a cell from the box. RoIAlign rounds nothing: each of the
``output_size`` bins of the box is sampled at a regular grid of points, the
feature map is read at each point by bilinear interpolation, and the samples of
a bin are averaged.

Coordinates follow torchvision's ``roi_align``:

- box corners are multiplied by ``spatial_scale``; with ``aligned=True`` half a
  cell is then subtracted, so that a feature cell's centre sits at its index
  plus 0.5 in image coordinates divided by the stride, as pixel centres do
  (with ``aligned=False``, the original Detectron behaviour, boxes are also
  stretched to at least one cell);
- bin ``(i, j)`` of a box is sampled at ``sampling_ratio x sampling_ratio``
  points spread evenly inside it (at the centres of a sub-grid), or, with
  ``sampling_ratio <= 0``, at ``ceil(box height / ph) x ceil(box width / pw)``
  points;
- a point more than one cell outside the map reads 0; a point between -1 and 0
  is read at 0, and one past the last cell at the last cell.

Letters: N images, C channels, H, W feature size, K boxes, ph, pw output size,
gh, gw sampling points per bin.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn
from torch.nn.modules.utils import _pair

from dlbook.torch.nn.roi import _check_roi_inputs

__all__ = ["roi_align", "RoIAlign", "bilinear_sample"]


def _axis_weights(pos: Tensor, size: int):
    """Neighbouring cells and weights of 1-D bilinear interpolation at ``pos``.

    Returns ``(lo, hi, w_lo, w_hi)``, each shaped like ``pos``: the value at pos
    is ``w_lo * f[lo] + w_hi * f[hi]``; both weights are 0 for a point more
    than one cell off the map (torchvision's rule).
    """
    inside = (pos >= -1.0) & (pos <= size)
    pos = pos.clamp(min=0)
    lo = pos.floor().long()
    last = lo >= size - 1  # at or past the last cell: read the last cell
    lo = torch.where(last, torch.full_like(lo, size - 1), lo)
    hi = torch.where(last, lo, lo + 1)
    pos = torch.where(last, lo.to(pos.dtype), pos)
    w_hi = (pos - lo) * inside
    w_lo = (1 - (pos - lo)) * inside
    return lo, hi, w_lo, w_hi


def bilinear_sample(fmap: Tensor, ys: Tensor, xs: Tensor) -> Tensor:
    """Read ``fmap`` (C, H, W) at every point of the grid ``ys`` x ``xs``.

    ``ys`` (P,) and ``xs`` (Q,) are positions in cell units (cell ``i`` is at
    ``i``); returns (C, P, Q), bilinear between the four surrounding cells,
    with torchvision's border rule (see the module docstring). Differentiable
    in ``fmap``.
    """
    H, W = fmap.shape[-2:]
    y0, y1, wy0, wy1 = _axis_weights(ys, H)  # (P,) each
    x0, x1, wx0, wx1 = _axis_weights(xs, W)  # (Q,) each
    rows0, rows1 = fmap[:, y0], fmap[:, y1]  # (C, P, W)
    top = rows0[:, :, x0] * wx0 + rows0[:, :, x1] * wx1  # (C, P, Q)
    bottom = rows1[:, :, x0] * wx0 + rows1[:, :, x1] * wx1
    return top * wy0[:, None] + bottom * wy1[:, None]


def _sample_points(start: float, length: float, bins: int, grid: int, like: Tensor):
    """Sampling positions of ``bins`` bins of ``grid`` points each: (bins * grid,)."""
    step = length / bins
    b = torch.arange(bins, dtype=like.dtype, device=like.device)[:, None]
    g = torch.arange(grid, dtype=like.dtype, device=like.device)[None, :]
    return (start + b * step + (g + 0.5) * step / grid).reshape(-1)


def roi_align(features: Tensor, boxes: Tensor, output_size, spatial_scale: float = 1.0,
              sampling_ratio: int = -1, aligned: bool = False) -> Tensor:
    """Bilinear RoI feature extraction without rounding (RoIAlign).

    Parameters
    ----------
    features : Tensor
        ``(N, C, H, W)`` feature maps.
    boxes : Tensor
        ``(K, 5)`` rows ``[batch_index, x1, y1, x2, y2]`` in input-image
        coordinates.
    output_size : int or tuple of int
        ``ph`` or ``(ph, pw)`` bins per box.
    spatial_scale : float
        Feature size over image size (1/16 for a stride-16 map).
    sampling_ratio : int
        Sampling points per bin along each axis; ``<= 0`` picks
        ``ceil(box size / bins)`` for each box.
    aligned : bool
        Shift the box by half a cell so that sampling is centred on the pixel
        grid (``True`` is the correct geometry; ``False``, the default as in
        torchvision, reproduces Detectron's original layer).

    Returns
    -------
    Tensor
        ``(K, C, ph, pw)``: the mean of the bilinear samples of each bin.
        Gradients flow to ``features`` (each sample spreads its gradient over
        its four neighbouring cells).
    """
    ph, pw = _pair(output_size)
    _check_roi_inputs("roi_align", features, boxes)
    N, C, H, W = features.shape
    if len(boxes) and (boxes[:, 0].min() < 0 or boxes[:, 0].max() >= N):
        raise ValueError(
            f"roi_align: box batch indices must lie in [0, {N - 1}], got "
            f"{boxes[:, 0].min().item():g}..{boxes[:, 0].max().item():g}"
        )
    offset = 0.5 if aligned else 0.0
    out = []
    for row in boxes.detach().to(torch.float64).tolist():  # one box at a time
        b, x1, y1, x2, y2 = row
        x_start, y_start = x1 * spatial_scale - offset, y1 * spatial_scale - offset
        roi_w = x2 * spatial_scale - offset - x_start
        roi_h = y2 * spatial_scale - offset - y_start
        if not aligned:  # Detectron: boxes of at least one cell
            roi_w, roi_h = max(roi_w, 1.0), max(roi_h, 1.0)
        gh = sampling_ratio if sampling_ratio > 0 else math.ceil(roi_h / ph)
        gw = sampling_ratio if sampling_ratio > 0 else math.ceil(roi_w / pw)
        if gh <= 0 or gw <= 0:  # an empty box (aligned=True): no samples, zeros
            out.append(features.new_zeros(C, ph, pw))
            continue
        ys = _sample_points(y_start, roi_h, ph, gh, features)  # (ph * gh,)
        xs = _sample_points(x_start, roi_w, pw, gw, features)  # (pw * gw,)
        samples = bilinear_sample(features[int(b)], ys, xs)  # (C, ph*gh, pw*gw)
        out.append(samples.reshape(C, ph, gh, pw, gw).mean(dim=(2, 4)))
    if not out:
        return features.new_zeros(0, C, ph, pw)
    return torch.stack(out)  # (K, C, ph, pw)


class RoIAlign(nn.Module):
    """Module form of :func:`roi_align`, torchvision's ``RoIAlign`` arguments."""

    def __init__(self, output_size, spatial_scale: float, sampling_ratio: int = -1,
                 aligned: bool = False):
        super().__init__()
        self.output_size, self.spatial_scale = _pair(output_size), spatial_scale
        self.sampling_ratio, self.aligned = sampling_ratio, aligned

    def forward(self, features: Tensor, boxes: Tensor) -> Tensor:
        return roi_align(features, boxes, self.output_size, self.spatial_scale,
                         self.sampling_ratio, self.aligned)

    def extra_repr(self):
        return (f"output_size={self.output_size}, spatial_scale={self.spatial_scale}, "
                f"sampling_ratio={self.sampling_ratio}, aligned={self.aligned}")
