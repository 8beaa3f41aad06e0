"""``MultiheadAttention`` with PyTorch's parameter layout, masks and return values."""
from __future__ import annotations

import math

from .. import _dtypes
from .._creation import asarray
from .._dispatch import FUNCS
from .._tensor import Tensor
from . import functional as F
from . import init
from ._utils import new_parameter
from .dropout import next_rng_key, register_rng_key
from .linear import Linear
from .module import Module

__all__ = ["MultiheadAttention"]

_where, _full_like, _zeros_like = FUNCS["where"], FUNCS["full_like"], FUNCS["zeros_like"]


def _as_additive(mask: Tensor, dtype) -> Tensor:
    """A boolean mask (True = not allowed) as 0/-inf, or a float mask cast to ``dtype``."""
    if mask.dtype is _dtypes.bool:
        return _where(mask, _full_like(mask, -math.inf, dtype=dtype),
                      _zeros_like(mask, dtype=dtype))
    return mask if mask.dtype is dtype else mask.astype(dtype)


class MultiheadAttention(Module):
    """Multi-head attention (Vaswani et al. 2017), parameters as in PyTorch:
    ``in_proj_weight`` ``(3E, E)`` and ``in_proj_bias`` ``(3E,)`` (or
    ``q_proj_weight``/``k_proj_weight``/``v_proj_weight`` when ``kdim``/``vdim``
    differ from ``embed_dim``) and ``out_proj`` (a Linear).

    ``forward(query, key, value, key_padding_mask=None, need_weights=True,
    attn_mask=None, average_attn_weights=True, is_causal=False)`` returns
    ``(output, weights or None)``. Inputs are ``(L, N, E)``, or ``(N, L, E)`` with
    ``batch_first=True``, or unbatched ``(L, E)``. Boolean masks mark positions
    that may *not* be attended (True = masked); float masks are added to the
    scores. ``is_causal=True`` without ``attn_mask`` applies a causal mask.
    """

    def __init__(self, embed_dim: int, num_heads: int, dropout: float = 0.0, bias: bool = True,
                 add_bias_kv: bool = False, add_zero_attn: bool = False, kdim=None, vdim=None,
                 batch_first: bool = False, device=None, dtype=None):
        super().__init__()
        if embed_dim <= 0 or num_heads <= 0:
            raise ValueError(f"embed_dim and num_heads must be greater than 0, got "
                             f"embed_dim={embed_dim} and num_heads={num_heads} instead")
        if embed_dim % num_heads:
            raise ValueError("embed_dim must be divisible by num_heads")
        if add_bias_kv or add_zero_attn:
            raise NotImplementedError("MultiheadAttention: add_bias_kv and add_zero_attn are "
                                      "not supported")
        self.embed_dim = embed_dim
        self.kdim = kdim if kdim is not None else embed_dim
        self.vdim = vdim if vdim is not None else embed_dim
        self._qkv_same_embed_dim = self.kdim == embed_dim and self.vdim == embed_dim
        self.num_heads = num_heads
        self.dropout = dropout
        self.batch_first = batch_first
        self.head_dim = embed_dim // num_heads
        if self._qkv_same_embed_dim:
            self.in_proj_weight = new_parameter((3 * embed_dim, embed_dim), dtype, device)
            for name in ("q_proj_weight", "k_proj_weight", "v_proj_weight"):
                self.register_parameter(name, None)
        else:
            self.q_proj_weight = new_parameter((embed_dim, embed_dim), dtype, device)
            self.k_proj_weight = new_parameter((embed_dim, self.kdim), dtype, device)
            self.v_proj_weight = new_parameter((embed_dim, self.vdim), dtype, device)
            self.register_parameter("in_proj_weight", None)
        if bias:
            self.in_proj_bias = new_parameter((3 * embed_dim,), dtype, device)
        else:
            self.register_parameter("in_proj_bias", None)
        self.out_proj = Linear(embed_dim, embed_dim, bias=bias, device=device, dtype=dtype)
        self.add_zero_attn = False
        self._reset_parameters()
        if dropout > 0.0:
            register_rng_key(self)

    def _reset_parameters(self) -> None:
        if self._qkv_same_embed_dim:
            init.xavier_uniform_(self.in_proj_weight)
        else:
            init.xavier_uniform_(self.q_proj_weight)
            init.xavier_uniform_(self.k_proj_weight)
            init.xavier_uniform_(self.v_proj_weight)
        if self.in_proj_bias is not None:
            init.constant_(self.in_proj_bias, 0.0)
            init.constant_(self.out_proj.bias, 0.0)

    def _projections(self):
        E = self.embed_dim
        if self._qkv_same_embed_dim:
            w = self.in_proj_weight
            ws = (w[:E], w[E:2 * E], w[2 * E:])
        else:
            ws = (self.q_proj_weight, self.k_proj_weight, self.v_proj_weight)
        b = self.in_proj_bias
        bs = (None, None, None) if b is None else (b[:E], b[E:2 * E], b[2 * E:])
        return ws, bs

    def _mask(self, attn_mask, key_padding_mask, is_causal, N, L, S, dtype):
        """One additive mask broadcastable to ``(N, H, L, S)``, or None."""
        H = self.num_heads
        mask = None
        if attn_mask is not None:
            m = _as_additive(attn_mask if isinstance(attn_mask, Tensor) else asarray(attn_mask),
                             dtype)
            if m.shape == (L, S):
                m = m[None, None]
            elif m.shape == (N * H, L, S):
                m = m.reshape(N, H, L, S)
            else:
                raise ValueError(f"attn_mask of shape {m.shape} does not match (L, S) = "
                                 f"{(L, S)} or (N*num_heads, L, S) = {(N * H, L, S)}")
            mask = m
        elif is_causal:
            upper = FUNCS["triu"](FUNCS["ones"]((L, S), dtype=_dtypes.bool), k=1)
            mask = _as_additive(upper, dtype)[None, None]
        if key_padding_mask is not None:
            k = _as_additive(key_padding_mask if isinstance(key_padding_mask, Tensor)
                             else asarray(key_padding_mask), dtype)
            if k.shape != (N, S):
                raise ValueError(f"key_padding_mask of shape {k.shape} does not match (N, S) "
                                 f"= {(N, S)}")
            k = k[:, None, None, :]
            mask = k if mask is None else mask + k
        return mask

    def forward(self, query, key, value, key_padding_mask=None, need_weights: bool = True,
                attn_mask=None, average_attn_weights: bool = True, is_causal: bool = False):
        # self-attention with packed weights: one GEMM projects q, k and v together
        packed = query is key and key is value and self._qkv_same_embed_dim
        batched = query.ndim == 3
        if not batched:
            query, key, value = query[None], key[None], value[None]
            if key_padding_mask is not None:
                key_padding_mask = key_padding_mask[None]
        elif not self.batch_first:
            query, key, value = (t.transpose(0, 1) for t in (query, key, value))
        N, L, E = query.shape
        S = key.shape[1]
        H, hd = self.num_heads, self.head_dim
        if packed:
            qkv = F.linear(query, self.in_proj_weight, self.in_proj_bias)
            q, k, v = FUNCS["unstack"](qkv.reshape(N, L, 3, H, hd).permute(2, 0, 3, 1, 4))
        else:
            (wq, wk, wv), (bq, bk, bv) = self._projections()

            def heads(t, n):
                return t.reshape(N, n, H, hd).transpose(1, 2)

            q = heads(F.linear(query, wq, bq), L)
            k = heads(F.linear(key, wk, bk), S)
            v = heads(F.linear(value, wv, bv), S)
        mask = self._mask(attn_mask, key_padding_mask, is_causal, N, L, S, q.dtype)
        p = self.dropout if self.training else 0.0
        weights = None
        if need_weights:
            scores = (q * (1.0 / math.sqrt(hd))) @ k.transpose(-2, -1)
            if mask is not None:
                scores = scores + mask
            weights = F.softmax(scores, -1)
            if p > 0.0:
                weights = F.dropout(weights, p, True, key=next_rng_key(self))
            out = weights @ v
        else:
            out = F.scaled_dot_product_attention(
                q, k, v, mask, p, False, dropout_key=next_rng_key(self) if p > 0.0 else None)
        out = self.out_proj(out.transpose(1, 2).reshape(N, L, E))
        if weights is not None and average_attn_weights:
            weights = weights.mean(axis=1)
        if not batched:
            out = out[0]
            weights = weights[0] if weights is not None else None
        elif not self.batch_first:
            out = out.transpose(0, 1)
        return out, weights
