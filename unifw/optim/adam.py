"""Adam and AdamW (PyTorch's ``torch.optim.Adam`` / ``torch.optim.AdamW`` rules)."""
from __future__ import annotations

import math

from .. import exp, maximum, sqrt
from .._tensor import Tensor
from .optimizer import Optimizer, _check, cast_like


def _power(beta: float, t):
    """``beta ** t`` for a Python step number or a traced float64 step.

    Traced, it is written ``exp(t * ln(beta))``: the same value to float64 rounding,
    but a form the compilers hoist out of the per-element loop. TorchInductor
    recomputes ``pow(beta, t)`` for every vector of the parameter (6x slower for a
    1M-element Adam update on CPU), while the ``exp`` form costs nothing.
    """
    if not isinstance(t, Tensor):
        return beta ** t
    if beta == 0.0:
        return 0.0  # t >= 1 always
    return exp(t * math.log(beta))


class Adam(Optimizer):
    """Adam (Kingma & Ba), optionally AMSGrad, with L2 ``weight_decay`` added to the gradient.

    With ``g`` the gradient (negated if ``maximize``) and ``t`` the step number::

        g = g + weight_decay * p
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g**2
        v_max = max(v_max, v)                       (amsgrad)
        p = p - lr / (1 - beta1**t) * m / (sqrt(v or v_max) / sqrt(1 - beta2**t) + eps)
    """

    _decoupled = False

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0,
                 amsgrad=False, *, maximize=False):
        _check(eps >= 0.0, f"invalid epsilon {eps!r}")
        _check(0.0 <= betas[0] < 1.0 and 0.0 <= betas[1] < 1.0, f"invalid betas {betas!r}")
        _check(weight_decay >= 0.0, f"invalid weight_decay {weight_decay!r}")
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps,
                                      weight_decay=weight_decay, amsgrad=amsgrad,
                                      maximize=maximize))

    def _slots(self, options):
        base = ("step", "exp_avg", "exp_avg_sq")
        return base + ("max_exp_avg_sq",) if options["amsgrad"] else base

    def _update(self, p, g, s, h, t):
        if h["maximize"]:
            g = -g
        beta1, beta2 = h["betas"]
        lr, wd = h["lr"], h["weight_decay"]
        if wd and self._decoupled:
            p = p * cast_like(p, 1.0 - lr * wd)
        elif wd:
            g = g + wd * p
        m = s["exp_avg"]
        m = m + (g - m) * (1.0 - beta1)
        v = s["exp_avg_sq"] * beta2 + (1.0 - beta2) * (g * g)
        new = {"exp_avg": m, "exp_avg_sq": v}
        step_size, bc2_sqrt = cast_like(p, lr / (1.0 - _power(beta1, t)),
                                        (1.0 - _power(beta2, t)) ** 0.5)
        if h["amsgrad"]:
            v = maximum(s["max_exp_avg_sq"], v)
            new["max_exp_avg_sq"] = v
        denom = sqrt(v) / bc2_sqrt + h["eps"]
        return p - step_size * (m / denom), new


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter): ``p *= 1 - lr * weight_decay``
    before the Adam step, instead of adding ``weight_decay * p`` to the gradient."""

    _decoupled = True

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2,
                 amsgrad=False, *, maximize=False):
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                         amsgrad=amsgrad, maximize=maximize)
