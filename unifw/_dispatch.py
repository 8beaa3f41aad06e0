"""Generates the public op functions from :mod:`unifw._opspec`.

Each generated function is straight-line code specialised to its op: find the
backend from the first tensor argument, unwrap, check dtypes, promote (Array
API rules, weak Python scalars), call the backend's implementation and wrap
the result. Nothing is looked up in a registry per call. Errors raised by the
framework are caught and re-raised as unifw errors (see :func:`fail`), so the
happy path pays nothing for error reporting.
"""
from __future__ import annotations

import builtins
import inspect
from collections import namedtuple

import numpy as np

from . import _dtypes
from ._opspec import OPS, OpSpec
from ._registry import active
from ._tensor import Tensor, wrap
from .variable import trace_state
from .backend_api import attr_name
from .errors import (BackendMismatchError, DeviceMismatchError, DTypeError, IndexError_,
                     OpError, ShapeError, TracingError, UnifwError, op_error)

FUNCS: dict = {}  # qualname -> generated function

_SCALARS = (builtins.bool, int, float, complex)

# Array API named results
EighResult = namedtuple("EighResult", ["eigenvalues", "eigenvectors"])
QRResult = namedtuple("QRResult", ["Q", "R"])
SlogdetResult = namedtuple("SlogdetResult", ["sign", "logabsdet"])
SVDResult = namedtuple("SVDResult", ["U", "S", "Vh"])
UniqueAllResult = namedtuple("UniqueAllResult", ["values", "indices", "inverse_indices", "counts"])
UniqueCountsResult = namedtuple("UniqueCountsResult", ["values", "counts"])
UniqueInverseResult = namedtuple("UniqueInverseResult", ["values", "inverse_indices"])
_NAMED = {"linalg.eigh": EighResult, "linalg.qr": QRResult, "linalg.slogdet": SlogdetResult,
          "linalg.svd": SVDResult, "unique_all": UniqueAllResult,
          "unique_counts": UniqueCountsResult, "unique_inverse": UniqueInverseResult}


# ---------------------------------------------------------------- coercion helpers
def infer_dtype(obj) -> _dtypes.DType:
    """unifw dtype that ``asarray(obj)`` gives without an explicit dtype."""
    if isinstance(obj, Tensor):
        return obj.dtype
    if isinstance(obj, np.ndarray) or isinstance(obj, np.generic):
        return _dtypes.as_dtype(obj.dtype)
    t = type(obj)
    if t is builtins.bool:
        return _dtypes.bool
    if t is int:
        return _dtypes.default_int
    if t is float:
        return _dtypes.default_float
    if t is complex:
        return _dtypes.complex64
    if isinstance(obj, (list, tuple)):
        if len(obj) == 0:
            return _dtypes.default_float
        kinds = {infer_dtype(v) for v in obj}
        r = None
        for d in kinds:
            if r is None:
                r = d
            else:
                p = _dtypes.promote_pair(r, d)
                if p is None:  # mixing Python ints and floats in a literal is fine
                    order = "biufc"
                    p = r if order.index(r.kind) > order.index(d.kind) else d
                r = p
        return r
    if hasattr(obj, "dtype"):
        try:
            return _dtypes.as_dtype(np.dtype(obj.dtype))
        except Exception:
            pass
    return _dtypes.as_dtype(np.asarray(obj).dtype)


def _foreign(b, obj):
    """Convert a non-Tensor op argument for backend ``b``."""
    if isinstance(obj, b.native_types):
        return obj
    if hasattr(obj, "__dlpack__") and not isinstance(obj, np.ndarray) and not isinstance(
            obj, np.generic):
        raise BackendMismatchError(
            f"a {type(obj).__module__}.{type(obj).__name__} was passed to an op on backend "
            f"'{b.name}'; wrap it with uf.from_native / uf.from_dlpack first")
    if isinstance(obj, (np.ndarray, np.generic)):
        conv = _NUMPY_CONVERTERS.get(b)
        if conv is None:
            conv = _NUMPY_CONVERTERS[b] = _numpy_converter(b)
        return conv(obj)
    return _convert_foreign(b, obj)


