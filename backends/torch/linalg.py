"""Array API ``linalg`` extension for the PyTorch backend (``torch.linalg``)."""
import torch

_la = torch.linalg


def cholesky(x, /, *, upper=False):
    return _la.cholesky(x, upper=upper)


def cross(x1, x2, /, *, axis=-1):
    if x1.shape != x2.shape:  # torch only broadcasts operands of equal rank
        x1, x2 = torch.broadcast_tensors(x1, x2)
    return _la.cross(x1, x2, dim=axis)


det = _la.det


def diagonal(x, /, *, offset=0):
    return torch.diagonal(x, offset, -2, -1)


def eigh(x, /):
    return tuple(_la.eigh(x))


eigvalsh = _la.eigvalsh
inv = _la.inv


def matrix_norm(x, /, *, keepdims=False, ord="fro"):
    return _la.matrix_norm(x, ord=ord, keepdim=keepdims)


matrix_power = _la.matrix_power


def matrix_rank(x, /, *, rtol=None):
    # torch's default tolerance is the Array API's: max(M, N) * eps * largest singular value
    return _la.matrix_rank(x, rtol=rtol)


outer = torch.outer


def pinv(x, /, *, rtol=None):
    return _la.pinv(x, rtol=rtol)


def qr(x, /, *, mode="reduced"):
    return tuple(_la.qr(x, mode=mode))


def slogdet(x, /):
    return tuple(_la.slogdet(x))


def solve(x1, x2, /):
    # Array API: only a 1-D x2 is a vector (broadcast against x1's batch); torch also reads
    # an x2 of x1.ndim - 1 dims as a batch of vectors. Give torch a matrix of x1's rank.
    if x2.ndim == 1:
        column = x2.reshape((1,) * (x1.ndim - 2) + (-1, 1))
        return _la.solve(x1, column).squeeze(-1)
    if x2.ndim == x1.ndim - 1:
        x2 = x2.unsqueeze(0)
    return _la.solve(x1, x2)


def svd(x, /, *, full_matrices=True):
    return tuple(_la.svd(x, full_matrices=full_matrices))


svdvals = _la.svdvals


def trace(x, /, *, offset=0, dtype=None):
    # torch.sum accumulates small integers in int64, as the Array API asks
    return torch.diagonal(x, offset, -2, -1).sum(-1, dtype=dtype)


def vector_norm(x, /, *, axis=None, keepdims=False, ord=2):
    return _la.vector_norm(x, ord=ord, dim=axis, keepdim=keepdims)
