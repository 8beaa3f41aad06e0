"""Array API ops (``uf.*``) for the TensorFlow backend.

Hot elementwise ops and reductions call ``tf.raw_ops`` directly: the public
``tf.math`` wrappers add a dispatch layer that costs several times the kernel
launch in eager mode. Where TensorFlow's semantics differ from the Array API
(NaN ordering, signed zeros, integer kernels it lacks, shift counts beyond
the bit width, NumPy-style indexing) the difference is handled here.
"""
import builtins
import math
import operator

import numpy as np
import tensorflow as tf

from unifw import _dtypes
from unifw.errors import DTypeError

from .core import _HOST_ONLY, _cached_scalar, _constant, _ints, _placed, device_of, dtype_map

R = tf.raw_ops

_HALF = frozenset({tf.float16, tf.bfloat16})
_COMPLEX = frozenset({tf.complex64, tf.complex128})
_REAL_OF = {tf.complex64: tf.float32, tf.complex128: tf.float64}
# Array API: sum/prod/cumulative_sum of bool and narrow integers accumulate in int64
_ACC = {tf.bool: tf.int64, tf.int8: tf.int64, tf.int16: tf.int64, tf.int32: tf.int64,
        tf.uint8: tf.int64}
_BITS = {tf.int8: 8, tf.uint8: 8, tf.int16: 16, tf.int32: 32, tf.int64: 64}
# integer type of the same width, for bit-level float work
_SAME_WIDTH_INT = {tf.float16: tf.int16, tf.bfloat16: tf.int16, tf.float32: tf.int32,
                   tf.float64: tf.int64}


def _same(x):
    """``x`` as an immutable value: reading a tf.Variable gives a snapshot."""
    return tf.identity(x) if isinstance(x, tf.Variable) else x


def _scalar(value, dtype):
    """A 0-d constant (made once per value and dtype in eager mode)."""
    if tf.executing_eagerly():
        return _cached_scalar(value, dtype, None)
    return _constant(value, dtype)


def _shape(x):
    """Static shape as a list where known, else the dynamic shape tensor."""
    s = x.shape
    return s.as_list() if s.is_fully_defined() else tf.shape(x)


def _dim(x, axis):
    d = x.shape[axis]
    return d if d is not None else tf.shape(x)[axis]


def _axes(x, axis):
    """Normalised tuple of reduction axes (all axes for None)."""
    nd = x.shape.rank
    if axis is None:
        return tuple(range(nd))
    if isinstance(axis, int):
        return (axis,)
    return tuple(axis)


def _eager_gpu(x):
    return not _HOST_ONLY and tf.executing_eagerly() and device_of(x) != "cpu"


# ------------------------------------------------------------------ elementwise, unary
def _raw_unary(op, name):
    def f(x, /):
        return op(x=x)
    f.__name__ = f.__qualname__ = name
    return f


acos, acosh, asin, asinh = (_raw_unary(R.Acos, "acos"), _raw_unary(R.Acosh, "acosh"),
                            _raw_unary(R.Asin, "asin"), _raw_unary(R.Asinh, "asinh"))
atan, atanh, cos, cosh = (_raw_unary(R.Atan, "atan"), _raw_unary(R.Atanh, "atanh"),
                          _raw_unary(R.Cos, "cos"), _raw_unary(R.Cosh, "cosh"))
exp, expm1, log, log1p = (_raw_unary(R.Exp, "exp"), _raw_unary(R.Expm1, "expm1"),
                          _raw_unary(R.Log, "log"), _raw_unary(R.Log1p, "log1p"))
sin, sinh, sqrt, tan, tanh = (_raw_unary(R.Sin, "sin"), _raw_unary(R.Sinh, "sinh"),
                              _raw_unary(R.Sqrt, "sqrt"), _raw_unary(R.Tan, "tan"),
                              _raw_unary(R.Tanh, "tanh"))
square = _raw_unary(R.Square, "square")
logical_not = _raw_unary(R.LogicalNot, "logical_not")

_LN2 = math.log(2.0)
_LN10 = math.log(10.0)


def _log_base(x, ln_base):
    y = R.Log(x=x)
    if x.dtype in _COMPLEX:  # scale the parts: a complex division would turn inf into nan
        re, im = _complex_parts(y)
        c = _scalar(ln_base, re.dtype)
        return R.Complex(real=R.RealDiv(x=re, y=c), imag=R.RealDiv(x=im, y=c), Tout=x.dtype)
    return R.RealDiv(x=y, y=_scalar(ln_base, x.dtype))


def log2(x, /):
    return _log_base(x, _LN2)


def log10(x, /):
    return _log_base(x, _LN10)


def ceil(x, /):
    return R.Ceil(x=x) if x.dtype.is_floating else _same(x)


def floor(x, /):
    return R.Floor(x=x) if x.dtype.is_floating else _same(x)


def trunc(x, /):
    if not x.dtype.is_floating:
        return _same(x)
    # ceil of negatives keeps -0.0 for (-1, 0), as NumPy does
    return R.SelectV2(condition=R.Less(x=x, y=_scalar(0, x.dtype)), t=R.Ceil(x=x),
                      e=R.Floor(x=x))


def round(x, /):
    d = x.dtype
    if d.is_floating:
        return R.Round(x=x)  # half to even
    if d in _COMPLEX:
        rd = _REAL_OF[d]
        return R.Complex(real=R.Round(x=R.Real(input=x, Tout=rd)),
                         imag=R.Round(x=R.Imag(input=x, Tout=rd)), Tout=d)
    return _same(x)


def abs(x, /):
    d = x.dtype
    if d in _COMPLEX:
        return R.ComplexAbs(x=x, Tout=_REAL_OF[d])
    if d == tf.uint8:
        return _same(x)
    return R.Abs(x=x)


def negative(x, /):
    if x.dtype == tf.uint8:
        return R.Sub(x=_scalar(0, tf.uint8), y=x)  # wraps modulo 256, as NumPy
    return R.Neg(x=x)


def positive(x, /):
    return _same(x)


def sign(x, /):
    if x.dtype == tf.uint8:
        return R.Cast(x=R.Greater(x=x, y=_scalar(0, tf.uint8)), DstT=tf.uint8)
    return R.Sign(x=x)


def signbit(x, /):
    bits = R.Bitcast(input=x, type=_SAME_WIDTH_INT[x.dtype])
    return R.Less(x=bits, y=_scalar(0, bits.dtype))


def _complex_parts(x):
    rd = _REAL_OF[x.dtype]
    return R.Real(input=x, Tout=rd), R.Imag(input=x, Tout=rd)


def isfinite(x, /):
    d = x.dtype
    if d.is_floating:
        return R.IsFinite(x=x)
    if d in _COMPLEX:
        re, im = _complex_parts(x)
        return R.LogicalAnd(x=R.IsFinite(x=re), y=R.IsFinite(x=im))
    return R.Equal(x=x, y=x)  # integers are always finite


