"""Array API ``fft`` extension for the TensorFlow backend.

``tf.signal`` transforms only the innermost axes, so other axes are moved
there and back. Results keep the input precision (float32 -> complex64,
float64 -> complex128; float16/bfloat16 compute in single precision).
TensorFlow's inverse transforms already divide by ``n`` ("backward" norm).
"""
import math

import numpy as np
import tensorflow as tf

from .core import _placed

_COMPLEX_OF = {tf.float16: tf.complex64, tf.bfloat16: tf.complex64, tf.float32: tf.complex64,
               tf.float64: tf.complex128, tf.complex64: tf.complex64,
               tf.complex128: tf.complex128}
_REAL_OF = {tf.float16: tf.float32, tf.bfloat16: tf.float32, tf.float32: tf.float32,
            tf.float64: tf.float64, tf.complex64: tf.float32, tf.complex128: tf.float64}
_SWAP = {"backward": "forward", "forward": "backward", "ortho": "ortho"}
_FFT = {1: tf.signal.fft, 2: tf.signal.fft2d, 3: tf.signal.fft3d}
_IFFT = {1: tf.signal.ifft, 2: tf.signal.ifft2d, 3: tf.signal.ifft3d}


def _complex(x):
    return tf.cast(x, _COMPLEX_OF[x.dtype])


def _real(x):
    return tf.cast(x, _REAL_OF[x.dtype])


def _scale(x, norm, n, inverse):
    """Apply ``norm`` to an unscaled forward / TF-scaled (1/n) inverse transform.

    ``n`` is the transform size: a list of per-axis lengths (ints, or scalar tensors where
    a traced shape is unknown).
    """
    if norm == "backward":
        return x
    if norm not in ("ortho", "forward"):
        raise ValueError(f"norm must be 'backward', 'ortho' or 'forward', got {norm!r}")
    if all(isinstance(v, int) for v in n):
        size = math.prod(n)
        f = math.sqrt(size) if norm == "ortho" else size
        return x * tf.constant(f if inverse else 1 / f, x.dtype)
    size = tf.cast(tf.reduce_prod(tf.stack([tf.cast(v, tf.float64) for v in n])), x.dtype)
    f = tf.sqrt(size) if norm == "ortho" else size
    return x * f if inverse else x / f


def _len(x, axis):
    n = x.shape[axis]
    return n if n is not None else tf.shape(x)[axis]


def _check_length(n):
    # TF's kernels abort the process on an empty transform instead of raising
    if isinstance(n, int) and n < 1:
        raise ValueError(f"invalid number of data points ({n}): must be at least 1")
    return n


def _resize(x, n, axis):
    """Crop or zero-pad ``axis`` to length ``n`` (NumPy's ``n=`` / ``s=``)."""
    if not isinstance(n, int):  # None, or the traced length of this axis itself
        _check_length(x.shape[axis])
        return x
    cur = x.shape[axis]
    if _check_length(n) == cur:
        return x
    if cur is None:  # traced length: crop, then pad up to n
        x = tf.gather(x, tf.range(tf.minimum(n, tf.shape(x)[axis])), axis=axis)
        pads = [[0, 0]] * x.shape.rank
        pads[axis] = [0, n - tf.shape(x)[axis]]
        return tf.pad(x, pads)
    if n < cur:
        return tf.gather(x, tf.range(n), axis=axis)
    pads = [[0, 0]] * x.shape.rank
    pads[axis] = [0, n - cur]
    return tf.pad(x, pads)


def _to_end(x, axes):
    """Move ``axes`` (in order) to the end; returns the moved tensor and the inverse perm."""
    nd = x.shape.rank
    axes = [a % nd for a in axes]
    perm = [a for a in range(nd) if a not in axes] + axes
    if perm == list(range(nd)):
        return x, None
    return tf.transpose(x, perm), _inverse(perm)


def _inverse(perm):
    return [int(i) for i in np.argsort(perm)]


def _back(x, inv):
    return x if inv is None else tf.transpose(x, inv)


def _c2c(x, axes, inverse):
    """Unscaled forward / 1/n-scaled inverse complex transform over ``axes``."""
    table = _IFFT if inverse else _FFT
    y, inv = _to_end(x, axes)
    nd = y.shape.rank
    hi, first = nd, nd - len(axes)
    while hi > first:  # TF has 1-, 2- and 3-d kernels on the innermost axes
        lo = max(first, hi - 3)
        if hi == nd:
            y = table[hi - lo](y)
        else:
            order = [a for a in range(nd) if not lo <= a < hi] + list(range(lo, hi))
            y = tf.transpose(table[hi - lo](tf.transpose(y, order)), _inverse(order))
        hi = lo
    return _back(y, inv)


