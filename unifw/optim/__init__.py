"""Optimizers, learning-rate schedules, gradient clipping and parameter averaging.

``opt = optim.Adam(model.parameters(), lr=1e-3)`` then ``opt.step(grads)`` with the
gradients from ``uf.value_and_grad(...)(model)``: no ``zero_grad``, no ``.grad``
fields. Update rules and defaults are PyTorch's; schedules match
``torch.optim.lr_scheduler`` (also importable as ``unifw.optim.lr_scheduler``).
"""
import sys as _sys

from . import fused, schedules
from .adagrad import Adagrad
from .adam import Adam, AdamW
from .clip import clip_grad_norm, clip_grad_value
from .ema import EMA
from .optimizer import Optimizer, ParamGroup
from .rmsprop import RMSprop
from .schedules import (CosineAnnealingLR, CosineAnnealingWarmRestarts, ExponentialLR,
                        LinearLR, LinearWarmup, LRSchedule, MultiStepLR, OneCycleLR,
                        SequentialLR, StepLR, warmup_cosine)
from .sgd import SGD

lr_scheduler = schedules
_sys.modules[__name__ + ".lr_scheduler"] = schedules

__all__ = ["Optimizer", "ParamGroup", "SGD", "Adagrad", "RMSprop", "Adam", "AdamW", "EMA",
           "clip_grad_norm", "clip_grad_value", "lr_scheduler", "schedules", "fused",
           "LRSchedule", "StepLR", "MultiStepLR", "ExponentialLR", "CosineAnnealingLR",
           "CosineAnnealingWarmRestarts", "LinearLR", "LinearWarmup", "OneCycleLR",
           "SequentialLR", "warmup_cosine"]
