"""autodiff for the TensorFlow backend (placeholder until implemented)."""
