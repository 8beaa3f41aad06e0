"""Backend selection, plugin discovery, dtypes/promotion, Tensor basics and error classes."""
from __future__ import annotations

import os
import subprocess
import sys
import threading

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import unifw as uf
from unifw import _dtypes

PY = sys.executable
ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}


def run_py(code: str, **env) -> str:
    out = subprocess.run([PY, "-c", code], capture_output=True, text=True,
                         env={**ENV, **env}, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    return out.stdout.strip()


# ---------------------------------------------------------------- selection and plugins
def test_import_unifw_imports_no_framework():
    out = run_py("import sys, unifw, unifw.nn, unifw.optim, unifw.data; "
                 "print(sorted(m for m in ('torch','tensorflow','jax') if m in sys.modules))")
    assert out == "[]"


def test_env_var_selects_backend_without_importing_others():
    probe = "sorted(m for m in ('torch','tensorflow','jax') if m in sys.modules)"
    # only entry-point backends: a child process cannot see plugins registered in this one
    from importlib.metadata import entry_points
    entry_names = {ep.name for ep in entry_points(group="unifw.backends")}
    for name in (n for n in uf.available_backends() if n in entry_names):
        code = ("import sys, unifw as uf; x = uf.ones((2,)); "
                f"print(uf.backend(), x.backend_name, {probe})")
        out = run_py(code, UNIFW_BACKEND=name)
        # the framework itself may import others (TensorFlow imports JAX when installed):
        # unifw must import nothing beyond what importing the framework alone does
        alone = run_py(f"import sys, {name}; print({probe})") if name != "numpy" else "[]"
        assert out == f"{name} {name} {alone}"


def test_default_backend_is_first_installed_in_order():
    env = {k: v for k, v in ENV.items() if k != "UNIFW_BACKEND"}
    out = subprocess.run([PY, "-c", "import unifw as uf; print(uf.backend())"],
                         capture_output=True, text=True, env=env, timeout=300)
    expected = next(n for n in ("torch", "jax", "tensorflow", "numpy")
                    if n in uf.available_backends())
    assert out.stdout.strip() == expected


def test_unknown_backend_error_names_installed_and_extra():
    with pytest.raises(uf.BackendNotAvailable) as ei:
        uf.set_backend("nonexistent")
    msg = str(ei.value)
    assert "nonexistent" in msg
    for name in uf.available_backends():
        assert name in msg
    assert isinstance(ei.value, ImportError)


def test_uninstalled_backend_error_gives_pip_extra():
    plugin = uf.BackendPlugin(name="ghost", load="ghost_pkg:backend",
                              requires=("ghost_framework_not_installed",),
                              pip_extra="unifw[ghost]")
    uf.register_plugin(plugin)
    with pytest.raises(uf.BackendNotAvailable, match=r"pip install 'unifw\[ghost\]'"):
        with uf.use_backend("ghost"):
            pass
    assert "ghost" not in uf.available_backends()
    assert "ghost" in uf.registered_backends()


def test_builtin_backends_registered_through_entry_points():
    from importlib.metadata import entry_points

    names = {ep.name for ep in entry_points(group="unifw.backends")}
    assert {"numpy", "torch", "tensorflow", "jax"} <= names


def test_use_backend_is_context_local_and_restored():
    avail = uf.available_backends()
    outer = uf.backend()
    seen = {}

    def worker(name):
        with uf.use_backend(name):
            barrier.wait()
            seen[name] = uf.backend()
            barrier.wait()

    barrier = threading.Barrier(len(avail))
    threads = [threading.Thread(target=worker, args=(n,)) for n in avail]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert seen == {n: n for n in avail}
    assert uf.backend() == outer
    with uf.use_backend("numpy"):
        assert uf.backend() == "numpy"
    assert uf.backend() == outer


# ---------------------------------------------------------------- dtypes and promotion
_NUMERIC = [d for d in _dtypes.all_dtypes if d is not _dtypes.bfloat16]


@given(st.sampled_from(_NUMERIC), st.sampled_from(_NUMERIC))
def test_promotion_matches_numpy_within_kinds(a, b):
    r = _dtypes.promote_pair(a, b)
    same_family = (a.kind == b.kind or {a.kind, b.kind} <= {"i", "u"}
                   or {a.kind, b.kind} <= {"f", "c"})
    if not same_family or "b" in (a.kind, b.kind) and a is not b:
        assert r is None
    else:
        assert r is not None
        assert r.numpy_dtype == np.result_type(a.numpy_dtype, b.numpy_dtype)


def test_cross_kind_promotion_is_refused(backend):
    x = uf.ones((2,), dtype=uf.int32)
    y = uf.ones((2,), dtype=uf.float32)
    with pytest.raises(uf.DTypeError) as ei:
        x + y
    assert "add" in str(ei.value) and backend in str(ei.value)


def test_same_kind_promotion_follows_array_api(backend):
    x = uf.ones((3,), dtype=uf.float32)
    y = uf.ones((3,), dtype=uf.float64)
    assert (x + y).dtype == uf.float64
    i8 = uf.ones((3,), dtype=uf.int8)
    u8 = uf.ones((3,), dtype=uf.uint8)
    assert (i8 * u8).dtype == uf.int16


def test_python_scalars_are_weak(backend):
    for d in (uf.float32, uf.float64, uf.float16):
        x = uf.ones((2,), dtype=d)
        assert (x + 1.5).dtype == d
        assert (2 * x).dtype == d
        assert (x ** 2).dtype == d
    i = uf.ones((2,), dtype=uf.int32)
    assert (i + 3).dtype == uf.int32
    with pytest.raises(uf.DTypeError):
        i * 0.5


def test_python_scalars_in_where_and_clip_are_weak(backend):
    """A scalar takes the tensor's dtype, never the default float's: 1e-12 next to a
    float64 tensor stays 1e-12 (NumPy computes the float64 reference)."""
    x_np = np.array([0.0, 1.0, -2.0])
    x = uf.tensor(x_np, dtype=uf.float64)
    for got, want in [(uf.clip(x, min=1e-12), np.clip(x_np, 1e-12, None)),
                      (uf.clip(x, -1e-300, 1 / 3), np.clip(x_np, -1e-300, 1 / 3)),
                      (uf.where(x > 0.5, x, 1e-12), np.where(x_np > 0.5, x_np, 1e-12)),
                      (uf.where(x > 0.5, 1 / 3, x), np.where(x_np > 0.5, 1 / 3, x_np))]:
        assert got.dtype == uf.float64
        np.testing.assert_array_equal(got.numpy(), want)
    h = uf.ones((2,), dtype=uf.float16)
    assert uf.where(h > 0, h, 0.1).dtype == uf.float16
    assert uf.where(uf.tensor([True, False]), 1.5, 2.5).dtype == uf.float32  # no tensor
    with pytest.raises(uf.DTypeError):
        uf.where(uf.tensor([True]), uf.ones((1,), dtype=uf.int32), 0.5)


def test_default_dtypes_of_python_data(backend):
    assert uf.tensor([1.0, 2.0]).dtype == uf.float32
    assert uf.tensor([1, 2]).dtype == uf.int64
    assert uf.tensor([True]).dtype == uf.bool
    assert uf.asarray(np.zeros(3, np.float64)).dtype == uf.float64


# ---------------------------------------------------------------- tensor basics
def test_tensor_properties_and_repr(backend):
    x = uf.tensor([[1.0, 2.0]], dtype=uf.float32, device="cpu")
    assert x.shape == (1, 2) and x.ndim == 2 and x.dtype == uf.float32
    assert x.device == "cpu" and uf.devices() == ["cpu"]
    np.testing.assert_array_equal(np.asarray(x), [[1.0, 2.0]])
    r = repr(x)
    assert backend in r and "float32" in r and "cpu" in r and "2." in r
    assert uf.from_native(x.native).native is x.native


@pytest.mark.parametrize("dtype", _dtypes.all_dtypes, ids=str)
def test_every_dtype_round_trips_through_numpy(backend, dtype):
    src = np.arange(6).reshape(2, 3).astype(dtype.numpy_dtype)
    x = uf.asarray(src)
    assert x.dtype is dtype
    out = x.numpy()
    assert out.dtype == dtype.numpy_dtype
    np.testing.assert_array_equal(out, src)


def test_tensors_are_immutable_and_at_updates_copy(backend):
    x = uf.zeros((4,))
    with pytest.raises(TypeError):
        x[0] = 1.0
    y = x.at[1].set(5.0).at[uf.tensor([0, 0])].add(1.0)
    np.testing.assert_array_equal(y.numpy(), [2.0, 5.0, 0.0, 0.0])
    np.testing.assert_array_equal(x.numpy(), np.zeros(4))


def test_mixing_backends_raises(backend):
    others = [b for b in uf.available_backends() if b != backend]
    if not others:
        pytest.skip("only one backend installed")
    x = uf.ones((2,))
    with uf.use_backend(others[0]):
        y = uf.ones((2,))
    with pytest.raises(uf.BackendMismatchError):
        x + y
    with pytest.raises(uf.BackendMismatchError):
        uf.matmul(x, y)


@pytest.mark.parametrize("case", ["add", "matmul", "reshape", "concat"])
def test_shape_errors_same_class_everywhere(backend, case):
    a = uf.ones((2, 3))
    b = uf.ones((4, 5))
    with pytest.raises(uf.ShapeError) as ei:
        if case == "add":
            a + b
        elif case == "matmul":
            a @ b
        elif case == "reshape":
            uf.reshape(a, (7,))
        else:
            uf.concat([a, b], axis=0)
    msg = str(ei.value)
    assert backend in msg and "(2, 3)" in msg
    assert ei.value.__cause__ is not None or case in ("add", "matmul")


def test_dtype_error_names_op(backend):
    x = uf.ones((2,), dtype=uf.int64)
    with pytest.raises(uf.DTypeError, match="sqrt"):
        uf.sqrt(x)


def test_device_api(backend):
    assert "cpu" in uf.devices()
    with uf.device("cpu"):
        z = uf.zeros((3,))
    assert z.device == "cpu"
    assert z.to("cpu").device == "cpu"
    with pytest.raises(uf.DeviceNotAvailable):
        with uf.device("gpu:7"):
            pass


# ---------------------------------------------------------------- randomness
def test_random_streams_identical_across_backends():
    ref = None
    for name in uf.available_backends():
        with uf.use_backend(name):
            k1, k2 = uf.random.split(uf.random.key(42))
            vals = (uf.random.normal(k1, (64,)).numpy(), uf.random.uniform(k2, (64,)).numpy(),
                    uf.random.randint(k2, (16,), 0, 10).numpy(),
                    uf.random.permutation(k1, 10).numpy())
        if ref is None:
            ref = vals
        else:
            for a, b in zip(ref, vals):
                np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-6)


