"""Array API ops for the PyTorch backend.

Where torch already has the Array API semantics the op is the torch function
itself; the wrappers below only bridge real differences (reductions over
``axis=()``, integer division by zero, negative-step slices, ...).
"""
import builtins
import operator

import torch

from .core import _torch_device as _dev

_SCALARS = (builtins.bool, int, float, complex)
_SMALL_INTS = frozenset((torch.bool, torch.int8, torch.int16, torch.int32, torch.uint8))
_COMPLEX = frozenset((torch.complex64, torch.complex128))


def _tensor_like(v, like):
    """A Python scalar as a 0-d tensor of ``like``'s dtype (for ops that need two tensors)."""
    if type(v) in _SCALARS:
        return torch.scalar_tensor(v, dtype=like.dtype, device=like.device)
    return v


def _other_tensor(fn):
    """Binary op whose torch kernel only takes tensors: scalars become 0-d tensors."""
    def op(x1, x2, /):
        if type(x1) in _SCALARS:
            x1 = _tensor_like(x1, x2)
        elif type(x2) in _SCALARS:
            x2 = _tensor_like(x2, x1)
        return fn(x1, x2)
    op.__name__ = fn.__name__
    return op


# ------------------------------------------------------------------ elementwise
acos, acosh, asin, asinh, atan, atanh = (torch.acos, torch.acosh, torch.asin, torch.asinh,
                                         torch.atan, torch.atanh)
cos, cosh, exp, expm1, log, log1p = (torch.cos, torch.cosh, torch.exp, torch.expm1, torch.log,
                                     torch.log1p)
log2, log10, sin, sinh, sqrt, tan, tanh = (torch.log2, torch.log10, torch.sin, torch.sinh,
                                           torch.sqrt, torch.tan, torch.tanh)
ceil, floor, trunc, abs, negative, positive = (torch.ceil, torch.floor, torch.trunc, torch.abs,
                                               torch.neg, torch.positive)
square, signbit, isfinite, isinf, isnan = (torch.square, torch.signbit, torch.isfinite,
                                           torch.isinf, torch.isnan)
real, logical_not, bitwise_invert = torch.real, torch.logical_not, torch.bitwise_not

# Python operators accept a scalar on either side and apply torch's weak-scalar rule.
multiply, divide = operator.mul, operator.truediv
equal, not_equal, less, less_equal = operator.eq, operator.ne, operator.lt, operator.le
greater, greater_equal = operator.gt, operator.ge
# the facade guarantees bool operands for the logical ops
logical_and, logical_or, logical_xor = operator.and_, operator.or_, operator.xor
bitwise_and, bitwise_or, bitwise_xor = operator.and_, operator.or_, operator.xor
bitwise_left_shift, bitwise_right_shift = operator.lshift, operator.rshift

maximum = _other_tensor(torch.maximum)
minimum = _other_tensor(torch.minimum)
atan2 = _other_tensor(torch.atan2)
hypot = _other_tensor(torch.hypot)
logaddexp = _other_tensor(torch.logaddexp)
copysign = _other_tensor(torch.copysign)


def _complex_sum(op, x1, x2):
    # torch adds complex numbers as x1 + 1 * x2, which turns (inf + 0j) into (inf + nanj)
    if type(x1) in _SCALARS:
        x1 = _tensor_like(x1, x2)
    elif type(x2) in _SCALARS:
        x2 = _tensor_like(x2, x1)
    return torch.view_as_complex(op(torch.view_as_real(x1.resolve_conj()),
                                    torch.view_as_real(x2.resolve_conj())))


# real inputs go straight to torch's operators; complex ones through complex_overrides
add, subtract = operator.add, operator.sub


complex_overrides = {
    "add": lambda x1, x2: _complex_sum(operator.add, x1, x2),
    "subtract": lambda x1, x2: _complex_sum(operator.sub, x1, x2),
}