def _axes_and_sizes(x, s, axes):
    nd = x.shape.rank
    if axes is None:
        axes = list(range(nd)) if s is None else list(range(nd - len(s), nd))
    axes = [a % nd for a in axes]
    if s is None:
        s = [_len(x, a) for a in axes]
    if len(s) != len(axes):
        raise ValueError("s and axes must have the same length")
    return axes, list(s)


def fft(x, /, *, n=None, axis=-1, norm="backward"):
    x = _resize(_complex(x), n, axis)
    return _scale(_c2c(x, [axis], False), norm, [_len(x, axis)], False)


def ifft(x, /, *, n=None, axis=-1, norm="backward"):
    x = _resize(_complex(x), n, axis)
    return _scale(_c2c(x, [axis], True), norm, [_len(x, axis)], True)


def fftn(x, /, *, s=None, axes=None, norm="backward"):
    x = _complex(x)
    axes, s = _axes_and_sizes(x, s, axes)
    for a, n in zip(axes, s):
        x = _resize(x, n, a)
    return _scale(_c2c(x, axes, False), norm, s, False)


def ifftn(x, /, *, s=None, axes=None, norm="backward"):
    x = _complex(x)
    axes, s = _axes_and_sizes(x, s, axes)
    for a, n in zip(axes, s):
        x = _resize(x, n, a)
    return _scale(_c2c(x, axes, True), norm, s, True)


def _rfft_unscaled(x, n, axis):
    x = _real(x)
    n = _check_length(_len(x, axis) if n is None else n)
    # crop/pad here: TF's RFFT gradient is wrong when fft_length differs from the input
    y, inv = _to_end(_resize(x, n, axis), [axis])
    return _back(tf.signal.rfft(y, fft_length=[n]), inv), n


def _irfft_tf(x, n, axis):
    x = _complex(x)
    n = _check_length(2 * (_len(x, axis) - 1) if n is None else n)
    # the n // 2 + 1 input bins, cropped/padded here (TF's IRFFT gradient assumes that size)
    y, inv = _to_end(_resize(x, n // 2 + 1, axis), [axis])
    return _back(tf.signal.irfft(y, fft_length=[n]), inv), n


def rfft(x, /, *, n=None, axis=-1, norm="backward"):
    y, n = _rfft_unscaled(x, n, axis)
    return _scale(y, norm, [n], False)


def irfft(x, /, *, n=None, axis=-1, norm="backward"):
    y, n = _irfft_tf(x, n, axis)
    return _scale(y, norm, [n], True)


def rfftn(x, /, *, s=None, axes=None, norm="backward"):
    axes, s = _axes_and_sizes(x, s, axes)
    y, _ = _rfft_unscaled(x, s[-1], axes[-1])
    if len(axes) > 1:
        for a, n in zip(axes[:-1], s[:-1]):
            y = _resize(y, n, a)
        y = _c2c(y, axes[:-1], False)
    return _scale(y, norm, s, False)


def irfftn(x, /, *, s=None, axes=None, norm="backward"):
    x = _complex(x)
    nd = x.shape.rank
    if axes is None:
        axes = list(range(nd)) if s is None else list(range(nd - len(s), nd))
    axes = [a % nd for a in axes]
    if s is None:
        s = [_len(x, a) for a in axes[:-1]] + [2 * (_len(x, axes[-1]) - 1)]
    s = list(s)
    if len(axes) > 1:
        for a, n in zip(axes[:-1], s[:-1]):
            x = _resize(x, n, a)
        x = _c2c(x, axes[:-1], True)
    y, _ = _irfft_tf(x, s[-1], axes[-1])
    return _scale(y, norm, s, True)


def hfft(x, /, *, n=None, axis=-1, norm="backward"):
    return irfft(tf.math.conj(_complex(x)), n=n, axis=axis, norm=_SWAP[norm])


def ihfft(x, /, *, n=None, axis=-1, norm="backward"):
    return tf.math.conj(rfft(x, n=n, axis=axis, norm=_SWAP[norm]))


def fftfreq(n, /, *, d=1.0, dtype=None, device=None):
    with _placed(device):
        return tf.constant(np.fft.fftfreq(n, d=d), dtype=dtype or tf.float32)


def rfftfreq(n, /, *, d=1.0, dtype=None, device=None):
    with _placed(device):
        return tf.constant(np.fft.rfftfreq(n, d=d), dtype=dtype or tf.float32)


def _shift(x, axes, sign):
    nd = x.shape.rank
    axes = list(range(nd)) if axes is None else [axes] if isinstance(axes, int) else list(axes)
    if not axes:
        return tf.identity(x)
    shifts = [sign * (_len(x, a) // 2) for a in axes]
    return tf.roll(x, shifts, axes)


def fftshift(x, /, *, axes=None):
    return _shift(x, axes, 1)


def ifftshift(x, /, *, axes=None):
    return _shift(x, axes, -1)
