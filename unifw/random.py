"""Explicit-key random numbers, identical on every backend.

Keys are ``int64`` tensors of shape ``(2,)``. Bits come from a counter-based
hash (splitmix64 mixing of ``key`` and the element index) computed with
ordinary integer ops, so the same key gives bit-identical streams on PyTorch,
TensorFlow, JAX and NumPy, and works unchanged inside compiled functions.

``seed(s)`` seeds the process-wide host generator that layer initialisers and
modules (e.g. ``nn.Dropout``) draw their keys from.
"""
from __future__ import annotations

import math

import numpy as np

from . import _dtypes
from ._devices import current_device
from ._registry import active
from ._tensor import Tensor, wrap

__all__ = ["key", "split", "fold_in", "normal", "uniform", "randint", "bernoulli",
           "permutation", "seed", "next_key", "host_generator", "get_state", "set_state"]

_M64 = (1 << 64) - 1


def _s64(v: int) -> int:
    v &= _M64
    return v - (1 << 64) if v >= (1 << 63) else v


_GOLDEN = _s64(0x9E3779B97F4A7C15)
_C1 = _s64(0xBF58476D1CE4E5B9)
_C2 = _s64(0x94D049BB133111EB)


def _py_mix(z: int) -> int:
    z &= _M64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _M64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _M64
    return _s64(z ^ (z >> 31))


class _N:
    """Native int64 arithmetic on backend ``b`` (wrapping, as two's complement)."""

    def __init__(self, b, like):
        self.b = b
        self.i64 = b.native_dtype(_dtypes.int64)
        self.dev = b.device_of(like)

    def c(self, v):
        return self.b.asarray(v, dtype=self.i64, device=self.dev)

    def lsr(self, z, s):
        b = self.b
        return b.bitwise_and(b.bitwise_right_shift(z, self.c(s)), self.c((1 << (64 - s)) - 1))

    def mix(self, z):
        b = self.b
        z = b.multiply(b.bitwise_xor(z, self.lsr(z, 30)), self.c(_C1))
        z = b.multiply(b.bitwise_xor(z, self.lsr(z, 27)), self.c(_C2))
        return b.bitwise_xor(z, self.lsr(z, 31))


def _bits(b, k, n: int, stream: int = 0):
    """``n`` pseudo-random int64 words from native key ``k`` (shape (2,))."""
    N = _N(b, k)
    k0 = b.getitem(k, 0)
    k1 = b.getitem(k, 1)
    i = b.arange(n, dtype=N.i64, device=N.dev)
    if stream:
        k1 = b.bitwise_xor(k1, N.c(_py_mix(stream)))
    s = b.add(k0, b.multiply(b.add(i, N.c(1)), N.c(_GOLDEN)))
    return N.mix(b.bitwise_xor(N.mix(s), k1))


_MANT = {"float16": 11, "bfloat16": 8, "float32": 24, "float64": 53}


def _uniform01(b, k, shape, dt: _dtypes.DType, stream=0):
    n = math.prod(shape)  # plain Python: np.prod breaks the torch.compile graph
    h = _bits(b, k, n, stream)
    m = _MANT[dt.name]
    N = _N(b, k)
    work = _dtypes.float64 if m > 24 else _dtypes.float32
    top = N.lsr(h, 64 - m)
    wn = b.native_dtype(work)
    u = b.multiply(b.astype(top, wn), b.asarray(2.0 ** -m, dtype=wn, device=N.dev))
    if work is not dt:
        u = b.astype(u, b.native_dtype(dt))
    return b.reshape(u, tuple(shape))


def _native_key(key):
    if not isinstance(key, Tensor):
        raise TypeError("random functions take a key made by uf.random.key(seed) / split")
    return key._b, key._native


def _float_dtype(dtype):
    d = _dtypes.as_dtype(dtype) if dtype is not None else _dtypes.default_float
    if d.kind != "f":
        from .errors import DTypeError

        raise DTypeError(f"random: expected a real floating dtype, got {d}")
    return d


def _shape(shape):
    return (int(shape),) if isinstance(shape, (int, np.integer)) else tuple(int(s) for s in shape)


def key(seed: int) -> Tensor:
    """A new key from an integer seed, on the active backend (int64, shape (2,))."""
    b = active()
    s = int(seed)
    vals = np.array([_py_mix(s), _py_mix(s ^ 0x5851F42D4C957F2D)], dtype=np.int64)
    return wrap(b.asarray(vals, dtype=b.native_dtype(_dtypes.int64), device=current_device(b)), b)


def split(key: Tensor, num: int = 2):
    """``num`` new independent keys (a tuple, so ``k1, k2 = split(key)`` works)."""
    b, k = _native_key(key)
    h = _bits(b, k, 2 * num, stream=0x243F6A8885A308D3)
    h = b.reshape(h, (num, 2))
    return tuple(wrap(b.getitem(h, i), b) for i in range(num))


