"""Array API ``fft`` extension for the JAX backend (``jax.numpy.fft``).

Results keep the input precision: float32/complex64 give complex64 (or
float32), float64/complex128 give complex128 (or float64). Half-precision
inputs are computed in single precision, as XLA has no half-precision FFT.
"""
import jax.numpy as jnp
import numpy as np

from .core import _placement as _place

_f = jnp.fft
_F32, _F64 = np.dtype(np.float32), np.dtype(np.float64)

fft, ifft, fftn, ifftn = _f.fft, _f.ifft, _f.fftn, _f.ifftn
rfft, irfft, rfftn, irfftn = _f.rfft, _f.irfft, _f.rfftn, _f.irfftn
hfft, ihfft, fftshift, ifftshift = _f.hfft, _f.ihfft, _f.fftshift, _f.ifftshift


def _freqs(fn, n, d, dtype, device):
    out = fn(n, d=d, dtype=_F64, device=_place(device))  # rounded once, to the target dtype
    return out.astype(_F32 if dtype is None else dtype)


def fftfreq(n, /, *, d=1.0, dtype=None, device=None):
    return _freqs(_f.fftfreq, n, d, dtype, device)


def rfftfreq(n, /, *, d=1.0, dtype=None, device=None):
    return _freqs(_f.rfftfreq, n, d, dtype, device)
