"""Core of the NumPy backend: dtypes, devices, conversion, variables."""
import sys

import numpy as np

import unifw as uf

native_types = (np.ndarray, np.generic)
dtype_map = {d: d.numpy_dtype for d in uf._dtypes.all_dtypes}


def devices():
    return ["cpu"]


def default_device():
    return "cpu"


def device_of(x):
    return "cpu"


def to_device(x, device):
    return x


def asarray(obj, dtype=None, device=None, copy=None):
    if copy:
        return np.array(obj, dtype=dtype, copy=True)
    a = np.asarray(obj, dtype=dtype)
    return a


def to_numpy(x):
    return np.asarray(x)


def from_dlpack(obj, device=None):
    """NumPy array of a host DLPack producer (a view where the producer allows it)."""
    if getattr(obj, "requires_grad", False):  # torch exports no tensor that needs grad
        obj = obj.detach()
    if "bfloat16" in str(getattr(obj, "dtype", "")):
        return _bfloat16_from(obj)
    return np.from_dlpack(obj)


_BF16 = uf.bfloat16.numpy_dtype
_DL_CPU = 1


def _bfloat16_from(obj):
    """NumPy's DLPack importer has no bfloat16: take the bits, or the producer's own
    conversion to ``ml_dtypes.bfloat16``."""
    if isinstance(obj, np.ndarray):
        return obj
    if obj.__dlpack_device__()[0] != _DL_CPU:
        raise BufferError("from_dlpack: NumPy reads host memory only; move the tensor to "
                          "the CPU first")
    torch = sys.modules.get("torch")
    if torch is not None and isinstance(obj, torch.Tensor):
        return np.from_dlpack(obj.view(torch.int16)).view(_BF16)
    return np.asarray(obj)  # TensorFlow and JAX hand out ml_dtypes' bfloat16 themselves


# ------------------------------------------------------------------ variables
class Box:
    """Mutable holder of a parameter/buffer value."""

    __slots__ = ("value", "trainable")

    def __init__(self, value, trainable):
        self.value = value
        self.trainable = trainable


def variable_new(value, trainable=True):
    return Box(np.array(value, copy=True), trainable)


def variable_read(v):
    return v.value


def variable_assign(v, value):
    v.value = value


def is_tracing(x):
    return False
