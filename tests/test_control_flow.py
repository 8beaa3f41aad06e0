"""``uf.cond``, ``uf.while_loop``, ``uf.fori_loop``, ``uf.scan``: eager and compiled
results against Python/NumPy, gradients through them, and their errors."""
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import unifw as uf
from unifw.testing import check_grads
from unifw.variable import Variable

FEW = settings(max_examples=4, suppress_health_check=[HealthCheck.function_scoped_fixture])


def _t(a, dtype=uf.float64):
    return uf.asarray(np.asarray(a, dtype=np.float64), dtype=dtype)


def _programs():
    """The control-flow ops used the way a model would, with NumPy references."""

    def run(x, limit):
        big = uf.cond(uf.sum(x) > 0, lambda v: {"y": v * 2.0}, lambda v: {"y": -v}, x)["y"]
        doubled = uf.while_loop(lambda v: uf.sum(uf.abs(v)) < limit, lambda v: v * 2.0, big)
        powered = uf.fori_loop(0, 3, lambda i, v: v * (i.astype(v.dtype) + 1.0), doubled)
        carry, ys = uf.scan(lambda c, xi: (c + xi, c * xi), uf.zeros_like(x[0]), x)
        return big, doubled, powered, carry, ys

    def reference(x, limit):
        big = x * 2.0 if x.sum() > 0 else -x
        doubled = big
        while np.abs(doubled).sum() < limit:
            doubled = doubled * 2.0
        powered = doubled * 6.0
        c, ys = np.zeros_like(x[0]), []
        for xi in x:
            ys.append(c * xi)
            c = c + xi
        return big, doubled, powered, c, np.stack(ys)

    return run, reference


@pytest.mark.filterwarnings("ignore:uf.function 'run' has been traced")  # torch graph breaks
@FEW
@given(values=st.lists(st.floats(-3, 3).filter(lambda v: abs(v) > 0.1), min_size=6,
                       max_size=6))
def test_control_flow_eager_and_compiled_match_python(backend, values):
    run, reference = _programs()
    x_np = np.asarray(values).reshape(3, 2)
    want = reference(x_np, 50.0)
    x = _t(x_np)
    fns = [run]
    if backend != "torch" or backend not in _COMPILED:
        # eager, first compiled call, compiled program. On torch the Python while loop
        # breaks the graph on every iteration (seconds of compiling per example): once.
        compiled = _COMPILED.setdefault(backend, uf.function(run))
        fns += [compiled, compiled]
    for fn in fns:
        for got, ref in zip(fn(x, _t(50.0)), want):
            np.testing.assert_allclose(got.numpy(), ref, rtol=1e-12)


_COMPILED = {}


def test_python_predicates_and_empty_operands(backend):
    assert uf.cond(True, lambda: 1, lambda: 2) == 1
    np.testing.assert_allclose(uf.cond(_t(0.0) > 1.0, lambda: _t(1.0), lambda: _t(2.0)).numpy(),
                               2.0)
    assert int(uf.fori_loop(0, 4, lambda i, v: v + i, uf.asarray(0))) == 6
    assert uf.fori_loop(3, 3, lambda i, v: v + i, "untouched") == "untouched"
    carry, ys = uf.scan(lambda c, _: (c + 1.0, c), _t(0.0), None, length=3)
    np.testing.assert_allclose(ys.numpy(), [0.0, 1.0, 2.0])
    np.testing.assert_allclose(carry.numpy(), 3.0)


def test_fori_loop_with_tensor_bounds(backend):
    f = uf.function(lambda n, x: uf.fori_loop(uf.asarray(0), n, lambda i, v: v + 1.0, x))
    np.testing.assert_allclose(f(uf.asarray(5), _t([0.0])).numpy(), [5.0])


def test_gradients_through_control_flow(grad_backend):
    x = _t([0.3, -0.7, 1.1])

    def f(x):
        y = uf.cond(uf.sum(x) > 0, lambda v: uf.sin(v) * v, lambda v: v ** 3, x)
        y = uf.fori_loop(0, 3, lambda i, v: uf.tanh(v) * 1.5, y)
        carry, ys = uf.scan(lambda c, xi: (c * xi + xi, uf.exp(c) * xi), _t(1.0), y)
        return uf.sum(ys) + carry

    check_grads(f, [x], order=2, modes=("rev",))
    compiled = uf.function(uf.grad(f))
    g_eager = uf.grad(f)(x)
    np.testing.assert_allclose(compiled(x).numpy(), g_eager.numpy(), rtol=1e-10)
    if grad_backend != "torch":  # the compiled program (torch compiles on the second call)
        np.testing.assert_allclose(compiled(x).numpy(), g_eager.numpy(), rtol=1e-10)


def test_branch_structures_must_match():
    pytest.importorskip("jax")
    with uf.use_backend("jax"):
        f = uf.function(lambda x: uf.cond(uf.sum(x) > 0, lambda v: v, lambda v: (v, v), x))
        with pytest.raises((TypeError, uf.TracingError)):
            f(_t([1.0]))


def test_assigning_state_inside_a_compiled_branch_raises():
    pytest.importorskip("jax")
    with uf.use_backend("jax"):
        v = Variable(_t([1.0]))

        def body(v, x):
            def true_fn(x):
                v.assign(x)
                return x
            return uf.cond(uf.sum(x) > 0, true_fn, lambda x: x, x)

        f = uf.function(body)
        with pytest.raises(uf.TracingError, match="assign it outside"):
            f(v, _t([2.0]))
        np.testing.assert_allclose(v.numpy(), [1.0])
        body(v, _t([2.0]))  # eagerly the branch is plain Python: the assignment happens
        np.testing.assert_allclose(v.numpy(), [2.0])


def test_scan_checks_leading_sizes(backend):
    with pytest.raises(uf.ShapeError, match="leading"):
        uf.scan(lambda c, xs: (c, c), _t(0.0), (_t([1.0, 2.0]), _t([1.0])))
