"""The synthetic shapes generator: exact, consistent ground truth, deterministic."""

import numpy as np
import pytest

from dlbook.data import SHAPE_CLASSES, make_shape_images, make_shapes


@pytest.fixture(scope="module")
def ds():
    return make_shapes(200, size=48, seed=3)


def test_shapes_and_dtypes(ds):
    assert len(ds) == 200
    assert ds.images.shape == (200, 3, 48, 48) and ds.images.dtype == np.float32
    assert ds.semantic.shape == ds.instances.shape == (200, 48, 48)
    assert ds.semantic.dtype == ds.instances.dtype == np.int64
    assert 0.0 <= ds.images.min() and ds.images.max() <= 1.0
    for lab, box in zip(ds.labels, ds.boxes):
        assert lab.dtype == np.int64 and box.dtype == np.float32
        assert box.shape == (len(lab), 4)
        assert set(lab.tolist()) <= {0, 1, 2}
    assert ds.classes == SHAPE_CLASSES == ("circle", "square", "triangle")


def test_object_counts_within_range_and_all_classes_present(ds):
    counts = np.array([len(lab) for lab in ds.labels])
    assert counts.min() >= 1 and counts.max() <= 4
    assert len(set(counts.tolist())) == 4  # 1, 2, 3 and 4 objects all occur
    per_class = np.bincount(np.concatenate(ds.labels), minlength=3)
    assert per_class.min() > 0.25 * per_class.sum()


def test_masks_boxes_and_labels_agree(ds):
    for i in range(len(ds)):
        inst, sem = ds.instances[i], ds.semantic[i]
        k = len(ds.labels[i])
        assert set(np.unique(inst).tolist()) == set(range(k + 1))
        assert np.array_equal(sem == 0, inst == 0)
        for j in range(k):
            rows, cols = np.nonzero(inst == j + 1)
            assert len(rows) >= 12
            assert np.all(sem[rows, cols] == ds.labels[i][j] + 1)
            x1, y1, x2, y2 = ds.boxes[i][j]
            assert (x1, y1, x2, y2) == (cols.min(), rows.min(), cols.max() + 1,
                                        rows.max() + 1)


def test_objects_differ_from_background(ds):
    img, inst = ds.images[0], ds.instances[0]
    bg = img[:, inst == 0].mean(axis=1)
    for j in range(1, inst.max() + 1):
        assert np.abs(img[:, inst == j].mean(axis=1) - bg).mean() > 0.2


def test_colour_does_not_tell_the_class(ds):
    means = {c: [] for c in range(3)}
    for i in range(len(ds)):
        for j, c in enumerate(ds.labels[i]):
            means[int(c)].append(ds.images[i][:, ds.instances[i] == j + 1].mean(axis=1))
    per_class = np.array([np.mean(means[c], axis=0) for c in range(3)])
    assert np.abs(per_class - per_class.mean(axis=0)).max() < 0.06


def test_deterministic_and_prefix_stable():
    a = make_shapes(30, size=32, seed=7)
    b = make_shapes(10, size=32, seed=7)
    assert np.array_equal(a.images[:10], b.images)
    assert np.array_equal(a.instances[:10], b.instances)
    assert all(np.array_equal(x, y) for x, y in zip(a.boxes, b.boxes))
    c = make_shapes(10, size=32, seed=8)
    assert not np.array_equal(b.images, c.images)


def test_noise_parameter_controls_pixel_noise():
    clean = make_shapes(5, size=32, noise=0.0, seed=1)
    noisy = make_shapes(5, size=32, noise=0.1, seed=1)
    assert np.array_equal(clean.instances, noisy.instances)
    diff = noisy.images - clean.images
    assert 0.05 < diff.std() < 0.12


def test_getitem_and_repr(ds):
    item = ds[5]
    assert set(item) == {"image", "labels", "boxes", "semantic", "instances"}
    assert np.array_equal(item["image"], ds.images[5])
    assert "200 images of 48x48" in repr(ds)
    with pytest.raises(IndexError, match="out of range for 200"):
        ds[200]


def test_single_shape_images_match_make_shapes():
    X, y = make_shape_images(50, size=32, seed=2)
    ref = make_shapes(50, 32, 1, 1, 0.08, (0.2, 0.4), seed=2)
    assert X.shape == (50, 3, 32, 32) and y.shape == (50,) and y.dtype == np.int64
    assert np.array_equal(X, ref.images)
    assert np.array_equal(y, np.concatenate(ref.labels))
    assert all(len(lab) == 1 for lab in ref.labels)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(n=-1), "non-negative int"),
        (dict(n=4, size=8), "size must be an int >= 16"),
        (dict(n=4, min_objects=3, max_objects=2), "min_objects <= max_objects"),
        (dict(n=4, min_objects=0), "min_objects <= max_objects"),
        (dict(n=4, noise=-0.1), "noise must be >= 0"),
        (dict(n=4, scale=(0.3, 0.6)), "scale must be"),
    ],
)
def test_bad_arguments_are_named(kwargs, match):
    with pytest.raises(ValueError, match=match):
        make_shapes(**kwargs)
