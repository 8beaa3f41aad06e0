"""Convolutions: ``Conv1d``, ``Conv2d``, ``ConvTranspose2d`` (channels-first, PyTorch layout)."""
from __future__ import annotations

import math

from . import functional as F
from . import init
from ._utils import new_parameter, pair, single
from .module import Module

__all__ = ["Conv1d", "Conv2d", "ConvTranspose2d"]

_PADDING_MODES = ("zeros", "reflect", "replicate", "circular")


class _ConvNd(Module):
    _nd = 0
    _tuple = staticmethod(pair)
    _transposed = False

    def __init__(self, in_channels, out_channels, kernel_size, stride, padding, dilation,
                 groups, bias, padding_mode, output_padding, device, dtype):
        super().__init__()
        if groups <= 0:
            raise ValueError("groups must be a positive integer")
        if in_channels % groups:
            raise ValueError("in_channels must be divisible by groups")
        if out_channels % groups:
            raise ValueError("out_channels must be divisible by groups")
        if padding_mode not in _PADDING_MODES:
            raise ValueError(f"padding_mode must be one of {_PADDING_MODES}, got {padding_mode!r}")
        nt = self._tuple
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size, self.stride = nt(kernel_size), nt(stride)
        self.dilation, self.output_padding = nt(dilation), nt(output_padding)
        self.groups, self.padding_mode = groups, padding_mode
        if isinstance(padding, str):
            if padding not in ("same", "valid"):
                raise ValueError(f"Invalid padding string {padding!r}, should be one of "
                                 "{'valid', 'same'}")
            if padding == "same" and any(s != 1 for s in self.stride):
                raise ValueError("padding='same' is not supported for strided convolutions")
            self.padding = padding
        else:
            self.padding = nt(padding)
        self._pad_lr = self._explicit_padding()
        if self._transposed:
            shape = (in_channels, out_channels // groups, *self.kernel_size)
        else:
            shape = (out_channels, in_channels // groups, *self.kernel_size)
        self.weight = new_parameter(shape, dtype, device)
        if bias:
            self.bias = new_parameter((out_channels,), dtype, device)
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def _explicit_padding(self):
        """``(left, right)`` padding per spatial dimension."""
        if self.padding == "valid":
            return [(0, 0)] * self._nd
        if self.padding == "same":
            out = []
            for d, k in zip(self.dilation, self.kernel_size):
                total = d * (k - 1)
                out.append((total // 2, total - total // 2))
            return out
        return [(p, p) for p in self.padding]

    def reset_parameters(self) -> None:
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in, _ = init._calculate_fan_in_and_fan_out(self.weight)
            if fan_in != 0:
                bound = 1 / math.sqrt(fan_in)
                init.uniform_(self.bias, -bound, bound)

    def _conv_input(self, x):
        """Pads ``x`` explicitly where the conv op's symmetric zero padding cannot;
        returns ``(x, padding for the op)``."""
        symmetric = all(lo == hi for lo, hi in self._pad_lr)
        if self.padding_mode == "zeros" and symmetric:
            return x, tuple(lo for lo, _ in self._pad_lr)
        flat = []
        for lo, hi in reversed(self._pad_lr):
            flat += [lo, hi]
        mode = "constant" if self.padding_mode == "zeros" else self.padding_mode
        return F.pad(x, tuple(flat), mode=mode), (0,) * self._nd

    def _batched(self, x, fn):
        if x.ndim == self._nd + 1:  # unbatched input, as PyTorch accepts
            return fn(x[None])[0]
        if x.ndim != self._nd + 2:
            raise ValueError(f"{type(self).__name__}: expected a {self._nd + 1}-D (unbatched) "
                             f"or {self._nd + 2}-D (batched) input, got shape {x.shape}")
        return fn(x)

    def extra_repr(self) -> str:
        s = (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
             f"stride={self.stride}")
        if self.padding != (0,) * self._nd:
            s += f", padding={self.padding}"
        if self.dilation != (1,) * self._nd:
            s += f", dilation={self.dilation}"
        if self.output_padding != (0,) * self._nd:
            s += f", output_padding={self.output_padding}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias is None:
            s += ", bias=False"
        if self.padding_mode != "zeros":
            s += f", padding_mode={self.padding_mode}"
        return s


class Conv1d(_ConvNd):
    """1-D convolution over ``(N, C_in, L)``; ``weight`` is ``(out, in/groups, k)``."""

    _nd = 1
    _tuple = staticmethod(single)

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0,
                 dilation=1, groups: int = 1, bias: bool = True, padding_mode: str = "zeros",
                 device=None, dtype=None):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation,
                         groups, bias, padding_mode, 0, device, dtype)

    def forward(self, x):
        def conv(x):
            x, pad = self._conv_input(x)
            return F.conv1d(x, self.weight, self.bias, self.stride, pad, self.dilation,
                            self.groups)

        return self._batched(x, conv)


class Conv2d(_ConvNd):
    """2-D convolution over ``(N, C_in, H, W)``; ``weight`` is ``(out, in/groups, kh, kw)``.

    ``padding`` is an int, a pair, ``"valid"`` or ``"same"``; ``padding_mode`` is
    ``"zeros"``, ``"reflect"``, ``"replicate"`` or ``"circular"``.
    """

    _nd = 2

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0,
                 dilation=1, groups: int = 1, bias: bool = True, padding_mode: str = "zeros",
                 device=None, dtype=None):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation,
                         groups, bias, padding_mode, 0, device, dtype)

    def forward(self, x):
        def conv(x):
            x, pad = self._conv_input(x)
            return F.conv2d(x, self.weight, self.bias, self.stride, pad, self.dilation,
                            self.groups)

        return self._batched(x, conv)


class ConvTranspose2d(_ConvNd):
    """Transposed 2-D convolution; ``weight`` is ``(in, out/groups, kh, kw)`` (PyTorch's).

    ``forward(x, output_size=None)``: ``output_size`` picks the output padding that
    gives that spatial size, as in PyTorch.
    """

    _nd = 2
    _transposed = True

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0,
                 output_padding=0, groups: int = 1, bias: bool = True, dilation=1,
                 padding_mode: str = "zeros", device=None, dtype=None):
        if padding_mode != "zeros":
            raise ValueError(f"Only 'zeros' padding mode is supported for {type(self).__name__}")
        if isinstance(padding, str):
            raise ValueError("ConvTranspose2d does not accept string padding")
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation,
                         groups, bias, padding_mode, output_padding, device, dtype)

    def _output_padding(self, x, output_size):
        if output_size is None:
            return self.output_padding
        size = tuple(output_size)
        if len(size) == x.ndim:
            size = size[x.ndim - 2:]
        if len(size) != 2:
            raise ValueError(f"output_size must have 2 or {x.ndim} elements (got {len(size)})")
        out = []
        for d in range(2):
            lo = ((x.shape[x.ndim - 2 + d] - 1) * self.stride[d] - 2 * self.padding[d]
                  + self.dilation[d] * (self.kernel_size[d] - 1) + 1)
            hi = lo + self.stride[d] - 1
            if not lo <= size[d] <= hi:
                raise ValueError(f"requested an output size of {tuple(output_size)}, but valid "
                                 f"sizes range from ({lo}) to ({hi}) in dimension {d}")
            out.append(size[d] - lo)
        return tuple(out)

    def forward(self, x, output_size=None):
        output_padding = self._output_padding(x, output_size)

        def conv(x):
            return F.conv_transpose2d(x, self.weight, self.bias, self.stride, self.padding,
                                      output_padding, self.groups, self.dilation)

        return self._batched(x, conv)
