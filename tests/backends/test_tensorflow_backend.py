"""TensorFlow backend specifics: dtypes, devices, zero-copy exchange, variables, indexing, the
places where TensorFlow's own kernels differ from the Array API, nn ops, graph mode.

Oracles are independent of the code under test: NumPy (float64 where it matters), NumPy's
own indexing and ``ufunc.at``, and ``torch.nn.functional`` evaluated in float64.
"""
from __future__ import annotations

import math

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")

import unifw as uf  # noqa: E402
import unifw.nn.functional as F  # noqa: E402
from unifw.variable import Variable  # noqa: E402

try:
    import torch

    F_torch = torch.nn.functional
except ImportError:  # torch.nn.functional is only the oracle of the nn tests
    torch = None
needs_torch = pytest.mark.skipif(torch is None, reason="torch.nn.functional is the oracle")

GPUS = tf.config.list_logical_devices("GPU")
gpu = pytest.mark.skipif(not GPUS, reason="needs a GPU visible to TensorFlow")


@pytest.fixture(autouse=True)
def tf_backend():
    with uf.use_backend("tensorflow"):
        yield


def rand(*shape, seed=0, dtype=np.float32):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


# ---------------------------------------------------------------- dtypes
DTYPES = {
    "bool": tf.bool, "int8": tf.int8, "int16": tf.int16, "int32": tf.int32, "int64": tf.int64,
    "uint8": tf.uint8, "float16": tf.float16, "bfloat16": tf.bfloat16, "float32": tf.float32,
    "float64": tf.float64, "complex64": tf.complex64, "complex128": tf.complex128,
}


@pytest.mark.parametrize("name", list(DTYPES))
def test_dtype_round_trip_through_numpy(name):
    dt = uf._dtypes.as_dtype(name)
    a = np.array([[0, 1, 2], [3, 1, 0]]).astype(dt.numpy_dtype)
    x = uf.asarray(a)
    assert x.dtype is dt and x.native.dtype == DTYPES[name]
    back = x.numpy()
    assert back.dtype == dt.numpy_dtype
    np.testing.assert_array_equal(back, a)
    assert uf.zeros((2,), dtype=dt).native.dtype == DTYPES[name]
    assert uf.astype(uf.astype(x, uf.complex128 if dt.is_complex else uf.float64), dt).dtype is dt


def test_default_dtypes_follow_pytorch():
    assert uf.asarray(1.5).native.dtype == tf.float32
    assert uf.asarray(3).native.dtype == tf.int64
    assert uf.zeros((2,)).native.dtype == tf.float32
    assert uf.full((2,), 7).native.dtype == tf.int64
    assert uf.arange(3).native.dtype == tf.int64
    assert uf.arange(0.0, 1.0, 0.25).native.dtype == tf.float32
    assert uf.fft.rfft(uf.ones((8,), dtype=uf.float16)).dtype is uf.complex64  # no upcast


def test_signed_zero_scalars_are_not_conflated():
    # TF's eager scalar cache treats -0.0 and 0.0 as one key
    x = uf.asarray([1.0, -2.0])
    for _ in range(2):
        assert np.all(np.signbit((x * -0.0).numpy()) == [True, False])
        assert np.all(np.signbit((x * 0.0).numpy()) == [False, True])
    assert np.signbit(uf.asarray(-0.0).numpy()) and not np.signbit(uf.asarray(0.0).numpy())


# ---------------------------------------------------------------- devices
def test_device_reporting():
    assert uf.devices() == ["cpu"] + [f"gpu:{i}" for i in range(len(GPUS))]
    assert uf.default_device() == ("gpu:0" if GPUS else "cpu")
    x = uf.ones((2,), device="cpu")
    assert x.device == "cpu" and "CPU" in x.native.device
    assert x.to("cpu") is x
    with pytest.raises(uf.DeviceNotAvailable):
        uf.ones((2,), device=f"gpu:{len(GPUS)}")


@gpu
def test_gpu_placement_transfer_and_mismatch():
    x = uf.ones((3,), device="gpu:0")
    assert x.device == "gpu:0" and "GPU:0" in x.native.device
    y = x.to("cpu")
    assert y.device == "cpu" and "CPU" in y.native.device
    np.testing.assert_array_equal(y.numpy(), np.ones(3, np.float32))
    with pytest.raises(uf.DeviceMismatchError):
        uf.add(x, y)  # TF itself would copy silently
    assert (x + 1.0).device == "gpu:0"  # Python scalars follow the tensor
    with uf.device("cpu"):
        assert uf.zeros((1,)).device == "cpu"


@gpu
def test_gpu_out_of_range_gather_raises_instead_of_returning_zeros():
    x = uf.arange(5, device="gpu:0")
    with pytest.raises(uf.UnifwError):
        uf.take(x, uf.asarray([7], device="gpu:0"))
    with pytest.raises(uf.IndexError):
        x[uf.asarray([0, 9], device="gpu:0")]
    with pytest.raises(uf.IndexError):
        F.one_hot(uf.asarray([4], device="gpu:0"), 3)


# ---------------------------------------------------------------- zero-copy exchange
def test_from_native_wraps_without_copying():
    t = tf.constant([1.0, 2.0])
    x = uf.from_native(t)
    assert x.native is t and x.dtype is uf.float32
    v = tf.Variable([1, 2])
    assert uf.from_native(v).native is v


