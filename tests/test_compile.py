"""``uf.function``: eager/compiled agreement, retracing rules, state, errors, options.

PyTorch compiles take seconds each, so only a few tests call a function twice on
torch (the first call of a new signature runs eagerly, the second compiles).
"""
import os
import subprocess
import sys
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import unifw as uf
import unifw.nn.functional as F
from unifw import nn, optim
from unifw.variable import Variable

FEW = settings(max_examples=3, suppress_health_check=[HealthCheck.function_scoped_fixture])


def _calls(backend):
    """How many times to call a compiled function to reach its compiled program: on
    torch the second call compiles (seconds), so tests of facade logic call once there."""
    return 1 if backend == "torch" else 2


def _t(a, dtype=uf.float32):
    return uf.asarray(np.asarray(a, dtype=np.float64), dtype=dtype)


def _loss(w1, w2, x, y):
    return uf.sum((F.relu(x @ w1) @ w2 - y) ** 2)


# ---------------------------------------------------------------- eager vs compiled
@FEW
@given(seed=st.integers(0, 2**16), n=st.integers(2, 5))
def test_compiled_value_and_grad_matches_eager_and_does_not_retrace(grad_backend, seed, n):
    if grad_backend == "torch":
        n = 3  # one signature: one torch.compile for all examples
    rng = np.random.default_rng(seed)
    w1, w2, x, y = [_t(rng.standard_normal(s)) for s in [(4, 5), (5, 2), (n, 4), (n, 2)]]
    eager = uf.value_and_grad(_loss, argnums=(0, 1))
    compiled = _compiled_loss_grad(grad_backend)
    v_e, g_e = eager(w1, w2, x, y)
    before = compiled.trace_count
    for _ in range(3):
        v_c, g_c = compiled(w1, w2, x, y)
        np.testing.assert_allclose(v_c.numpy(), v_e.numpy(), rtol=1e-5)
        for a, b in zip(g_c, g_e):
            np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-5, atol=1e-6)
    # at most one trace for a new signature, none for repeated calls (no graph breaks)
    assert compiled.trace_count - before <= 1
    assert len(compiled._cache) <= 5


_COMPILED = {}


def _compiled_loss_grad(backend):
    if backend not in _COMPILED:
        _COMPILED[backend] = uf.function(uf.value_and_grad(_loss, argnums=(0, 1)))
    return _COMPILED[backend]


def test_retrace_rules(backend):
    calls = []

    @uf.function(static_argnames=("mode",))
    def f(x, scale, mode="sum", extra=None):
        calls.append(1)  # Python side effect: runs when tracing
        out = x * scale
        return uf.sum(out) if mode == "sum" else uf.max(out)

    x = _t([1.0, 2.0, 3.0])
    assert float(f(x, 2.0)) == 12.0
    assert f.trace_count == 1
    f(_t([5.0, 6.0, 7.0]), 2.0)  # same shape and dtype: reused
    assert f.trace_count == 1
    f(_t([1.0, 2.0]), 2.0)  # new shape
    assert f.trace_count == 2
    f(_t([1.0, 2.0], uf.float64), 2.0)  # new dtype
    assert f.trace_count == 3
    assert float(f(x, 3.0)) == 18.0  # Python scalars are static: a new value traces
    assert f.trace_count == 4
    assert float(f(x, 3.0, mode="max")) == 9.0  # static argument
    assert f.trace_count == 5
    f(x, 3.0, extra={"a": x})  # new structure
    assert f.trace_count == 6


def test_numpy_arguments_are_traced_like_tensors(backend):
    """NumPy arrays and scalars are converted as an op converts them eagerly (their own
    dtype, not a weak Python scalar) and traced: a new value does not trace again."""
    f = uf.function(lambda x, s, m: uf.logical_or(x > s, m))
    x = _t([1.0, 2.0, 3.0])
    got = [f(x, np.float32(s), np.bool_(m)).numpy() for s, m in ((1.5, False), (2.5, True))]
    np.testing.assert_array_equal(got[0], [False, True, True])
    np.testing.assert_array_equal(got[1], [True, True, True])
    y = f(x, np.array([0.0, 2.5, 3.5], np.float32), np.array([False, True, False]))
    np.testing.assert_array_equal(y.numpy(), [True, True, False])
    assert f.trace_count == 2  # scalars once, arrays once
    # a float64 NumPy scalar promotes a float32 tensor, in eager and compiled mode alike
    g = uf.function(lambda x, s: x * s)
    assert g(x, np.float64(2.0)).dtype == (x * uf.asarray(np.float64(2.0))).dtype


