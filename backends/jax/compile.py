"""Static mode on JAX: ``jax.jit`` and ``lax`` control flow.

Compiled functions are pure, so the facade passes every variable's value in as
an input and returns the assigned ones as outputs (``compile_lifts_state``).
"""
import jax
from jax import lax

compile_lifts_state = True


def signature(x):
    """Shape and dtype (``jax.jit`` itself retraces for another device or weak type)."""
    return (x.shape, x.dtype)


def is_compiling():
    return False  # tracing shows in the values themselves (is_tracing)


def compile_error(exc) -> bool:
    return False  # XLA failures are the framework's own errors: re-raised as they are


def function(fn, *, jit_compile=None, fallback_to_eager=False, on_trace=None, name="",
             options=None):
    """``jax.jit(fn)``; ``on_trace`` is called each time JAX traces the Python function."""

    def traced(*natives):
        if on_trace is not None:
            on_trace()
        return fn(*natives)

    traced.__name__ = traced.__qualname__ = fn.__name__
    return jax.jit(traced, **dict(options or {}))


def cond(pred, true_fn, false_fn, operands):
    return lax.cond(pred, lambda ops: true_fn(*ops), lambda ops: false_fn(*ops), list(operands))


def while_loop(cond_fn, body_fn, init):
    return lax.while_loop(lambda v: cond_fn(*v), lambda v: list(body_fn(*v)), list(init))


def scan(f, init, xs, length):
    def step(carry, x):
        c, y = f(list(carry), list(x))
        return list(c), list(y)

    return lax.scan(step, list(init), list(xs), length=length)