def _convert_foreign(b, obj):
    from ._devices import current_device

    dt = infer_dtype(obj)
    return b.asarray(obj, dtype=b.native_dtype(dt), device=current_device(b))


_NUMPY_CONVERTERS: dict = {}


def _numpy_converter(b):
    """NumPy values -> natives of ``b``; through the backend's ``constant_call`` hook when
    it has one (a tracer that should bake the value in rather than trace NumPy)."""
    def convert(obj):
        return _convert_foreign(b, obj)

    hook = getattr(b, "constant_call", None)
    return hook(convert) if hook is not None else convert


def pick_backend(*objs):
    """Backend of the first Tensor among ``objs`` (sequences searched), else the active one."""
    for o in objs:
        if isinstance(o, Tensor):
            return o._b
        if isinstance(o, (list, tuple)):
            for v in o:
                if isinstance(v, Tensor):
                    return v._b
    return active()


def unwrap_in(b, o, name, op):
    if isinstance(o, Tensor):  # Tensor or Variable
        if o._b is not b:
            raise BackendMismatchError(f"{op}: argument '{name}' is a {o._b.name} tensor but the "
                                       f"op runs on backend '{b.name}'; mixing backends in one "
                                       "op is not allowed (convert with uf.asarray(x.numpy()))")
        return o._native
    return _foreign(b, o)


def scalar_operand(b, s, t_native, op):
    """A Python scalar combined with a native array: weak-scalar semantics."""
    res = b._scalar_ok.get((t_native.dtype, type(s)))
    if not res:  # refused (e.g. int tensor * 0.5): raise the explanatory DTypeError
        _dtypes.scalar_result_dtype(b.udtype(t_native), s, op)
        raise DTypeError(f"{op}: cannot combine a Python {type(s).__name__} with this tensor")
    if res is not True:  # a complex scalar with a real tensor: complex of matching precision
        return b.asarray(s, dtype=res, device=b.device_of(t_native))
    if b.weak_scalars:
        return s
    return b.asarray(s, dtype=t_native.dtype, device=b.device_of(t_native))


_WEAK = object()  # marks a Python scalar operand whose dtype comes from another operand


def scalar_like(b, s, ref, name, op):
    """Python scalar ``s`` as a native with the dtype of native ``ref`` (weak-scalar rule;
    a complex scalar next to a real tensor takes the matching complex dtype). Without a
    tensor to follow (``ref`` None or a scalar too), the default conversion."""
    if ref is None or ref is _WEAK or (type(s) is int and not _fits(b.udtype(ref), s)):
        # no tensor to follow, or an int the tensor's dtype cannot hold (clip(u8, -1, 4)):
        # the default conversion, then the ordinary promotion
        return unwrap_in(b, s, name, op)
    res = b._scalar_ok.get((ref.dtype, type(s)))
    if not res:  # refused (e.g. 0.5 with an int tensor): the explanatory DTypeError
        _dtypes.scalar_result_dtype(b.udtype(ref), s, op)
        raise DTypeError(f"{op}: cannot combine a Python {type(s).__name__} with this tensor")
    return b.asarray(s, dtype=ref.dtype if res is True else res, device=b.device_of(ref))


def _fits(d, value: int) -> bool:
    if d.kind not in "iu":
        return True
    info = np.iinfo(d.numpy_dtype)
    return info.min <= value <= info.max


