"""Core of the JAX backend: dtypes, devices, conversion, variables.

JAX runs with ``jax_enable_x64`` so that float64/int64 are real dtypes, as in
the other frameworks. Arrays are *committed* to their device
(``jax.device_put``), so JAX refuses to mix devices instead of moving data
silently; when JAX sees a single device, creation ops skip that placement.
"""
import jax
import jax.numpy as jnp
import numpy as np

from unifw import _dtypes

jax.config.update("jax_enable_x64", True)

_Tracer = jax.core.Tracer

native_types = (jax.Array,)  # tracers are virtual subclasses of jax.Array
dtype_map = {d: d.numpy_dtype for d in _dtypes.all_dtypes}


# ------------------------------------------------------------------ devices
def _discover_devices():
    by_name = {"cpu": jax.devices("cpu")[0]}
    try:
        gpus = jax.devices("gpu")
    except RuntimeError:  # jaxlib built without CUDA/ROCm, or no GPU present
        gpus = []
    for i, dev in enumerate(gpus):
        by_name[f"gpu:{i}"] = dev
    name_of = {dev: name for name, dev in by_name.items()}
    for dev in jax.devices("cpu"):  # every host device (XLA_FLAGS may create several) is "cpu"
        name_of.setdefault(dev, "cpu")
    return by_name, name_of


_DEVICES, _NAME_OF = _discover_devices()
_DEFAULT = "gpu:0" if "gpu:0" in _DEVICES else "cpu"
_SEVERAL = len(_DEVICES) > 1


def devices():
    return list(_DEVICES)


def default_device():
    return _DEFAULT


def device_of(x):
    try:
        return _NAME_OF[x.device]
    except (AttributeError, KeyError, ValueError):
        return _device_of_slow(x)


def _device_of_slow(x):
    if isinstance(x, _Tracer):  # placement of a traced value is decided by the compiled call
        return _DEFAULT
    devs = sorted(x.devices(), key=lambda d: d.id)  # a sharded array: report its first device
    return _NAME_OF.get(devs[0], "cpu" if devs[0].platform == "cpu" else f"gpu:{devs[0].id}")


def to_device(x, device):
    return jax.device_put(x, _DEVICES[device])


# ------------------------------------------------------------------ conversion
def _placement(device):
    """The JAX device for a creation op, or None (JAX's default) when there is only one:
    placing explicitly costs several microseconds per call and nothing can move anyway."""
    return _DEVICES[device if device is not None else _DEFAULT] if _SEVERAL else None


def asarray(obj, dtype=None, device=None, copy=None):
    """A JAX array committed to ``device`` (``copy=False`` raises if a copy is unavoidable)."""
    if isinstance(obj, jax.Array):
        return _from_jax(obj, dtype, device, copy)
    target = _DEVICES[device if device is not None else _DEFAULT]
    if copy is False:
        host = np.asarray(obj, dtype=dtype)
        out = jax.device_put(host, target)
        if host.size and out.unsafe_buffer_pointer() != host.__array_interface__["data"][0]:
            raise ValueError("asarray(copy=False): JAX cannot share this memory; a copy is needed")
        return out
    # device_put may alias host memory: only ever hand it a private copy
    host = np.array(obj, dtype=dtype, copy=True) if isinstance(obj, np.ndarray) \
        else np.asarray(obj, dtype=dtype)
    return jax.device_put(host, target)


def _from_jax(x, dtype, device, copy):
    if isinstance(x, _Tracer):
        return x if dtype is None or x.dtype == dtype else x.astype(dtype)
    need_cast = dtype is not None and x.dtype != dtype
    need_move = device is not None and device_of(x) != device
    if copy is False and (need_cast or need_move):
        raise ValueError("asarray(copy=False): a dtype change or device move needs a copy")
    if need_cast:
        x = x.astype(dtype)
    elif copy:
        x = jnp.array(x, copy=True)
    if need_move:
        x = jax.device_put(x, _DEVICES[device])
    return x


def to_numpy(x):
    """A writable host copy (bfloat16 arrays come back as ``ml_dtypes.bfloat16``)."""
    return np.array(x)


def from_dlpack(obj, device=None):
    if isinstance(obj, np.ndarray):  # JAX copies host arrays anyway; NumPy exports no bfloat16
        return asarray(obj, device=device)
    if getattr(obj, "requires_grad", False):  # torch refuses to export tensors that need grad
        obj = obj.detach()
    try:
        out = jnp.from_dlpack(obj)
    except jax.errors.JaxRuntimeError:  # JAX imports compact buffers only: copy strided views
        out = asarray(np.from_dlpack(obj), device=device)
    if device is not None and device_of(out) != device:
        out = jax.device_put(out, _DEVICES[device])
    return out


def is_tracing(x):
    return isinstance(x, _Tracer)


# ------------------------------------------------------------------ variables
class Box:
    """Mutable holder of a parameter/buffer value (JAX arrays are immutable)."""

    __slots__ = ("value", "trainable")

    def __init__(self, value, trainable):
        self.value = value
        self.trainable = trainable

    def __repr__(self):
        return f"Box(shape={tuple(self.value.shape)}, dtype={self.value.dtype})"


def variable_new(value, trainable=True):
    return Box(value, bool(trainable))


def variable_read(store):
    return store.value


def variable_assign(store, value):
    store.value = value


def variable_snapshot(store):
    return store.value  # immutable: a later assign rebinds the box, the old array stays


def variable_set_trainable(store, flag):
    store.trainable = bool(flag)


BACKEND_FLAGS = {
    "weak_scalars": True,
    "check_devices": _SEVERAL,
    "no_grad_stops_ops": True,   # uf.no_grad inside jax.grad: stop_gradient every op result
    "supports_autodiff": True,
    "supports_compile": True,
}
