"""Adagrad (PyTorch's ``torch.optim.Adagrad`` rule)."""
from __future__ import annotations

from .. import full_like, sqrt
from .optimizer import Optimizer, _check, cast_like


class Adagrad(Optimizer):
    """Adagrad (Duchi et al.): per-coordinate steps scaled by the root of summed squares::

        g = g + weight_decay * p
        clr = lr / (1 + (t - 1) * lr_decay)
        sum = sum + g**2
        p = p - clr * g / (sqrt(sum) + eps)
    """

    def __init__(self, params, lr=1e-2, lr_decay=0.0, weight_decay=0.0,
                 initial_accumulator_value=0.0, eps=1e-10, *, maximize=False):
        _check(lr_decay >= 0.0, f"invalid lr_decay {lr_decay!r}")
        _check(weight_decay >= 0.0, f"invalid weight_decay {weight_decay!r}")
        _check(initial_accumulator_value >= 0.0,
               f"invalid initial_accumulator_value {initial_accumulator_value!r}")
        _check(eps >= 0.0, f"invalid epsilon {eps!r}")
        super().__init__(params, dict(lr=lr, lr_decay=lr_decay, weight_decay=weight_decay,
                                      initial_accumulator_value=initial_accumulator_value,
                                      eps=eps, maximize=maximize))

    def _slots(self, options):
        return ("step", "sum")

    def _slot_init(self, name, p, options):
        return full_like(p, options["initial_accumulator_value"])

    def _update(self, p, g, s, h, t):
        if h["maximize"]:
            g = -g
        if h["weight_decay"]:
            g = g + h["weight_decay"] * p
        clr = cast_like(p, h["lr"] / (1.0 + (t - 1.0) * h["lr_decay"]))
        total = s["sum"] + g * g
        return p - clr * (g / (sqrt(total) + h["eps"])), {"sum": total}
