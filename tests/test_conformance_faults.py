"""Planted faults: a test-only backend wraps a real one and breaks one thing; the conformance
suite must catch each fault and report a failing example naming op, backend, mode and device.

The faulty backends are registered with ``unifw.register_plugin`` (no entry point): a copy of
a loaded backend with one op replaced, found through this module's ``PLANTED`` namespace.
"""
from __future__ import annotations

import copy
import types

import numpy as np
import pytest

import unifw as uf
from unifw._opspec import OPS
from unifw.backend_api import attr_name
from unifw_conformance import runner

PLANTED = types.SimpleNamespace()


@pytest.fixture(autouse=True)
def _forget_planted_backends():
    """Planted backends live in this process only: drop them so later tests that list
    available backends (and start subprocesses for them) never see them."""
    yield
    for name in list(vars(PLANTED)):
        uf.unregister_plugin(name)
        delattr(PLANTED, name)


def plant(name: str, backend) -> str:
    setattr(PLANTED, name, backend)
    uf.register_plugin(uf.BackendPlugin(name, load=f"{__name__}:PLANTED.{name}"))
    return name


def derived(base_name: str, name: str):
    """A copy of a loaded backend under another name (ops still the base's)."""
    fake = copy.copy(uf.get_backend(base_name))
    fake.name = name
    return fake


def run(backend: str, op: str, check: str, modes=("eager",), devices=("cpu",),
        dtype="float32"):
    cells = [runner.Cell(check, op, backend, dev, mode, dtype) for dev in devices
             for mode in modes]
    session = runner.Session(cells, "dev")
    return {(c.device, c.mode): session.result(c) for c in cells}


def assert_caught(result, *, op, backend, mode, device, says):
    assert result.outcome == "failed", result.message
    msg = result.message
    for part in (f"op {op!r}", f"backend {backend!r}", f"mode {mode!r}", f"device {device!r}"):
        assert part in msg, f"{part} missing from the report:\n{msg}"
    assert says in msg, msg
    assert "example" in msg and result.example, msg


# ---------------------------------------------------------------- a wrong gradient
def _grad_base():
    for b in ("jax", "torch"):
        if b in uf.available_backends():
            return b
    pytest.skip("needs jax or torch")


def _wrong_sin(base: str):
    """sin whose derivative is 1.5 cos (forward values unchanged)."""
    if base == "jax":
        import jax
        import jax.numpy as jnp

        @jax.custom_jvp
        def sin(x):
            return jnp.sin(x)

        @sin.defjvp
        def _(primals, tangents):
            (x,), (t,) = primals, tangents
            return jnp.sin(x), 1.5 * jnp.cos(x) * t

        return sin
    import torch

    class Sin(torch.autograd.Function):
        @staticmethod
        def forward(x):
            return torch.sin(x)

        @staticmethod
        def setup_context(ctx, inputs, output):
            ctx.save_for_backward(inputs[0])
            ctx.save_for_forward(inputs[0])

        @staticmethod
        def backward(ctx, g):
            return g * 1.5 * torch.cos(ctx.saved_tensors[0])

        @staticmethod
        def jvp(ctx, t):
            return t * 1.5 * torch.cos(ctx.saved_tensors[0])

    return lambda x, /: Sin.apply(x)


def test_wrong_gradient_is_caught_with_a_minimal_example():
    base = _grad_base()
    fake = derived(base, "planted_wrong_grad")
    fake.sin = _wrong_sin(base)
    name = plant("planted_wrong_grad", fake)
    res = run(name, "sin", "grad", dtype="float64")[("cpu", "eager")]
    assert_caught(res, op="sin", backend=name, mode="eager", device="cpu",
                  says="vs finite differences")
    # forward values are untouched, so the values check still passes
    assert run(name, "sin", "values")[("cpu", "eager")].outcome == "passed"
    # the control: the real backend passes the same gradient check
    assert run(base, "sin", "grad", dtype="float64")[("cpu", "eager")].outcome == "passed"


