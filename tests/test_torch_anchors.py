"""dlbook.torch.anchors: matching and sampling on cases worked out by hand.

The IoUs below are chosen so that their values are known exactly: a 10 x 10
box shifted sideways by d has IoU (10 - d) / (10 + d) with the original.
"""

import pytest
import torch

from dlbook.torch.anchors import match_anchors, sample_anchors

DT = torch.float64


def _t(rows):
    return torch.tensor(rows, dtype=DT).reshape(-1, 4)


def _shifted(d):
    """A 10 x 10 box moved right by d: IoU (10 - d) / (10 + d) with [0, 0, 10, 10]."""
    return [d, 0, 10 + d, 10]


GT = _t([[0, 0, 10, 10]])

# ------------------------------------------------------------------ matching


def test_thresholds_split_positive_ignored_negative():
    # IoU 1, 8/12, 5/15, 4/16 and 0
    anchors = _t([_shifted(0), _shifted(2), _shifted(5), _shifted(6), _shifted(30)])
    labels, matched = match_anchors(anchors, GT)
    assert labels.tolist() == [1, -1, -1, 0, 0]
    assert matched.tolist() == [0] * 5
    assert labels.dtype == matched.dtype == torch.int64


def test_thresholds_are_inclusive_from_above():
    # IoU exactly 0.7 is positive, exactly 0.3 is ignored (not negative)
    anchors = _t([[0, 0, 7, 10], [0, 0, 3, 10], [0, 0, 2.9, 10]])
    labels, _ = match_anchors(anchors, GT, allow_low_quality=False)
    assert labels.tolist() == [1, -1, 0]


def test_low_quality_match_makes_the_best_anchor_positive():
    anchors = _t([_shifted(4), _shifted(6)])  # IoU 6/14 (ignored) and 4/16
    assert match_anchors(anchors, GT, allow_low_quality=False)[0].tolist() == [-1, 0]
    labels, matched = match_anchors(anchors, GT)
    assert labels.tolist() == [1, 0] and matched.tolist() == [0, 0]
    # even an anchor below `low` becomes positive when it is the object's best
    labels, _ = match_anchors(_t([_shifted(6), _shifted(8)]), GT)
    assert labels.tolist() == [1, 0]


def test_low_quality_keeps_every_tie_and_skips_objects_nothing_overlaps():
    anchors = _t([_shifted(-4), _shifted(4), _shifted(7)])  # 6/14, 6/14, 3/17
    assert match_anchors(anchors, GT)[0].tolist() == [1, 1, 0]
    far = _t([[100, 100, 110, 110]])  # overlaps no anchor: no anchor is its best
    labels, matched = match_anchors(anchors, torch.cat([GT, far]))
    assert labels.tolist() == [1, 1, 0] and matched.tolist() == [0, 0, 0]


def test_low_quality_anchor_keeps_its_own_best_object():
    # anchor 0 is object B's best (IoU 0.5) but overlaps A more (IoU 1): it stays
    # matched to A, as in torchvision, and B gets no positive anchor
    gt = _t([[0, 0, 10, 10], [0, 0, 10, 20]])
    anchors = _t([[0, 0, 10, 10], [50, 50, 60, 60]])
    labels, matched = match_anchors(anchors, gt)
    assert labels.tolist() == [1, 0] and matched[0].item() == 0


def test_each_anchor_takes_the_object_it_overlaps_most():
    gt = _t([[0, 0, 10, 10], [20, 0, 30, 10]])
    anchors = _t([_shifted(1), _shifted(19), _shifted(10)])  # near A, near B, between
    labels, matched = match_anchors(anchors, gt)
    assert labels.tolist() == [1, 1, 0]
    assert matched[:2].tolist() == [0, 1]


def test_no_objects_every_anchor_is_negative():
    anchors = _t([_shifted(0), _shifted(3)])
    labels, matched = match_anchors(anchors, torch.zeros(0, 4, dtype=DT))
    assert labels.tolist() == [0, 0] and matched.tolist() == [-1, -1]
    labels, matched = match_anchors(torch.zeros(0, 4), GT)
    assert labels.shape == matched.shape == (0,)


def _loop_reference(anchors, gt, high, low):
    """Faster R-CNN's rule written out anchor by anchor, object by object."""
    def iou(a, b):
        iw = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
        ih = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
        inter = iw * ih
        union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
        return inter / union
    table = [[iou(a, g) for g in gt] for a in anchors]
    labels, matched = [], []
    for row in table:
        best = max(row)
        matched.append(row.index(best))
        labels.append(1 if best >= high else (0 if best < low else -1))
    for j in range(len(gt)):
        col = [row[j] for row in table]
        if max(col) > 0:
            for i, v in enumerate(col):
                if v == max(col):
                    labels[i] = 1
    return labels, matched


