"""The backend object: the NumPy backend's modules under another name.

A real backend provides its own modules with the same functions (see unifw's
docs/third_party_backends.md); delegating keeps this example short.
"""
from unifw.backend_api import Backend
from unifw_backends.numpy import compile, core, fft, linalg, nn, numpy

backend = Backend("mybackend", core=core, extra=(compile,),
                  ops={"": numpy, "linalg": linalg, "fft": fft, "nn": nn},
                  pip_extra="unifw-mybackend", supports_autodiff=False)
