"""DLPack exchange between backends (memory alignment, strides, bfloat16), bfloat16 products of
the NumPy backend, the Array API surface of tensors (``to_device``, ``__array_namespace__``)
and out-of-range index errors. NumPy is the oracle throughout."""
from __future__ import annotations

import subprocess
import sys

import ml_dtypes
import numpy as np
import pytest

import unifw as uf

BF16 = ml_dtypes.bfloat16


def at_offset(values, offset):
    """Copy of 1-d ``values`` whose data starts ``offset`` bytes past a 64-byte boundary."""
    values = np.asarray(values)
    nbytes = values.nbytes
    buf = np.zeros(nbytes + 128, np.uint8)
    start = (-buf.ctypes.data) % 64 + offset
    out = buf[start:start + nbytes].view(values.dtype)
    out[...] = values
    return out


def source(backend_name, values):
    """``values`` as a unifw tensor of ``backend_name``."""
    pytest.importorskip({"torch": "torch", "tensorflow": "tensorflow", "jax": "jax",
                         "numpy": "numpy"}[backend_name])
    with uf.use_backend(backend_name):
        return uf.asarray(values)


# ---------------------------------------------------------------- from_dlpack into TensorFlow
@pytest.fixture
def on_tf():
    pytest.importorskip("tensorflow")
    with uf.use_backend("tensorflow"):
        yield


MISALIGNED_SCRIPT = """
import numpy as np, unifw as uf
uf.set_backend("tensorflow")
for offset in (4, 8, 16, 32, 48):
    buf = np.zeros(256, np.uint8)
    start = (-buf.ctypes.data) % 64 + offset
    a = buf[start:start + 20].view(np.float32)
    a[:] = np.arange(5)
    y = uf.from_dlpack(a)
    np.testing.assert_array_equal((y + y).numpy(), 2 * np.arange(5, dtype=np.float32))
print("ok")
"""


def test_misaligned_numpy_buffer_does_not_abort_tensorflow():
    pytest.importorskip("tensorflow")
    # in a subprocess: before the fix TensorFlow aborted the interpreter (SIGABRT)
    done = subprocess.run([sys.executable, "-c", MISALIGNED_SCRIPT], capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0 and "ok" in done.stdout, done.stderr[-2000:]


@pytest.mark.parametrize("offset", [4, 16, 32, 48])
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int32, np.float16, BF16,
                                   np.complex64, np.bool_])
def test_misaligned_buffer_is_copied_into_tensorflow(on_tf, offset, dtype):
    ref = np.array([1, 0, 3, 2, 5]).astype(dtype)
    a = at_offset(ref, offset)
    y = uf.from_dlpack(a)
    assert y.dtype is uf._dtypes.from_numpy_dtype(ref.dtype)
    np.testing.assert_array_equal(uf.flip(y).numpy(), ref[::-1])  # a kernel reads it
    a[0] = ref[1]
    np.testing.assert_array_equal(y.numpy(), ref)  # a copy, not a view


def test_aligned_buffer_is_still_shared_with_tensorflow(on_tf):
    a = at_offset(np.arange(5, dtype=np.float32), 0)
    y = uf.from_dlpack(a)
    a[0] = 42.0
    np.testing.assert_array_equal((y + 0.0).numpy(), [42.0, 1.0, 2.0, 3.0, 4.0])


def test_asarray_copy_false_refuses_a_buffer_tensorflow_cannot_share(on_tf):
    with pytest.raises(ValueError, match="aligned"):
        uf.asarray(at_offset(np.arange(5, dtype=np.float32), 16), copy=False)
    a = at_offset(np.arange(5, dtype=np.float32), 0)
    x = uf.asarray(a, copy=False)
    a[1] = 7.0
    np.testing.assert_array_equal(x.numpy(), [0.0, 7.0, 2.0, 3.0, 4.0])


def test_zero_d_numpy_backend_results_into_tensorflow(on_tf):
    with uf.use_backend("numpy"):
        scalars = [uf.sum(uf.asarray(np.arange(4.0, dtype=np.float32))),
                   uf.asarray(np.float32(2.5)), uf.max(uf.asarray(np.arange(3)))]
    for s in scalars:
        y = uf.from_dlpack(s)
        np.testing.assert_array_equal((y + y).numpy(), 2 * s.numpy())