def test_matches_a_loop_reference_on_random_boxes():
    g = torch.Generator().manual_seed(0)
    for _ in range(20):
        xy = torch.rand(40, 2, generator=g, dtype=DT) * 40
        anchors = torch.cat([xy, xy + 4 + 12 * torch.rand(40, 2, generator=g,
                                                          dtype=DT)], dim=1)
        xy = torch.rand(3, 2, generator=g, dtype=DT) * 40
        gt = torch.cat([xy, xy + 4 + 12 * torch.rand(3, 2, generator=g, dtype=DT)], 1)
        labels, matched = match_anchors(anchors, gt, high=0.5, low=0.2)
        ref_labels, ref_matched = _loop_reference(anchors.tolist(), gt.tolist(),
                                                  0.5, 0.2)
        assert labels.tolist() == ref_labels
        assert matched.tolist() == ref_matched


def test_match_errors_name_the_function_and_what_came():
    with pytest.raises(ValueError, match=r"match_anchors: expected thresholds 0 <= "
                       r"low <= high <= 1, got low=0.8, high=0.7"):
        match_anchors(GT, GT, high=0.7, low=0.8)
    with pytest.raises(ValueError, match=r"match_anchors: expected anchors of shape "
                       r"\(N, 4\).*got \(4,\)"):
        match_anchors(torch.zeros(4), GT)
    with pytest.raises(ValueError, match=r"gt_boxes.*got \(2, 3\)"):
        match_anchors(GT, torch.zeros(2, 3))


# ------------------------------------------------------------------ sampling


def _labels(n_pos, n_neg, n_ignore):
    return torch.tensor([1] * n_pos + [0] * n_neg + [-1] * n_ignore)


def _counts(sampled):
    return int((sampled == 1).sum()), int((sampled == 0).sum())


def test_sample_caps_positives_and_fills_with_negatives():
    labels = _labels(10, 100, 5)
    g = torch.Generator().manual_seed(0)
    sampled = sample_anchors(labels, 16, 0.5, g)
    assert sampled.shape == labels.shape and _counts(sampled) == (8, 8)
    # a sampled anchor keeps its label; ignored anchors are never sampled
    chosen = sampled >= 0
    assert torch.equal(sampled[chosen], labels[chosen])
    assert (sampled[labels == -1] == -1).all()
    # few positives: the negatives take their place
    assert _counts(sample_anchors(_labels(3, 100, 5), 16, 0.5, g)) == (3, 13)
    # fewer anchors than the batch: all of them
    assert _counts(sample_anchors(_labels(2, 3, 4), 16, 0.5, g)) == (2, 3)
    assert _counts(sample_anchors(_labels(10, 100, 0), 16, 0.25, g)) == (4, 12)


def test_sample_rows_are_images_of_a_batch():
    labels = torch.stack([_labels(10, 20, 0), _labels(1, 29, 0)])  # (2, 30)
    sampled = sample_anchors(labels, 8, 0.5, torch.Generator().manual_seed(1))
    assert sampled.shape == (2, 30)
    assert _counts(sampled[0]) == (4, 4) and _counts(sampled[1]) == (1, 7)


def test_sample_is_seeded_and_uniform():
    labels = _labels(4, 4, 0)
    a = sample_anchors(labels, 4, 0.5, torch.Generator().manual_seed(3))
    b = sample_anchors(labels, 4, 0.5, torch.Generator().manual_seed(3))
    assert torch.equal(a, b)
    # 2 of 4 positives drawn: each is picked half of the time
    g = torch.Generator().manual_seed(4)
    picks = torch.stack([sample_anchors(labels, 4, 0.5, g) == 1 for _ in range(4000)])
    freq = picks[:, :4].double().mean(dim=0)
    assert ((freq - 0.5).abs() < 0.04).all(), freq


def test_sample_errors_name_the_function_and_what_came():
    with pytest.raises(ValueError, match=r"sample_anchors: expected integer labels "
                       r"of shape \(A,\) or \(B, A\), got torch.float32"):
        sample_anchors(torch.zeros(5), 4, 0.5)
    with pytest.raises(ValueError, match=r"labels in \{-1, 0, 1\}, got values from "
                       r"0 to 2"):
        sample_anchors(torch.tensor([0, 2]), 4, 0.5)
    with pytest.raises(ValueError, match=r"batch_size_per_image >= 1.*got 0 and 0.5"):
        sample_anchors(_labels(1, 1, 0), 0, 0.5)
    with pytest.raises(ValueError, match=r"got 4 and 1.5"):
        sample_anchors(_labels(1, 1, 0), 4, 1.5)