def promote_natives(b, op, natives, args):
    """Cast natives to their Array API result dtype (explicit, not silent: the standard's rule)."""
    uds = [b.udtype(n) for n in natives]
    r = uds[0]
    for d in uds[1:]:
        p = _dtypes.promote_pair(r, d)
        if p is None:
            raise op_error(DTypeError, op, b.name, args,
                           f"no implicit promotion between {r} and {d} (the Array API leaves "
                           "mixed kinds undefined and unifw never casts silently); use astype")
        r = p
    nd = b.native_dtype(r)
    astype = b.astype
    return [n if u is r else astype(n, nd) for n, u in zip(natives, uds)]


def check_same_device(b, op, natives, args):
    devs = {b.device_of(n) for n in natives if n is not None and not isinstance(n, _SCALARS)}
    if len(devs) > 1:
        raise op_error(DeviceMismatchError, op, b.name, args,
                       f"inputs are on different devices {sorted(devs)}; move them explicitly "
                       "with x.to(device)")


def check_dtypes(b, spec, natives, args):
    ok = b._kind_natives[spec.dtypes]
    for n in natives:
        if n is not None and not isinstance(n, _SCALARS) and n.dtype not in ok:
            raise op_error(DTypeError, spec.qualname, b.name, args,
                           f"expects {spec.dtypes} dtypes, got {b.udtype(n)}")


def same_dtype_error(b, spec, args):
    dts = [str(a.dtype) for a in args if isinstance(a, Tensor)]
    raise op_error(DTypeError, spec.qualname, b.name, args,
                   f"inputs must share one dtype, got {dts}; cast explicitly with astype")


# ---------------------------------------------------------------- error translation
def _broadcastable(shapes):
    try:
        np.broadcast_shapes(*[tuple(int(d) for d in s) for s in shapes])
        return True
    except (ValueError, TypeError):
        return False


def diagnose(b, spec, args, kwargs):
    """Find what is wrong with the inputs of a failed op (backend independent)."""
    tens = []
    for a in args:
        if isinstance(a, Tensor):
            tens.append(a)
        elif isinstance(a, (list, tuple)):
            tens.extend(v for v in a if isinstance(v, Tensor))
    devs = {str(t.device) for t in tens}
    if len(devs) > 1:
        return DeviceMismatchError, f"inputs are on different devices {sorted(devs)}"
    shapes = [t.shape for t in tens]
    k = spec.kind
    if k in ("binary", "compare", "where", "clip") and not _broadcastable(shapes):
        return ShapeError, f"shapes {shapes} cannot be broadcast together"
    if k == "matmul" and spec.name == "matmul" and len(shapes) == 2:
        a, c = shapes
        if len(a) == 0 or len(c) == 0:
            return ShapeError, "matmul does not accept 0-d operands"
        ka = a[-1]
        kc = c[-2] if len(c) >= 2 else c[0]
        if ka != kc:
            return ShapeError, f"contracted dimensions differ: {a} @ {c} ({ka} != {kc})"
        if not _broadcastable([a[:-2], c[:-2]]):
            return ShapeError, f"batch dimensions of {a} and {c} cannot be broadcast"
    if k in ("manip", "index", "reduce", "search", "sort", "linalg", "fft", "nn", "getitem",
             "index_update", "matmul", "set"):
        return ShapeError if k != "getitem" else IndexError_, "invalid arguments for these shapes"
    return OpError, ""


# ops whose input must have at least this many dimensions (checked when the op fails, so
# every backend reports a ShapeError, not its own IndexError or ValueError)
_MIN_NDIM = {"tril": 2, "triu": 2, "matrix_transpose": 2, "linalg.matrix_transpose": 2,
             "nn.max_pool2d": 3, "nn.avg_pool2d": 3, "nn.adaptive_avg_pool2d": 3,
             "nn.conv1d": 2, "nn.conv2d": 3, "nn.conv_transpose2d": 3, "nn.batch_norm": 2}
_AXIS_PARAMS = ("axis", "axes", "source", "destination")
_AXIS_PLUS_ONE = frozenset({"expand_dims", "stack"})  # the axis indexes the result's axes


