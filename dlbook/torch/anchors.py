"""Training targets for an anchor-based detector: IoU matching and sampling.

An anchor-based detector (Faster R-CNN's region proposal network, SSD,
RetinaNet) predicts, for every anchor box, whether an object is there and how
to move the anchor onto it. Before it can be trained, each anchor needs a
label. :func:`match_anchors` gives it one from its IoU with the true boxes, the
rule of Ren et al. (2015): positive at IoU >= 0.7, negative below 0.3, ignored
in between, and each true box's best anchor positive whatever its IoU. Most
anchors are easy background, so :func:`sample_anchors` picks a small,
balanced set of them for the loss (256 per image, up to half positive, in
Faster R-CNN). The regression targets are :func:`dlbook.torch.detection.encode_boxes`
of each positive anchor and its matched box, scored with a smooth-L1 loss
(``torch.nn.functional.smooth_l1_loss``).

Letters: A anchors, M true boxes, B images.

References: Ren et al. 2015 (Faster R-CNN, section 3.1.2); torchvision's
``Matcher`` and ``BalancedPositiveNegativeSampler``, whose conventions these
functions follow.
"""

from __future__ import annotations

import torch
from torch import Tensor

from .detection import _check_boxes, box_iou

__all__ = ["match_anchors", "sample_anchors"]

POSITIVE, NEGATIVE, IGNORE = 1, 0, -1


def match_anchors(anchors: Tensor, gt_boxes: Tensor, high: float = 0.7,
                  low: float = 0.3, allow_low_quality: bool = True
                  ) -> tuple[Tensor, Tensor]:
    """Label every anchor positive, negative or ignored by its IoU with the objects.

    An anchor whose best IoU with any true box is at least ``high`` is positive
    (1), below ``low`` negative (0), in between ignored (-1): too good to call
    background, too poor to learn a box from. With ``allow_low_quality``, each
    true box's best anchors (all that tie for its highest IoU, if that IoU is
    above 0) are positive too, so that no object goes without a positive anchor.
    Such an anchor keeps its own best box as its match, as in torchvision and
    Detectron2; only when it overlaps another box even more does its object
    stay unmatched.

    Args:
        anchors: ``(A, 4)`` anchor boxes ``[x1, y1, x2, y2]``.
        gt_boxes: ``(M, 4)`` true boxes of one image; ``M`` may be 0.
        high: IoU from which an anchor is positive.
        low: IoU below which an anchor is negative; ``0 <= low <= high <= 1``.
        allow_low_quality: Make each true box's best anchor positive.

    Returns:
        ``(labels, matched)``: ``labels`` ``(A,)`` int64 in {1, 0, -1}, and
        ``matched`` ``(A,)`` int64, the index of each anchor's best true box
        (meaningful where the label is 1), or -1 everywhere when ``M`` is 0.

    Raises:
        ValueError: for boxes that are not ``(N, 4)`` or thresholds out of order.
    """
    anchors = _check_boxes(anchors, "match_anchors", "anchors")
    gt_boxes = _check_boxes(gt_boxes, "match_anchors", "gt_boxes")
    if not 0.0 <= low <= high <= 1.0:
        raise ValueError(
            "match_anchors: expected thresholds 0 <= low <= high <= 1, "
            f"got low={low}, high={high}"
        )
    n = anchors.shape[0]
    labels = torch.full((n,), NEGATIVE, dtype=torch.int64, device=anchors.device)
    matched = torch.full((n,), -1, dtype=torch.int64, device=anchors.device)
    if gt_boxes.shape[0] == 0 or n == 0:  # no object: every anchor is background
        return labels, matched
    iou = box_iou(anchors, gt_boxes.to(anchors.device))  # (A, M)
    best_iou, matched = iou.max(dim=1)  # (A,): each anchor's best object
    labels[best_iou >= low] = IGNORE
    labels[best_iou >= high] = POSITIVE
    if allow_low_quality:
        best_per_gt = iou.max(dim=0).values  # (M,): each object's best anchor's IoU
        is_best = (iou == best_per_gt[None, :]) & (best_per_gt[None, :] > 0)  # (A, M)
        labels[is_best.any(dim=1)] = POSITIVE
    return labels, matched


def sample_anchors(labels: Tensor, batch_size_per_image: int,
                   positive_fraction: float, generator: torch.Generator | None = None
                   ) -> Tensor:
    """Pick a random, balanced subset of the labelled anchors for the loss.

    Per image, up to ``int(batch_size_per_image * positive_fraction)`` positives
    are drawn at random without replacement, and negatives fill the rest of the
    batch (fewer positives leave room for more negatives), as torchvision's
    ``BalancedPositiveNegativeSampler`` does.

    Args:
        labels: ``(A,)`` or ``(B, A)`` labels from :func:`match_anchors`
            (1 positive, 0 negative, -1 ignored), one row per image.
        batch_size_per_image: Anchors to sample per image (Faster R-CNN's RPN: 256).
        positive_fraction: Largest share of positives (Faster R-CNN: 0.5).
        generator: Source of the random choice (for a seeded draw).

    Returns:
        A tensor shaped like ``labels``: 1 for the sampled positives, 0 for the
        sampled negatives, -1 for every anchor left out.

    Raises:
        ValueError: for labels that are not 1-D or 2-D integers in {-1, 0, 1},
            a batch size below 1 or a fraction outside [0, 1].
    """
    labels = torch.as_tensor(labels)
    if labels.dim() not in (1, 2) or labels.is_floating_point() or labels.is_complex():
        raise ValueError(
            "sample_anchors: expected integer labels of shape (A,) or (B, A), got "
            f"{labels.dtype} of shape {tuple(labels.shape)}"
        )
    if labels.numel() and not ((labels >= -1) & (labels <= 1)).all():
        raise ValueError("sample_anchors: expected labels in {-1, 0, 1}, got "
                         f"values from {labels.min().item()} to {labels.max().item()}")
    if batch_size_per_image < 1 or not 0.0 <= positive_fraction <= 1.0:
        raise ValueError(
            "sample_anchors: expected batch_size_per_image >= 1 and 0 <= "
            f"positive_fraction <= 1, got {batch_size_per_image} and "
            f"{positive_fraction}"
        )
    rows = labels.reshape(-1, labels.shape[-1])  # (B, A)
    pos, neg = rows == POSITIVE, rows == NEGATIVE
    n_pos = pos.sum(dim=1).clamp(max=int(batch_size_per_image * positive_fraction))
    n_neg = neg.sum(dim=1).clamp(max=batch_size_per_image - n_pos)  # (B,) each
    keys = torch.rand(rows.shape, generator=generator).to(rows.device)  # (B, A)
    out = torch.full_like(rows, IGNORE)
    for kind, mask, count in ((POSITIVE, pos, n_pos), (NEGATIVE, neg, n_neg)):
        # rank the anchors of this kind by a random key; keep the first `count`
        order = torch.where(mask, keys, torch.inf).argsort(dim=1)  # (B, A)
        rank = order.argsort(dim=1)  # (B, A): position of each anchor in the draw
        out[mask & (rank < count[:, None])] = kind
    return out.reshape(labels.shape)
