"""Boxes for object detection: IoU, non-maximum suppression, anchors, box
encoding, and mean average precision in the PASCAL VOC and the COCO styles.

Boxes are ``(x1, y1, x2, y2)`` rows in pixels, ``x2 > x1`` and ``y2 > y1`` for a
box with area; a box covers ``[x1, x2) x [y1, y2)``, so its width is ``x2 - x1``
(no ``+ 1``, as in torchvision). Names and argument orders follow
``torchvision.ops`` (``box_iou``, ``nms``, ``batched_nms``), which the book
cannot import, so a reader's code transfers unchanged.

Letters: N, M numbers of boxes; K kept boxes; A anchors per cell; H, W feature
map size.

Two evaluation protocols differ in two places. *Matching*: in VOC a detection
looks only at the object it overlaps most, and is a false positive if that one
is already claimed; in COCO it takes the best-overlapping object among those
not yet claimed. *Interpolation*: VOC (since 2010) sums the area under the
monotone precision envelope at every recall step; COCO reads the envelope at
the 101 recall levels 0, 0.01, ..., 1 and averages. COCO's headline number,
AP@[.5:.95], also averages over the IoU thresholds 0.50, 0.55, ..., 0.95
(:func:`coco_mean_average_precision`).

References: Girshick et al. 2014 (R-CNN, box regression targets); Ren et al.
2015 (Faster R-CNN, anchors); Everingham et al. 2010 (PASCAL VOC, average
precision); Lin et al. 2014 (COCO) and its ``cocoeval.py``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import Tensor

__all__ = [
    "box_area",
    "box_iou",
    "nms",
    "batched_nms",
    "generate_anchors",
    "encode_boxes",
    "decode_boxes",
    "precision_recall",
    "average_precision",
    "mean_average_precision",
    "coco_mean_average_precision",
    "COCO_IOU_THRESHOLDS",
]

#: COCO's IoU thresholds 0.50, 0.55, ..., 0.95, computed as ``cocoeval.py`` does.
COCO_IOU_THRESHOLDS: tuple[float, ...] = tuple(
    np.linspace(0.5, 0.95, int(np.round((0.95 - 0.5) / 0.05)) + 1).tolist())
# COCO's 101 recall levels 0, 0.01, ..., 1 (np.linspace, as cocoeval.py)
_COCO_RECALLS = np.linspace(0.0, 1.0, int(np.round(1.0 / 0.01)) + 1)


def _check_boxes(boxes, where: str, name: str = "boxes") -> Tensor:
    boxes = torch.as_tensor(boxes)
    if boxes.dim() != 2 or boxes.shape[-1] != 4:
        raise ValueError(
            f"{where}: expected {name} of shape (N, 4) rows [x1, y1, x2, y2], "
            f"got {tuple(boxes.shape)}"
        )
    if not boxes.is_floating_point():
        boxes = boxes.to(torch.get_default_dtype())
    return boxes


def box_area(boxes: Tensor) -> Tensor:
    """Area of each box, ``(N, 4) -> (N,)``; a box with x2 <= x1 has area 0."""
    boxes = _check_boxes(boxes, "box_area")
    w = (boxes[:, 2] - boxes[:, 0]).clamp(min=0)
    h = (boxes[:, 3] - boxes[:, 1]).clamp(min=0)
    return w * h


def box_iou(boxes1: Tensor, boxes2: Tensor) -> Tensor:
    """Intersection over union of every pair of boxes.

    Parameters
    ----------
    boxes1 : Tensor
        ``(N, 4)`` boxes ``[x1, y1, x2, y2]``.
    boxes2 : Tensor
        ``(M, 4)`` boxes.

    Returns
    -------
    Tensor
        ``(N, M)`` IoU in [0, 1]; a pair whose union is empty (two boxes of zero
        area) has IoU 0.
    """
    boxes1 = _check_boxes(boxes1, "box_iou", "boxes1")
    boxes2 = _check_boxes(boxes2, "box_iou", "boxes2")
    dtype = torch.promote_types(boxes1.dtype, boxes2.dtype)
    boxes1, boxes2 = boxes1.to(dtype), boxes2.to(dtype)
    area1, area2 = box_area(boxes1), box_area(boxes2)  # (N,), (M,)
    top_left = torch.maximum(boxes1[:, None, :2], boxes2[None, :, :2])  # (N, M, 2)
    bottom_right = torch.minimum(boxes1[:, None, 2:], boxes2[None, :, 2:])
    wh = (bottom_right - top_left).clamp(min=0)  # (N, M, 2): 0 where apart
    inter = wh[..., 0] * wh[..., 1]  # (N, M)
    union = area1[:, None] + area2[None, :] - inter
    # union is 0 only when both boxes have zero area; call that IoU 0, not nan
    return torch.where(union > 0, inter / union.clamp(min=torch.finfo(dtype).tiny),
                       torch.zeros_like(inter))


def _check_scores(boxes, scores, where):
    scores = torch.as_tensor(scores)
    if scores.dim() != 1 or scores.shape[0] != boxes.shape[0]:
        raise ValueError(
            f"{where}: expected scores of shape ({boxes.shape[0]},), one per box, "
            f"got {tuple(scores.shape)}"
        )
    return scores


def nms(boxes: Tensor, scores: Tensor, iou_threshold: float) -> Tensor:
    """Greedy non-maximum suppression.

    Visit the boxes from the highest score down; keep a box unless it overlaps
    an already kept box with IoU greater than ``iou_threshold``. Equal scores
    are visited in index order (a stable sort), so ties are reproducible.

    Parameters
    ----------
    boxes : Tensor
        ``(N, 4)`` boxes ``[x1, y1, x2, y2]``.
    scores : Tensor
        ``(N,)`` scores.
    iou_threshold : float
        Boxes overlapping a kept box by more than this are discarded.

    Returns
    -------
    Tensor
        ``(K,)`` int64 indices of the kept boxes, by decreasing score.
    """
    boxes = _check_boxes(boxes, "nms")
    scores = _check_scores(boxes, scores, "nms")
    order = torch.sort(scores, descending=True, stable=True).indices
    # (N, N) overlaps, computed once where the boxes are, then read to the host
    # in one copy: the greedy loop below reads one row per box, which on a GPU
    # would otherwise wait for the device at every box
    over = (box_iou(boxes, boxes) > iou_threshold).cpu().numpy()
    suppressed = np.zeros(len(boxes), dtype=bool)
    keep = []
    for i in order.tolist():
        if suppressed[i]:
            continue
        keep.append(i)
        suppressed |= over[i]  # also marks i itself: IoU 1
    return torch.tensor(keep, dtype=torch.int64, device=boxes.device)


def batched_nms(boxes: Tensor, scores: Tensor, idxs: Tensor, iou_threshold: float
                ) -> Tensor:
    """Non-maximum suppression within each category (class, or image) separately.

    A box is only ever suppressed by a box with the same ``idxs`` value. Returns
    ``(K,)`` int64 indices into ``boxes``, by decreasing score.
    """
    boxes = _check_boxes(boxes, "batched_nms")
    scores = _check_scores(boxes, scores, "batched_nms")
    idxs = torch.as_tensor(idxs, device=boxes.device)
    if idxs.shape != scores.shape:
        raise ValueError(
            f"batched_nms: expected idxs of shape ({boxes.shape[0]},), one category "
            f"per box, got {tuple(idxs.shape)}"
        )
    keep = []
    for c in torch.unique(idxs):
        members = torch.nonzero(idxs == c).flatten()  # indices of category c
        keep.append(members[nms(boxes[members], scores[members], iou_threshold)])
    if not keep:
        return torch.zeros(0, dtype=torch.int64, device=boxes.device)
    keep = torch.cat(keep)
    return keep[torch.sort(scores[keep], descending=True, stable=True).indices]


def generate_anchors(feature_size, stride: float, sizes: Sequence[float],
                     aspect_ratios: Sequence[float] = (1.0,), device=None) -> Tensor:
    """Anchor boxes centred on every cell of a feature map (Ren et al. 2015).

    Cell ``(i, j)`` of an ``H x W`` map looks at the image around
    ``((j + 0.5) * stride, (i + 0.5) * stride)``; there it places one box for
    each (size, aspect ratio) pair, of area ``size ** 2`` and ``h / w`` equal to
    the ratio.

    Parameters
    ----------
    feature_size : int or tuple of int
        ``H`` or ``(H, W)``.
    stride : float
        Image pixels per feature cell.
    sizes : sequence of float
        Square roots of the anchor areas, in pixels.
    aspect_ratios : sequence of float
        Height over width of the anchors.
    device : torch.device or str, optional
        Where to create the anchors (the device of the predictions they are
        compared with); default the CPU.

    Returns
    -------
    Tensor
        ``(H * W * A, 4)`` float32 anchors, ``A = len(sizes) * len(aspect_ratios)``,
        ordered cell by cell (row-major) and, within a cell, size-major.
    """
    H, W = (feature_size, feature_size) if isinstance(feature_size, int) \
        else tuple(feature_size)
    if H <= 0 or W <= 0 or stride <= 0 or not len(sizes) or not len(aspect_ratios):
        raise ValueError(
            "generate_anchors: expected a positive feature size and stride and at "
            f"least one size and ratio, got feature_size={feature_size}, "
            f"stride={stride}, sizes={sizes}, aspect_ratios={aspect_ratios}"
        )
    s = torch.as_tensor(sizes, dtype=torch.float32, device=device)[:, None]  # (S, 1)
    r = torch.as_tensor(aspect_ratios, dtype=torch.float32,
                        device=device)[None, :]  # (1, R)
    w = (s / r.sqrt()).flatten()  # (A,): w * h = s**2, h / w = r
    h = (s * r.sqrt()).flatten()
    half = torch.stack([-w, -h, w, h], dim=1) / 2  # (A, 4) offsets from the centre
    cy, cx = torch.meshgrid((torch.arange(H, device=device) + 0.5) * stride,
                            (torch.arange(W, device=device) + 0.5) * stride,
                            indexing="ij")
    centres = torch.stack([cx, cy, cx, cy], dim=-1).reshape(-1, 1, 4)  # (HW, 1, 4)
    return (centres + half[None]).reshape(-1, 4)  # (H * W * A, 4)


def _centre_size(boxes):
    w, h = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
    return boxes[:, 0] + w / 2, boxes[:, 1] + h / 2, w, h


def _check_per_anchor(anchors, rows, where: str, name: str, what: str):
    """Both (N, 4), one row of ``rows`` per anchor (``what`` says so in errors)."""
    anchors = _check_boxes(anchors, where, "anchors")
    rows = _check_boxes(rows, where, name)
    if anchors.shape != rows.shape:
        raise ValueError(
            f"{where}: expected {what}, got anchors "
            f"{tuple(anchors.shape)} and {name} {tuple(rows.shape)}"
        )
    return anchors, rows


def encode_boxes(anchors: Tensor, boxes: Tensor) -> Tensor:
    """Regression targets of R-CNN: ``boxes`` as offsets from ``anchors``.

    ``tx = (x - xa) / wa``, ``ty = (y - ya) / ha``, ``tw = log(w / wa)``,
    ``th = log(h / ha)`` with ``(x, y)`` box centres (Girshick et al. 2014,
    appendix C). Both ``(N, 4)``; returns ``(N, 4)`` rows ``[tx, ty, tw, th]``.
    """
    anchors, boxes = _check_per_anchor(anchors, boxes, "encode_boxes", "boxes",
                                       "one box per anchor")
    xa, ya, wa, ha = _centre_size(anchors)
    x, y, w, h = _centre_size(boxes)
    return torch.stack([(x - xa) / wa, (y - ya) / ha,
                        torch.log(w / wa), torch.log(h / ha)], dim=1)


def decode_boxes(anchors: Tensor, deltas: Tensor) -> Tensor:
    """Inverse of :func:`encode_boxes`: ``(N, 4)`` offsets back to boxes."""
    anchors, deltas = _check_per_anchor(anchors, deltas, "decode_boxes", "deltas",
                                        "one row of deltas per anchor")
    xa, ya, wa, ha = _centre_size(anchors)
    x, y = xa + deltas[:, 0] * wa, ya + deltas[:, 1] * ha
    w, h = wa * torch.exp(deltas[:, 2]), ha * torch.exp(deltas[:, 3])
    return torch.stack([x - w / 2, y - h / 2, x + w / 2, y + h / 2], dim=1)


# ------------------------------------------------------------------ evaluation


def _as_list(items, n, what, check):
    if len(items) != n:
        raise ValueError(
            f"mean_average_precision: expected {what} for each of the {n} images, "
            f"got {len(items)}"
        )
    return [check(x) for x in items]


def precision_recall(pred_boxes, pred_scores, gt_boxes, iou_threshold: float = 0.5,
                     matching: str = "voc"):
    """Precision and recall of one class's detections, by decreasing score.

    Every detection, over all images, is visited from the highest score down.
    With ``matching="voc"`` it is a true positive if its best-overlapping
    ground-truth box in the same image has IoU >= ``iou_threshold`` and has not
    been claimed by a higher-scoring detection; otherwise it is a false
    positive (a duplicate of a found object counts as a false positive, even
    when it also overlaps a second, unclaimed object enough). With
    ``matching="coco"`` it claims the best-overlapping box *among those not
    yet claimed* that reaches the threshold, if there is one.

    Parameters
    ----------
    pred_boxes, pred_scores : list of Tensor
        Per image, ``(N_i, 4)`` boxes and ``(N_i,)`` scores of this class.
    gt_boxes : list of Tensor
        Per image, ``(M_i, 4)`` ground-truth boxes of this class.
    iou_threshold : float
        Least IoU for a match (0.5 in PASCAL VOC).
    matching : {"voc", "coco"}
        Which rule assigns detections to objects (see above).

    Returns
    -------
    precision, recall, scores : Tensor
        ``(D,)`` float64 each, ``D`` the number of detections; entry ``k`` is
        measured over the ``k + 1`` highest-scoring detections. Recall is nan
        when there is no ground truth.
    """
    if matching not in ("voc", "coco"):
        raise ValueError(f"precision_recall: matching must be 'voc' or 'coco', "
                         f"got {matching!r}")
    n_gt = sum(len(g) for g in gt_boxes)
    records = []  # (score, image, index) for every detection
    for i, s in enumerate(pred_scores):
        records += [(float(v), i, k) for k, v in enumerate(s.tolist())]
    # stable sort: equal scores are taken in image order, then box order
    records.sort(key=lambda t: -t[0])
    # per image: the IoU of every detection with every ground-truth box,
    # computed where the boxes are and read to the host once per image (the
    # loop below then reads Python lists: no device sync per detection)
    ious = []
    for b, g in zip(pred_boxes, gt_boxes):
        if not (len(b) and len(g)):
            ious.append(None)
            continue
        b = torch.as_tensor(b)
        ious.append(box_iou(b, torch.as_tensor(g, device=b.device)).tolist())
    claimed = [[False] * len(g) for g in gt_boxes]
    tp = [0.0] * len(records)
    for d, (_, i, k) in enumerate(records):
        if ious[i] is None:
            continue
        row = ious[i][k]  # IoU of this detection with each object of its image
        if matching == "voc":  # the best-overlapping object, claimed or not
            j = max(range(len(row)), key=row.__getitem__)
            ok = row[j] >= iou_threshold and not claimed[i][j]
        else:  # coco: the best-overlapping object that is still unclaimed
            free = [j for j in range(len(row))
                    if not claimed[i][j] and row[j] >= iou_threshold]
            j = max(free, key=row.__getitem__) if free else -1
            ok = j >= 0
        if ok:
            claimed[i][j] = True
            tp[d] = 1.0
    cum_tp = torch.cumsum(torch.tensor(tp, dtype=torch.float64), 0)
    precision = cum_tp / torch.arange(1, len(records) + 1, dtype=torch.float64)
    recall = cum_tp / n_gt if n_gt else torch.full_like(cum_tp, float("nan"))
    scores = torch.tensor([r[0] for r in records], dtype=torch.float64)
    return precision, recall, scores


def average_precision(precision: Tensor, recall: Tensor,
                      interpolation: str = "all") -> float:
    """Area under the precision-recall curve, from its monotone envelope.

    The curve is first made monotone: precision at recall ``r`` becomes the
    best precision at any recall ``>= r`` (the "interpolated" precision). With
    ``interpolation="all"`` the area is then summed exactly over the recall
    steps (PASCAL VOC since 2010)::

        AP = sum_k (r_k - r_{k-1}) * max_{j >= k} p_j,   r_0 = 0

    With ``interpolation="101"`` (COCO) the envelope is read at the recall
    levels ``0, 0.01, ..., 1``, at the first detection whose recall reaches
    each level (0 where none does), and the 101 readings are averaged.

    Parameters
    ----------
    precision, recall : Tensor
        ``(D,)`` values by decreasing score, as from :func:`precision_recall`.
    interpolation : {"all", "101"}
        VOC's all-point area or COCO's 101-point average.

    Returns
    -------
    float
        AP in [0, 1]; 0 when there are no detections.
    """
    precision = torch.as_tensor(precision, dtype=torch.float64)
    recall = torch.as_tensor(recall, dtype=torch.float64)
    if precision.shape != recall.shape or precision.dim() != 1:
        raise ValueError(
            "average_precision: expected precision and recall of one shape (D,), "
            f"got {tuple(precision.shape)} and {tuple(recall.shape)}"
        )
    if interpolation not in ("all", "101"):
        raise ValueError(f"average_precision: interpolation must be 'all' or '101', "
                         f"got {interpolation!r}")
    if len(recall) == 0:
        return 0.0
    # running maximum from the right: the interpolated precision envelope
    envelope = torch.flip(torch.cummax(torch.flip(precision, [0]), 0).values, [0])
    if interpolation == "101":
        # first detection reaching each recall level, as cocoeval's searchsorted
        at = np.searchsorted(recall.numpy(), _COCO_RECALLS, side="left")
        readings = [float(envelope[k]) if k < len(envelope) else 0.0 for k in at]
        return float(np.mean(readings))
    steps = torch.diff(recall, prepend=recall.new_zeros(1))  # (D,)
    return float((steps * envelope).sum())


def mean_average_precision(pred_boxes, pred_scores, pred_labels, gt_boxes,
                           gt_labels, iou_threshold: float = 0.5,
                           num_classes: int | None = None, matching: str = "voc",
                           interpolation: str = "all") -> dict:
    """Mean over classes of the average precision at one IoU threshold.

    Parameters
    ----------
    pred_boxes, pred_scores, pred_labels : list of Tensor
        Per image, the detections: ``(N_i, 4)`` boxes, ``(N_i,)`` scores and
        ``(N_i,)`` integer classes.
    gt_boxes, gt_labels : list of Tensor
        Per image, the ground truth: ``(M_i, 4)`` boxes and ``(M_i,)`` classes.
    iou_threshold : float
        Least IoU for a detection to match an object (0.5 for mAP@0.5).
    num_classes : int, optional
        Classes are ``0 .. num_classes - 1``; by default one more than the
        largest label seen.
    matching, interpolation : str
        VOC's rules by default; ``"coco"`` and ``"101"`` give COCO's at this
        one threshold (see :func:`precision_recall`, :func:`average_precision`).

    Returns
    -------
    dict
        ``{"map": float, "ap": {class: AP}}``. The mean is over the classes that
        have at least one ground-truth object; a class with objects and no
        detections has AP 0.
    """
    n = len(gt_boxes)
    gt_boxes = _as_list(gt_boxes, n, "ground-truth boxes",
                        lambda b: _check_boxes(b, "mean_average_precision",
                                               "gt_boxes[i]"))
    gt_labels = _as_list(gt_labels, n, "ground-truth labels", torch.as_tensor)
    pred_boxes = _as_list(pred_boxes, n, "predicted boxes",
                          lambda b: _check_boxes(b, "mean_average_precision",
                                                 "pred_boxes[i]"))
    pred_scores = _as_list(pred_scores, n, "scores", torch.as_tensor)
    pred_labels = _as_list(pred_labels, n, "predicted labels", torch.as_tensor)
    for i in range(n):
        if not (len(pred_boxes[i]) == len(pred_scores[i]) == len(pred_labels[i])):
            raise ValueError(
                f"mean_average_precision: image {i} has {len(pred_boxes[i])} boxes, "
                f"{len(pred_scores[i])} scores and {len(pred_labels[i])} labels"
            )
        if len(gt_boxes[i]) != len(gt_labels[i]):
            raise ValueError(
                f"mean_average_precision: image {i} has {len(gt_boxes[i])} "
                f"ground-truth boxes and {len(gt_labels[i])} labels"
            )
    if num_classes is None:
        seen = [int(t.max()) for t in gt_labels + pred_labels if len(t)]
        num_classes = max(seen) + 1 if seen else 0
    ap = {}
    for c in range(num_classes):
        gts = [g[lab == c] for g, lab in zip(gt_boxes, gt_labels)]
        if sum(len(g) for g in gts) == 0:
            continue  # no objects of this class: AP undefined, left out
        precision, recall, _ = precision_recall(
            [b[lab == c] for b, lab in zip(pred_boxes, pred_labels)],
            [s[lab == c] for s, lab in zip(pred_scores, pred_labels)],
            gts, iou_threshold, matching)
        ap[c] = average_precision(precision, recall, interpolation)
    mean = sum(ap.values()) / len(ap) if ap else float("nan")
    return {"map": mean, "ap": ap}


def coco_mean_average_precision(pred_boxes, pred_scores, pred_labels, gt_boxes,
                                gt_labels, iou_thresholds=COCO_IOU_THRESHOLDS,
                                num_classes: int | None = None) -> dict:
    """COCO's AP@[.5:.95]: COCO matching and 101-point AP, averaged over classes
    and over the IoU thresholds 0.50, 0.55, ..., 0.95.

    Arguments as :func:`mean_average_precision`. Not modelled: COCO's limit of
    100 detections per image, its size ranges and its "crowd" regions (none of
    which the book's synthetic data have).

    Returns
    -------
    dict
        ``{"map": float, "ap": {class: AP averaged over thresholds},
        "map_at": {threshold: mAP at that threshold}}``; ``map_at[0.5]`` is
        COCO's AP50 and ``map_at[0.75]`` its AP75 (keys rounded to 10 decimals).
    """
    per_t = {t: mean_average_precision(pred_boxes, pred_scores, pred_labels, gt_boxes,
                                       gt_labels, t, num_classes, matching="coco",
                                       interpolation="101")
             for t in iou_thresholds}
    classes = next(iter(per_t.values()))["ap"].keys() if per_t else []
    ap = {c: float(np.mean([r["ap"][c] for r in per_t.values()])) for c in classes}
    mean = float(np.mean(list(ap.values()))) if ap else float("nan")
    # keys rounded so that map_at[0.9] works (linspace gives 0.8999999999999999)
    return {"map": mean, "ap": ap,
            "map_at": {round(t, 10): r["map"] for t, r in per_t.items()}}
