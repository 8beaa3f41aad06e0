"""Assembles the NumPy backend from its modules."""
from unifw.backend_api import Backend

from . import compile, core, fft, linalg, nn, numpy

backend = Backend("numpy", core=core, extra=(compile,),
                  ops={"": numpy, "linalg": linalg, "fft": fft, "nn": nn},
                  pip_extra="unifw", supports_autodiff=False)
