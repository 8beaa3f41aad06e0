"""Registry entries: creation, manipulation, statistics, searching, sorting, sets, indexing."""
from __future__ import annotations

import numpy as np
from hypothesis import assume
from hypothesis import strategies as st

from unifw._dtypes import as_dtype

from .builders import (PARTNER, arrays_fixed, bad_dtype_inputs, boolean, default_bad_inputs,
                       dtype_name, group_dtypes, int64, promoted, same)
from .cases import Case, draw_array, kind, np_dtype, real_dtype, shapes
from .registry import BadInput, Entry, Expect, Foreign, register

_F = "float32"


def _entry(name, cases, ref, out, *, group=None, **kw):
    from unifw._opspec import OPS

    spec = OPS[name]
    kw.setdefault("grad", spec.diff)
    kw.setdefault("errors", default_bad_inputs(spec))
    return register(Entry(name, cases, ref, group_dtypes(group or spec.dtypes), out, **kw))


def _ndarrays(case):
    return [a for a in case.args if isinstance(a, np.ndarray)]


def _axis_of(draw, ndim, allow_none=True, allow_tuple=True):
    choices = (["none"] if allow_none else []) + (["int"] if ndim else []) + (
        ["tuple"] if allow_tuple and ndim > 1 else [])
    if not choices:
        return None
    c = draw(st.sampled_from(choices))
    if c == "none":
        return None
    if c == "int":
        return draw(st.integers(-ndim, ndim - 1))
    axes = draw(st.lists(st.integers(0, ndim - 1), min_size=1, max_size=ndim, unique=True))
    return tuple(a - ndim if draw(st.booleans()) else a for a in axes)


def _reduced_size(shape, axis):
    if axis is None:
        return int(np.prod(shape))
    axes = axis if isinstance(axis, tuple) else (axis,)
    return int(np.prod([shape[a] for a in axes]))


# ---------------------------------------------------------------- creation
def _creation(name, cases, ref, out, **kw):
    return _entry(name, cases, ref, out, creation=True, grad=0, **kw)


def _dtype_kw(draw, d, allow_none=True):
    if allow_none and draw(st.integers(0, 3)) == 0:
        return None
    return as_dtype(d)


def _created(default_by_kind):
    def out(case, d):
        dt = case.kwargs.get("dtype")
        return str(dt) if dt is not None else default_by_kind(case, d)
    return out


def _default_for_values(*vals):
    if all(isinstance(v, bool) for v in vals):
        return "bool"
    if all(isinstance(v, (bool, int)) for v in vals):
        return "int64"
    return "float32"


_CREATE_DTYPES = ("bool", "int8", "int16", "int32", "int64", "uint8", "float16", "bfloat16",
                  "float32", "float64", "complex64", "complex128")


@st.composite
def _arange_cases(draw, d, grad):
    if kind(d) in "iu":
        start = draw(st.integers(0, 5))
        step = draw(st.sampled_from([1, 2, 3, -1, -2]))
        stop = start + step * draw(st.integers(0, 6))
        if kind(d) == "u" and stop < 0:
            stop = 0
        args = (start, stop, step)
    else:  # exact binary fractions with the stop half a step past a point: no length ambiguity
        start = draw(st.integers(-8, 8)) / 4
        step = draw(st.sampled_from([0.25, 0.5, 1.0, -0.5]))
        stop = start + step * (draw(st.integers(0, 6)) + 0.5)
        args = (start, stop, step)
    form = draw(st.sampled_from(["start, stop, step", "stop only"]))
    if form == "stop only":
        args = (abs(args[1]) if kind(d) in "iu" else abs(args[1]),)
    return Case(args, {"dtype": _dtype_kw(draw, d)})


def _arange_ref(start, stop=None, step=1, *, dtype=None):
    return np.arange(start, stop, step, dtype=np.float64 if not isinstance(start, int) or
                     not isinstance(step, int) or (stop is not None and not isinstance(stop, int))
                     else np.int64)


_creation("arange", _arange_cases, _arange_ref,
          _created(lambda c, d: _default_for_values(*c.args)),
          group="real")


@st.composite
def _fill_cases(draw, d, grad):
    shape = draw(shapes(0, 3, 0, 4))
    if draw(st.booleans()) and len(shape) == 1:
        shape = shape[0]
    return Case((shape,), {"dtype": _dtype_kw(draw, d)})


def _created_default_float(case, d):
    return "float32"


def _zeros_ref(shape, dtype=None):
    return np.zeros(shape)


def _ones_ref(shape, dtype=None):
    return np.ones(shape)


_creation("zeros", _fill_cases, _zeros_ref, _created(_created_default_float))
_creation("ones", _fill_cases, _ones_ref, _created(_created_default_float))
_creation("empty", _fill_cases, _zeros_ref, _created(_created_default_float),
          normalize=lambda xp, outs, case: tuple(xp.zeros_like(o) for o in outs))


@st.composite
def _full_cases(draw, d, grad):
    shape = draw(shapes(0, 3, 0, 4))
    k = kind(d)
    v = {"b": True, "i": -3, "u": 7, "f": 2.5, "c": complex(1.5, -2.0)}[k]
    dt = _dtype_kw(draw, d, allow_none=k != "c")
    return Case((shape, v), {"dtype": dt})


