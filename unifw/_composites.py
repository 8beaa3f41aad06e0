"""Default implementations of the optional ops, written with a backend's primitives.

Each function takes the backend ``b`` first, then the op's arguments (natives).
A backend that does not define an optional op gets these; the built-in
backends override most of them with the framework's fused kernels.
"""
from __future__ import annotations

import math

from . import _dtypes


def _c(b, v, like):
    return b.asarray(v, dtype=like.dtype, device=b.device_of(like))


def positive(b, x, /):
    return x


def square(b, x, /):
    return b.multiply(x, x)


def empty(b, shape, *, dtype=None, device=None):
    return b.zeros(shape, dtype=dtype, device=device)


def empty_like(b, x, /, *, dtype=None, device=None):
    return b.zeros_like(x, dtype=dtype, device=device)


def hypot(b, x1, x2, /):
    return b.sqrt(b.add(b.multiply(x1, x1), b.multiply(x2, x2)))


def logaddexp(b, x1, x2, /):
    m = b.maximum(x1, x2)
    d = b.negative(b.abs(b.subtract(x1, x2)))
    # where both are -inf the difference is nan; the result must be -inf
    d = b.where(b.isnan(d), _c(b, -math.inf, d), d)
    return b.add(m, b.log1p(b.exp(d)))


def copysign(b, x1, x2, /):
    return b.where(b.signbit(x2), b.negative(b.abs(x1)), b.abs(x1))


def unstack(b, x, /, *, axis=0):
    n = x.shape[axis]
    return tuple(b.squeeze(s, axis) for s in
                 [b.take(x, b.asarray([i], dtype=b.native_dtype(_dtypes.int64),
                                      device=b.device_of(x)), axis=axis) for i in range(n)])


def diff(b, x, /, *, axis=-1, n=1):
    for _ in range(n):
        length = x.shape[axis]
        i64 = b.native_dtype(_dtypes.int64)
        dev = b.device_of(x)
        hi = b.take(x, b.arange(1, length, 1, dtype=i64, device=dev), axis=axis)
        lo = b.take(x, b.arange(0, length - 1, 1, dtype=i64, device=dev), axis=axis)
        x = b.subtract(hi, lo)
    return x


def linalg_matmul(b, x1, x2, /):
    return b.matmul(x1, x2)


def linalg_matrix_transpose(b, x, /):
    return b.matrix_transpose(x)


def linalg_tensordot(b, x1, x2, /, *, axes=2):
    return b.tensordot(x1, x2, axes=axes)


def linalg_vecdot(b, x1, x2, /, *, axis=-1):
    return b.vecdot(x1, x2, axis=axis)


def nn_tanh(b, x, /):
    return b.tanh(x)


def nn_dropout(b, x, /, p=0.5, training=True, *, key=None):
    if not training or p == 0.0:
        return x
    if p >= 1.0:
        return b.zeros_like(x)
    if key is None:
        from .errors import UnifwError

        raise UnifwError("dropout: pass key= (uf.random.split) when training; nn.Dropout "
                         "manages keys for you")
    from .random import _uniform01

    u = _uniform01(b, key, tuple(x.shape), _dtypes.float32, stream=7)
    keep = b.greater_equal(u, b.asarray(p, dtype=u.dtype, device=b.device_of(u)))
    scale = _c(b, 1.0 / (1.0 - p), x)
    return b.where(keep, b.multiply(x, scale), b.zeros_like(x))


def class_target_problem(x_shape, target_shape, target_kind, ignore_index, reduction):
    """Raise TypeError/ValueError (the facade turns them into DTypeError/ShapeError naming
    the op, tensors and backend) unless the target holds class indices for logits of
    shape ``x_shape``; ``target_kind`` is its unifw dtype kind. Returns the class dim."""
    if reduction not in ("mean", "sum", "none"):
        raise ValueError(f"reduction must be 'mean', 'sum' or 'none', got {reduction!r}")
    if not isinstance(ignore_index, int) or isinstance(ignore_index, bool):
        raise TypeError(f"ignore_index must be an int, got {ignore_index!r}")
    if target_kind not in "iu":
        raise TypeError("expected integer class indices as target")
    shape = tuple(x_shape)
    if not shape:
        raise ValueError("logits must have at least one dimension (classes)")
    class_dim = 0 if len(shape) == 1 else 1
    want = shape[:class_dim] + shape[class_dim + 1:]
    if tuple(target_shape) != want:
        raise ValueError(f"class-index target must have shape {want} for logits of shape "
                         f"{shape}, got {tuple(target_shape)}")
    return class_dim


def nn_softmax_cross_entropy(b, x, target, /, ignore_index=-100, reduction="mean"):
    class_dim = class_target_problem(x.shape, target.shape, b.udtype(target).kind,
                                     ignore_index, reduction)
    logp = b.nn_log_softmax(x, class_dim)
    keep = b.not_equal(target, _c(b, ignore_index, target))
    safe = b.where(keep, target, b.zeros_like(target))
    picked = b.squeeze(b.take_along_axis(logp, b.expand_dims(safe, axis=class_dim),
                                         axis=class_dim), axis=class_dim)
    w = b.astype(keep, x.dtype)
    loss = b.multiply(b.negative(picked), w)
    if reduction == "none":
        return loss
    if reduction == "sum":
        return b.sum(loss)
    return b.divide(b.sum(loss), b.sum(w))


def nn_scaled_dot_product_attention(b, query, key, value, /, attn_mask=None, dropout_p=0.0,
                                    is_causal=False, scale=None, *, dropout_key=None):
    L, S = query.shape[-2], key.shape[-2]
    sc = scale if scale is not None else 1.0 / math.sqrt(query.shape[-1])
    scores = b.multiply(b.matmul(query, b.matrix_transpose(key)), _c(b, sc, query))
    neg = _c(b, -math.inf, scores)
    if is_causal:
        causal = b.tril(b.ones((L, S), dtype=b.native_dtype(_dtypes.bool),
                               device=b.device_of(query)))
        scores = b.where(causal, scores, neg)
    if attn_mask is not None:
        if attn_mask.dtype == b.native_dtype(_dtypes.bool):
            scores = b.where(attn_mask, scores, neg)
        else:
            scores = b.add(scores, attn_mask)
    w = b.nn_softmax(scores, -1)
    if is_causal or attn_mask is not None:
        # a fully masked row attends to nothing: 0, not nan (as PyTorch >= 2.5)
        w = b.where(b.isnan(w), b.zeros_like(w), w)
    if dropout_p > 0.0:
        w = b.nn_dropout(w, dropout_p, True, key=dropout_key)
    return b.matmul(w, value)
