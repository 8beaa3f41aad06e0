"""Small helpers shared by the layer modules (not public API)."""
from __future__ import annotations

import collections.abc
import itertools

from .. import _dtypes
from .._dispatch import FUNCS
from .._tensor import Tensor, wrap
from ..variable import Parameter


def ntuple(n: int, name: str):
    def parse(x):
        if isinstance(x, collections.abc.Iterable) and not isinstance(x, str):
            t = tuple(x)
            if len(t) != n:
                raise ValueError(f"{name}: expected an int or {n} values, got {x!r}")
            return t
        return tuple(itertools.repeat(x, n))

    parse.__name__ = name
    return parse


single = ntuple(1, "_single")
pair = ntuple(2, "_pair")


def factory_dtype(dtype) -> _dtypes.DType:
    """``dtype=`` of a layer constructor: ``None`` means float32, like PyTorch."""
    return _dtypes.float32 if dtype is None else _dtypes.as_dtype(dtype)


def new_parameter(shape, dtype=None, device=None) -> Parameter:
    """A zero-filled Parameter to be filled by an initialiser (``reset_parameters``)."""
    return Parameter(FUNCS["zeros"](tuple(shape), dtype=factory_dtype(dtype), device=device))


def current(v: Tensor) -> Tensor:
    """The current value of a Variable as a plain Tensor (no copy).

    Arithmetic with Python scalars goes through the plain-Tensor fast path of the
    generated operators, and inside ``uf.function`` the traced value is returned.
    """
    return wrap(v._native, v._b)


def check_reduction(reduction: str) -> str:
    if reduction not in ("none", "mean", "sum"):
        raise ValueError(f"{reduction!r} is not a valid value for reduction "
                         "(expected 'none', 'mean' or 'sum')")
    return reduction
