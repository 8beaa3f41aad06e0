"""Array API core ops for the JAX backend.

``jax.numpy`` implements the Array API 2023.12, so most ops are the JAX
function itself. The wrappers below exist only where unifw's contract differs:
default dtypes (float32/int64), int64 result dtypes, eager bounds checks
where JAX would clamp or drop out-of-range indices, and boolean-mask updates
that stay traceable.
"""
import builtins

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from unifw.errors import DTypeError, TracingError

from .core import _DEVICES, _SEVERAL, _Tracer, device_of
from .core import _placement as _place

_I64 = np.dtype(np.int64)
_F32 = np.dtype(np.float32)
_C64 = np.dtype(np.complex64)
_BOOL = np.dtype(np.bool_)
_FLOATS = frozenset(np.dtype(t) for t in (jnp.float16, jnp.bfloat16, jnp.float32, jnp.float64))

# ------------------------------------------------------------------ elementwise
acos, acosh, asin, asinh = jnp.acos, jnp.acosh, jnp.asin, jnp.asinh
atan, atanh, cos, cosh = jnp.atan, jnp.atanh, jnp.cos, jnp.cosh
exp, expm1, log, log1p, log2, log10 = jnp.exp, jnp.expm1, jnp.log, jnp.log1p, jnp.log2, jnp.log10
sin, sinh, sqrt, tan, tanh = jnp.sin, jnp.sinh, jnp.sqrt, jnp.tan, jnp.tanh
ceil, floor, trunc = jnp.ceil, jnp.floor, jnp.trunc
negative, positive, square, sign = jnp.negative, jnp.positive, jnp.square, jnp.sign


@jax.custom_jvp
def _abs_real(x):
    return jnp.abs(x)


@_abs_real.defjvp
def _abs_real_jvp(primals, tangents):
    # sign(0) = 0: the subgradient PyTorch and TensorFlow use (jnp.abs takes 1 at 0)
    (x,), (t,) = primals, tangents
    return jnp.abs(x), jnp.sign(x) * t


_abs_real_jit = jax.jit(_abs_real)  # a custom_jvp call costs ~200 us eagerly, jitted ~8


def abs(x, /):
    return _abs_real_jit(x) if x.dtype in _FLOATS else jnp.abs(x)

signbit, isfinite, isinf, isnan = jnp.signbit, jnp.isfinite, jnp.isinf, jnp.isnan
conj, real, imag = jnp.conj, jnp.real, jnp.imag
logical_not, bitwise_invert = jnp.logical_not, jnp.bitwise_invert
add, subtract, multiply, divide = jnp.add, jnp.subtract, jnp.multiply, jnp.divide
maximum, minimum, atan2 = jnp.maximum, jnp.minimum, jnp.atan2
logaddexp, copysign = jnp.logaddexp, jnp.copysign
equal, not_equal, less, less_equal = jnp.equal, jnp.not_equal, jnp.less, jnp.less_equal
greater, greater_equal = jnp.greater, jnp.greater_equal
logical_and, logical_or, logical_xor = jnp.logical_and, jnp.logical_or, jnp.logical_xor
bitwise_and, bitwise_or, bitwise_xor = jnp.bitwise_and, jnp.bitwise_or, jnp.bitwise_xor
bitwise_left_shift, bitwise_right_shift = jnp.bitwise_left_shift, jnp.bitwise_right_shift
round = jnp.round  # half to even


def pow(x1, x2, /):
    if type(x1) in (int, float, complex, builtins.bool):
        # JAX computes `scalar ** 0-d integer array` in int64; keep the array's dtype
        x1 = jnp.asarray(x1, dtype=jnp.result_type(x1, x2))
    return jnp.pow(x1, x2)


