"""Recurrent layers ``RNN``, ``LSTM``, ``GRU`` with PyTorch's gate order and parameter names.

Parameters per layer ``k`` and direction (suffix ``""`` or ``"_reverse"``):
``weight_ih_l{k}`` ``(G*H, input)``, ``weight_hh_l{k}`` ``(G*H, H)``,
``bias_ih_l{k}``, ``bias_hh_l{k}`` with G = 1 (RNN), 4 (LSTM: i, f, g, o) or
3 (GRU: r, z, n). The time loop is unrolled in Python, so it runs unchanged in
eager mode and inside ``uf.function`` on every backend.
"""
from __future__ import annotations

import math
import warnings

from .._dispatch import FUNCS
from . import functional as F
from . import init
from ._utils import new_parameter
from .dropout import next_rng_key, register_rng_key
from .module import Module

__all__ = ["RNN", "LSTM", "GRU"]

_stack, _concat, _zeros = FUNCS["stack"], FUNCS["concat"], FUNCS["zeros"]


class _RNNBase(Module):
    _gates = 1
    _has_cell = False

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1,
                 bias: bool = True, batch_first: bool = False, dropout: float = 0.0,
                 bidirectional: bool = False, proj_size: int = 0, device=None, dtype=None):
        super().__init__()
        if not 0 <= dropout <= 1:
            raise ValueError("dropout should be a number in range [0, 1] representing the "
                             "probability of an element being zeroed")
        if hidden_size <= 0 or num_layers <= 0:
            raise ValueError("hidden_size and num_layers must be greater than zero")
        if proj_size:
            raise NotImplementedError(f"{type(self).__name__}(proj_size=...) is not supported")
        if dropout > 0 and num_layers == 1:
            warnings.warn("dropout option adds dropout after all but last recurrent layer, so "
                          f"non-zero dropout expects num_layers greater than 1, but got "
                          f"dropout={dropout} and num_layers={num_layers}", stacklevel=2)
        self.input_size, self.hidden_size, self.num_layers = input_size, hidden_size, num_layers
        self.bias, self.batch_first = bias, batch_first
        self.dropout, self.bidirectional = float(dropout), bidirectional
        self.proj_size = 0
        dirs = 2 if bidirectional else 1
        gh = self._gates * hidden_size
        for layer in range(num_layers):
            in_size = input_size if layer == 0 else hidden_size * dirs
            for d in range(dirs):
                sfx = f"_l{layer}" + ("_reverse" if d else "")
                setattr(self, "weight_ih" + sfx, new_parameter((gh, in_size), dtype, device))
                setattr(self, "weight_hh" + sfx, new_parameter((gh, hidden_size), dtype, device))
                if bias:
                    setattr(self, "bias_ih" + sfx, new_parameter((gh,), dtype, device))
                    setattr(self, "bias_hh" + sfx, new_parameter((gh,), dtype, device))
        self.reset_parameters()
        if self.dropout > 0 and num_layers > 1:
            register_rng_key(self)

    def reset_parameters(self) -> None:
        stdv = 1.0 / math.sqrt(self.hidden_size)
        for p in self.parameters():
            init.uniform_(p, -stdv, stdv)

    def _weights(self, layer: int, d: int):
        sfx = f"_l{layer}" + ("_reverse" if d else "")
        p = self._parameters
        return (p["weight_ih" + sfx], p["weight_hh" + sfx], p.get("bias_ih" + sfx),
                p.get("bias_hh" + sfx))

    def _cell(self, xw, state, w_hh, b_hh):
        raise NotImplementedError

    def _initial_state(self, hx, x, batched):
        dirs = 2 if self.bidirectional else 1
        shape = (self.num_layers * dirs, x.shape[1], self.hidden_size)
        if hx is None:
            z = _zeros(shape, dtype=x.dtype, device=x.device)
            return (z, z) if self._has_cell else (z,)
        states = tuple(hx) if self._has_cell else (hx,)
        expected = shape if batched else (shape[0], shape[2])
        out = []
        for s in states:
            if tuple(s.shape) != expected:
                raise ValueError(f"{type(self).__name__}: expected hidden state of shape "
                                 f"{expected}, got {tuple(s.shape)}")
            out.append(s if batched else s[:, None])
        return tuple(out)

    def forward(self, input, hx=None):
        batched = input.ndim == 3
        if input.ndim not in (2, 3):
            raise ValueError(f"{type(self).__name__}: expected a 2-D (unbatched) or 3-D input, "
                             f"got shape {input.shape}")
        x = input[:, None] if not batched else (input.transpose(0, 1) if self.batch_first
                                                else input)
        init_state = self._initial_state(hx, x, batched)
        dirs = 2 if self.bidirectional else 1
        steps = x.shape[0]
        finals = [[] for _ in init_state]
        for layer in range(self.num_layers):
            outs_by_dir = []
            for d in range(dirs):
                w_ih, w_hh, b_ih, b_hh = self._weights(layer, d)
                xw = F.linear(x, w_ih, b_ih)  # input projections of all steps at once
                state = tuple(s[layer * dirs + d] for s in init_state)
                outs = [None] * steps
                for t in (reversed(range(steps)) if d else range(steps)):
                    state = self._cell(xw[t], state, w_hh, b_hh)
                    outs[t] = state[0]
                outs_by_dir.append(_stack(outs, axis=0))
                for acc, s in zip(finals, state):
                    acc.append(s)
            x = outs_by_dir[0] if dirs == 1 else _concat(outs_by_dir, axis=-1)
            if self.dropout > 0 and self.training and layer < self.num_layers - 1:
                x = F.dropout(x, self.dropout, True, key=next_rng_key(self))
        finals = [_stack(acc, axis=0) for acc in finals]
        if not batched:
            x = x[:, 0]
            finals = [s[:, 0] for s in finals]
        elif self.batch_first:
            x = x.transpose(0, 1)
        return x, (tuple(finals) if self._has_cell else finals[0])

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if self.num_layers != 1:
            s += f", num_layers={self.num_layers}"
        if not self.bias:
            s += ", bias=False"
        if self.batch_first:
            s += ", batch_first=True"
        if self.dropout:
            s += f", dropout={self.dropout}"
        if self.bidirectional:
            s += ", bidirectional=True"
        return s