def test_numpy_is_a_private_copy():
    x = uf.asarray(np.arange(4, dtype=np.float32))
    out = x.numpy()
    out[0] = 100.0
    assert x.numpy()[0] == 0.0


def aligned(values):
    """Copy of ``values`` in a 64-byte aligned buffer: TensorFlow shares only such memory."""
    values = np.asarray(values)
    buf = np.zeros(values.nbytes + 64, np.uint8)
    start = (-buf.ctypes.data) % 64
    out = buf[start:start + values.nbytes].view(values.dtype).reshape(values.shape)
    out[...] = values
    return out


def test_asarray_copy_false_shares_numpy_memory():
    a = aligned(np.arange(4, dtype=np.float32))
    x = uf.asarray(a, copy=False)
    a[0] = 9.0
    assert x.numpy()[0] == 9.0
    copied = uf.asarray(a)
    a[1] = 5.0
    assert copied.numpy()[1] == 1.0  # the default copies: TF tensors are immutable
    with pytest.raises(ValueError):
        uf.asarray([1.0, 2.0], copy=False)


def test_dlpack_from_numpy_is_zero_copy_and_back():
    a = aligned(np.arange(6, dtype=np.float32).reshape(2, 3))
    x = uf.from_dlpack(a)
    assert x.backend_name == "tensorflow" and x.shape == (2, 3)
    a[0, 0] = 42.0  # shared memory: the tensor sees the write
    assert x.numpy()[0, 0] == 42.0
    np.testing.assert_array_equal(np.from_dlpack(x), a)


@pytest.mark.parametrize("name", ["bool", "int8", "uint8", "int64", "float16", "bfloat16",
                                  "complex128"])
def test_dlpack_dtypes(name):
    dt = uf._dtypes.as_dtype(name)
    a = np.array([1, 0, 1]).astype(dt.numpy_dtype)
    x = uf.from_dlpack(a)
    assert x.dtype is dt
    np.testing.assert_array_equal(x.numpy(), a)


@needs_torch
def test_dlpack_exchange_with_torch_and_jax():
    t = torch.arange(4.0)
    x = uf.from_dlpack(t)
    t[0] = 9.0  # zero-copy from torch
    assert x.numpy()[0] == 9.0
    back = torch.from_dlpack(x)
    np.testing.assert_array_equal(back.numpy(), [9.0, 1.0, 2.0, 3.0])
    jnp = pytest.importorskip("jax.numpy")
    np.testing.assert_array_equal(uf.from_dlpack(jnp.arange(3.0)).numpy(), [0.0, 1.0, 2.0])


# ---------------------------------------------------------------- variables
def test_variable_is_a_tf_variable_assigned_in_place():
    v = Variable(uf.asarray([1.0, 2.0, 3.0]))
    store = v.native
    assert isinstance(store, tf.Variable) and store.trainable
    snap = v.value
    doubled = uf.multiply(v, uf.asarray(2.0))
    v.assign(uf.asarray([4.0, 5.0, 6.0]))
    assert v.native is store  # same storage: GradientTapes and checkpoints keep tracking it
    np.testing.assert_array_equal(v.numpy(), [4.0, 5.0, 6.0])
    np.testing.assert_array_equal(snap.numpy(), [1.0, 2.0, 3.0])
    np.testing.assert_array_equal(doubled.numpy(), [2.0, 4.0, 6.0])


def test_ops_on_variables_return_values_not_aliases():
    v = Variable(uf.asarray([1.0, -2.0]))
    results = [uf.positive(v), uf.astype(v, uf.float32), uf.real(v), uf.conj(v), v[...],
               uf.clip(v), uf.squeeze(uf.expand_dims(v, axis=0), 0)]
    v.assign(uf.asarray([0.0, 0.0]))
    for r in results:
        assert not isinstance(r.native, tf.Variable)
        np.testing.assert_array_equal(r.numpy(), [1.0, -2.0])


def test_variable_trainable_flag_reaches_tensorflow():
    v = Variable(uf.asarray([1.0]), trainable=False)
    assert not v.native.trainable
    v.trainable = True
    assert v.native.trainable
    steps = Variable(uf.asarray(0))
    steps.assign(uf.asarray(7))
    assert steps.item() == 7 and steps.native.dtype == tf.int64


# ---------------------------------------------------------------- indexing against NumPy
X = rand(4, 5, 6, seed=1)
MASK = np.random.default_rng(2).random((4, 5)) > 0.5
I = np.array
KEYS = [
    0, -1, (1, 2, 3), slice(1, 3), slice(None, None, 2), slice(None, None, -1),
    slice(3, 0, -2), slice(10, -10, -3), slice(0, 0, -1), (slice(None), slice(None, None, -2), 0),
    None, (None, 0), (0, None, slice(1, 3), None, -1), Ellipsis, (Ellipsis, 0), (),
    (Ellipsis, None, 1), I([0, 2, 3]), I([-1, 0, 0]), (I([0, 1]), I([2, 3])),
    (I([0, 1]), slice(None), I([2, 3])), (0, slice(None), I([1, 2])), (slice(None), 0, I([1, 2])),
    (None, 0, slice(None), I([1, 2])), (1, I([0, 1]), slice(None, None, -1)),
    (I([[1], [2]]), slice(None), I([[3, 4]])), MASK, (MASK, 1), (MASK, slice(None, None, -1)),
    (1, I([True, False, True, True, False]), slice(2, 4)), (I(2), slice(None), I([1, 2])),
    (I([0, 1], dtype=np.uint8), 1), (I([0, 3], dtype=np.int8),), (slice(None), I([2, 2, 2])),
    (Ellipsis, I([-6, 5])), (I([0, 1]), None, I([1, 2])), X > 0.5, True, (0, False),
    (I([], dtype=np.int64),),
]


