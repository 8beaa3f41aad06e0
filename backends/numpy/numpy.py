"""Array API ops for the NumPy backend (NumPy 2 follows the standard closely)."""
import numpy as np

# ------------------------------------------------------------------ elementwise
acos, acosh, asin, asinh, atan, atanh = np.acos, np.acosh, np.asin, np.asinh, np.atan, np.atanh
cos, cosh, exp, expm1, log, log1p = np.cos, np.cosh, np.exp, np.expm1, np.log, np.log1p
log2, log10, sin, sinh, sqrt, tan, tanh = np.log2, np.log10, np.sin, np.sinh, np.sqrt, np.tan, np.tanh
ceil, floor, trunc, abs, negative, positive = np.ceil, np.floor, np.trunc, np.abs, np.negative, np.positive
square, sign, signbit, isfinite, isinf, isnan = np.square, np.sign, np.signbit, np.isfinite, np.isinf, np.isnan
conj, real, imag, logical_not, bitwise_invert = np.conj, np.real, np.imag, np.logical_not, np.bitwise_invert
add, subtract, multiply, divide, pow = np.add, np.subtract, np.multiply, np.divide, np.pow
maximum, minimum, atan2, hypot, logaddexp = np.maximum, np.minimum, np.atan2, np.hypot, np.logaddexp
copysign, remainder, floor_divide = np.copysign, np.remainder, np.floor_divide
equal, not_equal, less, less_equal = np.equal, np.not_equal, np.less, np.less_equal
greater, greater_equal = np.greater, np.greater_equal
logical_and, logical_or, logical_xor = np.logical_and, np.logical_or, np.logical_xor
bitwise_and, bitwise_or, bitwise_xor = np.bitwise_and, np.bitwise_or, np.bitwise_xor
bitwise_left_shift, bitwise_right_shift = np.bitwise_left_shift, np.bitwise_right_shift


def round(x, /):
    return np.round(x)


def clip(x, /, min=None, max=None):
    if min is None and max is None:
        return np.array(x, copy=True)
    out = np.clip(x, min, max)
    return out.astype(x.dtype, copy=False)


# ------------------------------------------------------------------ creation
def arange(start, /, stop=None, step=1, *, dtype=None, device=None):
    return np.arange(start, stop, step, dtype=dtype)


def empty(shape, *, dtype=None, device=None):
    return np.empty(shape, dtype=dtype)


def zeros(shape, *, dtype=None, device=None):
    return np.zeros(shape, dtype=dtype)


def ones(shape, *, dtype=None, device=None):
    return np.ones(shape, dtype=dtype)


def full(shape, fill_value, *, dtype=None, device=None):
    return np.full(shape, fill_value, dtype=dtype)


def eye(n_rows, n_cols=None, /, *, k=0, dtype=None, device=None):
    return np.eye(n_rows, n_cols, k=k, dtype=dtype)


def linspace(start, stop, /, num, *, dtype=None, device=None, endpoint=True):
    return np.linspace(start, stop, num, dtype=dtype, endpoint=endpoint)


def zeros_like(x, /, *, dtype=None, device=None):
    return np.zeros_like(x, dtype=dtype)


def ones_like(x, /, *, dtype=None, device=None):
    return np.ones_like(x, dtype=dtype)


def empty_like(x, /, *, dtype=None, device=None):
    return np.empty_like(x, dtype=dtype)


def full_like(x, /, fill_value, *, dtype=None, device=None):
    return np.full_like(x, fill_value, dtype=dtype)


def tril(x, /, *, k=0):
    if x.ndim < 2:  # np.tril broadcasts a 1-d input to a matrix
        raise ValueError(f"tril: expects at least 2 dimensions, got {x.ndim}")
    return np.tril(x, k=k)


def triu(x, /, *, k=0):
    if x.ndim < 2:
        raise ValueError(f"triu: expects at least 2 dimensions, got {x.ndim}")
    return np.triu(x, k=k)


