"""unifw dtypes and the Array API type-promotion rules.

A :class:`DType` is a backend-independent value; each backend maps it to its
own dtype object. Promotion follows the Array API standard: within a kind
(bool, signed/unsigned integer, real float, complex) the lattice below; across
integer and floating kinds nothing is promoted implicitly (a
:class:`~unifw.errors.DTypeError` asks for an explicit ``astype``).
"""
from __future__ import annotations

import builtins

import numpy as np

__all__ = [
    "DType", "bool", "int8", "int16", "int32", "int64", "uint8", "float16", "bfloat16",
    "float32", "float64", "complex64", "complex128", "all_dtypes", "result_type",
    "as_dtype", "finfo", "iinfo", "isdtype",
]


class DType:
    """A unifw dtype. Compare with ``is`` or ``==``; ``str(d)`` is its name."""

    __slots__ = ("name", "kind", "bits", "_np")

    def __init__(self, name: str, kind: str, bits: int, np_dtype):
        self.name = name
        self.kind = kind  # "b" bool, "i" signed, "u" unsigned, "f" real float, "c" complex
        self.bits = bits
        self._np = np.dtype(np_dtype)

    @property
    def numpy_dtype(self) -> np.dtype:
        """The equivalent NumPy dtype (``ml_dtypes.bfloat16`` for bfloat16)."""
        return self._np

    @property
    def is_floating(self) -> bool:
        return self.kind == "f"

    @property
    def is_complex(self) -> bool:
        return self.kind == "c"

    @property
    def is_integer(self) -> bool:
        return self.kind in "iu"

    @property
    def itemsize(self) -> int:
        return self.bits // 8

    def __repr__(self) -> str:
        return f"uf.{self.name}"

    __str__ = lambda self: self.name  # noqa: E731

    def __eq__(self, other):
        if isinstance(other, DType):
            return self is other
        if isinstance(other, str):
            return self.name == other
        return NotImplemented

    def __hash__(self):
        return hash(self.name)

    def __reduce__(self):
        return (as_dtype, (self.name,))


def _bfloat16_np():
    import ml_dtypes

    return ml_dtypes.bfloat16


bool = DType("bool", "b", 8, np.bool_)  # noqa: A001 - Array API name
int8 = DType("int8", "i", 8, np.int8)
int16 = DType("int16", "i", 16, np.int16)
int32 = DType("int32", "i", 32, np.int32)
int64 = DType("int64", "i", 64, np.int64)
uint8 = DType("uint8", "u", 8, np.uint8)
float16 = DType("float16", "f", 16, np.float16)
bfloat16 = DType("bfloat16", "f", 16, _bfloat16_np())
float32 = DType("float32", "f", 32, np.float32)
float64 = DType("float64", "f", 64, np.float64)
complex64 = DType("complex64", "c", 64, np.complex64)
complex128 = DType("complex128", "c", 128, np.complex128)

all_dtypes = (bool, int8, int16, int32, int64, uint8, float16, bfloat16, float32, float64,
              complex64, complex128)
_by_name = {d.name: d for d in all_dtypes}
_by_np = {d._np: d for d in all_dtypes}
default_float = float32
default_int = int64


def as_dtype(x) -> DType:
    """Convert a name, NumPy dtype or DType to a :class:`DType`."""
    if isinstance(x, DType):
        return x
    if isinstance(x, str):
        try:
            return _by_name[x]
        except KeyError:
            pass
    else:
        try:
            return _by_np[np.dtype(x)]
        except (TypeError, KeyError):
            pass
    from .errors import DTypeError

    raise DTypeError(f"unsupported dtype {x!r}; unifw dtypes are "
                     f"{', '.join(d.name for d in all_dtypes)}")


def from_numpy_dtype(d) -> DType:
    return _by_np[np.dtype(d)]


# Array API promotion lattice (pairs not listed here and not identical are errors).
_LATTICE: dict[tuple[DType, DType], DType] = {}


def _rule(a, b, r):
    _LATTICE[(a, b)] = r
    _LATTICE[(b, a)] = r


for _chain in ((int8, int16, int32, int64),):
    for i, _a in enumerate(_chain):
        for _b in _chain[i:]:
            _rule(_a, _b, _b)
_rule(uint8, int8, int16)
_rule(uint8, int16, int16)
_rule(uint8, int32, int32)
_rule(uint8, int64, int64)
for _chain in ((float16, float32, float64), (bfloat16, float32, float64), (complex64, complex128)):
    for i, _a in enumerate(_chain):
        for _b in _chain[i:]:
            _rule(_a, _b, _b)
