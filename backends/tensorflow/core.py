"""Core of the TensorFlow backend: dtypes, devices, conversion, variables.

TensorFlow names devices ``/job:localhost/replica:0/task:0/device:GPU:0``;
unifw calls that ``"gpu:0"`` (and every CPU device ``"cpu"``). TensorFlow
copies tensors between devices silently, so the facade checks devices itself
(``check_devices``), and every function here that creates data places it on
the device it is given explicitly.
"""
import contextlib
import math

import numpy as np
import tensorflow as tf

from unifw import _dtypes as _d
from unifw.errors import OpError

from ..numpy.core import from_dlpack as _host_view  # NumPy view of a host DLPack producer

BACKEND_FLAGS = {
    "weak_scalars": False,   # TF binary ops would not apply weak-scalar promotion
    "check_devices": True,   # TF silently copies inputs across devices
    "supports_autodiff": True,
    "supports_compile": True,
}

# tf.Tensor covers eager tensors and graph (symbolic) tensors alike.
native_types = (tf.Tensor, tf.Variable)

dtype_map = {
    _d.bool: tf.bool, _d.int8: tf.int8, _d.int16: tf.int16, _d.int32: tf.int32,
    _d.int64: tf.int64, _d.uint8: tf.uint8, _d.float16: tf.float16, _d.bfloat16: tf.bfloat16,
    _d.float32: tf.float32, _d.float64: tf.float64, _d.complex64: tf.complex64,
    _d.complex128: tf.complex128,
}
_NP_DTYPE = {native: udt.numpy_dtype for udt, native in dtype_map.items()}

# ------------------------------------------------------------------ devices
_GPUS = [d.name for d in tf.config.list_logical_devices("GPU")]
_DEVICES = ["cpu"] + [f"gpu:{i}" for i in range(len(_GPUS))]
_TF_NAME = {"cpu": "/device:CPU:0", **{f"gpu:{i}": n for i, n in enumerate(_GPUS)}}
# With no GPU every placement is the host: skip tf.device scopes (they cost ~10 us).
_HOST_ONLY = not _GPUS
_NO_SCOPE = contextlib.nullcontext()
_device_names: dict = {}  # TF device string -> unifw name (memoised parse)


def devices():
    return list(_DEVICES)


def default_device():
    return _DEVICES[1] if _GPUS else "cpu"


def _parse_device(name: str) -> str:
    if not name:  # graph tensor without a placement: it runs on the default device
        return default_device()
    spec = tf.DeviceSpec.from_string(name)
    if (spec.device_type or "CPU").upper() == "GPU":
        return f"gpu:{spec.device_index or 0}"
    return "cpu"


def device_of(x):
    name = x.device
    try:
        return _device_names[name]
    except KeyError:
        return _device_names.setdefault(name, _parse_device(name))


def _placed(device):
    """Context placing new tensors on unifw ``device`` (a no-op on a host-only machine)."""
    if _HOST_ONLY or device is None:
        return _NO_SCOPE
    return tf.device(_TF_NAME[device])


def to_device(x, device):
    with tf.device(_TF_NAME[device]):
        return tf.identity(x)


# ------------------------------------------------------------------ conversion
_INT32_MAX = 2 ** 31 - 1
_int_tensors: dict = {}


def _ints(values, eager=None):
    """Integer vector argument (axes, shapes, permutations) for a raw op.

    TF converts a Python list passed to an op slowly (about as slow as the op itself), so in
    eager mode the tensor for each distinct tuple is made once and reused. Lists holding
    tensors (dynamic shapes) and graph-mode calls pass through unchanged.
    """
    if not (tf.executing_eagerly() if eager is None else eager):
        return values
    key = tuple(values)
    try:
        t = _int_tensors.get(key)
    except TypeError:  # holds a tensor
        return values
    if t is None:
        if not all(type(v) is int for v in key):
            return values
        if len(_int_tensors) > 4096:  # bounded: slicing with many distinct bounds
            _int_tensors.clear()
        wide = any(v > _INT32_MAX or v < -_INT32_MAX - 1 for v in key)
        t = _int_tensors[key] = tf.constant(key, tf.int64 if wide else tf.int32)
    return t


def _constant(obj, dtype):
    if type(obj) in (float, complex) and obj == 0:
        # TF's eager cache of scalar constants keys on the Python value, so -0.0 and 0.0
        # would share one tensor; NumPy scalars bypass the cache
        obj = np.asarray(obj, dtype=_NP_DTYPE[dtype] if dtype is not None else None)
    try:
        return tf.constant(obj, dtype=dtype)
    except (TypeError, ValueError):
        # TF refuses lossy Python conversions (1.5 -> int32) that NumPy performs
        return tf.constant(np.asarray(obj, dtype=_NP_DTYPE[dtype] if dtype is not None else None))


_PY_SCALARS = frozenset({bool, int, float, complex})
_scalar_tensors: dict = {}


