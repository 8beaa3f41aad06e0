"""Helpers that build registry entries for families of ops (unary, binary, reductions...)."""
from __future__ import annotations

import numpy as np
from hypothesis import assume
from hypothesis import strategies as st

from .cases import (Case, broadcastable_shapes, draw_array, dtypes_of_group, kind, np_dtype,
                    real_dtype, shapes)
from .registry import BadInput, Entry, Foreign, OtherDevice, register


def dtype_name(nd) -> str:
    nd = np.dtype(nd)
    return "bfloat16" if nd == np_dtype("bfloat16") else nd.name


# ---------------------------------------------------------------- expected result dtypes
def same(case, d):
    return d


def promoted(case, d):
    """Array API promotion of the array arguments (NumPy 2 agrees within one kind)."""
    arrs = [a for a in _flat(case.args) if isinstance(a, np.ndarray)]
    return dtype_name(np.result_type(*arrs)) if arrs else d


def boolean(case, d):
    return "bool"


def int64(case, d):
    return "int64"


def real_of(case, d):
    return real_dtype(d)


def _flat(obj):
    for v in obj:
        if isinstance(v, (list, tuple)):
            yield from _flat(v)
        else:
            yield v


# ---------------------------------------------------------------- dtype choices
def group_dtypes(group: str) -> tuple:
    from unifw._opspec import DTYPE_GROUPS

    return dtypes_of_group(DTYPE_GROUPS[group])


# the partner each dtype is promoted with in mixed-dtype cases (same kind)
PARTNER = {"float32": "float64", "float64": "float32", "float16": "float32",
           "complex64": "complex128", "complex128": "complex64", "int32": "int64",
           "int64": "int8", "int8": "uint8", "uint8": "int16", "int16": "int8"}


def scalar_of(d: str, value: float):
    """A Python scalar of ``d``'s kind (weak in Array API promotion)."""
    k = kind(d)
    if k == "b":
        return bool(value > 0)
    if k in "iu":
        return int(round(value))
    if k == "c":
        return complex(value, 0.5)
    return float(value)


# ---------------------------------------------------------------- bad inputs
def bad_dtype_inputs(group: str, arity: int = 1, shape=(2, 3)) -> list[BadInput]:
    """One input per dtype kind the op refuses: each must raise DTypeError."""
    ok = set(group_dtypes(group))
    out = []
    for d in ("bool", "int32", "float32", "complex64"):
        if d not in ok:
            a = arrays_fixed(d, shape)
            out.append(BadInput(tuple(a for _ in range(arity)), "DTypeError", f"{d} input"))
    return out


def arrays_fixed(d: str, shape, start=1):
    n = int(np.prod(shape))
    v = (np.arange(n) % 3 + start).reshape(shape)
    return v.astype(np_dtype(d)) if d != "bool" else (v % 2 == 0)


def binary_bad_inputs(group: str, ok_dtype: str) -> list[BadInput]:
    x = arrays_fixed(ok_dtype, (2, 3))
    out = [BadInput((x, arrays_fixed(ok_dtype, (4,))), "ShapeError", "shapes (2, 3) and (4,)"),
           BadInput((x, Foreign(arrays_fixed(ok_dtype, (2, 3)))), "BackendMismatchError",
                    "second operand from another backend"),
           BadInput((x, OtherDevice(arrays_fixed(ok_dtype, (2, 3)))), "DeviceMismatchError",
                    "operands on two devices")]
    letters = {kind(d) for d in group_dtypes(group)}
    if {"i", "f"} <= letters:
        out.append(BadInput((arrays_fixed("int32", (2, 3)), arrays_fixed("float32", (2, 3))),
                            "DTypeError", "int32 with float32 (no implicit cross-kind cast)"))
    return out + bad_dtype_inputs(group, 2)


def default_bad_inputs(spec) -> tuple:
    """Dtype (and for two-operand ops shape and backend-mix) errors when the op takes only
    tensors (no other required argument); other ops register their own."""
    import inspect

    from unifw._dispatch import _params

    required = [p for p in _params(spec.sig) if p.default is inspect.Parameter.empty
                and p.kind is not p.VAR_POSITIONAL]
    tensors = [t.rstrip("*?") for t in spec.tensors if not t.endswith("?")]
    if [p.name for p in required] != tensors or any(t.endswith("*") for t in spec.tensors):
        return ()
    if len(tensors) == 1:
        return tuple(bad_dtype_inputs(spec.dtypes))
    if len(tensors) == 2:
        ok = next(d for d in ("float32", "int32", "bool", "complex64")
                  if d in group_dtypes(spec.dtypes))
        return tuple(binary_bad_inputs(spec.dtypes, ok))
    return ()


