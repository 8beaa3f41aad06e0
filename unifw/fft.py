"""``uf.fft``: the Array API FFT extension."""
from ._dispatch import FUNCS as _F

for _k, _v in _F.items():
    if _k.startswith("fft."):
        globals()[_k[4:]] = _v
del _k, _v