def _first_tensor(args):
    for a in args:
        if isinstance(a, Tensor):
            return a
        if isinstance(a, (list, tuple)):
            for v in a:
                if isinstance(v, Tensor):
                    return v
    return None


def _rank_or_axis_problem(spec, args, kwargs):
    """(class, detail) when the first input's rank or an axis argument is invalid."""
    x = _first_tensor(args)
    if x is None:
        return None
    ndim = len(x.shape)
    need = _MIN_NDIM.get(spec.qualname)
    if need is not None and ndim < need:
        return ShapeError, f"expects an input of at least {need} dimensions, got {ndim}"
    bound = ndim + (1 if spec.name in _AXIS_PLUS_ONE else 0)
    for key in _AXIS_PARAMS:
        if key == "axes" and spec.name == "tensordot":  # a count or lists of axes of two inputs
            continue
        axis = kwargs.get(key)
        for a in (axis if isinstance(axis, (tuple, list)) else (axis,)):
            if type(a) is int and not -bound <= a < bound:
                return IndexError_, (f"{key} {a} is out of range for {'the result of ' if bound > ndim else ''}"
                                     f"a {bound}-d {'array' if bound > ndim else 'input'}")
    return None


def _class_target_problem(args, kwargs):
    from ._composites import class_target_problem
    x, target = args[0], args[1]
    if not (isinstance(x, Tensor) and isinstance(target, Tensor)):
        return None
    try:
        class_target_problem(x.shape, target.shape, target.dtype.kind,
                             kwargs.get("ignore_index", -100), kwargs.get("reduction", "mean"))
    except TypeError as e:
        return DTypeError, str(e)
    except ValueError as e:
        return ShapeError, str(e)
    return None


# ops whose inputs have a validator that tells which of their arguments is wrong, so the
# error class does not depend on which check a backend's kernel happens to make first
_VALIDATORS = {"nn.softmax_cross_entropy": _class_target_problem}


def fail(b, spec, args, kwargs, exc):
    """Turn a framework exception into the unifw error for this op (same class everywhere)."""
    if isinstance(exc, UnifwError):
        return exc
    name = type(exc).__name__
    if "Concretization" in name or "TracerBool" in name or "OperatorNotAllowedInGraph" in name:
        return TracingError(f"{spec.qualname} on backend '{b.name}': {exc}")
    validate = _VALIDATORS.get(spec.qualname)
    found = validate(args, kwargs) if validate is not None else None
    if found is not None:
        return op_error(found[0], spec.qualname, b.name, args, found[1], cause=exc)
    found = _rank_or_axis_problem(spec, args, kwargs)
    if found is not None:
        return op_error(found[0], spec.qualname, b.name, args, found[1], cause=exc)
    cls, detail = diagnose(b, spec, args, kwargs)
    if isinstance(exc, builtins.IndexError) and cls is not DeviceMismatchError:
        cls, detail = IndexError_, "index out of range"
    if cls is OpError:
        if isinstance(exc, builtins.IndexError):
            cls = IndexError_
        elif isinstance(exc, TypeError):
            cls = DTypeError
        elif isinstance(exc, ValueError):
            cls = ShapeError
    kw = ", ".join(f"{k}={v!r}" for k, v in kwargs.items() if v is not None)
    if kw:
        detail = f"{detail} ({kw})" if detail else kw
    return op_error(cls, spec.qualname, b.name, args, detail, cause=exc)


# ---------------------------------------------------------------- code generation
def _params(sig: str):
    ns: dict = {}
    exec(f"def _f({sig}): pass", ns)
    return list(inspect.signature(ns["_f"]).parameters.values())


def _call_expr(params, rename):
    parts = []
    for p in params:
        nm = rename.get(p.name, p.name)
        if p.kind is p.POSITIONAL_ONLY or p.kind is p.POSITIONAL_OR_KEYWORD:
            parts.append(nm)
        elif p.kind is p.VAR_POSITIONAL:
            parts.append("*" + nm)
        else:
            parts.append(f"{p.name}={nm}")
    return ", ".join(parts)


