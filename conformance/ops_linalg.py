"""Registry entries: the ``linalg`` extension (and the ``linalg`` aliases of main-namespace ops).

Decompositions are compared through invariants that every correct implementation shares
(eigenvector and QR/SVD sign conventions differ between LAPACK, Eigen and cuSOLVER).
Inputs that must be symmetric are symmetrised inside the call, ``(x + x^H) / 2``, so the
derivative is defined on symmetric perturbations only, as every framework defines it.
"""
from __future__ import annotations

import numpy as np
from hypothesis import assume
from hypothesis import strategies as st

from .builders import (arrays_fixed, bad_dtype_inputs, default_bad_inputs, group_dtypes, int64,
                       promoted, same)
from .cases import Case, draw_array, kind, np_dtype, real_dtype, shapes
from .ops_array import _matmul_cases, _tensordot_cases, _tensordot_terms, _vecdot_cases
from .ops_array import _vecdot_ref, _contracted, _MATMUL_ERRORS
from .registry import BadInput, Entry, register

_F = "float32"
_SQUARE_ERRORS = (BadInput((arrays_fixed(_F, (2, 3)),), "ShapeError", "a 2x3 matrix"),)


def _entry(name, cases, ref, out, **kw):
    from unifw._opspec import OPS

    spec = OPS[name]
    kw.setdefault("grad", spec.diff)
    kw.setdefault("signed_zeros", False)
    kw.setdefault("errors", default_bad_inputs(spec))
    return register(Entry(name, cases, ref, group_dtypes(spec.dtypes), out, **kw))


def _np_mT(a):
    return np.swapaxes(a, -1, -2)


def _mH(xp, a):
    return xp.conj(xp.matrix_transpose(a))


def _sym(xp, a):
    return (a + _mH(xp, a)) / 2


def _batch(draw):
    return tuple(draw(st.lists(st.integers(1, 2), max_size=1)))


def _any(draw, d, shape, lo=-1.0, hi=1.0):
    """Real or complex values (both parts in [lo, hi])."""
    return draw_array(draw, d, shape, lo, hi)


def _well_conditioned(draw, d, n, m=None, spd=False):
    """A random matrix with condition number below 20 and no singular value under 0.2
    (or a symmetric positive definite one)."""
    m = n if m is None else m
    a = _any(draw, d, _batch(draw) + (n, m))
    a64 = a.astype(np.complex128 if kind(d) == "c" else np.float64)
    if spd:
        a64 = a64 @ np.conj(_np_mT(a64)) + n * np.eye(n)
        return a64.astype(a.dtype)
    sv = np.linalg.svd(a64, compute_uv=False)
    assume(sv.size == 0 or (sv.min() > 0.2 and sv.max() / sv.min() < 20))
    return a


def _square_cases(spd=False, symmetric=False, gap=None):
    @st.composite
    def cases(draw, d, grad):
        n = draw(st.integers(1, 4))
        a = _well_conditioned(draw, d, n, spd=spd)
        if symmetric:
            a = ((a + np.conj(_np_mT(a))) / 2).astype(a.dtype)
            if gap is not None and n > 1:
                w = np.linalg.eigvalsh(a.astype(np.complex128 if kind(d) == "c" else
                                                np.float64))
                assume(np.min(np.diff(w, axis=-1)) > gap)
        return Case((a,), diff=(0,) if grad else ())
    return cases


# ---------------------------------------------------------------- symmetric / SPD input
def _sym_call(fn, x, **kw):
    """Symmetrise floating inputs before the op (other dtypes reach it as they are, for the
    error checks)."""
    import unifw as uf

    return fn(_sym(uf, x) if x.dtype.kind in "fc" else x, **kw)


@st.composite
def _cholesky_cases(draw, d, grad):
    c = draw(_square_cases(spd=True)(d, grad))
    return Case(c.args, {"upper": draw(st.booleans())}, c.diff)


def _cholesky_ref(x, upper=False):
    L = np.linalg.cholesky(_sym(np, x))
    return np.conj(_np_mT(L)) if upper else L


