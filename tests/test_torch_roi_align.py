"""RoIAlign: against a loop written from torchvision's kernel, in float64; by
gradcheck; and on feature maps whose answer is known in closed form."""

import math

import pytest
import torch

from dlbook.torch.nn import RoIAlign, roi_align


def _bilinear_loop(fmap, y, x):
    """torchvision's bilinear_interpolate, one point, scalar arithmetic."""
    C, H, W = fmap.shape
    if y < -1.0 or y > H or x < -1.0 or x > W:
        return torch.zeros(C, dtype=fmap.dtype)
    y, x = max(y, 0.0), max(x, 0.0)
    y_lo, x_lo = int(y), int(x)
    if y_lo >= H - 1:
        y_hi = y_lo = H - 1
        y = float(y_lo)
    else:
        y_hi = y_lo + 1
    if x_lo >= W - 1:
        x_hi = x_lo = W - 1
        x = float(x_lo)
    else:
        x_hi = x_lo + 1
    ly, lx = y - y_lo, x - x_lo
    hy, hx = 1 - ly, 1 - lx
    return (hy * hx * fmap[:, y_lo, x_lo] + hy * lx * fmap[:, y_lo, x_hi]
            + ly * hx * fmap[:, y_hi, x_lo] + ly * lx * fmap[:, y_hi, x_hi])


def roi_align_loop(features, boxes, output_size, spatial_scale=1.0,
                   sampling_ratio=-1, aligned=False):
    """The slow reference: every bin, every sampling point, one at a time."""
    ph, pw = output_size
    C = features.shape[1]
    out = torch.zeros(len(boxes), C, ph, pw, dtype=features.dtype)
    offset = 0.5 if aligned else 0.0
    for k, (b, x1, y1, x2, y2) in enumerate(boxes.tolist()):
        sx, sy = x1 * spatial_scale - offset, y1 * spatial_scale - offset
        rw, rh = x2 * spatial_scale - offset - sx, y2 * spatial_scale - offset - sy
        if not aligned:
            rw, rh = max(rw, 1.0), max(rh, 1.0)
        bh, bw = rh / ph, rw / pw
        gh = sampling_ratio if sampling_ratio > 0 else math.ceil(rh / ph)
        gw = sampling_ratio if sampling_ratio > 0 else math.ceil(rw / pw)
        count = max(gh * gw, 1)
        for i in range(ph):
            for j in range(pw):
                acc = torch.zeros(C, dtype=features.dtype)
                for iy in range(gh):
                    y = sy + i * bh + (iy + 0.5) * bh / gh
                    for ix in range(gw):
                        x = sx + j * bw + (ix + 0.5) * bw / gw
                        acc += _bilinear_loop(features[int(b)], y, x)
                out[k, :, i, j] = acc / count
    return out


def _random_boxes(gen, k, n_images, size):
    xy = torch.rand(k, 2, generator=gen, dtype=torch.float64) * size * 0.8
    wh = torch.rand(k, 2, generator=gen, dtype=torch.float64) * size * 0.6
    b = torch.randint(0, n_images, (k, 1), generator=gen).double()
    return torch.cat([b, xy, xy + wh], dim=1)


@pytest.mark.parametrize("aligned", [False, True])
@pytest.mark.parametrize("sampling_ratio", [-1, 1, 2])
def test_roi_align_matches_the_loop_reference_in_float64(aligned, sampling_ratio):
    gen = torch.Generator().manual_seed(0)
    features = torch.randn(2, 3, 9, 11, generator=gen, dtype=torch.float64)
    boxes = _random_boxes(gen, 7, 2, 40)
    # boxes that hang over every border, and a degenerate one
    boxes = torch.cat([boxes, torch.tensor([[0, -6.0, -5.0, 10.0, 12.0],
                                            [1, 30.0, 20.0, 47.0, 39.0],
                                            [0, 8.0, 8.0, 8.0, 8.0]],
                                           dtype=torch.float64)])
    kwargs = dict(spatial_scale=0.25, sampling_ratio=sampling_ratio, aligned=aligned)
    fast = roi_align(features, boxes, (3, 4), **kwargs)
    slow = roi_align_loop(features, boxes, (3, 4), **kwargs)
    assert fast.shape == (10, 3, 3, 4)
    torch.testing.assert_close(fast, slow, rtol=0, atol=1e-12)