_creation("full", _full_cases, lambda shape, v, dtype=None: np.full(shape, v),
          _created(lambda c, d: _default_for_values(c.args[1])))


@st.composite
def _eye_cases(draw, d, grad):
    n = draw(st.integers(0, 5))
    m = draw(st.one_of(st.none(), st.integers(0, 5)))
    return Case((n, m), {"k": draw(st.integers(-3, 3)), "dtype": _dtype_kw(draw, d)})


_creation("eye", _eye_cases, lambda n, m=None, *, k=0, dtype=None: np.eye(n, m, k=k),
          _created(_created_default_float))


@st.composite
def _linspace_cases(draw, d, grad):
    start = draw(st.integers(-8, 8)) / 2
    stop = draw(st.integers(-8, 8)) / 2
    return Case((start, stop), {"num": draw(st.integers(0, 7)),
                                "endpoint": draw(st.booleans()),
                                "dtype": _dtype_kw(draw, d)})


_creation("linspace", _linspace_cases,
          lambda a, b, *, num, endpoint=True, dtype=None: np.linspace(a, b, num,
                                                                      endpoint=endpoint),
          _created(_created_default_float), group="float")


@st.composite
def _like_cases(draw, d, grad, fill=False):
    x = draw_array(draw, d, shapes(0, 3, 0, 4))
    kw = {}
    if draw(st.booleans()):
        kw["dtype"] = as_dtype(draw(st.sampled_from(
            [t for t in _CREATE_DTYPES if kind(t) != "c" or kind(d) == "c"])))
    args = (x,)
    if fill:
        target = str(kw.get("dtype", d))
        args = (x, {"b": False, "i": 3, "u": 3, "f": -1.5, "c": complex(0.5, 1.0)}[kind(target)])
    return Case(args, kw)


def _like_out(case, d):
    return str(case.kwargs["dtype"]) if "dtype" in case.kwargs else d


_creation("zeros_like", _like_cases, lambda x, dtype=None: np.zeros(x.shape), _like_out,
          group="any")
_creation("ones_like", _like_cases, lambda x, dtype=None: np.ones(x.shape), _like_out,
          group="any")
_creation("empty_like", _like_cases, lambda x, dtype=None: np.zeros(x.shape), _like_out,
          group="any", normalize=lambda xp, outs, case: tuple(xp.zeros_like(o) for o in outs))
_creation("full_like", st.composite(lambda draw, d, grad: draw(_like_cases(d, grad, True))),
          lambda x, v, dtype=None: np.full(x.shape, v), _like_out, group="any")


# ---------------------------------------------------------------- tril / triu / meshgrid
@st.composite
def _tri_cases(draw, d, grad):
    x = draw_array(draw, d, shapes(2, 3, 1, 4))
    return Case((x,), {"k": draw(st.integers(-3, 3))}, diff=(0,) if grad else ())


_entry("tril", _tri_cases, lambda x, k=0: np.tril(x, k), same, group="any",
       errors=(BadInput((arrays_fixed(_F, (3,)),), "ShapeError", "a 1-d input"),))
_entry("triu", _tri_cases, lambda x, k=0: np.triu(x, k), same, group="any")


@st.composite
def _meshgrid_cases(draw, d, grad):
    n = draw(st.integers(1, 3))
    xs = [draw_array(draw, d, (draw(st.integers(1, 4)),)) for _ in range(n)]
    return Case(tuple(xs), {"indexing": draw(st.sampled_from(["xy", "ij"]))},
                diff=tuple(range(n)) if grad else ())


_entry("meshgrid", _meshgrid_cases,
       lambda *xs, indexing="xy": tuple(np.meshgrid(*xs, indexing=indexing)),
       lambda c, d: (d,) * len(c.args), group="any")


# ---------------------------------------------------------------- astype
@st.composite
def _astype_cases(draw, d, grad):
    targets = [t for t in _CREATE_DTYPES if not (kind(d) == "c" and kind(t) != "c")]
    if grad:  # a cast to half precision rounds the derivative too
        targets = ["float32", "float64"]
    t = draw(st.sampled_from(targets))
    lo = 0 if kind(t) == "u" or kind(d) == "u" else -5
    x = draw_array(draw, d, shapes(0, 3, 1, 4), lo, 5)
    return Case((x, as_dtype(t)), {"copy": draw(st.booleans())}, diff=(0,) if grad else ())


def _astype_ref(x, t, copy=True):
    nd = np_dtype(str(t))
    if nd.kind in "iu" and x.dtype.kind in "fc":
        return np.trunc(x.real).astype(nd)
    if nd.kind == "b":
        return x != 0
    if nd.kind != "c" and x.dtype.kind == "c":
        return x.real
    return x


_entry("astype", _astype_cases, _astype_ref, lambda c, d: str(c.args[1]), group="any",
       signed_zeros=False)


# ---------------------------------------------------------------- shape manipulation
def _one_array(shape_st, extra):
    """Cases of ``op(x, **extra(draw, x))`` with x drawn from ``shape_st``."""
    @st.composite
    def cases(draw, d, grad):
        x = draw_array(draw, d, shape_st)
        args, kw = extra(draw, x)
        return Case((x, *args), kw, diff=(0,) if grad else ())
    return cases


