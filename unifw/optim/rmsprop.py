"""RMSprop (PyTorch's ``torch.optim.RMSprop`` rule)."""
from __future__ import annotations

from .. import sqrt
from .optimizer import Optimizer, _check, cast_like


class RMSprop(Optimizer):
    """RMSprop (Hinton), optionally centered and with momentum::

        g = g + weight_decay * p
        v = alpha * v + (1 - alpha) * g**2
        a = alpha * a + (1 - alpha) * g ;  denom = sqrt(v - a**2) + eps   (centered)
        denom = sqrt(v) + eps                                               (otherwise)
        b = momentum * b + g / denom ;  p = p - lr * b                      (momentum > 0)
        p = p - lr * g / denom                                              (otherwise)
    """

    def __init__(self, params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.0,
                 centered=False, *, maximize=False):
        _check(alpha >= 0.0, f"invalid alpha {alpha!r}")
        _check(eps >= 0.0, f"invalid epsilon {eps!r}")
        _check(momentum >= 0.0, f"invalid momentum {momentum!r}")
        _check(weight_decay >= 0.0, f"invalid weight_decay {weight_decay!r}")
        super().__init__(params, dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay,
                                      momentum=momentum, centered=centered, maximize=maximize))

    def _slots(self, options):
        names = ("square_avg",)
        if options["momentum"] > 0:
            names += ("momentum_buffer",)
        if options["centered"]:
            names += ("grad_avg",)
        return names

    def _update(self, p, g, s, h, t):
        if h["maximize"]:
            g = -g
        lr = cast_like(p, h["lr"])
        if h["weight_decay"]:
            g = g + h["weight_decay"] * p
        alpha = h["alpha"]
        v = s["square_avg"] * alpha + (1.0 - alpha) * (g * g)
        new = {"square_avg": v}
        if h["centered"]:
            a = s["grad_avg"]
            a = a + (g - a) * (1.0 - alpha)
            new["grad_avg"] = a
            denom = sqrt(v - a * a) + h["eps"]
        else:
            denom = sqrt(v) + h["eps"]
        if h["momentum"] > 0:
            buf = s["momentum_buffer"] * h["momentum"] + g / denom
            new["momentum_buffer"] = buf
            return p - lr * buf, new
        return p - lr * (g / denom), new
