"""Small helpers shared by the optimizer package (state buffers, tracing test)."""
from __future__ import annotations

from .._registry import use_backend
from .._tensor import Tensor, wrap
from ..variable import Buffer, trace_state


def is_tracing(x: Tensor) -> bool:
    """True while a :func:`unifw.function` traces (or ``x`` is a traced value)."""
    if trace_state.depth:
        return True
    b = x._b
    return bool(b.supports_compile and b.is_tracing(x._native))


def plain(v) -> Tensor:
    """The current value of Variable ``v`` as a plain Tensor (no copy; while tracing,
    the traced value). Arithmetic on it treats Python scalars as weak, as on any Tensor."""
    return wrap(v._native, v._b)


def tensor_like(like: Tensor, value, dtype) -> Tensor:
    """``value`` as a tensor of ``dtype`` on the backend and device of ``like``."""
    from .._creation import asarray

    with use_backend(like._b.name):
        return asarray(value, dtype=dtype, device=like.device)


def new_buffer(like: Tensor, value, dtype, name: str) -> Buffer:
    """A :class:`~unifw.variable.Buffer` holding ``value`` next to ``like``."""
    return Buffer(tensor_like(like, value, dtype), name=name)


def assign_value(var, value) -> None:
    """``var.assign(value)`` where ``value`` may also be a Python number or NumPy array,
    or a tensor of another dtype (cast to the variable's)."""
    if isinstance(value, Tensor):
        if value.dtype != var.dtype:
            value = value.astype(var.dtype)
    else:
        value = tensor_like(var, value, var.dtype)
    var.assign(value)
