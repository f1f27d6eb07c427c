"""dlbook.torch.detection: cases worked out by hand, edge cases and properties.

torchvision is not a dependency, so the references are hand computations and
brute-force loops written independently of the vectorised code.
"""

import math

import pytest
import torch

from dlbook.torch import detection as det

DT = torch.float64


def _t(rows):
    return torch.tensor(rows, dtype=DT).reshape(-1, 4)


# ------------------------------------------------------------------ IoU


def test_box_iou_hand_computed():
    a = _t([[0, 0, 2, 2]])
    b = _t([[1, 1, 3, 3],    # overlap 1x1: 1 / (4 + 4 - 1)
            [0, 0, 2, 2],    # identical
            [2, 0, 4, 2],    # touching edge: intersection 0
            [0, 0, 1, 2],    # inside: 2 / 4
            [-1, -1, 3, 3]])  # contains: 4 / 16
    got = det.box_iou(a, b)
    assert got.shape == (1, 5)
    torch.testing.assert_close(got[0], torch.tensor([1 / 7, 1, 0, 0.5, 0.25],
                                                    dtype=DT))


def test_box_iou_zero_area_and_empty():
    z = _t([[1, 1, 1, 1]])
    assert det.box_iou(z, z).item() == 0.0  # no union: 0, not nan
    assert det.box_iou(z, _t([[0, 0, 2, 2]])).item() == 0.0
    assert det.box_iou(_t([]), _t([[0, 0, 1, 1]])).shape == (0, 1)
    assert det.box_iou(_t([[0, 0, 1, 1]]), _t([])).shape == (1, 0)
    assert det.box_area(_t([[0, 0, -1, 3]])).item() == 0.0  # inverted: area 0


def _iou_loops(a, b):
    out = torch.zeros(len(a), len(b), dtype=DT)
    for i, p in enumerate(a.tolist()):
        for j, q in enumerate(b.tolist()):
            iw = max(0.0, min(p[2], q[2]) - max(p[0], q[0]))
            ih = max(0.0, min(p[3], q[3]) - max(p[1], q[1]))
            inter = iw * ih
            union = (p[2] - p[0]) * (p[3] - p[1]) + (q[2] - q[0]) * (q[3] - q[1]) \
                - inter
            out[i, j] = inter / union
    return out


def _random_boxes(n, seed, size=20.0):
    g = torch.Generator().manual_seed(seed)
    xy = torch.rand(n, 2, generator=g, dtype=DT) * size
    wh = torch.rand(n, 2, generator=g, dtype=DT) * size / 2 + 0.5
    return torch.cat([xy, xy + wh], dim=1)


def test_box_iou_properties_against_loops():
    a, b = _random_boxes(30, 0), _random_boxes(20, 1)
    iou = det.box_iou(a, b)
    torch.testing.assert_close(iou, _iou_loops(a, b))
    torch.testing.assert_close(iou, det.box_iou(b, a).T)  # symmetric
    assert (iou >= 0).all() and (iou <= 1).all()
    torch.testing.assert_close(torch.diagonal(det.box_iou(a, a)),
                               torch.ones(30, dtype=DT))
    # invariant to translating and scaling both boxes together
    torch.testing.assert_close(det.box_iou(a * 3 + 7, b * 3 + 7), iou)


def test_box_iou_accepts_integers_and_float32():
    got = det.box_iou(torch.tensor([[0, 0, 2, 2]]),
                      torch.tensor([[1, 1, 3, 3]], dtype=torch.float32))
    assert got.dtype == torch.float32
    assert math.isclose(got.item(), 1 / 7, rel_tol=1e-6)


@pytest.mark.parametrize("shape", [(4,), (3, 3), (2, 4, 1), (2, 5)])
def test_box_iou_bad_shape_names_the_argument(shape):
    with pytest.raises(ValueError, match=r"box_iou: expected boxes1 of shape "
                                         r"\(N, 4\).*got"):
        det.box_iou(torch.zeros(shape), _t([[0, 0, 1, 1]]))
    with pytest.raises(ValueError, match="boxes2"):
        det.box_iou(_t([[0, 0, 1, 1]]), torch.zeros(shape))