def pow(x1, x2, /):
    r = x1 ** x2
    if r.dtype not in _COMPLEX:
        return r
    # torch computes a complex x ** 0 as exp(0 * log(x)): nan for x = 0 or nan
    if type(x2) in _SCALARS:
        return torch.ones_like(r) if x2 == 0 else r
    return torch.where(x2 == 0, torch.ones((), dtype=r.dtype, device=r.device), r)


def round(x, /):
    if x.is_complex():
        return torch.complex(torch.round(x.real), torch.round(x.imag))
    return torch.round(x)


def sign(x, /):
    if x.is_complex():
        return torch.sgn(x)
    s = torch.sign(x)
    if x.is_floating_point():
        return torch.where(torch.isnan(x), x, s)  # torch.sign(nan) is 0
    return s


def conj(x, /):
    return torch.conj_physical(x) if x.is_complex() else x


def imag(x, /):
    return torch.imag(x) if x.is_complex() else torch.zeros_like(x)


def _int_division(fn, x1, x2):
    # NumPy gives 0 for integer division by zero; torch raises
    if type(x2) in _SCALARS:
        return fn(x1, x2) if x2 != 0 else torch.zeros_like(x1)
    zero = x2 == 0
    safe = torch.where(zero, torch.ones((), dtype=x2.dtype, device=x2.device), x2)
    if type(x1) in _SCALARS:
        x1 = _tensor_like(x1, x2)
    r = fn(x1, safe)
    return torch.where(zero, torch.zeros((), dtype=r.dtype, device=r.device), r)


def _is_float(x):
    return x.is_floating_point() if type(x) not in _SCALARS else type(x) is float


def remainder(x1, x2, /):
    if _is_float(x1) or _is_float(x2):
        # a zero result takes the sign of the divisor (torch gives +0)
        return torch.copysign(torch.remainder(x1, x2), x2)
    return _int_division(torch.remainder, x1, x2)


def _detached(x):
    return x.detach() if type(x) not in _SCALARS else x


def floor_divide(x1, x2, /):
    if _is_float(x1) or _is_float(x2):
        q = operator.floordiv(_detached(x1), _detached(x2))
        # torch defines no derivative for floor_divide; its derivative is zero almost
        # everywhere: tie q to the inputs through the branch where() never selects
        never = torch.zeros((), dtype=torch.bool, device=q.device)
        return torch.where(never, x1 + x2, q)
    return _int_division(operator.floordiv, x1, x2)


def clip(x, /, min=None, max=None):
    if min is None and max is None:
        return x.clone()
    if type(min) in _SCALARS:
        min = _tensor_like(min, x)
    if type(max) in _SCALARS:
        max = _tensor_like(max, x)
    # torch casts the bounds to x's dtype first (-1 becomes 255 for uint8): clamp in the
    # promoted dtype instead, then cast back (Array API: the result has x's dtype)
    dt = x.dtype
    for bound in (min, max):
        if bound is not None and bound.dtype != dt:
            dt = torch.promote_types(dt, bound.dtype)
    out = torch.clamp(x if dt == x.dtype else x.to(dt), min, max)
    return out if out.dtype == x.dtype else out.to(x.dtype)


# ------------------------------------------------------------------ creation
def arange(start, /, stop=None, step=1, *, dtype=None, device=None):
    if stop is None:
        start, stop = 0, start
    if step == 0:
        raise ValueError("arange: step must not be zero")
    if (stop - start) * step <= 0:  # torch raises where the Array API gives an empty array
        if dtype is None:
            dtype = (torch.get_default_dtype() if builtins.any(type(v) is float
                                                               for v in (start, stop, step))
                     else torch.int64)
        return torch.empty(0, dtype=dtype, device=_dev(device))
    return torch.arange(start, stop, step, dtype=dtype, device=_dev(device))


def empty(shape, *, dtype=None, device=None):
    return torch.empty(shape, dtype=dtype, device=_dev(device))


