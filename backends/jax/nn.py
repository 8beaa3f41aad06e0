"""``nn.functional`` ops for the JAX backend, with ``torch.nn.functional`` semantics.

Layouts are channels-first (NCHW inputs, OIHW weights) whatever XLA prefers;
convolutions and pools are ``lax.conv_general_dilated`` / ``lax.reduce_window``
with explicit dimension numbers. Unbatched inputs (no N axis) are accepted
where PyTorch accepts them.
"""
import math

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from .core import _Tracer

_I64 = np.dtype(np.int64)
_HIGHEST = lax.Precision.HIGHEST


# ------------------------------------------------------------------ helpers
def _ntuple(v, n, what):
    t = (int(v),) * n if isinstance(v, (int, np.integer)) else tuple(int(e) for e in v)
    if len(t) != n:
        raise ValueError(f"{what} must be an int or a tuple of {n} ints, got {v!r}")
    return t


def _same_dtype(op, x, *others):
    """PyTorch refuses mixed dtypes here; JAX would promote silently."""
    for o in others:
        if o is not None and o.dtype != x.dtype:
            raise TypeError(f"{op}: expected all tensors to have dtype {x.dtype}, got {o.dtype}")


def _batched(x, n_spatial, op):
    """(x with a batch axis, whether one was added): PyTorch also takes unbatched inputs."""
    if x.ndim == n_spatial + 2:
        return x, False
    if x.ndim == n_spatial + 1:
        return x[None], True
    raise ValueError(f"{op}: expected a {n_spatial + 1}-D (unbatched) or {n_spatial + 2}-D "
                     f"input, got shape {tuple(x.shape)}")


def _compute_dtype(x):
    # normalisations accumulate half-precision inputs in float32, as PyTorch does
    return np.dtype(np.float32) if x.dtype.itemsize < 4 else x.dtype


# ------------------------------------------------------------------ activations
relu, silu, sigmoid, tanh = jax.nn.relu, jax.nn.silu, jax.nn.sigmoid, jnp.tanh


def leaky_relu(x, /, negative_slope=0.01):
    # x > 0 (not >=): the gradient at 0 is negative_slope, as in PyTorch
    return jnp.where(x > 0, x, x * negative_slope)


def gelu(x, /, approximate="none"):
    if approximate not in ("none", "tanh"):
        raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")
    return jax.nn.gelu(x, approximate=approximate == "tanh")


def softplus(x, /, beta=1.0, threshold=20.0):
    z = x * beta
    return jnp.where(z > threshold, x, jax.nn.softplus(z) / beta)


def softmax(x, /, dim=-1):
    return jax.nn.softmax(x, axis=dim)


def log_softmax(x, /, dim=-1):
    return jax.nn.log_softmax(x, axis=dim)


def logsumexp(x, /, dim=None, keepdim=False):
    axis = tuple(dim) if isinstance(dim, list) else dim
    return jax.nn.logsumexp(x, axis=axis, keepdims=keepdim)


def one_hot(x, /, num_classes=-1):
    concrete = not isinstance(x, _Tracer)
    if num_classes < 0:
        num_classes = int(jnp.max(x)) + 1 if x.size else 0  # data-dependent: eager only
    if concrete and x.size:
        lo, hi = int(jnp.min(x)), int(jnp.max(x))
        if lo < 0:
            raise ValueError(f"one_hot: class values must be non-negative, got {lo}")
        if hi >= num_classes:
            raise ValueError(f"one_hot: class value {hi} is not below num_classes={num_classes}")
    return jax.nn.one_hot(x, num_classes, dtype=_I64)


# ------------------------------------------------------------------ linear and convolutions
def linear(x, weight, bias=None, /):
    _same_dtype("linear", x, weight, bias)
    # contract x's last axis with the weight's in-features axis: no transposed weight
    # copy (in eager mode one op and one VJP less per layer)
    out = lax.dot_general(x, weight, (((x.ndim - 1,), (1,)), ((), ())))
    return out if bias is None else out + bias


_CONV_DIMS = {1: ("NCH", "OIH", "NCH"), 2: ("NCHW", "OIHW", "NCHW")}


