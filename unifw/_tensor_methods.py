"""Operators and methods of :class:`unifw.Tensor`, bound to the generated ops."""
from __future__ import annotations

from ._dispatch import FUNCS
from ._opspec import OPS
from ._tensor import Tensor

F = FUNCS


def _rev(name):
    fn = F[name]

    def r(self, other):
        return fn(other, self)

    r.__name__ = f"__r{name}__"
    return r


_BINOPS = {"add": "add", "sub": "subtract", "mul": "multiply", "truediv": "divide",
           "floordiv": "floor_divide", "mod": "remainder", "pow": "pow", "matmul": "matmul",
           "and": "bitwise_and", "or": "bitwise_or", "xor": "bitwise_xor",
           "lshift": "bitwise_left_shift", "rshift": "bitwise_right_shift"}
for _dunder, _op in _BINOPS.items():
    setattr(Tensor, f"__{_dunder}__", F[_op])
    setattr(Tensor, f"__r{_dunder}__", _rev(_op))
for _dunder, _op in {"lt": "less", "le": "less_equal", "gt": "greater", "ge": "greater_equal",
                     "eq": "equal", "ne": "not_equal"}.items():
    setattr(Tensor, f"__{_dunder}__", F[_op])
Tensor.__neg__ = F["negative"]
Tensor.__pos__ = F["positive"]
Tensor.__abs__ = F["abs"]
Tensor.__invert__ = F["bitwise_invert"]

for _spec in OPS.values():
    if _spec.method and not _spec.ns:
        setattr(Tensor, _spec.method, F[_spec.qualname])


def _axis(axis, dim):
    return dim if dim is not None else axis


def _keep(keepdims, keepdim):
    return keepdim if keepdim is not None else keepdims


def _reduction(name):
    fn = F[name]
    takes_dtype = "dtype" in OPS[name].sig

    def method(self, axis=None, keepdims=False, *, dim=None, keepdim=None, **kw):
        return fn(self, axis=_axis(axis, dim), keepdims=_keep(keepdims, keepdim), **kw)

    method.__name__ = name
    method.__doc__ = (f"``uf.{name}`` as a method; accepts Array API ``axis``/``keepdims`` "
                      "or PyTorch ``dim``/``keepdim``"
                      + (" and ``dtype``." if takes_dtype else "."))
    return method


for _n in ("sum", "prod", "mean", "max", "min", "all", "any", "std", "var", "argmax", "argmin"):
    setattr(Tensor, _n, _reduction(_n))


def _shape_args(shape):
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        return tuple(shape[0])
    return tuple(shape)


class _Methods:
    """PyTorch-style conveniences (the seeds' code uses them)."""

    @property
    def T(self):
        if self.ndim > 2:
            raise ValueError("x.T requires ndim <= 2; use x.mT for batches of matrices")
        return F["permute_dims"](self, tuple(range(self.ndim))[::-1])

    @property
    def mT(self):
        return F["matrix_transpose"](self)

    def reshape(self, *shape):
        return F["reshape"](self, _shape_args(shape))

    view = reshape

    def flatten(self, start_dim=0, end_dim=-1):
        s = self.shape
        nd = len(s)
        if nd == 0:
            return F["reshape"](self, (1,))
        a, e = start_dim % nd, end_dim % nd
        n = 1
        for d in s[a:e + 1]:
            n *= d
        return F["reshape"](self, s[:a] + (n,) + s[e + 1:])

    def permute(self, *dims):
        return F["permute_dims"](self, _shape_args(dims))

    def transpose(self, dim0, dim1):
        p = list(range(self.ndim))
        p[dim0], p[dim1] = p[dim1], p[dim0]
        return F["permute_dims"](self, tuple(p))

    def t(self):
        return self.T

    def unsqueeze(self, dim):
        return F["expand_dims"](self, axis=dim)

    def squeeze(self, axis=None, *, dim=None):
        axis = _axis(axis, dim)
        if axis is None:
            axis = tuple(i for i, d in enumerate(self.shape) if d == 1)
        return F["squeeze"](self, axis)

    def mm(self, other):
        return F["matmul"](self, other)

    matmul = mm

    def dot(self, other):
        return F["vecdot"](self, other)

    def clamp(self, min=None, max=None):
        return F["clip"](self, min, max)

    clip = clamp

    def pow(self, exponent):
        return F["pow"](self, exponent)

    def detach(self):
        from .autodiff import stop_gradient

        return stop_gradient(self)

    def flip(self, axis=None, *, dims=None):
        return F["flip"](self, axis=dims if dims is not None else axis)

    def expand(self, *shape):
        return F["broadcast_to"](self, _shape_args(shape))

    def sigmoid(self):
        return F["nn.sigmoid"](self)

    def relu(self):
        return F["nn.relu"](self)

    def softmax(self, dim=-1):
        return F["nn.softmax"](self, dim)

    def float(self):
        from . import _dtypes

        return self.astype(_dtypes.float32)

    def double(self):
        from . import _dtypes

        return self.astype(_dtypes.float64)

    def long(self):
        from . import _dtypes

        return self.astype(_dtypes.int64)

    def int(self):
        from . import _dtypes

        return self.astype(_dtypes.int32)

    def numel(self):
        return self.size

    def dim(self):
        return self.ndim


for _k, _v in vars(_Methods).items():
    if not _k.startswith("__"):
        setattr(Tensor, _k, _v)
