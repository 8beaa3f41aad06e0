"""NumPy reference backend (forward only: no autodiff, functions run eagerly)."""
from unifw import BackendPlugin

plugin = BackendPlugin(name="numpy", load="unifw_backends.numpy.backend:backend",
                       requires=("numpy",), pip_extra="unifw",
                       description="NumPy reference backend (no autodiff)")
