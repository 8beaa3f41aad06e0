"""A third-party unifw backend. Importing this package stays cheap: the backend itself (and
whatever framework it wraps) is imported only when someone selects ``mybackend``."""
from unifw import BackendPlugin

plugin = BackendPlugin(name="mybackend", load="unifw_mybackend.backend:backend",
                       requires=("numpy",), pip_extra="unifw-mybackend",
                       description="example third-party backend (NumPy underneath)")