def zeros(shape, *, dtype=None, device=None):
    return torch.zeros(shape, dtype=dtype, device=_dev(device))


def ones(shape, *, dtype=None, device=None):
    return torch.ones(shape, dtype=dtype, device=_dev(device))


def full(shape, fill_value, *, dtype=None, device=None):
    if isinstance(shape, int):
        shape = (shape,)
    return torch.full(shape, fill_value, dtype=dtype, device=_dev(device))


def eye(n_rows, n_cols=None, /, *, k=0, dtype=None, device=None):
    n_cols = n_rows if n_cols is None else n_cols
    if k == 0:
        return torch.eye(n_rows, n_cols, dtype=dtype, device=_dev(device))
    out = torch.zeros(n_rows, n_cols, dtype=dtype, device=_dev(device))
    out.diagonal(k).fill_(1)
    return out


def linspace(start, stop, /, num, *, dtype=None, device=None, endpoint=True):
    if endpoint:
        return torch.linspace(start, stop, num, dtype=dtype, device=_dev(device))
    # evenly spaced over [start, stop): the first num points of num + 1
    return torch.linspace(start, stop, num + 1, dtype=dtype, device=_dev(device))[:num]


def zeros_like(x, /, *, dtype=None, device=None):
    return torch.zeros_like(x, dtype=dtype, device=_dev(device))


def ones_like(x, /, *, dtype=None, device=None):
    return torch.ones_like(x, dtype=dtype, device=_dev(device))


def empty_like(x, /, *, dtype=None, device=None):
    return torch.empty_like(x, dtype=dtype, device=_dev(device))


def full_like(x, /, fill_value, *, dtype=None, device=None):
    return torch.full_like(x, fill_value, dtype=dtype, device=_dev(device))


def tril(x, /, *, k=0):
    return torch.tril(x, k)


def triu(x, /, *, k=0):
    return torch.triu(x, k)


def meshgrid(*arrays, indexing="xy"):
    if not arrays:
        return ()
    return torch.meshgrid(*arrays, indexing=indexing)


# ------------------------------------------------------------------ manipulation
def astype(x, dtype, /, *, copy=True, device=None):
    if x.is_complex() and not dtype.is_complex and dtype != torch.bool:
        x = x.real  # explicit: torch warns when a cast drops the imaginary part
    return x.to(device=_dev(device), dtype=dtype, copy=copy)


def broadcast_to(x, /, shape):
    return torch.broadcast_to(x, shape)


def broadcast_arrays(*arrays):
    return torch.broadcast_tensors(*arrays)


def concat(arrays, /, *, axis=0):
    if axis is None:
        return torch.cat([a.reshape(-1) for a in arrays])
    ndim = arrays[0].ndim if arrays else 0
    if builtins.any(a.ndim != ndim for a in arrays):  # torch lets a (0,) tensor join any rank
        raise ValueError("concat: all arrays must have the same number of dimensions")
    return torch.cat(arrays, dim=axis)


def stack(arrays, /, *, axis=0):
    return torch.stack(arrays, dim=axis)


def unstack(x, /, *, axis=0):
    return torch.unbind(x, dim=axis)


def expand_dims(x, /, *, axis=0):
    return torch.unsqueeze(x, axis)


def _axes(axis, ndim):
    """``axis`` (int or tuple) as a tuple of non-negative ints; IndexError if out of range."""
    axes = (axis,) if isinstance(axis, int) else tuple(axis)
    out = []
    for a in axes:
        if not -ndim <= a < ndim:
            raise IndexError(f"axis {a} is out of bounds for a tensor of dimension {ndim}")
        out.append(a % ndim)
    if len(set(out)) != len(out):
        raise ValueError(f"repeated axis in {axis}")
    return tuple(out)