def isinf(x, /):
    d = x.dtype
    if d.is_floating:
        return R.IsInf(x=x)
    if d in _COMPLEX:
        re, im = _complex_parts(x)
        return R.LogicalOr(x=R.IsInf(x=re), y=R.IsInf(x=im))
    return R.NotEqual(x=x, y=x)


def isnan(x, /):
    d = x.dtype
    if d.is_floating:
        return R.IsNan(x=x)
    if d in _COMPLEX:
        re, im = _complex_parts(x)
        return R.LogicalOr(x=R.IsNan(x=re), y=R.IsNan(x=im))
    return R.NotEqual(x=x, y=x)


def conj(x, /):
    return R.Conj(input=x) if x.dtype in _COMPLEX else _same(x)


def real(x, /):
    return R.Real(input=x, Tout=_REAL_OF[x.dtype]) if x.dtype in _COMPLEX else _same(x)


def imag(x, /):
    if x.dtype in _COMPLEX:
        return R.Imag(input=x, Tout=_REAL_OF[x.dtype])
    return zeros_like(x)


def bitwise_invert(x, /):
    return R.LogicalNot(x=x) if x.dtype == tf.bool else R.Invert(x=x)


# ------------------------------------------------------------------ elementwise, binary
def add(x1, x2, /):
    return R.AddV2(x=x1, y=x2)


def subtract(x1, x2, /):
    return R.Sub(x=x1, y=x2)


def multiply(x1, x2, /):
    return R.Mul(x=x1, y=x2)


def divide(x1, x2, /):
    return R.RealDiv(x=x1, y=x2)


def pow(x1, x2, /):
    if x1.dtype == tf.uint8:  # no uint8 kernel; wrap-around agrees modulo 256
        return R.Cast(x=R.Pow(x=R.Cast(x=x1, DstT=tf.int32), y=R.Cast(x=x2, DstT=tf.int32)),
                      DstT=tf.uint8)
    out = R.Pow(x=x1, y=x2)
    if x1.dtype in _COMPLEX:
        # TF computes exp(y log x), which is NaN at x == 0; NumPy: z**0 == 1, 0**y == 0
        zero = _scalar(0, x1.dtype)
        re2 = R.Real(input=x2, Tout=_REAL_OF[x1.dtype])
        base_zero = R.LogicalAnd(x=R.Equal(x=x1, y=zero),
                                 y=R.Greater(x=re2, y=_scalar(0, re2.dtype)))
        out = R.SelectV2(condition=base_zero, t=zero, e=out)
        out = R.SelectV2(condition=R.Equal(x=x2, y=zero), t=_scalar(1, x1.dtype), e=out)
    return out


def maximum(x1, x2, /):
    return R.Maximum(x=x1, y=x2)


def minimum(x1, x2, /):
    return R.Minimum(x=x1, y=x2)


def atan2(x1, x2, /):
    return R.Atan2(y=x1, x=x2)


def _stable_shift(m):
    """``m`` held constant for gradients, and 0 where it is not finite."""
    m = R.StopGradient(input=m)
    return R.SelectV2(condition=R.IsFinite(x=m), t=m, e=_scalar(0, m.dtype))


def hypot(x1, x2, /):
    # scaled by the larger magnitude so that large inputs do not overflow (as C hypot); the
    # scale is a constant for gradients, which stay x / hypot even where |x1| == |x2|
    a, b = R.Abs(x=x1), R.Abs(x=x2)
    s = _stable_shift(R.Maximum(x=a, y=b))
    s = R.SelectV2(condition=R.Greater(x=s, y=_scalar(0, s.dtype)), t=s, e=_scalar(1, s.dtype))
    r = R.Mul(x=s, y=R.Sqrt(x=R.AddV2(x=R.Square(x=R.RealDiv(x=x1, y=s)),
                                       y=R.Square(x=R.RealDiv(x=x2, y=s)))))
    inf = R.LogicalOr(x=R.IsInf(x=a), y=R.IsInf(x=b))  # hypot(inf, nan) is inf
    return R.SelectV2(condition=inf, t=_scalar(math.inf, r.dtype), e=r)


def logaddexp(x1, x2, /):
    # shift + log1p(exp(x1 - shift) + exp(x2 - shift) - 1) with the max as a constant shift:
    # NumPy's precision, and exact gradients also at x1 == x2 (where max() has a kink)
    shift = _stable_shift(R.Maximum(x=x1, y=x2))
    a, b = R.Sub(x=x1, y=shift), R.Sub(x=x2, y=shift)
    rest = R.SelectV2(condition=R.GreaterEqual(x=a, y=b),
                      t=R.AddV2(x=R.Expm1(x=a), y=R.Exp(x=b)),
                      e=R.AddV2(x=R.Exp(x=a), y=R.Expm1(x=b)))
    return R.AddV2(x=shift, y=R.Log1p(x=rest))


def _zero_with_sign_of(x):
    d = x.dtype
    return R.SelectV2(condition=signbit(x), t=_scalar(-0.0, d), e=_scalar(0.0, d))


def _int_divmod(op, x1, x2):
    # TF's integer kernels fail on a zero divisor; NumPy gives 0
    zero = _scalar(0, x1.dtype)
    is_zero = R.Equal(x=x2, y=zero)
    safe = R.SelectV2(condition=is_zero, t=_scalar(1, x1.dtype), e=x2)
    return R.SelectV2(condition=is_zero, t=zero, e=op(x=x1, y=safe))


def remainder(x1, x2, /):
    if not x1.dtype.is_floating:
        return _int_divmod(R.FloorMod, x1, x2)
    mod = R.FloorMod(x=x1, y=x2)
    # a zero remainder takes the sign of the divisor (Python, NumPy)
    return R.SelectV2(condition=R.Equal(x=mod, y=_scalar(0, mod.dtype)),
                      t=_zero_with_sign_of(x2), e=mod)


def floor_divide(x1, x2, /):
    if not x1.dtype.is_floating:
        return _int_divmod(R.FloorDiv, x1, x2)
    d = x1.dtype
    if d in _HALF:
        return R.Cast(x=floor_divide(R.Cast(x=x1, DstT=tf.float32),
                                     R.Cast(x=x2, DstT=tf.float32)), DstT=d)
    # Python's float floor division (exact where floor(x1 / x2) is not): NumPy's divmod
    zero = _scalar(0, d)
    mod = R.TruncateMod(x=x1, y=x2)
    div = R.RealDiv(x=R.Sub(x=x1, y=mod), y=x2)
    fix = R.LogicalAnd(x=R.NotEqual(x=mod, y=zero),
                       y=R.NotEqual(x=R.Less(x=x2, y=zero), y=R.Less(x=mod, y=zero)))
    div = R.SelectV2(condition=fix, t=R.Sub(x=div, y=_scalar(1, d)), e=div)
    fl = R.Floor(x=div)
    fl = R.SelectV2(condition=R.Greater(x=R.Sub(x=div, y=fl), y=_scalar(0.5, d)),
                    t=R.AddV2(x=fl, y=_scalar(1, d)), e=fl)
    quotient = R.RealDiv(x=x1, y=x2)
    fl = R.SelectV2(condition=R.Equal(x=div, y=zero), t=_zero_with_sign_of(quotient), e=fl)
    return R.SelectV2(condition=R.Equal(x=x2, y=zero), t=quotient, e=fl)


