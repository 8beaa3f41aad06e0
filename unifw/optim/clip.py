"""Gradient clipping by global norm and by value, on gradient dicts or lists."""
from __future__ import annotations

import math

from .. import _dtypes

__all__ = ["clip_grad_norm", "clip_grad_value"]


def _items(grads):
    if isinstance(grads, dict):
        return list(grads.items()), dict
    if isinstance(grads, (list, tuple)):
        return list(enumerate(grads)), type(grads)
    raise TypeError("grads must be a dict (from uf.value_and_grad) or a list of tensors")


def _rebuild(kind, keys, values):
    if kind is dict:
        return dict(zip(keys, values))
    return kind(values)


def clip_grad_norm(grads, max_norm: float, norm_type: float = 2.0, eps: float = 1e-6):
    """Scale all gradients together so their global ``norm_type``-norm is at most ``max_norm``.

    Returns ``(clipped_grads, total_norm)``, ``clipped_grads`` with the structure of
    ``grads`` (``None`` entries kept). As ``torch.nn.utils.clip_grad_norm_``: the factor is
    ``min(1, max_norm / (total_norm + eps))``; the norm is computed in float32 or wider.
    Works inside :func:`unifw.function` (no host synchronisation).
    """
    from .. import max as max_, minimum, stack
    from ..linalg import vector_norm

    items, kind = _items(grads)
    present = [g for _, g in items if g is not None]
    if not present:
        raise ValueError("clip_grad_norm: every gradient is None")
    p = float(norm_type)
    wide = [g if g.dtype in (_dtypes.float32, _dtypes.float64) else g.astype(_dtypes.float32)
            for g in present]
    if math.isinf(p):
        total = max_(stack([max_(abs(g)) for g in wide]))
    else:
        norms = [vector_norm(g, ord=p) for g in wide]
        dtype = _dtypes.result_type(*[n.dtype for n in norms])
        total = vector_norm(stack([n.astype(dtype) for n in norms]), ord=p)
    factor = minimum(max_norm / (total + eps), 1.0)
    clipped = [None if g is None else g * factor.astype(g.dtype) for _, g in items]
    return _rebuild(kind, [k for k, _ in items], clipped), total


def clip_grad_value(grads, clip_value: float):
    """Clamp every gradient element to ``[-clip_value, clip_value]`` (``None`` entries kept)."""
    from .. import maximum, minimum

    items, kind = _items(grads)
    v = float(clip_value)
    out = [None if g is None else minimum(maximum(g, -v), v) for _, g in items]
    return _rebuild(kind, [k for k, _ in items], out)