def test_static_argnums_bake_python_values(backend):
    @uf.function(static_argnums=(1,))
    def power(x, n):
        out = x
        for _ in range(n - 1):  # Python loop on a static value: unrolled
            out = out * x
        return out

    x = _t([2.0, 3.0])
    np.testing.assert_allclose(power(x, 3).numpy(), [8.0, 27.0])
    np.testing.assert_allclose(power(x, 2).numpy(), [4.0, 9.0])
    assert power.trace_count == 2
    with pytest.raises(TypeError, match="hashable"):
        uf.function(lambda x, opts: x)(x, {1, 2})  # an unhashable non-tensor leaf


def test_numpy_constants_inside_a_compiled_function(backend):
    # a NumPy scalar constant is baked in (on torch: a Dynamo constant, no graph break)
    @uf.function
    def f(x):
        return uf.logical_and(x > 1.5, np.True_)

    for _ in range(3):
        np.testing.assert_array_equal(f(_t([1.0, 2.0])).numpy(), [False, True])
    assert f.trace_count == 1


def test_outputs_keep_structure_and_python_values(backend):
    @uf.function
    def f(x):
        return {"y": x + 1.0, "name": "out", "n": 3, "pair": (x, None)}

    for _ in range(_calls(backend)):
        out = f(_t([1.0]))
        assert out["name"] == "out" and out["n"] == 3 and out["pair"][1] is None
        np.testing.assert_allclose(out["y"].numpy(), [2.0])


def test_outputs_rebuild_every_container_kind(backend):
    import collections

    Pair = collections.namedtuple("Pair", "lo hi")

    @uf.function
    def f(x):
        return [Pair(x - 1.0, x + 1.0), {(1, "k"): [x * 2.0, 7], 5: (x,)}, ()], x * 3.0

    for _ in range(_calls(backend)):
        (pair, table, empty), tripled = f(_t([1.0, 2.0]))
        assert type(pair) is Pair and empty == () and table[(1, "k")][1] == 7
        assert isinstance(table[5], tuple) and len(table[5]) == 1
        for got, want in [(pair.lo, [0.0, 1.0]), (pair.hi, [2.0, 3.0]),
                          (table[(1, "k")][0], [2.0, 4.0]), (table[5][0], [1.0, 2.0]),
                          (tripled, [3.0, 6.0])]:
            assert isinstance(got, uf.Tensor)
            np.testing.assert_allclose(got.numpy(), want)


def test_outputs_too_deep_for_the_fast_rebuild_come_back_whole(backend):
    @uf.function
    def f(x):
        out = x
        for _ in range(60):
            out = [out]
        return out

    for _ in range(_calls(backend)):
        out = f(_t([4.0]))
        for _ in range(60):
            assert isinstance(out, list) and len(out) == 1
            out = out[0]
        np.testing.assert_allclose(out.numpy(), [4.0])


def test_nested_function_is_inlined(backend):
    @uf.function
    def inner(x):
        return x * 2.0

    @uf.function
    def outer(x):
        return inner(x) + 1.0

    np.testing.assert_allclose(outer(_t([1.0, 2.0])).numpy(), [3.0, 5.0])
    assert inner.trace_count == 0 and outer.trace_count == 1


def test_method_decoration_binds_self(backend):
    class Scaler(nn.Module):
        def __init__(self):
            super().__init__()
            self.scale = nn.Parameter(_t([2.0, 3.0]))

        @uf.function
        def apply(self, x):
            return x * self.scale

    s = Scaler()
    np.testing.assert_allclose(s.apply(_t([1.0, 1.0])).numpy(), [2.0, 3.0])
    assert s.apply.trace_count == 1
    if _calls(backend) > 1:
        s.scale.assign(_t([4.0, 5.0]))
        np.testing.assert_allclose(s.apply(_t([1.0, 1.0])).numpy(), [4.0, 5.0])


# ---------------------------------------------------------------- errors that say what to do
def test_python_branch_on_traced_value_raises(backend):
    """The same TracingError on every backend, also where the value is concrete at that
    point (PyTorch's eager first call and its graph breaks, NumPy's eager run), and on
    every later call."""

    @uf.function
    def f(x):
        if uf.sum(x) > 0:  # data-dependent Python control flow
            return x
        return -x

    @uf.function
    def g(x):
        return x * float(uf.sum(x))

    @uf.function
    def h(x):
        return x * x.item()

    for _ in range(2):
        with pytest.raises(uf.TracingError, match="uf.cond"):
            f(_t([1.0, 2.0]))
        with pytest.raises(uf.TracingError, match="float"):
            g(_t([1.0, 2.0]))
        with pytest.raises(uf.TracingError, match="numpy"):
            h(_t(2.0))
    # the same code runs eagerly, with the concrete value
    uf.config.run_functions_eagerly(True)
    try:
        np.testing.assert_allclose(f(_t([-1.0, -2.0])).numpy(), [1.0, 2.0])
        np.testing.assert_allclose(g(_t([1.0, 2.0])).numpy(), [3.0, 6.0])
    finally:
        uf.config.run_functions_eagerly(False)


