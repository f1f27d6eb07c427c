"""Compare a ``dlbook.numpy`` module with its torch twin in float64.

    from dlbook.numpy.testing import check_against_torch

    check_against_torch(np_module, torch_module, *inputs, atol=1e-10, rtol=1e-7)

copies the torch weights into the NumPy module (``state_dict``), runs both
forwards on the same inputs, runs both backwards with the same random upstream
gradient, and asserts that outputs, input gradients, every parameter gradient
and every buffer (running statistics) agree. Both modules are cast to float64
first; they keep the train/eval mode they were given. This is the check every
NumPy layer passes in the tests, and the one a notebook or a reader's own layer
can call.

Conventions it relies on (those of ``dlbook.numpy``):

* ``np_module(*inputs, **kwargs)`` returns an array, or a (nested) tuple of
  arrays / ``None``s for modules such as an LSTM (``out, (h, c)``);
* ``np_module.backward(grad)`` takes the upstream gradient with the same
  structure as the output (``None`` where the output was ``None``) and returns
  the gradient of the input, or a tuple in input order for several inputs
  (``None`` for inputs that have no gradient, such as integer indices).

Integer inputs (indices, labels) are passed to torch as int64 and not checked.
An input array passed several times (self-attention's ``q = k = v``) becomes
one torch leaf, and the NumPy gradients of its uses are summed before the
comparison, so reused inputs are tested as such.
"""

from __future__ import annotations

import numpy as np
import torch

__all__ = ["check_against_torch", "to_torch", "copy_torch_to_np"]


def to_torch(x) -> torch.Tensor:
    """A NumPy array as a torch tensor: floats as float64, integers as int64."""
    x = np.asarray(x)
    if np.issubdtype(x.dtype, np.floating):
        return torch.tensor(x, dtype=torch.float64)
    if x.dtype == np.bool_:
        return torch.tensor(x)
    return torch.tensor(x, dtype=torch.int64)


def copy_torch_to_np(np_module, torch_module) -> None:
    """Load the torch module's state into the NumPy module (float64 both)."""
    np_module.double()
    torch_module.double()
    np_module.load_state_dict(
        {k: v.detach().cpu().numpy() for k, v in torch_module.state_dict().items()}
    )


def _flatten(obj, path=()):
    """Yield (path, leaf) for a nested tuple/list of arrays, tensors or None."""
    if isinstance(obj, (tuple, list)):
        for i, item in enumerate(obj):
            yield from _flatten(item, path + (i,))
    else:
        yield path, obj


def _rebuild(obj, leaves):
    """Same nesting as ``obj`` with each leaf replaced by ``leaves[path]``."""
    def go(o, path):
        if isinstance(o, (tuple, list)):
            return tuple(go(item, path + (i,)) for i, item in enumerate(o))
        return leaves[path]
    return go(obj, ())


def _close(name, got, want, atol, rtol, context):
    got = np.asarray(got)
    want = np.asarray(want)
    if got.shape != want.shape:
        raise AssertionError(f"{context}: {name} has shape {got.shape}, torch's has "
                             f"{want.shape}")
    if not np.allclose(got, want, atol=atol, rtol=rtol, equal_nan=True):
        err = np.max(np.abs(got.astype(np.float64) - want.astype(np.float64)))
        raise AssertionError(f"{context}: {name} differs from torch, max abs error "
                             f"{err:.3e} (atol={atol}, rtol={rtol})")


