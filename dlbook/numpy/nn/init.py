"""Weight initialisation, as ``torch.nn.init``: same names, gains and fans.

Each function fills its argument *in place* (a ``Parameter`` or a NumPy array)
and returns it. ``rng`` is an optional ``numpy.random.Generator``; without one
the global ``np.random`` state is used, which ``dlbook.utils.seed_everything``
seeds.

Fans, as torch computes them for a weight of shape ``(out, in, *kernel)``:
fan_in = in * prod(kernel), fan_out = out * prod(kernel).
"""

from __future__ import annotations

import math

import numpy as np

__all__ = [
    "calculate_gain", "uniform_", "normal_", "constant_", "ones_", "zeros_",
    "eye_", "xavier_uniform_", "xavier_normal_", "kaiming_uniform_",
    "kaiming_normal_", "trunc_normal_", "orthogonal_",
]


def _array(tensor) -> np.ndarray:
    """The array to write into: a Parameter's ``.data`` or the array itself."""
    if isinstance(tensor, np.ndarray):  # (an ndarray's own .data is a memoryview)
        return tensor
    arr = getattr(tensor, "data", None)
    if not isinstance(arr, np.ndarray):
        raise TypeError(f"init: expected a Parameter or np.ndarray, "
                        f"got {type(tensor).__name__}")
    return arr


def _fill(tensor, values):
    arr = _array(tensor)
    arr[...] = values  # in place, keeping the array's dtype
    return tensor


def _sampler(rng):
    return np.random if rng is None else rng


def calculate_gain(nonlinearity: str, param=None) -> float:
    """The gain that keeps activations' variance steady through ``nonlinearity``."""
    linear_fns = ["linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d",
                  "conv_transpose2d", "conv_transpose3d"]
    if nonlinearity in linear_fns or nonlinearity == "sigmoid":
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        if param is None:
            slope = 0.01
        elif isinstance(param, (int, float)) and not isinstance(param, bool):
            slope = param
        else:
            raise ValueError(f"calculate_gain: negative_slope {param!r} is not a "
                             f"number")
        return math.sqrt(2.0 / (1 + slope**2))
    if nonlinearity == "selu":
        return 3.0 / 4  # torch's choice (self-normalising init)
    raise ValueError(f"calculate_gain: unsupported nonlinearity {nonlinearity!r}")


def _calculate_fan_in_and_fan_out(tensor) -> tuple[int, int]:
    shape = _array(tensor).shape
    if len(shape) < 2:
        raise ValueError(f"init: fan in and fan out need at least 2 dimensions, "
                         f"got shape {shape}")
    receptive = int(np.prod(shape[2:])) if len(shape) > 2 else 1
    return shape[1] * receptive, shape[0] * receptive


def _calculate_correct_fan(tensor, mode: str) -> int:
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"init: mode must be 'fan_in' or 'fan_out', got {mode!r}")
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    return fan_in if mode == "fan_in" else fan_out


def uniform_(tensor, a: float = 0.0, b: float = 1.0, rng=None):
    """Fill ``tensor`` in place with draws from U(a, b); returns it."""
    return _fill(tensor, _sampler(rng).uniform(a, b, size=_array(tensor).shape))


def normal_(tensor, mean: float = 0.0, std: float = 1.0, rng=None):
    """Fill ``tensor`` in place with draws from N(mean, std**2); returns it."""
    return _fill(tensor, _sampler(rng).normal(mean, std, size=_array(tensor).shape))


def trunc_normal_(tensor, mean=0.0, std=1.0, a=-2.0, b=2.0, rng=None):
    """Normal(mean, std) restricted to [a, b], by resampling what falls outside."""
    arr = _array(tensor)
    r = _sampler(rng)
    out = r.normal(mean, std, size=arr.shape)
    bad = (out < a) | (out > b)
    while bad.any():
        out[bad] = r.normal(mean, std, size=int(bad.sum()))
        bad = (out < a) | (out > b)
    return _fill(tensor, out)


def constant_(tensor, val: float):
    """Fill ``tensor`` in place with ``val``; returns it."""
    return _fill(tensor, val)


def ones_(tensor):
    """Fill ``tensor`` in place with ones; returns it."""
    return _fill(tensor, 1.0)


def zeros_(tensor):
    """Fill ``tensor`` in place with zeros; returns it."""
    return _fill(tensor, 0.0)


def eye_(tensor):
    """Fill a 2-D ``tensor`` in place with the identity matrix; returns it."""
    arr = _array(tensor)
    if arr.ndim != 2:
        raise ValueError(f"eye_: needs a 2-D array, got shape {arr.shape}")
    return _fill(tensor, np.eye(*arr.shape))


def xavier_uniform_(tensor, gain: float = 1.0, rng=None):
    """U(-a, a), a = gain * sqrt(6 / (fan_in + fan_out)) (Glorot & Bengio, 2010)."""
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    std = gain * math.sqrt(2.0 / float(fan_in + fan_out))
    a = math.sqrt(3.0) * std  # a uniform on [-a, a] has std a / sqrt(3)
    return uniform_(tensor, -a, a, rng=rng)


def xavier_normal_(tensor, gain: float = 1.0, rng=None):
    """N(0, std^2), std = gain * sqrt(2 / (fan_in + fan_out))."""
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    std = gain * math.sqrt(2.0 / float(fan_in + fan_out))
    return normal_(tensor, 0.0, std, rng=rng)


def kaiming_uniform_(tensor, a: float = 0.0, mode: str = "fan_in",
                     nonlinearity: str = "leaky_relu", rng=None):
    """U(-bound, bound), bound = gain * sqrt(3 / fan) (He et al., 2015).

    torch's layers call it with a = sqrt(5), which makes bound = 1 / sqrt(fan_in).
    """
    if 0 in _array(tensor).shape:
        return tensor
    fan = _calculate_correct_fan(tensor, mode)
    std = calculate_gain(nonlinearity, a) / math.sqrt(fan)
    bound = math.sqrt(3.0) * std
    return uniform_(tensor, -bound, bound, rng=rng)


def kaiming_normal_(tensor, a: float = 0.0, mode: str = "fan_in",
                    nonlinearity: str = "leaky_relu", rng=None):
    """N(0, std^2), std = gain / sqrt(fan) (He et al., 2015)."""
    if 0 in _array(tensor).shape:
        return tensor
    fan = _calculate_correct_fan(tensor, mode)
    std = calculate_gain(nonlinearity, a) / math.sqrt(fan)
    return normal_(tensor, 0.0, std, rng=rng)


def orthogonal_(tensor, gain: float = 1.0, rng=None):
    """A (semi-)orthogonal matrix from the QR of a Gaussian (Saxe et al., 2013)."""
    arr = _array(tensor)
    if arr.ndim < 2:
        raise ValueError(f"orthogonal_: needs at least 2 dimensions, got shape "
                         f"{arr.shape}")
    rows = arr.shape[0]
    cols = arr.size // rows
    flat = _sampler(rng).normal(0.0, 1.0, size=(rows, cols))
    if rows < cols:
        flat = flat.T
    q, r = np.linalg.qr(flat)
    q *= np.sign(np.diag(r))  # make the decomposition unique (uniform over O(n))
    if rows < cols:
        q = q.T
    return _fill(tensor, gain * q.reshape(arr.shape))
