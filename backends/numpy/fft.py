"""Array API ``fft`` extension for the NumPy backend (results keep the input precision)."""
import numpy as np

_f = np.fft


def _c(x, like):
    single = like.dtype in (np.float16, np.float32, np.complex64)
    return x.astype(np.complex64 if single else np.complex128, copy=False)


def _r(x, like):
    single = like.dtype in (np.float16, np.float32, np.complex64)
    return x.astype(np.float32 if single else np.float64, copy=False)


def fft(x, /, *, n=None, axis=-1, norm="backward"):
    return _c(_f.fft(x, n=n, axis=axis, norm=norm), x)


def ifft(x, /, *, n=None, axis=-1, norm="backward"):
    return _c(_f.ifft(x, n=n, axis=axis, norm=norm), x)


def fftn(x, /, *, s=None, axes=None, norm="backward"):
    return _c(_f.fftn(x, s=s, axes=axes, norm=norm), x)


def ifftn(x, /, *, s=None, axes=None, norm="backward"):
    return _c(_f.ifftn(x, s=s, axes=axes, norm=norm), x)


def rfft(x, /, *, n=None, axis=-1, norm="backward"):
    return _c(_f.rfft(x, n=n, axis=axis, norm=norm), x)


def irfft(x, /, *, n=None, axis=-1, norm="backward"):
    return _r(_f.irfft(x, n=n, axis=axis, norm=norm), x)


def rfftn(x, /, *, s=None, axes=None, norm="backward"):
    return _c(_f.rfftn(x, s=s, axes=axes, norm=norm), x)


def irfftn(x, /, *, s=None, axes=None, norm="backward"):
    return _r(_f.irfftn(x, s=s, axes=axes, norm=norm), x)


def hfft(x, /, *, n=None, axis=-1, norm="backward"):
    return _r(_f.hfft(x, n=n, axis=axis, norm=norm), x)


def ihfft(x, /, *, n=None, axis=-1, norm="backward"):
    return _c(_f.ihfft(x, n=n, axis=axis, norm=norm), x)


def fftfreq(n, /, *, d=1.0, dtype=None, device=None):
    return _f.fftfreq(n, d=d).astype(dtype or np.float32)


def rfftfreq(n, /, *, d=1.0, dtype=None, device=None):
    return _f.rfftfreq(n, d=d).astype(dtype or np.float32)


def fftshift(x, /, *, axes=None):
    return _f.fftshift(x, axes=axes)


def ifftshift(x, /, *, axes=None):
    return _f.ifftshift(x, axes=axes)
