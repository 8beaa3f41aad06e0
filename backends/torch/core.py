"""Core of the PyTorch backend: dtypes, devices, conversion, variables.

Devices map ``"cpu"`` <-> ``cpu`` and ``"gpu:N"`` <-> ``cuda:N``. Variables are
``torch.nn.Parameter`` objects updated in place, so their identity survives
assignments (optimizers and ``torch.compile`` guards keep working).
"""
import ml_dtypes
import numpy as np
import torch

from unifw import _dtypes
from unifw.errors import DeviceMismatchError

# Bit-for-bit agreement with the other backends matters more than TF32 speed.
torch.backends.cuda.matmul.allow_tf32 = False
torch.backends.cudnn.allow_tf32 = False

native_types = (torch.Tensor,)  # torch.nn.Parameter is a subclass

dtype_map = {
    _dtypes.bool: torch.bool,
    _dtypes.int8: torch.int8,
    _dtypes.int16: torch.int16,
    _dtypes.int32: torch.int32,
    _dtypes.int64: torch.int64,
    _dtypes.uint8: torch.uint8,
    _dtypes.float16: torch.float16,
    _dtypes.bfloat16: torch.bfloat16,
    _dtypes.float32: torch.float32,
    _dtypes.float64: torch.float64,
    _dtypes.complex64: torch.complex64,
    _dtypes.complex128: torch.complex128,
}

_NUMPY_DTYPES = {t: d.numpy_dtype for d, t in dtype_map.items()}

# ------------------------------------------------------------------ devices
_DEVICES = ["cpu"] + [f"gpu:{i}" for i in range(torch.cuda.device_count())]
_DEFAULT_DEVICE = _DEVICES[1] if len(_DEVICES) > 1 else "cpu"
_TO_TORCH = {"cpu": torch.device("cpu"),
             **{f"gpu:{i}": torch.device("cuda", i) for i in range(len(_DEVICES) - 1)}}


def _device_name(dev: torch.device) -> str:
    if dev.type == "cpu":
        return "cpu"
    if dev.type == "cuda":
        return f"gpu:{dev.index or 0}"
    raise ValueError(f"unifw does not support torch device {dev}")


def _torch_device(device):
    """``torch.device`` for a unifw device name (None stays None)."""
    if device is None:
        return None
    try:
        return _TO_TORCH[device]
    except KeyError:
        raise ValueError(f"device {device!r} is not available to torch "
                         f"(devices: {', '.join(_DEVICES)})") from None


BACKEND_FLAGS = {
    "weak_scalars": True,
    # torch silently combines 0-d CPU tensors with CUDA tensors
    "check_devices": len(_DEVICES) > 1,
    "supports_autodiff": True,
    "supports_compile": True,
}


def devices():
    return list(_DEVICES)


def default_device():
    return _DEFAULT_DEVICE


def device_of(x):
    dev = x.device
    return "cpu" if dev.type == "cpu" else _device_name(dev)


def to_device(x, device):
    return x.to(_torch_device(device))


# ------------------------------------------------------------------ conversion
def _check_no_copy_needed(t, dtype, dev):
    if (dtype is not None and t.dtype != dtype) or (dev is not None and t.device != dev):
        raise ValueError("asarray(copy=False): a copy is needed (dtype or device differs)")


def _from_numpy(a: np.ndarray, dtype, dev, copy):
    if a.dtype == ml_dtypes.bfloat16:  # torch does not know ml_dtypes: share the bits
        t = torch.asarray(a.view(np.uint16), copy=copy).view(torch.bfloat16)
        if copy is False:
            _check_no_copy_needed(t, dtype, dev)
        return t.to(device=dev, dtype=dtype)
    if copy is None and not a.flags.writeable:
        copy = True  # never hand torch (which may write) a read-only buffer
    try:
        return torch.asarray(a, dtype=dtype, device=dev, copy=copy)
    except ValueError:  # negative strides: torch cannot view them
        if copy is False:
            raise
        return torch.asarray(np.ascontiguousarray(a), dtype=dtype, device=dev)


def asarray(obj, dtype=None, device=None, copy=None):
    dev = _torch_device(device)
    if isinstance(obj, torch.Tensor):
        if copy is False:
            _check_no_copy_needed(obj, dtype, dev)
            return obj
        return obj.to(device=dev, dtype=dtype, copy=bool(copy))
    if isinstance(obj, (np.ndarray, np.generic)):
        return _from_numpy(np.asarray(obj), dtype, dev, copy)
    if dev is None:
        dev = _TO_TORCH[_DEFAULT_DEVICE]
    if dtype is not None and isinstance(obj, (list, tuple)):
        # NumPy builds nested sequences faster than torch, and also accepts sequences of
        # arrays and of unifw tensors (through __array__)
        return _from_numpy(np.asarray(obj, dtype=_NUMPY_DTYPES[dtype]), dtype, dev, None)
    return torch.asarray(obj, dtype=dtype, device=dev)


def to_numpy(x):
    """Host copy of ``x`` (never shares memory: variables are updated in place)."""
    x = x.detach()
    if x.dtype == torch.bfloat16:
        x = x.view(torch.int16)
        return _host_copy(x).view(ml_dtypes.bfloat16)
    return _host_copy(x)


def _host_copy(x):
    a = x.numpy(force=True)
    # numpy(force=True) shares memory with CPU tensors unless it had to resolve a view
    return a.copy() if x.device.type == "cpu" and a.ctypes.data == x.data_ptr() else a


def from_dlpack(obj, device=None):
    if isinstance(obj, np.ndarray) and obj.dtype == ml_dtypes.bfloat16:
        t = _from_numpy(obj, None, None, None)  # DLPack has no bfloat16: share the bits
    else:
        t = torch.from_dlpack(obj)
    dev = _torch_device(device)
    return t if dev is None or t.device == dev else t.to(dev)


def is_tracing(x):
    # torch.compile runs Python eagerly and graph-breaks on data-dependent
    # conversions, so a Python branch on a tensor is never silently baked in.
    return False


# ------------------------------------------------------------------ variables
def _can_require_grad(t):
    return t.is_floating_point() or t.is_complex()


def variable_new(native, trainable=True):
    value = native.detach().clone()
    return torch.nn.Parameter(value, requires_grad=bool(trainable) and _can_require_grad(value))


def variable_read(store):
    return store


def variable_assign(store, native):
    if native.device != store.device:
        raise DeviceMismatchError(f"assign: value on {device_of(native)} into a variable on "
                                  f"{device_of(store)}; move it explicitly with .to(device)")
    with torch.no_grad():
        try:
            store.copy_(native)
        except RuntimeError:
            # the value is a view of the variable itself (e.g. its transpose)
            store.copy_(native.clone())


def variable_snapshot(store):
    return store.detach().clone()


def variable_set_trainable(store, flag):
    store.requires_grad_(bool(flag) and _can_require_grad(store))