def test_roi_align_gradcheck():
    gen = torch.Generator().manual_seed(1)
    features = torch.randn(1, 2, 6, 7, generator=gen, dtype=torch.float64,
                           requires_grad=True)
    boxes = torch.tensor([[0, 2.3, 1.1, 17.9, 13.4], [0, -3.0, 5.0, 9.0, 30.0]],
                         dtype=torch.float64)
    for aligned in (False, True):
        assert torch.autograd.gradcheck(
            lambda f: roi_align(f, boxes, 3, 0.5, sampling_ratio=2, aligned=aligned),
            (features,))


def test_linear_map_gives_the_value_at_each_bin_centre():
    # bilinear interpolation is exact on f(y, x) = 2y + 3x + 1, and the mean of
    # a bin's evenly spread samples is the value at the bin's centre
    H = W = 16
    yy, xx = torch.meshgrid(torch.arange(H, dtype=torch.float64),
                            torch.arange(W, dtype=torch.float64), indexing="ij")
    features = (2 * yy + 3 * xx + 1)[None, None]
    box = torch.tensor([[0, 10.0, 6.0, 42.0, 30.0]], dtype=torch.float64)  # stride 4
    out = roi_align(features, box, (3, 4), spatial_scale=0.25, sampling_ratio=2,
                    aligned=True)[0, 0]
    # aligned: box starts at 10/4 - 0.5 = 2.0 (x) and 6/4 - 0.5 = 1.0 (y) cells,
    # spans 8 cells wide and 6 high: bins 2 x 2 cells, centres at +1, +3, ...
    cy = 1.0 + torch.tensor([1.0, 3.0, 5.0])
    cx = 2.0 + torch.tensor([1.0, 3.0, 5.0, 7.0], dtype=torch.float64)
    expected = 2 * cy[:, None].double() + 3 * cx[None, :] + 1
    torch.testing.assert_close(out, expected, rtol=0, atol=1e-12)


def test_aligned_shifts_by_half_a_cell_and_unaligned_stretches_small_boxes():
    features = torch.arange(64.0, dtype=torch.float64).reshape(1, 1, 8, 8)
    tiny = torch.tensor([[0, 3.0, 3.0, 3.2, 3.2]], dtype=torch.float64)
    a = roi_align(features, tiny, 1, sampling_ratio=1, aligned=True)
    u = roi_align(features, tiny, 1, sampling_ratio=1, aligned=False)
    # aligned: one sample at (3.1 - 0.5, 3.1 - 0.5); unaligned: box stretched to
    # one cell, one sample at (3.5, 3.5)
    assert a.item() == pytest.approx(8 * 2.6 + 2.6)
    assert u.item() == pytest.approx(8 * 3.5 + 3.5)


def test_module_form_and_errors():
    layer = RoIAlign(2, 0.5, sampling_ratio=2, aligned=True)
    assert "aligned=True" in repr(layer)
    f = torch.randn(1, 3, 5, 5)
    assert layer(f, torch.tensor([[0, 0.0, 0, 6, 6]])).shape == (1, 3, 2, 2)
    assert layer(f, torch.zeros(0, 5)).shape == (0, 3, 2, 2)
    with pytest.raises(ValueError, match="roi_align: expected boxes"):
        roi_align(f, torch.zeros(2, 4), 2)
    with pytest.raises(ValueError, match="roi_align: expected features"):
        roi_align(f[0], torch.zeros(2, 5), 2)
    with pytest.raises(ValueError, match=r"batch indices must lie in \[0, 0\]"):
        roi_align(f, torch.tensor([[1, 0.0, 0, 2, 2]]), 2)