def meshgrid(*arrays, indexing="xy"):
    return tuple(np.meshgrid(*arrays, indexing=indexing))


# ------------------------------------------------------------------ manipulation
def astype(x, dtype, /, *, copy=True, device=None):
    return np.asarray(x).astype(dtype, copy=copy)


def broadcast_to(x, /, shape):
    return np.broadcast_to(x, shape)


def broadcast_arrays(*arrays):
    return tuple(np.broadcast_arrays(*arrays))


def concat(arrays, /, *, axis=0):
    if axis is None:
        return np.concatenate([np.ravel(a) for a in arrays])
    return np.concatenate(arrays, axis=axis)


def stack(arrays, /, *, axis=0):
    return np.stack(arrays, axis=axis)


def unstack(x, /, *, axis=0):
    return tuple(np.moveaxis(x, axis, 0))


def expand_dims(x, /, *, axis=0):
    return np.expand_dims(x, axis)


def squeeze(x, /, axis):
    return np.squeeze(x, axis=axis)


def flip(x, /, *, axis=None):
    return np.flip(x, axis=axis)


def roll(x, /, shift, *, axis=None):
    return np.roll(x, shift, axis=axis)


def moveaxis(x, source, destination, /):
    return np.moveaxis(x, source, destination)


def permute_dims(x, /, axes):
    return np.transpose(x, axes)


def reshape(x, /, shape, *, copy=None):
    return np.reshape(x, shape)


def repeat(x, repeats, /, *, axis=None):
    return np.repeat(x, repeats, axis=axis)


def tile(x, repetitions, /):
    return np.tile(x, repetitions)


def matrix_transpose(x, /):
    return np.swapaxes(x, -1, -2)


def take(x, indices, /, *, axis=None):
    if axis is None:
        if x.ndim != 1:
            raise ValueError("take: axis is required for tensors with more than one dimension")
        axis = 0
    n = x.shape[axis]
    if indices.size and (indices.max() >= n or indices.min() < -n):
        raise IndexError(f"take: index out of range for axis of size {n}")
    return np.take(x, indices, axis=axis)


def take_along_axis(x, indices, /, *, axis=-1):
    return np.take_along_axis(x, indices, axis=axis)


def where(condition, x1, x2, /):
    return np.where(condition, x1, x2)


def diff(x, /, *, axis=-1, n=1):
    return np.diff(x, n=n, axis=axis)


# ------------------------------------------------------------------ linear algebra
def _in_dtype_of(out, x1, x2):
    """``out`` in the operands' dtype: ml_dtypes' bfloat16 products come back as float32.
    (Called only when the dtypes differ: the common case costs one identity test.)"""
    dt = np.result_type(x1.dtype, x2.dtype)
    return out if out.dtype == dt else np.asarray(out).astype(dt)


def matmul(x1, x2, /):
    out = np.matmul(x1, x2)
    return out if out.dtype is x1.dtype else _in_dtype_of(out, x1, x2)


def tensordot(x1, x2, /, *, axes=2):
    out = np.tensordot(x1, x2, axes=axes)
    return out if out.dtype is x1.dtype else _in_dtype_of(out, x1, x2)


def vecdot(x1, x2, /, *, axis=-1):
    out = np.vecdot(x1, x2, axis=axis)
    return out if out.dtype is x1.dtype else _in_dtype_of(out, x1, x2)


# ------------------------------------------------------------------ statistics
def _acc_dtype(x, dtype):
    # Array API: sum/prod of small ints accumulate in the default int type
    if dtype is None and x.dtype.kind == "b":
        return np.int64
    if dtype is None and x.dtype.kind in "iu" and x.dtype.itemsize < 8:
        return np.int64 if x.dtype.kind == "i" else np.uint64 if False else np.int64
    return dtype


def sum(x, /, *, axis=None, dtype=None, keepdims=False):
    return np.asarray(np.sum(x, axis=axis, dtype=_acc_dtype(x, dtype), keepdims=keepdims))