_rule(float16, bfloat16, float32)  # as torch and JAX do; outside the Array API
for _f, _c in ((float16, complex64), (bfloat16, complex64), (float32, complex64),
               (float64, complex128)):
    _rule(_f, _c, _c)
_rule(float64, complex64, complex128)
for _d in all_dtypes:
    _LATTICE[(_d, _d)] = _d


def promote_pair(a: DType, b: DType) -> DType | None:
    """Result dtype of an op on arrays of dtypes ``a`` and ``b``, or None if not allowed."""
    return _LATTICE.get((a, b))


def result_type(*arrays_and_dtypes) -> DType:
    """Array API ``result_type``: promote dtypes/tensors (Python scalars are weak)."""
    from .errors import DTypeError

    dts = []
    scalars = []
    for x in arrays_and_dtypes:
        if isinstance(x, (DType, str)):
            dts.append(as_dtype(x))
        elif hasattr(x, "dtype") and isinstance(x.dtype, DType):
            dts.append(x.dtype)
        elif isinstance(x, (int, float, complex)):
            scalars.append(x)
        else:
            dts.append(as_dtype(getattr(x, "dtype", x)))
    if not dts:
        raise DTypeError("result_type needs at least one array or dtype")
    r = dts[0]
    for d in dts[1:]:
        p = promote_pair(r, d)
        if p is None:
            raise DTypeError(f"result_type: no implicit promotion between {r} and {d}; "
                             "use astype to convert explicitly")
        r = p
    for s in scalars:
        r = scalar_result_dtype(r, s, "result_type")
    return r


def scalar_result_dtype(d: DType, s, op: str) -> DType:
    """Dtype of ``array(d) <op> python_scalar`` with weak scalar semantics."""
    t = type(s)
    k = d.kind
    if t is builtins.bool:
        if k == "b" or k in "iufc":
            return d
    elif t is int:
        if k in "iufc":
            return d
    elif t is float:
        if k in "fc":
            return d
    elif t is complex:
        if k == "c":
            return d
        if k == "f":
            return complex128 if d is float64 else complex64
    from .errors import DTypeError

    raise DTypeError(f"{op}: a Python {t.__name__} scalar does not combine with a {d} tensor "
                     f"without a silent cast; convert explicitly with astype")


class finfo:
    """Machine limits of a floating dtype (Array API ``finfo``)."""

    def __init__(self, dtype):
        d = as_dtype(getattr(dtype, "dtype", dtype))
        if d.kind not in "fc":
            from .errors import DTypeError

            raise DTypeError(f"finfo: {d} is not a floating dtype")
        if d.kind == "c":
            d = float32 if d is complex64 else float64
        import ml_dtypes

        fi = ml_dtypes.finfo(d._np)
        self.bits = int(fi.bits)
        self.eps = float(fi.eps)
        self.max = float(fi.max)
        self.min = float(fi.min)
        self.smallest_normal = float(fi.smallest_normal)
        self.dtype = d

    def __repr__(self):
        return f"finfo(dtype={self.dtype}, eps={self.eps}, max={self.max})"


class iinfo:
    """Machine limits of an integer dtype (Array API ``iinfo``)."""

    def __init__(self, dtype):
        d = as_dtype(getattr(dtype, "dtype", dtype))
        if d.kind not in "iu":
            from .errors import DTypeError

            raise DTypeError(f"iinfo: {d} is not an integer dtype")
        ii = np.iinfo(d._np)
        self.bits, self.max, self.min, self.dtype = int(ii.bits), int(ii.max), int(ii.min), d

    def __repr__(self):
        return f"iinfo(dtype={self.dtype}, min={self.min}, max={self.max})"


_KIND_GROUPS = {
    "bool": "b", "signed integer": "i", "unsigned integer": "u", "integral": "iu",
    "real floating": "f", "complex floating": "c", "numeric": "iufc",
}


def isdtype(dtype, kind) -> builtins_bool:  # type: ignore[name-defined]
    """Array API ``isdtype``."""
    dtype = as_dtype(dtype)
    if isinstance(kind, tuple):
        return any(isdtype(dtype, k) for k in kind)
    if isinstance(kind, str) and kind in _KIND_GROUPS:
        return dtype.kind in _KIND_GROUPS[kind]
    return dtype is as_dtype(kind)


builtins_bool = builtins.bool