def _broadcast_to_extra(draw, x):
    lead = tuple(draw(st.lists(st.integers(1, 3), max_size=2)))
    tail = tuple(n if n != 1 else draw(st.integers(1, 3)) for n in x.shape)
    return (), {"shape": lead + tail}


_entry("broadcast_to", _one_array(shapes(0, 2, 1, 3), _broadcast_to_extra),
       lambda x, shape: np.broadcast_to(x, shape), same, group="any",
       errors=(BadInput((arrays_fixed(_F, (2, 3)),), "ShapeError", "shape (4, 3) from (2, 3)",
                        {"shape": (4, 3)}),))


@st.composite
def _broadcast_arrays_cases(draw, d, grad):
    from .cases import broadcastable_shapes

    ss = draw(broadcastable_shapes(draw(st.integers(1, 3))))
    xs = tuple(draw_array(draw, d, s) for s in ss)
    return Case(xs, diff=tuple(range(len(xs))) if grad else ())


_entry("broadcast_arrays", _broadcast_arrays_cases,
       lambda *xs: tuple(np.broadcast_arrays(*xs)), lambda c, d: (d,) * len(c.args),
       group="any",
       errors=(BadInput((arrays_fixed(_F, (2, 3)), arrays_fixed(_F, (4,))), "ShapeError",
                        "shapes (2, 3) and (4,)"),))


@st.composite
def _concat_cases(draw, d, grad, stack=False):
    base = list(draw(shapes(0 if stack else 1, 3, 1, 3)))
    n = draw(st.integers(1, 3))
    nd = len(base)
    axis = draw(st.integers(-(nd + 1), nd)) if stack else draw(
        st.one_of(st.integers(-nd, nd - 1), st.none()))
    xs = []
    for _ in range(n):
        s = list(base)
        if not stack and axis is not None:
            s[axis] = draw(st.integers(1, 3))
        dt = d
        if not grad and d in PARTNER and PARTNER[d] in group_dtypes("any") and draw(
                st.integers(0, 4)) == 0:
            dt = PARTNER[d]
        xs.append(draw_array(draw, dt, tuple(s)))
    return Case((xs,), {"axis": axis}, diff=tuple((0, j) for j in range(n)) if grad else ())


def _concat_ref(xs, axis=0):
    if axis is None:
        return np.concatenate([x.reshape(-1) for x in xs])
    return np.concatenate(xs, axis=axis)


def _list_promoted(case, d):
    return dtype_name(np.result_type(*case.args[0]))


_LIST_ERRORS = (BadInput(([arrays_fixed(_F, (2, 3)), arrays_fixed(_F, (2, 2, 1))],),
                         "ShapeError", "inputs of different ranks"),
                BadInput(([arrays_fixed(_F, (2, 3)), Foreign(arrays_fixed(_F, (2, 3)))],),
                         "BackendMismatchError", "second input from another backend"),
                BadInput(([arrays_fixed("int32", (2, 3)), arrays_fixed(_F, (2, 3))],),
                         "DTypeError", "int32 with float32"))
_entry("concat", _concat_cases, _concat_ref, _list_promoted, group="any", errors=_LIST_ERRORS,
       call=lambda fn, xs, **kw: fn(list(xs), **kw))
_entry("stack", st.composite(lambda draw, d, grad: draw(_concat_cases(d, grad, stack=True))),
       lambda xs, axis=0: np.stack(xs, axis=axis), _list_promoted, group="any",
       errors=_LIST_ERRORS, call=lambda fn, xs, **kw: fn(list(xs), **kw))


def _axis_extra(allow_none=False, include_end=False):
    def extra(draw, x):
        nd = x.ndim + (1 if include_end else 0)
        if nd == 0:
            return (), ({"axis": None} if allow_none else {})
        ax = draw(st.integers(-nd, nd - 1))
        if allow_none and draw(st.booleans()):
            ax = None
        return (), {"axis": ax}
    return extra


_entry("unstack", _one_array(shapes(1, 3, 1, 3), _axis_extra()),
       lambda x, axis=0: tuple(np.moveaxis(x, axis, 0)),
       lambda c, d: (d,) * c.args[0].shape[c.kwargs.get("axis", 0)], group="any")
_entry("expand_dims", _one_array(shapes(0, 3, 1, 3), _axis_extra(include_end=True)),
       lambda x, axis=0: np.expand_dims(x, axis), same, group="any",
       errors=(BadInput((arrays_fixed(_F, (2, 3)),), "IndexError", "axis 5 of a 2-d input",
                        {"axis": 5}),))


def _squeeze_extra(draw, x):
    ones = [i for i, n in enumerate(x.shape) if n == 1]
    assume(ones)
    axes = draw(st.lists(st.sampled_from(ones), min_size=1, unique=True))
    return (), {"axis": axes[0] if len(axes) == 1 else tuple(axes)}


_entry("squeeze", _one_array(shapes(1, 3, 1, 2), _squeeze_extra),
       lambda x, axis: np.squeeze(x, axis=axis), same, group="any",
       errors=(BadInput((arrays_fixed(_F, (2, 3)), 0), "ShapeError", "an axis of size 2"),))