def squeeze(x, /, axis):
    axes = _axes(axis, x.ndim)
    for a in axes:
        if x.shape[a] != 1:  # torch silently skips such axes
            raise ValueError(f"squeeze: axis {a} has size {x.shape[a]}, not 1")
    return torch.squeeze(x, axes)


def flip(x, /, *, axis=None):
    if axis is None:
        return torch.flip(x, tuple(range(x.ndim)))
    return torch.flip(x, (axis,) if isinstance(axis, int) else axis)


def roll(x, /, shift, *, axis=None):
    if axis is not None and not (isinstance(axis, int) and isinstance(shift, int)):
        # NumPy broadcasts a single shift over the axes (and a single axis over the shifts)
        shifts = (shift,) if isinstance(shift, int) else tuple(shift)
        axes = (axis,) if isinstance(axis, int) else tuple(axis)
        if len(shifts) == 1:
            shifts *= len(axes)
        elif len(axes) == 1:
            axes *= len(shifts)
        shift, axis = shifts, axes
    return torch.roll(x, shift, axis)


moveaxis = torch.moveaxis


def permute_dims(x, /, axes):
    return torch.permute(x, axes)


def reshape(x, /, shape, *, copy=None):
    if copy is False:
        return x.view(shape)  # raises when a view is impossible
    out = torch.reshape(x, shape)
    return out.clone() if copy else out


def repeat(x, repeats, /, *, axis=None):
    if not isinstance(repeats, (int, torch.Tensor)):
        repeats = torch.as_tensor(repeats, dtype=torch.int64, device=x.device)
    return torch.repeat_interleave(x, repeats, dim=axis)


def tile(x, repetitions, /):
    return torch.tile(x, repetitions)


def matrix_transpose(x, /):
    return x.mT


def _checked_indices(indices, n):
    """Integer indices into an axis of size ``n``: negatives wrapped, out-of-range refused.

    torch would raise on the CPU but only trip a device assert on the GPU.
    """
    if indices.dtype not in (torch.int64, torch.int32):
        if indices.is_floating_point() or indices.is_complex() or indices.dtype == torch.bool:
            raise TypeError(f"indices must have an integer dtype, not {indices.dtype}")
        indices = indices.long()
    if indices.numel() == 0 or torch.compiler.is_compiling():
        return torch.where(indices < 0, indices + n, indices)
    lo, hi = torch.aminmax(indices)
    lo, hi = int(lo), int(hi)
    if lo < -n or hi >= n:
        raise IndexError(f"index {lo if lo < -n else hi} is out of bounds for an axis of size {n}")
    return torch.where(indices < 0, indices + n, indices) if lo < 0 else indices


def take(x, indices, /, *, axis=None):
    if axis is None:
        if x.ndim != 1:
            raise ValueError("take: axis is required for tensors with more than one dimension")
        axis = 0
    axis = _axes(axis, x.ndim)[0]
    idx = _checked_indices(indices, x.shape[axis])
    out = torch.index_select(x, axis, idx.reshape(-1))
    if idx.ndim == 1:
        return out
    return out.reshape(x.shape[:axis] + idx.shape + x.shape[axis + 1:])


def take_along_axis(x, indices, /, *, axis=-1):
    axis = _axes(axis, x.ndim)[0]
    return torch.take_along_dim(x, _checked_indices(indices, x.shape[axis]).long(), dim=axis)


where = torch.where


# ------------------------------------------------------------------ linear algebra
matmul = torch.matmul


def tensordot(x1, x2, /, *, axes=2):
    return torch.tensordot(x1, x2, dims=axes)


def vecdot(x1, x2, /, *, axis=-1):
    if (axis < 0 or x1.ndim == x2.ndim) and x1.shape[axis] != x2.shape[axis]:
        raise ValueError(f"vecdot: contracted axis has sizes {x1.shape[axis]} and "
                         f"{x2.shape[axis]}")  # torch would broadcast a size-1 axis
    if x1.is_floating_point() or x1.is_complex():
        return torch.linalg.vecdot(x1, x2, dim=axis)
    return torch.sum(x1 * x2, dim=axis, dtype=x1.dtype)


