"""The namespace returned by ``x.__array_namespace__()``.

It holds the Array API core names plus ``linalg`` and ``fft``, working on the
active backend, so the Array API test suite (and array-API-generic code) can
drive unifw tensors.
"""
import unifw as _uf
from unifw import fft, linalg  # noqa: F401
from unifw._dispatch import FUNCS as _F

__array_api_version__ = "2023.12"
# earlier revisions of the standard are (nearly) subsets of 2023.12; NumPy accepts them too
_SUPPORTED_API_VERSIONS = ("2021.12", "2022.12", __array_api_version__)

for _k, _v in _F.items():
    if "." not in _k and _k not in ("getitem", "index_update"):
        globals()[_k] = _v
del _k, _v

from unifw import (asarray, bfloat16, bool, can_cast, complex64, complex128, e, finfo,  # noqa
                   float16, float32, float64, from_dlpack, iinfo, inf, int8, int16, int32,
                   int64, isdtype, nan, newaxis, pi, result_type, uint8)


def __array_namespace_info__():
    from unifw._devices import default_device, devices

    class Info:
        def capabilities(self):
            return {"boolean indexing": True, "data-dependent shapes": True}

        def default_device(self):
            return default_device()

        def devices(self):
            return devices()

        def default_dtypes(self, *, device=None):
            return {"real floating": _uf.float32, "complex floating": _uf.complex64,
                    "integral": _uf.int64, "indexing": _uf.int64}

        def dtypes(self, *, device=None, kind=None):
            from unifw._dtypes import all_dtypes

            return {d.name: d for d in all_dtypes if kind is None or _uf.isdtype(d, kind)}

    return Info()
