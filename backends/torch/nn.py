"""``nn.functional`` ops for the PyTorch backend: ``torch.nn.functional`` itself, NCHW."""
import math

import torch
import torch.nn.functional as F

relu = torch.relu
leaky_relu = F.leaky_relu
silu = F.silu
sigmoid = torch.sigmoid
tanh = torch.tanh
softplus = F.softplus
linear = F.linear
conv1d = F.conv1d
conv2d = F.conv2d
conv_transpose2d = F.conv_transpose2d
max_pool2d = F.max_pool2d
avg_pool2d = F.avg_pool2d
adaptive_avg_pool2d = F.adaptive_avg_pool2d


def softmax(x, /, dim=-1):
    return torch.softmax(x, dim)


def log_softmax(x, /, dim=-1):
    return torch.log_softmax(x, dim)


def _kind(dtype):
    if dtype == torch.bool:
        return "b"
    if dtype.is_complex:
        return "c"
    return "f" if dtype.is_floating_point else "i"


def softmax_cross_entropy(x, target, /, ignore_index=-100, reduction="mean"):
    from unifw._composites import class_target_problem

    class_target_problem(x.shape, target.shape, _kind(target.dtype), ignore_index, reduction)
    if target.dtype != torch.int64:  # torch's kernel takes int64 indices only
        target = target.long()
    return F.cross_entropy(x, target, ignore_index=ignore_index, reduction=reduction)


def gelu(x, /, approximate="none"):
    y = F.gelu(x, approximate=approximate)
    if approximate == "none" and x.dtype != torch.float64:
        # torch's float32 erf kernel gives gelu(+inf) = nan; every other backend gives +inf
        y = torch.where(torch.isposinf(x), x, y)
    return y


def logsumexp(x, /, dim=None, keepdim=False):
    if dim is None:
        dim = tuple(range(x.ndim))
    return torch.logsumexp(x, dim, keepdim)


def one_hot(x, /, num_classes=-1):
    return F.one_hot(x.long(), num_classes)


def batch_norm(x, running_mean, running_var, weight=None, bias=None, /, training=False,
               momentum=0.1, eps=1e-05):
    if training:  # batch statistics; the caller updates the running ones (no in-place write)
        return F.batch_norm(x, None, None, weight, bias, True, momentum, eps)
    return F.batch_norm(x, running_mean, running_var, weight, bias, False, momentum, eps)


def layer_norm(x, /, normalized_shape, weight=None, bias=None, eps=1e-05):
    if isinstance(normalized_shape, int):
        normalized_shape = (normalized_shape,)
    return F.layer_norm(x, normalized_shape, weight, bias, eps)


def embedding(x, weight, /, padding_idx=None):
    if x.dtype not in (torch.int64, torch.int32):
        x = x.long()
    if x.device.type != "cpu" and x.numel() and not torch.compiler.is_compiling():
        # the CPU kernel raises on a bad index; the GPU one only trips a device assert
        lo, hi = (int(v) for v in torch.aminmax(x))
        if lo < 0 or hi >= weight.shape[0]:
            raise IndexError(f"embedding: index {lo if lo < 0 else hi} is out of range for "
                             f"{weight.shape[0]} embeddings")
    return F.embedding(x, weight, padding_idx)


def scaled_dot_product_attention(query, key, value, /, attn_mask=None, dropout_p=0.0,
                                 is_causal=False, scale=None, *, dropout_key=None):
    if dropout_p > 0.0:
        # dropout draws from unifw's counter-based RNG so every backend drops the same entries
        from unifw._composites import nn_scaled_dot_product_attention

        from .backend import backend

        return nn_scaled_dot_product_attention(backend, query, key, value, attn_mask, dropout_p,
                                               is_causal, scale, dropout_key=dropout_key)
    if is_causal and attn_mask is not None:  # torch refuses both; apply them together
        L, S = query.shape[-2], key.shape[-2]
        causal = torch.ones(L, S, dtype=torch.bool, device=query.device).tril()
        if attn_mask.dtype == torch.bool:
            attn_mask = attn_mask & causal
        else:
            attn_mask = attn_mask.masked_fill(~causal, -math.inf)
        is_causal = False
    return F.scaled_dot_product_attention(query, key, value, attn_mask, 0.0, is_causal,
                                          scale=scale)


def _pad_spatial(x, pad, mode):
    # torch pads the last len(pad) // 2 dims of an (N, C, *spatial) or (C, *spatial) input:
    # fold every leading dim into C
    k = len(pad) // 2
    lead, spatial = x.shape[:x.ndim - k], x.shape[x.ndim - k:]
    y = F.pad(x.reshape((1, math.prod(lead)) + tuple(spatial)), pad, mode)
    return y.reshape(tuple(lead) + tuple(y.shape[2:]))


def pad(x, pad, /, mode="constant", value=0.0):
    if mode == "constant":
        return F.pad(x, pad, "constant", value)
    if x.dtype == torch.bool:  # reflect/replicate have no bool kernels
        return _pad_spatial(x.to(torch.uint8), pad, mode).bool()
    return _pad_spatial(x, pad, mode)