# ------------------------------------------------------------------ NMS


def test_nms_hand_computed():
    boxes = _t([[0, 0, 10, 10],     # 0: score .9, kept
                [1, 1, 11, 11],     # 1: IoU 81/119 = 0.68 with 0: removed
                [20, 20, 30, 30],   # 2: far away: kept
                [0, 0, 10, 5]])     # 3: IoU 50/100 = 0.5 with 0: kept at 0.5
    scores = torch.tensor([0.9, 0.8, 0.3, 0.7])
    assert det.nms(boxes, scores, 0.5).tolist() == [0, 3, 2]
    assert det.nms(boxes, scores, 0.4).tolist() == [0, 2]
    assert det.nms(boxes, scores, 0.7).tolist() == [0, 1, 3, 2]
    # a lower-scoring box is judged only against kept boxes: 1 is suppressed by
    # 0, so 3's overlap with 1 does not matter
    assert det.nms(boxes, scores, 1.0).tolist() == [0, 1, 3, 2]


def test_nms_ties_keep_the_lower_index():
    boxes = _t([[0, 0, 10, 10], [0, 0, 10, 10], [0, 0, 10, 10]])
    assert det.nms(boxes, torch.tensor([0.5, 0.5, 0.5]), 0.5).tolist() == [0]
    assert det.nms(boxes, torch.tensor([0.4, 0.5, 0.5]), 0.5).tolist() == [1]


def test_nms_empty_and_single():
    assert det.nms(_t([]), torch.zeros(0), 0.5).tolist() == []
    assert det.nms(_t([[0, 0, 1, 1]]), torch.tensor([0.1]), 0.5).tolist() == [0]


def test_nms_properties():
    for seed in range(5):
        boxes = _random_boxes(60, seed)
        scores = torch.rand(60, generator=torch.Generator().manual_seed(seed + 10))
        for thr in (0.1, 0.3, 0.5, 0.9):
            keep = det.nms(boxes, scores, thr)
            kept = boxes[keep]
            iou = det.box_iou(kept, kept).fill_diagonal_(0)
            assert (iou <= thr).all()  # no kept pair above the threshold
            assert (scores[keep].diff() <= 0).all()  # by decreasing score
            # every removed box overlaps some kept box with a higher score
            removed = sorted(set(range(60)) - set(keep.tolist()))
            for r in removed:
                over = det.box_iou(boxes[r:r + 1], kept)[0] > thr
                assert (over & (scores[keep] >= scores[r])).any()
    # raising the threshold never keeps fewer boxes here (nested in practice)
    boxes, scores = _random_boxes(60, 7), torch.linspace(1, 0, 60)
    sizes = [len(det.nms(boxes, scores, t)) for t in (0.0, 0.2, 0.5, 0.8, 1.0)]
    assert sizes == sorted(sizes) and sizes[-1] == 60


def test_nms_bad_input():
    with pytest.raises(ValueError, match=r"nms: expected scores of shape \(2,\)"):
        det.nms(_t([[0, 0, 1, 1], [0, 0, 2, 2]]), torch.zeros(3), 0.5)
    with pytest.raises(ValueError, match=r"nms: expected boxes of shape \(N, 4\)"):
        det.nms(torch.zeros(2, 3), torch.zeros(2), 0.5)


def test_batched_nms_only_within_a_category():
    boxes = _t([[0, 0, 10, 10], [0, 0, 10, 10], [1, 0, 10, 10], [50, 50, 60, 60]])
    scores = torch.tensor([0.9, 0.8, 0.95, 0.1])
    labels = torch.tensor([0, 1, 0, 1])
    # class 0: box 2 (0.95) suppresses box 0; class 1: boxes 1 and 3 apart
    assert det.batched_nms(boxes, scores, labels, 0.5).tolist() == [2, 1, 3]
    assert det.nms(boxes, scores, 0.5).tolist() == [2, 3]
    assert det.batched_nms(_t([]), torch.zeros(0), torch.zeros(0), 0.5).tolist() == []
    with pytest.raises(ValueError, match="idxs"):
        det.batched_nms(boxes, scores, labels[:3], 0.5)


