"""``nn.init``: parameter initialisers with ``torch.nn.init``'s names and formulas.

Values are drawn on the host from the NumPy generator seeded by
``uf.random.seed`` (or from ``generator=``, a ``numpy.random.Generator``, or
``key=``, a ``uf.random`` key or an int), in float64, rounded to the
parameter's dtype on the host, and then assigned into the Parameter. So the
same seed gives bit-identical parameters on every backend.

Each function fills a :class:`~unifw.variable.Parameter` (or Buffer) in place
and returns it. Tensors are immutable values, so passing a plain Tensor is an
error.
"""
from __future__ import annotations

import math
import numbers

import numpy as np

from .. import random as _random
from .._tensor import Tensor, wrap
from ..variable import Variable

__all__ = ["calculate_gain", "uniform_", "normal_", "trunc_normal_", "constant_", "ones_",
           "zeros_", "xavier_uniform_", "xavier_normal_", "glorot_uniform_", "glorot_normal_",
           "kaiming_uniform_", "kaiming_normal_", "he_uniform_", "he_normal_", "orthogonal_"]


def calculate_gain(nonlinearity: str, param=None) -> float:
    """Recommended gain for a nonlinearity (PyTorch's table): 1 for linear/conv/sigmoid,
    5/3 for tanh, sqrt(2) for relu, sqrt(2/(1+slope^2)) for leaky_relu, 3/4 for selu."""
    if nonlinearity in ("linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d",
                        "conv_transpose2d", "conv_transpose3d", "sigmoid"):
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        if param is None:
            slope = 0.01
        elif isinstance(param, numbers.Real) and not isinstance(param, bool):
            slope = float(param)
        else:
            raise ValueError(f"negative_slope {param!r} is not a valid number")
        return math.sqrt(2.0 / (1 + slope ** 2))
    if nonlinearity == "selu":
        return 3.0 / 4
    raise ValueError(f"Unsupported nonlinearity {nonlinearity}")


def _calculate_fan_in_and_fan_out(tensor) -> tuple[int, int]:
    """``(fan_in, fan_out)`` of a weight laid out as PyTorch's: ``(out, in, *kernel)``."""
    shape = tuple(tensor.shape)
    if len(shape) < 2:
        raise ValueError("Fan in and fan out can not be computed for tensor with fewer than "
                         "2 dimensions")
    receptive = int(np.prod(shape[2:], dtype=np.int64)) if len(shape) > 2 else 1
    return shape[1] * receptive, shape[0] * receptive


def _calculate_correct_fan(tensor, mode: str) -> int:
    mode = mode.lower()
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"Mode {mode} not supported, please use one of fan_in, fan_out")
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    return fan_in if mode == "fan_in" else fan_out


# ---------------------------------------------------------------- host drawing and filling
def _rng(generator=None, key=None) -> np.random.Generator:
    if generator is not None and key is not None:
        raise TypeError("pass either generator= or key=, not both")
    if generator is not None:
        if not isinstance(generator, np.random.Generator):
            raise TypeError("generator= must be a numpy.random.Generator "
                            f"(got {type(generator).__name__}); or pass key=")
        return generator
    if key is not None:
        if isinstance(key, numbers.Integral):
            return np.random.default_rng(int(key))
        words = np.asarray(key).astype(np.int64).ravel().view(np.uint64)
        return np.random.default_rng([int(w) for w in words])
    return _random.host_generator()


def _fill(tensor, values: np.ndarray):
    """Assign host ``values`` (rounded to the tensor's dtype on the host) into ``tensor``."""
    if not isinstance(tensor, Variable):
        kind = type(tensor).__name__ if isinstance(tensor, Tensor) else repr(type(tensor))
        raise TypeError(f"nn.init functions fill a Parameter or Buffer in place; got a {kind}. "
                        "Tensors are immutable: wrap the value in nn.Parameter first")
    dt = tensor.dtype
    if dt.kind != "f":
        raise TypeError(f"nn.init fills floating-point tensors, got dtype {dt}")
    b = tensor._b
    host = np.asarray(values, dtype=np.float64).astype(dt.numpy_dtype)
    native = b.asarray(host, dtype=b.native_dtype(dt), device=str(tensor.device))
    tensor.assign(wrap(native, b))
    return tensor


