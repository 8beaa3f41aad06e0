"""Array API ``linalg`` extension for the TensorFlow backend."""
import math

import numpy as np
import tensorflow as tf

from .numpy import (_ACC, _COMPLEX, _cast, _norm_axis, matmul, matrix_transpose,  # noqa: F401
                    tensordot, vecdot)

_la = tf.linalg


def _require_matrix(x, name):
    if x.shape.rank < 2:
        raise ValueError(f"linalg.{name}: input must have at least 2 dimensions")


def _conj_t(x):
    return _la.adjoint(x)


def cholesky(x, /, *, upper=False):
    L = _la.cholesky(x)
    if tf.executing_eagerly():
        # TF's CPU kernel does not report a failed factorisation: it returns NaNs (real) or
        # zeros (complex); a valid factor has a finite, strictly positive diagonal
        d = tf.math.real(_la.diag_part(L))
        if not bool(tf.reduce_all(d > 0)):
            raise ValueError("linalg.cholesky: the matrix is not positive definite")
    return _conj_t(L) if upper else L


def cross(x1, x2, /, *, axis=-1):
    if x1.shape[axis] != 3 or x2.shape[axis] != 3:
        raise ValueError("linalg.cross: the axis must have size 3 in both inputs")
    a0, a1, a2 = tf.unstack(x1, axis=axis)
    b0, b1, b2 = tf.unstack(x2, axis=axis)
    out = [a1 * b2 - a2 * b1, a2 * b0 - a0 * b2, a0 * b1 - a1 * b0]
    nd = tf.broadcast_static_shape(x1.shape, x2.shape).rank
    return tf.stack(out, axis=_norm_axis(axis, nd))


def det(x, /):
    _require_matrix(x, "det")
    return _la.det(x)


def diagonal(x, /, *, offset=0):
    _require_matrix(x, "diagonal")
    n, m = x.shape[-2], x.shape[-1]
    if n is not None and m is not None and not -n < offset < m:
        return tf.zeros(x.shape[:-2] + [0], x.dtype)
    return _la.diag_part(x, k=offset)


def eigh(x, /):
    _require_matrix(x, "eigh")
    w, v = _la.eigh(x)
    return tf.math.real(w), v  # TF returns complex eigenvalues for complex input


def eigvalsh(x, /):
    _require_matrix(x, "eigvalsh")
    return tf.math.real(_la.eigvalsh(x))


def inv(x, /):
    _require_matrix(x, "inv")
    return _la.inv(x)


def svdvals(x, /):
    _require_matrix(x, "svdvals")
    return _la.svd(x, compute_uv=False)


def matrix_norm(x, /, *, keepdims=False, ord="fro"):
    _require_matrix(x, "matrix_norm")
    a = tf.abs(x)
    if ord == "fro":
        out = tf.sqrt(tf.reduce_sum(a * a, axis=[-2, -1]))
    elif ord == "nuc":
        out = tf.reduce_sum(svdvals(x), axis=-1)
    elif ord in (2, -2):
        s = svdvals(x)
        out = tf.reduce_max(s, axis=-1) if ord == 2 else tf.reduce_min(s, axis=-1)
    elif ord in (1, -1):
        col = tf.reduce_sum(a, axis=-2)
        out = tf.reduce_max(col, axis=-1) if ord == 1 else tf.reduce_min(col, axis=-1)
    elif ord in (math.inf, -math.inf):
        row = tf.reduce_sum(a, axis=-1)
        out = tf.reduce_max(row, axis=-1) if ord > 0 else tf.reduce_min(row, axis=-1)
    else:
        raise ValueError(f"linalg.matrix_norm: invalid ord {ord!r}")
    return out[..., None, None] if keepdims else out


def matrix_power(x, n, /):
    _require_matrix(x, "matrix_power")
    if x.shape[-1] != x.shape[-2]:
        raise ValueError("linalg.matrix_power: input must be square")
    n = int(n)
    if n < 0:
        x, n = _la.inv(x), -n
    result = None
    base = x
    while n:  # binary exponentiation: O(log n) products
        if n & 1:
            result = base if result is None else matmul(result, base)
        n >>= 1
        if n:
            base = matmul(base, base)
    if result is None:
        eye = tf.eye(tf.shape(x)[-1], dtype=x.dtype)
        return tf.broadcast_to(eye, tf.shape(x))
    return tf.identity(result)


def _default_rtol(x, s):
    n, m = x.shape[-2], x.shape[-1]
    eps = np.finfo(s.dtype.as_numpy_dtype).eps
    return max(n, m) * eps