# ------------------------------------------------------------------ anchors


def test_generate_anchors_hand_computed():
    a = det.generate_anchors((1, 2), stride=8, sizes=[4], aspect_ratios=[1.0])
    torch.testing.assert_close(a, torch.tensor([[2.0, 2, 6, 6], [10, 2, 14, 6]]))
    # ratio h/w = 4 with area 16: w = 2, h = 8
    b = det.generate_anchors(1, stride=10, sizes=[4], aspect_ratios=[4.0])
    torch.testing.assert_close(b, torch.tensor([[4.0, 1, 6, 9]]))


def test_generate_anchors_layout_and_properties():
    a = det.generate_anchors((3, 5), stride=16, sizes=[8, 32],
                             aspect_ratios=[0.5, 1, 2])
    assert a.shape == (3 * 5 * 6, 4)
    w, h = a[:, 2] - a[:, 0], a[:, 3] - a[:, 1]
    per_cell = (w * h).reshape(15, 6)
    torch.testing.assert_close(per_cell[0], torch.tensor([64.0] * 3 + [1024.0] * 3))
    torch.testing.assert_close((h / w).reshape(15, 6)[0],
                               torch.tensor([0.5, 1, 2, 0.5, 1, 2]))
    centres = ((a[:, :2] + a[:, 2:]) / 2).reshape(3, 5, 6, 2)
    torch.testing.assert_close(centres[1, 4, 0], torch.tensor([72.0, 24.0]))


def test_generate_anchors_bad_input():
    with pytest.raises(ValueError, match="generate_anchors"):
        det.generate_anchors(0, 8, [4])
    with pytest.raises(ValueError, match="at least one size"):
        det.generate_anchors(2, 8, [])


def test_encode_decode_round_trip_and_hand_case():
    anchors = _t([[0, 0, 10, 20]])
    box = _t([[5, 0, 25, 20]])  # centre moves by 10 = one width, width doubles
    t = det.encode_boxes(anchors, box)
    torch.testing.assert_close(t, torch.tensor([[1.0, 0, math.log(2), 0]],
                                               dtype=DT))
    a, b = _random_boxes(40, 3), _random_boxes(40, 4)
    torch.testing.assert_close(det.decode_boxes(a, det.encode_boxes(a, b)), b)
    torch.testing.assert_close(det.decode_boxes(a, torch.zeros(40, 4, dtype=DT)), a)
    with pytest.raises(ValueError, match="one box per anchor"):
        det.encode_boxes(a, b[:3])


# ------------------------------------------------------------------ AP and mAP


def test_precision_recall_hand_computed():
    # one image, two objects; detections by score: hit, duplicate, miss, hit
    gt = [_t([[0, 0, 10, 10], [20, 20, 30, 30]])]
    boxes = [_t([[0, 0, 10, 10], [0, 0, 10, 9], [50, 50, 60, 60], [20, 20, 30, 31]])]
    scores = [torch.tensor([0.9, 0.8, 0.7, 0.6], dtype=DT)]
    p, r, s = det.precision_recall(boxes, scores, gt, 0.5)
    torch.testing.assert_close(p, torch.tensor([1, 0.5, 1 / 3, 0.5], dtype=DT))
    torch.testing.assert_close(r, torch.tensor([0.5, 0.5, 0.5, 1], dtype=DT))
    assert s.tolist() == [0.9, 0.8, 0.7, 0.6]
    # AP: recall 0.5 at precision 1, then 0.5 more at interpolated precision 0.5
    assert math.isclose(det.average_precision(p, r), 0.5 * 1 + 0.5 * 0.5)


def test_average_precision_interpolates_from_the_right():
    # precision dips then recovers: the envelope takes the later, higher value
    p = torch.tensor([1.0, 0.5, 2 / 3, 0.75])
    r = torch.tensor([0.25, 0.25, 0.5, 0.75])
    assert math.isclose(det.average_precision(p, r), 0.25 + 0.25 * 0.75 + 0.25 * 0.75)
    assert det.average_precision(torch.ones(3), torch.tensor([1 / 3, 2 / 3, 1])) == 1
    assert det.average_precision(torch.zeros(0), torch.zeros(0)) == 0.0
    with pytest.raises(ValueError, match="average_precision"):
        det.average_precision(torch.ones(3), torch.ones(2))