def equal(x1, x2, /):
    return R.Equal(x=x1, y=x2)


def not_equal(x1, x2, /):
    return R.NotEqual(x=x1, y=x2)


def less(x1, x2, /):
    return R.Less(x=x1, y=x2)


def less_equal(x1, x2, /):
    return R.LessEqual(x=x1, y=x2)


def greater(x1, x2, /):
    return R.Greater(x=x1, y=x2)


def greater_equal(x1, x2, /):
    return R.GreaterEqual(x=x1, y=x2)


def logical_and(x1, x2, /):
    return R.LogicalAnd(x=x1, y=x2)


def logical_or(x1, x2, /):
    return R.LogicalOr(x=x1, y=x2)


def logical_xor(x1, x2, /):
    return R.NotEqual(x=x1, y=x2)


def bitwise_and(x1, x2, /):
    if x1.dtype == tf.bool:
        return R.LogicalAnd(x=x1, y=x2)
    return R.BitwiseAnd(x=x1, y=x2)


def bitwise_or(x1, x2, /):
    if x1.dtype == tf.bool:
        return R.LogicalOr(x=x1, y=x2)
    return R.BitwiseOr(x=x1, y=x2)


def bitwise_xor(x1, x2, /):
    if x1.dtype == tf.bool:
        return R.NotEqual(x=x1, y=x2)
    return R.BitwiseXor(x=x1, y=x2)


def bitwise_left_shift(x1, x2, /):
    # TF leaves shifts by >= the bit width undefined; NumPy gives 0
    d = x1.dtype
    shifted = R.LeftShift(x=x1, y=x2)
    return R.SelectV2(condition=R.GreaterEqual(x=x2, y=_scalar(_BITS[d], d)),
                      t=_scalar(0, d), e=shifted)


def bitwise_right_shift(x1, x2, /):
    d = x1.dtype
    if d == tf.uint8:
        return R.SelectV2(condition=R.GreaterEqual(x=x2, y=_scalar(8, d)), t=_scalar(0, d),
                          e=R.RightShift(x=x1, y=x2))
    # arithmetic shift by width-1 already gives NumPy's 0 / -1
    return R.RightShift(x=x1, y=R.Minimum(x=x2, y=_scalar(_BITS[d] - 1, d)))


def _bound(b, dtype):
    """A clip bound in ``x``'s dtype; integer bounds outside its range saturate."""
    if b.dtype != dtype and dtype.is_integer and b.dtype.is_integer:
        b = R.ClipByValue(t=b, clip_value_min=_scalar(dtype.min, b.dtype),
                          clip_value_max=_scalar(dtype.max, b.dtype))
    return _cast(b, dtype)


def clip(x, /, min=None, max=None):
    if min is None and max is None:
        return _same(x)
    out = x
    if min is not None:
        out = R.Maximum(x=out, y=_bound(min, x.dtype))
    if max is not None:
        out = R.Minimum(x=out, y=_bound(max, x.dtype))
    return out


# ------------------------------------------------------------------ creation
def _shape_arg(shape):
    return (shape,) if isinstance(shape, int) else tuple(shape)


def arange(start, /, stop=None, step=1, *, dtype=None, device=None):
    if stop is None:
        start, stop = 0, start
    if dtype is None:
        is_float = builtins.any(isinstance(v, float) for v in (start, stop, step))
        dtype = tf.float32 if is_float else tf.int64
    n = builtins.max(0, math.ceil((stop - start) / step))  # TF refuses empty ranges
    with _placed(device):
        if dtype.is_integer:
            return tf.range(start, start + n * step, step, dtype=dtype)
        # float ranges are computed in float64 and rounded once, as NumPy does
        i = tf.range(n, dtype=tf.float64)
        return tf.cast(i * float(step) + float(start), dtype)


def _fill(shape, value, dtype):
    dims = shape if tf.is_tensor(shape) else _ints(_shape_arg(shape))
    return R.Fill(dims=dims, value=_scalar(value, dtype))


def empty(shape, *, dtype=None, device=None):
    return zeros(shape, dtype=dtype, device=device)


def zeros(shape, *, dtype=None, device=None):
    with _placed(device):
        return _fill(shape, 0, dtype or tf.float32)


def ones(shape, *, dtype=None, device=None):
    with _placed(device):
        return _fill(shape, 1, dtype or tf.float32)


def _infer_fill_dtype(value):
    if isinstance(value, bool):
        return tf.bool
    if isinstance(value, int):
        return tf.int64
    if isinstance(value, complex):
        return tf.complex64
    return tf.float32


def full(shape, fill_value, *, dtype=None, device=None):
    with _placed(device):
        return _fill(shape, fill_value, dtype or _infer_fill_dtype(fill_value))


def eye(n_rows, n_cols=None, /, *, k=0, dtype=None, device=None):
    n_cols = n_rows if n_cols is None else n_cols
    dtype = dtype or tf.float32
    with _placed(device):
        if k == 0:
            return tf.eye(n_rows, n_cols, dtype=dtype)
        rows = tf.range(n_rows, dtype=tf.int64)[:, None]
        cols = tf.range(n_cols, dtype=tf.int64)[None, :]
        return tf.cast(tf.equal(cols - rows, k), dtype)


def linspace(start, stop, /, num, *, dtype=None, device=None, endpoint=True):
    cplx = isinstance(start, complex) or isinstance(stop, complex)
    if dtype is None:
        dtype = tf.complex64 if cplx else tf.float32
    work = tf.complex128 if cplx or dtype in _COMPLEX else tf.float64
    div = num - 1 if endpoint else num
    with _placed(device):
        i = tf.cast(tf.range(num, dtype=tf.float64), work)
        if div > 0:
            y = i * tf.constant((stop - start) / div, work) + tf.constant(start, work)
        else:
            y = i * tf.constant(stop - start, work) + tf.constant(start, work)
        if endpoint and num > 1:  # the last point is exactly ``stop``, as NumPy
            y = tf.concat([y[:-1], tf.constant([stop], work)], 0)
        return tf.cast(y, dtype)


def _like(x, value, dtype, device):
    with _placed(device or device_of(x)):
        return _fill(_shape(x), value, dtype or x.dtype)


def zeros_like(x, /, *, dtype=None, device=None):
    return _like(x, 0, dtype, device)


def ones_like(x, /, *, dtype=None, device=None):
    return _like(x, 1, dtype, device)


def empty_like(x, /, *, dtype=None, device=None):
    return _like(x, 0, dtype, device)