def _conv_padding(padding, kernel, stride, dilation):
    n = len(kernel)
    if isinstance(padding, str):
        if padding == "valid":
            return [(0, 0)] * n
        if padding != "same":
            raise ValueError(f"padding must be 'valid', 'same', an int or a tuple, got {padding!r}")
        if any(s != 1 for s in stride):
            raise ValueError("padding='same' is not supported for strided convolutions")
        total = [d * (k - 1) for k, d in zip(kernel, dilation)]
        return [(t // 2, t - t // 2) for t in total]  # the odd element goes right, as PyTorch
    pads = _ntuple(padding, n, "padding")
    if any(p < 0 for p in pads):
        raise ValueError(f"negative padding is not supported, got {padding!r}")
    return [(p, p) for p in pads]


def _conv(op, n, x, weight, bias, stride, padding, dilation, groups):
    _same_dtype(op, x, weight, bias)
    x, unbatched = _batched(x, n, op)
    stride = _ntuple(stride, n, "stride")
    dilation = _ntuple(dilation, n, "dilation")
    pads = _conv_padding(padding, weight.shape[2:], stride, dilation)
    out = lax.conv_general_dilated(x, weight, stride, pads, rhs_dilation=dilation,
                                   dimension_numbers=_CONV_DIMS[n], feature_group_count=groups)
    if bias is not None:
        out = out + bias.reshape((-1,) + (1,) * n)
    return out[0] if unbatched else out


def conv1d(x, weight, bias=None, /, stride=1, padding=0, dilation=1, groups=1):
    return _conv("conv1d", 1, x, weight, bias, stride, padding, dilation, groups)


def conv2d(x, weight, bias=None, /, stride=1, padding=0, dilation=1, groups=1):
    return _conv("conv2d", 2, x, weight, bias, stride, padding, dilation, groups)


def conv_transpose2d(x, weight, bias=None, /, stride=1, padding=0, output_padding=0, groups=1,
                     dilation=1):
    """The gradient of conv2d w.r.t. its input: a convolution of the stride-dilated input
    with the spatially flipped kernel, its in/out channels swapped within each group."""
    _same_dtype("conv_transpose2d", x, weight, bias)
    x, unbatched = _batched(x, 2, "conv_transpose2d")
    stride = _ntuple(stride, 2, "stride")
    pads = _ntuple(padding, 2, "padding")
    out_pads = _ntuple(output_padding, 2, "output_padding")
    dilation = _ntuple(dilation, 2, "dilation")
    if any(op >= s and op >= d for op, s, d in zip(out_pads, stride, dilation)):
        raise ValueError("output_padding must be smaller than either stride or dilation")
    c_in, c_out_per_group, kh, kw = weight.shape
    w = weight.reshape(groups, c_in // groups, c_out_per_group, kh, kw)
    w = jnp.swapaxes(w, 1, 2).reshape(groups * c_out_per_group, c_in // groups, kh, kw)
    w = jnp.flip(w, axis=(2, 3))
    edges = [(d * (k - 1) - p, d * (k - 1) - p + op)
             for k, p, op, d in zip((kh, kw), pads, out_pads, dilation)]
    out = lax.conv_general_dilated(x, w, (1, 1), edges, lhs_dilation=stride,
                                   rhs_dilation=dilation, dimension_numbers=_CONV_DIMS[2],
                                   feature_group_count=groups)
    if bias is not None:
        out = out + bias.reshape(-1, 1, 1)
    return out[0] if unbatched else out


# ------------------------------------------------------------------ pooling
def _pool_extent(size, k, s, p, d, ceil_mode):
    """(output length, extra right padding) of a pooling window along one axis (PyTorch's rule)."""
    if p > k // 2:
        raise ValueError(f"pad should be at most half of kernel size, got padding={p}, "
                         f"kernel_size={k}")
    span = d * (k - 1) + 1
    out = (size + 2 * p - span + ((s - 1) if ceil_mode else 0)) // s + 1
    if ceil_mode and (out - 1) * s >= size + p:  # the last window must start inside the input
        out -= 1
    if out < 1:
        raise ValueError(f"pooling output size is too small (input {size}, kernel {k}, "
                         f"stride {s}, padding {p}, dilation {d})")
    return out, max(0, (out - 1) * s + span - (size + 2 * p))


def _pool_args(x, kernel_size, stride, padding, dilation, ceil_mode):
    k = _ntuple(kernel_size, 2, "kernel_size")
    s = k if stride is None or stride in ((), []) else _ntuple(stride, 2, "stride")
    p = _ntuple(padding, 2, "padding")
    d = _ntuple(dilation, 2, "dilation")
    extents = [_pool_extent(n, *a, ceil_mode) for n, a in zip(x.shape[-2:], zip(k, s, p, d))]
    return k, s, p, d, extents


def max_pool2d(x, /, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False):
    x, unbatched = _batched(x, 2, "max_pool2d")
    k, s, p, d, ext = _pool_args(x, kernel_size, stride, padding, dilation, ceil_mode)
    pads = ((0, 0), (0, 0)) + tuple((pi, pi + extra) for pi, (_, extra) in zip(p, ext))
    # a concrete (NumPy) init value lets JAX pick its differentiable max-pool primitive
    low = np.array(-np.inf, x.dtype)
    if d == (1, 1):
        out = lax.reduce_window(x, low, lax.max, (1, 1) + k, (1, 1) + s, pads)
    else:  # JAX has no gradient for dilated reduce_window: take the max of strided slices
        xp = lax.pad(x, low, [(lo, hi, 0) for lo, hi in pads])
        (oh, _), (ow, _) = ext
        taps = [lax.slice(xp, (0, 0, i * d[0], j * d[1]),
                          (xp.shape[0], xp.shape[1], i * d[0] + (oh - 1) * s[0] + 1,
                           j * d[1] + (ow - 1) * s[1] + 1), (1, 1) + s)
                for i in range(k[0]) for j in range(k[1])]
        out = jnp.max(jnp.stack(taps), axis=0)
    return out[0] if unbatched else out


def _avg_divisor(size, k, s, p, out, count_include_pad):
    start = np.arange(out) * s - p
    end = np.minimum(start + k, size + p)
    if not count_include_pad:
        start, end = np.maximum(start, 0), np.minimum(end, size)
    return end - start


def avg_pool2d(x, /, kernel_size, stride=None, padding=0, ceil_mode=False,
               count_include_pad=True):
    x, unbatched = _batched(x, 2, "avg_pool2d")
    k, s, p, _, ext = _pool_args(x, kernel_size, stride, padding, 1, ceil_mode)
    pads = ((0, 0), (0, 0)) + tuple((pi, pi + extra) for pi, (_, extra) in zip(p, ext))
    sums = lax.reduce_window(x, np.array(0, x.dtype), lax.add, (1, 1) + k, (1, 1) + s, pads)
    rows, cols = (_avg_divisor(n, ki, si, pi, o, count_include_pad)
                  for n, ki, si, pi, (o, _) in zip(x.shape[-2:], k, s, p, ext))
    out = sums / np.outer(rows, cols).astype(x.dtype)
    return out[0] if unbatched else out


def _adaptive_weights(size, out, dtype):
    """(out, size) averaging matrix of PyTorch's adaptive pooling windows."""
    i = np.arange(out)
    start = (i * size) // out
    end = -((-(i + 1) * size) // out)  # ceil
    cols = np.arange(size)
    inside = (cols >= start[:, None]) & (cols < end[:, None])
    return (inside / (end - start)[:, None]).astype(dtype)


def adaptive_avg_pool2d(x, /, output_size):
    x, unbatched = _batched(x, 2, "adaptive_avg_pool2d")
    h, w = x.shape[-2:]
    if isinstance(output_size, (int, np.integer)) or output_size is None:
        output_size = (output_size, output_size)
    oh, ow = (n if o is None else int(o) for o, n in zip(output_size, (h, w)))
    if h % oh == 0 and w % ow == 0:  # equal windows: an exact mean
        out = x.reshape(x.shape[:2] + (oh, h // oh, ow, w // ow)).mean(axis=(3, 5))
    else:
        out = jnp.einsum("nchw,oh,pw->ncop", x, _adaptive_weights(h, oh, x.dtype),
                         _adaptive_weights(w, ow, x.dtype), precision=_HIGHEST)
    return out[0] if unbatched else out


# ------------------------------------------------------------------ normalisation
def batch_norm(x, running_mean, running_var, weight=None, bias=None, /, training=False,
               momentum=0.1, eps=1e-05):
    """Normalises over all axes but the channel axis 1; the running statistics are not
    updated (unifw modules update their buffers functionally)."""
    shape = (1, -1) + (1,) * (x.ndim - 2)
    ct = _compute_dtype(x)
    xc = x.astype(ct)
    if training:
        axes = (0,) + tuple(range(2, x.ndim))
        if x.size // max(x.shape[1], 1) <= 1:
            raise ValueError(f"batch_norm: expected more than 1 value per channel when "
                             f"training, got input of shape {tuple(x.shape)}")
        mean = jnp.mean(xc, axis=axes, keepdims=True)
        var = jnp.var(xc, axis=axes, keepdims=True)
    else:
        mean = running_mean.astype(ct).reshape(shape)
        var = running_var.astype(ct).reshape(shape)
    y = (xc - mean) * lax.rsqrt(var + eps)
    if weight is not None:
        y = y * weight.astype(ct).reshape(shape)
    if bias is not None:
        y = y + bias.astype(ct).reshape(shape)
    return y.astype(x.dtype)


def layer_norm(x, /, normalized_shape, weight=None, bias=None, eps=1e-05):
    ns = (int(normalized_shape),) if isinstance(normalized_shape, (int, np.integer)) \
        else tuple(int(n) for n in normalized_shape)
    if len(ns) > x.ndim or tuple(x.shape[x.ndim - len(ns):]) != ns:
        raise ValueError(f"layer_norm: normalized_shape={ns} does not match the trailing "
                         f"dimensions of input of shape {tuple(x.shape)}")
    axes = tuple(range(x.ndim - len(ns), x.ndim))
    ct = _compute_dtype(x)
    xc = x.astype(ct)
    centred = xc - jnp.mean(xc, axis=axes, keepdims=True)
    var = jnp.mean(jnp.square(centred), axis=axes, keepdims=True)  # jnp.var, without its jit
    y = centred * lax.rsqrt(var + eps)
    if weight is not None:
        y = y * weight.astype(ct)
    if bias is not None:
        y = y + bias.astype(ct)
    return y.astype(x.dtype)


# ------------------------------------------------------------------ embedding and attention
def embedding(x, weight, /, padding_idx=None):
    if x.dtype.kind not in "iu":
        raise TypeError(f"embedding: indices must be an integer tensor, got {x.dtype}")
    n = weight.shape[0]
    if not isinstance(x, _Tracer) and x.size:
        lo, hi = int(jnp.min(x)), int(jnp.max(x))
        if lo < 0 or hi >= n:
            raise IndexError(f"embedding: index {lo if lo < 0 else hi} is out of range for "
                             f"{n} embeddings")
    out = jnp.take(weight, x, axis=0)
    if padding_idx is None:
        return out
    if not -n <= padding_idx < n:
        raise ValueError(f"embedding: padding_idx={padding_idx} must be within [-{n}, {n})")
    pad = padding_idx % n
    # the padding row receives no gradient, as in PyTorch
    return jnp.where((x == pad)[..., None], lax.stop_gradient(out), out)


def _fused_attention_pays() -> bool:
    """jax.nn.dot_product_attention runs cuDNN's fused kernel on a GPU; on CPU it is the
    same matmul-softmax-matmul behind four transposes, which eager mode pays for."""
    return jax.default_backend() != "cpu"


def scaled_dot_product_attention(query, key, value, /, attn_mask=None, dropout_p=0.0,
                                 is_causal=False, scale=None, *, dropout_key=None):
    """``softmax(q k^T * scale + mask) v`` over the last two axes; a query row whose keys
    are all masked out gives zeros (as PyTorch), not NaN."""
    _same_dtype("scaled_dot_product_attention", query, key, value)
    if (attn_mask is None and dropout_p == 0.0 and _fused_attention_pays()
            and query.ndim == 4 and key.shape == value.shape
            and query.shape[:2] == key.shape[:2] and query.shape[-1] == key.shape[-1]
            and query.dtype.itemsize <= 4):
        # the fused kernel (cuDNN flash attention on GPU) in its (B, T, N, H) layout; it
        # accumulates the softmax in float32, so float64 takes the exact path below
        q, k, v = (jnp.swapaxes(t, 1, 2) for t in (query, key, value))
        out = jax.nn.dot_product_attention(q, k, v, scale=scale, is_causal=is_causal)
        return jnp.swapaxes(out, 1, 2)
    scale = 1.0 / math.sqrt(query.shape[-1]) if scale is None else scale
    nd = query.ndim
    if nd >= 2 and key.ndim == nd and query.shape[:-2] == key.shape[:-2]:
        batch = tuple(range(nd - 2))  # q k^T without a transposed copy of k
        scores = lax.dot_general(query, key, (((nd - 1,), (nd - 1,)), (batch, batch))) * scale
    else:
        scores = jnp.matmul(query, jnp.swapaxes(key, -1, -2)) * scale
    if attn_mask is None and not is_causal and dropout_p == 0.0:
        return jnp.matmul(jax.nn.softmax(scores, axis=-1), value)
    L, S = scores.shape[-2:]
    if is_causal:
        scores = jnp.where(jnp.tril(jnp.ones((L, S), dtype=bool)), scores, -jnp.inf)
    if attn_mask is not None:
        if attn_mask.dtype == bool:
            scores = jnp.where(attn_mask, scores, -jnp.inf)
        else:
            scores = scores + attn_mask
    row_max = lax.stop_gradient(jnp.max(scores, axis=-1, keepdims=True))
    e = jnp.exp(scores - jnp.where(jnp.isfinite(row_max), row_max, 0))
    total = jnp.sum(e, axis=-1, keepdims=True)
    weights = e / jnp.where(total == 0, 1, total)
    if dropout_p > 0.0:
        from unifw import _composites

        from .backend import backend

        weights = _composites.nn_dropout(backend, weights, dropout_p, True, key=dropout_key)
    return jnp.matmul(weights, value)


# ------------------------------------------------------------------ padding
_PAD_MODES = {"reflect": "reflect", "replicate": "edge", "circular": "wrap"}


def pad(x, pad, /, mode="constant", value=0.0):
    """``F.pad``: ``pad`` lists (left, right) pairs starting from the last axis."""
    pad = tuple(int(p) for p in pad)
    if len(pad) % 2 or len(pad) // 2 > x.ndim:
        raise ValueError(f"pad: padding length must be even and at most 2 * ndim, got {pad} "
                         f"for input of shape {tuple(x.shape)}")
    m = len(pad) // 2
    widths = [(0, 0)] * (x.ndim - m) + [(pad[2 * i], pad[2 * i + 1]) for i in reversed(range(m))]
    if mode == "constant":
        return lax.pad(x, np.array(value).astype(x.dtype), [(lo, hi, 0) for lo, hi in widths])
    if mode not in _PAD_MODES:
        raise ValueError(f"pad: mode must be constant, reflect, replicate or circular, "
                         f"got {mode!r}")
    if m > 3 or x.ndim not in (m + 1, m + 2):
        raise ValueError(f"pad: mode {mode!r} pads the last 1-3 axes of a batched or unbatched "
                         f"input; got {m} axes of input of shape {tuple(x.shape)}")
    for n, (lo, hi) in zip(x.shape, widths):
        limit = n - 1 if mode == "reflect" else n
        if max(lo, hi) > limit and mode != "replicate":
            raise ValueError(f"pad: padding ({lo}, {hi}) is too large for an axis of size {n} "
                             f"in mode {mode!r}")
    if mode == "circular":  # PyTorch crops first, then wraps around the cropped axis
        x = _crop(x, widths)
        return jnp.pad(x, [(max(lo, 0), max(hi, 0)) for lo, hi in widths],
                       mode="wrap")
    x = jnp.pad(x, [(max(lo, 0), max(hi, 0)) for lo, hi in widths],
                mode=_PAD_MODES[mode])
    return _crop(x, widths)


def _crop(x, widths):
    """Apply the negative entries of ``widths`` as crops."""
    if all(lo >= 0 and hi >= 0 for lo, hi in widths):
        return x
    return x[tuple(slice(-lo if lo < 0 else 0, hi if hi < 0 else None) for lo, hi in widths)]
