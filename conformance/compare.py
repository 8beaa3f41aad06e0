"""Comparing a backend's result with the float64 reference.

Shape and dtype must be exact. For floating results, NaN and infinity positions
must be exact (checked against the reference rounded to the result dtype, so an
overflow to inf in float16 is expected), zeros that both sides produce must
carry the same sign, and finite values must agree within the tolerance table.
Nothing is ever passed through ``nan_to_num``.
"""
from __future__ import annotations

import numpy as np

from .cases import np_dtype
from .tolerances import Tol


class Mismatch(AssertionError):
    """A result differs from what was expected."""


def _fmt_positions(mask, limit=4):
    idx = np.argwhere(mask)[:limit]
    return ", ".join(str(tuple(int(i) for i in p)) for p in idx)


def check_array(actual, expected, dtype: str, tol: Tol, *, scale=None, growth=1.0,
                signed_zeros=True, what="output"):
    """Raise :class:`Mismatch` unless ``actual`` (result as NumPy) matches ``expected``.

    expected: the float64/complex128 (or exact integer/bool) reference.
    dtype: the unifw dtype name the result must have.
    scale, growth: error magnitude of accumulated terms (see :mod:`.tolerances`).
    """
    actual = np.asarray(actual)
    expected = np.asarray(expected)
    if actual.shape != expected.shape:
        raise Mismatch(f"{what}: shape {actual.shape}, expected {expected.shape}")
    nd = np_dtype(dtype)
    k = kind_of(nd)
    if actual.dtype != nd:
        raise Mismatch(f"{what}: NumPy dtype {actual.dtype}, expected {nd}")
    if k in "biu":
        exp = expected.astype(nd)
        bad = actual != exp
        if bad.any():
            raise Mismatch(f"{what}: {int(bad.sum())} of {bad.size} elements differ at "
                           f"{_fmt_positions(bad)}: got {actual[bad][:4].tolist()}, expected "
                           f"{exp[bad][:4].tolist()}")
        return
    wide = np.complex128 if k == "c" else np.float64
    a = actual.astype(wide)
    with np.errstate(over="ignore", invalid="ignore"):
        rounded = expected.astype(nd).astype(wide)
    _check_specials(a, rounded, what)
    finite = np.isfinite(rounded) & np.isfinite(a)
    r = expected.astype(wide)
    with np.errstate(all="ignore"):
        err = np.abs(a - r)
    bound = tol.atol + tol.rtol * np.abs(r)
    if scale is not None:
        bound = bound + tol.rtol * growth * np.abs(np.broadcast_to(scale, r.shape))
    with np.errstate(invalid="ignore"):
        bad = finite & ~(err <= bound)
    if bad.any():
        worst = np.unravel_index(np.argmax(np.where(bad, err - bound, -np.inf)), bad.shape)
        raise Mismatch(
            f"{what}: {int(bad.sum())} of {bad.size} elements outside tolerance "
            f"(rtol={tol.rtol:g}, atol={tol.atol:g}) at {_fmt_positions(bad)}; worst at "
            f"{tuple(int(i) for i in worst)}: got {a[worst]!r}, expected {r[worst]!r}")
    if signed_zeros and k == "f":
        both0 = (a == 0) & (rounded == 0)
        flipped = both0 & (np.signbit(a) != np.signbit(rounded))
        if flipped.any():
            raise Mismatch(f"{what}: sign of zero differs at {_fmt_positions(flipped)}: got "
                           f"{a[flipped][:4].tolist()}, expected {rounded[flipped][:4].tolist()}")


def _check_specials(a, rounded, what):
    parts = [("", a, rounded)] if a.dtype.kind != "c" else [
        (" (real part)", a.real, rounded.real), (" (imaginary part)", a.imag, rounded.imag)]
    for label, x, y in parts:
        for name, fx, fy in (("NaN", np.isnan(x), np.isnan(y)),
                             ("+inf", np.isposinf(x), np.isposinf(y)),
                             ("-inf", np.isneginf(x), np.isneginf(y))):
            diff = fx != fy
            if diff.any():
                raise Mismatch(
                    f"{what}{label}: {name} positions differ at {_fmt_positions(diff)}: got "
                    f"{x[diff][:4].tolist()}, expected {y[diff][:4].tolist()}")


def check_close_arrays(actual, expected, tol: Tol, what="output"):
    """Two results of the same dtype (e.g. eager vs compiled): shapes, specials and values
    (the sign of zero is checked against the reference, not between two results)."""
    actual, expected = np.asarray(actual), np.asarray(expected)
    if actual.shape != expected.shape or actual.dtype != expected.dtype:
        raise Mismatch(f"{what}: {actual.dtype}{list(actual.shape)} vs "
                       f"{expected.dtype}{list(expected.shape)}")
    if kind_of(actual.dtype) in "biu":
        if not np.array_equal(actual, expected):
            bad = actual != expected
            raise Mismatch(f"{what}: values differ at {_fmt_positions(bad)}")
        return
    check_array(actual, expected.astype(np.complex128 if kind_of(actual.dtype) == "c"
                                        else np.float64),
                _dtype_name(actual.dtype), tol, signed_zeros=False, what=what)


def kind_of(nd: np.dtype) -> str:
    """NumPy kind letter, with ``ml_dtypes.bfloat16`` counted as "f"."""
    return "f" if nd == np_dtype("bfloat16") else nd.kind


def _dtype_name(nd: np.dtype) -> str:
    return "bfloat16" if nd == np_dtype("bfloat16") else nd.name
