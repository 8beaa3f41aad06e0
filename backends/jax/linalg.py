"""Array API ``linalg`` extension for the JAX backend (``jax.numpy.linalg``)."""
import jax.numpy as jnp
import numpy as np

_la = jnp.linalg
_I64 = np.dtype(np.int64)

cross, det, diagonal, inv, outer = _la.cross, _la.det, _la.diagonal, _la.inv, _la.outer
matrix_norm, matrix_power = _la.matrix_norm, _la.matrix_power
slogdet, solve, svdvals, vector_norm = _la.slogdet, _la.solve, _la.svdvals, _la.vector_norm
matmul, tensordot, vecdot = _la.matmul, _la.tensordot, _la.vecdot
matrix_transpose = _la.matrix_transpose


def cholesky(x, /, *, upper=False):
    # like NumPy/PyTorch, read only the lower triangle (JAX symmetrises by default)
    return _la.cholesky(x, upper=upper, symmetrize_input=False)


def eigh(x, /):
    return tuple(_la.eigh(x, UPLO="L", symmetrize_input=False))


def eigvalsh(x, /):
    return _la.eigvalsh(x, UPLO="L", symmetrize_input=False)


def matrix_rank(x, /, *, rtol=None):
    # Array API: rtol is relative to the largest singular value (JAX's rtol is absolute)
    s = _la.svdvals(x)
    if rtol is None:
        rtol = max(x.shape[-2:]) * jnp.finfo(s.dtype).eps
    elif not isinstance(rtol, (int, float)):
        rtol = jnp.asarray(rtol)[..., None]
    tol = jnp.max(s, axis=-1, keepdims=True) * rtol
    return jnp.sum(s > tol, axis=-1, dtype=_I64)


def pinv(x, /, *, rtol=None):
    return _la.pinv(x, rtol=rtol)


def qr(x, /, *, mode="reduced"):
    return tuple(_la.qr(x, mode=mode))


def svd(x, /, *, full_matrices=True):
    return tuple(_la.svd(x, full_matrices=full_matrices))


def trace(x, /, *, offset=0, dtype=None):
    if dtype is None and x.dtype.kind in "biu" and x.dtype.itemsize < 8:
        dtype = _I64  # Array API: small integers sum in the default integer dtype
    return _la.trace(x, offset=offset, dtype=dtype)
