"""Datasets: PyTorch's map-style protocol (``__getitem__`` and ``__len__``)."""
from __future__ import annotations

import numpy as np

from .._tensor import Tensor

__all__ = ["Dataset", "TensorDataset"]


class Dataset:
    """A map-style dataset: ``dataset[i]`` is sample ``i`` and ``len(dataset)`` the count.

    Subclass it and define ``__getitem__`` and ``__len__``. Samples may be arrays,
    numbers, unifw tensors, or nested tuples/lists/dicts of those; the
    :class:`~unifw.data.DataLoader` collates them into batches.

    A dataset can also define ``get_batch(indices)`` returning a whole collated
    batch at once (as :class:`TensorDataset` does); the loader then uses it
    instead of fetching and stacking samples one by one.
    """

    def __getitem__(self, index):
        raise NotImplementedError(f"{type(self).__name__} must define __getitem__")

    def __len__(self):
        raise NotImplementedError(f"{type(self).__name__} must define __len__")


class TensorDataset(Dataset):
    """Samples are rows of the given arrays: ``dataset[i] == (x[i], y[i], ...)``.

    Arrays may be NumPy arrays, unifw tensors (then batches are gathered on their
    device) or anything ``np.asarray`` accepts; all must have the same first dimension.
    """

    def __init__(self, *arrays):
        if not arrays:
            raise ValueError("TensorDataset needs at least one array")
        self.tensors = tuple(a if isinstance(a, (Tensor, np.ndarray)) else np.asarray(a)
                             for a in arrays)
        sizes = {len(a) for a in self.tensors}
        if len(sizes) != 1:
            raise ValueError("TensorDataset: arrays differ in their first dimension: "
                             f"{[tuple(a.shape) for a in self.tensors]}")
        self._len = sizes.pop()

    def __getitem__(self, index):
        return tuple(a[index] for a in self.tensors)

    def __len__(self):
        return self._len

    def get_batch(self, indices: np.ndarray):
        """The rows ``indices`` of every array, as a tuple of batches."""
        return tuple(_take_rows(a, indices) for a in self.tensors)


def _take_rows(a, indices):
    if isinstance(a, Tensor):
        from .. import take
        from .._registry import use_backend
        from .._creation import asarray

        with use_backend(a.backend_name):
            idx = asarray(indices, device=a.device)
        return take(a, idx, axis=0)
    return a[indices]
