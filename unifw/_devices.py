"""Device placement: one API on every backend.

Devices are named ``"cpu"`` and ``"gpu:N"`` everywhere (PyTorch's ``cuda:N``,
TensorFlow's ``/GPU:N`` and JAX's ``cuda:N`` all map to ``gpu:N``). Creation
ops place their result on the device of the innermost ``with uf.device(...)``
block, else on the backend's default device (the first GPU if there is one, as
the frameworks do). Data moves between devices only through ``x.to(device)``.
"""
from __future__ import annotations

import contextlib
import contextvars

from ._registry import active
from ._tensor import Device, Tensor, wrap
from .errors import DeviceNotAvailable

_scoped_device = contextvars.ContextVar("unifw_device", default=None)


def devices(backend=None) -> list:
    """Devices of the active backend, e.g. ``["cpu"]`` or ``["cpu", "gpu:0"]``."""
    from ._registry import get_backend

    b = get_backend(backend)
    return [Device(d) for d in b.devices()]


def resolve_device(b, spec) -> str:
    d = Device(spec)
    if d not in b.devices():
        raise DeviceNotAvailable(f"device {str(d)!r} is not available on backend '{b.name}' "
                                 f"(devices: {', '.join(b.devices())})")
    return str(d)


_open_scopes = 0  # number of `with uf.device(...)` blocks open in any thread


def current_device(b) -> str:
    # Without any open `uf.device` block, skip the ContextVar: torch.compile breaks the graph
    # on ContextVar.get, and this runs for every creation op and scalar conversion.
    if not _open_scopes:
        return b.default_device()
    d = _scoped_device.get()
    if d is None:
        return b.default_device()
    return resolve_device(b, d)


def default_device() -> Device:
    """Device that creation ops use right now (``uf.device`` block, else the backend default)."""
    return Device(current_device(active()))


@contextlib.contextmanager
def device(spec):
    """``with uf.device("gpu:0"):`` creation ops inside place their results there."""
    global _open_scopes
    d = Device(spec)
    resolve_device(active(), d)
    token = _scoped_device.set(str(d))
    _open_scopes += 1
    try:
        yield d
    finally:
        _open_scopes -= 1
        _scoped_device.reset(token)


def to_device(x: Tensor, spec) -> Tensor:
    b = x._b
    d = resolve_device(b, spec)
    if b.device_of(x._native) == d:
        return x
    return wrap(b.to_device(x._native, d), b)
