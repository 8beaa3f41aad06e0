"""``nn.functional`` ops for the NumPy reference backend, with ``torch.nn.functional`` semantics.

This module is the oracle the other backends are compared with, so it favours
clarity and accuracy over speed: every op computes in float64 (whatever the
input precision) and returns the input dtype. Layouts are channels-first
(NCHW inputs, OIHW weights); unbatched inputs are accepted where PyTorch
accepts them. Convolutions are im2col (a strided window view) + einsum; the
transposed convolution is written independently, as a scatter of the kernel.
"""
import math

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

_F64 = np.float64
_erf = np.frompyfunc(math.erf, 1, 1)
_quiet = np.errstate(over="ignore", invalid="ignore")  # nan/inf inputs are valid here


# ------------------------------------------------------------------ helpers
def _f64(x):
    return np.asarray(x, dtype=_F64)


def _like(y, x):
    """``y`` (computed in float64) in the dtype of ``x``."""
    return np.asarray(y).astype(x.dtype, copy=False)


def _ntuple(v, n, what):
    t = (int(v),) * n if isinstance(v, (int, np.integer)) else tuple(int(e) for e in v)
    if len(t) != n:
        raise ValueError(f"{what} must be an int or a tuple of {n} ints, got {v!r}")
    return t


def _same_dtype(op, x, *others):
    for o in others:
        if o is not None and o.dtype != x.dtype:
            raise TypeError(f"{op}: expected all tensors to have dtype {x.dtype}, got {o.dtype}")


def _batched(x, n_spatial, op):
    if x.ndim == n_spatial + 2:
        return x, False
    if x.ndim == n_spatial + 1:
        return x[None], True
    raise ValueError(f"{op}: expected a {n_spatial + 1}-D (unbatched) or {n_spatial + 2}-D "
                     f"input, got shape {x.shape}")


def _unbatch(y, unbatched):
    return y[0] if unbatched else y


def _windows(x, span, stride, dilation):
    """View of shape (N, C, *out, *kernel) of the pooling/convolution windows of ``x``."""
    n = len(span)
    axes = tuple(range(2, 2 + n))
    w = sliding_window_view(x, span, axis=axes)
    pick = (slice(None), slice(None)) + tuple(slice(None, None, s) for s in stride) \
        + tuple(slice(None, None, d) for d in dilation)
    return w[pick]


# ------------------------------------------------------------------ activations
@_quiet
def relu(x, /):
    return _like(np.maximum(_f64(x), 0.0), x)


@_quiet
def leaky_relu(x, /, negative_slope=0.01):
    v = _f64(x)
    return _like(np.where(v > 0, v, v * negative_slope), x)


@_quiet
def gelu(x, /, approximate="none"):
    v = _f64(x)
    if approximate == "none":
        return _like(0.5 * v * (1.0 + np.asarray(_erf(v / math.sqrt(2.0)), dtype=_F64)), x)
    if approximate == "tanh":
        inner = math.sqrt(2.0 / math.pi) * (v + 0.044715 * v ** 3)
        return _like(0.5 * v * (1.0 + np.tanh(inner)), x)
    raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")


def _sigmoid64(v):
    return np.exp(-np.logaddexp(0.0, -v))


@_quiet
def sigmoid(x, /):
    return _like(_sigmoid64(_f64(x)), x)


@_quiet
def silu(x, /):
    v = _f64(x)
    return _like(v * _sigmoid64(v), x)


@_quiet
def tanh(x, /):
    return _like(np.tanh(_f64(x)), x)


@_quiet
def softplus(x, /, beta=1.0, threshold=20.0):
    v = _f64(x)
    z = v * beta
    return _like(np.where(z > threshold, v, np.logaddexp(0.0, z) / beta), x)


def softmax(x, /, dim=-1):
    v = _f64(x)
    with np.errstate(invalid="ignore"):
        e = np.exp(v - np.max(v, axis=dim, keepdims=True))
        return _like(e / np.sum(e, axis=dim, keepdims=True), x)


