"""unifw: write deep-learning code once, run it on PyTorch, TensorFlow, JAX or NumPy.

Pick the backend with ``UNIFW_BACKEND=jax`` (or :func:`set_backend` /
:func:`use_backend`); no framework is imported until a backend is used.
"""
from __future__ import annotations

import importlib as _importlib
import math as _math

from . import _dtypes
from ._dtypes import (DType, bfloat16, bool, complex64, complex128, finfo, float16, float32,
                      float64, iinfo, int8, int16, int32, int64, isdtype, result_type, uint8)
from ._registry import (BackendPlugin, available_backends, backend, get_backend,
                        register_plugin, registered_backends, set_backend,
                        unregister_plugin, use_backend)
from ._tensor import Device, Tensor
from .errors import (BackendMismatchError, BackendNotAvailable, CheckpointError,
                     CompilationError, DeviceMismatchError, DeviceNotAvailable, DTypeError,
                     IndexError, OpError, ShapeError, StateDictError, TracingError, UnifwError)
from ._dispatch import FUNCS as _FUNCS
from . import _tensor_methods  # noqa: F401  (binds operators and methods)
from ._creation import asarray, from_dlpack, from_native, tensor
from ._devices import default_device, device, devices
from . import random  # noqa: F401

__version__ = "0.1.0"

e = _math.e
pi = _math.pi
inf = _math.inf
nan = _math.nan
newaxis = None

for _name, _fn in _FUNCS.items():
    if "." not in _name:
        globals()[_name] = _fn
del _name, _fn


def can_cast(from_, to, /) -> bool:
    """Array API ``can_cast``: whether promotion of ``from_`` to ``to`` is lossless."""
    f = _dtypes.as_dtype(getattr(from_, "dtype", from_))
    t = _dtypes.as_dtype(to)
    return _dtypes.promote_pair(f, t) is t


_LAZY = {
    # autodiff
    "grad": "autodiff", "value_and_grad": "autodiff", "vjp": "autodiff", "jvp": "autodiff",
    "jacobian": "autodiff", "hessian": "autodiff", "stop_gradient": "autodiff",
    "no_grad": "autodiff", "custom_vjp": "autodiff",
    # static mode
    "function": "compile", "cond": "compile", "while_loop": "compile", "fori_loop": "compile",
    "scan": "compile", "config": "compile",
    # checkpoints and training
    "save": "checkpoint", "load": "checkpoint", "fit": "training",
    # mutable state
    "Variable": "variable", "Parameter": "variable", "Buffer": "variable",
    # tree utilities
    "tree_map": "tree", "tree_flatten": "tree", "tree_unflatten": "tree",
}
_SUBMODULES = {"nn", "optim", "data", "linalg", "fft", "array_api", "autodiff", "compile",
               "checkpoint", "training", "tree", "variable", "demo", "testing"}


def __getattr__(name):
    mod = _LAZY.get(name)
    if mod is not None:
        value = getattr(_importlib.import_module(f"unifw.{mod}"), name)
        globals()[name] = value
        return value
    if name in _SUBMODULES:
        m = _importlib.import_module(f"unifw.{name}")
        globals()[name] = m
        return m
    raise AttributeError(f"module 'unifw' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_LAZY) | _SUBMODULES)
