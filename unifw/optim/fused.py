"""Hooks for fused optimizer updates (eager mode only).

The generic update rules are written once with unifw ops and trace into every
backend's compiler. Eagerly, a backend may do better with its own multi-tensor
kernels: :func:`register` maps ``(backend name, optimizer class)`` to a function
``fn(optimizer, h, todo) -> bool`` that updates the parameters and state of one
group in place and returns True, or returns False to fall back to the generic
rule. ``todo`` lists ``(index, param, slots, grad)``; ``h`` holds the group's
options with ``h["lr"]`` as a float.

Built-in: PyTorch, where the update is done by ``torch.optim``'s own functional
implementations. :func:`register_increment` does the same for the optimizer's
step counter. Only the exact built-in classes are fused: a subclass that
overrides ``_update`` always runs its own rule.
"""
from __future__ import annotations

import contextlib
import importlib

__all__ = ["register", "register_increment", "enabled", "disabled"]

_REGISTRY: dict = {}
_INCREMENT: dict = {}
_BUILTIN = {"torch": "unifw.optim._torch_fused"}
_loaded: set = set()
_state = {"enabled": True}


def register(backend: str, optimizer_cls: type, fn) -> None:
    """Use ``fn`` for eager steps of ``optimizer_cls`` on ``backend``."""
    _REGISTRY[(backend, optimizer_cls)] = fn


def register_increment(backend: str, fn) -> None:
    """Use ``fn(variable)`` to add 1 to an integer step counter in place on ``backend``."""
    _INCREMENT[backend] = fn


def enabled() -> bool:
    return _state["enabled"]


@contextlib.contextmanager
def disabled():
    """Run eager steps with the generic unifw rules (for testing and debugging)."""
    before = _state["enabled"]
    _state["enabled"] = False
    try:
        yield
    finally:
        _state["enabled"] = before


def _hooks_for(backend: str) -> None:
    if backend not in _loaded:
        _loaded.add(backend)
        module = _BUILTIN.get(backend)
        if module is not None:
            importlib.import_module(module).register_all(register, register_increment)


def fused_update(optimizer, h: dict, todo: list) -> bool:
    if not _state["enabled"]:
        return False
    backend = todo[0][1]._b.name
    _hooks_for(backend)
    fn = _REGISTRY.get((backend, type(optimizer)))
    return fn is not None and fn(optimizer, h, todo)


def increment(var) -> bool:
    """Add 1 to the integer Variable ``var`` with the backend's in-place hook, if any."""
    if not _state["enabled"]:
        return False
    backend = var._b.name
    _hooks_for(backend)
    fn = _INCREMENT.get(backend)
    return fn is not None and fn(var)