def _key(key):
    if isinstance(key, tuple):
        return tuple(_key(k) for k in key)
    return uf.asarray(key) if isinstance(key, np.ndarray) else key


@pytest.mark.parametrize("key", KEYS, ids=lambda k: repr(k)[:40])
def test_getitem_matches_numpy(key):
    np.testing.assert_array_equal(uf.asarray(X)[_key(key)].numpy(), X[key])


@pytest.mark.parametrize("key", [7, (0, 5), (0, 0, -7), (I([4]),), (slice(None), I([5])),
                                 I([True, False]), (Ellipsis, Ellipsis), 1.5])
def test_bad_keys_raise_index_error(key):
    with pytest.raises(uf.IndexError):
        uf.asarray(X)[_key(key)]


def test_out_of_range_gathers_raise_index_error():
    # TF reports these as InvalidArgumentError; unifw users get IndexError like NumPy
    x = uf.arange(5)
    with pytest.raises(uf.IndexError):
        uf.take(x, uf.asarray([5]))
    with pytest.raises(uf.IndexError):
        uf.take(x, uf.asarray([-6]))
    with pytest.raises(uf.IndexError):
        uf.take_along_axis(x, uf.asarray([7]), axis=0)
    with pytest.raises(uf.IndexError):
        F.embedding(uf.asarray([5]), uf.ones((5, 2)))
    with pytest.raises(uf.IndexError):
        uf.flip(uf.ones((2, 3)), axis=2)
    np.testing.assert_array_equal(uf.take(x, uf.asarray([-1, 0])).numpy(), [4, 0])


UPDATE_KEYS = [0, (1, slice(None, None, -2)), (Ellipsis, 3), (None, 2), I([0, 2, 3]),
               (I([0, 1]), slice(None), I([2, 3])), (slice(None), I([[0], [4]]), I([[1, 2]])),
               MASK, X > 0.5, (1, I([True, False, True, True, False]), slice(2, 4))]


@pytest.mark.parametrize("mode", ["set", "add", "multiply", "min", "max"])
@pytest.mark.parametrize("key", UPDATE_KEYS, ids=lambda k: repr(k)[:40])
def test_index_update_matches_numpy_at(key, mode):
    values = rand(*X[key].shape, seed=3)
    expected = X.copy()
    if mode == "set":
        expected[key] = values
    else:
        {"add": np.add, "multiply": np.multiply, "min": np.minimum,
         "max": np.maximum}[mode].at(expected, key, values)
    x = uf.asarray(X)
    got = getattr(x.at[_key(key)], mode)(uf.asarray(values))
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-6)
    np.testing.assert_array_equal(x.numpy(), X)


@pytest.mark.parametrize("mode", ["set", "add", "multiply", "min", "max"])
def test_index_update_with_a_scalar_and_a_full_mask(mode):
    mask = X > 0
    expected = X.copy()
    op = {"set": lambda a: np.full_like(a, 0.5), "add": lambda a: a + 0.5,
          "multiply": lambda a: a * 0.5, "min": lambda a: np.minimum(a, 0.5),
          "max": lambda a: np.maximum(a, 0.5)}[mode]
    expected[mask] = op(expected[mask])
    got = getattr(uf.asarray(X).at[uf.asarray(mask)], mode)(0.5)
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-6)


@pytest.mark.parametrize("mode", ["add", "multiply", "min", "max"])
def test_index_update_accumulates_duplicates(mode):
    x = np.arange(6, dtype=np.int32)
    idx, vals = np.array([1, 1, 4, 1]), np.array([3, -2, 5, 7], dtype=np.int32)
    expected = x.copy()
    getattr(np, {"add": "add", "multiply": "multiply", "min": "minimum",
                 "max": "maximum"}[mode]).at(expected, idx, vals)
    got = getattr(uf.asarray(x).at[uf.asarray(idx)], mode)(uf.asarray(vals))
    np.testing.assert_array_equal(got.numpy(), expected)


def test_indexing_inside_tf_function_with_a_dynamic_batch():
    idx = tf.constant([2, 0, -1])

    @tf.function(input_signature=[tf.TensorSpec([None, 5, 6], tf.float32)], autograph=False)
    def f(n):
        x = uf.from_native(n)
        y = x[:, idx, ::-1][x[:, :3, 0] > 0]
        z = x.at[:, 1].add(1.0).at[x < -1].set(-1.0)
        return y.native, z.native

    y, z = f(tf.constant(X))
    np.testing.assert_array_equal(y.numpy(), X[:, [2, 0, -1], ::-1][X[:, :3, 0] > 0])
    expected = X.copy()
    expected[:, 1] += 1.0
    expected[X < -1] = -1.0
    np.testing.assert_allclose(z.numpy(), expected, rtol=1e-6)


