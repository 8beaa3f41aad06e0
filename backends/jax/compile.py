"""compile for the JAX backend (placeholder until implemented)."""
