"""PyTorch backend plugin. Importing this package does not import torch."""
from unifw import BackendPlugin

plugin = BackendPlugin(name="torch", load="unifw_backends.torch.backend:backend",
                       requires=("torch",), pip_extra="unifw[torch]",
                       description="PyTorch backend")