# ---------------------------------------------------------------- where TF's kernels differ
def test_argmax_argmin_return_the_first_nan():
    a = np.array([[np.inf, 1.0, np.nan, np.nan], [3.0, -np.inf, 1.0, -np.inf]], np.float32)
    for fn, ref in [(uf.argmax, np.argmax), (uf.argmin, np.argmin)]:
        np.testing.assert_array_equal(fn(uf.asarray(a), axis=1).numpy(), ref(a, axis=1))
        np.testing.assert_array_equal(fn(uf.asarray(a)).numpy(), ref(a))


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64, np.int8, np.uint8])
def test_sort_is_stable_with_nans_last(dtype):
    a = np.array([[3, 1, np.nan, 1, -0.0, 0.0, np.inf, np.nan, -np.inf, 2]] * 2, np.float64)
    if np.dtype(dtype).kind in "iu":
        a = np.array([[3, 1, 7, 1, 0, 0, 9, 7, 2, 2]] * 2)
    a = a.astype(dtype)
    x = uf.asarray(a)
    np.testing.assert_array_equal(uf.argsort(x, axis=1).numpy(), np.argsort(a, 1, kind="stable"))
    np.testing.assert_array_equal(uf.sort(x, axis=0).numpy(), np.sort(a, 0))
    # descending is stable too (ties keep their order) and puts NaNs first
    rev = len(a[0]) - 1 - np.argsort(a[:, ::-1], 1, kind="stable")[:, ::-1]
    np.testing.assert_array_equal(uf.argsort(x, axis=1, descending=True).numpy(), rev)