_SYM_ERRORS = tuple(bad_dtype_inputs("float", 1, (2, 2)))
_entry("linalg.cholesky", _cholesky_cases, _cholesky_ref, same, call=_sym_call,
       errors=_SYM_ERRORS)


def _eigh_norm(xp, outs, case):
    w, v = outs
    vw = v * xp.expand_dims(w * w, axis=-2)
    return w, vw @ _mH(xp, v), _mH(xp, v) @ v


_entry("linalg.eigh", _square_cases(spd=False, symmetric=True, gap=0.1),
       lambda x: tuple(np.linalg.eigh(_sym(np, x))), lambda c, d: (real_dtype(d), d),
       call=_sym_call, normalize=_eigh_norm, errors=_SYM_ERRORS)
_entry("linalg.eigvalsh", _square_cases(symmetric=True, gap=0.1),
       lambda x: np.linalg.eigvalsh(_sym(np, x)), lambda c, d: real_dtype(d),
       call=_sym_call, errors=_SYM_ERRORS)

# ---------------------------------------------------------------- general square input
_entry("linalg.det", _square_cases(), np.linalg.det, same, errors=_SQUARE_ERRORS)
_entry("linalg.inv", _square_cases(), np.linalg.inv, same,
       errors=(*_SQUARE_ERRORS, *bad_dtype_inputs("float")))
_entry("linalg.slogdet", _square_cases(), lambda x: tuple(np.linalg.slogdet(x)),
       lambda c, d: (d, real_dtype(d)))


@st.composite
def _power_cases(draw, d, grad):
    n = draw(st.integers(1, 3))
    p = draw(st.integers(-2 if kind(d) in "fc" else 0, 3))
    if kind(d) in "fc":
        a = _well_conditioned(draw, d, n)
    else:
        a = draw_array(draw, d, _batch(draw) + (n, n), -2, 2)
    return Case((a, p), diff=(0,) if grad else ())


_entry("linalg.matrix_power", _power_cases, np.linalg.matrix_power, same,
       errors=(BadInput((arrays_fixed("bool", (2, 2)), 2), "DTypeError", "a bool matrix"),
               BadInput((arrays_fixed(_F, (2, 3)), 2), "ShapeError", "a 2x3 matrix")))


@st.composite
def _rank_cases(draw, d, grad):
    m, n = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    r = draw(st.integers(0, min(m, n)))
    # integer factors: the product is exactly rank r in every precision
    b = draw_array(draw, "int64", (m, r), -2, 2).astype(np.float64)
    c = draw_array(draw, "int64", (r, n), -2, 2).astype(np.float64)
    a = (b @ c).astype(np_dtype(d))
    sv = np.linalg.svd(b @ c, compute_uv=False)  # a is b @ c exactly, in any dtype
    assume(np.all((sv < 1e-9) | (sv > 0.1 * max(sv.max(initial=0), 1))))
    return Case((a,))


_entry("linalg.matrix_rank", _rank_cases,
       lambda x, rtol=None: np.asarray(np.linalg.matrix_rank(x)), int64)


@st.composite
def _pinv_cases(draw, d, grad):
    m, n = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    return Case((_well_conditioned(draw, d, m, n),), diff=(0,) if grad else ())


_entry("linalg.pinv", _pinv_cases, lambda x, rtol=None: np.linalg.pinv(x), same)


# ---------------------------------------------------------------- QR and SVD
@st.composite
def _qr_cases(draw, d, grad):
    m, n = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    if grad:
        m = max(m, n)
    mode = "reduced" if grad else draw(st.sampled_from(["reduced", "complete"]))
    return Case((_well_conditioned(draw, d, m, n),), {"mode": mode},
                diff=(0,) if grad else ())


def _qr_norm(xp, outs, case):
    """Q and R with diag(R) made real positive (unique for full-rank input); Q^H Q = I."""
    q, r = outs
    k = min(q.shape[-2], r.shape[-1])  # min(m, n), read off the outputs: this may run traced
    qk, rk = q[..., :, :k], r[..., :k, :]
    dg = xp.linalg.diagonal(rk)
    s = dg / xp.abs(dg)
    return qk * xp.expand_dims(s, axis=-2), xp.expand_dims(xp.conj(s), axis=-1) * rk, \
        _mH(xp, q) @ q


