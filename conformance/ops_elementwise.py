"""Registry entries: elementwise ops (Array API), with NumPy float64 references."""
from __future__ import annotations

import numpy as np
from hypothesis import assume
from hypothesis import strategies as st

from .builders import bad_dtype_inputs, binary, boolean, group_dtypes, real_of, same, unary
from .cases import Case, draw_array, kind, np_dtype, shapes, suffix_shapes
from .registry import Entry, register

# ---------------------------------------------------------------- unary, floating
unary("acos", np.arccos, -0.95, 0.95, avoid=(-1.0, 1.0))
unary("acosh", np.arccosh, 1.05, 10.0)
unary("asin", np.arcsin, -0.95, 0.95)
unary("asinh", np.arcsinh)
unary("atan", np.arctan)
unary("atanh", np.arctanh, -0.95, 0.95)
unary("cos", np.cos, -6.0, 6.0)
unary("cosh", np.cosh)
unary("exp", np.exp, -10.0, 10.0)
unary("expm1", np.expm1)
unary("log", np.log, 0.05, 50.0)
unary("log1p", np.log1p, -0.9, 10.0)
unary("log2", np.log2, 0.05, 50.0)
unary("log10", np.log10, 0.05, 50.0)
unary("sin", np.sin, -6.0, 6.0)
unary("sinh", np.sinh)
unary("sqrt", np.sqrt, 0.01, 50.0)
unary("tan", np.tan, -1.4, 1.4)
unary("tanh", np.tanh)

# ---------------------------------------------------------------- unary, numeric
_INTEGERS = tuple(np.arange(-5.0, 6.0))
unary("ceil", np.ceil, avoid=_INTEGERS)
unary("floor", np.floor, avoid=_INTEGERS)
unary("trunc", np.trunc, avoid=_INTEGERS)


@st.composite
def _round_cases(draw, d, grad):
    shape = draw(shapes(0, 3, 1, 4))
    if kind(d) != "f" or grad:
        x = draw_array(draw, d, shape, -5, 5, avoid=tuple(np.arange(-5.5, 6.0)) if grad else ())
    else:  # exact halves: the Array API rounds them to even
        x = (draw_array(draw, "int64", shape, -10, 10) / 2.0).astype(np_dtype(d))
    return Case((x,), diff=(0,) if grad else ())


register(Entry("round", _round_cases, np.round,
               tuple(d for d in group_dtypes("numeric") if kind(d) != "c"), same, grad=1,
               errors=tuple(bad_dtype_inputs("numeric"))))
unary("abs", np.abs, avoid=(0.0,), out=real_of)
unary("negative", np.negative)
unary("positive", np.positive)
unary("square", np.square)
unary("sign", np.sign, avoid=(0.0,))
unary("signbit", np.signbit, out=boolean)
unary("isfinite", np.isfinite, out=boolean)
unary("isinf", np.isinf, out=boolean)
unary("isnan", np.isnan, out=boolean)
unary("conj", np.conj)
unary("real", np.real, out=real_of)
unary("imag", np.imag, out=real_of)
unary("logical_not", np.logical_not, out=boolean)
unary("bitwise_invert", np.invert, -100, 100)

# ---------------------------------------------------------------- binary arithmetic


def _nonzero_divisor(x1, x2):
    return bool(np.all(np.asarray(x2) != 0))


def _exact_or_clear_quotient(x1, x2):
    """Floating floor division only where the quotient is clearly off an integer (or exactly
    one): implementations legitimately differ in the last bit right below an integer."""
    x1, x2 = np.asarray(x1, np.float64), np.asarray(x2, np.float64)
    if not np.all(np.abs(x2) >= 0.1):
        return False
    q = x1 / x2
    return bool(np.all((q == np.round(q)) | (np.abs(q - np.round(q)) > 1e-3)))


def _apart(gap):
    return lambda x1, x2: bool(np.all(np.abs(x1 - x2) > gap))


def _both_away_from_zero(x1, x2):
    return bool(np.all(np.abs(x1) > 0.05) and np.all(np.abs(x2) > 0.05))


def _wide(x):
    """``x`` in float64 or complex128 (never dropping an imaginary part)."""
    x = np.asarray(x)
    return x.astype(np.complex128 if np.iscomplexobj(x) else np.float64)


binary("add", np.add)
binary("subtract", np.subtract)
binary("multiply", np.multiply)
binary("divide", np.divide,
       valid=lambda x1, x2: bool(np.all((np.abs(_wide(x2)) >= 0.01) | (np.asarray(x2) == 0)
                                        | ~np.isfinite(_wide(x2)))),
       grad_valid=lambda x1, x2: bool(np.all(np.abs(x2) > 0.1)))