def test_precision_recall_threshold_is_inclusive_and_images_are_separate():
    gt = [_t([[0, 0, 2, 2]]), _t([])]
    # IoU exactly 0.5 (2 / 4) counts; the same box in the other image is a miss
    boxes = [_t([[0, 0, 1, 2]]), _t([[0, 0, 2, 2]])]
    scores = [torch.tensor([0.5]), torch.tensor([0.9])]
    p, r, _ = det.precision_recall(boxes, scores, gt, 0.5)
    torch.testing.assert_close(p, torch.tensor([0.0, 0.5], dtype=DT))
    torch.testing.assert_close(r, torch.tensor([0.0, 1.0], dtype=DT))


def test_mean_average_precision_perfect_empty_and_per_class():
    gt_b = [_t([[0, 0, 10, 10], [20, 20, 30, 30]]), _t([[5, 5, 15, 15]])]
    gt_l = [torch.tensor([0, 1]), torch.tensor([1])]
    perfect = det.mean_average_precision(gt_b, [torch.ones(2), torch.ones(1)],
                                         gt_l, gt_b, gt_l)
    assert perfect["map"] == 1.0 and perfect["ap"] == {0: 1.0, 1: 1.0}
    # no detections at all: every class 0
    none = det.mean_average_precision([_t([]), _t([])], [torch.zeros(0)] * 2,
                                      [torch.zeros(0, dtype=torch.long)] * 2,
                                      gt_b, gt_l)
    assert none == {"map": 0.0, "ap": {0: 0.0, 1: 0.0}}
    # right boxes, wrong class labels: class 0 finds nothing, class 1 has one
    # false positive ranked first, then its two objects found
    wrong = det.mean_average_precision(
        gt_b, [torch.tensor([0.9, 0.8]), torch.tensor([0.7])],
        [torch.tensor([1, 1]), torch.tensor([1])], gt_b, gt_l)
    assert wrong["ap"][0] == 0.0
    # precision (0, 1/2, 2/3) at recall (0, 1/2, 1): envelope 2/3 everywhere
    assert math.isclose(wrong["ap"][1], 2 / 3)
    # a class with no ground truth is left out of the mean (num_classes=3)
    three = det.mean_average_precision(gt_b, [torch.ones(2), torch.ones(1)],
                                       gt_l, gt_b, gt_l, num_classes=3)
    assert set(three["ap"]) == {0, 1}
    # no images at all
    assert math.isnan(det.mean_average_precision([], [], [], [], [])["map"])


def test_mean_average_precision_bad_input():
    gt_b, gt_l = [_t([[0, 0, 1, 1]])], [torch.tensor([0])]
    with pytest.raises(ValueError, match="each of the 1 images"):
        det.mean_average_precision([], [], [], gt_b, gt_l)
    with pytest.raises(ValueError, match="image 0 has 1 boxes, 2 scores"):
        det.mean_average_precision(gt_b, [torch.ones(2)], gt_l, gt_b, gt_l)
    with pytest.raises(ValueError, match=r"pred_boxes\[i\] of shape \(N, 4\)"):
        det.mean_average_precision([torch.zeros(1, 5)], [torch.ones(1)], gt_l,
                                   gt_b, gt_l)


# ---------------------------------------------------------------- COCO-style AP

# two objects of one class overlapping by IoU 2/3; the first detection sits on
# A, the second overlaps A by 0.905 and B by 0.739
_TWO = [torch.tensor([[0.0, 0, 10, 10], [2, 0, 12, 10]])]
_DETS = [torch.tensor([[0.0, 0, 10, 10], [0.5, 0, 10.5, 10]])]
_SCORES = [torch.tensor([0.9, 0.8])]