def log_softmax(x, /, dim=-1):
    v = _f64(x)
    with np.errstate(invalid="ignore", divide="ignore"):
        shifted = v - np.max(v, axis=dim, keepdims=True)
        return _like(shifted - np.log(np.sum(np.exp(shifted), axis=dim, keepdims=True)), x)


def logsumexp(x, /, dim=None, keepdim=False):
    v = _f64(x)
    axis = tuple(dim) if isinstance(dim, list) else dim
    m = np.max(v, axis=axis, keepdims=True) if v.size else np.zeros((1,) * v.ndim)
    m = np.where(np.isfinite(m), m, 0.0)  # all -inf gives -inf, any +inf gives +inf
    with np.errstate(divide="ignore"):
        out = np.log(np.sum(np.exp(v - m), axis=axis, keepdims=True)) + m
    if not keepdim:
        out = np.squeeze(out, axis=axis) if axis is not None else out.reshape(())
    return _like(out, x)


def one_hot(x, /, num_classes=-1):
    if num_classes < 0:
        num_classes = int(x.max()) + 1 if x.size else 0
    if x.size and x.min() < 0:
        raise ValueError(f"one_hot: class values must be non-negative, got {x.min()}")
    if x.size and x.max() >= num_classes:
        raise ValueError(f"one_hot: class value {x.max()} is not below num_classes={num_classes}")
    return (x[..., None] == np.arange(num_classes)).astype(np.int64)