def check_against_torch(np_module, torch_module, *inputs, atol: float = 1e-10,
                        rtol: float = 1e-7, seed: int = 0, kwargs=None,
                        grad_inputs=None, check_buffers: bool = True,
                        copy_weights: bool = True) -> dict:
    """Assert that ``np_module`` computes what ``torch_module`` computes.

    Args:
        np_module: the ``dlbook.numpy`` module under test.
        torch_module: the reference; its weights are copied into ``np_module``
            first unless ``copy_weights`` is false.
        inputs: NumPy arrays; floating ones are cast to float64 and get
            gradients.
        kwargs: extra keyword arguments passed to both forwards (e.g.
            ``need_weights``).
        grad_inputs: positions of the inputs whose gradients to compare;
            default all floating inputs. If the NumPy backward returns a single
            array, it is the gradient of the first of them (losses return only
            d/d input).
        copy_weights: load torch's state into the NumPy module first (default).

    Returns a dict with the NumPy output, its input gradients and the largest
    absolute errors, handy for printing in a notebook.
    """
    kwargs = kwargs or {}
    context = f"{type(np_module).__name__} vs torch.nn.{type(torch_module).__name__}"
    if copy_weights:
        copy_torch_to_np(np_module, torch_module)
    else:
        np_module.double()
        torch_module.double()

    np_inputs = []
    for x in inputs:
        x = np.asarray(x)
        np_inputs.append(x.astype(np.float64) if np.issubdtype(x.dtype, np.floating)
                         else x)
    floating = [i for i, x in enumerate(np_inputs)
                if np.issubdtype(x.dtype, np.floating)]
    if grad_inputs is None:
        grad_inputs = floating
    grad_inputs = list(grad_inputs)

    # one torch leaf per distinct input object, so a reused input accumulates
    leaf_of: dict[int, int] = {}
    t_leaves: list[torch.Tensor] = []
    t_inputs = []
    for i, (orig, x) in enumerate(zip(inputs, np_inputs)):
        key = id(orig)
        if key not in leaf_of:
            t = to_torch(x)
            if i in floating:
                t.requires_grad_(True)
            leaf_of[key] = len(t_leaves)
            t_leaves.append(t)
        t_inputs.append(t_leaves[leaf_of[key]])
    # identical objects must stay identical on the NumPy side too
    np_by_key: dict[int, np.ndarray] = {}
    np_inputs = [np_by_key.setdefault(id(orig), x)
                 for orig, x in zip(inputs, np_inputs)]

    t_out = torch_module(*t_inputs, **kwargs)
    np_out = np_module(*np_inputs, **kwargs)

    # forward: compare every output leaf, and draw one upstream gradient per leaf
    rng = np.random.default_rng(seed)
    t_leaves_out = dict(_flatten(t_out))
    np_leaves_out = dict(_flatten(np_out))
    if set(t_leaves_out) != set(np_leaves_out):
        raise AssertionError(f"{context}: output structure differs: "
                             f"{sorted(np_leaves_out)} vs torch {sorted(t_leaves_out)}")
    grads_np, t_pairs = {}, []
    for path, t_leaf in t_leaves_out.items():
        np_leaf = np_leaves_out[path]
        if t_leaf is None or np_leaf is None:
            if (t_leaf is None) != (np_leaf is None):
                raise AssertionError(f"{context}: output {path} is None on one side "
                                     f"only")
            grads_np[path] = None
            continue
        _close(f"output{list(path)}", np_leaf, t_leaf.detach().numpy(), atol, rtol,
               context)
        if not (torch.is_tensor(t_leaf) and t_leaf.requires_grad):
            grads_np[path] = None
            continue
        g = rng.standard_normal(np.shape(np_leaf))
        grads_np[path] = g
        t_pairs.append((t_leaf, torch.tensor(g, dtype=t_leaf.dtype)))

    # backward in both
    if t_pairs:
        torch.autograd.backward([t for t, _ in t_pairs], [g for _, g in t_pairs])
    upstream = _rebuild(np_out, grads_np) if isinstance(np_out, (tuple, list)) \
        else grads_np[()]
    np_grads = np_module.backward(upstream)
    if not isinstance(np_grads, tuple):
        np_grads = (np_grads,) + (None,) * (len(np_inputs) - 1)
        if grad_inputs:
            # a single array is the gradient of the first checked input
            np_grads = tuple(np_grads[0] if i == grad_inputs[0] else None
                             for i in range(len(np_inputs)))
            grad_inputs = grad_inputs[:1]
    if len(np_grads) != len(np_inputs):
        raise AssertionError(f"{context}: backward returned {len(np_grads)} gradients "
                             f"for {len(np_inputs)} inputs")

    # input gradients, summed over reuses of one input
    summed: dict[int, np.ndarray] = {}
    for i in grad_inputs:
        g = np_grads[i]
        if g is None:
            raise AssertionError(f"{context}: backward returned None for input {i}")
        k = leaf_of[id(inputs[i])]
        summed[k] = summed[k] + g if k in summed else np.asarray(g)
    errors = {}
    for k, g in summed.items():
        t_grad = t_leaves[k].grad
        want = np.zeros(g.shape) if t_grad is None else t_grad.numpy()
        _close(f"gradient of input {k}", g, want, atol, rtol, context)
        errors[f"input {k}"] = float(np.max(np.abs(g - want), initial=0))

    # parameter gradients, by torch's names
    np_params = dict(np_module.named_parameters())
    t_params = dict(torch_module.named_parameters())
    if set(np_params) != set(t_params):
        raise AssertionError(f"{context}: parameter names differ: {sorted(np_params)} "
                             f"vs torch {sorted(t_params)}")
    for name, tp in t_params.items():
        want = np.zeros(tp.shape) if tp.grad is None else tp.grad.numpy()
        _close(f"gradient of {name}", np_params[name].grad, want, atol, rtol, context)
        errors[name] = float(np.max(np.abs(np_params[name].grad - want), initial=0))

    # buffers (running statistics) after the forward
    if check_buffers:
        np_state = np_module.state_dict()
        for name, buf in torch_module.named_buffers():
            if name not in np_state:
                raise AssertionError(f"{context}: buffer {name!r} missing in NumPy "
                                     f"module")
            _close(f"buffer {name}", np_state[name], buf.numpy(), atol, rtol, context)

    return {"output": np_out, "grads": np_grads, "max_abs_errors": errors}