def strided_cases():
    base = np.arange(24, dtype=np.float32).reshape(4, 6)
    return {"transposed": base.T, "step": base[:, ::2], "reversed": base[::-1, ::-3],
            "column": base[:, 1], "broadcast": np.broadcast_to(base[0], (3, 6))}


@pytest.mark.parametrize("case", list(strided_cases()))
def test_strided_numpy_into_tensorflow_copies_the_values(on_tf, case):
    ref = strided_cases()[case]
    y = uf.from_dlpack(ref)
    assert y.shape == ref.shape
    np.testing.assert_array_equal((y * 1.0).numpy(), ref)


@pytest.mark.parametrize("case", ["transposed", "step", "column", "broadcast"])
@pytest.mark.parametrize("dtype", ["float32", "bfloat16"])
def test_strided_torch_into_tensorflow_copies_the_values(on_tf, case, dtype):
    torch = pytest.importorskip("torch")
    ref = strided_cases()[case]
    base = torch.arange(24.0).reshape(4, 6).to(getattr(torch, dtype))
    t = {"transposed": base.T, "step": base[:, ::2], "column": base[:, 1],
         "broadcast": base[0].expand(3, 6)}[case]
    y = uf.from_dlpack(t)
    assert y.dtype is uf._dtypes.as_dtype(dtype)
    np.testing.assert_array_equal((y * 1).numpy().astype(np.float32), ref)


def test_torch_tensor_that_requires_grad_into_tensorflow(on_tf):
    torch = pytest.importorskip("torch")
    t = torch.arange(4.0, requires_grad=True)
    np.testing.assert_array_equal(uf.from_dlpack(t).numpy(), np.arange(4.0))


# ---------------------------------------------------------------- bfloat16 into NumPy
@pytest.mark.parametrize("src_backend", ["torch", "tensorflow", "jax"])
@pytest.mark.parametrize("native", [False, True], ids=["tensor", "native"])
def test_bfloat16_from_dlpack_into_numpy(src_backend, native):
    ref = np.array([[1.5, -2.25, 3.0], [0.0, 1e3, -7.5]], dtype=BF16)
    x = source(src_backend, ref)
    with uf.use_backend("numpy"):
        y = uf.from_dlpack(x.native if native else x)
        assert y.backend_name == "numpy" and y.dtype is uf.bfloat16
        assert y.native.dtype == BF16
        np.testing.assert_array_equal(y.numpy(), ref)
        np.testing.assert_array_equal((y + y).numpy(), ref + ref)


def test_strided_bfloat16_torch_into_numpy():
    torch = pytest.importorskip("torch")
    t = torch.arange(12.0).reshape(3, 4).to(torch.bfloat16)
    with uf.use_backend("numpy"):
        y = uf.from_dlpack(t.T[::2])
    np.testing.assert_array_equal(y.numpy(), np.arange(12.0).reshape(3, 4).T[::2].astype(BF16))


# ---------------------------------------------------------------- NumPy backend products
PRODUCTS = {
    "matmul": lambda a, b, v: a @ b,
    "matvec": lambda a, b, v: uf.matmul(a, v),
    "vecdot": lambda a, b, v: uf.vecdot(a, b),
    "tensordot": lambda a, b, v: uf.tensordot(a, b, axes=1),
    "linalg.matmul": lambda a, b, v: uf.linalg.matmul(a, b),
    "linalg.vecdot": lambda a, b, v: uf.linalg.vecdot(v, v),
    "linalg.tensordot": lambda a, b, v: uf.linalg.tensordot(a, b, axes=([0, 1], [1, 0])),
    "linalg.outer": lambda a, b, v: uf.linalg.outer(v, v),
    "matrix_power": lambda a, b, v: uf.linalg.matrix_power(a, 3),
    "vector_norm": lambda a, b, v: uf.linalg.vector_norm(a),
    "matrix_norm": lambda a, b, v: uf.linalg.matrix_norm(a),
    "linear": lambda a, b, v: uf.nn.functional.linear(a, b),
}
PRODUCTS_NP = {
    "matmul": lambda a, b, v: a @ b,
    "matvec": lambda a, b, v: a @ v,
    "vecdot": lambda a, b, v: (a * b).sum(-1),
    "tensordot": lambda a, b, v: np.tensordot(a, b, axes=1),
    "linalg.matmul": lambda a, b, v: a @ b,
    "linalg.vecdot": lambda a, b, v: v @ v,
    "linalg.tensordot": lambda a, b, v: np.tensordot(a, b, axes=([0, 1], [1, 0])),
    "linalg.outer": lambda a, b, v: np.outer(v, v),
    "matrix_power": lambda a, b, v: a @ a @ a,
    "vector_norm": lambda a, b, v: np.sqrt((a * a).sum()),
    "matrix_norm": lambda a, b, v: np.sqrt((a * a).sum()),
    "linear": lambda a, b, v: a @ b.T,
}