def _make(spec: OpSpec):
    params = _params(spec.sig)
    pnames = [p.name for p in params]
    tens = [(t.rstrip("*?"), t.endswith("*"), t.endswith("?")) for t in spec.tensors]
    lines = []
    attr = attr_name(spec)
    rename = {}
    tnames = [t for t, _, _ in tens]
    args_tuple = "(" + ", ".join(tnames) + ("," if len(tnames) == 1 else "") + ")"
    kw_names = [p for p in pnames if p not in tnames]
    kw_dict = "{" + ", ".join(f"{k!r}: {k}" for k in kw_names) + "}"
    binary = spec.kind in ("binary", "compare") and len(tens) == 2

    if not tens:  # creation ops: active backend
        lines.append("_b = _active()")
    elif binary:
        a, c = tnames
        lines += [
            f"if type({a}) is _T or isinstance({a}, _T):",
            f"    _b = {a}._b; _{a} = {a}._native",
            f"    if type({c}) is _T or isinstance({c}, _T):",
            f"        if {c}._b is not _b: _unwrap_in(_b, {c}, {c!r}, {spec.qualname!r})",
            f"        _{c} = {c}._native",
            f"        _d = _{a}.dtype",
            f"        if _d is not _{c}.dtype:",
            f"            _{a}, _{c} = _promote(_b, {spec.qualname!r}, [_{a}, _{c}], {args_tuple})",
            f"            _d = _{a}.dtype",
            f"    elif type({c}) in _SCALARS:",
            f"        _{c} = _scalar(_b, {c}, _{a}, {spec.qualname!r})",
            f"        if type(_{c}) not in _SCALARS and _{c}.dtype is not _{a}.dtype: _{a}, _{c} = _promote(_b, {spec.qualname!r}, [_{a}, _{c}], {args_tuple})",
            f"        _d = _{a}.dtype",
            "    else:",
            f"        _{c} = _unwrap_in(_b, {c}, {c!r}, {spec.qualname!r})",
            f"        _{a}, _{c} = _promote(_b, {spec.qualname!r}, [_{a}, _{c}], {args_tuple})",
            f"        _d = _{a}.dtype",
            f"elif type({c}) is _T or isinstance({c}, _T):",
            f"    _b = {c}._b; _{c} = {c}._native",
            f"    if type({a}) in _SCALARS:",
            f"        _{a} = _scalar(_b, {a}, _{c}, {spec.qualname!r})",
            f"        if type(_{a}) not in _SCALARS and _{a}.dtype is not _{c}.dtype: _{a}, _{c} = _promote(_b, {spec.qualname!r}, [_{a}, _{c}], {args_tuple})",
            f"        _d = _{c}.dtype",
            "    else:",
            f"        _{a} = _unwrap_in(_b, {a}, {a!r}, {spec.qualname!r})",
            f"        _{a}, _{c} = _promote(_b, {spec.qualname!r}, [_{a}, _{c}], {args_tuple})",
            f"        _d = _{a}.dtype",
            "else:",
            f"    _b = _pick({a}, {c})",
            f"    _{a} = _unwrap_in(_b, {a}, {a!r}, {spec.qualname!r})",
            f"    _{c} = _unwrap_in(_b, {c}, {c!r}, {spec.qualname!r})",
            f"    _{a}, _{c} = _promote(_b, {spec.qualname!r}, [_{a}, _{c}], {args_tuple})",
            f"    _d = _{a}.dtype",
            f"if _b.check_devices: _check_dev(_b, {spec.qualname!r}, [_{a}, _{c}], {args_tuple})",
        ]
        rename = {a: f"_{a}", c: f"_{c}"}
        # common case: one set membership, then the backend's function; the rest (dtype
        # kind refused, complex override) in _binary_slow
        lines += [f"if _d in _b._fast_dtypes[{attr!r}]:",
                  "    try:",
                  f"        _r = _b.{attr}({_call_expr(params, rename)})",
                  "    except _UE: raise",
                  "    except Exception as _e:",
                  f"        raise _fail(_b, _SPEC, {args_tuple}, {kw_dict}, _e) from _e",
                  "else:",
                  f"    _r = _binary_slow(_b, _SPEC, {attr!r}, _d, _{a}, _{c}, {args_tuple})"]
    else:
        first, fseq, _ = tens[0]
        if fseq:
            lines.append(f"_b = _pick({first})")
        else:
            lines += [f"if type({first}) is _T: _b = {first}._b",
                      f"else: _b = _pick({', '.join(tnames)})"]
        natives = []
        # where's values and clip's bounds: a Python scalar is weak (Array API), it takes
        # the dtype of the tensor it meets instead of the default float's (which would
        # round 1e-12 through float32 next to a float64 tensor)
        weak = {"where": tnames[1:], "clip": tnames[1:]}.get(spec.kind, ())
        for t, seq, opt in tens:
            if seq:
                lines.append(f"_{t} = [_unwrap_in(_b, v, {t!r}, {spec.qualname!r}) for v in {t}]")
                natives.append(f"*_{t}")
            else:
                pre = f"if {t} is None: _{t} = None\nel" if opt else ""
                lines.append(f"{pre}if type({t}) is _T and {t}._b is _b: _{t} = {t}._native")
                if t in weak:
                    lines.append(f"elif type({t}) in _SCALARS: _{t} = _WEAK")
                lines.append(f"else: _{t} = _unwrap_in(_b, {t}, {t!r}, {spec.qualname!r})")
                natives.append(f"_{t}")
            rename[t] = f"_{t}"
        if weak:
            a1, a2 = (f"_{t}" for t in weak) if spec.kind == "where" else (f"_{tnames[0]}",) * 2
            ref = a1 if a1 == a2 else f"({a1} if {a1} is not _WEAK else {a2})"
            for t in weak:
                lines.append(f"if _{t} is _WEAK: _{t} = _scalar_like(_b, {t}, {ref}, "
                             f"{t!r}, {spec.qualname!r})")
        nat_list = "[" + ", ".join(natives) + "]"
        if len(natives) > 1 or tens[0][1]:
            lines.append(f"if _b.check_devices: _check_dev(_b, {spec.qualname!r}, {nat_list}, {args_tuple})")
        first, fseq = tnames[0], tens[0][1]
        if spec.promote:
            if fseq:
                lines.append(f"if len(_{first}) > 1: _{first} = _promote(_b, {spec.qualname!r}, _{first}, {args_tuple})")
            elif spec.kind == "where":
                c0, a1, a2 = tnames
                lines.append(f"if _{a1}.dtype is not _{a2}.dtype: _{a1}, _{a2} = _promote(_b, {spec.qualname!r}, [_{a1}, _{a2}], {args_tuple})")
                lines.append(f"if _{c0}.dtype is not _b._to_native[_dt.bool]: _check_dtypes(_b, _BOOLSPEC, [_{c0}], {args_tuple})")
            else:
                req = [f"_{t}" for t, sq, o in tens if not o]
                cond = " or ".join(f"{r}.dtype is not {req[0]}.dtype" for r in req[1:])
                lines.append(f"if {cond}: {', '.join(req)}, = _promote(_b, {spec.qualname!r}, [{', '.join(req)}], {args_tuple})")
        if spec.dtypes != "any":
            chk = f"_{first}[0]" if fseq else f"_{first}"
            guard = f"_{first} and " if fseq else ""
            lines.append(f"if {guard}{chk}.dtype not in _b._kind_natives[{spec.dtypes!r}]: "
                         f"_check_dtypes(_b, _SPEC, {nat_list}, {args_tuple})")
        for t in spec.same_dtype[1:]:
            if t in tnames:
                lines.append(f"if _{t} is not None and _{t}.dtype is not _{spec.same_dtype[0]}.dtype "
                             f"and _{t}.dtype != _{spec.same_dtype[0]}.dtype: "
                             f"_same_dtype(_b, _SPEC, {args_tuple})")
    if "dtype" in pnames and spec.kind == "creation":
        lines.append("if dtype is None: dtype = _default_dtype(" + repr(spec.name) + ", "
                     + ("fill_value" if "fill_value" in pnames else
                        "(start, stop, step)" if spec.name == "arange" else "None") + ")")
    if "dtype" in pnames:
        lines.append("if dtype is not None: _ndtype = _b.native_dtype(dtype)\nelse: _ndtype = None")
        rename["dtype"] = "_ndtype"
    if "device" in pnames:
        lines.append("if device is not None: device = _canon_dev(_b, device)")
        if not tens:
            lines.append("else: device = _cur_dev(_b)")
    if not binary:
        lines += ["try:", f"    _r = _b.{attr}({_call_expr(params, rename)})", "except _UE: raise",
                  "except Exception as _e:",
                  f"    raise _fail(_b, _SPEC, {args_tuple if tnames else '()'}, {kw_dict}, _e) "
                  "from _e"]
    if spec.out == "tensor":  # _wrap inlined: one Python call less per op
        lines += ["_t = _new(_T)", "_t._native = _r", "_t._b = _b", "return _t"]
    elif spec.out == "tuple":
        named = _NAMED.get(spec.qualname)
        if named is not None:
            lines.append("return _NT(*[_wrap(v, _b) for v in _r])")
        else:
            lines.append("return tuple([_wrap(v, _b) for v in _r])")
    else:
        lines.append("return _r")
    src = f"def {spec.name}({spec.sig}):\n" + "\n".join("    " + ln.replace("\n", "\n    ")
                                                     for ln in lines)
    g = {"_T": Tensor, "_SCALARS": _SCALARS, "_wrap": wrap, "_new": object.__new__, "_active": active,
         "_pick": pick_backend, "_unwrap_in": unwrap_in, "_promote": promote_natives,
         "_scalar": scalar_operand, "_check_dev": check_same_device, "_check_dtypes": check_dtypes,
         "_fail": fail, "_UE": UnifwError, "_same_dtype": same_dtype_error, "_SPEC": spec, "_dt": _dtypes,
         "_BOOLSPEC": OpSpec(spec.name, spec.sig, ns=spec.ns, dtypes="bool"),
         "_NT": _NAMED.get(spec.qualname), "_canon_dev": canonical_device,
         "_cur_dev": _current_device, "_default_dtype": default_creation_dtype,
         "_binary_slow": binary_slow, "_WEAK": _WEAK, "_scalar_like": scalar_like}
    exec(compile(src, f"<unifw op {spec.qualname}>", "exec"), g)
    fn = g[spec.name]
    fn.__qualname__ = spec.name
    fn.__module__ = "unifw" if not spec.ns else ("unifw.nn.functional" if spec.ns == "nn"
                                                  else f"unifw.{spec.ns}")
    fn.__doc__ = f"``{spec.qualname}({spec.sig})`` (Array API / torch.nn.functional semantics)."
    fn._spec = spec
    fn._src = src
    return fn