def test_reading_state_not_passed_in_raises(backend):
    hidden = Variable(_t([1.0, 2.0]))

    @uf.function
    def f(x):
        return x + hidden

    with pytest.raises(uf.TracingError, match="not part of its arguments"):
        f(_t([0.0, 0.0]))

    @uf.function
    def g(x, v):
        return x + v

    np.testing.assert_allclose(g(_t([1.0, 1.0]), hidden).numpy(), [2.0, 3.0])


# ---------------------------------------------------------------- state
def test_variables_are_carried_in_and_written_back(backend):
    counter = Variable(_t([0.0, 0.0]))

    @uf.function
    def bump(v, x):
        v.assign(v + x)
        return v + 0.0

    for i in range(1, 4):
        out = bump(counter, _t([1.0, 2.0]))
        np.testing.assert_allclose(out.numpy(), [i, 2 * i])
        np.testing.assert_allclose(counter.numpy(), [i, 2 * i])
    assert bump.trace_count == 1


def _train(backend, compiled, steps=3):
    uf.random.seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
    opt = optim.Adam(model.parameters(), lr=0.05)
    rng = np.random.default_rng(0)
    x, y = _t(rng.standard_normal((6, 4))), _t(rng.standard_normal((6, 2)))

    def step(model, opt, x, y):
        loss, grads = uf.value_and_grad(lambda m: F.mse_loss(m(x), y))(model)
        opt.step(grads)
        return loss

    if compiled:
        step = uf.function(step)
    losses = [float(step(model, opt, x, y)) for _ in range(steps)]
    return losses, {k: v.numpy() for k, v in model.state_dict().items()}, step


def test_training_step_with_module_and_optimizer_matches_eager(grad_backend):
    losses_e, params_e, _ = _train(grad_backend, False)
    losses_c, params_c, step = _train(grad_backend, True)
    np.testing.assert_allclose(losses_c, losses_e, rtol=1e-5)
    assert losses_c[-1] < losses_c[0]
    for k in params_e:
        np.testing.assert_allclose(params_c[k], params_e[k], rtol=1e-5, atol=1e-6)
    assert step.trace_count == 1


def test_eval_mode_and_another_module_retrace(backend):
    uf.random.seed(0)
    a = nn.Sequential(nn.Linear(2, 2), nn.Dropout(0.5))
    b = nn.Sequential(nn.Linear(2, 2), nn.Dropout(0.5))
    f = uf.function(lambda m, x: m(x))
    x = _t([[1.0, 2.0]])
    f(a, x)
    a.eval()
    np.testing.assert_allclose(f(a, x).numpy(), a(x).numpy(), rtol=1e-5)  # no dropout
    f(b, x)
    assert f.trace_count == 3


def test_fast_call_path_sees_structure_changes_and_new_objects(grad_backend):
    """The call wrapper reuses flattened state keyed on object identity: adding a layer,
    eval(), a new Python scalar, a new module reusing a dead one's id and a new parameter
    group must all be seen (values checked against eager)."""
    import gc

    m = nn.Sequential(nn.Linear(3, 2))
    x = _t(np.ones((4, 3)))
    f = uf.function(lambda m, x, k: m(x).sum() * k)
    f(m, x, 2.0)
    f(m, x, 2.0)
    count = f.trace_count
    m.append(nn.Linear(2, 2))
    np.testing.assert_allclose(float(f(m, x, 2.0)), float(m(x).sum() * 2.0), rtol=1e-5)
    assert f.trace_count > count
    m.eval()
    count = f.trace_count
    f(m, x, 2.0)
    assert f.trace_count > count
    np.testing.assert_allclose(float(f(m, x, 3.0)), float(m(x).sum() * 3.0), rtol=1e-5)
    for _ in range(3):  # a dead module's id may be reused by the next one
        other = nn.Sequential(nn.Linear(3, 2), nn.Linear(2, 2)).eval()
        np.testing.assert_allclose(float(f(other, x, 2.0)), float(other(x).sum() * 2.0),
                                   rtol=1e-5)
        del other
        gc.collect()

    @uf.function
    def step(m, opt, x):
        loss, g = uf.value_and_grad(lambda mm: mm(x).sum())(m)
        opt.step(g)
        return loss

    m.train()
    opt = optim.SGD(m.parameters(), lr=0.1)
    losses = [float(step(m, opt, x)) for _ in range(3)]
    assert losses[0] > losses[1] > losses[2]
    m.append(nn.Linear(2, 2))
    opt.add_param_group({"params": list(m[2].parameters())})
    before = m[2].weight.numpy().copy()
    step(m, opt, x)
    assert not np.allclose(m[2].weight.numpy(), before)  # the new group is stepped


