"""Static mode on TensorFlow: ``tf.function`` (optionally XLA) and ``tf`` control flow.

Functions are traced with ``autograph=False``: a Python ``if`` on a symbolic
tensor reaches ``Tensor.__bool__`` and raises unifw's TracingError (pointing to
``uf.cond``) instead of being rewritten behind the user's back. Variables
(``tf.Variable``) are read and assigned in place inside the graph.
"""
import tensorflow as tf

compile_lifts_state = False


_MULTI_DEVICE = len(tf.config.list_logical_devices()) > 1


def signature(x):
    """What a compiled program depends on in an input: shape, dtype (and device)."""
    return (x.shape, x.dtype, x.device) if _MULTI_DEVICE else (x.shape, x.dtype)


def is_compiling():
    return not tf.executing_eagerly()


def compile_error(exc) -> bool:
    return False  # graph-construction errors surface as the user's (or unifw's) errors


def function(fn, *, jit_compile=None, fallback_to_eager=False, on_trace=None, name="",
             options=None):
    """``tf.function(fn, autograph=False)``; ``on_trace`` is called on every trace."""

    def traced(*natives):
        if on_trace is not None:
            on_trace()
        return fn(*natives)

    traced.__name__ = fn.__name__
    # TensorFlow's "frequent retracing" warning counts traces per code object: point it
    # at ``fn``, whose code object is unique to this signature (the facade makes it so)
    traced.__wrapped__ = fn
    poly = tf.function(traced, autograph=False, jit_compile=jit_compile, **dict(options or {}))
    concrete = []

    def call(*natives):
        # The facade builds one program per signature (shapes and dtypes), so this
        # tf.function has exactly one concrete function: calling it directly skips
        # tf.function's argument canonicalisation and trace-cache lookup on every call.
        if not concrete:
            if not tf.executing_eagerly():  # inside someone else's graph: no fast path
                return poly(*natives)
            concrete.append(poly.get_concrete_function(*natives))
        return concrete[0](*natives)

    call.python_function = poly  # the tf.function itself, for introspection
    call._jit_compile = poly._jit_compile
    return call


def cond(pred, true_fn, false_fn, operands):
    out = tf.cond(pred, lambda: list(true_fn(*operands)), lambda: list(false_fn(*operands)))
    return list(out) if isinstance(out, (list, tuple)) else [out]


def while_loop(cond_fn, body_fn, init):
    return list(tf.while_loop(lambda *v: cond_fn(*v), lambda *v: list(body_fn(*v)),
                              list(init)))


def scan(f, init, xs, length):
    """``tf.while_loop`` over ``TensorArray``s; the first step is peeled to learn ys' dtypes."""
    if length == 0:
        _, ys = f(list(init), [x[0] if x.shape[0] else tf.zeros(x.shape[1:], x.dtype)
                              for x in xs])
        return list(init), [tf.zeros((0,) + tuple(y.shape), y.dtype) for y in ys]
    carry, y0 = f(list(init), [x[0] for x in xs])
    tas = [tf.TensorArray(y.dtype, size=length, element_shape=y.shape).write(0, y) for y in y0]

    def body(i, carry, tas):
        c, ys = f(list(carry), [x[i] for x in xs])
        return i + 1, list(c), [ta.write(i, y) for ta, y in zip(tas, ys)]

    _, carry, tas = tf.while_loop(lambda i, c, t: i < length, body,
                                  (tf.constant(1), list(carry), tas),
                                  maximum_iterations=length - 1)
    return list(carry), [ta.stack() for ta in tas]
