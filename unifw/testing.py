"""Testing helpers: check derivatives against central finite differences.

:func:`check_grads` is unifw's ``jax.test_util.check_grads`` /
``torch.autograd.gradcheck``: it compares forward mode (``uf.jvp``) and
reverse mode (``uf.vjp``) with numerical directional derivatives along random
directions, and, for ``order=2``, does the same for the derivative functions
themselves (so second derivatives are checked). Use float64 inputs.
"""
from __future__ import annotations

import numpy as np

from ._tensor import Tensor
from .autodiff import jvp, vjp
from .tree import tree_flatten, tree_unflatten

__all__ = ["check_grads", "numerical_jvp"]


def _as_np(t):
    return np.asarray(t.numpy(), dtype=np.complex128 if np.iscomplexobj(t.numpy()) else
                      np.float64)


def _random_like(rng, leaves):
    out = []
    for x in leaves:
        a = rng.standard_normal(x.shape)
        out.append(_tensor_like(x, a))
    return out


def _tensor_like(x: Tensor, a):
    from ._registry import use_backend
    from ._creation import asarray

    with use_backend(x.backend_name):
        return asarray(np.asarray(a, dtype=x.numpy().dtype), device=x.device)


def _axpy(xs, ts, h):
    return [x + h * t for x, t in zip(xs, ts)]


def numerical_jvp(f, args, tangents, eps=1e-6):
    """Central difference ``(f(x + eps t) - f(x - eps t)) / (2 eps)``, as NumPy leaves."""
    plus = tree_flatten(f(*_axpy(args, tangents, eps)))[0]
    minus = tree_flatten(f(*_axpy(args, tangents, -eps)))[0]
    return [(_as_np(p) - _as_np(m)) / (2 * eps) for p, m in zip(plus, minus)]


def _inner(a_leaves, b_leaves):
    return sum(float(np.real(np.vdot(np.asarray(a), np.asarray(b))))
               for a, b in zip(a_leaves, b_leaves))


def _close(what, got, want, atol, rtol):
    for i, (g, w) in enumerate(zip(got, want)):
        g, w = np.asarray(g), np.asarray(w)
        if g.shape != w.shape or not np.allclose(g, w, atol=atol, rtol=rtol, equal_nan=False):
            err = np.max(np.abs(g - w)) if g.shape == w.shape else "shape mismatch"
            raise AssertionError(f"{what}: output {i} differs from finite differences "
                                 f"(max abs error {err}, atol={atol}, rtol={rtol})\n"
                                 f"analytic:\n{g}\nnumerical:\n{w}")


def check_grads(f, args, order=2, modes=("fwd", "rev"), eps=1e-6, atol=1e-5, rtol=1e-4,
                seed=0):
    """Check ``f``'s derivatives at ``args`` (a tuple of float tensors) up to ``order``.

    ``f`` returns a tensor or a tree of float tensors. ``modes``: ``"fwd"``
    compares ``uf.jvp`` with the finite difference along a random tangent;
    ``"rev"`` checks ``<vjp(u), t> == <u, J t>`` for a random cotangent ``u``.
    ``order=2`` checks forward mode of ``x -> jvp(f, x, t)[1]`` (forward over
    forward) and reverse mode of ``x -> vjp(f, x)(u)`` (reverse over reverse, what
    Hessian-vector products and gradient penalties use). Raises AssertionError
    with the discrepancy.
    """
    args = tuple(args)
    rng = np.random.default_rng(seed)
    tangents = _random_like(rng, args)
    num = numerical_jvp(f, args, tangents, eps)
    if "fwd" in modes:
        _, t_out = jvp(f, args, tangents)
        _close("jvp", [_as_np(t) for t in tree_flatten(t_out)[0]], num, atol, rtol)
    out = f(*args)
    out_leaves, out_def = tree_flatten(out)
    cot = _random_like(rng, out_leaves)
    if "rev" in modes:
        _, pullback = vjp(f, *args)
        grads = pullback(tree_unflatten(out_def, cot))
        lhs = _inner([_as_np(g) for g in grads], [_as_np(t) for t in tangents])
        rhs = _inner([_as_np(c) for c in cot], num)
        _close("vjp", [lhs], [rhs], atol * max(1, len(num)), rtol)
    if order > 1:
        if "fwd" in modes:
            check_grads(lambda *x: jvp(f, x, tangents)[1], args, order - 1, ("fwd",), eps,
                        atol, rtol, seed + 1)
        if "rev" in modes:
            def pulled(*x):
                return vjp(f, *x)[1](tree_unflatten(out_def, cot))

            check_grads(pulled, args, order - 1, ("rev",), eps, atol, rtol, seed + 2)
