"""Test inputs: the :class:`Case` an op is called with, and hypothesis strategies for arrays.

A case holds NumPy arrays and Python values. The runner turns every NumPy array
into a unifw tensor on the backend and device under test (lists and tuples are
searched), so the same case feeds every backend and the float64 reference.
"""
from __future__ import annotations

import contextvars
from dataclasses import dataclass, field

import ml_dtypes
import numpy as np
from hypothesis import assume
from hypothesis import strategies as st

FLOATS = ("float16", "bfloat16", "float32", "float64")
COMPLEX = ("complex64", "complex128")
SIGNED = ("int8", "int16", "int32", "int64")
INTEGERS = (*SIGNED, "uint8")
ALL_DTYPES = ("bool", *INTEGERS, *FLOATS, *COMPLEX)

# DTypeGroup letters of unifw._opspec.DTYPE_GROUPS -> dtype names
_KIND = {"b": ("bool",), "i": SIGNED, "u": ("uint8",), "f": FLOATS, "c": COMPLEX}


def dtypes_of_group(letters: str) -> tuple[str, ...]:
    """Dtype names whose kind letter is in ``letters`` ("biufc")."""
    return tuple(d for k in letters for d in _KIND[k])


def np_dtype(name: str) -> np.dtype:
    """NumPy dtype for a unifw dtype name (``ml_dtypes.bfloat16`` for bfloat16)."""
    return np.dtype(ml_dtypes.bfloat16) if name == "bfloat16" else np.dtype(name)


def kind(name: str) -> str:
    for k, names in _KIND.items():
        if name in names:
            return k
    raise KeyError(name)


def real_dtype(name: str) -> str:
    """Real counterpart of a complex dtype (others unchanged)."""
    return {"complex64": "float32", "complex128": "float64"}.get(name, name)


def complex_dtype(name: str) -> str:
    """Complex counterpart of a real float dtype (float64 -> complex128, others complex64)."""
    return "complex128" if name in ("float64", "complex128") else "complex64"


@dataclass
class Case:
    """One call of an op: positional and keyword arguments (NumPy arrays become tensors).

    ``diff`` lists the positional arguments to differentiate; ``note`` says what the case
    exercises (shown in failure reports).
    """

    args: tuple
    kwargs: dict = field(default_factory=dict)
    diff: tuple = ()
    note: str = ""

    def __repr__(self):
        parts = [_show(a) for a in self.args]
        parts += [f"{k}={_show(v)}" for k, v in self.kwargs.items()]
        extra = f"  # {self.note}" if self.note else ""
        return f"({', '.join(parts)}){extra}"


def _show(v) -> str:
    if isinstance(v, np.ndarray):
        body = np.array2string(v, separator=", ", threshold=64, max_line_width=200,
                               precision=17 if v.dtype == np.float64 else 9)
        return f"array({body}, dtype={v.dtype})"
    if isinstance(v, list):
        return "[" + ", ".join(_show(x) for x in v) + "]"
    if isinstance(v, tuple):
        return "(" + ", ".join(_show(x) for x in v) + ("," if len(v) == 1 else "") + ")"
    return repr(v)


# ---------------------------------------------------------------- shapes
# Sides that shapes are drawn from, when a profile limits them (None: any in range). Fewer
# distinct shapes means fewer kernels to compile for frameworks that compile per shape
# even in eager mode (JAX), at the price of less variety.
SIDES: contextvars.ContextVar = contextvars.ContextVar("unifw_conformance_sides", default=None)


@st.composite
def shapes(draw, min_dims=0, max_dims=3, min_side=1, max_side=4):
    pool = SIDES.get()
    sides = [n for n in (pool or ()) if min_side <= n <= max_side]
    side = st.sampled_from(sides) if sides else st.integers(min_side, max_side)
    return tuple(draw(st.lists(side, min_size=min_dims, max_size=max_dims)))


@st.composite
def broadcastable_shapes(draw, n=2, min_dims=0, max_dims=3, max_side=4):
    """``n`` shapes that broadcast together: suffixes of one shape with some sides 1."""
    base = draw(shapes(min_dims, max_dims, 1, max_side))
    return tuple(draw(suffix_shapes(base)) for _ in range(n))


