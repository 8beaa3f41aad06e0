"""``BatchNorm1d``, ``BatchNorm2d``, ``LayerNorm`` and ``GroupNorm`` (PyTorch semantics and
state names)."""
from __future__ import annotations

import numbers

from .. import _dtypes
from .._dispatch import FUNCS
from . import functional as F
from . import init
from ._utils import current, factory_dtype, new_parameter
from .module import Module

__all__ = ["BatchNorm1d", "BatchNorm2d", "LayerNorm", "GroupNorm"]

_mean, _var = FUNCS["mean"], FUNCS["var"]


class _BatchNorm(Module):
    _valid_ndims: tuple = ()

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1,
                 affine: bool = True, track_running_stats: bool = True, device=None,
                 dtype=None, *, bias: bool = True):
        super().__init__()
        self.num_features = num_features
        self.eps, self.momentum = eps, momentum
        self.affine, self.track_running_stats = affine, track_running_stats
        if affine:
            self.weight = new_parameter((num_features,), dtype, device)
            if bias:
                self.bias = new_parameter((num_features,), dtype, device)
            else:
                self.register_parameter("bias", None)
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)
        if track_running_stats:
            dt = factory_dtype(dtype)
            self.register_buffer("running_mean", FUNCS["zeros"]((num_features,), dtype=dt,
                                                                device=device))
            self.register_buffer("running_var", FUNCS["ones"]((num_features,), dtype=dt,
                                                              device=device))
            self.register_buffer("num_batches_tracked",
                                 FUNCS["zeros"]((), dtype=_dtypes.int64, device=device))
        else:
            for name in ("running_mean", "running_var", "num_batches_tracked"):
                self.register_buffer(name, None)
        self.reset_parameters()

    def reset_running_stats(self) -> None:
        if self.track_running_stats:
            init.zeros_(self.running_mean)
            init.ones_(self.running_var)
            self.num_batches_tracked.assign(FUNCS["zeros_like"](self.num_batches_tracked))

    def reset_parameters(self) -> None:
        self.reset_running_stats()
        if self.affine:
            init.ones_(self.weight)
            if self.bias is not None:
                init.zeros_(self.bias)

    def _check_input_dim(self, x):
        if x.ndim not in self._valid_ndims:
            raise ValueError(f"{type(self).__name__}: expected "
                             f"{' or '.join(f'{d}D' for d in self._valid_ndims)} input "
                             f"(got {x.ndim}D input)")

    def forward(self, x):
        self._check_input_dim(x)
        use_batch_stats = self.training or not self.track_running_stats
        if self.training and self.track_running_stats:
            self._update_running_stats(x)
        if self.track_running_stats:
            rm, rv = self.running_mean, self.running_var
        else:
            rm = FUNCS["zeros"]((self.num_features,), dtype=x.dtype, device=x.device)
            rv = FUNCS["ones"]((self.num_features,), dtype=x.dtype, device=x.device)
        return F.batch_norm(x, rm, rv, self.weight, self.bias, use_batch_stats,
                            0.0 if self.momentum is None else self.momentum, self.eps)

    def _update_running_stats(self, x):
        """running = (1 - m) * running + m * batch statistic (unbiased variance), where
        m is ``momentum``, or 1/num_batches_tracked when ``momentum`` is None."""
        axes = (0,) + tuple(range(2, x.ndim))
        n = x.size // x.shape[1]
        if n <= 1:
            raise ValueError(f"Expected more than 1 value per channel when training, got input "
                             f"size {x.shape}")
        tracked = current(self.num_batches_tracked) + 1
        self.num_batches_tracked.assign(tracked)
        if self.momentum is None:
            m = 1.0 / tracked.astype(self.running_mean.dtype)
        else:
            m = self.momentum
        for buf, stat in ((self.running_mean, _mean(x, axis=axes)),
                          (self.running_var, _var(x, axis=axes, correction=1))):
            stat = stat.astype(buf.dtype) if stat.dtype is not buf.dtype else stat
            buf.assign(current(buf) * (1 - m) + stat * m)

    def extra_repr(self) -> str:
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, "
                f"affine={self.affine}, bias={self.bias is not None}, "
                f"track_running_stats={self.track_running_stats}")


class BatchNorm1d(_BatchNorm):
    """Batch normalisation over ``(N, C)`` or ``(N, C, L)`` inputs.

    In training the output uses the batch statistics and the running
    statistics are updated (unbiased variance, ``momentum``); in eval the
    running statistics are used. Inside ``uf.function`` the buffers are carried
    in and written back like any module state.
    """

    _valid_ndims = (2, 3)


class BatchNorm2d(_BatchNorm):
    """Batch normalisation over ``(N, C, H, W)`` inputs (see :class:`BatchNorm1d`)."""

    _valid_ndims = (4,)


class LayerNorm(Module):
    """Normalises over the trailing ``normalized_shape`` dimensions, then applies
    the elementwise affine ``weight`` (ones) and ``bias`` (zeros)."""

    def __init__(self, normalized_shape, eps: float = 1e-5, elementwise_affine: bool = True,
                 bias: bool = True, device=None, dtype=None):
        super().__init__()
        if isinstance(normalized_shape, numbers.Integral):
            normalized_shape = (normalized_shape,)
        self.normalized_shape = tuple(int(d) for d in normalized_shape)
        self.eps = eps
        self.elementwise_affine = elementwise_affine
        _affine_parameters(self, self.normalized_shape, elementwise_affine, bias, dtype, device)

    def reset_parameters(self) -> None:
        _reset_affine(self)

    def forward(self, x):
        return F.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return (f"{self.normalized_shape}, eps={self.eps}, "
                f"elementwise_affine={self.elementwise_affine}, bias={self.bias is not None}")


class GroupNorm(Module):
    """Group normalisation of ``(N, C, *)`` inputs: the ``num_channels`` channels are split
    in ``num_groups`` groups, each normalised over its channels and spatial positions, then
    the per-channel affine ``weight`` (ones) and ``bias`` (zeros) is applied."""

    def __init__(self, num_groups: int, num_channels: int, eps: float = 1e-5,
                 affine: bool = True, device=None, dtype=None, *, bias: bool = True):
        super().__init__()
        if num_channels % num_groups != 0:
            raise ValueError(f"num_channels ({num_channels}) must be divisible by num_groups "
                             f"({num_groups})")
        self.num_groups, self.num_channels = num_groups, num_channels
        self.eps, self.affine = eps, affine
        _affine_parameters(self, (num_channels,), affine, bias, dtype, device)

    def reset_parameters(self) -> None:
        _reset_affine(self)

    def forward(self, x):
        if x.ndim < 2 or x.shape[1] != self.num_channels:
            raise ValueError(f"GroupNorm: expected an input of shape (N, {self.num_channels}, "
                             f"*), got {tuple(x.shape)}")
        return F.group_norm(x, self.num_groups, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return (f"{self.num_groups}, {self.num_channels}, eps={self.eps}, affine={self.affine}, "
                f"bias={self.bias is not None}")


def _affine_parameters(module, shape, affine, bias, dtype, device):
    """The elementwise ``weight`` (ones) and ``bias`` (zeros) of a normalisation layer, or
    None parameters (registered, as PyTorch does, so the state_dict keys match)."""
    for name, wanted in (("weight", affine), ("bias", affine and bias)):
        if wanted:
            setattr(module, name, new_parameter(shape, dtype, device))
        else:
            module.register_parameter(name, None)
    _reset_affine(module)


def _reset_affine(module):
    if module.weight is not None:
        init.ones_(module.weight)
    if module.bias is not None:
        init.zeros_(module.bias)