def binary_slow(b, spec, attr, d, n1, n2, args):
    """A binary op whose input dtype ``d`` is not on its fast path: refuse a dtype outside
    the op's kind, and use the backend's complex override where it has one."""
    if spec.dtypes != "any" and d not in b._kind_natives[spec.dtypes]:
        check_dtypes(b, spec, [n2 if type(n1) in _SCALARS else n1], args)
    fn = getattr(b, attr)
    if d in b._complex_natives:  # a backend may give complex inputs their own function
        fn = b._complex_ops.get(attr, fn)
    try:
        return fn(n1, n2)
    except UnifwError:
        raise
    except Exception as e:
        raise fail(b, spec, args, {}, e) from e


def default_creation_dtype(name, value):
    """dtype a creation op uses when none is given (PyTorch defaults: float32, int64)."""
    if name == "arange":
        return (_dtypes.default_int if all(isinstance(v, (int, type(None))) and
                                           not isinstance(v, builtins.bool) for v in value)
                else _dtypes.default_float)
    if name == "full":
        if isinstance(value, Tensor):
            return value.dtype
        return infer_dtype(value)
    return _dtypes.default_float


def canonical_device(b, device) -> str:
    from ._devices import resolve_device

    return resolve_device(b, device)


def _current_device(b):
    from ._devices import current_device

    return current_device(b)