def full_like(x, /, fill_value, *, dtype=None, device=None):
    return _like(x, fill_value, dtype, device)


def _band_mask(x, keep):
    n, m = _dim(x, -2), _dim(x, -1)
    rows = tf.range(n, dtype=tf.int64)[:, None]
    cols = tf.range(m, dtype=tf.int64)[None, :]
    return R.SelectV2(condition=keep(cols - rows), t=x, e=_scalar(0, x.dtype))


def tril(x, /, *, k=0):
    if x.shape.rank < 2:
        raise ValueError("tril: input must have at least 2 dimensions")
    m = x.shape[-1]
    if k >= 0 and m is not None:  # TF's band kernel: -1 keeps the whole upper part
        return tf.linalg.band_part(x, -1, -1 if k >= m else k)
    return _band_mask(x, lambda d: d <= k)


def triu(x, /, *, k=0):
    if x.shape.rank < 2:
        raise ValueError("triu: input must have at least 2 dimensions")
    n = x.shape[-2]
    if k <= 0 and n is not None:
        return tf.linalg.band_part(x, -1 if -k >= n else -k, -1)
    return _band_mask(x, lambda d: d >= k)


def meshgrid(*arrays, indexing="xy"):
    if indexing not in ("xy", "ij"):
        raise ValueError(f"meshgrid: indexing must be 'xy' or 'ij', got {indexing!r}")
    return tuple(tf.meshgrid(*arrays, indexing=indexing))


# ------------------------------------------------------------------ manipulation
def _cast(x, dtype):
    if x.dtype == dtype:
        return x
    if x.dtype in _COMPLEX and dtype not in _COMPLEX:
        x = R.Real(input=x, Tout=_REAL_OF[x.dtype])  # the real part, as NumPy
        if x.dtype == dtype:
            return x
    return R.Cast(x=x, DstT=dtype)


def astype(x, dtype, /, *, copy=True, device=None):
    if device is not None and device_of(x) != device:
        with _placed(device):
            return tf.identity(_cast(x, dtype))
    if x.dtype == dtype:
        return tf.identity(x) if copy else _same(x)
    return _cast(x, dtype)


def broadcast_to(x, /, shape):
    return R.BroadcastTo(input=x, shape=_ints(_shape_arg(shape)))


def broadcast_arrays(*arrays):
    if not arrays:
        return ()
    shape = arrays[0].shape
    for a in arrays[1:]:
        shape = tf.broadcast_static_shape(shape, a.shape)
    if shape.is_fully_defined():
        target = shape.as_list()
    else:
        target = tf.shape(arrays[0])
        for a in arrays[1:]:
            target = tf.broadcast_dynamic_shape(target, tf.shape(a))
    return tuple(tf.broadcast_to(a, target) for a in arrays)


def concat(arrays, /, *, axis=0):
    if axis is None:
        return tf.concat([tf.reshape(a, [-1]) for a in arrays], 0)
    return tf.concat(list(arrays), axis)


def stack(arrays, /, *, axis=0):
    return tf.stack(list(arrays), axis=axis)


def unstack(x, /, *, axis=0):
    return tuple(tf.unstack(x, axis=axis))


def expand_dims(x, /, *, axis=0):
    nd = x.shape.rank
    if not -nd - 1 <= axis <= nd:
        raise IndexError(f"expand_dims: axis {axis} out of range for {nd}-d input")
    return R.ExpandDims(input=x, axis=axis)


def squeeze(x, /, axis):
    if axis is None:
        return tf.squeeze(x)
    axes = [axis] if isinstance(axis, int) else list(axis)
    return tf.squeeze(x, axes) if axes else _same(x)


def flip(x, /, *, axis=None):
    nd = x.shape.rank
    return R.ReverseV2(tensor=x, axis=_ints([_norm_axis(a, nd) for a in _axes(x, axis)]))


def roll(x, /, shift, *, axis=None):
    if axis is None:
        return tf.reshape(tf.roll(tf.reshape(x, [-1]), shift, 0), _shape(x))
    if isinstance(axis, int):
        axis = (axis,)
        shift = (shift,) if isinstance(shift, int) else shift
    elif isinstance(shift, int):
        shift = (shift,) * len(axis)
    return tf.roll(x, list(shift), list(axis))


def _norm_axis(axis, nd):
    if not -nd <= axis < nd:
        raise IndexError(f"axis {axis} is out of bounds for a {nd}-d tensor")
    return axis % nd


def moveaxis(x, source, destination, /):
    nd = x.shape.rank
    src = [_norm_axis(a, nd) for a in ((source,) if isinstance(source, int) else source)]
    dst = [_norm_axis(a, nd) for a in
           ((destination,) if isinstance(destination, int) else destination)]
    if len(src) != len(dst):
        raise ValueError("moveaxis: source and destination must have the same length")
    order = [a for a in range(nd) if a not in src]
    for d, s in sorted(zip(dst, src)):
        order.insert(d, s)
    return R.Transpose(x=x, perm=_ints(order))


def permute_dims(x, /, axes):
    return R.Transpose(x=x, perm=_ints(axes))


def reshape(x, /, shape, *, copy=None):
    return R.Reshape(tensor=x, shape=_ints(_shape_arg(shape)))


def repeat(x, repeats, /, *, axis=None):
    if hasattr(repeats, "_native"):  # a unifw Tensor of counts
        repeats = repeats._native
    if axis is None:
        x, axis = tf.reshape(x, [-1]), 0
    return tf.repeat(x, repeats, axis=axis)


def tile(x, repetitions, /):
    reps = list(repetitions)
    nd = x.shape.rank
    if len(reps) < nd:
        reps = [1] * (nd - len(reps)) + reps
    elif len(reps) > nd:
        x = tf.reshape(x, [1] * (len(reps) - nd) + _as_list(_shape(x)))
    return tf.tile(x, reps)


def _as_list(shape):
    return shape if isinstance(shape, list) else tf.unstack(shape)


def matrix_transpose(x, /):
    nd = x.shape.rank
    if nd < 2:
        raise ValueError(f"matrix_transpose: a {nd}-d input has no axis -2")
    return R.Transpose(x=x, perm=_ints(list(range(nd - 2)) + [nd - 1, nd - 2]))


def _index_dtype(i):
    return i if i.dtype in (tf.int32, tf.int64) else R.Cast(x=i, DstT=tf.int64)


def _wrap_negative(i, n):
    """NumPy's negative indices; out-of-range indices are left for the kernel to refuse."""
    i = _index_dtype(i)
    n = tf.cast(n, i.dtype) if tf.is_tensor(n) else _scalar(n, i.dtype)
    return R.SelectV2(condition=R.Less(x=i, y=_scalar(0, i.dtype)), t=R.AddV2(x=i, y=n), e=i)