def test_voc_and_coco_matching_differ_on_a_duplicate_near_a_second_object():
    p, r, _ = det.precision_recall(_DETS, _SCORES, _TWO, 0.5, matching="voc")
    assert p.tolist() == [1.0, 0.5] and r.tolist() == [0.5, 0.5]  # best is taken
    p, r, _ = det.precision_recall(_DETS, _SCORES, _TWO, 0.5, matching="coco")
    assert p.tolist() == [1.0, 1.0] and r.tolist() == [0.5, 1.0]  # falls back on B
    p, r, _ = det.precision_recall(_DETS, _SCORES, _TWO, 0.75, matching="coco")
    assert p.tolist() == [1.0, 0.5] and r.tolist() == [0.5, 0.5]  # B only 0.739
    with pytest.raises(ValueError, match="matching must be 'voc' or 'coco'"):
        det.precision_recall(_DETS, _SCORES, _TWO, 0.5, matching="yolo")


def test_101_point_ap_hand_computed():
    # hit, duplicate, false alarm, hit: envelope 1 up to recall 0.5, then 0.5.
    # Levels 0.00..0.50 (51 of them) read 1, levels 0.51..1.00 (50) read 0.5
    p = torch.tensor([1.0, 0.5, 1 / 3, 0.5], dtype=torch.float64)
    r = torch.tensor([0.5, 0.5, 0.5, 1.0], dtype=torch.float64)
    assert det.average_precision(p, r) == 0.75
    assert det.average_precision(p, r, "101") == pytest.approx(76 / 101, abs=1e-15)
    # recall that never reaches 1: the unreached levels read 0
    assert det.average_precision(p[:1], r[:1], "101") == pytest.approx(51 / 101)
    assert det.average_precision(p[:0], r[:0], "101") == 0.0
    with pytest.raises(ValueError, match="interpolation must be 'all' or '101'"):
        det.average_precision(p, r, "11")


def test_coco_thresholds_are_cocoevals():
    assert len(det.COCO_IOU_THRESHOLDS) == 10
    assert det.COCO_IOU_THRESHOLDS[0] == 0.5 and det.COCO_IOU_THRESHOLDS[-1] == 0.95
    assert all(abs(b - a - 0.05) < 1e-12 for a, b in
               zip(det.COCO_IOU_THRESHOLDS, det.COCO_IOU_THRESHOLDS[1:]))


def test_coco_map_averages_over_thresholds_hand_computed():
    labels = [torch.tensor([0, 0])]
    res = det.coco_mean_average_precision(_DETS, _SCORES, labels, _TWO, labels)
    # t = 0.50 .. 0.70: the second detection claims B -> AP 1;
    # t = 0.75 .. 0.95: it is a false positive, recall stops at 0.5 -> 51/101
    at = res["map_at"]
    assert list(at) == [0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95]
    assert [at[t] for t in (0.5, 0.55, 0.6, 0.65, 0.7)] == [1.0] * 5
    assert all(at[t] == pytest.approx(51 / 101) for t in (0.75, 0.8, 0.85, 0.9, 0.95))
    assert res["map"] == pytest.approx((5 + 5 * 51 / 101) / 10)
    assert res["ap"] == {0: pytest.approx(res["map"])}
    # the VOC number at 0.5 for the same detections: the duplicate rule costs half
    voc = det.mean_average_precision(_DETS, _SCORES, labels, _TWO, labels, 0.5)
    assert voc["map"] == 0.5


def test_coco_map_perfect_detections_score_one_and_a_missed_class_zero():
    gt = [torch.tensor([[0.0, 0, 10, 10], [20, 20, 30, 36]]),
          torch.tensor([[5.0, 5, 15, 25]])]
    gl = [torch.tensor([0, 1]), torch.tensor([2])]
    scores = [torch.tensor([0.9, 0.8]), torch.tensor([0.7])]
    res = det.coco_mean_average_precision(gt, scores, gl, gt, gl)
    assert res["map"] == 1.0
    # drop the class-2 detection: that class scores 0 at every threshold
    res = det.coco_mean_average_precision([gt[0], gt[1][:0]], [scores[0], scores[1][:0]],
                                          [gl[0], gl[1][:0]], gt, gl)
    assert res["ap"] == {0: 1.0, 1: 1.0, 2: 0.0}
    assert res["map"] == pytest.approx(2 / 3)
