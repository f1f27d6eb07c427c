"""torch's own module test inputs, run against dlbook.numpy (held-out inputs).

torch tests every ``torch.nn`` module on a list of constructor arguments and
inputs (``torch.testing._internal.common_modules.module_db``): odd shapes,
unbatched inputs, masks, every loss reduction, initial states. For each
``torch.nn`` class that ``dlbook.numpy.nn`` mirrors, each of those cases is run
on both sides in float64, in training and in evaluation mode: the NumPy layer
must either compute torch's outputs, input gradients and parameter gradients,
or refuse the arguments with a ValueError, TypeError or NotImplementedError
that names the layer (never a raw NumPy error or a wrong number).

The module list needs torch's test helpers, which import ``expecttest`` (in the
``test`` extra); without it the file is skipped.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dlbook.numpy import nn as npnn

pytest.importorskip("expecttest")
common_modules = pytest.importorskip("torch.testing._internal.common_modules")

ATOL, RTOL = 1e-8, 1e-6


def _cases():
    out = []
    for info in common_modules.module_db:
        cls = info.module_cls
        if not cls.__module__.startswith("torch.nn.modules") or \
                not hasattr(npnn, cls.__name__):
            continue
        for training in (True, False):
            inputs = info.module_inputs_func(info, device="cpu", dtype=torch.float64,
                                             requires_grad=True, training=training)
            for i, module_input in enumerate(inputs):
                mode = "train" if training else "eval"
                out.append(pytest.param(cls, module_input, training,
                                        id=f"{cls.__name__}-{mode}-{i}"))
    return out


def to_np(obj):
    """Tensors (nested in tuples, lists and dicts) as NumPy arrays."""
    if torch.is_tensor(obj):
        return obj.detach().numpy().copy()
    if isinstance(obj, (tuple, list)):
        return type(obj)(to_np(o) for o in obj)
    if isinstance(obj, dict):
        return {k: to_np(v) for k, v in obj.items()}
    return obj


def leaves(obj, path=()):
    if isinstance(obj, (tuple, list)):
        for i, o in enumerate(obj):
            yield from leaves(o, path + (i,))
    else:
        yield path, obj


def rebuild(obj, values, path=()):
    if isinstance(obj, (tuple, list)):
        return tuple(rebuild(o, values, path + (i,)) for i, o in enumerate(obj))
    return values[path]


def has_random_dropout(m) -> bool:
    return any(getattr(sub, "p", 0) > 0 and type(sub).__name__ == "Dropout"
               or type(sub).__name__ in ("MultiheadAttention", "RNN", "GRU", "LSTM")
               and getattr(sub, "dropout", 0) > 0 for sub in m.modules())


def assert_clear_refusal(exc, name, what):
    assert isinstance(exc, (ValueError, TypeError, NotImplementedError)), \
        f"{name} {what}: raised {type(exc).__name__}: {exc}"
    assert name in str(exc) or name.lower() in str(exc).lower(), \
        f"{name} {what}: the message does not name the layer: {exc}"


@pytest.mark.parametrize("cls, module_input, training", _cases())
def test_torch_module_inputs(cls, module_input, training):
    name = cls.__name__
    c_args, c_kw = module_input.constructor_input.args, \
        module_input.constructor_input.kwargs
    f_args, f_kw = module_input.forward_input.args, module_input.forward_input.kwargs
    torch.manual_seed(0)
    t = cls(*c_args, **c_kw).double().train(training)
    try:
        m = getattr(npnn, name)(*to_np(c_args), **to_np(c_kw))
    except Exception as exc:  # noqa: BLE001 - refusals are checked
        assert_clear_refusal(exc, name, f"constructor {c_args} {c_kw}")
        return
    m.double().train(training)
    m.load_state_dict(to_np(dict(t.state_dict())))
    if training and has_random_dropout(m):
        pytest.skip("random dropout: the two sides draw different masks")

    t_out = t(*f_args, **f_kw)
    try:
        np_out = m(*to_np(f_args), **to_np(f_kw))
    except Exception as exc:  # noqa: BLE001
        assert_clear_refusal(exc, name, f"forward {module_input.desc}")
        return

    # forward: every output leaf
    t_leaves, np_leaves = dict(leaves(t_out)), dict(leaves(np_out))
    assert set(t_leaves) == set(np_leaves), f"{name}: output structure differs"
    rng = np.random.default_rng(0)
    upstream, pairs = {}, []
    for path, tl in t_leaves.items():
        nl = np_leaves[path]
        if tl is None or nl is None:
            assert tl is None and nl is None, f"{name}: output {path} None on one side"
            upstream[path] = None
            continue
        np.testing.assert_allclose(nl, tl.detach().numpy(), atol=ATOL, rtol=RTOL,
                                   err_msg=f"{name} output {path}")
        if tl.requires_grad:
            g = rng.standard_normal(np.shape(nl))
            upstream[path] = g
            pairs.append((tl, torch.tensor(g)))
        else:
            upstream[path] = None
    if not pairs:
        return

    # backward: the first input's gradient and every parameter's
    torch.autograd.backward([a for a, _ in pairs], [g for _, g in pairs])
    g_np = rebuild(np_out, upstream) if isinstance(np_out, (tuple, list)) \
        else upstream[()]
    dx = m.backward(g_np)
    first = f_args[0] if f_args else None
    if torch.is_tensor(first) and first.requires_grad and first.grad is not None:
        got = dx[0] if isinstance(dx, tuple) else dx
        np.testing.assert_allclose(got, first.grad.numpy(), atol=ATOL, rtol=RTOL,
                                   err_msg=f"{name} gradient of the input")
    np_params = dict(m.named_parameters())
    for pname, p in t.named_parameters():
        want = np.zeros(p.shape) if p.grad is None else p.grad.numpy()
        np.testing.assert_allclose(np_params[pname].grad, want, atol=ATOL, rtol=RTOL,
                                   err_msg=f"{name} gradient of {pname}")
