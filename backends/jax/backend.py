"""Assembles the JAX backend from its modules (imports jax)."""
from unifw.backend_api import Backend

from . import autodiff, compile, core, fft, linalg, nn, numpy

backend = Backend("jax", core=core, extra=(autodiff, compile),
                  ops={"": numpy, "linalg": linalg, "fft": fft, "nn": nn},
                  pip_extra="unifw[jax]", **getattr(core, "BACKEND_FLAGS", {}))