# ---------------------------------------------------------------- unary
def draw_complex(draw, d, shape):
    """Complex values away from every branch cut of the elementwise functions (which lie
    on the real or imaginary axis outside [-1, 1])."""
    rd = real_dtype(d)
    re = draw_array(draw, rd, shape, -2.0, 2.0).astype(np.float64)
    im = draw_array(draw, rd, shape, -0.9, 0.9, avoid=(0.0,), gap=0.1).astype(np.float64)
    return np.asarray((re + 1j * im).astype(np_dtype(d)))


def unary(name, ref, lo=-5.0, hi=5.0, *, group=None, avoid=(), out=same, specials=True,
          integral=False, unique_grad=False, **kw):
    """An elementwise one-argument op."""
    from unifw._opspec import OPS

    spec = OPS[name]
    group = group or spec.dtypes

    @st.composite
    def cases(draw, d, grad):
        shape = draw(shapes(0, 3, 1, 4))
        if kind(d) == "c":
            x = draw_complex(draw, d, shape)
        else:
            x = draw_array(draw, d, shape, lo, hi, avoid=avoid if grad else (),
                            specials=specials and not grad,
                            integral=integral and not grad, unique=unique_grad and grad)
        return Case((x,), diff=(0,) if grad else ())

    kw.setdefault("errors", tuple(bad_dtype_inputs(group)))
    return register(Entry(name, cases, ref, group_dtypes(group), out, grad=spec.diff, **kw))


# ---------------------------------------------------------------- binary
def binary(name, ref, lo=-5.0, hi=5.0, *, group=None, out=promoted, lo2=None, hi2=None,
           valid=None, grad_valid=None, integral=False, scalars=True, mixed=True,
           int_ranges=None, **kw):
    """An elementwise two-argument op with broadcasting, weak scalars and mixed dtypes.

    valid(x1, x2): inputs the op is defined on (e.g. a non-zero integer divisor).
    grad_valid(x1, x2): additionally away from kinks and poles for gradient checks.
    int_ranges: ((lo1, hi1), (lo2, hi2)) for integer dtypes when not the float ranges.
    """
    from unifw._opspec import OPS

    spec = OPS[name]
    group = group or spec.dtypes
    ranges = ((lo, hi), (lo if lo2 is None else lo2, hi if hi2 is None else hi2))

    @st.composite
    def cases(draw, d, grad):
        s1, s2 = draw(broadcastable_shapes(2))
        d2 = d
        if mixed and not grad and d in PARTNER and PARTNER[d] in group_dtypes(group) \
                and draw(st.integers(0, 4)) == 0:
            d2 = PARTNER[d]
        (a1, b1), (a2, b2) = int_ranges if int_ranges and kind(d) in "iu" else ranges
        tie = integral and not grad
        if kind(d) == "c":
            x1 = draw_complex(draw, d, s1)
            x2 = draw_complex(draw, d2, s2)
        else:
            x1 = draw_array(draw, d, s1, a1, b1, integral=tie, specials=not grad and not integral)
            x2 = draw_array(draw, d2, s2, a2, b2, integral=tie, specials=not grad and not integral)
        if valid is not None:
            assume(valid(x1, x2))
        if grad and grad_valid is not None:
            assume(grad_valid(np.asarray(x1, np.float64), np.asarray(x2, np.float64)))
        if scalars and not grad and draw(st.integers(0, 5)) == 0:
            # a weak Python scalar on one side: the tensor's dtype wins
            if draw(st.booleans()):
                v = scalar_of(d, draw(st.floats(a2, b2)))
                assume(valid is None or valid(x1, np.asarray(v)))
                return Case((x1, v), note="Python scalar operand")
            v = scalar_of(d, draw(st.floats(a1, b1)))
            assume(valid is None or valid(np.asarray(v), x2.astype(x1.dtype)))
            return Case((v, x2.astype(x1.dtype)), note="Python scalar operand")
        return Case((x1, x2), diff=(0, 1) if grad else ())

    ok = next(d for d in ("float32", "int32", "bool", "complex64") if d in group_dtypes(group))
    kw.setdefault("errors", tuple(binary_bad_inputs(group, ok)))
    return register(Entry(name, cases, ref, group_dtypes(group), out, grad=spec.diff, **kw))