def hypot(x1, x2, /):
    """sqrt(x1**2 + x2**2) without overflow; the scale is a constant to autodiff, so every
    derivative order is exact (jnp.hypot's max/min swap breaks the second derivative)."""
    a, b = jnp.abs(x1), jnp.abs(x2)
    scale = lax.stop_gradient(jnp.maximum(a, b))
    scale = jnp.where((scale == 0) | ~jnp.isfinite(scale), 1, scale)
    r = scale * jnp.sqrt(jnp.square(a / scale) + jnp.square(b / scale))
    return jnp.where(jnp.isinf(a) | jnp.isinf(b), jnp.inf, r)


def remainder(x1, x2, /):
    out = jnp.remainder(x1, x2)
    if out.dtype in _FLOATS:  # a zero result takes the sign of the divisor, as in NumPy
        return jnp.where(out == 0, jnp.copysign(jnp.zeros_like(out), x2), out)
    return out


def floor_divide(x1, x2, /):
    out = jnp.floor_divide(x1, x2)
    if out.dtype in _FLOATS:  # a zero quotient takes the sign of x1 / x2, as in NumPy
        return jnp.where(out == 0, jnp.copysign(jnp.zeros_like(out), x1 / x2), out)
    return jnp.where(x2 == 0, 0, out)  # integer division by zero gives 0, as in NumPy


def clip(x, /, min=None, max=None):
    if min is None and max is None:
        return x
    out = jnp.clip(x, min, max)
    # bounds of another dtype must not change the dtype of x (JAX would promote)
    return out if out.dtype == x.dtype else out.astype(x.dtype)


# ------------------------------------------------------------------ creation
def _like_device(x, device):
    if not _SEVERAL:
        return None
    return _DEVICES[device if device is not None else device_of(x)]


def _default_dtype(*values):
    """unifw defaults for Python scalars: bool, int64, float32, complex64."""
    kinds = {type(v) for v in values}
    if complex in kinds:
        return _C64
    if float in kinds:
        return _F32
    if kinds <= {builtins.bool}:
        return _BOOL
    if kinds <= {int, builtins.bool}:
        return _I64
    return None  # arrays / NumPy scalars: their own dtype


def arange(start, /, stop=None, step=1, *, dtype=None, device=None):
    if dtype is None:
        dtype = _F32 if float in {type(start), type(stop), type(step)} else _I64
    return jnp.arange(start, stop, step, dtype=dtype, device=_place(device))


def empty(shape, *, dtype=None, device=None):
    return jnp.empty(shape, dtype=_F32 if dtype is None else dtype, device=_place(device))


def zeros(shape, *, dtype=None, device=None):
    return jnp.zeros(shape, dtype=_F32 if dtype is None else dtype, device=_place(device))


def ones(shape, *, dtype=None, device=None):
    return jnp.ones(shape, dtype=_F32 if dtype is None else dtype, device=_place(device))


def full(shape, fill_value, *, dtype=None, device=None):
    if dtype is None:
        dtype = _default_dtype(fill_value)
    return jnp.full(shape, fill_value, dtype=dtype, device=_place(device))


def eye(n_rows, n_cols=None, /, *, k=0, dtype=None, device=None):
    return jnp.eye(n_rows, n_cols, k=k, dtype=_F32 if dtype is None else dtype,
                   device=_place(device))


def linspace(start, stop, /, num, *, dtype=None, device=None, endpoint=True):
    if dtype is None:
        dtype = _C64 if complex in (type(start), type(stop)) else _F32
    return jnp.linspace(start, stop, num, endpoint=endpoint, dtype=dtype, device=_place(device))


def zeros_like(x, /, *, dtype=None, device=None):
    return jnp.zeros_like(x, dtype=dtype, device=_like_device(x, device))


def ones_like(x, /, *, dtype=None, device=None):
    return jnp.ones_like(x, dtype=dtype, device=_like_device(x, device))


def empty_like(x, /, *, dtype=None, device=None):
    return jnp.empty_like(x, dtype=dtype, device=_like_device(x, device))


