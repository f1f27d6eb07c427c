"""Normalization layers against torch in float64: outputs, gradients and running
statistics over several steps, train and eval modes."""

import pathlib
import sys

import numpy as np
import pytest
import torch

sys.path.insert(0, str(pathlib.Path(__file__).parent))
from np_helpers import check_against_torch, copy_torch_to_np, to_torch  # noqa: E402

from dlbook.numpy import gradcheck  # noqa: E402
from dlbook.numpy import nn as npnn

rng = np.random.default_rng(3)


def _random_affine(t_mod):
    """Non-trivial gamma/beta so their gradients and effect are tested."""
    with torch.no_grad():
        for p in t_mod.parameters():
            p.copy_(torch.tensor(rng.standard_normal(p.shape)))


@pytest.mark.parametrize("cls,shape", [("BatchNorm1d", (8, 3)),
                                       ("BatchNorm1d", (5, 3, 4)),
                                       ("BatchNorm2d", (4, 3, 5, 2))])
@pytest.mark.parametrize("affine", [True, False])
@pytest.mark.parametrize("momentum", [0.1, None])
def test_batchnorm_train_steps_then_eval(cls, shape, affine, momentum):
    np_bn = getattr(npnn, cls)(3, affine=affine, momentum=momentum)
    t_bn = getattr(torch.nn, cls)(3, affine=affine, momentum=momentum)
    if affine:
        _random_affine(t_bn)
    copy_torch_to_np(np_bn, t_bn)
    for step in range(4):  # running stats must follow torch step for step
        x = 2 + 3 * rng.standard_normal(shape)
        np_bn.zero_grad()
        t_bn.zero_grad()
        check_against_torch(np_bn, t_bn, x, seed=step, copy_weights=False)
    assert int(np_bn.num_batches_tracked) == 4
    np_bn.eval()
    t_bn.eval()
    check_against_torch(np_bn, t_bn, rng.standard_normal(shape), copy_weights=False)


def test_batchnorm_without_running_stats_uses_batch_stats_in_eval():
    np_bn, t_bn = npnn.BatchNorm2d(2, track_running_stats=False), \
        torch.nn.BatchNorm2d(2, track_running_stats=False)
    assert "running_mean" not in np_bn.state_dict()
    np_bn.eval()
    t_bn.eval()
    check_against_torch(np_bn, t_bn, rng.standard_normal((3, 2, 4, 4)))


def test_batchnorm_state_dict_keys_and_errors():
    bn = npnn.BatchNorm1d(4)
    assert list(bn.state_dict()) == list(torch.nn.BatchNorm1d(4).state_dict())
    assert bn.state_dict()["num_batches_tracked"].dtype == np.int64
    with pytest.raises(ValueError, match=r"BatchNorm1d\(4\).*\(N, 4\).*\(2, 3\)"):
        bn(np.zeros((2, 3)))
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        bn(np.zeros((1, 4)))
    with pytest.raises(ValueError, match=r"BatchNorm2d\(4\).*\(N, 4, H, W\)"):
        npnn.BatchNorm2d(4)(np.zeros((2, 4, 3)))


@pytest.mark.parametrize("normalized_shape,shape", [(6, (4, 6)), ((3, 4), (2, 5, 3, 4)),
                                                    (5, (2, 3, 5))])
@pytest.mark.parametrize("affine", [True, False])
def test_layernorm(normalized_shape, shape, affine):
    np_ln = npnn.LayerNorm(normalized_shape, elementwise_affine=affine)
    t_ln = torch.nn.LayerNorm(normalized_shape, elementwise_affine=affine)
    if affine:
        _random_affine(t_ln)
    check_against_torch(np_ln, t_ln, rng.standard_normal(shape))


def test_layernorm_without_bias_and_error():
    t_ln = torch.nn.LayerNorm(5, bias=False)
    _random_affine(t_ln)
    check_against_torch(npnn.LayerNorm(5, bias=False), t_ln, rng.standard_normal((3, 5)))
    with pytest.raises(ValueError, match=r"LayerNorm.*\(\*, 5\).*\(3, 4\)"):
        npnn.LayerNorm(5)(np.zeros((3, 4)))


@pytest.mark.parametrize("groups,shape", [(2, (3, 4, 5)), (1, (2, 6, 3, 3)),
                                          (6, (2, 6, 4, 2)), (3, (2, 6))])
@pytest.mark.parametrize("affine", [True, False])
def test_groupnorm(groups, shape, affine):
    np_gn = npnn.GroupNorm(groups, shape[1], affine=affine)
    t_gn = torch.nn.GroupNorm(groups, shape[1], affine=affine)
    if affine:
        _random_affine(t_gn)
    check_against_torch(np_gn, t_gn, rng.standard_normal(shape) * 2 + 1)


@pytest.mark.parametrize("affine", [False, True])
@pytest.mark.parametrize("track,momentum", [(False, 0.1), (True, 0.1), (True, None)])
def test_instancenorm2d(affine, track, momentum):
    kw = dict(affine=affine, track_running_stats=track, momentum=momentum)
    np_in = npnn.InstanceNorm2d(3, **kw)
    t_in = torch.nn.InstanceNorm2d(3, **kw)
    if affine:
        _random_affine(t_in)
    copy_torch_to_np(np_in, t_in)
    for step in range(3):
        np_in.zero_grad()
        t_in.zero_grad()
        check_against_torch(np_in, t_in, 1 + rng.standard_normal((2, 3, 4, 5)),
                            seed=step, copy_weights=False)
    np_in.eval()
    t_in.eval()
    check_against_torch(np_in, t_in, rng.standard_normal((2, 3, 4, 5)),
                        copy_weights=False)


def test_instancenorm_defaults_and_1d():
    m = npnn.InstanceNorm2d(4)
    assert not m.affine and not m.track_running_stats and not list(m.parameters())
    check_against_torch(npnn.InstanceNorm1d(3, affine=True),
                        torch.nn.InstanceNorm1d(3, affine=True),
                        rng.standard_normal((2, 3, 7)))
    check_against_torch(npnn.InstanceNorm2d(3), torch.nn.InstanceNorm2d(3),
                        rng.standard_normal((3, 4, 5)))  # unbatched


def test_norms_gradcheck():
    x = rng.standard_normal((4, 3, 2, 2))
    gradcheck(npnn.BatchNorm2d(3).double(), x)
    gradcheck(npnn.GroupNorm(3, 3).double(), x)
    gradcheck(npnn.LayerNorm((2, 2)).double(), x)


def test_norm_float32_stays_float32():
    x = rng.standard_normal((4, 3)).astype(np.float32)
    bn = npnn.BatchNorm1d(3)
    y = bn(x)
    assert y.dtype == np.float32 and bn.running_mean.dtype == np.float32
    assert to_torch(x).dtype == torch.float64  # the helper compares in float64