def test_integer_semantics_tf_kernels_lack():
    bits = np.array([0, 7, 8, 9, 60], np.uint8)
    u = np.array([1, 200, 200, 3, 5], np.uint8)
    np.testing.assert_array_equal(uf.bitwise_left_shift(uf.asarray(u), uf.asarray(bits)).numpy(),
                                  np.left_shift(u, bits))
    np.testing.assert_array_equal(
        uf.bitwise_right_shift(uf.asarray(u), uf.asarray(bits)).numpy(), np.right_shift(u, bits))
    i = np.array([-8, 8, -1, 1 << 40, 3], np.int64)
    s = np.array([63, 64, 100, 70, 1], np.int64)
    np.testing.assert_array_equal(uf.bitwise_right_shift(uf.asarray(i), uf.asarray(s)).numpy(),
                                  np.right_shift(i, s))
    np.testing.assert_array_equal(uf.bitwise_left_shift(uf.asarray(i), uf.asarray(s)).numpy(),
                                  np.left_shift(i, s))
    u8 = np.array([0, 3, 200], np.uint8)
    np.testing.assert_array_equal(uf.negative(uf.asarray(u8)).numpy(), np.negative(u8))
    np.testing.assert_array_equal(uf.abs(uf.asarray(u8)).numpy(), u8)
    np.testing.assert_array_equal((uf.asarray(u8) ** uf.asarray(u8 % 4)).numpy(), u8 ** (u8 % 4))
    np.testing.assert_array_equal(uf.clip(uf.asarray(u8), -1, 4).numpy(), [0, 3, 4])
    a8 = np.array([[100, -7], [3, 120]], np.int8)
    np.testing.assert_array_equal(uf.matmul(uf.asarray(a8), uf.asarray(a8)).numpy(), a8 @ a8)
    assert uf.sum(uf.asarray(a8)).dtype is uf.int64 and uf.sum(uf.asarray(a8)).item() == 216
    x, zero = np.array([-3, 5, 7], np.int32), np.array([0, 2, 0], np.int32)
    np.testing.assert_array_equal((uf.asarray(x) % uf.asarray(zero)).numpy(), [0, 1, 0])
    np.testing.assert_array_equal((uf.asarray(x) // uf.asarray(zero)).numpy(), [0, 2, 0])


def test_float_division_follows_python_and_numpy():
    a = np.array([5.0, -5.0, -0.0, 0.0, 1.0, 7.5, -6.0, 3.0], np.float64)
    b = np.array([np.inf, np.inf, 1.0, -1.0, 0.1, 0.0, 3.0, -np.inf], np.float64)
    for fn, ref in [(uf.remainder, np.remainder), (uf.floor_divide, np.floor_divide)]:
        with np.errstate(divide="ignore", invalid="ignore"):
            expected = ref(a, b)
        got = fn(uf.asarray(a), uf.asarray(b)).numpy()
        np.testing.assert_array_equal(got, expected)
        np.testing.assert_array_equal(np.signbit(got), np.signbit(expected))


def test_logaddexp_is_precise_at_extremes():
    a = np.array([0.0, 1000.0, -np.inf, np.inf, -np.inf, 1e-30, np.nan, -50.0])
    b = np.array([0.0, -1000.0, -np.inf, np.inf, 3.0, -1e-30, 1.0, -80.0])
    with np.errstate(invalid="ignore"):
        expected = np.logaddexp(a, b)
    np.testing.assert_allclose(uf.logaddexp(uf.asarray(a), uf.asarray(b)).numpy(), expected,
                               rtol=1e-15)


def test_special_values_tf_gets_wrong():
    np.testing.assert_array_equal(uf.hypot(uf.asarray([1e300, np.inf], dtype=uf.float64),
                                           uf.asarray([1e300, np.nan], dtype=uf.float64)).numpy(),
                                  np.hypot([1e300, np.inf], [1e300, np.nan]))
    c = np.array([np.inf + 0j, 8 + 0j], np.complex128)
    np.testing.assert_allclose(uf.log2(uf.asarray(c)).numpy(), np.log2(c))
    np.testing.assert_array_equal((uf.asarray([0j, 0j]) ** uf.asarray([0j, 2 + 0j])).numpy(),
                                  [1, 0])
    np.testing.assert_array_equal(uf.trunc(uf.asarray([-0.5, 0.5, -0.0])).numpy(),
                                  np.trunc([-0.5, 0.5, -0.0]))
    assert np.signbit(uf.trunc(uf.asarray([-0.5])).numpy()[0])
    with pytest.raises(uf.UnifwError):
        uf.max(uf.zeros((0, 3)), axis=0)  # TF returns -inf for an empty max


def test_bad_shapes_and_dtypes_raise_unifw_errors():
    with pytest.raises(uf.ShapeError):
        uf.tensordot(uf.ones((2, 3)), uf.ones((4,)))
    with pytest.raises(uf.ShapeError):
        uf.vecdot(uf.ones((2, 3)), uf.ones((2, 1)))  # no broadcasting of the contracted axis
    with pytest.raises(uf.DTypeError):
        uf.searchsorted(uf.asarray(np.array([1, 2], np.int32)), uf.asarray([1.5]))
    got = uf.searchsorted(uf.asarray(np.array([1, 3], np.int32)), uf.asarray([2, 3]), side="right")
    np.testing.assert_array_equal(got.numpy(), [1, 2])
    with pytest.raises(uf.UnifwError):
        uf.fft.rfft(uf.ones((4,)), n=0)  # TF's kernel would abort the process


def test_unique_sorts_and_counts_like_numpy():
    a = np.array([[3, 1, np.nan], [1, -0.0, 0.0]], np.float32)
    vals, idx, inv, cnt = uf.unique_all(uf.asarray(a))
    np.testing.assert_array_equal(vals.numpy(), [-0.0, 1, 3, np.nan])
    np.testing.assert_array_equal(idx.numpy(), [4, 1, 0, 2])
    np.testing.assert_array_equal(inv.numpy(), [[2, 1, 3], [1, 0, 0]])
    np.testing.assert_array_equal(cnt.numpy(), [2, 2, 1, 1])


def test_linalg_failures_and_precision():
    with pytest.raises(uf.UnifwError):  # TF's CPU kernel would return NaNs
        uf.linalg.cholesky(uf.asarray(-np.eye(3)))
    with pytest.raises(uf.UnifwError):  # and zeros for complex input
        uf.linalg.cholesky(uf.asarray(np.array([[1, 2], [2, 1]], np.complex64)))
    h = np.array([[2, 1j], [-1j, 3]], np.complex128)
    w = uf.linalg.eigvalsh(uf.asarray(h))
    assert w.dtype is uf.float64
    np.testing.assert_allclose(w.numpy(), np.linalg.eigvalsh(h))
    sign, logdet = uf.linalg.slogdet(uf.asarray(h))
    assert logdet.dtype is uf.float64
    np.testing.assert_allclose(logdet.numpy(), np.linalg.slogdet(h)[1])
    a = rand(3, 4, 4, seed=4, dtype=np.float64)
    b = rand(4, seed=5, dtype=np.float64)
    np.testing.assert_allclose(uf.linalg.solve(uf.asarray(a), uf.asarray(b)).numpy(),
                               np.linalg.solve(a, b[:, None])[..., 0], rtol=1e-10)
    np.testing.assert_allclose(uf.linalg.pinv(uf.asarray(a[0, :3])).numpy(),
                               np.linalg.pinv(a[0, :3]), rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("norm", ["backward", "ortho", "forward"])
def test_fft_float64_keeps_double_precision(norm):
    a = rand(4, 6, 5, seed=6, dtype=np.float64)
    np.testing.assert_allclose(uf.fft.fftn(uf.asarray(a), axes=(0, 2), norm=norm).numpy(),
                               np.fft.fftn(a, axes=(0, 2), norm=norm), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(uf.fft.irfft(uf.asarray(a), n=7, axis=1, norm=norm).numpy(),
                               np.fft.irfft(a, n=7, axis=1, norm=norm), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(uf.fft.hfft(uf.asarray(a), axis=0, norm=norm).numpy(),
                               np.fft.hfft(a, axis=0, norm=norm), rtol=1e-12, atol=1e-12)


# ---------------------------------------------------------------- nn.functional vs torch (float64)
def t64(a):
    return torch.from_numpy(np.asarray(a, np.float64))


def u64(a):
    return uf.asarray(np.asarray(a, np.float64))


def close(got, expected, tol=1e-10):
    np.testing.assert_allclose(got.numpy(), expected.detach().numpy(), rtol=tol, atol=tol)


@needs_torch
@pytest.mark.parametrize("stride,padding,dilation,groups", [
    (1, 0, 1, 1), (2, 1, 1, 2), (1, "same", 2, 1), (1, "valid", 1, 4),
    ((2, 1), (1, 2), (1, 2), 2), (2, 2, 2, 4),
])
def test_conv2d(stride, padding, dilation, groups):
    x, w, b = rand(2, 4, 9, 8, seed=5), rand(8, 4 // groups, 3, 3, seed=6), rand(8, seed=7)
    got = F.conv2d(u64(x), u64(w), u64(b), stride, padding, dilation, groups)
    close(got, F_torch.conv2d(t64(x), t64(w), t64(b), stride, padding, dilation, groups))
    got32 = F.conv2d(uf.asarray(x), uf.asarray(w), uf.asarray(b), stride, padding, dilation,
                     groups)
    assert got32.dtype is uf.float32
    close(got32, F_torch.conv2d(t64(x), t64(w), t64(b), stride, padding, dilation, groups), 1e-4)


@needs_torch
def test_conv1d_and_unbatched_input():
    x, w = rand(2, 3, 11, seed=8), rand(4, 3, 3, seed=9)
    close(F.conv1d(u64(x), u64(w), None, 2, 1), F_torch.conv1d(t64(x), t64(w), None, 2, 1))
    close(F.conv2d(u64(x[0, :, None]), u64(w[:, :, None]), None, 1, (0, 1)),
          F_torch.conv2d(t64(x[0, :, None]), t64(w[:, :, None]), None, 1, (0, 1)))


@needs_torch
@pytest.mark.parametrize("stride,padding,output_padding,groups,dilation", [
    (1, 0, 0, 1, 1), (2, 1, 1, 1, 1), (2, 0, 1, 2, 2), ((3, 2), (1, 0), (2, 1), 1, 1),
    (1, 3, 0, 2, 2),
])
def test_conv_transpose2d(stride, padding, output_padding, groups, dilation):
    x, w, b = rand(2, 4, 5, 6, seed=10), rand(4, 6 // groups, 3, 3, seed=11), rand(6, seed=12)
    got = F.conv_transpose2d(u64(x), u64(w), u64(b), stride, padding, output_padding, groups,
                             dilation)
    close(got, F_torch.conv_transpose2d(t64(x), t64(w), t64(b), stride, padding,
                                        output_padding, groups, dilation))


@needs_torch
@pytest.mark.parametrize("kernel,stride,padding,dilation,ceil_mode", [
    (2, None, 0, 1, False), (3, 2, 1, 1, True), ((3, 2), (2, 1), (1, 0), (2, 1), False),
    (3, 2, 1, 2, True), (2, 3, 0, 1, True),
])
def test_max_pool2d_propagates_nans(kernel, stride, padding, dilation, ceil_mode):
    x = rand(2, 3, 9, 10, seed=13).astype(np.float64)
    x[0, 0, 4, 4] = np.nan  # TF's pooling kernel would skip it
    got = F.max_pool2d(uf.asarray(x), kernel, stride, padding, dilation, ceil_mode)
    close(got, F_torch.max_pool2d(t64(x), kernel, stride, padding, dilation, ceil_mode))


@needs_torch
@pytest.mark.parametrize("special", ["nan", "inf_minus_inf", "finite"])
def test_max_pool2d_nans_in_graph_mode_and_its_gradient(special):
    # in a graph the NaN fix sits behind a tf.cond on the input's sum
    x = rand(2, 3, 8, 8, seed=14).astype(np.float64)
    if special == "nan":
        x[1, 2, 5, 6] = np.nan
    elif special == "inf_minus_inf":
        x[0, 1, 0, 0], x[1, 0, 7, 7] = np.inf, -np.inf

    @uf.function
    def pooled_and_grad(v):
        return uf.value_and_grad(lambda v: uf.sum(F.max_pool2d(v, 2) ** 2))(v), \
            F.max_pool2d(v, 2)

    for _ in range(2):
        (_, grad), got = pooled_and_grad(uf.asarray(x))
        close(got, F_torch.max_pool2d(t64(x), 2))
    if special == "finite":
        xt = t64(x).requires_grad_(True)
        (F_torch.max_pool2d(xt, 2) ** 2).sum().backward()
        close(grad, xt.grad)


@needs_torch
@pytest.mark.parametrize("kernel,stride,padding,ceil_mode,count_include_pad", [
    (2, None, 0, False, True), (3, 2, 1, True, True), (3, 2, 1, True, False),
    ((3, 2), (2, 1), (1, 1), False, False), (4, 3, 2, True, True),
])
def test_avg_pool2d(kernel, stride, padding, ceil_mode, count_include_pad):
    x = rand(2, 3, 9, 10, seed=14)
    got = F.avg_pool2d(u64(x), kernel, stride, padding, ceil_mode, count_include_pad)
    close(got, F_torch.avg_pool2d(t64(x), kernel, stride, padding, ceil_mode, count_include_pad))


@needs_torch
@pytest.mark.parametrize("size", [1, (4, 3), (3, 5), (None, 2)])
def test_adaptive_avg_pool2d(size):
    x = rand(2, 3, 9, 10, seed=15)
    close(F.adaptive_avg_pool2d(u64(x), size), F_torch.adaptive_avg_pool2d(t64(x), size))


_NP_PAD = {"constant": "constant", "reflect": "reflect", "replicate": "edge", "circular": "wrap"}


@pytest.mark.parametrize("mode", list(_NP_PAD))
@pytest.mark.parametrize("shape,pad", [((2, 3, 7), (2, 1)), ((2, 3, 5, 6), (1, 2, 2, 0)),
                                       ((2, 2, 3, 4, 5), (1, 1, 2, 0, 0, 2))])
def test_pad_modes_match_numpy(mode, shape, pad):
    x = rand(*shape, seed=16)
    widths = [(0, 0)] * (x.ndim - len(pad) // 2) + [
        (pad[2 * i], pad[2 * i + 1]) for i in reversed(range(len(pad) // 2))]
    kw = {"constant_values": 1.5} if mode == "constant" else {}
    expected = np.pad(x, widths, mode=_NP_PAD[mode], **kw)
    np.testing.assert_array_equal(F.pad(uf.asarray(x), pad, mode, 1.5).numpy(), expected)


def test_pad_integer_values_and_negative_widths():
    x = np.arange(12, dtype=np.int32).reshape(3, 4)
    np.testing.assert_array_equal(F.pad(uf.asarray(x), (1, -1), value=7).numpy(),
                                  np.pad(x, ((0, 0), (1, 0)), constant_values=7)[:, :4])


@needs_torch
def test_normalisation_and_activations():
    x = rand(4, 3, 5, 6, seed=17) * 3
    rm, rv, w, b = rand(3, seed=18), np.abs(rand(3, seed=19)) + 0.5, rand(3, seed=20), rand(3)
    for training in (False, True):
        close(F.batch_norm(u64(x), u64(rm), u64(rv), u64(w), u64(b), training, 0.1, 1e-3),
              F_torch.batch_norm(t64(x), t64(rm), t64(rv), t64(w), t64(b), training, 0.1, 1e-3))
    close(F.layer_norm(u64(x), (5, 6), u64(w[0] + x[0, 0]), u64(x[1, 1])),
          F_torch.layer_norm(t64(x), (5, 6), t64(w[0] + x[0, 0]), t64(x[1, 1])))
    ux, tx = u64(x), t64(x)
    close(F.gelu(ux), F_torch.gelu(tx))  # tf.nn.gelu would round its constants to float32
    close(F.gelu(ux, approximate="tanh"), F_torch.gelu(tx, approximate="tanh"))
    close(F.leaky_relu(ux, 0.01), F_torch.leaky_relu(tx, 0.01))
    close(F.softplus(ux, 2.0, 1.0), F_torch.softplus(tx, 2.0, 1.0))
    close(F.log_softmax(ux, 1), torch.log_softmax(tx, 1))
    close(F.logsumexp(ux, (0, 2), True), torch.logsumexp(tx, (0, 2), True))
    inf = np.array([np.inf, -np.inf, np.nan])
    close(F.gelu(u64(inf)), F_torch.gelu(t64(inf)))


def test_one_hot_and_embedding():
    idx = np.array([[0, 2], [3, 2]], np.int8)
    oh = F.one_hot(uf.asarray(idx))
    assert oh.dtype is uf.int64
    np.testing.assert_array_equal(oh.numpy(), np.eye(4, dtype=np.int64)[idx])
    with pytest.raises(uf.IndexError):  # tf.one_hot would give an all-zero row
        F.one_hot(uf.asarray(idx), 3)
    w = rand(5, 3, seed=21)
    np.testing.assert_array_equal(F.embedding(uf.asarray(idx), uf.asarray(w), -3).numpy(), w[idx])
    with pytest.raises(uf.UnifwError):
        F.embedding(uf.asarray([5]), uf.asarray(w))


@needs_torch
@pytest.mark.parametrize("mask_kind", [None, "bool", "float"])
@pytest.mark.parametrize("causal", [False, True])
def test_scaled_dot_product_attention(mask_kind, causal):
    q, k, v = rand(2, 3, 4, 8, seed=24), rand(2, 3, 6, 8, seed=25), rand(2, 3, 6, 5, seed=26)
    rng = np.random.default_rng(27)
    mask = None
    if mask_kind == "bool":
        mask = rng.random((4, 6)) > 0.3
        mask[:, 0] = True
    elif mask_kind == "float":
        mask = rng.standard_normal((2, 1, 4, 6))
    um = None if mask is None else uf.asarray(mask) if mask.dtype == bool else u64(mask)
    tm = None if mask is None else torch.from_numpy(mask) if mask.dtype == bool else t64(mask)
    got = F.scaled_dot_product_attention(u64(q), u64(k), u64(v), um, is_causal=causal, scale=0.3)
    if causal and mask is not None:  # torch takes one or the other: fold causality in
        tri = torch.ones(4, 6, dtype=torch.bool).tril()
        tm = tm & tri if mask.dtype == bool else tm.masked_fill(~tri, -math.inf)
    close(got, F_torch.scaled_dot_product_attention(t64(q), t64(k), t64(v), tm,
                                                    is_causal=causal and mask is None, scale=0.3))


def test_attention_row_with_nothing_to_attend_gives_zeros():
    q, k, v = (uf.asarray(rand(1, 3, 4, seed=s)) for s in (40, 41, 42))
    mask = np.ones((3, 3), bool)
    mask[1] = False
    out = F.scaled_dot_product_attention(q, k, v, uf.asarray(mask)).numpy()
    np.testing.assert_array_equal(out[0, 1], 0.0)
    assert np.all(np.isfinite(out))


# ---------------------------------------------------------------- gradients (tf.GradientTape)
def _tape_grads(fn, *arrays):
    xs = [tf.constant(np.asarray(a, np.float64)) for a in arrays]
    with tf.GradientTape() as tape:
        tape.watch(xs)
        y = fn(*[uf.from_native(x) for x in xs]).native
        weights = tf.constant(np.cos(np.arange(int(np.prod(y.shape)))).reshape(y.shape))
        loss = tf.reduce_sum(y * weights)
    return [tf.convert_to_tensor(g).numpy() for g in tape.gradient(loss, xs)]


def _torch_grads(fn, *arrays):
    xs = [t64(a).requires_grad_() for a in arrays]
    y = fn(*xs)
    (y * torch.from_numpy(np.cos(np.arange(y.numel())).reshape(y.shape))).sum().backward()
    return [x.grad.numpy() for x in xs]


@needs_torch
@pytest.mark.parametrize("name", ["grouped_conv", "dilated_conv", "depthwise_conv",
                                  "conv_transpose", "max_pool", "avg_pool", "batch_norm",
                                  "embedding_padding", "pad_replicate", "attention",
                                  "rfft_cropped", "irfft_padded", "logaddexp_tie", "hypot_tie"])
def test_float64_gradients_match_torch(name):
    # TF's CPU kernels lack float64 gradients for grouped and dilated convolutions: the
    # backend decomposes them, and the gradients must still be exact
    x4, w = rand(2, 4, 7, 6, seed=30), rand(6, 2, 3, 3, seed=31)
    cases = {
        "grouped_conv": (lambda x, w: F.conv2d(x, w, None, 2, 1, 1, 2),
                         lambda x, w: F_torch.conv2d(x, w, None, 2, 1, 1, 2), (x4, w)),
        "dilated_conv": (lambda x, w: F.conv2d(x, w, None, (2, 1), "valid", 2),
                         lambda x, w: F_torch.conv2d(x, w, None, (2, 1), "valid", 2),
                         (x4, rand(3, 4, 2, 2, seed=32))),
        "depthwise_conv": (lambda x, w: F.conv2d(x, w, None, (1, 2), 1, 1, 4),
                           lambda x, w: F_torch.conv2d(x, w, None, (1, 2), 1, 1, 4),
                           (x4, rand(8, 1, 3, 3, seed=33))),
        "conv_transpose": (lambda x, w: F.conv_transpose2d(x, w, None, 2, 1, 1, 2, 2),
                           lambda x, w: F_torch.conv_transpose2d(x, w, None, 2, 1, 1, 2, 2),
                           (x4, rand(4, 3, 3, 3, seed=34))),
        "max_pool": (lambda x: F.max_pool2d(x, 3, 2, 1, 1, True),
                     lambda x: F_torch.max_pool2d(x, 3, 2, 1, 1, True), (x4,)),
        "avg_pool": (lambda x: F.avg_pool2d(x, 3, 2, 1, True, False),
                     lambda x: F_torch.avg_pool2d(x, 3, 2, 1, True, False), (x4,)),
        "batch_norm": (lambda x, g: F.batch_norm(x, uf.zeros((4,), dtype=uf.float64),
                                                 uf.ones((4,), dtype=uf.float64), g, None, True),
                       lambda x, g: F_torch.batch_norm(x, None, None, g, None, True),
                       (x4, rand(4, seed=35))),
        "embedding_padding": (
            lambda e: F.embedding(uf.asarray(np.array([[1, 2, 2], [0, 1, 3]])), e, 2),
            lambda e: F_torch.embedding(torch.tensor([[1, 2, 2], [0, 1, 3]]), e, 2),
            (rand(5, 3, seed=36),)),
        "pad_replicate": (lambda x: F.pad(x, (1, 2, 2, 1), "replicate"),
                          lambda x: F_torch.pad(x, (1, 2, 2, 1), "replicate"), (x4,)),
        "attention": (lambda q, k, v: F.scaled_dot_product_attention(q, k, v, is_causal=True),
                      lambda q, k, v: F_torch.scaled_dot_product_attention(q, k, v,
                                                                           is_causal=True),
                      (rand(2, 3, 4, seed=37), rand(2, 5, 4, seed=38), rand(2, 5, 3, seed=39))),
        # TF's RFFT/IRFFT gradients are wrong when fft_length differs from the input length
        "rfft_cropped": (lambda x: uf.real(uf.fft.rfft(x, n=4)) + uf.imag(uf.fft.rfft(x, n=4)),
                         lambda x: torch.fft.rfft(x, n=4).real + torch.fft.rfft(x, n=4).imag,
                         (rand(2, 7, seed=40),)),
        "irfft_padded": (lambda x: uf.fft.irfft(x, n=12, norm="ortho"),
                         lambda x: torch.fft.irfft(x, n=12, norm="ortho"), (rand(2, 5, seed=41),)),
        # TF's maximum() sends the whole gradient of a tie to its first input
        "logaddexp_tie": (uf.logaddexp, torch.logaddexp, (np.array([0.5, -1.0, 3.0]),
                                                           np.array([0.5, 2.0, 3.0]))),
        "hypot_tie": (uf.hypot, torch.hypot, (np.array([0.5, -1.0, 3.0]),
                                              np.array([-0.5, 2.0, 3.0]))),
    }
    ours, theirs, arrays = cases[name]
    for g, e in zip(_tape_grads(ours, *arrays), _torch_grads(theirs, *arrays)):
        np.testing.assert_allclose(g, e, rtol=1e-9, atol=1e-10)
