"""Assembles the PyTorch backend from its modules (imports torch)."""
from unifw.backend_api import Backend

from . import autodiff, compile, core, fft, linalg, nn, numpy

backend = Backend("torch", core=core, extra=(autodiff, compile),
                  ops={"": numpy, "linalg": linalg, "fft": fft, "nn": nn},
                  pip_extra="unifw[torch]", **getattr(core, "BACKEND_FLAGS", {}))