_entry("linalg.qr", _qr_cases, lambda x, mode="reduced": tuple(np.linalg.qr(x, mode=mode)),
       lambda c, d: (d, d), normalize=_qr_norm)


@st.composite
def _svd_cases(draw, d, grad):
    m, n = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    a = _well_conditioned(draw, d, m, n)
    sv = np.linalg.svd(a.astype(np.complex128 if kind(d) == "c" else np.float64),
                       compute_uv=False)
    assume(sv.shape[-1] < 2 or np.min(-np.diff(sv, axis=-1)) > 0.1)
    return Case((a,), {"full_matrices": draw(st.booleans())}, diff=(0,) if grad else ())


def _svd_norm(xp, outs, case):
    """Singular values, U and Vh with the phase of each singular pair fixed by U's largest
    entry, and U^H U, Vh Vh^H."""
    u, s, vh = (np.asarray(o) for o in outs)
    k = s.shape[-1]
    uk, vhk = u[..., :, :k], vh[..., :k, :]
    big = np.take_along_axis(uk, np.argmax(np.abs(uk), axis=-2)[..., None, :], axis=-2)
    phase = np.where(big == 0, 1, big / np.where(big == 0, 1, np.abs(big)))
    return (s, uk * np.conj(phase), vhk * np.swapaxes(phase, -1, -2),
            np.conj(_np_mT(u)) @ u, vh @ np.conj(_np_mT(vh)))


_entry("linalg.svd", _svd_cases,
       lambda x, full_matrices=True: tuple(np.linalg.svd(x, full_matrices=full_matrices)),
       lambda c, d: (d, real_dtype(d), d), normalize=_svd_norm)
_entry("linalg.svdvals", _pinv_cases, lambda x: np.linalg.svd(x, compute_uv=False),
       lambda c, d: real_dtype(d))


# ---------------------------------------------------------------- solve, norms, products
@st.composite
def _solve_cases(draw, d, grad):
    n = draw(st.integers(1, 4))
    a = _well_conditioned(draw, d, n)
    batch = a.shape[:-2]
    if draw(st.booleans()):
        b = _any(draw, d, (n,))
    else:
        b = _any(draw, d, batch + (n, draw(st.integers(1, 3))))
    return Case((a, b), diff=(0, 1) if grad else ())


def _solve_ref(a, b):
    if b.ndim == 1:
        return np.linalg.solve(a, b[..., None])[..., 0]
    return np.linalg.solve(a, b)


_entry("linalg.solve", _solve_cases, _solve_ref, promoted,
       errors=(BadInput((arrays_fixed(_F, (3, 3)), arrays_fixed(_F, (2,))), "ShapeError",
                        "a (3, 3) system with a (2,) right-hand side"),
               *bad_dtype_inputs("float", 2, (2, 2))))


@st.composite
def _matrix_norm_cases(draw, d, grad):
    m, n = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    a = _well_conditioned(draw, d, m, n)
    ords = ["fro", "nuc", 1, -1, 2, -2, np.inf, -np.inf]
    o = draw(st.sampled_from(ords))
    if grad and o in (1, -1, np.inf, -np.inf):  # ties in row/column sums are kinks
        sums = np.sum(np.abs(a.astype(np.complex128)), axis=-2 if o in (1, -1) else -1)
        assume(np.all(np.abs(np.diff(np.sort(sums, axis=-1), axis=-1)) > 0.05))
    if grad and o in (2, -2, "nuc"):
        sv = np.linalg.svd(a.astype(np.complex128), compute_uv=False)
        assume(sv.shape[-1] < 2 or np.min(-np.diff(sv, axis=-1)) > 0.1)
    return Case((a,), {"keepdims": draw(st.booleans()), "ord": o}, diff=(0,) if grad else ())


def _matrix_norm_ref(x, keepdims=False, ord="fro"):
    return np.linalg.matrix_norm(x, keepdims=keepdims, ord=ord)


