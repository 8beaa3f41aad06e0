"""``uf.Tensor``: an immutable value wrapping one backend's native array."""
from __future__ import annotations

import numpy as np

__all__ = ["Tensor", "Device"]


class Device(str):
    """A unifw device name: ``"cpu"`` or ``"gpu:N"``. Compares equal to its string."""

    __slots__ = ()

    def __new__(cls, spec="cpu"):
        s = str(spec).strip().lower()
        if s.startswith("cuda"):
            s = "gpu" + s[4:]
        if s == "gpu":
            s = "gpu:0"
        if s.startswith("cpu"):
            s = "cpu"
        if not (s == "cpu" or (s.startswith("gpu:") and s[4:].isdigit())):
            from .errors import DeviceNotAvailable

            raise DeviceNotAvailable(f"unknown device {spec!r}: use 'cpu' or 'gpu:N'")
        return super().__new__(cls, s)

    @property
    def type(self) -> str:
        return "cpu" if self == "cpu" else "gpu"

    @property
    def index(self) -> int:
        return 0 if self == "cpu" else int(self[4:])

    def __repr__(self):
        return f"Device({str.__repr__(self)})"


class Tensor:
    """An immutable n-dimensional array living on one backend and one device.

    Create with :func:`unifw.tensor` / :func:`unifw.asarray` or any op. The
    backend's own array is :attr:`native` (zero-copy); :meth:`numpy` copies to
    the host. Updates are functional: ``x.at[idx].set(v)`` returns a new tensor.
    """

    __slots__ = ("_native", "_b", "__weakref__")
    __array_ufunc__ = None  # make NumPy defer to our reflected operators
    __array_priority__ = 1000

    # -------------------------------------------------------------- basics
    @property
    def native(self):
        """The backend's own array (torch.Tensor, tf.Tensor, jax.Array, np.ndarray)."""
        return self._native

    @property
    def backend_name(self) -> str:
        return self._b.name

    @property
    def shape(self) -> tuple:
        return tuple(self._native.shape)

    @property
    def ndim(self) -> int:
        return len(self._native.shape)

    @property
    def size(self) -> int:
        n = 1
        for d in self._native.shape:
            n *= int(d)
        return n

    @property
    def dtype(self):
        return self._b.udtype(self._native)

    @property
    def device(self) -> Device:
        return Device(self._b.device_of(self._native))

    def numpy(self) -> np.ndarray:
        """Copy to a NumPy array on the host (a TracingError inside ``uf.function``)."""
        _no_host_copy_while_tracing(self, "numpy")
        return self._b.to_numpy(self._native)

    def __array__(self, dtype=None, copy=None):
        _no_host_copy_while_tracing(self, "__array__")
        a = self._b.to_numpy(self._native)
        return a if dtype is None else a.astype(dtype, copy=False)

    def item(self):
        return self.numpy().item()

    def tolist(self):
        return self.numpy().tolist()

    def __dlpack__(self, *args, **kwargs):
        return self._native.__dlpack__(*args, **kwargs)

    def __dlpack_device__(self):
        return self._native.__dlpack_device__()

    def __array_namespace__(self, *, api_version=None):
        import unifw.array_api as xp

        if api_version is not None and api_version not in xp._SUPPORTED_API_VERSIONS:
            raise ValueError(f"unifw implements the Array API versions "
                             f"{', '.join(xp._SUPPORTED_API_VERSIONS)}, not {api_version!r}")
        return xp

    def __repr__(self):
        try:
            vals = np.array2string(self.numpy(), separator=", ", threshold=50,
                                   prefix="Tensor(")
        except Exception:  # traced value: no data to show
            vals = f"<traced {type(self._native).__name__}>"
        return (f"Tensor({vals}, dtype={self.dtype}, device={str(self.device)!r}, "
                f"backend={self._b.name!r})")

    __hash__ = object.__hash__

    def __len__(self):
        if not self._native.shape:
            raise TypeError("len() of a 0-d tensor")
        return int(self._native.shape[0])

    def __iter__(self):
        for i in range(len(self)):
            yield self[i]

    def _concrete(self, what):
        from ._dispatch import concrete_value

        return concrete_value(self, what)

    def __bool__(self):
        return bool(self._concrete("bool"))

    def __float__(self):
        return float(self._concrete("float"))

    def __int__(self):
        return int(self._concrete("int"))

    def __index__(self):
        v = self._concrete("index")
        if not np.issubdtype(np.asarray(v).dtype, np.integer):
            raise TypeError("only integer tensors can be used as an index")
        return int(v)

    def __complex__(self):
        return complex(self._concrete("complex"))

    # -------------------------------------------------------------- conversions
    def astype(self, dtype, /, *, copy=True, device=None):
        from ._dispatch import FUNCS

        return FUNCS["astype"](self, dtype, copy=copy, device=device)

    def to(self, device=None, dtype=None):
        """Copy to ``device`` (and/or cast to ``dtype``), like ``torch.Tensor.to``.

        The one explicit way to move data between devices.
        """
        from . import _devices
        from ._dtypes import DType

        if isinstance(device, (DType, str)) and not isinstance(device, Device) and dtype is None:
            from ._dtypes import _by_name

            if isinstance(device, DType) or device in _by_name:
                device, dtype = None, device
        out = self
        if dtype is not None:
            out = out.astype(dtype)
        if device is not None:
            out = _devices.to_device(out, device)
        return out

    def cpu(self):
        return self.to("cpu")

    def to_device(self, device, /, *, stream=None):
        """Array API spelling of ``x.to(device)``: copy to ``device`` (no-op if already there)."""
        if stream is not None:
            raise ValueError("to_device: unifw does not take a stream; pass stream=None")
        from . import _devices

        return _devices.to_device(self, device)

    @property
    def at(self):
        """Functional updates: ``x.at[idx].set(v)`` / ``.add`` / ``.multiply`` / ``.min`` /
        ``.max``."""
        return _AtIndexer(self)

    # -------------------------------------------------------------- indexing
    def __getitem__(self, key):
        from ._dispatch import getitem

        return getitem(self, key)

    def __setitem__(self, key, value):
        raise TypeError("unifw tensors are immutable values; use y = x.at[idx].set(value)")


