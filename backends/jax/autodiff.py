"""Autodiff primitives of the JAX backend: ``jax.vjp``, ``jax.jvp``, ``jax.custom_vjp``.

Functions are pure here: the facade lifts variables in as explicit inputs
(``unifw.variable.trace_state.substitute``) and carries assignments out as
auxiliary outputs, so no tracer is ever stored in a variable.
"""
import contextlib

import jax


def vjp(fn, primals, *, reuse=True):
    """Run ``fn(*handles) -> (outs, rest)``; return ``(outs, rest, pullback)``."""
    outs, vjp_fn, rest = jax.vjp(fn, *primals, has_aux=True)

    def pullback(cts):  # a None cotangent means ones
        return list(vjp_fn([jax.numpy.ones_like(o) if c is None else c
                            for o, c in zip(outs, cts)]))

    return outs, rest, pullback


_forward = [0]  # > 0 while jvp traces: custom_vjp functions then take their JVP form


def jvp(fn, primals, tangents):
    """``(outs, rest, tangent_outs)`` of ``fn(*primals) -> (outs, rest)``."""
    _forward[0] += 1
    try:
        outs, touts, rest = jax.jvp(fn, tuple(primals), tuple(tangents), has_aux=True)
    finally:
        _forward[0] -= 1
    return outs, rest, touts


def stop_gradient(x):
    return jax.lax.stop_gradient(x)


def no_grad():
    """Nothing to pause: JAX records nothing outside a transform. Inside one, the facade
    cuts the gradient of every op result computed in the block (``stop_gradient_ops``)."""
    return contextlib.nullcontext()


def custom_vjp(fn, fwd, bwd):
    """``jax.custom_vjp`` over flat lists of arrays (``None`` cotangents become zeros)."""

    @jax.custom_vjp
    def f(*xs):
        return fn(*xs)

    avals = []  # shapes and dtypes of the inputs, for zero cotangents

    def f_fwd(*xs):
        avals[:] = [(x.shape, x.dtype) for x in xs]
        return fwd(*xs)

    def f_bwd(res, cts):
        gs = bwd(list(res), list(cts))
        return tuple(jax.numpy.zeros(s, d) if g is None else g for g, (s, d) in zip(gs, avals))

    f.defvjp(f_fwd, f_bwd)

    # JAX refuses forward mode through a custom_vjp function. Under jvp the function is
    # a custom_jvp one instead, whose tangents are the transposed pullback applied to the
    # input tangents: forward mode through the user's backward rule, as on PyTorch and
    # TensorFlow (f_bwd must then be differentiable).
    @jax.custom_jvp
    def f_forward(*xs):
        return f(*xs)

    @f_forward.defjvp
    def f_forward_jvp(xs, ts):
        outs, pull = jax.vjp(f, *xs)
        _, transpose = jax.vjp(pull, jax.tree_util.tree_map(jax.numpy.zeros_like, outs))
        (touts,) = transpose(tuple(ts))
        return outs, touts

    def call(*xs):
        return f_forward(*xs) if _forward[0] else f(*xs)

    return call
