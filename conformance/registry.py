"""The conformance registry: one :class:`Entry` per public op, layer, loss and optimizer.

An entry says how to draw inputs (a hypothesis strategy of :class:`~.cases.Case`),
the float64 NumPy reference (written here, independently of every backend), the
expected result dtype, how far it is differentiable, which dtypes to test,
tolerance overrides, known failures (strict: one that passes is reported) and
bad inputs with the unifw exception each must raise.
"""
from __future__ import annotations

import fnmatch
import importlib
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from .tolerances import Tol


@dataclass(frozen=True)
class Expect:
    """Where a known failure or an unsupported combination applies ("*" matches anything)."""

    reason: str
    backend: str = "*"
    mode: str = "*"
    dtype: str = "*"
    check: str = "*"
    device: str = "*"
    # an expected failure that passes fails the run (the registry is out of date), unless
    # the upstream bug is known to come and go (strict=False: reported, not failed)
    strict: bool = True

    def matches(self, *, backend, mode, dtype, check, device) -> bool:
        return all(fnmatch.fnmatchcase(str(v), p) for v, p in (
            (backend, self.backend), (mode, self.mode), (dtype, self.dtype),
            (check, self.check), (device, self.device)))


@dataclass(frozen=True)
class Foreign:
    """An argument placed on another backend (a backend-mix error case)."""

    value: np.ndarray


@dataclass(frozen=True)
class OtherDevice:
    """An argument placed on a second device (a device-mix error case)."""

    value: np.ndarray


@dataclass(frozen=True)
class BadInput:
    """A call that must raise ``error`` (a name in :mod:`unifw.errors`) on every backend."""

    args: tuple
    error: str
    what: str
    kwargs: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Entry:
    """How the conformance suite tests one op (see the module docstring).

    cases(dtype, grad): strategy of Cases; ``grad=True`` asks for inputs away from kinks,
        poles, ties and special values.
    reference(*args, **kwargs): float64 NumPy reference on the upcast case arguments.
    out_dtype(case, dtype): expected result dtype name (a tuple for tuple results).
    call(fn, *args, **kwargs): how to invoke the unifw function (default: ``fn(...)``).
    normalize(xp, outputs, args): canonical form of the outputs before comparing, written
        once for ``xp`` = NumPy and ``xp`` = unifw (sign conventions, set order, ...).
    accumulates(case): terms summed into each output element (tolerance growth).
    dynamic_shape: the result shape depends on values; not compiled.
    compilable(case): False for cases that cannot be compiled (e.g. boolean-mask indexing).
    fixed_args: positional arguments kept as drawn for the fresh-input compiled call.
    """

    name: str
    cases: Callable
    reference: Callable
    dtypes: tuple
    out_dtype: Callable
    grad: int = 0
    call: Callable | None = None
    normalize: Callable | None = None
    accumulates: Callable | None = None
    tol: dict = field(default_factory=dict)
    signed_zeros: bool = True
    dynamic_shape: bool = False
    compilable: Callable | None = None
    creation: bool = False
    fixed_args: tuple = ()
    xfail: tuple = ()
    skip: tuple = ()
    errors: tuple = ()
    grad_dtypes: tuple = ("float64", "float32")

    def tolerance(self, dtype: str, base: Tol) -> Tol:
        t = self.tol.get(dtype, self.tol.get("*"))
        if t is None:
            return base
        return base.scaled(t) if isinstance(t, (int, float)) else t

    def expected_failure(self, **where) -> str | None:
        e = self.expected_failure_entry(**where)
        return e.reason if e is not None else None

    def expected_failure_entry(self, **where) -> "Expect | None":
        for e in self.xfail:
            if e.matches(**where):
                return e
        return None

    def unsupported(self, **where) -> str | None:
        for e in self.skip:
            if e.matches(**where):
                return e.reason
        return None


REGISTRY: dict[str, Entry] = {}

_MODULES = ("ops_elementwise", "ops_array", "ops_linalg", "ops_fft", "ops_nn", "ops_losses")
_loaded = False


def register(entry: Entry) -> Entry:
    if entry.name in REGISTRY:
        raise ValueError(f"conformance entry {entry.name!r} registered twice")
    REGISTRY[entry.name] = entry
    return entry


def load() -> dict[str, Entry]:
    """The full registry (imports the entry modules once)."""
    global _loaded
    if not _loaded:
        for m in _MODULES:
            importlib.import_module(f"{__package__}.{m}")
        _loaded = True
    return REGISTRY


def missing_ops() -> list[str]:
    """Public ops (``unifw._opspec.OPS``) that have no registry entry."""
    from unifw._opspec import OPS

    reg = load()
    return sorted(q for q in OPS if q not in reg)


def select(patterns=None) -> list[Entry]:
    """Entries whose name matches one of the glob ``patterns`` (all if None)."""
    reg = load()
    if not patterns:
        return list(reg.values())
    return [e for n, e in reg.items() if any(fnmatch.fnmatchcase(n, p) for p in patterns)]
