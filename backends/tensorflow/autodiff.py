"""Autodiff primitives of the TensorFlow backend, on ``tf.GradientTape``.

Each reverse-mode call records on its own tape, which watches only fresh
``tf.identity`` handles of the inputs (``watch_accessed_variables=False``: the
tape sees exactly what is differentiated). Tapes nest, so a gradient computed
while an enclosing tape records is itself differentiable. Forward mode is the
transpose of reverse mode (the "double vjp" trick: two nested tapes).
"""
import contextlib

import tensorflow as tf

# unifw tapes whose context is open (innermost last), and those no_grad paused
_tapes: list = []
_paused: set = set()
# number of unifw forward passes running (> 0: an enclosing differentiation records)
_nesting = 0


@contextlib.contextmanager
def _recording(tape):
    global _nesting
    _tapes.append(tape)
    _nesting += 1
    try:
        with tape:
            yield tape
    finally:
        _nesting -= 1
        _tapes.remove(tape)


def _float(x):
    return x.dtype.is_floating or x.dtype.is_complex


def _forward(fn, primals, persistent):
    tape = tf.GradientTape(persistent=persistent, watch_accessed_variables=False)
    with _recording(tape):
        xs = [tf.identity(p) for p in primals]
        for x in xs:
            tape.watch(x)
        outs, rest = fn(*xs)
    return tape, xs, outs, rest


def _grad(tape, outs, xs, cts):
    """Gradients of ``outs`` w.r.t. ``xs`` (a ``None`` cotangent means ones)."""
    pairs = [(o, c) for o, c in zip(outs, cts) if _float(o)]
    if not pairs:
        return [tf.zeros_like(x) for x in xs]
    output_gradients = None if all(c is None for _, c in pairs) else [
        tf.ones_like(o) if c is None else c for o, c in pairs]
    gs = tape.gradient([o for o, _ in pairs], xs, output_gradients=output_gradients,
                       unconnected_gradients=tf.UnconnectedGradients.ZERO)
    # gathers give sparse IndexedSlices gradients: unifw tensors are dense
    return [tf.convert_to_tensor(g) if isinstance(g, tf.IndexedSlices) else g for g in gs]


def vjp(fn, primals, *, reuse=True):
    """Run ``fn(*handles) -> (outs, rest)``; return ``(outs, rest, pullback)``."""
    tape, xs, outs, rest = _forward(fn, primals, persistent=reuse)

    def pullback(cts):
        return _grad(tape, outs, xs, cts)

    return outs, rest, pullback


def jvp(fn, primals, tangents):
    """``(outs, rest, tangent_outs)``: J t computed as d/du <J^T u, t> (linear in u)."""
    outer = tf.GradientTape(watch_accessed_variables=False)
    with _recording(outer):
        inner, xs, outs, rest = _forward(fn, primals, persistent=False)
        us = [tf.zeros_like(o) for o in outs]
        for u in us:
            outer.watch(u)
        gs = _grad(inner, outs, xs, us)
    touts = outer.gradient(gs, us, output_gradients=list(tangents),
                           unconnected_gradients=tf.UnconnectedGradients.ZERO)
    return outs, rest, touts


def stop_gradient(x):
    return tf.stop_gradient(x)


@contextlib.contextmanager
def no_grad():
    """Pause every unifw tape that is recording (tapes opened inside still record)."""
    with contextlib.ExitStack() as stack:
        for tape in [t for t in _tapes if id(t) not in _paused]:
            stack.enter_context(tape.stop_recording())
            _paused.add(id(tape))
            stack.callback(_paused.discard, id(tape))
        yield


def custom_vjp(fn, fwd, bwd):
    """A callable on natives that returns ``fwd``'s outputs and differentiates with ``bwd``.

    The residuals enter the custom-gradient op as inputs, so in a second-order
    derivative the derivative of ``bwd(residuals, g)`` flows through them to the
    primal inputs (JAX's semantics); their own first-order gradient is zero.
    """

    def call(*xs):
        if not _tapes:
            return fn(*xs)
        if _nesting >= 2:  # a second-order derivative may follow: keep the residuals' graph
            outs, res = fwd(*xs)
        else:
            with no_grad():
                outs, res = fwd(*xs)
        n_in, n_res = len(xs), len(res)

        @tf.custom_gradient
        def op(*args):
            res_ = list(args[n_in:n_in + n_res])

            def grad_fn(*cts):
                gs = bwd(res_, list(cts))
                gs = [tf.zeros_like(x) if g is None else g for g, x in zip(gs, xs)]
                return gs + [tf.zeros_like(r) for r in res_] + \
                    [tf.zeros_like(o) for o in args[n_in + n_res:]]

            return [tf.identity(o) for o in args[n_in + n_res:]], grad_fn

        return list(op(*xs, *res, *[tf.stop_gradient(o) for o in outs]))

    return call