@pytest.mark.parametrize("op", list(PRODUCTS))
@pytest.mark.parametrize("dtype", [uf.bfloat16, uf.float16])
def test_numpy_backend_products_keep_low_precision_dtypes(op, dtype):
    rng = np.random.default_rng(0)
    a, b = (rng.uniform(-1, 1, (4, 4)).astype(dtype.numpy_dtype) for _ in range(2))
    v = rng.uniform(-1, 1, 4).astype(dtype.numpy_dtype)
    with uf.use_backend("numpy"):
        out = PRODUCTS[op](uf.asarray(a), uf.asarray(b), uf.asarray(v))
    assert out.dtype is dtype
    f64 = [x.astype(np.float64) for x in (a, b, v)]
    expected = PRODUCTS_NP[op](*f64)
    tol = 4 * float(uf.finfo(dtype).eps) * max(1.0, float(np.abs(expected).max()))
    np.testing.assert_allclose(out.numpy().astype(np.float64), expected, atol=tol * 4)


def test_numpy_backend_bfloat16_matmul_agrees_with_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(1)
    a = rng.standard_normal((8, 16)).astype(BF16)
    b = rng.standard_normal((16, 4)).astype(BF16)
    with uf.use_backend("torch"):
        expected = (uf.asarray(a) @ uf.asarray(b)).numpy()
    with uf.use_backend("numpy"):
        out = (uf.asarray(a) @ uf.asarray(b)).numpy()
    assert out.dtype == BF16 and torch is not None
    np.testing.assert_array_equal(out, expected)


# ---------------------------------------------------------------- Array API surface
def test_to_device_moves_like_to(backend):
    x = uf.asarray(np.arange(3.0, dtype=np.float32))
    y = x.to_device("cpu")
    assert y.device == "cpu" and y.backend_name == backend
    np.testing.assert_array_equal(y.numpy(), np.arange(3.0))
    assert x.to_device(x.device).device == x.to("cpu").device
    with pytest.raises(ValueError, match="stream"):
        x.to_device("cpu", stream=1)
    with pytest.raises(uf.DeviceNotAvailable):
        x.to_device("gpu:99")


def test_array_namespace_checks_api_version():
    x = uf.ones((2,))
    xp = x.__array_namespace__()
    assert xp.__array_api_version__ == "2023.12"
    for ok in (None, "2021.12", "2022.12", "2023.12"):
        assert x.__array_namespace__(api_version=ok) is xp
    for bad in ("2024.12", "2025.12", "2020.10", "latest"):
        with pytest.raises(ValueError):
            x.__array_namespace__(api_version=bad)


# ---------------------------------------------------------------- out-of-range indices
OUT_OF_RANGE = {
    "set": lambda x: x.at[5].set(0.0),
    "set_negative": lambda x: x.at[-4].set(0.0),
    "add": lambda x: x.at[3].add(1.0),
    "set_too_many": lambda x: x.at[0, 0].set(1.0),
    "set_array": lambda x: x.at[uf.asarray(np.array([0, 5]))].set(0.0),
    "get": lambda x: x[5],
    "get_negative": lambda x: x[-4],
    "get_too_many": lambda x: x[0, 0],
}
NUMPY_KEYS = {"set": 5, "set_negative": -4, "add": 3, "set_too_many": (0, 0),
              "set_array": np.array([0, 5]), "get": 5, "get_negative": -4, "get_too_many": (0, 0)}


@pytest.mark.parametrize("case", list(OUT_OF_RANGE))
def test_out_of_range_index_is_the_same_error_everywhere(backend, case):
    with pytest.raises(IndexError):  # the oracle
        np.arange(3.0)[NUMPY_KEYS[case]]
    x = uf.asarray(np.arange(3.0, dtype=np.float32))
    with pytest.raises(uf.IndexError) as ei:
        OUT_OF_RANGE[case](x)
    assert isinstance(ei.value, IndexError) and not isinstance(ei.value, uf.ShapeError)
    np.testing.assert_array_equal(x.numpy(), np.arange(3.0))