# ---------------------------------------------------------------- a dtype change under compile
def test_dtype_change_under_compile_is_caught():
    base = next((b for b in ("jax", "tensorflow") if b in uf.available_backends()), None)
    if base is None:
        pytest.skip("needs jax or tensorflow (fast compilers)")
    fake = derived(base, "planted_compile_dtype")
    state = types.SimpleNamespace(compiling=0)
    real_function, real_exp = fake.function, fake.exp

    def function(fn, **kw):
        def traced(*natives):
            state.compiling += 1
            try:
                return fn(*natives)
            finally:
                state.compiling -= 1
        traced.__name__ = getattr(fn, "__name__", "traced")
        return real_function(traced, **kw)

    def exp(x, /):
        y = real_exp(x)
        return fake.astype(y, fake.native_dtype(uf.float64)) if state.compiling else y

    fake.function, fake.exp = function, exp
    name = plant("planted_compile_dtype", fake)
    res = run(name, "exp", "values", modes=("eager", "compiled"))
    assert res[("cpu", "eager")].outcome == "passed", res[("cpu", "eager")].message
    assert_caught(res[("cpu", "compiled")], op="exp", backend=name, mode="compiled",
                  device="cpu", says="dtype float64")


# ---------------------------------------------------------------- an output on the wrong device
class SimArray(np.ndarray):
    """A NumPy array tagged with the (simulated) device it lives on."""

    sim_device = "cpu"


def _tag(a, device):
    v = np.asarray(a).view(SimArray)
    v.sim_device = device
    return v


def _device_of(x):
    return getattr(x, "sim_device", "cpu")


def _simulated_devices(name: str, misplaced: str):
    """The NumPy backend with a simulated "gpu:0"; op ``misplaced`` returns its result on
    the CPU whatever its inputs' device."""
    fake = derived("numpy", name)
    base = uf.get_backend("numpy")
    fake.check_devices = True
    fake.devices = lambda: ["cpu", "gpu:0"]
    fake.device_of = _device_of
    fake.to_device = lambda x, d: _tag(np.array(x), d)
    fake.asarray = lambda obj, dtype=None, device=None, copy=None: _tag(
        base.asarray(obj, dtype=dtype, device="cpu", copy=copy), device or "cpu")

    def wrap(spec):
        fn = getattr(base, attr_name(spec))

        def op(*args, **kwargs):
            devs = [_device_of(a) for a in args if isinstance(a, np.ndarray)]
            dev = kwargs.get("device") or (devs[0] if devs else "cpu")
            out = fn(*args, **kwargs)
            if spec.qualname == misplaced:
                dev = "cpu"
            if isinstance(out, tuple):
                return tuple(_tag(o, dev) for o in out)
            return _tag(out, dev)
        return op

    for spec in OPS.values():
        setattr(fake, attr_name(spec), wrap(spec))
    return fake


def test_output_on_the_wrong_device_is_caught():
    name = plant("planted_device", _simulated_devices("planted_device", "tanh"))
    res = run(name, "tanh", "values", devices=("cpu", "gpu:0"))
    assert res[("cpu", "eager")].outcome == "passed", res[("cpu", "eager")].message
    assert_caught(res[("gpu:0", "eager")], op="tanh", backend=name, mode="eager",
                  device="gpu:0", says="is on device 'cpu', expected 'gpu:0'")
    # the other ops keep their inputs' device on the simulated GPU
    assert run(name, "sin", "values", devices=("gpu:0",))[("gpu:0", "eager")].outcome == \
        "passed"


def _run_negative_registered_as(expect):
    """Run the passing cell values/negative/numpy with ``expect`` as its expected failure."""
    from unifw_conformance.registry import load

    entry = load()["negative"]
    load()["negative"] = entry.__class__(**{**entry.__dict__, "xfail": (expect,)})
    try:
        return runner.run_cell(runner.Cell("values", "negative", "numpy", "cpu", "eager",
                                           "float32"), "dev")
    finally:
        load()["negative"] = entry


def test_strict_expected_failure_that_passes_is_reported():
    from unifw_conformance.registry import Expect

    res = _run_negative_registered_as(Expect("pretend bug"))
    assert res.outcome == "failed" and "XPASS(strict)" in res.message


def test_intermittent_expected_failure_that_passes_is_not_a_failure():
    from unifw_conformance.registry import Expect

    res = _run_negative_registered_as(Expect("pretend flaky bug", strict=False))
    assert res.outcome == "passed" and "pretend flaky bug" in res.message
