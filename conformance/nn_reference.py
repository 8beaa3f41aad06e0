"""Float64 NumPy references of ``torch.nn.functional`` semantics (NCHW), written from the
definitions: convolutions as sums over kernel offsets, pooling window by window."""
from __future__ import annotations

import math

import numpy as np
from scipy import special


def pair(v, n=2):
    return tuple(v) if isinstance(v, (tuple, list)) else (v,) * n


def gelu(x, approximate="none"):
    if approximate == "tanh":
        return 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3)))
    return 0.5 * x * (1 + special.erf(x / math.sqrt(2)))


def softplus(x, beta=1.0, threshold=20.0):
    return np.where(x * beta > threshold, x, np.log1p(np.exp(beta * x)) / beta)


def softmax(x, dim=-1):
    e = np.exp(x - np.max(x, axis=dim, keepdims=True))
    return e / np.sum(e, axis=dim, keepdims=True)


def log_softmax(x, dim=-1):
    m = np.max(x, axis=dim, keepdims=True)
    return x - m - np.log(np.sum(np.exp(x - m), axis=dim, keepdims=True))


def logsumexp(x, dim=None, keepdim=False):
    m = np.max(x, axis=dim, keepdims=True)
    out = np.log(np.sum(np.exp(x - m), axis=dim, keepdims=True)) + m
    return out if keepdim else np.squeeze(out, axis=dim)


def linear(x, weight, bias=None):
    y = x @ weight.T
    return y if bias is None else y + bias


def _same_padding(k, dilation):
    total = dilation * (k - 1)
    return total // 2, total - total // 2


