"""Diagrams of chapter 8 (seeing): the R-CNN pipelines and a U-Net.

Both are drawn with the shared vocabulary of :mod:`dlbook.diagrams._canvas`
(tensors blue, learned layers orange, parameter-free operations white, tensor
shapes in monospace beside the arrows), with the sizes the chapter's own code
uses, so a reader can hold a printed shape up against the figure.
"""

from __future__ import annotations

from dlbook.diagrams._canvas import arrow, box, canvas, group, label, legend, path

__all__ = ["rcnn_pipelines", "unet"]


def rcnn_pipelines(num_classes: int = 3, image_size: int = 64, crop: int = 32,
                   stride: int = 4, channels: int = 64):
    """R-CNN next to Fast R-CNN: where the CNN runs, and what the heads see.

    Left, R-CNN (Girshick et al. 2014): the ``K`` region proposals are cut out
    of the *image*, each warped to ``crop x crop`` pixels, and the CNN runs once
    per proposal. Right, Fast R-CNN (Girshick 2015): the CNN runs once on the
    whole image, and RoI pooling cuts each proposal out of the *feature map*
    into a fixed ``crop/stride`` grid. Both end in the same heads: a classifier
    over the classes plus background, and a box regressor.

    The default sizes are those of ``book/08_vision/04_rcnn``. Returns the
    matplotlib Figure.
    """
    if crop % stride or image_size % stride:
        raise ValueError(
            f"rcnn_pipelines: crop and image_size must be multiples of the stride "
            f"{stride}, got crop={crop}, image_size={image_size}"
        )
    grid, fmap = crop // stride, image_size // stride
    fig, ax = canvas(9.0, 8.4, scale=0.7)
    xl, xr, w = 2.0, 7.0, 2.9
    group(ax, 0.25, 0.6, 3.85, 8.2, "R-CNN: the CNN runs K times")
    group(ax, 5.15, 0.6, 8.75, 8.2, "Fast R-CNN: the CNN runs once",
          title_side="right")

    # R-CNN
    img = box(ax, xl, 7.25, "image", kind="tensor", w=w)
    prop = box(ax, xl, 6.05, "region proposals", kind="op", w=w)
    warp = box(ax, xl, 4.85, "crop + warp each box", kind="op", w=w)
    cnn = box(ax, xl, 3.45, "CNN (K times)", kind="layer", w=w)
    heads = box(ax, xl, 2.05, "classifier + box regressor", kind="layer", w=w,
                size=9)
    arrow(ax, img.bottom, prop.top, f"(3, {image_size}, {image_size})")
    arrow(ax, prop.bottom, warp.top, "K boxes (K, 4)")
    arrow(ax, warp.bottom, cnn.top, f"(K, 3, {crop}, {crop})")
    arrow(ax, cnn.bottom, heads.top, f"(K, {channels}, {grid}, {grid})")
    arrow(ax, heads.bottom, (xl, 0.8))
    label(ax, (xl, 1.25), f"scores (K, {num_classes + 1})\nboxes  (K, 4)")

    # Fast R-CNN
    img2 = box(ax, xr, 7.25, "image", kind="tensor", w=w)
    cnn2 = box(ax, xr, 6.05, "CNN (once)", kind="layer", w=w)
    feat = box(ax, xr, 4.85, "feature map", kind="tensor", w=w)
    pool = box(ax, xr, 3.45, "RoI pooling", kind="op", w=w)
    heads2 = box(ax, xr, 2.05, "classifier + box regressor", kind="layer", w=w,
                 size=9)
    arrow(ax, img2.bottom, cnn2.top, f"(1, 3, {image_size}, {image_size})")
    arrow(ax, cnn2.bottom, feat.top, f"(1, {channels}, {fmap}, {fmap})")
    arrow(ax, feat.bottom, pool.top)
    arrow(ax, pool.bottom, heads2.top, f"(K, {channels}, {grid}, {grid})")
    arrow(ax, heads2.bottom, (xr, 0.8))
    label(ax, (xr, 1.25), f"scores (K, {num_classes + 1})\nboxes  (K, 4)")
    # the same proposals, divided by the stride, select the cells to pool
    path(ax, [prop.right, (4.5, prop.y), (4.5, pool.y), pool.left])
    label(ax, (4.98, pool.y + 0.08), f"boxes\n÷ {stride}", side="above", mono=False)
    legend(ax, kinds=("tensor", "layer", "op"), x=0.45, y=0.35, step=2.3)
    return fig


