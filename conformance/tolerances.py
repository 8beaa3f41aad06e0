"""The one tolerance table, per dtype (how it was chosen: docs/conformance.md).

A result ``a`` matches the float64 reference ``r`` where
``|a - r| <= atol + rtol * (|r| + sqrt(n) * s)``: ``n`` is the number of terms an
output element accumulates (1 for elementwise ops) and ``s`` the magnitude of
those terms (the op applied to ``|inputs|``); rounding error in a sum grows with
both, not with the possibly cancelled result.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Tol:
    rtol: float
    atol: float

    def scaled(self, factor: float) -> "Tol":
        return Tol(self.rtol * factor, self.atol * factor)


# roughly 50-100 units in the last place: far below what a real bug produces,
# above the few-ulp differences between libm, XLA, Eigen and MKL kernels
VALUES = {
    "float16": Tol(1e-2, 1e-2),
    "bfloat16": Tol(6e-2, 6e-2),
    "float32": Tol(1e-5, 1e-5),
    "float64": Tol(1e-11, 1e-11),
    "complex64": Tol(1e-5, 1e-5),
    "complex128": Tol(1e-11, 1e-11),
}
EXACT = Tol(0.0, 0.0)  # bool and integer results

# analytic float64 derivatives vs central finite differences (step FD_STEP):
# truncation ~ step**2 * f''' and cancellation ~ 1e-16 / step
FD_STEP = 1e-6
GRAD_FD = Tol(1e-5, 1e-6)
# analytic lower-precision gradients vs float64 finite differences: the value
# tolerance times this factor (a backward pass rounds several times)
GRAD_LOW_PRECISION_FACTOR = 10.0


def for_dtype(dtype: str) -> Tol:
    return VALUES.get(dtype, EXACT)


def growth(n: int) -> float:
    """Error growth of an ``n``-term accumulation (random-walk rounding model)."""
    return float(np.sqrt(max(int(n), 1)))
