"""Array API ``fft`` extension for the PyTorch backend (``torch.fft``).

Half-precision inputs are transformed in float32 (the CPU kernels have no
half-precision FFT and ``complex32`` is not a unifw dtype).
"""
import torch

from .core import _torch_device as _dev

_f = torch.fft
_HALF = frozenset((torch.float16, torch.bfloat16))


def _widen(x):
    return x.float() if x.dtype in _HALF else x


def fft(x, /, *, n=None, axis=-1, norm="backward"):
    return _f.fft(_widen(x), n, axis, norm)


def ifft(x, /, *, n=None, axis=-1, norm="backward"):
    return _f.ifft(_widen(x), n, axis, norm)


def fftn(x, /, *, s=None, axes=None, norm="backward"):
    return _f.fftn(_widen(x), s, axes, norm)


def ifftn(x, /, *, s=None, axes=None, norm="backward"):
    return _f.ifftn(_widen(x), s, axes, norm)


def rfft(x, /, *, n=None, axis=-1, norm="backward"):
    return _f.rfft(_widen(x), n, axis, norm)


def irfft(x, /, *, n=None, axis=-1, norm="backward"):
    return _f.irfft(_widen(x), n, axis, norm)


def rfftn(x, /, *, s=None, axes=None, norm="backward"):
    return _f.rfftn(_widen(x), s, axes, norm)


def irfftn(x, /, *, s=None, axes=None, norm="backward"):
    return _f.irfftn(_widen(x), s, axes, norm)


def hfft(x, /, *, n=None, axis=-1, norm="backward"):
    return _f.hfft(_widen(x), n, axis, norm)


def ihfft(x, /, *, n=None, axis=-1, norm="backward"):
    return _f.ihfft(_widen(x), n, axis, norm)


def _frequencies(fn, n, d, dtype, device):
    if dtype is None or dtype.is_floating_point:
        return fn(n, d, dtype=dtype, device=_dev(device))
    # torch computes frequencies only in a real floating dtype: cast afterwards
    return fn(n, d, dtype=torch.float64, device=_dev(device)).to(dtype)


def fftfreq(n, /, *, d=1.0, dtype=None, device=None):
    return _frequencies(_f.fftfreq, n, d, dtype, device)


def rfftfreq(n, /, *, d=1.0, dtype=None, device=None):
    return _frequencies(_f.rfftfreq, n, d, dtype, device)


def fftshift(x, /, *, axes=None):
    return _f.fftshift(x, axes)


def ifftshift(x, /, *, axes=None):
    return _f.ifftshift(x, axes)

