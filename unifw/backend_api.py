"""The backend interface: what a backend plugin implements.

A backend is assembled from plain modules of functions (Keras-style: ``core``,
``numpy``, ``linalg``, ``fft``, ``nn``, ``autodiff``, ``compile``...) by
:class:`Backend`. Its parts:

* **core** (required): ``native_types`` (tuple of array types), ``dtype_map``
  (``{uf.DType: native dtype}``; a dtype missing here is unsupported),
  ``devices()``, ``default_device()``, ``device_of(x)``, ``to_device(x, device)``,
  ``asarray(obj, dtype=None, device=None, copy=None)``, ``to_numpy(x)``,
  ``from_dlpack(obj, device=None)``.
* **ops** (required unless marked optional in :mod:`unifw._opspec`): one
  function per op, same signature as the public op, natives in and out.
* **variables**: ``variable_new(value, trainable)``, ``variable_read(v)``,
  ``variable_assign(v, value)`` (the storage behind parameters and buffers).
* **autodiff** (optional, a backend without it is forward-only):
  ``vjp``, ``jvp``, ``stop_gradient``, ``no_grad``, ``custom_vjp``.
* **compile** (optional, eager fallback): ``function``, ``cond``,
  ``while_loop``, ``scan``, ``is_tracing``.

An ops module may also hold ``complex_overrides``, ``{op name: function}``: for a
binary op, the function used instead when the (promoted) inputs are complex. The
real-dtype path can then be the framework's own function, with no Python wrapper
between the facade and the kernel.

Attributes that tune the facade: ``weak_scalars`` (native binary ops accept
Python scalars with Array API weak-scalar semantics), ``check_devices``
(the facade compares devices of op inputs because the framework would
silently copy), ``no_grad_stops_ops`` (the framework has no "not recording"
state, as on JAX: inside ``uf.no_grad()`` the facade applies ``stop_gradient``
to the result of every differentiable op).
"""
from __future__ import annotations

import types

from . import _dtypes
from ._opspec import CORE_INTERFACE, DTYPE_GROUPS, OPS, OpSpec

_NS_PREFIX = {"": "", "linalg": "linalg_", "fft": "fft_", "nn": "nn_"}


def attr_name(spec: OpSpec) -> str:
    """Attribute under which a backend object holds the implementation of ``spec``."""
    return _NS_PREFIX[spec.ns] + spec.name


class IncompleteBackend(Exception):
    pass


class Backend:
    """A loaded backend: its functions as attributes, plus dtype/device helpers."""

    weak_scalars = True
    check_devices = False
    no_grad_stops_ops = False
    supports_autodiff = True
    supports_compile = True

    def __init__(self, name: str, *, core, ops: dict, extra=(), pip_extra: str = "",
                 **flags):
        self.name = name
        self.pip_extra = pip_extra
        for k, v in flags.items():
            setattr(self, k, v)
        for mod in (core, *extra):
            for k, v in vars(mod).items():
                if not k.startswith("_") and not isinstance(v, types.ModuleType):
                    setattr(self, k, v)
        missing_core = [k for k in CORE_INTERFACE if not hasattr(self, k)]
        provided = {}
        self._complex_ops = {}
        for ns, mods in ops.items():
            for mod in mods if isinstance(mods, (list, tuple)) else [mods]:
                for k, v in vars(mod).items():
                    if not k.startswith("_") and callable(v):
                        provided[_NS_PREFIX[ns] + k] = v
                for k, v in getattr(mod, "complex_overrides", {}).items():
                    self._complex_ops[_NS_PREFIX[ns] + k] = v
        missing = []
        from . import _composites

        for spec in OPS.values():
            a = attr_name(spec)
            fn = provided.get(a)
            if fn is None:
                comp = getattr(_composites, a, None)
                if comp is None:
                    missing.append(spec.qualname)
                    continue
                fn = types.MethodType(comp, self)
            setattr(self, a, fn)
        if missing_core or missing:
            raise IncompleteBackend(
                f"backend {name!r} is incomplete: missing core {missing_core}, ops {missing}")
        # (native dtype, Python scalar type) -> True (scalar keeps the dtype), a native dtype
        # (complex scalar with a real tensor) or False (refused). Filled once here so that
        # compiled code never sees this dict change (torch.compile guards on it).
        self._scalar_ok = {}
        for ud, nd in self.dtype_map.items():
            for t, sample in ((bool, True), (int, 1), (float, 1.0), (complex, 1j)):
                try:
                    r = _dtypes.scalar_result_dtype(ud, sample, "")
                except Exception:
                    self._scalar_ok[(nd, t)] = False
                    continue
                self._scalar_ok[(nd, t)] = True if r is ud else self.dtype_map.get(r, False)
        self._to_native = dict(self.dtype_map)
        self._from_native = {v: k for k, v in self.dtype_map.items()}
        self._kind_natives = {
            group: frozenset(v for k, v in self.dtype_map.items() if k.kind in kinds)
            for group, kinds in DTYPE_GROUPS.items()
        }
        # binary ops look here only when their inputs are complex
        self._complex_natives = frozenset(v for k, v in self.dtype_map.items()
                                          if k.kind == "c") if self._complex_ops else frozenset()
        # per binary op, the input dtypes that need no check and no complex override: its
        # dispatch function tests one set membership before calling straight through
        self._fast_dtypes = {}
        for spec in OPS.values():
            if spec.kind in ("binary", "compare") and len(spec.tensors) == 2:
                a = attr_name(spec)
                ok = self._kind_natives[spec.dtypes]
                if a in self._complex_ops:
                    ok = ok - self._complex_natives
                self._fast_dtypes[a] = ok

    # ---------------------------------------------------------------- dtypes
    def native_dtype(self, dtype):
        """Native dtype for a unifw dtype (or name); DTypeError if unsupported here."""
        d = _dtypes.as_dtype(dtype)
        try:
            return self._to_native[d]
        except KeyError:
            from .errors import DTypeError

            raise DTypeError(f"dtype {d} is not supported by backend '{self.name}'") from None

    def udtype(self, x) -> _dtypes.DType:
        """unifw dtype of a native array."""
        return self._from_native[x.dtype]

    def __repr__(self):
        return f"<unifw backend {self.name!r}>"