def conv(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """N-d convolution (cross-correlation) for x of shape (N, C, *spatial)."""
    nd = x.ndim - 2
    stride, dilation = pair(stride, nd), pair(dilation, nd)
    ks = weight.shape[2:]
    if padding == "same":
        pads = [_same_padding(k, d) for k, d in zip(ks, dilation)]
    elif padding == "valid":
        pads = [(0, 0)] * nd
    else:
        pads = [(p, p) for p in pair(padding, nd)]
    xp = np.pad(x, [(0, 0), (0, 0), *pads])
    out_sp = [(xp.shape[2 + i] - dilation[i] * (ks[i] - 1) - 1) // stride[i] + 1
              for i in range(nd)]
    n, c = x.shape[:2]
    o = weight.shape[0]
    cg, og = c // groups, o // groups
    out = np.zeros((n, o, *out_sp))
    for offs in np.ndindex(*ks):
        sl = tuple(slice(offs[i] * dilation[i], offs[i] * dilation[i] +
                         stride[i] * (out_sp[i] - 1) + 1, stride[i]) for i in range(nd))
        patch = xp[(slice(None), slice(None), *sl)]
        for g in range(groups):
            w = weight[(slice(g * og, (g + 1) * og), slice(None), *offs)]
            out[:, g * og:(g + 1) * og] += np.einsum("nc...,oc->no...",
                                                     patch[:, g * cg:(g + 1) * cg], w)
    if bias is not None:
        out += bias.reshape((1, o) + (1,) * nd)
    return out


def conv_transpose2d(x, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1,
                     dilation=1):
    s, p, op, d = pair(stride), pair(padding), pair(output_padding), pair(dilation)
    n, c, h, w_ = x.shape
    cg = c // groups
    og = weight.shape[1]
    kh, kw = weight.shape[2:]
    full = [(h - 1) * s[0] + d[0] * (kh - 1) + 1 + op[0],
            (w_ - 1) * s[1] + d[1] * (kw - 1) + 1 + op[1]]
    out = np.zeros((n, og * groups, *full))
    for i, j in np.ndindex(kh, kw):
        for g in range(groups):
            contrib = np.einsum("nchw,co->nohw", x[:, g * cg:(g + 1) * cg],
                                weight[g * cg:(g + 1) * cg, :, i, j])
            out[:, g * og:(g + 1) * og, i * d[0]:i * d[0] + s[0] * (h - 1) + 1:s[0],
                j * d[1]:j * d[1] + s[1] * (w_ - 1) + 1:s[1]] += contrib
    out = out[:, :, p[0]:full[0] - p[0], p[1]:full[1] - p[1]]
    if bias is not None:
        out += bias.reshape(1, -1, 1, 1)
    return out


def _pool_out(size, k, s, p, d, ceil_mode):
    eff = d * (k - 1) + 1
    if ceil_mode:
        out = -(-(size + 2 * p - eff) // s) + 1
        if (out - 1) * s >= size + p:  # the last window must start inside input or left pad
            out -= 1
    else:
        out = (size + 2 * p - eff) // s + 1
    return out


def max_pool2d(x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False):
    k = pair(kernel_size)
    s = pair(stride) if stride is not None else k
    p, d = pair(padding), pair(dilation)
    h, w = x.shape[2:]
    oh, ow = (_pool_out(n, k[i], s[i], p[i], d[i], ceil_mode) for i, n in enumerate((h, w)))
    out = np.full(x.shape[:2] + (oh, ow), -np.inf)
    for a, b in np.ndindex(oh, ow):
        for i, j in np.ndindex(*k):
            r, c = a * s[0] - p[0] + i * d[0], b * s[1] - p[1] + j * d[1]
            if 0 <= r < h and 0 <= c < w:
                out[:, :, a, b] = np.maximum(out[:, :, a, b], x[:, :, r, c])
    return out


def avg_pool2d(x, kernel_size, stride=None, padding=0, ceil_mode=False,
               count_include_pad=True):
    k = pair(kernel_size)
    s = pair(stride) if stride is not None else k
    p = pair(padding)
    h, w = x.shape[2:]
    oh, ow = (_pool_out(n, k[i], s[i], p[i], 1, ceil_mode) for i, n in enumerate((h, w)))
    out = np.zeros(x.shape[:2] + (oh, ow))
    for a, b in np.ndindex(oh, ow):
        r0, c0 = a * s[0] - p[0], b * s[1] - p[1]
        r1, c1 = min(r0 + k[0], h + p[0]), min(c0 + k[1], w + p[1])
        area = (r1 - r0) * (c1 - c0)
        rs, cs = max(r0, 0), max(c0, 0)
        re, ce = min(r1, h), min(c1, w)
        total = x[:, :, rs:re, cs:ce].sum(axis=(2, 3))
        out[:, :, a, b] = total / (area if count_include_pad else (re - rs) * (ce - cs))
    return out


def adaptive_avg_pool2d(x, output_size):
    h, w = x.shape[2:]
    oh, ow = pair(output_size)
    oh, ow = oh or h, ow or w
    out = np.zeros(x.shape[:2] + (oh, ow))
    for a, b in np.ndindex(oh, ow):
        r0, r1 = (a * h) // oh, -(-((a + 1) * h) // oh)
        c0, c1 = (b * w) // ow, -(-((b + 1) * w) // ow)
        out[:, :, a, b] = x[:, :, r0:r1, c0:c1].mean(axis=(2, 3))
    return out


def batch_norm(x, running_mean, running_var, weight=None, bias=None, training=False,
               momentum=0.1, eps=1e-5):
    shape = (1, -1) + (1,) * (x.ndim - 2)
    if training:
        axes = (0,) + tuple(range(2, x.ndim))
        mean, var = x.mean(axis=axes), x.var(axis=axes)
    else:
        mean, var = running_mean, running_var
    y = (x - mean.reshape(shape)) / np.sqrt(var.reshape(shape) + eps)
    if weight is not None:
        y = y * weight.reshape(shape)
    if bias is not None:
        y = y + bias.reshape(shape)
    return y


def layer_norm(x, normalized_shape, weight=None, bias=None, eps=1e-5):
    axes = tuple(range(x.ndim - len(pair(normalized_shape, 1)), x.ndim))
    y = (x - x.mean(axis=axes, keepdims=True)) / np.sqrt(x.var(axis=axes, keepdims=True) + eps)
    if weight is not None:
        y = y * weight
    if bias is not None:
        y = y + bias
    return y


def scaled_dot_product_attention(q, k, v, attn_mask=None, dropout_p=0.0, is_causal=False,
                                 scale=None, dropout_key=None):
    sc = 1 / math.sqrt(q.shape[-1]) if scale is None else scale
    scores = q @ np.swapaxes(k, -1, -2) * sc
    L, S = scores.shape[-2:]
    if is_causal:
        scores = np.where(np.tril(np.ones((L, S), bool)), scores, -np.inf)
    if attn_mask is not None:
        scores = np.where(attn_mask, scores, -np.inf) if attn_mask.dtype == bool \
            else scores + attn_mask
    return softmax(scores, -1) @ v


_PAD_MODES = {"constant": "constant", "reflect": "reflect", "replicate": "edge",
              "circular": "wrap"}


def pad(x, pad, mode="constant", value=0.0):
    widths = [(0, 0)] * x.ndim
    for i in range(len(pad) // 2):
        widths[x.ndim - 1 - i] = (pad[2 * i], pad[2 * i + 1])
    if mode == "constant":
        return np.pad(x, widths, mode="constant", constant_values=value)
    return np.pad(x, widths, mode=_PAD_MODES[mode])
