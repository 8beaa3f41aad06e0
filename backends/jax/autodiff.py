"""autodiff for the JAX backend (placeholder until implemented)."""