class _IndexErrors:
    """Context that re-raises TF's out-of-range-index errors as ``IndexError``.

    TF reports them as InvalidArgumentError (eagerly, on CPU); unifw users expect
    IndexError, like NumPy. Other errors pass through unchanged.
    """

    __slots__ = ()
    _MARKERS = ("is not in [", "does not index into", "out of bounds", "Index out of range")

    def __enter__(self):
        return self

    def __exit__(self, typ, exc, tb):
        if typ is not None and issubclass(typ, tf.errors.InvalidArgumentError):
            msg = exc.message
            if builtins.any(m in msg for m in self._MARKERS):
                raise IndexError(f"index out of range: {msg.split('}}')[-1].strip()}") from exc
        return False


_index_errors = _IndexErrors()


def _check_bounds(i, n, x):
    # TF kernels refuse out-of-range indices on CPU but return zeros on GPU
    if _eager_gpu(x):
        bad = tf.reduce_any((i < 0) | (i >= tf.cast(n, i.dtype)))
        if bool(bad):
            raise IndexError(f"index out of range for an axis of size {int(n)}")


def take(x, indices, /, *, axis=None):
    if axis is None:
        if x.shape.rank != 1:
            raise ValueError("take: axis is required for tensors with more than one dimension")
        axis = 0
    n = _dim(x, axis)
    i = _wrap_negative(indices, n)
    _check_bounds(i, n, x)
    with _index_errors:
        return tf.gather(x, i, axis=axis)


def take_along_axis(x, indices, /, *, axis=-1):
    nd = x.shape.rank
    if indices.shape.rank != nd:
        raise ValueError("take_along_axis: x and indices must have the same number of dims")
    axis = _norm_axis(axis, nd)
    xm, im = tf.experimental.numpy.moveaxis(x, axis, -1), tf.experimental.numpy.moveaxis(
        indices, axis, -1)
    batch = tf.broadcast_dynamic_shape(tf.shape(xm)[:-1], tf.shape(im)[:-1])
    xm = tf.broadcast_to(xm, tf.concat([batch, tf.shape(xm)[-1:]], 0))
    im = tf.broadcast_to(im, tf.concat([batch, tf.shape(im)[-1:]], 0))
    n = _dim(x, axis)
    im = _wrap_negative(im, n)
    _check_bounds(im, n, x)
    with _index_errors:
        out = tf.gather(xm, im, batch_dims=nd - 1)
    return tf.experimental.numpy.moveaxis(out, -1, axis)


def where(condition, x1, x2, /):
    return R.SelectV2(condition=condition, t=x1, e=x2)


def diff(x, /, *, axis=-1, n=1):
    nd = x.shape.rank
    axis = _norm_axis(axis, nd)
    head = [slice(None)] * axis
    for _ in range(n):
        x = R.Sub(x=x[tuple(head + [slice(1, None)])], y=x[tuple(head + [slice(None, -1)])])
    return x


# ------------------------------------------------------------------ linear algebra
_NO_MATMUL_KERNEL = frozenset({tf.int8, tf.uint8})


def matmul(x1, x2, /):
    d = x1.dtype
    if d in _NO_MATMUL_KERNEL:  # wrap-around arithmetic agrees modulo 2**8
        return R.Cast(x=matmul(R.Cast(x=x1, DstT=tf.int32), R.Cast(x=x2, DstT=tf.int32)),
                      DstT=d)
    r1, r2 = x1.shape.rank, x2.shape.rank
    if r1 == 0 or r2 == 0:
        raise ValueError("matmul: 0-d operands are not allowed")
    if r1 == 1 and r2 == 1:
        if x1.shape[0] != x2.shape[0]:
            raise ValueError(f"matmul: shapes {x1.shape} and {x2.shape} do not align")
        return R.Sum(input=R.Mul(x=x1, y=x2), axis=0, keep_dims=False)
    if r1 == 1:
        return R.Squeeze(input=matmul(R.ExpandDims(input=x1, axis=0), x2), axis=[-2])
    if r2 == 1:
        return R.Squeeze(input=matmul(x1, R.ExpandDims(input=x2, axis=1)), axis=[-1])
    if r1 == 2 and r2 == 2 and d != tf.int16:
        return R.MatMul(a=x1, b=x2)
    return R.BatchMatMulV2(x=x1, y=x2)


def tensordot(x1, x2, /, *, axes=2):
    d = x1.dtype
    if d in _NO_MATMUL_KERNEL or d == tf.int16:
        return R.Cast(x=tensordot(R.Cast(x=x1, DstT=tf.int32), R.Cast(x=x2, DstT=tf.int32),
                                  axes=axes), DstT=d)
    n1, n2 = x1.shape.rank, x2.shape.rank
    if isinstance(axes, int):
        if not 0 <= axes <= builtins.min(n1, n2):
            raise ValueError(f"tensordot: axes={axes} for inputs of {n1} and {n2} dims")
        a1, a2 = list(range(n1 - axes, n1)), list(range(axes))
    else:
        a1, a2 = ([_norm_axis(a, n) for a in ((ax,) if isinstance(ax, int) else ax)]
                  for ax, n in zip(axes, (n1, n2)))
    s1, s2 = [x1.shape[a] for a in a1], [x2.shape[a] for a in a2]
    if len(a1) != len(a2) or builtins.any(
            p is not None and q is not None and p != q for p, q in zip(s1, s2)):
        raise ValueError(f"tensordot: contracted dimensions {s1} and {s2} differ")
    return tf.tensordot(x1, x2, [a1, a2])


def vecdot(x1, x2, /, *, axis=-1):
    n1, n2 = x1.shape[axis], x2.shape[axis]
    if n1 is not None and n2 is not None and n1 != n2:
        raise ValueError(f"vecdot: axis {axis} has size {n1} in x1 and {n2} in x2")
    prod_ = R.Mul(x=conj(x1), y=x2)
    return R.Sum(input=prod_, axis=axis, keep_dims=False)


# ------------------------------------------------------------------ statistics
def _reduce(op, x, axis, keepdims):
    axes = _axes(x, axis)
    if not axes:
        return _same(x)
    return op(input=x, axis=_ints(axes), keep_dims=keepdims)


def sum(x, /, *, axis=None, dtype=None, keepdims=False):
    x = _cast(x, dtype or _ACC.get(x.dtype, x.dtype))
    return _reduce(R.Sum, x, axis, keepdims)


def prod(x, /, *, axis=None, dtype=None, keepdims=False):
    x = _cast(x, dtype or _ACC.get(x.dtype, x.dtype))
    return _reduce(R.Prod, x, axis, keepdims)


def _refuse_empty(x, axis, name):
    s = x.shape
    if builtins.any(s[a] == 0 for a in _axes(x, axis)):
        raise ValueError(f"{name}: zero-size reduction has no identity")


def max(x, /, *, axis=None, keepdims=False):
    _refuse_empty(x, axis, "max")
    return _reduce(R.Max, x, axis, keepdims)