binary("pow", np.power, 0.1, 5.0, lo2=-3.0, hi2=3.0, int_ranges=((-3, 3), (0, 3)))
binary("maximum", np.maximum, integral=True, grad_valid=_apart(0.05))
binary("minimum", np.minimum, integral=True, grad_valid=_apart(0.05))
binary("atan2", np.arctan2, grad_valid=lambda x1, x2: bool(np.all(np.hypot(x1, x2) > 0.1)))
binary("hypot", np.hypot, grad_valid=lambda x1, x2: bool(np.all(np.hypot(x1, x2) > 0.1)))
binary("logaddexp", np.logaddexp)
binary("copysign", np.copysign, grad_valid=_both_away_from_zero)
binary("remainder", np.remainder, integral=True, scalars=True,
       valid=lambda x1, x2: _nonzero_divisor(x1, x2) if np.asarray(x2).dtype.kind in "iub"
       else _exact_or_clear_quotient(x1, x2),
       grad_valid=lambda x1, x2: bool(np.all(np.abs(x1 / x2 - np.round(x1 / x2)) > 0.05)))
binary("floor_divide", np.floor_divide, integral=True,
       valid=lambda x1, x2: _nonzero_divisor(x1, x2) if np.asarray(x2).dtype.kind in "iub"
       else _exact_or_clear_quotient(x1, x2),
       grad_valid=lambda x1, x2: bool(np.all(np.abs(x1 / x2 - np.round(x1 / x2)) > 0.05)))

# ---------------------------------------------------------------- comparisons and logic
for _name, _ref in [("equal", np.equal), ("not_equal", np.not_equal), ("less", np.less),
                    ("less_equal", np.less_equal), ("greater", np.greater),
                    ("greater_equal", np.greater_equal)]:
    binary(_name, _ref, -3.0, 3.0, integral=True, out=boolean)
for _name, _ref in [("logical_and", np.logical_and), ("logical_or", np.logical_or),
                    ("logical_xor", np.logical_xor)]:
    binary(_name, _ref, out=boolean)
for _name, _ref in [("bitwise_and", np.bitwise_and), ("bitwise_or", np.bitwise_or),
                    ("bitwise_xor", np.bitwise_xor)]:
    binary(_name, _ref, -100, 100)
binary("bitwise_left_shift", np.left_shift, -8, 8, lo2=0, hi2=3, int_ranges=((-8, 8), (0, 3)))
binary("bitwise_right_shift", np.right_shift, -100, 100, lo2=0, hi2=6,
       int_ranges=((-100, 100), (0, 6)))


# ---------------------------------------------------------------- clip
@st.composite
def _clip_cases(draw, d, grad):
    shape = draw(shapes(0, 3, 1, 4))
    x = draw_array(draw, d, shape, -5, 5, specials=not grad)
    lo = draw_array(draw, d, draw(suffix_shapes(shape)), -4, 0)
    hi = draw_array(draw, d, draw(suffix_shapes(shape)), 0, 4)
    if grad:
        xb, lb, hb = np.broadcast_arrays(x.astype(np.float64), lo.astype(np.float64),
                                         hi.astype(np.float64))
        assume(np.all(np.abs(xb - lb) > 0.05) and np.all(np.abs(xb - hb) > 0.05))
        return Case((x,), {"min": lo, "max": hi}, diff=(0,))
    form = draw(st.sampled_from(["arrays", "scalars", "min only", "max only", "none"]))
    if form == "scalars":
        py = int if kind(d) in "iu" else float
        return Case((x,), {"min": py(-2), "max": py(3)}, note="Python scalar bounds")
    if form == "min only":
        return Case((x,), {"min": lo})
    if form == "max only":
        return Case((x,), {"max": hi})
    if form == "none":
        return Case((x,), {})
    return Case((x,), {"min": lo, "max": hi})


def _clip_ref(x, min=None, max=None):
    out = x
    if min is not None:
        out = np.where(np.isnan(out), out, np.maximum(out, min))
    if max is not None:
        out = np.where(np.isnan(out), out, np.minimum(out, max))
    return np.broadcast_to(out, x.shape)


def _clip_out(case, d):
    return d


register(Entry("clip", _clip_cases, _clip_ref, group_dtypes("real"), _clip_out, grad=1,
               errors=tuple(bad_dtype_inputs("real"))))