# ------------------------------------------------------------------ statistics
def _keep_all(r, x, keepdims):
    """Reshape a full reduction of ``x`` to ``(1,) * ndim`` when ``keepdims``."""
    return r.reshape((1,) * x.ndim) if keepdims else r


def sum(x, /, *, axis=None, dtype=None, keepdims=False):
    if axis == ():  # torch reads dim=() as "all dims"; the Array API as "none"
        return x.to(dtype or (torch.int64 if x.dtype in _SMALL_INTS else x.dtype), copy=True)
    return torch.sum(x, dim=axis, keepdim=keepdims, dtype=dtype)


def prod(x, /, *, axis=None, dtype=None, keepdims=False):
    if axis is None:
        return _keep_all(torch.prod(x, dtype=dtype), x, keepdims)
    if isinstance(axis, int):
        return torch.prod(x, axis, keepdim=keepdims, dtype=dtype)
    axes = _axes(axis, x.ndim)
    if not axes:
        return x.to(dtype or (torch.int64 if x.dtype in _SMALL_INTS else x.dtype), copy=True)
    # torch.prod reduces one dim: move the reduced dims last and flatten them
    rest = [d for d in range(x.ndim) if d not in axes]
    flat = x.permute(rest + list(axes)).reshape([x.shape[d] for d in rest] + [-1])
    r = torch.prod(flat, -1, dtype=dtype)
    if keepdims:
        r = r.reshape([1 if d in axes else x.shape[d] for d in range(x.ndim)])
    return r


def max(x, /, *, axis=None, keepdims=False):
    if axis == ():
        return x.clone()
    return torch.amax(x, dim=() if axis is None else axis, keepdim=keepdims)


def min(x, /, *, axis=None, keepdims=False):
    if axis == ():
        return x.clone()
    return torch.amin(x, dim=() if axis is None else axis, keepdim=keepdims)


def mean(x, /, *, axis=None, keepdims=False):
    if axis == ():
        return x.clone()
    return torch.mean(x, dim=axis, keepdim=keepdims)


def _var_of_each(x, correction):
    # variance over no axes: each element alone (nan for nan/inf, as NumPy)
    return torch.abs(x - x) ** 2 / builtins.max(1 - correction, 0)


def var(x, /, *, axis=None, correction=0.0, keepdims=False):
    if axis == ():
        return _var_of_each(x, correction)
    return torch.var(x, dim=axis, correction=correction, keepdim=keepdims)


def std(x, /, *, axis=None, correction=0.0, keepdims=False):
    if axis == ():
        return torch.sqrt(_var_of_each(x, correction))
    return torch.std(x, dim=axis, correction=correction, keepdim=keepdims)


def _cumulative(fn, initial, x, axis, dtype, include_initial):
    if x.ndim == 0:
        raise ValueError("cumulative ops need a tensor with at least one dimension")
    if axis is None:
        if x.ndim > 1:
            raise ValueError("axis is required for tensors with more than one dimension")
        axis = 0
    r = fn(x, axis, dtype=dtype if dtype is not None or x.dtype not in _SMALL_INTS
           else torch.int64)
    if include_initial:
        shape = list(r.shape)
        shape[axis] = 1
        r = torch.cat([torch.full(shape, initial, dtype=r.dtype, device=r.device), r], dim=axis)
    return r


def cumulative_sum(x, /, *, axis=None, dtype=None, include_initial=False):
    return _cumulative(torch.cumsum, 0, x, axis, dtype, include_initial)


def cumulative_prod(x, /, *, axis=None, dtype=None, include_initial=False):
    return _cumulative(torch.cumprod, 1, x, axis, dtype, include_initial)