def _shape(tensor) -> tuple:
    return tuple(int(d) for d in tensor.shape)


# ---------------------------------------------------------------- initialisers
def uniform_(tensor, a: float = 0.0, b: float = 1.0, generator=None, *, key=None):
    """Fill with values from U(a, b)."""
    return _fill(tensor, _rng(generator, key).uniform(a, b, _shape(tensor)))


def normal_(tensor, mean: float = 0.0, std: float = 1.0, generator=None, *, key=None):
    """Fill with values from N(mean, std^2)."""
    return _fill(tensor, _rng(generator, key).normal(mean, std, _shape(tensor)))


def trunc_normal_(tensor, mean: float = 0.0, std: float = 1.0, a: float = -2.0,
                  b: float = 2.0, generator=None, *, key=None):
    """Fill with N(mean, std^2) values conditioned on lying in [a, b] (redrawn until they do)."""
    if not a < b:
        raise ValueError(f"trunc_normal_: need a < b, got a={a}, b={b}")
    rng = _rng(generator, key)
    out = rng.normal(mean, std, _shape(tensor))
    bad = (out < a) | (out > b)
    while bad.any():
        out[bad] = rng.normal(mean, std, int(bad.sum()))
        bad = (out < a) | (out > b)
    return _fill(tensor, out)


def constant_(tensor, val: float):
    return _fill(tensor, np.full(_shape(tensor), float(val)))


def ones_(tensor):
    return constant_(tensor, 1.0)


def zeros_(tensor):
    return constant_(tensor, 0.0)


def xavier_uniform_(tensor, gain: float = 1.0, generator=None, *, key=None):
    """Glorot uniform: U(-a, a) with a = gain * sqrt(6 / (fan_in + fan_out))."""
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    bound = math.sqrt(3.0) * gain * math.sqrt(2.0 / float(fan_in + fan_out))
    return uniform_(tensor, -bound, bound, generator, key=key)


def xavier_normal_(tensor, gain: float = 1.0, generator=None, *, key=None):
    """Glorot normal: N(0, std^2) with std = gain * sqrt(2 / (fan_in + fan_out))."""
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    std = gain * math.sqrt(2.0 / float(fan_in + fan_out))
    return normal_(tensor, 0.0, std, generator, key=key)


def kaiming_uniform_(tensor, a: float = 0, mode: str = "fan_in",
                     nonlinearity: str = "leaky_relu", generator=None, *, key=None):
    """He uniform: U(-bound, bound), bound = gain * sqrt(3 / fan) with
    ``gain = calculate_gain(nonlinearity, a)`` and ``fan`` chosen by ``mode``."""
    if 0 in _shape(tensor):
        return tensor
    fan = _calculate_correct_fan(tensor, mode)
    bound = math.sqrt(3.0) * calculate_gain(nonlinearity, a) / math.sqrt(fan)
    return uniform_(tensor, -bound, bound, generator, key=key)


def kaiming_normal_(tensor, a: float = 0, mode: str = "fan_in",
                    nonlinearity: str = "leaky_relu", generator=None, *, key=None):
    """He normal: N(0, std^2), std = gain / sqrt(fan)."""
    if 0 in _shape(tensor):
        return tensor
    fan = _calculate_correct_fan(tensor, mode)
    std = calculate_gain(nonlinearity, a) / math.sqrt(fan)
    return normal_(tensor, 0.0, std, generator, key=key)


def orthogonal_(tensor, gain: float = 1.0, generator=None, *, key=None):
    """A (semi-)orthogonal matrix (Saxe et al. 2013), trailing dims flattened, times ``gain``."""
    shape = _shape(tensor)
    if len(shape) < 2:
        raise ValueError("Only tensors with 2 or more dimensions are supported")
    if 0 in shape:
        return tensor
    rows = shape[0]
    cols = int(np.prod(shape[1:], dtype=np.int64))
    flat = _rng(generator, key).normal(0.0, 1.0, (rows, cols))
    if rows < cols:
        flat = flat.T
    q, r = np.linalg.qr(flat)
    q = q * np.sign(np.diag(r))
    if rows < cols:
        q = q.T
    return _fill(tensor, gain * q.reshape(shape))


glorot_uniform_ = xavier_uniform_
glorot_normal_ = xavier_normal_
he_uniform_ = kaiming_uniform_
he_normal_ = kaiming_normal_