def _flip_extra(draw, x):
    return (), {"axis": _axis_of(draw, x.ndim)}


_entry("flip", _one_array(shapes(0, 3, 1, 4), _flip_extra),
       lambda x, axis=None: np.flip(x, axis=axis), same, group="any",
       errors=(BadInput((arrays_fixed(_F, (2, 3)),), "IndexError", "axis 2 of a 2-d input",
                        {"axis": 2}),))


def _roll_extra(draw, x):
    axis = _axis_of(draw, x.ndim)
    if isinstance(axis, tuple):
        shift = tuple(draw(st.integers(-5, 5)) for _ in axis)
    else:
        shift = draw(st.integers(-5, 5))
    return (shift,), {"axis": axis}


_entry("roll", _one_array(shapes(0, 3, 1, 4), _roll_extra),
       lambda x, shift, axis=None: np.roll(x, shift, axis=axis), same, group="any")


def _moveaxis_extra(draw, x):
    nd = x.ndim
    src = draw(st.integers(-nd, nd - 1))
    dst = draw(st.integers(-nd, nd - 1))
    return (src, dst), {}


_entry("moveaxis", _one_array(shapes(1, 3, 1, 4), _moveaxis_extra),
       lambda x, s, t: np.moveaxis(x, s, t), same, group="any")


def _permute_extra(draw, x):
    return (), {"axes": tuple(draw(st.permutations(range(x.ndim))))}


_entry("permute_dims", _one_array(shapes(0, 3, 1, 4), _permute_extra),
       lambda x, axes: np.transpose(x, axes), same, group="any",
       errors=(BadInput((arrays_fixed(_F, (2, 3)),), "ShapeError", "axes (0,) for a 2-d input",
                        {"axes": (0,)}),))


