"""Conv1d, Conv2d, ConvTranspose2d and pooling against torch in float64, and the
fast (im2col / as_strided) paths against the naive loop definitions."""

import pathlib
import sys

import numpy as np
import pytest
import torch
from hypothesis import assume, given, settings
from hypothesis import strategies as st

sys.path.insert(0, str(pathlib.Path(__file__).parent))
from np_helpers import check_against_torch  # noqa: E402

from dlbook.numpy import gradcheck  # noqa: E402
from dlbook.numpy import nn as npnn
from dlbook.numpy.nn.conv import conv2d, conv2d_naive, conv_transpose2d_naive  # noqa: E402
from dlbook.numpy.nn.pooling import avg_pool2d_naive, max_pool2d_naive  # noqa: E402

rng = np.random.default_rng(2)

CONV2D_CASES = [
    # (N, C, H, W), O, kernel, stride, padding, dilation, groups, bias
    ((2, 3, 7, 6), 4, 3, 1, 0, 1, 1, True),
    ((2, 3, 7, 6), 4, 3, 2, 1, 1, 1, True),
    ((1, 2, 9, 8), 3, (3, 2), (2, 3), (1, 2), 1, 1, False),
    ((2, 2, 9, 9), 3, 3, 1, 2, 2, 1, True),
    ((3, 4, 5, 7), 6, 1, 1, 0, 1, 1, True),
    ((2, 4, 6, 6), 6, 3, 1, 1, 1, 2, True),
    ((2, 3, 8, 5), 2, (2, 4), 2, "valid", 1, 1, True),
    ((2, 3, 6, 7), 2, (3, 4), 1, "same", 1, 1, True),
]


@pytest.mark.filterwarnings("ignore:Using padding='same'")
@pytest.mark.parametrize("case", CONV2D_CASES)
def test_conv2d_matches_torch(case):
    shape, O, k, s, p, d, g, b = case
    kw = dict(stride=s, padding=p, dilation=d, groups=g, bias=b)
    check_against_torch(npnn.Conv2d(shape[1], O, k, **kw),
                        torch.nn.Conv2d(shape[1], O, k, **kw),
                        rng.standard_normal(shape))


def test_conv2d_unbatched_input():
    np_c, t_c = npnn.Conv2d(2, 3, 3, padding=1), torch.nn.Conv2d(2, 3, 3, padding=1)
    res = check_against_torch(np_c, t_c, rng.standard_normal((2, 5, 4)))
    assert res["output"].shape == (3, 5, 4)


def test_conv_stack_with_shared_input_gradient_path():
    # x feeds a conv stack; the input gradient flows back through all of it
    seq_np = npnn.Sequential(npnn.Conv2d(3, 3, 3, padding=1), npnn.Tanh(), npnn.Conv2d(3, 3, 1))
    seq_t = torch.nn.Sequential(torch.nn.Conv2d(3, 3, 3, padding=1), torch.nn.Tanh(),
                                torch.nn.Conv2d(3, 3, 1))
    check_against_torch(seq_np, seq_t, rng.standard_normal((2, 3, 5, 5)))


