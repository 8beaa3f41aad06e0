"""Array API ``linalg`` extension for the NumPy backend."""
import ml_dtypes
import numpy as np

_la = np.linalg


def _bfloat16_kept(out, x):
    """NumPy computes norms of ``ml_dtypes.bfloat16`` in float64: give bfloat16 back."""
    return out.astype(ml_dtypes.bfloat16) if x.dtype == ml_dtypes.bfloat16 else out


def cholesky(x, /, *, upper=False):
    L = _la.cholesky(x)
    return np.conj(np.swapaxes(L, -1, -2)) if upper else L


def cross(x1, x2, /, *, axis=-1):
    return np.cross(x1, x2, axis=axis)


def det(x, /):
    return _la.det(x)


def diagonal(x, /, *, offset=0):
    return np.diagonal(x, offset=offset, axis1=-2, axis2=-1).copy()


def eigh(x, /):
    return tuple(_la.eigh(x))


def eigvalsh(x, /):
    return _la.eigvalsh(x)


def inv(x, /):
    return _la.inv(x)


def matrix_norm(x, /, *, keepdims=False, ord="fro"):
    return _bfloat16_kept(np.asarray(_la.matrix_norm(x, keepdims=keepdims, ord=ord)), x)


def matrix_power(x, n, /):
    out = _la.matrix_power(x, n)
    return out.astype(x.dtype, copy=False)  # ml_dtypes' bfloat16 products give float32


def matrix_rank(x, /, *, rtol=None):
    return np.asarray(_la.matrix_rank(x, rtol=rtol)).astype(np.int64)


def outer(x1, x2, /):
    return np.outer(x1, x2)


def pinv(x, /, *, rtol=None):
    return _la.pinv(x, rtol=rtol)


def qr(x, /, *, mode="reduced"):
    return tuple(_la.qr(x, mode=mode))


def slogdet(x, /):
    return tuple(_la.slogdet(x))


def solve(x1, x2, /):
    if x2.ndim == 1:
        return _la.solve(x1, x2[..., None])[..., 0] if x1.ndim > 2 else _la.solve(x1, x2)
    return _la.solve(x1, x2)


def svd(x, /, *, full_matrices=True):
    return tuple(_la.svd(x, full_matrices=full_matrices))


def svdvals(x, /):
    return _la.svd(x, compute_uv=False)


def trace(x, /, *, offset=0, dtype=None):
    if dtype is None and x.dtype.kind in "iu" and x.dtype.itemsize < 8:
        dtype = np.int64
    return np.asarray(np.trace(x, offset=offset, axis1=-2, axis2=-1, dtype=dtype))


def vector_norm(x, /, *, axis=None, keepdims=False, ord=2):
    return _bfloat16_kept(np.asarray(_la.vector_norm(x, axis=axis, keepdims=keepdims, ord=ord)),
                          x)