def _reshape_extra(draw, x):
    n = x.size
    divs = [k for k in range(1, n + 1) if n % k == 0]
    a = draw(st.sampled_from(divs))
    shape = draw(st.sampled_from([(n,), (a, n // a), (n // a, a, 1), (-1,), (a, -1)]))
    return (), {"shape": shape}


_entry("reshape", _one_array(shapes(0, 3, 1, 4), _reshape_extra),
       lambda x, shape: np.reshape(x, shape), same, group="any",
       errors=(BadInput((arrays_fixed(_F, (2, 3)),), "ShapeError", "6 elements into (4,)",
                        {"shape": (4,)}),))


def _repeat_extra(draw, x):
    ax = draw(st.integers(-x.ndim, x.ndim - 1)) if x.ndim and draw(st.booleans()) else None
    return (draw(st.integers(0, 3)),), {"axis": ax}


_entry("repeat", _one_array(shapes(0, 3, 1, 3), _repeat_extra),
       lambda x, r, axis=None: np.repeat(x, r, axis=axis), same, group="any")


def _tile_extra(draw, x):
    return (tuple(draw(st.lists(st.integers(1, 3), min_size=0, max_size=3))),), {}


_entry("tile", _one_array(shapes(0, 3, 1, 3), _tile_extra), lambda x, r: np.tile(x, r), same,
       group="any")
_entry("matrix_transpose", _one_array(shapes(2, 4, 1, 4), lambda draw, x: ((), {})),
       lambda x: np.swapaxes(x, -1, -2), same, group="any",
       errors=(BadInput((arrays_fixed(_F, (3,)),), "ShapeError", "a 1-d input"),))


@st.composite
def _take_cases(draw, d, grad):
    x = draw_array(draw, d, shapes(1, 3, 1, 4))
    axis = draw(st.integers(-x.ndim, x.ndim - 1)) if x.ndim > 1 or draw(st.booleans()) \
        else None
    n = x.shape[axis if axis is not None else 0]
    idx = draw_array(draw, "int64", (draw(st.integers(0, 5)),), -n, n - 1)
    return Case((x, idx), {"axis": axis}, diff=(0,) if grad else ())


_entry("take", _take_cases, lambda x, i, axis=None: np.take(x, i, axis=axis), same,
       group="any", fixed_args=(1,),
       xfail=(Expect("torch 2.13: TorchInductor fails an internal assertion compiling the "
                     "forward-mode derivative (torch.func.jvp) of take; after other "
                     "compiles in the same process it can pass", backend="torch",
                     mode="compiled", check="grad", strict=False),),
       errors=(BadInput((arrays_fixed(_F, (3,)), np.array([5])), "IndexError",
                        "index 5 of an axis of size 3"),))


@st.composite
def _take_along_cases(draw, d, grad):
    x = draw_array(draw, d, shapes(1, 3, 1, 4))
    axis = draw(st.integers(-x.ndim, x.ndim - 1))
    shape = list(x.shape)
    shape[axis] = draw(st.integers(1, 4))
    idx = draw_array(draw, "int64", tuple(shape), 0, x.shape[axis] - 1)
    return Case((x, idx), {"axis": axis}, diff=(0,) if grad else ())


_entry("take_along_axis", _take_along_cases,
       lambda x, i, axis=-1: np.take_along_axis(x, i, axis=axis), same, group="any",
       fixed_args=(1,),
       errors=(BadInput((arrays_fixed(_F, (2, 3)), np.array([[0], [5]])), "IndexError",
                        "index 5 along an axis of 3"),))


@st.composite
def _where_cases(draw, d, grad):
    from .cases import broadcastable_shapes

    s = draw(broadcastable_shapes(3))
    c = draw_array(draw, "bool", s[0])
    x1 = draw_array(draw, d, s[1], specials=not grad)
    d2 = PARTNER.get(d, d) if not grad and draw(st.integers(0, 4)) == 0 else d
    x2 = draw_array(draw, d2 if d2 in group_dtypes("any") else d, s[2])
    return Case((c, x1, x2), diff=(1, 2) if grad else ())


_entry("where", _where_cases, np.where, promoted, group="any", fixed_args=(0,),
       errors=(BadInput((arrays_fixed("int32", (2,)), arrays_fixed(_F, (2,)),
                         arrays_fixed(_F, (2,))), "DTypeError", "an int32 condition"),
               BadInput((arrays_fixed("bool", (2,)), arrays_fixed(_F, (2,)),
                         arrays_fixed(_F, (3,))), "ShapeError", "shapes (2,) and (3,)")))


@st.composite
def _diff_cases(draw, d, grad):
    x = draw_array(draw, d, shapes(1, 3, 1, 5))
    axis = draw(st.integers(-x.ndim, x.ndim - 1))
    n = draw(st.integers(0, 2))
    return Case((x,), {"axis": axis, "n": n}, diff=(0,) if grad else ())


_entry("diff", _diff_cases, lambda x, axis=-1, n=1: np.diff(x, n=n, axis=axis), same)


# ---------------------------------------------------------------- matmul family
@st.composite
def _matmul_cases(draw, d, grad):
    m, k, n = (draw(st.integers(1, 4)) for _ in range(3))
    form = draw(st.sampled_from(["mm", "mv", "vm", "vv", "batched"]))
    if form == "mm":
        a, b = (m, k), (k, n)
    elif form == "mv":
        a, b = (m, k), (k,)
    elif form == "vm":
        a, b = (k,), (k, n)
    elif form == "vv":
        a, b = (k,), (k,)
    else:
        batch = tuple(draw(st.lists(st.integers(1, 3), min_size=1, max_size=2)))
        bb = tuple(1 if draw(st.booleans()) else s for s in batch)
        a, b = batch + (m, k), bb[len(bb) - draw(st.integers(0, len(bb))):] + (k, n)
    return Case((draw_array(draw, d, a), draw_array(draw, d, b)), diff=(0, 1) if grad else ())


def _contracted(case):
    return case.args[0].shape[-1] if case.args[0].ndim else 1


_MATMUL_ERRORS = (BadInput((arrays_fixed(_F, (2, 3)), arrays_fixed(_F, (4, 2))), "ShapeError",
                           "(2, 3) @ (4, 2)"),
                  BadInput((arrays_fixed(_F, (2, 3)), Foreign(arrays_fixed(_F, (3, 2)))),
                           "BackendMismatchError", "second operand from another backend"),
                  BadInput((arrays_fixed("int32", (2, 3)), arrays_fixed(_F, (3, 2))),
                           "DTypeError", "int32 @ float32"),
                  *bad_dtype_inputs("numeric", 2))
_entry("matmul", _matmul_cases, np.matmul, promoted, accumulates=_contracted,
       errors=_MATMUL_ERRORS)


@st.composite
def _tensordot_cases(draw, d, grad):
    k = draw(st.integers(0, 2))
    shared = tuple(draw(st.integers(1, 3)) for _ in range(k))
    a = tuple(draw(st.lists(st.integers(1, 3), max_size=2))) + shared
    b = shared + tuple(draw(st.lists(st.integers(1, 3), max_size=2)))
    axes = k
    if k and draw(st.booleans()):
        axes = (list(range(len(a) - k, len(a))), list(range(k)))
    return Case((draw_array(draw, d, a), draw_array(draw, d, b)), {"axes": axes},
                diff=(0, 1) if grad else ())


def _tensordot_terms(case):
    axes = case.kwargs["axes"]
    k = axes if isinstance(axes, int) else len(axes[0])
    return int(np.prod(case.args[1].shape[:k]))


_entry("tensordot", _tensordot_cases, lambda a, b, axes=2: np.tensordot(a, b, axes=axes),
       promoted, accumulates=_tensordot_terms)


@st.composite
def _vecdot_cases(draw, d, grad):
    from .cases import suffix_shapes

    base = draw(shapes(1, 3, 1, 4))
    if len(base) >= 2 and draw(st.booleans()):
        s2, axis = base, -2
    else:
        s2, axis = draw(suffix_shapes(base[:-1])) + base[-1:], -1
    return Case((draw_array(draw, d, base), draw_array(draw, d, s2)), {"axis": axis},
                diff=(0, 1) if grad else ())


def _vecdot_ref(a, b, axis=-1):
    return np.sum(np.conj(a) * b, axis=axis)


_entry("vecdot", _vecdot_cases, _vecdot_ref, promoted,
       accumulates=lambda c: c.args[0].shape[c.kwargs["axis"]])


# ---------------------------------------------------------------- statistics
def _reduce_cases(lo=-5.0, hi=5.0, dtype_kw=False, min_side=1, allow_tuple=True,
                  keepdims=True, extra=None, unique_grad=False):
    @st.composite
    def cases(draw, d, grad):
        x = draw_array(draw, d, shapes(0, 3, min_side, 4), lo, hi,
                       specials=not grad and kind(d) == "f", unique=grad and unique_grad)
        kw = {"axis": _axis_of(draw, x.ndim, allow_tuple=allow_tuple)}
        if keepdims:
            kw["keepdims"] = draw(st.booleans())
        if dtype_kw and draw(st.integers(0, 3)) == 0:
            kw["dtype"] = as_dtype({"b": "int64", "i": "int64", "u": "int64", "f": "float64",
                                    "c": "complex128"}[kind(d)])
        if extra is not None:
            kw.update(extra(draw, x, kw))
        return Case((x,), kw, diff=(0,) if grad else ())
    return cases


def _sum_out(case, d):
    if case.kwargs.get("dtype") is not None:
        return str(case.kwargs["dtype"])
    return "int64" if kind(d) in "biu" else d


def _terms(case):
    return _reduced_size(case.args[0].shape, case.kwargs.get("axis"))


def _with_dtype(f):
    def ref(x, *, axis=None, keepdims=False, dtype=None, **kw):
        return f(x, axis=axis, keepdims=keepdims, **kw)
    return ref


_entry("sum", _reduce_cases(dtype_kw=True), _with_dtype(np.sum), _sum_out, accumulates=_terms,
       signed_zeros=False, errors=tuple(bad_dtype_inputs("numeric")))
_entry("prod", _reduce_cases(0.5, 1.5, dtype_kw=True), _with_dtype(np.prod), _sum_out,
       accumulates=_terms, signed_zeros=False)
_entry("max", _reduce_cases(unique_grad=True), _with_dtype(np.max), same,
       errors=(BadInput((np.zeros((0,), np.float32),), "ShapeError", "an empty input"),))
_entry("min", _reduce_cases(unique_grad=True), _with_dtype(np.min), same)
_entry("mean", _reduce_cases(), _with_dtype(np.mean), same, accumulates=_terms,
       signed_zeros=False, errors=tuple(bad_dtype_inputs("float")))


def _correction(draw, x, kw):
    n = _reduced_size(x.shape, kw["axis"])
    return {"correction": draw(st.sampled_from([0.0, 1.0] if n > 1 else [0.0]))}


def _spread_cases(base):
    """Gradient cases of std/var reduce at least two distinct values (the derivative of a
    zero standard deviation does not exist)."""
    @st.composite
    def cases(draw, d, grad):
        c = draw(base(d, grad))
        if grad:
            assume(_reduced_size(c.args[0].shape, c.kwargs["axis"]) >= 2)
        return c
    return cases


def _moment(f):
    def ref(x, *, axis=None, keepdims=False, correction=0.0):
        return f(x, axis=axis, keepdims=keepdims, ddof=correction)
    return ref


def _stat_scale(case):
    return _terms(case)


_entry("std", _spread_cases(_reduce_cases(extra=_correction, min_side=2)), _moment(np.std),
       lambda c, d: real_dtype(d), accumulates=_stat_scale, signed_zeros=False)
_entry("var", _spread_cases(_reduce_cases(extra=_correction, min_side=2)), _moment(np.var),
       lambda c, d: real_dtype(d), accumulates=_stat_scale, signed_zeros=False)


@st.composite
def _cum_cases(draw, d, grad, lo=-5.0, hi=5.0):
    x = draw_array(draw, d, shapes(1, 3, 1, 4), lo, hi)
    kw = {}
    if x.ndim > 1 or draw(st.booleans()):
        kw["axis"] = draw(st.integers(-x.ndim, x.ndim - 1))
    kw["include_initial"] = draw(st.booleans())
    return Case((x,), kw, diff=(0,) if grad else ())


def _cum_ref(f, initial):
    def ref(x, *, axis=None, include_initial=False, dtype=None):
        ax = 0 if axis is None else axis
        out = f(x, axis=ax)
        if include_initial:
            shape = list(out.shape)
            shape[ax] = 1
            out = np.concatenate([np.full(shape, initial, out.dtype), out], axis=ax)
        return out
    return ref


_entry("cumulative_sum", _cum_cases, _cum_ref(np.cumsum, 0), _sum_out, signed_zeros=False,
       accumulates=lambda c: c.args[0].shape[c.kwargs.get("axis", 0)] if c.args[0].ndim else 1)
_entry("cumulative_prod", st.composite(lambda draw, d, g: draw(_cum_cases(d, g, 0.5, 1.5))),
       _cum_ref(np.cumprod, 1), _sum_out, signed_zeros=False,
       accumulates=lambda c: c.args[0].shape[c.kwargs.get("axis", 0)] if c.args[0].ndim else 1)
_entry("all", _reduce_cases(), _with_dtype(np.all), boolean)
_entry("any", _reduce_cases(), _with_dtype(np.any), boolean)


# ---------------------------------------------------------------- searching
@st.composite
def _arg_cases(draw, d, grad):
    x = draw_array(draw, d, shapes(0, 3, 1, 4), -3, 3, integral=True)
    axis = draw(st.integers(-x.ndim, x.ndim - 1)) if x.ndim and draw(st.booleans()) else None
    return Case((x,), {"axis": axis, "keepdims": draw(st.booleans())})


def _argref(f):
    def ref(x, axis=None, keepdims=False):
        return np.asarray(f(x, axis=axis, keepdims=keepdims))
    return ref


_entry("argmax", _arg_cases, _argref(np.argmax), int64)
_entry("argmin", _arg_cases, _argref(np.argmin), int64)


@st.composite
def _nonzero_cases(draw, d, grad):
    x = draw_array(draw, d, shapes(1, 3, 1, 4), -2, 2, integral=True)
    return Case((x,))


_entry("nonzero", _nonzero_cases, lambda x: tuple(np.nonzero(x)),
       lambda c, d: ("int64",) * c.args[0].ndim, dynamic_shape=True,
       errors=(BadInput((np.ones((), np.float32),), "ShapeError",
                        "a 0-d input"),))


@st.composite
def _count_cases(draw, d, grad):
    x = draw_array(draw, d, shapes(0, 3, 1, 4), -2, 2, integral=True)
    return Case((x,), {"axis": _axis_of(draw, x.ndim), "keepdims": draw(st.booleans())})


_entry("count_nonzero", _count_cases,
       lambda x, axis=None, keepdims=False: np.asarray(
           np.count_nonzero(x, axis=axis, keepdims=keepdims)), int64)


@st.composite
def _searchsorted_cases(draw, d, grad):
    x1 = np.sort(draw_array(draw, d, (draw(st.integers(1, 6)),), -3, 3, integral=True))
    x2 = draw_array(draw, d, shapes(0, 2, 1, 4), -4, 4, integral=True)
    kw = {"side": draw(st.sampled_from(["left", "right"]))}
    if draw(st.booleans()):
        perm = np.array(draw(st.permutations(range(x1.size))), dtype=np.int64)
        unsorted = np.empty_like(x1)
        unsorted[perm] = x1
        return Case((unsorted, x2), {**kw, "sorter": perm})
    return Case((x1, x2), kw)


def _searchsorted_ref(x1, x2, side="left", sorter=None):
    return np.searchsorted(x1, x2, side=side, sorter=sorter)


_entry("searchsorted", _searchsorted_cases, _searchsorted_ref, int64, fixed_args=(0,),
       errors=(BadInput((arrays_fixed("int32", (3,)), arrays_fixed(_F, (2,))), "DTypeError",
                        "int32 sorted values, float32 queries"),))


@st.composite
def _sort_cases(draw, d, grad):
    x = draw_array(draw, d, shapes(1, 3, 1, 5), -3, 3, integral=not grad, unique=grad)
    return Case((x,), {"axis": draw(st.integers(-x.ndim, x.ndim - 1)),
                       "descending": draw(st.booleans()), "stable": True},
                diff=(0,) if grad else ())


def _stable_order(x, axis, descending):
    if descending:  # stable descending: equal keys keep their order
        key = -x.astype(np.float64) if x.dtype.kind != "b" else ~x
        return np.argsort(key, axis=axis, kind="stable")
    return np.argsort(x, axis=axis, kind="stable")


def _sort_ref(x, axis=-1, descending=False, stable=True):
    return np.take_along_axis(x, _stable_order(x, axis, descending), axis=axis)


_entry("sort", _sort_cases, _sort_ref, same)
_entry("argsort", _sort_cases,
       lambda x, axis=-1, descending=False, stable=True: _stable_order(x, axis, descending),
       int64)


# ---------------------------------------------------------------- sets
@st.composite
def _set_cases(draw, d, grad):
    return Case((draw_array(draw, d, shapes(1, 2, 1, 5), -3, 3, integral=True),))


def _canon_set(xp, outs, case, fields):
    """Unique results in sorted order (the standard leaves the order unspecified)."""
    vals = np.asarray(outs[0])
    order = np.lexsort((vals.imag, vals.real)) if vals.dtype.kind == "c" else np.argsort(
        vals, kind="stable")
    res = [np.asarray(vals)[order]]
    x = case.args[0]
    for f, o in zip(fields[1:], outs[1:]):
        o = np.asarray(o)
        if f == "counts":
            res.append(o[order])
        elif f == "indices":  # any index of an occurrence: compare the values found there
            res.append(x.reshape(-1)[o.astype(np.int64)][order].astype(np.float64))
        elif f == "inverse":  # values[inverse] reproduces x
            res.append(np.asarray(vals)[o.astype(np.int64)].astype(np.float64))
    return tuple(res)


def _set_entry(name, fields, ref):
    outs = {"values": None, "counts": "int64", "indices": "int64", "inverse": "int64"}

    def out(case, d):
        return tuple(d if outs[f] is None else outs[f] for f in fields) if len(fields) > 1 \
            else d

    _entry(name, _set_cases, ref, out, dynamic_shape=True,
           normalize=lambda xp, o, case: _canon_set(xp, o, case, fields))


_set_entry("unique_values", ("values",), lambda x: np.unique(x))
_set_entry("unique_counts", ("values", "counts"),
           lambda x: tuple(np.unique(x, return_counts=True)))
_set_entry("unique_inverse", ("values", "inverse"),
           lambda x: (np.unique(x), np.unique(x, return_inverse=True)[1].reshape(x.shape)))
_set_entry("unique_all", ("values", "indices", "inverse", "counts"),
           lambda x: (lambda v, i, inv, c: (v, i, inv.reshape(x.shape), c))(
               *np.unique(x, return_index=True, return_inverse=True, return_counts=True)))


# ---------------------------------------------------------------- indexing
@st.composite
def _key_for(draw, shape, grad, allow_bool=True):
    """An index: ints, slices, None, Ellipsis, or an integer / boolean array."""
    form = draw(st.sampled_from(["basic", "int array", "bool mask", "two int arrays"]
                                if not grad else ["basic", "int array"]))
    nd = len(shape)
    if form == "int array" and nd:
        ax = draw(st.integers(0, nd - 1))
        idx = draw_array(draw, "int64", (draw(st.integers(1, 4)),), -shape[ax], shape[ax] - 1)
        return (slice(None),) * ax + (idx,)
    if form == "bool mask" and nd and allow_bool:
        k = draw(st.integers(1, nd))
        return draw_array(draw, "bool", shape[:k])
    if form == "two int arrays" and nd >= 2:
        i = draw_array(draw, "int64", (2,), 0, shape[0] - 1)
        j = draw_array(draw, "int64", (2,), 0, shape[1] - 1)
        return (i, j)
    key = []
    for n in shape:
        c = draw(st.sampled_from(["int", "slice", "full"]))
        if c == "int":
            key.append(draw(st.integers(-n, n - 1)))
        elif c == "slice":
            step = draw(st.sampled_from([1, 2, -1, None]))
            key.append(slice(draw(st.one_of(st.none(), st.integers(-n, n))),
                             draw(st.one_of(st.none(), st.integers(-n, n))), step))
        else:
            key.append(slice(None))
    if key and draw(st.booleans()):
        key.insert(draw(st.integers(0, len(key))), None)
    if len(key) > 1 and draw(st.booleans()):
        key = [Ellipsis] + key[len(key) // 2:]
    return tuple(key)


@st.composite
def _getitem_cases(draw, d, grad):
    x = draw_array(draw, d, shapes(1, 3, 1, 4))
    key = draw(_key_for(x.shape, grad))
    return Case((x, key), diff=(0,) if grad else ())


def _getitem_ref(x, key):
    return np.asarray(x[key])


def _getitem_call(fn, x, key):
    return x[key]


def _no_mask(case):
    key = case.args[1]
    parts = key if isinstance(key, tuple) else (key,)
    return not any(isinstance(k, np.ndarray) and k.dtype == np.bool_ for k in parts)


_entry("getitem", _getitem_cases, _getitem_ref, same, call=_getitem_call, group="any",
       fixed_args=(1,), compilable=_no_mask,
       errors=(BadInput((arrays_fixed(_F, (3,)), 5), "IndexError", "index 5 of an axis of 3"),
               BadInput((arrays_fixed(_F, (3,)), (0, 0)), "IndexError",
                        "two indices into a 1-d input")))


@st.composite
def _update_cases(draw, d, grad):
    x = draw_array(draw, d, shapes(1, 3, 1, 4))
    mode = draw(st.sampled_from(["set", "add", "multiply", "min", "max"]
                                if kind(d) != "c" else ["set", "add", "multiply"]))
    if kind(d) == "b":
        mode = "set"
    key = draw(_key_for(x.shape, grad=True))
    targets = np.arange(x.size).reshape(x.shape)[key]
    target_shape = targets.shape
    if mode == "set":  # the value written twice to one place is unspecified
        assume(np.unique(targets).size == targets.size)
    vshape = target_shape[len(target_shape) - draw(st.integers(0, len(target_shape))):]
    v = draw_array(draw, d, vshape)
    if draw(st.integers(0, 4)) == 0:
        v = {"b": True, "i": 2, "u": 2, "f": 1.5, "c": complex(1.0, 1.0)}[kind(d)]
    return Case((x, v, key, mode), diff=((0, 1) if isinstance(v, np.ndarray) else (0,))
                if grad and mode in ("set", "add") else ())


def _update_ref(x, v, key, mode):
    y = np.array(x, copy=True)
    if mode == "set":
        y[key] = v
    else:
        {"add": np.add, "multiply": np.multiply, "min": np.minimum,
         "max": np.maximum}[mode].at(y, key, v)
    return y


def _update_call(fn, x, v, key, mode):
    return getattr(x.at[key], mode)(v)


_entry("index_update", _update_cases, _update_ref, same, call=_update_call, group="any",
       fixed_args=(2,), signed_zeros=False,
       errors=(BadInput((arrays_fixed(_F, (3,)), arrays_fixed(_F, (2,)), slice(None), "set"),
                        "ShapeError", "2 values into 3 positions"),
               BadInput((arrays_fixed("int32", (3,)), arrays_fixed(_F, (3,)), slice(None),
                         "set"), "DTypeError", "float32 values into an int32 tensor")))