_entry("linalg.matrix_norm", _matrix_norm_cases, _matrix_norm_ref, lambda c, d: real_dtype(d),
       accumulates=lambda c: c.args[0].shape[-1] * c.args[0].shape[-2])


@st.composite
def _vector_norm_cases(draw, d, grad):
    x = draw_array(draw, d, shapes(0, 3, 1, 4), avoid=(0.0,), gap=0.1, unique=grad)
    from .ops_array import _axis_of

    o = draw(st.sampled_from([2, 1, np.inf, -np.inf, 3, 0, -1] if not grad else
                             [2, 1, np.inf, -np.inf, 3]))
    return Case((x,), {"axis": _axis_of(draw, x.ndim), "keepdims": draw(st.booleans()),
                       "ord": o}, diff=(0,) if grad else ())


def _vector_norm_ref(x, axis=None, keepdims=False, ord=2):
    return np.asarray(np.linalg.vector_norm(x, axis=axis, keepdims=keepdims, ord=ord))


_entry("linalg.vector_norm", _vector_norm_cases, _vector_norm_ref, lambda c, d: real_dtype(d),
       accumulates=lambda c: c.args[0].size)


@st.composite
def _cross_cases(draw, d, grad):
    from .cases import broadcastable_shapes

    s1, s2 = draw(broadcastable_shapes(2, 0, 2, 3))
    axis = -1
    return Case((draw_array(draw, d, s1 + (3,)), draw_array(draw, d, s2 + (3,))),
                {"axis": axis}, diff=(0, 1) if grad else ())


_entry("linalg.cross", _cross_cases, lambda a, b, axis=-1: np.cross(a, b, axis=axis), promoted)


@st.composite
def _diagonal_cases(draw, d, grad):
    x = draw_array(draw, d, shapes(2, 3, 1, 4))
    return Case((x,), {"offset": draw(st.integers(-3, 3))}, diff=(0,) if grad else ())


_entry("linalg.diagonal", _diagonal_cases,
       lambda x, offset=0: np.diagonal(x, offset=offset, axis1=-2, axis2=-1), same)


@st.composite
def _outer_cases(draw, d, grad):
    return Case((draw_array(draw, d, (draw(st.integers(1, 4)),)),
                 draw_array(draw, d, (draw(st.integers(1, 4)),))), diff=(0, 1) if grad else ())


_entry("linalg.outer", _outer_cases, np.outer, promoted,
       errors=(BadInput((arrays_fixed("int32", (2,)), arrays_fixed(_F, (3,))), "DTypeError",
                        "int32 with float32"),))


@st.composite
def _trace_cases(draw, d, grad):
    x = draw_array(draw, d, shapes(2, 3, 1, 4))
    kw = {"offset": draw(st.integers(-2, 2))}
    return Case((x,), kw, diff=(0,) if grad else ())


def _trace_out(case, d):
    return "int64" if kind(d) in "biu" else d


_entry("linalg.trace", _trace_cases,
       lambda x, offset=0, dtype=None: np.trace(x, offset=offset, axis1=-2, axis2=-1),
       _trace_out, accumulates=lambda c: min(c.args[0].shape[-2:]))

# ---------------------------------------------------------------- aliases of main-namespace ops
_entry("linalg.matmul", _matmul_cases, np.matmul, promoted, accumulates=_contracted,
       errors=_MATMUL_ERRORS)
_entry("linalg.tensordot", _tensordot_cases, lambda a, b, axes=2: np.tensordot(a, b, axes=axes),
       promoted, accumulates=_tensordot_terms)
_entry("linalg.vecdot", _vecdot_cases, _vecdot_ref, promoted,
       accumulates=lambda c: c.args[0].shape[c.kwargs["axis"]])


@st.composite
def _transpose_cases(draw, d, grad):
    return Case((draw_array(draw, d, shapes(2, 4, 1, 4)),), diff=(0,) if grad else ())


_entry("linalg.matrix_transpose", _transpose_cases, _np_mT, same, signed_zeros=True)