def prod(x, /, *, axis=None, dtype=None, keepdims=False):
    return np.asarray(np.prod(x, axis=axis, dtype=_acc_dtype(x, dtype), keepdims=keepdims))


def max(x, /, *, axis=None, keepdims=False):
    return np.asarray(np.max(x, axis=axis, keepdims=keepdims))


def min(x, /, *, axis=None, keepdims=False):
    return np.asarray(np.min(x, axis=axis, keepdims=keepdims))


def mean(x, /, *, axis=None, keepdims=False):
    return np.asarray(np.mean(x, axis=axis, keepdims=keepdims), dtype=x.dtype)


def std(x, /, *, axis=None, correction=0.0, keepdims=False):
    return np.asarray(np.std(x, axis=axis, ddof=correction, keepdims=keepdims),
                      dtype=np.real(np.zeros((), x.dtype)).dtype)


def var(x, /, *, axis=None, correction=0.0, keepdims=False):
    return np.asarray(np.var(x, axis=axis, ddof=correction, keepdims=keepdims),
                      dtype=np.real(np.zeros((), x.dtype)).dtype)


def cumulative_sum(x, /, *, axis=None, dtype=None, include_initial=False):
    return np.cumulative_sum(x, axis=axis, dtype=_acc_dtype(x, dtype),
                             include_initial=include_initial)


def cumulative_prod(x, /, *, axis=None, dtype=None, include_initial=False):
    return np.cumulative_prod(x, axis=axis, dtype=_acc_dtype(x, dtype),
                              include_initial=include_initial)


def all(x, /, *, axis=None, keepdims=False):
    return np.asarray(np.all(x, axis=axis, keepdims=keepdims))


def any(x, /, *, axis=None, keepdims=False):
    return np.asarray(np.any(x, axis=axis, keepdims=keepdims))


# ------------------------------------------------------------------ searching, sorting, sets
def argmax(x, /, *, axis=None, keepdims=False):
    return np.asarray(np.argmax(x, axis=axis, keepdims=keepdims))


def argmin(x, /, *, axis=None, keepdims=False):
    return np.asarray(np.argmin(x, axis=axis, keepdims=keepdims))


def nonzero(x, /):
    if x.ndim == 0:
        raise ValueError("nonzero: 0-d tensors are not allowed")
    return tuple(np.nonzero(x))


def count_nonzero(x, /, *, axis=None, keepdims=False):
    return np.asarray(np.count_nonzero(x, axis=axis, keepdims=keepdims), dtype=np.int64)


def searchsorted(x1, x2, /, *, side="left", sorter=None):
    return np.searchsorted(x1, x2, side=side, sorter=sorter).astype(np.int64)


def sort(x, /, *, axis=-1, descending=False, stable=True):
    if descending:
        return np.flip(np.sort(np.flip(x, axis=axis), axis=axis, kind="stable"), axis=axis)
    return np.sort(x, axis=axis, kind="stable")


def argsort(x, /, *, axis=-1, descending=False, stable=True):
    if descending:
        n = x.shape[axis]
        idx = np.argsort(np.flip(x, axis=axis), axis=axis, kind="stable")
        return np.flip(n - 1 - idx, axis=axis)
    return np.argsort(x, axis=axis, kind="stable")


def unique_values(x, /):
    return np.unique_values(x)


def unique_counts(x, /):
    return tuple(np.unique_counts(x))


def unique_inverse(x, /):
    return tuple(np.unique_inverse(x))


def unique_all(x, /):
    return tuple(np.unique_all(x))


# ------------------------------------------------------------------ indexing
def getitem(x, key, /):
    return np.asarray(x[key])


_UFUNC_AT = {"add": np.add, "multiply": np.multiply, "min": np.minimum, "max": np.maximum}


def index_update(x, key, values, /, *, mode="set"):
    y = np.array(x, copy=True)
    if mode == "set":
        y[key] = values
    else:
        _UFUNC_AT[mode].at(y, key, values)
    return y