def test_gradient_through_a_compiled_function(grad_backend):
    rng = np.random.default_rng(0)
    w1, w2, x, y = [_t(rng.standard_normal(s)) for s in [(4, 5), (5, 2), (3, 4), (3, 2)]]
    compiled = uf.function(_loss)
    g_c = [uf.grad(compiled, argnums=(0, 1))(w1, w2, x, y) for _ in range(2)][-1]
    g_e = uf.grad(_loss, argnums=(0, 1))(w1, w2, x, y)
    for a, b in zip(g_c, g_e):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-5, atol=1e-6)


# ---------------------------------------------------------------- options
def test_run_functions_eagerly(backend):
    calls = []

    @uf.function
    def f(x):
        calls.append(1)
        return x + 1.0

    uf.config.run_functions_eagerly(True)
    try:
        assert uf.config.functions_run_eagerly()
        for _ in range(3):
            f(_t([1.0]))
        assert len(calls) == 3 and f.trace_count == 0
    finally:
        uf.config.run_functions_eagerly(False)
    f(_t([1.0]))
    f(_t([1.0]))
    assert f.trace_count == 1


def test_environment_variable_forces_eager():
    code = ("import unifw as uf; uf.set_backend('numpy'); "
            "print(uf.config.functions_run_eagerly())")
    env = dict(os.environ, UNIFW_RUN_EAGERLY="1")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "True"


def test_tensorflow_jit_compile_uses_xla():
    pytest.importorskip("tensorflow")
    with uf.use_backend("tensorflow"):
        f = uf.function(lambda x: uf.sum(uf.tanh(x) * x), jit_compile=True)
        x = _t([0.5, -1.0, 2.0])
        np.testing.assert_allclose(f(x).numpy(), np.sum(np.tanh(x.numpy()) * x.numpy()),
                                   rtol=1e-6)
        entry = next(iter(f._cache.values()))
        assert entry.call._jit_compile is True  # the tf.function was built for XLA


def _failing_compiler(gm, example_inputs):
    raise RuntimeError("simulated compiler failure")


def test_torch_compile_failure_is_reported_or_falls_back_when_asked():
    pytest.importorskip("torch")
    with uf.use_backend("torch"):
        x = _t([1.0, 2.0])
        strict = uf.function(lambda x: x * 2.0, backend_options={"backend": _failing_compiler})
        strict(x)  # the first call of a signature runs eagerly
        with pytest.raises(uf.CompilationError, match="fallback_to_eager"):
            strict(x)
        lenient = uf.function(lambda x: x * 3.0, fallback_to_eager=True,
                              backend_options={"backend": _failing_compiler})
        lenient(x)
        with pytest.warns(UserWarning, match="running it eagerly"):
            np.testing.assert_allclose(lenient(x).numpy(), [3.0, 6.0])
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            np.testing.assert_allclose(lenient(x).numpy(), [3.0, 6.0])  # warned once


def test_many_signatures_warn_about_retracing():
    with uf.use_backend("numpy"):
        f = uf.function(lambda x: x + 1.0)
        with pytest.warns(UserWarning, match="traced 10 times"):
            for n in range(1, 11):
                f(uf.zeros((n,)))


def test_trainable_flip_after_compiling_retraces(grad_backend):
    """Freezing a parameter after the first compiled call: no gradient and no update from
    then on (as without uf.function), and unfreezing brings the update back."""
    uf.random.seed(0)
    m = nn.Linear(3, 2)
    opt = optim.SGD(m.parameters(), lr=0.1)
    x, y = _t(np.ones((2, 3))), _t(np.zeros((2, 2)))

    @uf.function
    def step(m, opt, x, y):
        loss, g = uf.value_and_grad(lambda m: F.mse_loss(m(x), y))(m)
        opt.step(g)
        return loss

    step(m, opt, x, y)
    m.weight.trainable = False
    w, b = m.weight.numpy().copy(), m.bias.numpy().copy()
    step(m, opt, x, y)
    np.testing.assert_array_equal(m.weight.numpy(), w)
    assert not np.array_equal(m.bias.numpy(), b)
    m.weight.trainable = True
    step(m, opt, x, y)
    assert not np.array_equal(m.weight.numpy(), w)