@pytest.mark.parametrize("case", CONV2D_CASES[:6])
def test_conv2d_fast_equals_naive(case):
    shape, O, k, s, p, d, g, b = case
    x = rng.standard_normal(shape)
    kh, kw = (k, k) if isinstance(k, int) else k
    w = rng.standard_normal((O, shape[1] // g, kh, kw))
    bias = rng.standard_normal(O) if b else None
    np.testing.assert_allclose(conv2d(x, w, bias, s, p, d, g),
                               conv2d_naive(x, w, bias, s, p, d, g), atol=1e-12)


CONV1D_CASES = [((2, 3, 11), 4, 3, 1, 0, 1), ((2, 1, 40), 25, 5, 2, 1, 1),
                ((3, 2, 9), 3, 2, 3, 2, 1), ((2, 2, 12), 2, 3, 1, 2, 2),
                ((2, 3, 10), 2, 4, 1, "same", 1)]


@pytest.mark.parametrize("case", CONV1D_CASES)
def test_conv1d_matches_torch(case):
    shape, O, k, s, p, d = case
    kw = dict(stride=s, padding=p, dilation=d)
    check_against_torch(npnn.Conv1d(shape[1], O, k, **kw),
                        torch.nn.Conv1d(shape[1], O, k, **kw),
                        rng.standard_normal(shape))


def test_conv1d_weight_layout_and_unbatched():
    c = npnn.Conv1d(3, 5, 4)
    assert c.weight.shape == (5, 3, 4) and c.bias.shape == (5,)
    check_against_torch(npnn.Conv1d(3, 5, 4), torch.nn.Conv1d(3, 5, 4),
                        rng.standard_normal((3, 9)))


TCONV_CASES = [
    # (N, C, H, W), O, kernel, stride, padding, output_padding, dilation
    ((2, 3, 4, 5), 2, 3, 1, 0, 0, 1),
    ((2, 3, 4, 4), 2, 3, 2, 1, 1, 1),
    ((1, 2, 3, 5), 4, (2, 3), (2, 1), (0, 1), (1, 0), 1),
    ((2, 2, 3, 3), 3, 4, 2, 1, 0, 1),
    ((2, 2, 4, 3), 2, 3, 2, 1, 1, 2),
]


@pytest.mark.parametrize("case", TCONV_CASES)
@pytest.mark.parametrize("bias", [True, False])
def test_conv_transpose2d_matches_torch(case, bias):
    shape, O, k, s, p, op, d = case
    kw = dict(stride=s, padding=p, output_padding=op, dilation=d, bias=bias)
    res = check_against_torch(npnn.ConvTranspose2d(shape[1], O, k, **kw),
                              torch.nn.ConvTranspose2d(shape[1], O, k, **kw),
                              rng.standard_normal(shape))
    w = npnn.ConvTranspose2d(shape[1], O, k, **kw).double()
    x = rng.standard_normal(shape)
    w.load_state_dict({n: rng.standard_normal(a.shape)
                       for n, a in w.state_dict().items()})
    np.testing.assert_allclose(
        w(x), conv_transpose2d_naive(x, w.weight.data,
                                     None if w.bias is None else w.bias.data,
                                     s, p, op, d), atol=1e-12)
    assert res["output"].ndim == 4


def test_conv_transpose_inverts_conv_shape():
    conv = npnn.Conv2d(3, 8, 4, stride=2, padding=1)
    up = npnn.ConvTranspose2d(8, 3, 4, stride=2, padding=1)
    x = rng.standard_normal((1, 3, 16, 16)).astype(np.float32)
    assert up(conv(x)).shape == x.shape


def test_conv_errors_name_layer_and_shape():
    msg = r"Conv2d\(3, 4, .*\(N, 3, H, W\).*\(2, 5, 8, 8\)"
    with pytest.raises(ValueError, match=msg):
        npnn.Conv2d(3, 4, 3)(np.zeros((2, 5, 8, 8)))
    with pytest.raises(ValueError, match=r"Conv1d\(1, 25.*\(N, 1, L\).*\(4, 40\)"):
        npnn.Conv1d(1, 25, 5)(np.zeros((4, 40)))
    with pytest.raises(ValueError, match="smaller"):
        npnn.Conv2d(1, 1, 5)(np.zeros((1, 1, 3, 3)))
    with pytest.raises(ValueError, match="divisible"):
        npnn.Conv2d(3, 4, 3, groups=2)


def test_conv_init_matches_torch_distribution():
    c = npnn.Conv2d(16, 32, 3)
    bound = 1 / np.sqrt(16 * 9)
    assert np.abs(c.weight.data).max() <= bound and np.abs(c.bias.data).max() <= bound
    # U(-b, b) has std b / sqrt(3)
    assert abs(c.weight.data.std() - bound / np.sqrt(3)) < 0.05 * bound
    assert c.weight.dtype == np.float32


def test_conv_gradcheck():
    c = npnn.Conv2d(2, 3, 3, stride=2, padding=1).double()
    gradcheck(c, rng.standard_normal((2, 2, 5, 5)))
    t = npnn.ConvTranspose2d(2, 2, 3, stride=2, padding=1, output_padding=1).double()
    gradcheck(t, rng.standard_normal((1, 2, 3, 3)))


POOL_CASES = [((2, 3, 6, 6), 2, None, 0), ((2, 2, 7, 5), 3, 2, 1),
              ((1, 2, 5, 8), (2, 3), (1, 2), (1, 1)), ((2, 1, 9, 9), 3, 3, 0)]


@pytest.mark.parametrize("case", POOL_CASES)
def test_maxpool_matches_torch_and_naive(case):
    shape, k, s, p = case
    x = rng.standard_normal(shape)
    res = check_against_torch(npnn.MaxPool2d(k, s, p), torch.nn.MaxPool2d(k, s, p), x)
    np.testing.assert_array_equal(res["output"], max_pool2d_naive(x, k, s, p))


def test_maxpool_ties_and_dilation():
    # ties: torch routes the gradient to the first maximum in the window
    x = np.zeros((1, 1, 4, 4))
    x[0, 0, 1, 1] = x[0, 0, 0, 1] = 1.0
    check_against_torch(npnn.MaxPool2d(2), torch.nn.MaxPool2d(2), x)
    check_against_torch(npnn.MaxPool2d(2, 1, dilation=2),
                        torch.nn.MaxPool2d(2, 1, dilation=2),
                        rng.standard_normal((2, 2, 6, 6)))
    check_against_torch(npnn.MaxPool2d(2), torch.nn.MaxPool2d(2),
                        rng.standard_normal((3, 6, 6)))


@pytest.mark.parametrize("case", POOL_CASES)
@pytest.mark.parametrize("include_pad", [True, False])
def test_avgpool_matches_torch_and_naive(case, include_pad):
    shape, k, s, p = case
    x = rng.standard_normal(shape)
    kw = dict(count_include_pad=include_pad)
    res = check_against_torch(npnn.AvgPool2d(k, s, p, **kw),
                              torch.nn.AvgPool2d(k, s, p, **kw), x)
    if include_pad:
        np.testing.assert_allclose(res["output"], avg_pool2d_naive(x, k, s, p),
                                   atol=1e-14)


def test_avgpool_divisor_override_and_adaptive():
    x = rng.standard_normal((2, 3, 6, 4))
    check_against_torch(npnn.AvgPool2d(2, divisor_override=3),
                        torch.nn.AvgPool2d(2, divisor_override=3), x)
    check_against_torch(npnn.AdaptiveAvgPool2d(1), torch.nn.AdaptiveAvgPool2d(1), x)
    check_against_torch(npnn.AdaptiveAvgPool2d((3, 2)),
                        torch.nn.AdaptiveAvgPool2d((3, 2)), x)


def test_small_cnn_end_to_end():
    np_m = npnn.Sequential(npnn.Conv2d(1, 4, 3, padding=1), npnn.ReLU(), npnn.MaxPool2d(2),
                         npnn.Conv2d(4, 6, 3), npnn.BatchNorm2d(6), npnn.ReLU(),
                         npnn.AvgPool2d(2), npnn.Flatten(), npnn.Linear(6, 3))
    t_m = torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3, padding=1), torch.nn.ReLU(),
                              torch.nn.MaxPool2d(2), torch.nn.Conv2d(4, 6, 3),
                              torch.nn.BatchNorm2d(6), torch.nn.ReLU(),
                              torch.nn.AvgPool2d(2), torch.nn.Flatten(),
                              torch.nn.Linear(6, 3))
    check_against_torch(np_m, t_m, rng.standard_normal((4, 1, 8, 8)))


