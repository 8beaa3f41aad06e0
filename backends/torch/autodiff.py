"""autodiff for the PyTorch backend (placeholder until implemented)."""
