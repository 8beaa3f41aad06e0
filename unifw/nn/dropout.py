"""``Dropout``, with the random key held by the module.

The module owns a key Buffer (``rng_key``, drawn from ``uf.random.next_key()``
when it is built, so ``uf.random.seed`` fixes it). Each training call splits
it, uses one half and stores the other, so successive calls draw fresh masks
without the user threading keys, also inside ``uf.function`` (the key is state
that is carried in and written back). The key is not part of ``state_dict``
(PyTorch has no such entry) but is saved by ``uf.save``.
"""
from __future__ import annotations

from .. import random as _random
from ._utils import current
from . import functional as F
from .module import Module

__all__ = ["Dropout", "register_rng_key", "next_rng_key", "redraw_rng_keys"]


def register_rng_key(module: Module, name: str = "rng_key") -> None:
    """Give ``module`` a non-persistent key Buffer drawn from the global generator."""
    module.register_buffer(name, _random.next_key(), persistent=False)


def next_rng_key(module: Module, name: str = "rng_key"):
    """A fresh key for this call; the module's key advances (split and written back)."""
    buf = module._buffers[name]
    new, use = _random.split(current(buf))
    buf.assign(new)
    return use


def redraw_rng_keys(module: Module, name: str = "rng_key") -> None:
    """Give every submodule's key a fresh value (copies of a layer must not share masks)."""
    for m in module.modules():
        buf = m._buffers.get(name)
        if buf is not None:
            buf.assign(_random.next_key())


class Dropout(Module):
    """Zeroes elements with probability ``p`` in training and scales the rest by
    ``1/(1-p)``; the identity in eval mode."""

    def __init__(self, p: float = 0.5, inplace: bool = False):
        super().__init__()
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
        self.p = float(p)
        self.inplace = inplace  # accepted for PyTorch compatibility; tensors are immutable
        register_rng_key(self)

    def forward(self, x):
        if not self.training or self.p == 0.0:
            return x
        return F.dropout(x, self.p, True, key=next_rng_key(self))

    def extra_repr(self) -> str:
        return f"p={self.p}, inplace={self.inplace}"