@settings(max_examples=12, deadline=None, derandomize=True, database=None)
@given(n=st.integers(1, 3), c=st.integers(1, 4), o=st.integers(1, 4),
       h=st.integers(3, 9), w=st.integers(3, 9), kh=st.integers(1, 3),
       kw=st.integers(1, 3), s=st.integers(1, 3), p=st.integers(0, 2),
       d=st.integers(1, 2))
def test_conv2d_random_configurations(n, c, o, h, w, kh, kw, s, p, d):
    # at least one output position (both frameworks reject inputs without one)
    assume(h + 2 * p >= d * (kh - 1) + 1 and w + 2 * p >= d * (kw - 1) + 1)
    kwargs = dict(stride=s, padding=p, dilation=d)
    check_against_torch(npnn.Conv2d(c, o, (kh, kw), **kwargs),
                        torch.nn.Conv2d(c, o, (kh, kw), **kwargs),
                        rng.standard_normal((n, c, h, w)))


@settings(max_examples=10, deadline=None, derandomize=True, database=None)
@given(n=st.integers(1, 2), c=st.integers(1, 3), o=st.integers(1, 3),
       h=st.integers(1, 5), w=st.integers(1, 5), k=st.integers(1, 4),
       s=st.integers(1, 3), p=st.integers(0, 2), op=st.integers(0, 2),
       d=st.integers(1, 2))
def test_conv_transpose2d_random_configurations(n, c, o, h, w, k, s, p, op, d):
    assume(op < max(s, d))  # torch's rule for output_padding
    assume((h - 1) * s - 2 * p + d * (k - 1) + op + 1 >= 1)
    assume((w - 1) * s - 2 * p + d * (k - 1) + op + 1 >= 1)
    kwargs = dict(stride=s, padding=p, output_padding=op, dilation=d)
    check_against_torch(npnn.ConvTranspose2d(c, o, k, **kwargs),
                        torch.nn.ConvTranspose2d(c, o, k, **kwargs),
                        rng.standard_normal((n, c, h, w)))


@settings(max_examples=10, deadline=None, derandomize=True, database=None)
@given(h=st.integers(2, 9), w=st.integers(2, 9), k=st.integers(1, 4),
       s=st.integers(1, 3), p=st.integers(0, 2), kind=st.sampled_from(["max", "avg"]))
def test_pool_random_configurations(h, w, k, s, p, kind):
    assume(p <= k // 2 and h + 2 * p >= k and w + 2 * p >= k)  # as torch requires
    x = rng.standard_normal((2, 3, h, w))
    if kind == "max":
        check_against_torch(npnn.MaxPool2d(k, s, p), torch.nn.MaxPool2d(k, s, p), x)
    else:
        check_against_torch(npnn.AvgPool2d(k, s, p), torch.nn.AvgPool2d(k, s, p), x)