def _logical_reduce(fn, x, axis, keepdims):
    if axis == ():
        return x != 0 if x.dtype != torch.bool else x.clone()
    if axis is None:
        r = _keep_all(fn(x), x, keepdims)
    else:
        r = fn(x, dim=axis, keepdim=keepdims)
    return r if r.dtype == torch.bool else r.bool()  # torch keeps uint8 for uint8 input


def all(x, /, *, axis=None, keepdims=False):
    return _logical_reduce(torch.all, x, axis, keepdims)


def any(x, /, *, axis=None, keepdims=False):
    return _logical_reduce(torch.any, x, axis, keepdims)


def diff(x, /, *, axis=-1, n=1):
    return torch.diff(x, n=n, dim=axis)


# ------------------------------------------------------------------ searching, sorting, sets
def argmax(x, /, *, axis=None, keepdims=False):
    if axis is None:
        return _keep_all(torch.argmax(x), x, keepdims)
    return torch.argmax(x, dim=axis, keepdim=keepdims)


def argmin(x, /, *, axis=None, keepdims=False):
    if axis is None:
        return _keep_all(torch.argmin(x), x, keepdims)
    return torch.argmin(x, dim=axis, keepdim=keepdims)


def nonzero(x, /):
    if x.ndim == 0:
        raise ValueError("nonzero: 0-d tensors are not allowed")
    return torch.nonzero(x, as_tuple=True)


def count_nonzero(x, /, *, axis=None, keepdims=False):
    if axis == ():
        return (x != 0).long()
    if axis is None:
        return _keep_all(torch.count_nonzero(x), x, keepdims)
    axes = _axes(axis, x.ndim)
    r = torch.count_nonzero(x, dim=axes)
    if keepdims:
        r = r.reshape([1 if d in axes else x.shape[d] for d in range(x.ndim)])
    return r


def searchsorted(x1, x2, /, *, side="left", sorter=None):
    if x1.dtype != x2.dtype:
        if x1.is_floating_point() != x2.is_floating_point():
            raise TypeError(f"searchsorted: no implicit cast between {x1.dtype} and {x2.dtype}")
        dt = torch.promote_types(x1.dtype, x2.dtype)
        x1, x2 = x1.to(dt), x2.to(dt)
    if sorter is not None and sorter.dtype != torch.int64:
        sorter = sorter.long()
    return torch.searchsorted(x1.contiguous(), x2.contiguous(), side=side, sorter=sorter)


def sort(x, /, *, axis=-1, descending=False, stable=True):
    return torch.sort(x, dim=axis, descending=descending, stable=True).values


def argsort(x, /, *, axis=-1, descending=False, stable=True):
    return torch.sort(x, dim=axis, descending=descending, stable=True).indices


def _unique(x, inverse, counts):
    if not x.is_complex():
        return torch.unique(x, return_inverse=inverse, return_counts=counts)
    # torch.unique has no complex kernel: unique (real, imag) rows, in lexicographic order
    out = torch.unique(torch.view_as_real(x.resolve_conj().reshape(-1)), dim=0,
                       return_inverse=inverse, return_counts=counts)
    if not (inverse or counts):
        return torch.view_as_complex(out)
    out = list(out)
    out[0] = torch.view_as_complex(out[0])
    if inverse:
        out[1] = out[1].reshape(x.shape)
    return tuple(out)


def unique_values(x, /):
    return _unique(x, False, False)


def unique_counts(x, /):
    return _unique(x, False, True)


def unique_inverse(x, /):
    return _unique(x, True, False)


def unique_all(x, /):
    values, inverse, counts = _unique(x, True, True)
    # index of the first occurrence of each value
    n = x.numel()
    first = torch.full((values.numel(),), n, dtype=torch.int64, device=x.device)
    first = first.scatter_reduce(0, inverse.reshape(-1),
                                 torch.arange(n, device=x.device), "amin")
    return values, first, inverse, counts


# ------------------------------------------------------------------ indexing
_INDEX_DTYPES = frozenset((torch.int64, torch.int32, torch.bool))