def min(x, /, *, axis=None, keepdims=False):
    _refuse_empty(x, axis, "min")
    return _reduce(R.Min, x, axis, keepdims)


def mean(x, /, *, axis=None, keepdims=False):
    if x.dtype in _HALF:  # accumulate in float32, as NumPy does for float16
        return R.Cast(x=mean(R.Cast(x=x, DstT=tf.float32), axis=axis, keepdims=keepdims),
                      DstT=x.dtype)
    return _reduce(R.Mean, x, axis, keepdims)


def var(x, /, *, axis=None, correction=0.0, keepdims=False):
    d = x.dtype
    if d in _HALF:
        return R.Cast(x=var(R.Cast(x=x, DstT=tf.float32), axis=axis, correction=correction,
                            keepdims=keepdims), DstT=d)
    axes = _axes(x, axis)
    ax = _ints(axes)
    dev = R.Sub(x=x, y=R.Mean(input=x, axis=ax, keep_dims=True)) if axes else R.Sub(x=x, y=x)
    sq = R.Square(x=abs(dev)) if d in _COMPLEX else R.Square(x=dev)
    total = R.Sum(input=sq, axis=ax, keep_dims=keepdims) if axes else sq
    rd = total.dtype
    dims = [x.shape[a] for a in axes]
    if builtins.all(d is not None for d in dims):
        count = _scalar(math.prod(dims), rd)
    else:
        sizes = tf.gather(tf.shape(x), [a % x.shape.rank for a in axes])
        count = R.Cast(x=R.Prod(input=sizes, axis=0, keep_dims=False), DstT=rd)
    dof = R.Maximum(x=R.Sub(x=count, y=_scalar(correction, rd)), y=_scalar(0, rd))
    return R.RealDiv(x=total, y=dof)


def std(x, /, *, axis=None, correction=0.0, keepdims=False):
    return R.Sqrt(x=var(x, axis=axis, correction=correction, keepdims=keepdims))


def _cumulative(op, x, axis, dtype, include_initial, initial):
    if axis is None:
        if x.shape.rank != 1:
            raise ValueError("axis is required for tensors with more than one dimension")
        axis = 0
    x = _cast(x, dtype or _ACC.get(x.dtype, x.dtype))
    out = op(x=x, axis=axis, exclusive=False, reverse=False)
    if include_initial:
        nd = x.shape.rank
        pads = [[0, 0]] * nd
        pads[axis % nd] = [1, 0]
        out = tf.pad(out, pads, constant_values=_scalar(initial, out.dtype))
    return out


def cumulative_sum(x, /, *, axis=None, dtype=None, include_initial=False):
    return _cumulative(R.Cumsum, x, axis, dtype, include_initial, 0)


def cumulative_prod(x, /, *, axis=None, dtype=None, include_initial=False):
    return _cumulative(R.Cumprod, x, axis, dtype, include_initial, 1)


def _truthy(x):
    return x if x.dtype == tf.bool else R.NotEqual(x=x, y=_scalar(0, x.dtype))


def all(x, /, *, axis=None, keepdims=False):
    return _reduce(R.All, _truthy(x), axis, keepdims)


def any(x, /, *, axis=None, keepdims=False):
    return _reduce(R.Any, _truthy(x), axis, keepdims)


# ------------------------------------------------------------------ searching
def _arg_extreme(op, x, axis, keepdims, name):
    _refuse_empty(x, axis, name)
    nd = x.shape.rank
    if axis is None:
        flat = R.Reshape(tensor=x, shape=_ints((-1,)))
        out = _arg_extreme(op, flat, 0, False, name)
        return R.Reshape(tensor=out, shape=_ints((1,) * nd)) if keepdims else out
    out = op(input=x, dimension=axis, output_type=tf.int64)
    if x.dtype.is_floating:
        # NumPy returns the first NaN; TF's kernels skip NaNs
        nan = R.IsNan(x=x)
        first_nan = R.ArgMax(input=R.Cast(x=nan, DstT=tf.int8), dimension=axis,
                             output_type=tf.int64)
        out = R.SelectV2(condition=R.Any(input=nan, axis=axis, keep_dims=False),
                         t=first_nan, e=out)
    return R.ExpandDims(input=out, axis=axis) if keepdims else out


def argmax(x, /, *, axis=None, keepdims=False):
    return _arg_extreme(R.ArgMax, x, axis, keepdims, "argmax")


def argmin(x, /, *, axis=None, keepdims=False):
    return _arg_extreme(R.ArgMin, x, axis, keepdims, "argmin")


def nonzero(x, /):
    nd = x.shape.rank
    if nd == 0:
        raise ValueError("nonzero: 0-d tensors are not allowed")
    coords = R.Where(condition=_truthy(x))  # (count, ndim) int64, row-major order
    return tuple(coords[:, i] for i in range(nd))


def count_nonzero(x, /, *, axis=None, keepdims=False):
    counts = R.Cast(x=_truthy(x), DstT=tf.int64)
    return _reduce(R.Sum, counts, axis, keepdims) if _axes(x, axis) else counts


def searchsorted(x1, x2, /, *, side="left", sorter=None):
    if x1.shape.rank != 1:
        raise ValueError("searchsorted: x1 must be 1-d")
    if x1.dtype != x2.dtype:
        x1, x2 = _promote_pair(x1, x2, "searchsorted")
    if sorter is not None:
        with _index_errors:
            x1 = tf.gather(x1, _index_dtype(sorter))
    flat = tf.reshape(x2, [1, -1])
    out = tf.searchsorted(tf.reshape(x1, [1, -1]), flat, side=side, out_type=tf.int64)
    return tf.reshape(out, _shape(x2))


_UDTYPE = {native: udt for udt, native in dtype_map.items()}


def _promote_pair(x1, x2, op):
    """Array API promotion of two natives (an error across kinds, as the facade)."""
    r = _dtypes.promote_pair(_UDTYPE[x1.dtype], _UDTYPE[x2.dtype])
    if r is None:
        raise DTypeError(f"{op}: no implicit promotion between {x1.dtype.name} and "
                         f"{x2.dtype.name}; use astype")
    return _cast(x1, dtype_map[r]), _cast(x2, dtype_map[r])


def _sort_key(x):
    """An integer tensor ordered as NumPy orders ``x``: NaNs last, -0.0 equal to +0.0."""
    d = x.dtype
    if d == tf.bool:
        return R.Cast(x=x, DstT=tf.uint8)
    if not d.is_floating:
        return x
    it = _SAME_WIDTH_INT[d]
    w = {tf.int16: 16, tf.int32: 32, tf.int64: 64}[it]
    bits = R.Bitcast(input=R.AddV2(x=x, y=_scalar(0.0, d)), type=it)  # -0.0 + 0.0 is +0.0
    # negative floats: flip the magnitude bits so that the integer order is the float order
    flip_ = R.BitwiseAnd(x=R.RightShift(x=bits, y=_scalar(w - 1, it)),
                         y=_scalar((1 << (w - 1)) - 1, it))
    key = R.BitwiseXor(x=bits, y=flip_)
    return R.SelectV2(condition=R.IsNan(x=x), t=_scalar((1 << (w - 1)) - 1, it), e=key)