def _cached_scalar(obj, dtype, device):
    """Eager constant for a Python scalar operand, made once per (value, dtype, device).

    The facade turns every Python scalar of a binary op into a tensor; building one costs
    more than most ops. NaN never hits (NaN != NaN) and zeros are keyed by their sign.
    """
    key = (obj, type(obj), dtype, device, obj == 0 and math.copysign(1.0, obj.real))
    t = _scalar_tensors.get(key)
    if t is None:
        if len(_scalar_tensors) > 4096:
            _scalar_tensors.clear()
        t = _constant(obj, dtype)
        if not _HOST_ONLY and device is not None:
            with tf.device(_TF_NAME[device]):
                t = tf.identity(t)  # copies the host constant onto the device
        if obj == obj:
            _scalar_tensors[key] = t
    return t


def asarray(obj, dtype=None, device=None, copy=None):
    if type(obj) in _PY_SCALARS and dtype is not None and not copy and tf.executing_eagerly():
        return _cached_scalar(obj, dtype, device)
    if isinstance(obj, native_types):
        x = obj
        if dtype is not None and x.dtype != dtype:
            if copy is False:
                raise ValueError("asarray: a dtype conversion needs a copy but copy=False")
            x = tf.cast(x, dtype)
        if device is not None and device_of(x) != device:
            if copy is False:
                raise ValueError("asarray: a device transfer needs a copy but copy=False")
            return to_device(x, device)
        if x is obj and (copy or isinstance(x, tf.Variable)):
            return tf.identity(x)  # a snapshot: never alias a variable's storage
        return x
    if copy is False and not isinstance(obj, (int, float, complex, bool)):
        # only a NumPy array of the right dtype can be shared (through DLPack)
        if (isinstance(obj, np.ndarray) and (dtype is None or obj.dtype == _NP_DTYPE[dtype])
                and (_HOST_ONLY or device in (None, "cpu"))):
            x = _shared(obj, obj)
            if x is None:
                raise ValueError("asarray: TensorFlow cannot share this array without a copy "
                                 "(it needs a writable C-contiguous buffer aligned to "
                                 f"{_TF_ALIGN} bytes)")
            return x
        raise ValueError("asarray: copy=False is not possible for this input on TensorFlow")
    if type(obj) is np.ndarray and dtype is not None and obj.dtype != _NP_DTYPE[dtype]:
        obj = obj.astype(_NP_DTYPE[dtype])
    if _HOST_ONLY or device is None:
        return _constant(obj, dtype)
    with tf.device(_TF_NAME[device]):
        return tf.identity(_constant(obj, dtype))


def to_numpy(x):
    return np.asarray(x.numpy())  # EagerTensor.numpy() already returns a private copy


_BF16 = _d.bfloat16.numpy_dtype
_DL_CPU = 1  # DLPack's device type of host memory
_TF_ALIGN = 64  # TF's CPU kernels abort (Check failed: IsAligned()) on less aligned buffers


def from_dlpack(obj, device=None):
    """A TF tensor sharing the producer's memory where TF can use it as it is, else a copy."""
    if getattr(obj, "requires_grad", False):  # torch exports no tensor that needs grad
        obj = obj.detach()
    if isinstance(obj, np.generic):  # a NumPy scalar exports no DLPack
        obj = np.asarray(obj)
    if isinstance(obj, np.ndarray) or (hasattr(obj, "__dlpack_device__")
                                       and obj.__dlpack_device__()[0] == _DL_CPU):
        a = obj if isinstance(obj, np.ndarray) else _host_view(obj)
        x = _shared(obj, a)
        if x is None:
            x = tf.constant(a)  # TF copies into an aligned buffer of its own
    else:  # device memory (or a bare capsule): only TF's DLPack import can take it
        try:
            x = _import_dlpack(obj)
        except tf.errors.InvalidArgumentError as e:  # e.g. a strided GPU tensor
            raise OpError(f"from_dlpack: TensorFlow cannot import this tensor ({e.message}); "
                          "make it contiguous first") from e
    if device is not None and device_of(x) != device:
        x = to_device(x, device)
    return x


def _shared(obj, a):
    """A TF tensor on the memory of host producer ``obj`` (NumPy view ``a``), or None where
    TF cannot use that memory in place: unaligned, strided, read-only or empty."""
    if not a.size or a.ctypes.data % _TF_ALIGN or not a.flags.c_contiguous:
        return None
    try:
        if isinstance(obj, np.ndarray) and obj.dtype == _BF16:
            # NumPy's DLPack has no bfloat16: share the bits, reinterpret them in TF
            return tf.bitcast(_import_dlpack(obj.view(np.uint16)), tf.bfloat16)
        return _import_dlpack(obj)
    except (BufferError, tf.errors.InvalidArgumentError):
        return None


def _import_dlpack(obj):
    capsule = obj.__dlpack__() if hasattr(obj, "__dlpack__") else obj
    return tf.experimental.dlpack.from_dlpack(capsule)


def is_tracing(x):
    return not tf.executing_eagerly() or tf.is_symbolic_tensor(x)


# ------------------------------------------------------------------ variables
def variable_new(native, trainable=True):
    with tf.device(native.device):
        return tf.Variable(native, trainable=bool(trainable))


def variable_read(store):
    # the tf.Variable itself, so that a GradientTape records reads of it
    return store


def variable_assign(store, native):
    store.assign(native)


def variable_snapshot(store):
    return tf.identity(store)


def variable_set_trainable(store, flag):
    # tf.Variable exposes ``trainable`` read-only; GradientTape and Keras read ``_trainable``
    store._trainable = bool(flag)
