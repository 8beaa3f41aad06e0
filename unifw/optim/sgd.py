"""Stochastic gradient descent with momentum (PyTorch's ``torch.optim.SGD`` rule)."""
from __future__ import annotations

from .optimizer import Optimizer, _check, cast_like


class SGD(Optimizer):
    """SGD with optional (Nesterov) momentum, dampening, weight decay and maximisation.

    With ``g`` the gradient (negated if ``maximize``), each step does::

        g = g + weight_decay * p
        b = g                      (first step)
        b = momentum * b + (1 - dampening) * g
        g = g + momentum * b  if nesterov  else  b
        p = p - lr * g
    """

    def __init__(self, params, lr=1e-3, momentum=0.0, dampening=0.0, weight_decay=0.0,
                 nesterov=False, *, maximize=False):
        _check(momentum >= 0.0, f"invalid momentum {momentum!r}")
        _check(weight_decay >= 0.0, f"invalid weight_decay {weight_decay!r}")
        _check(not nesterov or (momentum > 0 and dampening == 0),
               "Nesterov momentum requires a momentum and zero dampening")
        super().__init__(params, dict(lr=lr, momentum=momentum, dampening=dampening,
                                      weight_decay=weight_decay, nesterov=nesterov,
                                      maximize=maximize))

    def _slots(self, options):
        if not options["momentum"]:
            return ()
        # the first step sets b = g; with dampening that differs from (1 - d) * g
        return ("momentum_buffer", "step") if options["dampening"] else ("momentum_buffer",)

    def _update(self, p, g, s, h, t):
        if h["maximize"]:
            g = -g
        lr = cast_like(p, h["lr"])
        if h["weight_decay"]:
            g = g + h["weight_decay"] * p
        mu = h["momentum"]
        if not mu:
            return p - lr * g, {}
        damp = h["dampening"]
        if t is None:
            coef = 1.0
        elif isinstance(t, (int, float)):
            coef = 1.0 - damp if t > 1 else 1.0
        else:
            coef = cast_like(p, 1.0 - damp * (t > 1).astype(t.dtype))
        buf = s["momentum_buffer"] * mu + coef * g
        g = g + mu * buf if h["nesterov"] else buf
        return p - lr * g, {"momentum_buffer": buf}