def unet(in_channels: int = 3, num_classes: int = 4, width: int = 8, size: int = 32):
    """A U-Net of depth 2, with the tensor shape ``(C, H, W)`` on every arrow.

    The encoder (left) applies two 3x3 convolutions and a 2x2 max-pool per
    level, doubling the channels; the decoder (right) upsamples with a 2x2
    transposed convolution of stride 2, *concatenates* the encoder's map of the
    same size (the skip connection, dashed), and applies two 3x3 convolutions;
    a 1x1 convolution gives one score per class at every pixel (Ronneberger,
    Fischer & Brox 2015). The default sizes are those of
    ``dlbook.torch.segmentation.UNet(3, 4, width=8, depth=2)`` on 32 x 32
    images; ``book/08_vision/02_segmentation`` trains the same pattern with one
    more level. The batch axis is
    left out of the shapes. Returns the matplotlib Figure.
    """
    if size % 4:
        raise ValueError(f"unet: size must be divisible by 4 (two poolings), got {size}")
    c0, c1, c2 = width, 2 * width, 4 * width
    s0, s1, s2 = size, size // 2, size // 4

    def shp(c, s):
        return f"({c}, {s}, {s})"

    fig, ax = canvas(10.2, 12.6, scale=0.5)
    xe, xd, xb, w = 1.3, 7.0, 4.1, 2.3
    ax.text(xe, 12.3, "encoder", ha="center", va="center", fontsize=10,
            fontweight="bold")
    ax.text(xd, 12.3, "decoder", ha="center", va="center", fontsize=10,
            fontweight="bold")
    # encoder, top to bottom
    inp = box(ax, xe, 11.4, "image", kind="tensor", w=w)
    enc0 = box(ax, xe, 7.8, "2 × conv 3×3", w=w)
    pool0 = box(ax, xe, 5.9, "max-pool 2×2", kind="op", w=w)
    enc1 = box(ax, xe, 4.0, "2 × conv 3×3", w=w)
    pool1 = box(ax, xe, 2.6, "max-pool 2×2", kind="op", w=w)
    bott = box(ax, xb, 1.2, "2 × conv 3×3", w=w)
    arrow(ax, inp.bottom, enc0.top, shp(in_channels, s0))
    arrow(ax, enc0.bottom, pool0.top, shp(c0, s0))
    arrow(ax, pool0.bottom, enc1.top, shp(c0, s1))
    arrow(ax, enc1.bottom, pool1.top, shp(c1, s1))
    path(ax, [pool1.bottom, (xe, bott.y), bott.left], shp(c1, s2), side="left")
    label(ax, (xb, 1.2), "bottleneck", side="above", offset=0.45, mono=False)
    # decoder, bottom to top
    up1 = box(ax, xd, 2.6, "up-conv 2×2, s 2", w=w, size=9)
    cat1 = box(ax, xd, 4.0, "concatenate", kind="op", w=w)
    dec1 = box(ax, xd, 5.2, "2 × conv 3×3", w=w)
    up0 = box(ax, xd, 6.5, "up-conv 2×2, s 2", w=w, size=9)
    cat0 = box(ax, xd, 7.8, "concatenate", kind="op", w=w)
    dec0 = box(ax, xd, 9.0, "2 × conv 3×3", w=w)
    head = box(ax, xd, 10.2, "conv 1×1", w=w)
    out = box(ax, xd, 11.4, "class scores", kind="tensor", w=w)
    path(ax, [bott.right, (xd, bott.y), up1.bottom], shp(c2, s2), label_at=1)
    for a, b, (c, s) in [(up1, cat1, (c1, s1)), (cat1, dec1, (2 * c1, s1)),
                         (dec1, up0, (c1, s1)), (up0, cat0, (c0, s0)),
                         (cat0, dec0, (2 * c0, s0)), (dec0, head, (c0, s0)),
                         (head, out, (num_classes, s0))]:
        arrow(ax, a.top, b.bottom, shp(c, s))
    # skip connections: copy the encoder's map across, concatenate on channels
    for enc, cat, (c, s) in [(enc0, cat0, (c0, s0)), (enc1, cat1, (c1, s1))]:
        arrow(ax, enc.right, cat.left, dashed=True)
        label(ax, ((enc.right[0] + cat.left[0]) / 2, enc.y), shp(c, s),
              side="above", offset=0.1)
    legend(ax, kinds=("tensor", "layer", "op"), x=0.3, y=0.25, step=2.6)
    return fig