class _AtIndexer:
    __slots__ = ("_x",)

    def __init__(self, x):
        self._x = x

    def __getitem__(self, key):
        return _AtRef(self._x, key)


class _AtRef:
    __slots__ = ("_x", "_key")

    def __init__(self, x, key):
        self._x, self._key = x, key

    def _do(self, values, mode):
        from ._dispatch import index_update

        return index_update(self._x, self._key, values, mode)

    def set(self, values):
        return self._do(values, "set")

    def add(self, values):
        return self._do(values, "add")

    def multiply(self, values):
        return self._do(values, "multiply")

    def min(self, values):
        return self._do(values, "min")

    def max(self, values):
        return self._do(values, "max")

    def get(self):
        return self._x[self._key]


_new = object.__new__


def _no_host_copy_while_tracing(t, what):
    """A host copy inside ``uf.function`` would freeze a trace-time value into the
    program (JAX and TensorFlow cannot even make one): the same error on every backend."""
    from .variable import trace_state

    if trace_state.depth or (t._b.supports_compile and t._b.is_tracing(t._native)):
        from .errors import TracingError

        raise TracingError(
            f"{what}() of a tensor inside a uf.function on backend '{t._b.name}': its value "
            "is only known when the compiled function runs. Return the tensor and convert "
            "it outside, or use uf ops on it.")


def wrap(native, b) -> Tensor:
    """Wrap a native array of backend ``b`` (no copy, no checks)."""
    t = _new(Tensor)
    t._native = native
    t._b = b
    return t