def test_random_distributions(backend):
    n = 20000
    k = uf.random.key(0)
    u = uf.random.uniform(k, (n,), dtype=uf.float64).numpy()
    assert u.min() >= 0.0 and u.max() < 1.0
    # mean of U(0,1): sd of the sample mean is sqrt(1/12/n) ~ 0.002; allow 5 sd
    assert abs(u.mean() - 0.5) < 5 * np.sqrt(1 / 12 / n)
    z = uf.random.normal(k, (n,)).numpy()
    assert abs(z.mean()) < 5 / np.sqrt(n) and abs(z.std() - 1) < 0.03
    r = uf.random.randint(k, (n,), 3, 7).numpy()
    assert set(np.unique(r)) == {3, 4, 5, 6}
    p = uf.random.permutation(k, 50).numpy()
    assert sorted(p.tolist()) == list(range(50))
    b = uf.random.bernoulli(k, 0.3, (n,)).numpy()
    assert b.dtype == np.bool_ and abs(b.mean() - 0.3) < 5 * np.sqrt(0.21 / n)
    k1, k2 = uf.random.split(k)
    assert not np.array_equal(uf.random.normal(k1, (8,)).numpy(),
                              uf.random.normal(k2, (8,)).numpy())


@pytest.mark.parametrize("only", ["torch", "tensorflow", "jax", "numpy"])
def test_works_with_only_one_framework_installed(tmp_path, only):
    """Hide the other frameworks (as if not installed): unifw still imports, lists only what is
    there, runs on it, and explains how to install a missing one."""
    if only not in uf.available_backends():
        pytest.skip(f"{only} not installed")
    hidden = [m for m in ("torch", "tensorflow", "jax") if m != only]
    (tmp_path / "sitecustomize.py").write_text(
        "import sys\n" + "".join(f"sys.modules[{m!r}] = None\n" for m in hidden))
    code = ("import unifw as uf, sys\n"
            "print(','.join(uf.available_backends()))\n"
            "x = uf.ones((2, 2)) @ uf.ones((2, 2))\n"
            "print(uf.backend(), float(x.sum()))\n"
            f"missing = {hidden[0]!r}\n"
            "try:\n    uf.set_backend(missing)\nexcept uf.BackendNotAvailable as e:\n"
            "    print('ERR', e)\n")
    out = run_py(code, PYTHONPATH=str(tmp_path), UNIFW_BACKEND="")
    lines = out.splitlines()
    expected = [n for n in ("torch", "jax", "tensorflow", "numpy") if n == only or n == "numpy"]
    assert lines[0] == ",".join(expected)
    assert lines[1] == f"{only} 8.0"
    assert lines[2].startswith("ERR") and f"unifw[{hidden[0]}]" in lines[2]
