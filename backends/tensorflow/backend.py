"""Assembles the TensorFlow backend from its modules (imports tensorflow)."""
from unifw.backend_api import Backend

from . import autodiff, compile, core, fft, linalg, nn, numpy

backend = Backend("tensorflow", core=core, extra=(autodiff, compile),
                  ops={"": numpy, "linalg": linalg, "fft": fft, "nn": nn},
                  pip_extra="unifw[tensorflow]", **getattr(core, "BACKEND_FLAGS", {}))
