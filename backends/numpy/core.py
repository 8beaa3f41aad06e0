"""Core of the NumPy backend: dtypes, devices, conversion, variables."""
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
    return np.from_dlpack(obj)


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