def _argsort_last(x, descending):
    """Stable argsort along the last axis (top_k keeps the lower index first among ties)."""
    key = _sort_key(x)
    if not descending:
        key = R.Invert(x=key)
    n = _dim(x, -1)
    return R.TopKV2(input=key, k=n, sorted=True, index_type=tf.int64).indices


def _along_last(fn, x, axis):
    nd = x.shape.rank
    axis = _norm_axis(axis, nd)
    if axis == nd - 1:
        return fn(x)
    perm = list(range(nd))
    perm[axis], perm[-1] = perm[-1], perm[axis]
    perm = _ints(perm)
    return R.Transpose(x=fn(R.Transpose(x=x, perm=perm)), perm=perm)


def argsort(x, /, *, axis=-1, descending=False, stable=True):
    if x.shape.rank == 0:
        raise ValueError("argsort: 0-d tensors are not allowed")
    return _along_last(lambda v: _argsort_last(v, descending), x, axis)


def sort(x, /, *, axis=-1, descending=False, stable=True):
    if x.shape.rank == 0:
        raise ValueError("sort: 0-d tensors are not allowed")

    def last(v):
        idx = _argsort_last(v, descending)
        return tf.gather(v, idx, batch_dims=v.shape.rank - 1)
    return _along_last(last, x, axis)


def _argsort_flat(v):
    if v.dtype in _COMPLEX:  # lexicographic (real, imag), as NumPy
        re, im = _complex_parts(v)
        by_imag = _argsort_last(im, False)
        return tf.gather(by_imag, _argsort_last(tf.gather(re, by_imag), False))
    return _argsort_last(v, False)


def _unique(x):
    flat = tf.reshape(x, [-1])
    perm = _argsort_flat(flat)
    s = tf.gather(flat, perm)
    # a new group starts where a value differs from its predecessor (NaN != NaN: each NaN
    # is its own group, as NumPy 2's unique_*)
    starts = tf.concat([tf.ones([1], tf.bool)[:tf.size(s)], R.NotEqual(x=s[1:], y=s[:-1])], 0)
    group = tf.cumsum(tf.cast(starts, tf.int64)) - 1
    return flat, perm, s, starts, group


def unique_values(x, /):
    _, _, s, starts, _ = _unique(x)
    return tf.boolean_mask(s, starts)


def _counts(starts, n):
    pos = tf.reshape(tf.where(starts), [-1])
    return tf.experimental.numpy.diff(tf.concat([pos, [tf.cast(n, tf.int64)]], 0))


def unique_counts(x, /):
    _, _, s, starts, _ = _unique(x)
    return tf.boolean_mask(s, starts), _counts(starts, tf.size(s, out_type=tf.int64))


def unique_inverse(x, /):
    _, perm, s, starts, group = _unique(x)
    inverse = tf.gather(group, tf.math.invert_permutation(perm))
    return tf.boolean_mask(s, starts), tf.reshape(inverse, _shape(x))


def unique_all(x, /):
    _, perm, s, starts, group = _unique(x)
    inverse = tf.gather(group, tf.math.invert_permutation(perm))
    first = tf.boolean_mask(perm, starts)  # stable sort: a group's first entry comes first
    return (tf.boolean_mask(s, starts), first, tf.reshape(inverse, _shape(x)),
            _counts(starts, tf.size(s, out_type=tf.int64)))


# ------------------------------------------------------------------ indexing
def _is_int(k):
    return isinstance(k, (int, np.integer)) and not isinstance(k, (bool, np.bool_))


def _strided_slice(x, key):
    """Basic indexing (ints, slices, None, Ellipsis) as one strided slice."""
    if not key:
        return _same(x)
    return R.StridedSlice(input=x, **_slice_spec(key))


def _is_basic(k):
    return k is None or k is Ellipsis or type(k) is slice or _is_int(k)


def _check_basic_bounds(x, key):
    # strided_slice refuses out-of-range ints on CPU; it clamps them on GPU
    if not _eager_gpu(x):
        return
    np.broadcast_to(np.empty((), bool), tuple(x.shape))[key]  # raises NumPy's IndexError


class _Adv:
    """One advanced index after normalisation: an int tensor applied to one dim."""

    __slots__ = ("index", "new_axis", "from_mask")

    def __init__(self, index, new_axis=False, from_mask=None):
        self.index, self.new_axis, self.from_mask = index, new_axis, from_mask


def _expand_key(x, key):
    """Key components with Ellipsis expanded; masks and scalar bools made int indices.

    Returns a list whose entries are ``slice``, ``None`` (new axis) or ``_Adv``; each
    entry corresponds to exactly one dimension of the basic-indexed intermediate.
    """
    nd = x.shape.rank
    used = 0
    for k in key:
        if tf.is_tensor(k) or isinstance(k, tf.Variable):
            used += k.shape.rank if k.dtype == tf.bool else 1
        elif k is not None and k is not Ellipsis and not isinstance(k, (bool, np.bool_)):
            used += 1
    if used > nd:
        raise IndexError(f"too many indices for a tensor of dimension {nd}")
    n_ellipsis = builtins.sum(1 for k in key if k is Ellipsis)
    if n_ellipsis > 1:
        raise IndexError("an index can only have a single ellipsis ('...')")
    out = []
    dim = 0  # dimension of x the next component applies to
    for k in key:
        if k is Ellipsis:
            out.extend([slice(None)] * (nd - used))
            dim += nd - used
        elif k is None:
            out.append(None)
        elif type(k) is slice:
            out.append(k)
            dim += 1
        elif isinstance(k, (bool, np.bool_)) or (tf.is_tensor(k) and k.dtype == tf.bool
                                                 and k.shape.rank == 0):
            # a scalar mask adds an axis of length 1 (True) or 0 (False)
            count = tf.cast(tf.convert_to_tensor(k), tf.int64)
            out.append(_Adv(tf.zeros(tf.reshape(count, [1]), tf.int64), new_axis=True))
        elif _is_int(k):
            out.append(_Adv(_scalar(int(k), tf.int64)))
            dim += 1
        elif tf.is_tensor(k) or isinstance(k, tf.Variable):
            if k.dtype == tf.bool:
                r = k.shape.rank
                want, got = x.shape[dim:dim + r], k.shape
                if not want.is_compatible_with(got):
                    raise IndexError(f"boolean index of shape {got} does not match the "
                                     f"indexed dimensions {want}")
                coords = R.Where(condition=k)
                for j in range(r):
                    out.append(_Adv(coords[:, j], from_mask=k if r and j == 0 else None))
                dim += r
            elif k.dtype.is_integer:
                out.append(_Adv(k))
                dim += 1
            else:
                raise IndexError(f"tensors used as indices must be integer or boolean, "
                                 f"got {k.dtype.name}")
        else:
            raise IndexError(f"invalid index {k!r}: only integers, slices, None, Ellipsis "
                             "and integer or boolean tensors are valid indices")
    out.extend([slice(None)] * (nd - dim))
    return out


