"""The unifw exception hierarchy.

Every error unifw raises for bad input is a :class:`UnifwError`, and the same
mistake raises the same class on every backend. Errors coming from an op carry
the op name, the backend and a description of the inputs; the framework's own
exception, if any, is kept as ``__cause__``.
"""
from __future__ import annotations


class UnifwError(Exception):
    """Base class of all unifw errors."""


class BackendNotAvailable(UnifwError, ImportError):
    """The requested backend is unknown or its framework is not installed."""


class BackendMismatchError(UnifwError, TypeError):
    """Tensors of two different backends were mixed in one op."""


class DeviceMismatchError(UnifwError, ValueError):
    """Tensors on two different devices were mixed in one op."""


class DeviceNotAvailable(UnifwError, ValueError):
    """The requested device does not exist on this machine/backend."""


class ShapeError(UnifwError, ValueError):
    """Shapes that do not fit the op (broadcasting, matmul, reshape, ...)."""


class DTypeError(UnifwError, TypeError):
    """A dtype that the op does not accept, or an implicit cast unifw refuses to do."""


class IndexError_(UnifwError, IndexError):
    """An index out of range or of an unsupported kind."""


class TracingError(UnifwError, RuntimeError):
    """Something that cannot work while a function is being traced/compiled.

    For example a Python ``if`` on a traced tensor (use :func:`unifw.cond`), or
    reading module state that was not passed to the compiled function.
    """


class CompilationError(UnifwError, RuntimeError):
    """The framework failed to compile a :func:`unifw.function`."""


class CheckpointError(UnifwError, ValueError):
    """A checkpoint is corrupt, truncated, or does not match the target."""


class StateDictError(UnifwError, KeyError):
    """``load_state_dict`` found missing, unexpected or mis-shaped entries."""

    def __str__(self):  # KeyError would repr() the message
        return str(self.args[0]) if self.args else ""


class OpError(UnifwError, RuntimeError):
    """An op failed in the backend for a reason unifw does not classify further."""


# Public alias: ``uf.IndexError`` reads naturally; the trailing underscore only
# avoids shadowing the builtin inside this module.
IndexError = IndexError_  # noqa: A001


def describe(x) -> str:
    """Short description of an op argument for error messages."""
    from ._tensor import Tensor

    if isinstance(x, Tensor):
        return (f"Tensor(shape={tuple(x.shape)}, dtype={x.dtype}, device={x.device}, "
                f"backend={x.backend_name})")
    if isinstance(x, (list, tuple)) and len(x) <= 8 and any(isinstance(v, Tensor) for v in x):
        return "[" + ", ".join(describe(v) for v in x) + "]"
    r = repr(x)
    return r if len(r) <= 60 else r[:57] + "..."


def op_error(cls, op: str, backend: str, args, detail: str = "", cause=None):
    """Build a unifw error naming the op, the inputs and the backend."""
    parts = ", ".join(describe(a) for a in args)
    msg = f"{op}({parts}) on backend '{backend}'"
    if detail:
        msg += f": {detail}"
    if cause is not None:
        first = str(cause).strip().splitlines()
        if first:
            msg += f"  [{type(cause).__name__}: {first[0][:200]}]"
    err = cls(msg)
    err.op = op
    err.backend = backend
    return err
