"""Mutable state: :class:`Variable` and its kinds :class:`Parameter` and :class:`Buffer`.

A Variable *is* a :class:`~unifw.Tensor` (use it in any op) whose value lives
in backend storage: a ``torch.nn.Parameter``, a ``tf.Variable``, or a box
holding a JAX/NumPy array. ``assign`` replaces the value (in place where the
framework updates in place); ``value`` returns a snapshot Tensor that later
assignments do not change, on every backend.

Inside :func:`unifw.function`, variables that belong to the arguments are
carried in and written back; reading one that was not passed raises
:class:`~unifw.TracingError` instead of silently freezing it as a constant.
"""
from __future__ import annotations

import threading

from ._registry import active
from ._tensor import Tensor, wrap
from .errors import DTypeError, ShapeError, TracingError


class _TraceState(threading.local):
    def __init__(self):
        self.depth = 0        # >0 while a uf.function is being traced
        self.allowed = None   # set of id(Variable) passed to the traced function
        self.substitute = {}  # id(Variable) -> native value used instead of storage (JAX)


trace_state = _TraceState()

# Bumped whenever the set of variables behind a Module or optimizer may have changed
# (registration, train/eval, new optimizer slots): uf.function reuses a call's
# flattened state only while this is unchanged.
structure_epoch = [0]


def structure_changed() -> None:
    structure_epoch[0] += 1


class Variable(Tensor):
    """A Tensor backed by mutable storage (see module docstring)."""

    __slots__ = ("_store", "_trainable", "name")

    def __init__(self, value, *, trainable: bool = True, name: str | None = None):
        if not isinstance(value, Tensor):
            from ._creation import asarray

            value = asarray(value)
        b = value._b
        self._b = b
        self._store = b.variable_new(value._native, trainable)
        self._trainable = bool(trainable)
        self.name = name

    # reading ------------------------------------------------------------
    @property
    def _native(self):
        ts = trace_state
        if ts.depth:
            sub = ts.substitute.get(id(self))
            if sub is not None:
                return sub
            if ts.allowed is not None and id(self) not in ts.allowed:
                raise TracingError(
                    f"a {type(self).__name__}{' ' + repr(self.name) if self.name else ''} of shape "
                    f"{tuple(self._b.variable_read(self._store).shape)} was read inside a "
                    "uf.function but is not part of its arguments; pass the module/optimizer "
                    "that owns it as an argument so its state is carried in and written back")
        return self._b.variable_read(self._store)

    @property
    def value(self) -> Tensor:
        """A snapshot of the current value (not changed by later ``assign``)."""
        return wrap(self._b.variable_snapshot(self._store), self._b) if hasattr(
            self._b, "variable_snapshot") else wrap(self._native, self._b)

    @property
    def native(self):
        return self._native

    @property
    def trainable(self) -> bool:
        return self._trainable

    @trainable.setter
    def trainable(self, flag: bool):
        self._trainable = bool(flag)
        structure_changed()
        setter = getattr(self._b, "variable_set_trainable", None)
        if setter is not None:
            setter(self._store, self._trainable)

    # writing ------------------------------------------------------------
    def assign(self, value) -> "Variable":
        """Replace the value; shape, dtype and device must match (nothing is cast or moved)."""
        if not isinstance(value, Tensor):
            from ._creation import asarray

            value = asarray(value, dtype=self.dtype)
        cur = self._native
        b = self._b
        if value._b is not b:
            from .errors import BackendMismatchError

            raise BackendMismatchError(f"assign: {value._b.name} value into a {b.name} variable")
        new = value._native
        if tuple(new.shape) != tuple(cur.shape):
            raise ShapeError(f"assign: value of shape {tuple(new.shape)} into variable of shape "
                             f"{tuple(cur.shape)} (backend '{b.name}')")
        if b.device_of(new) != b.device_of(cur):
            from .errors import DeviceMismatchError

            raise DeviceMismatchError(
                f"assign: value on {b.device_of(new)} into a variable on {b.device_of(cur)} "
                f"(backend '{b.name}'); move it explicitly with .to(device)")
        if new.dtype != cur.dtype:
            raise DTypeError(f"assign: value of dtype {b.udtype(new)} into variable of dtype "
                             f"{b.udtype(cur)} (backend '{b.name}'); cast explicitly")
        ts = trace_state
        if ts.depth and id(self) in ts.substitute:
            ts.substitute[id(self)] = new
            return self
        b.variable_assign(self._store, new)
        return self

    def _rebind(self, native) -> None:
        """Replace the storage with a new one holding ``native`` (used by ``Module.to`` to
        change device/dtype while keeping this object, so optimizers still refer to it)."""
        self._store = self._b.variable_new(native, self._trainable)
        structure_changed()

    def __deepcopy__(self, memo):
        new = type(self).__new__(type(self))
        new._b = self._b
        new._store = self._b.variable_new(self._b.variable_read(self._store), self._trainable)
        new._trainable = self._trainable
        new.name = self.name
        memo[id(self)] = new
        return new

    def __repr__(self):
        base = super().__repr__()
        return f"{type(self).__name__}({base[7:-1]}, trainable={self._trainable})"


class Parameter(Variable):
    """A trainable Variable registered by :class:`unifw.nn.Module` (like ``torch.nn.Parameter``)."""

    __slots__ = ()

    def __init__(self, value, trainable: bool = True, *, name=None):
        super().__init__(value, trainable=trainable, name=name)


class Buffer(Variable):
    """Non-trainable module state (BatchNorm statistics, RNG keys, step counters)."""

    __slots__ = ()

    def __init__(self, value, *, name=None):
        super().__init__(value, trainable=False, name=name)

    @Variable.trainable.setter
    def trainable(self, flag):
        if flag:
            raise ValueError("a Buffer cannot be made trainable; use a Parameter")


def is_variable(x) -> bool:
    return isinstance(x, Variable)


def current_backend():
    return active()