def _advanced_getitem(x, key):
    comps = _expand_key(x, key)
    basic = tuple(None if (c is None or (isinstance(c, _Adv) and c.new_axis)) else
                  (slice(None) if isinstance(c, _Adv) else c) for c in comps)
    y = _strided_slice(x, basic)
    pos = [i for i, c in enumerate(comps) if isinstance(c, _Adv)]
    advs = [comps[i] for i in pos]
    if len(advs) == 1 or (advs[0].from_mask is not None and
                          len(advs) == advs[0].from_mask.shape.rank):
        mask = advs[0].from_mask
        if mask is not None:  # one boolean mask: TF's own kernel
            return tf.boolean_mask(y, mask, axis=pos[0])
        if len(advs) == 1:
            n = _dim(y, pos[0])
            i = _wrap_negative(advs[0].index, n)
            _check_bounds(i, n, y)
            with _index_errors:
                return tf.gather(y, i, axis=pos[0])
    idx = []
    for p, a in zip(pos, advs):
        n = _dim(y, p)
        i = R.Cast(x=_wrap_negative(a.index, n), DstT=tf.int64)
        _check_bounds(i, n, y)
        idx.append(i)
    bshape = idx[0].shape
    for i in idx[1:]:
        bshape = tf.broadcast_static_shape(bshape, i.shape)
    if bshape.is_fully_defined():
        target = bshape.as_list()
    else:
        target = tf.shape(idx[0], out_type=tf.int64)
        for i in idx[1:]:
            target = tf.broadcast_dynamic_shape(target, tf.shape(i, out_type=tf.int64))
    idx = tf.stack([tf.broadcast_to(i, target) for i in idx], axis=-1)
    rest = [i for i in range(len(comps)) if i not in pos]
    yt = R.Transpose(x=y, perm=_ints(pos + rest)) if pos + rest != list(range(len(comps))) else y
    with _index_errors:
        out = tf.gather_nd(yt, idx)
    contiguous = pos[-1] - pos[0] + 1 == len(pos)
    if contiguous and pos[0] > 0:
        nb = bshape.rank
        perm = list(range(nb, nb + pos[0])) + list(range(nb)) + list(
            range(nb + pos[0], nb + len(rest)))
        out = R.Transpose(x=out, perm=_ints(perm))
    return out


def getitem(x, key, /):
    if type(key) is not tuple:
        key = (key,)
    if builtins.all(_is_basic(k) for k in key):
        _check_basic_bounds(x, key)
        return _strided_slice(x, key)
    return _advanced_getitem(x, key)


def _combine(mode, old, values):
    if mode == "set":
        return values
    if mode == "add":
        return R.AddV2(x=old, y=values)
    if mode == "multiply":
        return R.Mul(x=old, y=values)
    if mode == "min":
        return R.Minimum(x=old, y=values)
    if mode == "max":
        return R.Maximum(x=old, y=values)
    raise ValueError(f"index_update: unknown mode {mode!r}")


_SCATTER = {"set": tf.tensor_scatter_nd_update, "add": tf.tensor_scatter_nd_add,
            "min": tf.tensor_scatter_nd_min, "max": tf.tensor_scatter_nd_max}


def index_update(x, key, values, /, *, mode="set"):
    if type(key) is not tuple:
        key = (key,)
    if mode not in _SCATTER and mode != "multiply":
        raise ValueError(f"index_update: unknown mode {mode!r}")
    if builtins.all(_is_basic(k) for k in key):
        # a basic index selects each element once: update the strided window in place
        _check_basic_bounds(x, key)
        with _index_errors:
            old = _strided_slice(x, key)
        new = tf.broadcast_to(_combine(mode, old, values), _shape(old))
        return _strided_update(x, key, new)
    if (len(key) == 1 and tf.is_tensor(key[0]) and key[0].dtype == tf.bool
            and values.shape.rank == 0 and key[0].shape == x.shape):
        return R.SelectV2(condition=key[0], t=_combine(mode, x, values), e=x)
    # general case: positions of the selected elements in the flattened tensor; duplicate
    # positions accumulate for add/multiply/min/max, as JAX's .at[]
    size = tf.size(x, out_type=tf.int64)
    positions = getitem(tf.reshape(tf.range(size), _shape(x)), key)
    flat_pos = tf.reshape(positions, [-1, 1])
    flat_val = tf.reshape(tf.broadcast_to(values, tf.shape(positions)), [-1])
    flat_x = tf.reshape(x, [-1])
    if mode == "multiply":
        factors = tf.math.unsorted_segment_prod(flat_val, flat_pos[:, 0], size)
        out = R.Mul(x=flat_x, y=factors)
    else:
        out = _SCATTER[mode](flat_x, flat_pos, flat_val)
    return tf.reshape(out, _shape(x))


def _strided_update(x, key, new):
    if not key:
        return tf.broadcast_to(new, _shape(x))
    return R.TensorStridedSliceUpdate(input=x, value=new, **_slice_spec(key))


def _clamp(i):
    return -_I32 if i < -_I32 else _I32 - 1 if i >= _I32 else i


_I32 = 2 ** 31


def _slice_spec(key):
    """``tf.strided_slice`` arguments for a basic index (NumPy semantics)."""
    begin, end, strides = [], [], []
    masks = dict(begin_mask=0, end_mask=0, ellipsis_mask=0, new_axis_mask=0,
                 shrink_axis_mask=0)
    for i, k in enumerate(key):
        bit = 1 << i
        if type(k) is slice:
            if k.start is None:
                masks["begin_mask"] |= bit
            if k.stop is None:
                masks["end_mask"] |= bit
            step = 1 if k.step is None else operator.index(k.step)
            if step == 0:
                raise ValueError("slice step cannot be zero")
            # bounds past any dimension clamp anyway; keep them in int32 range
            begin.append(0 if k.start is None else _clamp(operator.index(k.start)))
            end.append(0 if k.stop is None else _clamp(operator.index(k.stop)))
            strides.append(step)
        elif k is None:
            masks["new_axis_mask"] |= bit
            begin.append(0), end.append(0), strides.append(1)
        elif k is Ellipsis:
            masks["ellipsis_mask"] |= bit
            begin.append(0), end.append(0), strides.append(1)
        else:
            k = operator.index(k)
            masks["shrink_axis_mask"] |= bit
            # end = k + 1 is ignored for a shrunk axis, so -1 still means the last element
            begin.append(k), end.append(k + 1), strides.append(1)
    eager = tf.executing_eagerly()
    return dict(begin=_ints(begin, eager), end=_ints(end, eager), strides=_ints(strides, eager),
                **masks)