def _is_array_index(k):
    return isinstance(k, torch.Tensor) and k.ndim > 0


def _torch_key(x, key):
    """Translate a NumPy key for torch: ``(key, dims of x to flip first)``.

    torch has no negative slice steps (such a slice becomes a positive one on
    the flipped dim), treats uint8 index tensors as masks, and applies integer
    indices before array indices where NumPy broadcasts them together.
    """
    items = key if type(key) is tuple else (key,)
    if not builtins.any(isinstance(k, torch.Tensor) or (type(k) is slice and k.step is not None
                                                        and k.step < 0) for k in items):
        return key, ()
    mixed_ints = builtins.any(_is_array_index(k) for k in items)
    consumed = 0
    for k in items:
        if isinstance(k, torch.Tensor) and k.dtype == torch.bool:
            consumed += k.ndim
        elif not (k is None or k is Ellipsis or type(k) is builtins.bool):
            consumed += 1
    out, flips, dim = [], [], 0
    for k in items:
        if k is Ellipsis:
            dim += x.ndim - consumed
        elif k is None or type(k) is builtins.bool:
            pass
        elif type(k) is slice:
            if k.step is not None and k.step < 0:
                n = x.shape[dim]
                r = range(*k.indices(n))
                k = slice(n - 1 - r[0], n - r[-1], -k.step) if len(r) else slice(0, 0)
                flips.append(dim)
            dim += 1
        elif isinstance(k, torch.Tensor):
            if k.dtype == torch.bool:
                dim += k.ndim
            else:
                if k.dtype not in _INDEX_DTYPES or k.device.type != "cpu":
                    k = _checked_indices(k, x.shape[dim])
                if mixed_ints and k.ndim == 0:
                    k = k.reshape(1)  # 0-d torch indices act like ints
                dim += 1
        else:
            if mixed_ints:  # NumPy broadcasts an int with the array indices
                i, n = operator.index(k), x.shape[dim]
                if not -n <= i < n:
                    raise IndexError(f"index {i} is out of bounds for an axis of size {n}")
                k = torch.tensor([i], device=x.device)
            dim += 1
        out.append(k)
    return tuple(out), tuple(flips)


def getitem(x, key, /):
    key, flips = _torch_key(x, key)
    if flips:
        x = torch.flip(x, flips)
    return x[key]


def _fit(values, shape):
    """``values`` broadcast to ``shape`` (leading size-1 dims dropped, as in NumPy)."""
    while values.ndim > len(shape) and values.shape[0] == 1:
        values = values[0]
    return values.expand(shape)


_SCATTER = {"add": "sum", "multiply": "prod", "min": "amin", "max": "amax"}
_BOOL_SCATTER = {"add": "amax", "multiply": "amin", "min": "amin", "max": "amax"}
_COMBINE = {"add": torch.add, "multiply": torch.mul, "min": torch.minimum,
            "max": torch.maximum}


def index_update(x, key, values, /, *, mode="set"):
    key, flips = _torch_key(x, key)
    src = torch.flip(x, flips) if flips else x
    y = src.clone(memory_format=torch.contiguous_format)
    if mode == "set":
        y[key] = values
    elif not builtins.any(isinstance(k, torch.Tensor)
                          for k in (key if type(key) is tuple else (key,))):
        # basic indexing never selects an element twice; read from src, which autograd
        # may save, and write into the copy
        y[key] = _COMBINE[mode](src[key], values)
    else:
        # advanced indexing may repeat an element: scatter on the flat positions
        pos = torch.arange(y.numel(), device=y.device).reshape(y.shape)[key]
        reduce = (_BOOL_SCATTER if y.dtype == torch.bool else _SCATTER)[mode]
        flat = y.reshape(-1)
        flat.scatter_reduce_(0, pos.reshape(-1), _fit(values, pos.shape).reshape(-1), reduce)
    return torch.flip(y, flips) if flips else y