def fold_in(key: Tensor, data: int) -> Tensor:
    """A key derived from ``key`` and an integer (e.g. a step number)."""
    b, k = _native_key(key)
    h = _bits(b, k, 2, stream=(int(data) * 2 + 1) & _M64)
    return wrap(h, b)


def uniform(key, shape=(), dtype=None, minval=0.0, maxval=1.0) -> Tensor:
    """Uniform samples in ``[minval, maxval)``."""
    b, k = _native_key(key)
    d = _float_dtype(dtype)
    u = _uniform01(b, k, _shape(shape), d)
    if minval != 0.0 or maxval != 1.0:
        nd = b.native_dtype(d)
        dev = b.device_of(k)
        u = b.add(b.multiply(u, b.asarray(maxval - minval, dtype=nd, device=dev)),
                  b.asarray(minval, dtype=nd, device=dev))
    return wrap(u, b)


def normal(key, shape=(), dtype=None, mean=0.0, std=1.0) -> Tensor:
    """Standard normal samples (Box-Muller), scaled by ``std`` and shifted by ``mean``."""
    b, k = _native_key(key)
    d = _float_dtype(dtype)
    work = _dtypes.float64 if d is _dtypes.float64 else _dtypes.float32
    shp = _shape(shape)
    wn = b.native_dtype(work)
    dev = b.device_of(k)
    one = b.asarray(1.0, dtype=wn, device=dev)
    u1 = b.subtract(one, _uniform01(b, k, shp, work, stream=1))  # in (0, 1]
    u2 = _uniform01(b, k, shp, work, stream=2)
    r = b.sqrt(b.multiply(b.asarray(-2.0, dtype=wn, device=dev), b.log(u1)))
    z = b.multiply(r, b.cos(b.multiply(b.asarray(2 * math.pi, dtype=wn, device=dev), u2)))
    if std != 1.0 or mean != 0.0:
        z = b.add(b.multiply(z, b.asarray(std, dtype=wn, device=dev)),
                  b.asarray(mean, dtype=wn, device=dev))
    if work is not d:
        z = b.astype(z, b.native_dtype(d))
    return wrap(z, b)


def randint(key, shape, minval, maxval, dtype=None) -> Tensor:
    """Integers in ``[minval, maxval)`` (int64 unless ``dtype`` says otherwise)."""
    b, k = _native_key(key)
    d = _dtypes.as_dtype(dtype) if dtype is not None else _dtypes.int64
    shp = _shape(shape)
    n = int(np.prod(shp, dtype=np.int64)) if shp else 1
    N = _N(b, k)
    h = N.lsr(_bits(b, k, n, stream=3), 1)
    span = int(maxval) - int(minval)
    if span <= 0:
        from .errors import ShapeError

        raise ShapeError(f"randint: maxval ({maxval}) must be greater than minval ({minval})")
    v = b.add(b.remainder(h, N.c(span)), N.c(int(minval)))
    v = b.reshape(v, shp)
    if d is not _dtypes.int64:
        v = b.astype(v, b.native_dtype(d))
    return wrap(v, b)


def bernoulli(key, p=0.5, shape=()) -> Tensor:
    """Booleans that are True with probability ``p``."""
    b, k = _native_key(key)
    u = _uniform01(b, k, _shape(shape), _dtypes.float32, stream=4)
    pn = p._native if isinstance(p, Tensor) else b.asarray(float(p), dtype=u.dtype,
                                                          device=b.device_of(k))
    if pn.dtype != u.dtype:
        pn = b.astype(pn, u.dtype)
    return wrap(b.less(u, pn), b)


def permutation(key, x) -> Tensor:
    """A random permutation of ``arange(x)`` (int) or of the first axis of tensor ``x``."""
    b, k = _native_key(key)
    n = int(x) if not isinstance(x, Tensor) else x.shape[0]
    N = _N(b, k)
    h = N.lsr(_bits(b, k, n, stream=5), 1)
    perm = b.argsort(h, axis=-1, descending=False, stable=True)
    if isinstance(x, Tensor):
        return wrap(b.take(x._native, perm, axis=0), b)
    return wrap(perm, b)


# ---------------------------------------------------------------- host-side generator
_host = np.random.default_rng(0)


def seed(s: int) -> None:
    """Seed the global generator used by initialisers and module-held keys
    (the ``torch.manual_seed`` habit). Same seed, same parameters on every backend."""
    global _host
    _host = np.random.default_rng(int(s))


def host_generator() -> np.random.Generator:
    """The NumPy generator behind :func:`seed` (initialisers draw from it)."""
    return _host


def next_key() -> Tensor:
    """A fresh key drawn from the global generator (on the active backend)."""
    return key(int(_host.integers(0, 2**62)))


def get_state() -> dict:
    """State of the global generator (JSON-serialisable; saved in checkpoints)."""
    return _host.bit_generator.state


def set_state(state: dict) -> None:
    _host.bit_generator.state = state