# ------------------------------------------------------------------ linear and convolutions
def linear(x, weight, bias=None, /):
    _same_dtype("linear", x, weight, bias)
    out = _f64(x) @ _f64(weight).T
    return _like(out if bias is None else out + _f64(bias), x)


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
        return [(t // 2, t - t // 2) for t in total]
    pads = _ntuple(padding, n, "padding")
    if any(p < 0 for p in pads):
        raise ValueError(f"negative padding is not supported, got {padding!r}")
    return [(p, p) for p in pads]


def _conv(op, n, x, weight, bias, stride, padding, dilation, groups):
    _same_dtype(op, x, weight, bias)
    xb, unbatched = _batched(x, n, op)
    c_in, c_out = xb.shape[1], weight.shape[0]
    if c_out % groups or weight.shape[1] * groups != c_in:
        raise ValueError(f"{op}: weight of shape {weight.shape} with groups={groups} does not "
                         f"match an input with {c_in} channels")
    kernel = weight.shape[2:]
    stride, dilation = _ntuple(stride, n, "stride"), _ntuple(dilation, n, "dilation")
    pads = _conv_padding(padding, kernel, stride, dilation)
    xp = np.pad(_f64(xb), [(0, 0), (0, 0)] + pads)
    span = [d * (k - 1) + 1 for k, d in zip(kernel, dilation)]
    cols = _windows(xp, span, stride, dilation)  # (N, C, *out, *kernel)
    cols = cols.reshape((cols.shape[0], groups, c_in // groups) + cols.shape[2:])
    w = _f64(weight).reshape((groups, c_out // groups) + weight.shape[1:])
    sp, kk = "yz"[:n], "ij"[:n]
    out = np.einsum(f"ngc{sp}{kk},goc{kk}->ngo{sp}", cols, w)
    out = out.reshape((out.shape[0], c_out) + out.shape[3:])
    if bias is not None:
        out = out + _f64(bias).reshape((-1,) + (1,) * n)
    return _like(_unbatch(out, unbatched), x)


def conv1d(x, weight, bias=None, /, stride=1, padding=0, dilation=1, groups=1):
    return _conv("conv1d", 1, x, weight, bias, stride, padding, dilation, groups)


def conv2d(x, weight, bias=None, /, stride=1, padding=0, dilation=1, groups=1):
    return _conv("conv2d", 2, x, weight, bias, stride, padding, dilation, groups)


def conv_transpose2d(x, weight, bias=None, /, stride=1, padding=0, output_padding=0, groups=1,
                     dilation=1):
    """Each input pixel adds ``x[n, c, i, j] * weight[c, o]`` to the output window at
    ``(i * stride - padding, j * stride - padding)`` (dilated kernel)."""
    _same_dtype("conv_transpose2d", x, weight, bias)
    xb, unbatched = _batched(x, 2, "conv_transpose2d")
    (sh, sw), (ph, pw) = _ntuple(stride, 2, "stride"), _ntuple(padding, 2, "padding")
    (oph, opw), (dh, dw) = _ntuple(output_padding, 2, "output_padding"), _ntuple(dilation, 2,
                                                                                 "dilation")
    if (oph >= sh and oph >= dh) or (opw >= sw and opw >= dw):
        raise ValueError("output_padding must be smaller than either stride or dilation")
    n, c_in, h, w = xb.shape
    if weight.shape[0] != c_in or c_in % groups:
        raise ValueError(f"conv_transpose2d: weight of shape {weight.shape} with groups={groups} "
                         f"does not match an input with {c_in} channels")
    _, c_out_g, kh, kw = weight.shape
    xg = _f64(xb).reshape(n, groups, c_in // groups, h, w)
    wg = _f64(weight).reshape(groups, c_in // groups, c_out_g, kh, kw)
    full_h = (h - 1) * sh + dh * (kh - 1) + 1 + oph
    full_w = (w - 1) * sw + dw * (kw - 1) + 1 + opw
    full = np.zeros((n, groups, c_out_g, full_h, full_w))
    for i in range(kh):
        for j in range(kw):
            contrib = np.einsum("ngchw,gco->ngohw", xg, wg[..., i, j])
            full[..., i * dh: i * dh + (h - 1) * sh + 1: sh,
                 j * dw: j * dw + (w - 1) * sw + 1: sw] += contrib
    out = full[..., ph: full_h - ph, pw: full_w - pw].reshape(n, groups * c_out_g,
                                                              full_h - 2 * ph, full_w - 2 * pw)
    if bias is not None:
        out = out + _f64(bias).reshape(-1, 1, 1)
    return _like(_unbatch(out, unbatched), x)


# ------------------------------------------------------------------ pooling
def _pool_extent(size, k, s, p, d, ceil_mode):
    """(output length, extra right padding) along one axis, PyTorch's rule."""
    if p > k // 2:
        raise ValueError(f"pad should be at most half of kernel size, got padding={p}, "
                         f"kernel_size={k}")
    span = d * (k - 1) + 1
    if ceil_mode:
        out = -(-(size + 2 * p - span) // s) + 1
        if (out - 1) * s >= size + p:  # the last window must start inside the input
            out -= 1
    else:
        out = (size + 2 * p - span) // s + 1
    if out < 1:
        raise ValueError(f"pooling output size is too small (input {size}, kernel {k}, "
                         f"stride {s}, padding {p}, dilation {d})")
    return out, max(0, (out - 1) * s + span - (size + 2 * p))


def _pool_setup(x, kernel_size, stride, padding, dilation, ceil_mode):
    k = _ntuple(kernel_size, 2, "kernel_size")
    s = k if stride is None or stride in ((), []) else _ntuple(stride, 2, "stride")
    p, d = _ntuple(padding, 2, "padding"), _ntuple(dilation, 2, "dilation")
    ext = [_pool_extent(n, *a, ceil_mode) for n, a in zip(x.shape[-2:], zip(k, s, p, d))]
    widths = [(0, 0), (0, 0)] + [(pi, pi + extra) for pi, (_, extra) in zip(p, ext)]
    return k, s, p, d, widths


def max_pool2d(x, /, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False):
    xb, unbatched = _batched(x, 2, "max_pool2d")
    k, s, _, d, widths = _pool_setup(xb, kernel_size, stride, padding, dilation, ceil_mode)
    xp = np.pad(_f64(xb), widths, constant_values=-np.inf)
    span = [di * (ki - 1) + 1 for ki, di in zip(k, d)]
    out = _windows(xp, span, s, d).max(axis=(-2, -1))
    return _like(_unbatch(out, unbatched), x)


def avg_pool2d(x, /, kernel_size, stride=None, padding=0, ceil_mode=False,
               count_include_pad=True):
    xb, unbatched = _batched(x, 2, "avg_pool2d")
    k, s, p, _, widths = _pool_setup(xb, kernel_size, stride, padding, 1, ceil_mode)
    sums = _windows(np.pad(_f64(xb), widths), k, s, (1, 1)).sum(axis=(-2, -1))
    # the divisor counts the window cells on the input (and on the symmetric zero
    # padding with count_include_pad), never those of the extra ceil_mode padding
    counted = np.ones((1, 1) + xb.shape[2:])
    if count_include_pad:
        counted = np.pad(counted, [(0, 0), (0, 0)] + [(pi, pi) for pi in p], constant_values=1)
        widths = [(0, 0), (0, 0)] + [(0, hi - lo) for lo, hi in widths[2:]]
    counts = _windows(np.pad(counted, widths), k, s, (1, 1)).sum(axis=(-2, -1))
    return _like(_unbatch(sums / counts, unbatched), x)


def adaptive_avg_pool2d(x, /, output_size):
    xb, unbatched = _batched(x, 2, "adaptive_avg_pool2d")
    h, w = xb.shape[-2:]
    if output_size is None or isinstance(output_size, (int, np.integer)):
        output_size = (output_size, output_size)
    oh, ow = (n if o is None else int(o) for o, n in zip(output_size, (h, w)))
    v = _f64(xb)
    out = np.empty(xb.shape[:2] + (oh, ow))
    for i in range(oh):
        r0, r1 = math.floor(i * h / oh), math.ceil((i + 1) * h / oh)
        for j in range(ow):
            c0, c1 = math.floor(j * w / ow), math.ceil((j + 1) * w / ow)
            out[:, :, i, j] = v[:, :, r0:r1, c0:c1].mean(axis=(-2, -1))
    return _like(_unbatch(out, unbatched), x)


# ------------------------------------------------------------------ normalisation
def batch_norm(x, running_mean, running_var, weight=None, bias=None, /, training=False,
               momentum=0.1, eps=1e-05):
    """Normalise over every axis but the channel axis 1 (running statistics are not updated)."""
    shape = (1, -1) + (1,) * (x.ndim - 2)
    v = _f64(x)
    if training:
        axes = (0,) + tuple(range(2, x.ndim))
        if x.size // max(x.shape[1], 1) <= 1:
            raise ValueError(f"batch_norm: expected more than 1 value per channel when "
                             f"training, got input of shape {x.shape}")
        mean, var = v.mean(axis=axes, keepdims=True), v.var(axis=axes, keepdims=True)
    else:
        mean, var = _f64(running_mean).reshape(shape), _f64(running_var).reshape(shape)
    y = (v - mean) / np.sqrt(var + eps)
    if weight is not None:
        y = y * _f64(weight).reshape(shape)
    if bias is not None:
        y = y + _f64(bias).reshape(shape)
    return _like(y, x)


def layer_norm(x, /, normalized_shape, weight=None, bias=None, eps=1e-05):
    ns = (int(normalized_shape),) if isinstance(normalized_shape, (int, np.integer)) \
        else tuple(int(n) for n in normalized_shape)
    if len(ns) > x.ndim or x.shape[x.ndim - len(ns):] != ns:
        raise ValueError(f"layer_norm: normalized_shape={ns} does not match the trailing "
                         f"dimensions of input of shape {x.shape}")
    axes = tuple(range(x.ndim - len(ns), x.ndim))
    v = _f64(x)
    y = (v - v.mean(axis=axes, keepdims=True)) / np.sqrt(v.var(axis=axes, keepdims=True) + eps)
    if weight is not None:
        y = y * _f64(weight)
    if bias is not None:
        y = y + _f64(bias)
    return _like(y, x)


# ------------------------------------------------------------------ embedding and attention
def embedding(x, weight, /, padding_idx=None):
    if x.dtype.kind not in "iu":
        raise TypeError(f"embedding: indices must be an integer tensor, got {x.dtype}")
    n = weight.shape[0]
    if x.size and (x.min() < 0 or x.max() >= n):
        bad = x.min() if x.min() < 0 else x.max()
        raise IndexError(f"embedding: index {bad} is out of range for {n} embeddings")
    if padding_idx is not None and not -n <= padding_idx < n:
        raise ValueError(f"embedding: padding_idx={padding_idx} must be within [-{n}, {n})")
    return weight[x]


def scaled_dot_product_attention(query, key, value, /, attn_mask=None, dropout_p=0.0,
                                 is_causal=False, scale=None, *, dropout_key=None):
    """``softmax(q k^T * scale + mask) v``; a query whose keys are all masked gives zeros."""
    _same_dtype("scaled_dot_product_attention", query, key, value)
    scale = 1.0 / math.sqrt(query.shape[-1]) if scale is None else scale
    scores = _f64(query) @ np.swapaxes(_f64(key), -1, -2) * scale
    L, S = scores.shape[-2:]
    if is_causal:
        scores = np.where(np.tril(np.ones((L, S), dtype=bool)), scores, -np.inf)
    if attn_mask is not None:
        scores = np.where(attn_mask, scores, -np.inf) if attn_mask.dtype == bool \
            else scores + _f64(attn_mask)
    row_max = np.max(scores, axis=-1, keepdims=True)
    e = np.exp(scores - np.where(np.isfinite(row_max), row_max, 0.0))
    total = e.sum(axis=-1, keepdims=True)
    weights = e / np.where(total == 0, 1.0, total)
    if dropout_p > 0.0:
        from unifw import _composites

        from .backend import backend

        weights = _composites.nn_dropout(backend, weights, dropout_p, True, key=dropout_key)
    return _like(weights @ _f64(value), query)


# ------------------------------------------------------------------ padding
_PAD_MODES = {"reflect": "reflect", "replicate": "edge", "circular": "wrap"}


def pad(x, pad, /, mode="constant", value=0.0):
    """``F.pad``: ``pad`` lists (left, right) pairs starting from the last axis; negative
    entries crop."""
    pad = tuple(int(p) for p in pad)
    if len(pad) % 2 or len(pad) // 2 > x.ndim:
        raise ValueError(f"pad: padding length must be even and at most 2 * ndim, got {pad} "
                         f"for input of shape {x.shape}")
    m = len(pad) // 2
    widths = [(0, 0)] * (x.ndim - m) + [(pad[2 * i], pad[2 * i + 1]) for i in reversed(range(m))]
    grow = [(max(lo, 0), max(hi, 0)) for lo, hi in widths]
    if mode == "constant":
        fill = np.asarray(value).astype(x.dtype)
        return _crop(np.pad(x, grow, constant_values=fill), widths)
    if mode not in _PAD_MODES:
        raise ValueError(f"pad: mode must be constant, reflect, replicate or circular, "
                         f"got {mode!r}")
    if m > 3 or x.ndim not in (m + 1, m + 2):
        raise ValueError(f"pad: mode {mode!r} pads the last 1-3 axes of a batched or unbatched "
                         f"input; got {m} axes of input of shape {x.shape}")
    for n, (lo, hi) in zip(x.shape, widths):
        limit = n - 1 if mode == "reflect" else n
        if max(lo, hi) > limit and mode != "replicate":
            raise ValueError(f"pad: padding ({lo}, {hi}) is too large for an axis of size {n} "
                             f"in mode {mode!r}")
    if mode == "circular":  # PyTorch crops first, then wraps around the cropped axis
        return np.pad(_crop(x, widths), grow, mode="wrap")
    return _crop(np.pad(x, grow, mode=_PAD_MODES[mode]), widths)


def _crop(x, widths):
    """Apply the negative entries of ``widths`` as crops."""
    return x[tuple(slice(-lo if lo < 0 else 0, hi if hi < 0 else None) for lo, hi in widths)]
