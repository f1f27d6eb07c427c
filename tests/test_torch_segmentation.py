"""dlbook.torch.segmentation: the IoU metrics on hand-computed cases, the U-Net's
shapes, and clear errors for bad input."""

import math

import numpy as np
import pytest
import torch

from dlbook.torch.segmentation import UNet, confusion_matrix, iou_per_class, mean_iou

pytestmark = pytest.mark.usefixtures("torch_one_thread")

# a 3×3 image, classes 0 (background), 1, 2
TARGET = torch.tensor([[0, 0, 1],
                       [0, 1, 1],
                       [2, 2, 1]])
PRED = torch.tensor([[0, 1, 1],
                     [0, 1, 1],
                     [2, 0, 0]])


def test_confusion_matrix_by_hand():
    cm = confusion_matrix(PRED, TARGET, 3)
    # true 0 (3 pixels): two predicted 0, one predicted 1
    # true 1 (4 pixels): three predicted 1, one predicted 0
    # true 2 (2 pixels): one predicted 2, one predicted 0
    expected = torch.tensor([[2, 1, 0],
                             [1, 3, 0],
                             [1, 0, 1]])
    assert cm.dtype == torch.int64
    assert torch.equal(cm, expected)
    assert cm.sum() == TARGET.numel()


def test_iou_by_hand():
    iou = iou_per_class(confusion_matrix(PRED, TARGET, 3))
    # class 0: TP 2, predicted 0 at 4 pixels, truly 0 at 3 -> 2 / (4 + 3 - 2)
    # class 1: TP 3, predicted 4, true 4 -> 3 / 5;  class 2: TP 1, pred 1, true 2
    assert iou.dtype == torch.float64
    torch.testing.assert_close(iou, torch.tensor([2 / 5, 3 / 5, 1 / 2],
                                                 dtype=torch.float64))
    assert mean_iou(PRED, TARGET, 3) == pytest.approx((0.4 + 0.6 + 0.5) / 3)


def test_iou_equals_set_definition():
    g = torch.Generator().manual_seed(0)
    target = torch.randint(0, 4, (5, 7, 9), generator=g)
    pred = torch.randint(0, 4, (5, 7, 9), generator=g)
    iou = iou_per_class(confusion_matrix(pred, target, 4))
    for c in range(4):
        inter = ((pred == c) & (target == c)).sum().item()
        union = ((pred == c) | (target == c)).sum().item()
        assert iou[c].item() == pytest.approx(inter / union)


def test_perfect_and_absent_classes():
    assert mean_iou(TARGET, TARGET, 3) == 1.0
    # class 3 neither occurs nor is predicted: NaN, and the mean skips it
    iou = iou_per_class(confusion_matrix(TARGET, TARGET, 4))
    assert torch.equal(iou[:3], torch.ones(3, dtype=torch.float64))
    assert math.isnan(iou[3].item())
    assert mean_iou(TARGET, TARGET, 4) == 1.0
    # a class that is predicted but absent from the truth has IoU 0
    assert iou_per_class(confusion_matrix(torch.tensor([3]), torch.tensor([0]), 4)
                         )[3].item() == 0.0


def test_numpy_input_and_ignore_index():
    target = TARGET.numpy().copy()
    target[0, 1] = 255  # the one background pixel predicted as 1 becomes "void"
    cm = confusion_matrix(PRED.numpy(), target, 3, ignore_index=255)
    assert cm.sum() == 8
    assert cm[0, 1] == 0 and cm[0, 0] == 2
    assert mean_iou(np.zeros((2, 2), np.int64), np.zeros((2, 2), np.int64), 2) == 1.0


def test_bad_input_errors():
    with pytest.raises(ValueError, match=r"same shape.*\(3, 3\) and \(2, 3\)"):
        confusion_matrix(PRED, TARGET[:2], 3)
    with pytest.raises(TypeError, match="argmax"):
        confusion_matrix(torch.rand(3, 3), TARGET, 3)
    with pytest.raises(ValueError, match=r"0\.\.1.*0\.\.2"):
        confusion_matrix(PRED, TARGET, 2)
    with pytest.raises(ValueError, match="positive int"):
        confusion_matrix(PRED, TARGET, 0)
    with pytest.raises(ValueError, match=r"square.*\(2, 3\)"):
        iou_per_class(torch.zeros(2, 3))


@pytest.mark.parametrize("depth", [0, 1, 2, 3])
def test_unet_shapes(depth):
    net = UNet(in_channels=3, num_classes=4, width=4, depth=depth)
    x = torch.rand(2, 3, 16, 24)
    y = net(x)
    assert y.shape == (2, 4, 16, 24)
    y.sum().backward()
    assert all(p.grad is not None for p in net.parameters())
    assert f"depth={depth}" in repr(net)


def test_unet_parameter_count():
    # width 4, depth 1, no batch norm, 1 input channel, 2 classes, counted by hand:
    # down0: 3·3·1·4+4, 3·3·4·4+4; down1: 3·3·4·8+8, 3·3·8·8+8
    # up: ConvTranspose2d(8, 4, 2): 8·4·2·2+4; merge: 3·3·8·4+4, 3·3·4·4+4
    # head: 1·1·4·2+2
    expected = (40 + 148) + (296 + 584) + 132 + (292 + 148) + 10
    net = UNet(1, 2, width=4, depth=1, batch_norm=False)
    assert sum(p.numel() for p in net.parameters()) == expected


def test_unet_errors():
    net = UNet(3, 4, width=4, depth=2)
    with pytest.raises(ValueError, match=r"divisible by 4, got \(18, 16\)"):
        net(torch.rand(1, 3, 18, 16))
    with pytest.raises(ValueError, match=r"expected input \(N, 3, H, W\), got "
                                         r"\(1, 1, 16, 16\)"):
        net(torch.rand(1, 1, 16, 16))
    with pytest.raises(ValueError, match="num_classes must be an int >= 2"):
        UNet(3, 1)