def full_like(x, /, fill_value, *, dtype=None, device=None):
    return jnp.full_like(x, fill_value, dtype=dtype, device=_like_device(x, device))


tril, triu = jnp.tril, jnp.triu


def meshgrid(*arrays, indexing="xy"):
    return tuple(jnp.meshgrid(*arrays, indexing=indexing))


# ------------------------------------------------------------------ manipulation
def astype(x, dtype, /, *, copy=True, device=None):
    out = x if x.dtype == dtype else x.astype(dtype)
    if device is not None and device_of(out) != device:
        out = jax.device_put(out, _DEVICES[device])
    return out


broadcast_to = jnp.broadcast_to


def broadcast_arrays(*arrays):
    return tuple(jnp.broadcast_arrays(*arrays))


concat, stack, unstack = jnp.concat, jnp.stack, jnp.unstack
expand_dims, squeeze, moveaxis = jnp.expand_dims, jnp.squeeze, jnp.moveaxis
flip, roll = jnp.flip, jnp.roll
permute_dims, tile, matrix_transpose = jnp.permute_dims, jnp.tile, jnp.matrix_transpose


def reshape(x, /, shape, *, copy=None):
    return jnp.reshape(x, shape)


def repeat(x, repeats, /, *, axis=None):
    if not isinstance(repeats, (int, jax.Array)):
        repeats = np.asarray(repeats)  # a list or a unifw Tensor of counts
    return jnp.repeat(x, repeats, axis=axis)


def take(x, indices, /, *, axis=None):
    if axis is None:
        if x.ndim != 1:
            raise ValueError("take: axis is required for tensors with more than one dimension")
        axis = 0
    _check_in_range(indices, x.shape[axis], "take")
    return jnp.take(x, indices, axis=axis)


def take_along_axis(x, indices, /, *, axis=-1):
    if indices.ndim == x.ndim:  # otherwise JAX reports the shape error itself
        _check_in_range(indices, x.shape[axis], "take_along_axis")
    return jnp.take_along_axis(x, indices, axis=axis)


where = jnp.where


def diff(x, /, *, axis=-1, n=1):
    return jnp.diff(x, n=n, axis=axis)


# ------------------------------------------------------------------ linear algebra
matmul, tensordot, vecdot = jnp.matmul, jnp.tensordot, jnp.vecdot


# ------------------------------------------------------------------ statistics
def _accumulator(x, dtype):
    # Array API: small integers and bools accumulate in the default integer (int64)
    if dtype is None and x.dtype.kind in "biu" and x.dtype.itemsize < 8:
        return _I64
    return dtype


def sum(x, /, *, axis=None, dtype=None, keepdims=False):
    return jnp.sum(x, axis=axis, dtype=_accumulator(x, dtype), keepdims=keepdims)


def prod(x, /, *, axis=None, dtype=None, keepdims=False):
    return jnp.prod(x, axis=axis, dtype=_accumulator(x, dtype), keepdims=keepdims)


def cumulative_sum(x, /, *, axis=None, dtype=None, include_initial=False):
    return jnp.cumulative_sum(x, axis=axis, dtype=_accumulator(x, dtype),
                              include_initial=include_initial)


def cumulative_prod(x, /, *, axis=None, dtype=None, include_initial=False):
    return jnp.cumulative_prod(x, axis=axis, dtype=_accumulator(x, dtype),
                               include_initial=include_initial)


max, min, mean, all, any = jnp.max, jnp.min, jnp.mean, jnp.all, jnp.any


def std(x, /, *, axis=None, correction=0.0, keepdims=False):
    return jnp.std(x, axis=axis, correction=correction, keepdims=keepdims)


def var(x, /, *, axis=None, correction=0.0, keepdims=False):
    return jnp.var(x, axis=axis, correction=correction, keepdims=keepdims)


# ------------------------------------------------------------------ searching, sorting, sets
argmax, argmin, count_nonzero = jnp.argmax, jnp.argmin, jnp.count_nonzero