class RNN(_RNNBase):
    """Elman RNN: ``h' = tanh(x W_ih^T + b_ih + h W_hh^T + b_hh)`` (or relu).
    ``forward(input, h0=None) -> (output, h_n)``."""

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1,
                 nonlinearity: str = "tanh", bias: bool = True, batch_first: bool = False,
                 dropout: float = 0.0, bidirectional: bool = False, device=None, dtype=None):
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"Unknown nonlinearity '{nonlinearity}'. Select from 'tanh' or "
                             "'relu'.")
        super().__init__(input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional, device=device, dtype=dtype)
        self.nonlinearity = nonlinearity

    def _cell(self, xw, state, w_hh, b_hh):
        pre = xw + F.linear(state[0], w_hh, b_hh)
        return (F.tanh(pre) if self.nonlinearity == "tanh" else F.relu(pre),)

    def extra_repr(self) -> str:
        s = super().extra_repr()
        return s + (f", nonlinearity={self.nonlinearity}" if self.nonlinearity != "tanh" else "")


class LSTM(_RNNBase):
    """Long short-term memory, gates ``i, f, g, o`` in PyTorch's order.
    ``forward(input, (h0, c0)=None) -> (output, (h_n, c_n))``."""

    _gates = 4
    _has_cell = True

    def _cell(self, xw, state, w_hh, b_hh):
        h, c = state
        H = self.hidden_size
        g = xw + F.linear(h, w_hh, b_hh)
        i = F.sigmoid(g[:, :H])
        f = F.sigmoid(g[:, H:2 * H])
        cand = F.tanh(g[:, 2 * H:3 * H])
        o = F.sigmoid(g[:, 3 * H:])
        c = f * c + i * cand
        return o * F.tanh(c), c


class GRU(_RNNBase):
    """Gated recurrent unit, gates ``r, z, n`` in PyTorch's order:
    ``n = tanh(x W_in + b_in + r * (h W_hn + b_hn))``, ``h' = (1 - z) * n + z * h``.
    ``forward(input, h0=None) -> (output, h_n)``."""

    _gates = 3

    def _cell(self, xw, state, w_hh, b_hh):
        h = state[0]
        H = self.hidden_size
        gh = F.linear(h, w_hh, b_hh)
        r = F.sigmoid(xw[:, :H] + gh[:, :H])
        z = F.sigmoid(xw[:, H:2 * H] + gh[:, H:2 * H])
        n = F.tanh(xw[:, 2 * H:] + r * gh[:, 2 * H:])
        return ((1 - z) * n + z * h,)