def matrix_rank(x, /, *, rtol=None):
    _require_matrix(x, "matrix_rank")
    s = svdvals(x)
    rtol = _default_rtol(x, s) if rtol is None else rtol
    rtol = _cast(tf.convert_to_tensor(rtol), s.dtype)
    if rtol.shape.rank:
        rtol = rtol[..., None]
    tol = tf.reduce_max(s, axis=-1, keepdims=True) * rtol
    return tf.reduce_sum(tf.cast(s > tol, tf.int64), axis=-1)


def outer(x1, x2, /):
    if x1.shape.rank != 1 or x2.shape.rank != 1:
        raise ValueError("linalg.outer: inputs must be 1-d")
    return x1[:, None] * x2[None, :]


def pinv(x, /, *, rtol=None):
    _require_matrix(x, "pinv")
    s, u, v = _la.svd(x, full_matrices=False)
    rtol = _default_rtol(x, s) if rtol is None else rtol
    rtol = _cast(tf.convert_to_tensor(rtol), s.dtype)
    if rtol.shape.rank:
        rtol = rtol[..., None]
    cutoff = tf.reduce_max(s, axis=-1, keepdims=True) * rtol
    s_inv = tf.where(s > cutoff, 1 / s, tf.zeros_like(s))
    return tf.matmul(v * tf.cast(s_inv, v.dtype)[..., None, :], u, adjoint_b=True)


def qr(x, /, *, mode="reduced"):
    _require_matrix(x, "qr")
    if mode not in ("reduced", "complete"):
        raise ValueError(f"linalg.qr: mode must be 'reduced' or 'complete', got {mode!r}")
    return tuple(_la.qr(x, full_matrices=mode == "complete"))


def slogdet(x, /):
    _require_matrix(x, "slogdet")
    sign, logabsdet = _la.slogdet(x)
    return sign, tf.math.real(logabsdet)


def _broadcast_batch(a, b, a_core, b_core):
    batch = tf.broadcast_static_shape(a.shape[:-a_core], b.shape[:-b_core])
    if batch.is_fully_defined():
        return (tf.broadcast_to(a, batch.as_list() + a.shape[-a_core:].as_list()),
                tf.broadcast_to(b, batch.as_list() + b.shape[-b_core:].as_list()))
    dyn = tf.broadcast_dynamic_shape(tf.shape(a)[:-a_core], tf.shape(b)[:-b_core])
    return (tf.broadcast_to(a, tf.concat([dyn, tf.shape(a)[-a_core:]], 0)),
            tf.broadcast_to(b, tf.concat([dyn, tf.shape(b)[-b_core:]], 0)))


def solve(x1, x2, /):
    _require_matrix(x1, "solve")
    if x2.shape.rank == 1:  # a vector right-hand side (Array API)
        a, b = _broadcast_batch(x1, x2[:, None], 2, 2)
        return _la.solve(a, b)[..., 0]
    a, b = _broadcast_batch(x1, x2, 2, 2)
    return _la.solve(a, b)


def svd(x, /, *, full_matrices=True):
    _require_matrix(x, "svd")
    s, u, v = _la.svd(x, full_matrices=full_matrices)
    return u, s, _conj_t(v)


def trace(x, /, *, offset=0, dtype=None):
    d = diagonal(x, offset=offset)
    d = _cast(d, dtype or _ACC.get(d.dtype, d.dtype))
    return tf.reduce_sum(d, axis=-1)


def vector_norm(x, /, *, axis=None, keepdims=False, ord=2):
    a = tf.abs(x)
    nd = x.shape.rank
    axes = list(range(nd)) if axis is None else [axis] if isinstance(axis, int) else list(axis)
    if ord == 2:
        out = tf.sqrt(tf.reduce_sum(a * a, axis=axes, keepdims=keepdims))
    elif ord == 1:
        out = tf.reduce_sum(a, axis=axes, keepdims=keepdims)
    elif ord == math.inf:
        out = tf.reduce_max(a, axis=axes, keepdims=keepdims)
    elif ord == -math.inf:
        out = tf.reduce_min(a, axis=axes, keepdims=keepdims)
    elif ord == 0:
        out = tf.reduce_sum(tf.cast(a != 0, a.dtype), axis=axes, keepdims=keepdims)
    else:
        p = tf.constant(ord, a.dtype)
        out = tf.reduce_sum(a ** p, axis=axes, keepdims=keepdims) ** (1 / p)
    return out