for _spec in OPS.values():
    FUNCS[_spec.qualname] = _make(_spec)


# ---------------------------------------------------------------- indexing
def _unwrap_key(b, key, x):
    if isinstance(key, Tensor):
        return unwrap_in(b, key, "index", "getitem")
    if isinstance(key, tuple):
        return tuple(_unwrap_key(b, k, x) for k in key)
    if isinstance(key, list):
        return unwrap_in(b, key, "index", "getitem")
    if isinstance(key, np.ndarray):
        return b.asarray(key, dtype=b.native_dtype(infer_dtype(key)), device=b.device_of(x))
    return key


_GETITEM = OPS["getitem"]
_UPDATE = OPS["index_update"]


def getitem(x, key):
    b = x._b
    k = _unwrap_key(b, key, x._native)
    try:
        return wrap(b.getitem(x._native, k), b)
    except UnifwError:
        raise
    except Exception as e:
        raise fail(b, _GETITEM, (x,), {"key": key}, e) from e


def index_update(x, key, values, mode):
    b = x._b
    k = _unwrap_key(b, key, x._native)
    if type(values) in _SCALARS:
        _dtypes.scalar_result_dtype(x.dtype, values, f"at[].{mode}")
        v = b.asarray(values, dtype=x._native.dtype, device=b.device_of(x._native))
    else:
        v = unwrap_in(b, values, "values", f"at[].{mode}")
        if v.dtype != x._native.dtype:
            vd, xd = b.udtype(v), x.dtype
            if _dtypes.promote_pair(xd, vd) is not xd:
                raise op_error(DTypeError, f"at[].{mode}", b.name, (x, values),
                               f"values of dtype {vd} would be cast to {xd}; cast explicitly")
            v = b.astype(v, x._native.dtype)
    try:
        return wrap(b.index_update(x._native, k, v, mode=mode), b)
    except UnifwError:
        raise
    except Exception as e:
        raise fail(b, _UPDATE, (x, values), {"key": key, "mode": mode}, e) from e


def concrete_value(t: Tensor, what: str):
    """Host value of a tensor for bool()/float()/int(); a clear error while tracing.

    Inside a ``uf.function`` this raises on every backend, also where the value happens
    to be concrete (PyTorch runs the first call eagerly and breaks the graph on such a
    conversion; NumPy has no compiler): code that branches on a tensor would fail on JAX
    and TensorFlow, so it fails the same way everywhere."""
    b = t._b
    if trace_state.depth or (b.supports_compile and b.is_tracing(t._native)):
        raise TracingError(
            f"{what}() of a traced tensor on backend '{b.name}': a Python branch or conversion "
            "on a value that is only known when the compiled function runs. Use uf.cond / "
            "uf.where / uf.while_loop for data-dependent control flow, or mark the argument "
            "static (uf.function(..., static_argnums=...)).")
    a = b.to_numpy(t._native)  # checked above: no second check through t.numpy()
    if a.size != 1:
        raise ValueError(f"{what}() of a tensor with {a.size} elements is ambiguous")
    return a.reshape(()).item()
