"""Making tensors: ``asarray``/``tensor``, ``from_native``, ``from_dlpack``."""
from __future__ import annotations

import numpy as np

from . import _dtypes
from ._devices import current_device, resolve_device
from ._dispatch import infer_dtype
from ._registry import active, available_backends, load_backend
from ._tensor import Tensor, wrap
from .errors import BackendMismatchError, UnifwError


def asarray(obj, /, *, dtype=None, device=None, copy=None) -> Tensor:
    """Make a tensor on the active backend from a Tensor, NumPy array, scalar or nested list.

    Without ``dtype``: NumPy arrays keep their dtype, Python floats give
    ``float32``, ints ``int64``, bools ``bool`` (PyTorch's defaults). A tensor
    of another backend is refused (:class:`~unifw.BackendMismatchError`):
    convert through NumPy or DLPack explicitly.
    """
    b = active()
    if isinstance(obj, Tensor):
        from .variable import Variable

        if isinstance(obj, Variable):  # a value, not the mutable storage
            obj = obj.value
        if obj._b is not b:
            raise BackendMismatchError(
                f"asarray: a {obj._b.name} tensor cannot become a {b.name} tensor implicitly; "
                "use uf.from_dlpack(x) or uf.asarray(x.numpy())")
        out = obj
        if dtype is not None and _dtypes.as_dtype(dtype) is not obj.dtype:
            out = out.astype(dtype)
        if device is not None:
            out = out.to(device)
        elif copy:
            out = wrap(b.asarray(out._native, dtype=None, device=b.device_of(out._native),
                                 copy=True), b)
        return out
    if isinstance(obj, b.native_types):
        dev = resolve_device(b, device) if device is not None else b.device_of(obj)
        nd = b.native_dtype(dtype) if dtype is not None else None
        return wrap(b.asarray(obj, dtype=nd, device=dev, copy=copy), b)
    if hasattr(obj, "__dlpack__") and not isinstance(obj, (np.ndarray, np.generic)):
        raise BackendMismatchError(
            f"asarray: got a {type(obj).__module__}.{type(obj).__name__} on backend '{b.name}'; "
            "use uf.from_native (same framework) or uf.from_dlpack (another framework)")
    d = _dtypes.as_dtype(dtype) if dtype is not None else infer_dtype(obj)
    dev = resolve_device(b, device) if device is not None else current_device(b)
    return wrap(b.asarray(obj, dtype=b.native_dtype(d), device=dev, copy=copy), b)


def tensor(data, dtype=None, device=None) -> Tensor:
    """``uf.tensor(data, dtype=..., device=...)``: always a new tensor (copies)."""
    return asarray(data, dtype=dtype, device=device, copy=True)


def _backend_for_native(obj):
    for name in available_backends():
        b = load_backend(name) if _framework_imported(name) else None
        if b is not None and isinstance(obj, b.native_types):
            return b
    return None


def _framework_imported(name) -> bool:
    import sys

    mod = {"tensorflow": "tensorflow", "torch": "torch", "jax": "jax", "numpy": "numpy"}.get(name)
    return mod is None or mod in sys.modules


def from_native(x) -> Tensor:
    """Wrap a torch/TensorFlow/JAX/NumPy array without copying.

    The tensor belongs to the backend that owns ``x`` (the active backend is
    tried first).
    """
    b = active()
    if isinstance(x, b.native_types):
        return wrap(x, b)
    other = _backend_for_native(x)
    if other is None:
        raise UnifwError(f"from_native: {type(x).__module__}.{type(x).__name__} is not an array "
                         "of any loaded backend")
    return wrap(x, other)


def from_dlpack(x, /, *, device=None) -> Tensor:
    """Tensor on the active backend sharing memory with ``x`` (any DLPack producer,
    another backend's Tensor included) where the frameworks allow zero-copy, else a copy
    (e.g. TensorFlow copies strided or not 64-byte aligned host buffers)."""
    b = active()
    src = x._native if isinstance(x, Tensor) else x
    if isinstance(src, b.native_types):
        return wrap(src, b) if device is None else wrap(src, b).to(device)
    dev = resolve_device(b, device) if device is not None else None
    return wrap(b.from_dlpack(src, device=dev), b)
