"""JAX backend plugin. Importing this package does not import jax."""
from unifw import BackendPlugin

plugin = BackendPlugin(name="jax", load="unifw_backends.jax.backend:backend",
                       requires=("jax",), pip_extra="unifw[jax]",
                       description="JAX backend")