def nonzero(x, /):
    return tuple(jnp.nonzero(x))


def searchsorted(x1, x2, /, *, side="left", sorter=None):
    if (x1.dtype in _FLOATS) != (x2.dtype in _FLOATS):
        raise DTypeError(f"searchsorted: no implicit cast between {x1.dtype} and {x2.dtype}; "
                         "use astype")
    return jnp.searchsorted(x1, x2, side=side, sorter=sorter).astype(_I64)


def sort(x, /, *, axis=-1, descending=False, stable=True):
    return jnp.sort(x, axis=axis, descending=descending, stable=True)


def argsort(x, /, *, axis=-1, descending=False, stable=True):
    return jnp.argsort(x, axis=axis, descending=descending, stable=True)


unique_values = jnp.unique_values


def unique_counts(x, /):
    return tuple(jnp.unique_counts(x))


def unique_inverse(x, /):
    return tuple(jnp.unique_inverse(x))


def unique_all(x, /):
    return tuple(jnp.unique_all(x))


# ------------------------------------------------------------------ indexing
def _check_in_range(indices, size, what):
    """Raise IndexError for indices outside [-size, size), where JAX would clamp or drop
    them; traced index arrays cannot be checked."""
    if isinstance(indices, _Tracer):
        return
    if isinstance(indices, int):
        if not -size <= indices < size:
            raise IndexError(f"{what}: index {indices} is out of bounds for axis of size {size}")
        return
    host = np.asarray(indices)
    if host.dtype.kind not in "iu":
        return  # not an integer index: JAX raises the type error
    if host.size and (host.max() >= size or host.min() < -size):
        bad = host[(host >= size) | (host < -size)].flat[0]
        raise IndexError(f"{what}: index {bad} is out of bounds for axis of size {size}")


def _is_bool_array(k):
    return isinstance(k, (jax.Array, np.ndarray)) and k.dtype == _BOOL


def _check_key(shape, key):
    """NumPy's bounds checks for the integer parts of an index (JAX would clamp or drop)."""
    if type(key) is not tuple:
        key = (key,)
    consumed = 0
    for k in key:
        if k is None or k is Ellipsis or type(k) is builtins.bool:
            continue
        consumed += k.ndim if _is_bool_array(k) else 1
    dim = 0
    for k in key:
        if k is None or type(k) is builtins.bool:
            continue
        if k is Ellipsis:
            dim += len(shape) - consumed
            continue
        if dim >= len(shape):
            return  # too many indices: JAX raises its own IndexError
        if isinstance(k, slice):
            dim += 1
        elif _is_bool_array(k):
            dim += k.ndim
        else:
            _check_in_range(k if isinstance(k, (jax.Array, np.ndarray)) else int(k),
                            shape[dim], "index")
            dim += 1


def _traced_mask_error():
    return TracingError(
        "boolean-mask indexing gives a result whose shape depends on the data, which cannot "
        "be traced; use uf.where(mask, x, other), or index outside the compiled function")


def getitem(x, key, /):
    _check_key(x.shape, key)  # shapes are static, so this also guards traced code
    try:
        return x[key]
    except jax.errors.NonConcreteBooleanIndexError as e:
        raise _traced_mask_error() from e


_MASKED = {"set": lambda x, v: v, "add": jnp.add, "multiply": jnp.multiply,
           "min": jnp.minimum, "max": jnp.maximum}


def index_update(x, key, values, /, *, mode="set"):
    if _is_bool_array(key) and key.shape == x.shape and values.ndim == 0:
        # x.at[mask].op(scalar) as a select: no data-dependent shape, so it also traces
        return jnp.where(key, _MASKED[mode](x, values), x)
    _check_key(x.shape, key)
    try:
        return getattr(x.at[key], mode)(values)
    except jax.errors.NonConcreteBooleanIndexError as e:
        raise _traced_mask_error() from e
