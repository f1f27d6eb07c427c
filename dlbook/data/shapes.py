"""Synthetic images of shapes with exact ground truth for detection and segmentation.

Real detection and segmentation data sets are large downloads with labels that
took people years to draw. For learning how the methods work, a generator whose
ground truth is exact by construction is better: :func:`make_shapes` draws
circles, squares and triangles of random size, colour, rotation and position on a
noisy background, overlapping one another, and returns for every image

- the class of every object (:data:`SHAPE_CLASSES`),
- its bounding box,
- a semantic mask (which class each pixel shows) and
- an instance mask (which object each pixel shows).

Colour never tells the class (every object's colour is drawn independently of its
shape), so a model has to look at the outline. Image ``i`` depends only on
``(seed, i)``: the first 100 images of ``make_shapes(1000, seed=0)`` are
``make_shapes(100, seed=0)``, on every machine. :func:`make_shape_images` gives
one centred-ish shape per image, for classification.

Conventions:

- images are ``(N, 3, H, W)`` float32 in [0, 1], channels first as torch expects;
- a box is ``(x1, y1, x2, y2)`` in pixels, the tight box of the object's *visible*
  pixels, with ``x2``/``y2`` one past the last column/row (so a box's width is
  ``x2 - x1`` and equals the number of columns it covers);
- class indices are 0 circle, 1 square, 2 triangle; in the semantic mask 0 is the
  background and ``1 + class`` an object's pixels;
- in the instance mask of image ``i``, 0 is the background and ``j >= 1`` marks
  object ``j - 1`` of that image: ``boxes[i][j - 1]`` and ``labels[i][j - 1]``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: Class names, in the order of their indices.
SHAPE_CLASSES: tuple[str, ...] = ("circle", "square", "triangle")

#: One colour per class in every figure of the book (Okabe-Ito, colour-blind safe):
#: circle sky blue, square orange, triangle reddish purple. Index ``c`` is the
#: colour of class ``c``; masks add :data:`SHAPE_BACKGROUND_COLOR` for label 0.
SHAPE_CLASS_COLORS: tuple[str, ...] = ("#56B4E9", "#E69F00", "#CC79A7")
#: The colour of background pixels in a semantic mask (a light grey).
SHAPE_BACKGROUND_COLOR: str = "#EEEEEE"

_MIN_VISIBLE = 0.5  # every object keeps at least this fraction of its area visible
_MIN_PIXELS = 12  # and at least this many visible pixels
_MIN_CONTRAST = 0.3  # mean |RGB difference| between an object and the background


@dataclass(frozen=True)
class ShapesDataset:
    """Images of shapes with labels, boxes, semantic masks and instance masks.

    Its fields:

    - ``images``: ``(N, 3, H, W)`` float32 in [0, 1];
    - ``labels``: N int64 arrays of shape ``(k_i,)``, class indices into
      :data:`SHAPE_CLASSES`;
    - ``boxes``: N float32 arrays of shape ``(k_i, 4)``, ``x1, y1, x2, y2`` in
      pixels, the tight box of each object's visible mask (``x2``, ``y2``
      exclusive);
    - ``semantic``: ``(N, H, W)`` int64, 0 background, ``1 + class`` elsewhere;
    - ``instances``: ``(N, H, W)`` int64, 0 background, ``j`` for object ``j - 1``;
    - ``classes``: the class names, :data:`SHAPE_CLASSES`.
    """

    images: np.ndarray
    labels: list
    boxes: list
    semantic: np.ndarray
    instances: np.ndarray
    classes: tuple[str, ...] = SHAPE_CLASSES

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int) -> dict:
        """Image ``i`` and its targets as a dict (keys as the attribute names)."""
        n = len(self)
        if not -n <= i < n:
            raise IndexError(f"ShapesDataset: index {i} out of range for {n} images")
        return {
            "image": self.images[i],
            "labels": self.labels[i],
            "boxes": self.boxes[i],
            "semantic": self.semantic[i],
            "instances": self.instances[i],
        }

    def __repr__(self) -> str:
        n, _, h, w = self.images.shape
        k = sum(len(b) for b in self.boxes)
        return f"ShapesDataset({n} images of {h}x{w}, {k} objects)"


# ---- drawing ----------------------------------------------------------------------
def _shape_mask(kind: int, cx: float, cy: float, r: float, angle: float,
                xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
    """Boolean mask of a filled shape of circumradius ``r`` at pixel centres."""
    dx, dy = xs - cx, ys - cy
    if kind == 0:  # circle: a bit smaller than its circumradius so areas are similar
        return dx * dx + dy * dy <= (0.8 * r) ** 2
    c, s = np.cos(angle), np.sin(angle)
    u, v = c * dx + s * dy, -s * dx + c * dy  # coordinates in the shape's own frame
    if kind == 1:  # square whose corners lie on the circle of radius r
        half = r / np.sqrt(2.0)
        return (np.abs(u) <= half) & (np.abs(v) <= half)
    # equilateral triangle: inside all three edges, each at distance r/2 from the
    # centre along its outward normal
    inside = np.ones(xs.shape, dtype=bool)
    for k in range(3):
        a = np.pi / 2 + 2 * np.pi * k / 3 + np.pi  # normal opposite vertex k
        inside &= u * np.cos(a) + v * np.sin(a) <= r / 2
    return inside


def _hsv_to_rgb(h: float, s: float, v: float) -> np.ndarray:
    k = (np.array([5.0, 3.0, 1.0]) + h * 6.0) % 6.0
    return v - v * s * np.clip(np.minimum(k, 4.0 - k), 0.0, 1.0)


def _background(rng: np.random.Generator, size: int):
    """A dim, low-saturation colour with a gentle linear gradient and pixel noise."""
    base = _hsv_to_rgb(rng.random(), rng.uniform(0.0, 0.4), rng.uniform(0.1, 0.45))
    t = np.linspace(-0.5, 0.5, size)
    gx, gy = rng.uniform(-0.15, 0.15, size=2)
    ramp = gx * t[None, :] + gy * t[:, None]
    img = base[:, None, None] + ramp[None]
    return img, base


def _object_colour(rng: np.random.Generator, background: np.ndarray) -> np.ndarray:
    while True:
        colour = _hsv_to_rgb(rng.random(), rng.uniform(0.4, 1.0),
                             rng.uniform(0.55, 1.0))
        if np.abs(colour - background).mean() >= _MIN_CONTRAST:
            return colour


def _render(rng: np.random.Generator, size: int, n_objects: int, scale, noise: float):
    """One image: (3, H, W) float32, labels, instance map."""
    img, bg = _background(rng, size)
    instances = np.zeros((size, size), dtype=np.int64)
    full_area: list[int] = []
    visible: list[int] = []
    labels: list[int] = []
    for _ in range(n_objects):
        for _attempt in range(100):
            kind = int(rng.integers(len(SHAPE_CLASSES)))
            r = rng.uniform(*scale) * size
            cx, cy = rng.uniform(r, size - r, size=2)
            angle = rng.uniform(0, 2 * np.pi)
            # draw inside the shape's bounding window only: it is all that changes
            x0, x1 = int(cx - r), min(int(np.ceil(cx + r)) + 1, size)
            y0, y1 = int(cy - r), min(int(np.ceil(cy + r)) + 1, size)
            xs, ys = np.meshgrid(np.arange(x0, x1) + 0.5, np.arange(y0, y1) + 0.5)
            mask = _shape_mask(kind, cx, cy, r, angle, xs, ys)
            area = int(mask.sum())
            window = instances[y0:y1, x0:x1]
            hidden = np.bincount(window[mask], minlength=len(labels) + 1)[1:]
            ok = all(visible[j] - hidden[j]
                     >= max(_MIN_VISIBLE * full_area[j], _MIN_PIXELS)
                     for j in range(len(labels)))
            if ok and area >= _MIN_PIXELS:
                break
        else:  # crowded image: stop adding objects rather than hide one
            break
        visible = [v - h for v, h in zip(visible, hidden)] + [area]
        full_area.append(area)
        labels.append(kind)
        window[mask] = len(labels)
        colour = _object_colour(rng, bg)
        img[:, y0:y1, x0:x1][:, mask] = colour[:, None]
    img = img + noise * rng.standard_normal(img.shape)
    return np.clip(img, 0.0, 1.0).astype(np.float32), labels, instances


def _boxes(instances: np.ndarray, k: int) -> np.ndarray:
    boxes = np.zeros((k, 4), dtype=np.float32)
    for j in range(k):
        rows, cols = np.nonzero(instances == j + 1)
        boxes[j] = (cols.min(), rows.min(), cols.max() + 1, rows.max() + 1)
    return boxes


def _check(n, size, min_objects, max_objects, noise, scale, who):
    if not isinstance(n, (int, np.integer)) or n < 0:
        raise ValueError(f"{who}: n must be a non-negative int, got {n!r}")
    if not isinstance(size, (int, np.integer)) or size < 16:
        raise ValueError(f"{who}: size must be an int >= 16 (pixels), got {size!r}")
    if not 1 <= min_objects <= max_objects:
        raise ValueError(
            f"{who}: expected 1 <= min_objects <= max_objects, got "
            f"min_objects={min_objects}, max_objects={max_objects}"
        )
    if noise < 0:
        raise ValueError(
            f"{who}: noise must be >= 0 (a standard deviation), got {noise}"
        )
    lo, hi = scale
    if not 0 < lo <= hi < 0.5:
        raise ValueError(
            f"{who}: scale must be (low, high) with 0 < low <= high < 0.5 "
            f"(circumradius as a fraction of the image size), got {scale}"
        )


def make_shapes(
    n: int,
    size: int = 64,
    min_objects: int = 1,
    max_objects: int = 4,
    noise: float = 0.08,
    scale: tuple[float, float] = (0.1, 0.25),
    seed: int = 0,
) -> ShapesDataset:
    """``n`` images of overlapping shapes with labels, boxes and masks.

    Args:
        n: number of images.
        size: height and width in pixels (at least 16).
        min_objects, max_objects: each image draws its number of objects
            uniformly from this range. An image too crowded to fit another object
            without hiding half of an earlier one stops early, so a few images can
            hold fewer than ``min_objects`` when the objects are large.
        noise: standard deviation of the Gaussian pixel noise added before the
            image is clipped to [0, 1].
        scale: range of each shape's circumradius as a fraction of ``size``.
        seed: image ``i`` is drawn from the generator seeded with ``(seed, i)``.

    Returns:
        A :class:`ShapesDataset`. Objects are drawn in order, so later ones occlude
        earlier ones; each keeps at least half of its area (and at least 12 pixels)
        visible, and its box and masks describe the visible part.

    Example::

        ds = make_shapes(8, size=48, seed=0)
        ds.images.shape   # (8, 3, 48, 48)
        ds.boxes[0]       # (k_0, 4) float32
    """
    _check(n, size, min_objects, max_objects, noise, scale, "make_shapes")
    images = np.empty((n, 3, size, size), dtype=np.float32)
    semantic = np.empty((n, size, size), dtype=np.int64)
    instances = np.empty((n, size, size), dtype=np.int64)
    labels, boxes = [], []
    for i in range(n):
        rng = np.random.default_rng([seed, i])
        k = int(rng.integers(min_objects, max_objects + 1))
        images[i], lab, inst = _render(rng, size, k, scale, noise)
        lab = np.asarray(lab, dtype=np.int64)
        instances[i] = inst
        semantic[i] = np.concatenate([[0], lab + 1])[inst]
        labels.append(lab)
        boxes.append(_boxes(inst, len(lab)))
    return ShapesDataset(images, labels, boxes, semantic, instances)


def make_shape_images(
    n: int,
    size: int = 32,
    noise: float = 0.08,
    scale: tuple[float, float] = (0.2, 0.4),
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """``n`` images holding one shape each, for classification.

    Returns ``(X, y)``: X ``(n, 3, size, size)`` float32 in [0, 1], y ``(n,)`` int64
    class indices into :data:`SHAPE_CLASSES`. The images are those of
    ``make_shapes(n, size, 1, 1, noise, scale, seed)``; use that call when you also
    want the shape's mask or box.
    """
    _check(n, size, 1, 1, noise, scale, "make_shape_images")
    ds = make_shapes(n, size, 1, 1, noise, scale, seed)
    return ds.images, np.concatenate(ds.labels).astype(np.int64)