@st.composite
def suffix_shapes(draw, shape):
    """A shape that broadcasts to ``shape`` (a suffix of it, some sides set to 1)."""
    k = draw(st.integers(0, len(shape)))
    tail = shape[len(shape) - k:]
    return tuple(draw(st.sampled_from([1, n])) for n in tail)


# ---------------------------------------------------------------- values
SPECIALS = (np.nan, np.inf, -np.inf, 0.0, -0.0)


_SEED = st.integers(0, 2**32 - 1)
_ONE_IN_THREE = st.integers(0, 2)


def arrays(dtype: str, shape, lo=-5.0, hi=5.0, **kw):
    """Strategy form of :func:`draw_array`."""
    return st.composite(lambda draw: draw_array(draw, dtype, shape, lo, hi, **kw))()


def draw_array(draw, dtype: str, shape, lo=-5.0, hi=5.0, *, avoid=(), gap=0.05,
               unique=False, specials=False, integral=False):
    """An array of unifw dtype ``dtype`` with values in ``[lo, hi]``.

    Values come from a NumPy generator whose seed hypothesis draws (and shrinks towards 0):
    drawing element by element costs far more than running an op, and the matrix runs
    thousands of examples. Shapes shrink as usual.

    avoid: points (kinks, poles) kept at least ``gap`` away (used for gradient checks).
    unique: all values distinct after rounding to ``dtype`` (ties break gradients of max/sort).
    specials: sometimes plant NaN, +-inf and +-0.0 (floating dtypes only).
    integral: float values that are small integers (to create exact ties).
    """
    shape = draw(shape) if isinstance(shape, st.SearchStrategy) else tuple(shape)
    rng = np.random.default_rng(draw(_SEED))
    k = kind(dtype)
    nd = np_dtype(dtype)
    if k == "b":
        return rng.random(shape) < 0.5
    if k in "iu":
        info = np.iinfo(nd)
        a, b = max(int(lo), int(info.min)), min(int(hi), int(info.max))
        n = int(np.prod(shape))
        if unique:
            assume(b - a + 1 >= n)
            return rng.permutation(np.arange(a, b + 1))[:n].reshape(shape).astype(nd)
        return rng.integers(a, b, size=shape, endpoint=True).astype(nd)
    if integral:
        vals = rng.integers(int(lo), int(hi), size=shape, endpoint=True).astype(np.float64)
    else:
        vals = rng.uniform(lo, hi, size=shape)
    vals = _push_away(vals, avoid, gap)
    if k == "c":
        imag = _push_away(rng.uniform(lo, hi, size=shape), avoid, gap)
        out = np.asarray(vals + 1j * imag).astype(nd)
    else:
        out = np.asarray(vals).astype(nd)
    if unique and out.size:
        assume(np.unique(out.astype(np.float64) if k == "f" else out).size == out.size)
    if specials and k == "f" and out.size and draw(_ONE_IN_THREE) == 0:
        flat = out.reshape(-1).copy()
        for i in rng.choice(flat.size, size=min(flat.size, 3), replace=False):
            flat[i] = nd.type(SPECIALS[rng.integers(len(SPECIALS))])
        out = flat.reshape(out.shape)
    return np.asarray(out)


def _push_away(vals, points, gap):
    for p in points:
        near = np.abs(vals - p) < gap
        vals = np.where(near, p + np.where(vals >= p, gap, -gap), vals)
    return vals


def to_float64(a):
    """Upcast a NumPy array for the reference: floats to float64, complex to complex128."""
    a = np.asarray(a)
    if a.dtype.kind == "c":
        return a.astype(np.complex128)
    if a.dtype.kind == "f" or a.dtype == np_dtype("bfloat16"):
        return a.astype(np.float64)
    return a


def map_arrays(fn, obj):
    """Apply ``fn`` to every NumPy array inside nested lists/tuples/dicts."""
    if isinstance(obj, np.ndarray):
        return fn(obj)
    if isinstance(obj, list):
        return [map_arrays(fn, v) for v in obj]
    if isinstance(obj, tuple):
        return tuple(map_arrays(fn, v) for v in obj)
    if isinstance(obj, dict):
        return {k: map_arrays(fn, v) for k, v in obj.items()}
    return obj
