"""``DataLoader``: batches of a dataset, shuffled reproducibly, as unifw tensors."""
from __future__ import annotations

import collections.abc
import contextvars
import math
import numbers
import queue
import threading

import numpy as np

from .._tensor import Tensor

__all__ = ["DataLoader", "default_collate"]


def default_collate(samples: list):
    """Stack a list of samples into a batch, recursively through tuples, lists and dicts.

    NumPy arrays and numbers are stacked with NumPy, unifw tensors with
    ``uf.stack``; strings are kept as a list. A namedtuple stays a namedtuple.
    """
    first = samples[0]
    if isinstance(first, Tensor):
        from .. import stack

        return stack(samples)
    if isinstance(first, (np.ndarray, np.generic, numbers.Number)):
        return np.stack([np.asarray(s) for s in samples])
    if isinstance(first, (str, bytes)):
        return list(samples)
    if isinstance(first, collections.abc.Mapping):
        return {k: default_collate([s[k] for s in samples]) for k in first}
    if isinstance(first, tuple) and hasattr(first, "_fields"):
        return type(first)(*(default_collate(list(col)) for col in zip(*samples)))
    if isinstance(first, (tuple, list)):
        if any(len(s) != len(first) for s in samples):
            raise ValueError("default_collate: samples have different lengths")
        return type(first)(default_collate(list(col)) for col in zip(*samples))
    raise TypeError(f"default_collate: cannot batch samples of type {type(first).__name__}; "
                    "pass collate_fn=")


def _to_tensors(batch, device):
    """NumPy leaves become unifw tensors on the active backend (and ``device``)."""
    if isinstance(batch, Tensor):
        return batch if device is None else batch.to(device)
    if isinstance(batch, (np.ndarray, np.generic)):
        from .._creation import asarray

        return asarray(batch, device=device)
    if isinstance(batch, collections.abc.Mapping):
        return {k: _to_tensors(v, device) for k, v in batch.items()}
    if isinstance(batch, tuple) and hasattr(batch, "_fields"):
        return type(batch)(*(_to_tensors(v, device) for v in batch))
    if isinstance(batch, (tuple, list)) and not (batch and isinstance(batch[0], (str, bytes))):
        return type(batch)(_to_tensors(v, device) for v in batch)
    return batch


class DataLoader:
    """Iterate over a dataset in batches of unifw tensors on the active backend.

    - ``shuffle=True`` draws a new order each epoch from a NumPy generator seeded
      with ``(seed, epoch)``: the same batches in the same order on every backend,
      and a different order each epoch. Without ``seed`` one is drawn from the
      generator that :func:`unifw.random.seed` seeds. Each ``iter(loader)`` is one
      epoch; :meth:`set_epoch` picks the epoch explicitly (e.g. when resuming).
    - ``drop_last``: leave out a last, smaller batch.
    - ``collate_fn(samples) -> batch`` replaces :func:`default_collate`.
    - ``prefetch=k``: a background thread prepares up to ``k`` batches ahead
      (fetching, collating and copying to the device overlap with training).
    - ``device``: where the batches go (default: the current default device).
    """

    def __init__(self, dataset, batch_size: int = 1, shuffle: bool = False, seed=None,
                 drop_last: bool = False, collate_fn=None, prefetch: int = 0, device=None):
        if int(batch_size) != batch_size or batch_size < 1:
            raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
        if prefetch < 0:
            raise ValueError(f"prefetch must be >= 0, got {prefetch!r}")
        self.dataset = dataset
        self.batch_size = int(batch_size)
        self.shuffle = bool(shuffle)
        self.drop_last = bool(drop_last)
        self.collate_fn = collate_fn
        self.prefetch = int(prefetch)
        self.device = device
        if seed is None and self.shuffle:
            from ..random import host_generator

            seed = int(host_generator().integers(0, 2 ** 63 - 1))
        self.seed = seed
        self.epoch = 0

    def __len__(self) -> int:
        n = len(self.dataset)
        return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)

    def set_epoch(self, epoch: int) -> None:
        """The epoch the next iteration runs (its shuffle order)."""
        self.epoch = int(epoch)

    def indices(self, epoch: int) -> np.ndarray:
        """Sample order of ``epoch`` (int64)."""
        n = len(self.dataset)
        if not self.shuffle:
            return np.arange(n, dtype=np.int64)
        return np.random.default_rng([int(self.seed), int(epoch)]).permutation(n)

    def _batches(self, order):
        stop = len(self) * self.batch_size
        for start in range(0, min(stop, len(order)), self.batch_size):
            yield order[start:start + self.batch_size]

    def _load(self, idx):
        getter = getattr(self.dataset, "get_batch", None)
        if self.collate_fn is None and getter is not None:
            batch = getter(idx)
        else:
            batch = (self.collate_fn or default_collate)([self.dataset[int(i)] for i in idx])
        return _to_tensors(batch, self.device)

    def __iter__(self):
        order = self.indices(self.epoch)
        self.epoch += 1
        if self.prefetch:
            return self._prefetching(order)
        return (self._load(idx) for idx in self._batches(order))

    def _prefetching(self, order):
        ready: queue.Queue = queue.Queue(maxsize=self.prefetch)
        stop = threading.Event()
        done = object()

        def offer(item) -> bool:
            while not stop.is_set():
                try:
                    ready.put(item, timeout=0.1)
                    return True
                except queue.Full:
                    continue
            return False

        def produce():
            try:
                for idx in self._batches(order):
                    if not offer(("ok", self._load(idx))):
                        return
                offer(("ok", done))
            except BaseException as e:  # delivered to the consumer
                offer(("error", e))

        context = contextvars.copy_context()  # the active backend and device scope
        worker = threading.Thread(target=context.run, args=(produce,), daemon=True,
                                  name="unifw-DataLoader-prefetch")
        worker.start()
        try:
            while True:
                kind, item = ready.get()
                if kind == "error":
                    raise item
                if item is done:
                    return
                yield item
        finally:
            stop.set()
            worker.join()

    def __repr__(self):
        return (f"DataLoader(batch_size={self.batch_size}, shuffle={self.shuffle}, "
                f"seed={self.seed}, drop_last={self.drop_last}, prefetch={self.prefetch}, "
                f"batches={len(self)})")
