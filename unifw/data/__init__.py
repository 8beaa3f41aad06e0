"""Datasets and the :class:`DataLoader` (PyTorch's API; batches are unifw tensors).

``DataLoader(TensorDataset(x, y), batch_size=8, shuffle=True, seed=0)`` yields the
same batches in the same order on every backend.
"""
from .dataset import Dataset, TensorDataset
from .loader import DataLoader, default_collate

__all__ = ["Dataset", "TensorDataset", "DataLoader", "default_collate"]
