"""JAX backend specifics through the public API: dtypes, devices, zero-copy exchange,
variables, tracing, indexing, and the nn ops of the JAX and NumPy (reference) backends.

Oracles are independent of the code under test: NumPy's own indexing and ``ufunc.at``,
NumPy float64 formulas, and ``torch.nn.functional`` evaluated in float64.
"""
from __future__ import annotations

import math

import numpy as np
import pytest

jax = pytest.importorskip("jax")
jnp = jax.numpy

import unifw as uf  # noqa: E402
import unifw.nn.functional as F  # noqa: E402
from unifw.variable import Variable  # noqa: E402

GPUS = [d for d in jax.devices() if d.platform == "gpu"]
gpu = pytest.mark.skipif(not GPUS, reason="needs a GPU visible to JAX")


def _selected(config, name):
    want = config.getoption("--backends")
    return want in ("", "all") or name in [w.strip() for w in want.split(",")]


@pytest.fixture
def on_jax(request):
    if not _selected(request.config, "jax"):
        pytest.skip("jax not selected with --backends")
    with uf.use_backend("jax"):
        yield


@pytest.fixture(params=["jax", "numpy"])
def nn_backend(request):
    """The backends whose nn ops live next to this file: JAX and the NumPy reference."""
    if not _selected(request.config, request.param):
        pytest.skip(f"{request.param} not selected with --backends")
    with uf.use_backend(request.param):
        yield request.param


def rand(*shape, seed=0, dtype=np.float32):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


# ---------------------------------------------------------------- dtypes
@pytest.mark.parametrize("dt", uf._dtypes.all_dtypes, ids=str)
def test_dtype_round_trip_through_numpy(on_jax, dt):
    a = np.array([[0, 1, 2], [3, 1, 0]]).astype(dt.numpy_dtype)
    x = uf.asarray(a)
    assert x.dtype is dt and x.native.dtype == dt.numpy_dtype
    back = x.numpy()
    assert back.dtype == dt.numpy_dtype
    np.testing.assert_array_equal(back, a)
    assert uf.zeros((2,), dtype=dt).native.dtype == dt.numpy_dtype
    assert uf.astype(uf.astype(x, uf.float64), dt).dtype is dt


def test_default_dtypes_follow_unifw_not_jax(on_jax):
    # JAX with x64 would give float64 for Python floats; unifw's defaults are PyTorch's
    assert uf.asarray(1.5).native.dtype == np.float32
    assert uf.asarray(3).native.dtype == np.int64
    assert uf.zeros((2,)).dtype is uf.float32 and uf.eye(2).dtype is uf.float32
    assert uf.arange(3).dtype is uf.int64 and uf.arange(0.0, 1.0, 0.25).dtype is uf.float32
    assert uf.full((2,), 1.5).dtype is uf.float32 and uf.full((2,), 1 + 2j).dtype is uf.complex64
    assert uf.full((2,), True).dtype is uf.bool and uf.linspace(0, 1, 3).dtype is uf.float32
    assert uf.fft.fftfreq(4).dtype is uf.float32


def test_x64_is_first_class(on_jax):
    x = uf.asarray(np.array([1e300, 2.0**60 + 1]))
    assert x.dtype is uf.float64 and x.native.dtype == np.float64
    big = uf.asarray(np.array([2**62, 3], np.int64))
    assert int(uf.sum(big)) == 2**62 + 3
    small = uf.asarray(np.array([100, 100, 100], np.int8))
    assert uf.sum(small).dtype is uf.int64 and int(uf.sum(small)) == 300  # no int8 overflow
    assert uf.cumulative_sum(uf.asarray(np.array([200, 100], np.uint8))).dtype is uf.int64
    assert uf.mean(uf.ones((3,), dtype=uf.float16)).dtype is uf.float16


# ---------------------------------------------------------------- devices
def test_device_reporting(on_jax):
    assert uf.devices() == ["cpu"] + [f"gpu:{i}" for i in range(len(GPUS))]
    x = uf.ones((2,), device="cpu")
    assert x.device == "cpu" and next(iter(x.native.devices())).platform == "cpu"
    assert x.to("cpu") is x
    y = uf.asarray([1.0, 2.0], device="cpu")
    assert y.native.committed  # placed explicitly: JAX will not move it silently
    with pytest.raises(uf.DeviceNotAvailable):
        uf.ones((2,), device=f"gpu:{len(GPUS)}")


@gpu
def test_gpu_placement_and_mismatch(on_jax):
    x = uf.ones((3,), device="gpu:0")
    assert x.device == "gpu:0" and next(iter(x.native.devices())) == GPUS[0]
    assert uf.default_device() == "gpu:0"
    y = x.to("cpu")
    assert y.device == "cpu" and y.native.committed
    np.testing.assert_array_equal(y.numpy(), np.ones(3, np.float32))
    with pytest.raises(uf.DeviceMismatchError):
        uf.add(x, y)
    with uf.device("cpu"):
        assert uf.zeros((1,)).device == "cpu"


# ---------------------------------------------------------------- exchange
def test_from_native_and_asarray_keep_the_jax_array(on_jax):
    a = jnp.arange(4.0, dtype=jnp.float32)
    assert uf.from_native(a).native is a
    assert uf.asarray(a).native is a
    with uf.use_backend("numpy"):
        assert uf.from_native(a).backend_name == "jax"  # found from the array's type


def test_asarray_copies_host_memory_and_numpy_is_a_writable_copy(on_jax):
    a = np.arange(6, dtype=np.float32)
    x = uf.asarray(a)
    a[0] = 100.0  # tensors are values: mutating the source must not show through
    assert x.numpy()[0] == 0.0
    out = x.numpy()
    out[1] = -1.0
    assert out.flags.writeable and x.numpy()[1] == 1.0
    np.testing.assert_array_equal(uf.asarray(np.arange(5)[::-1]).numpy(), [4, 3, 2, 1, 0])


def test_bfloat16_exchange(on_jax):
    import ml_dtypes

    a = np.array([1.5, -2.0, 3.25], dtype=ml_dtypes.bfloat16)
    x = uf.asarray(a)
    assert x.dtype is uf.bfloat16 and x.numpy().dtype == ml_dtypes.bfloat16
    np.testing.assert_array_equal(uf.astype(x, uf.float32).numpy(), a.astype(np.float32))
    y = uf.from_dlpack(a)  # NumPy cannot export bfloat16 through DLPack itself
    assert y.dtype is uf.bfloat16
    np.testing.assert_array_equal(y.numpy(), a)


def test_dlpack_exchange_with_numpy(on_jax):
    a = np.arange(6, dtype=np.int32).reshape(2, 3)
    x = uf.from_dlpack(a)
    assert x.dtype is uf.int32 and x.backend_name == "jax"
    np.testing.assert_array_equal(x.numpy(), a)
    np.testing.assert_array_equal(np.from_dlpack(x), a)


def test_dlpack_exchange_with_torch_is_zero_copy(on_jax):
    torch = pytest.importorskip("torch")
    t = torch.arange(4.0)
    x = uf.from_dlpack(t)
    assert x.backend_name == "jax" and x.dtype is uf.float32
    assert x.native.unsafe_buffer_pointer() == t.data_ptr()
    back = torch.from_dlpack(uf.asarray(np.arange(3.0)))
    np.testing.assert_array_equal(back.numpy(), np.arange(3.0))
    p = torch.nn.Parameter(torch.ones(2, dtype=torch.bfloat16))  # requires grad: detached
    assert uf.from_dlpack(p).dtype is uf.bfloat16
    view = torch.arange(6.0).reshape(2, 3)[:, ::2]  # strided: JAX needs a compact copy
    np.testing.assert_array_equal(uf.from_dlpack(view).numpy(), view.numpy())


def test_dlpack_from_another_unifw_backend(on_jax):
    with uf.use_backend("numpy"):
        n = uf.asarray(np.arange(4, dtype=np.int64))
    x = uf.from_dlpack(n)
    assert x.backend_name == "jax"
    np.testing.assert_array_equal(x.numpy(), np.arange(4))


# ---------------------------------------------------------------- variables
def test_variable_assign_replaces_the_array_and_value_is_a_snapshot(on_jax):
    v = Variable(uf.asarray([1.0, 2.0, 3.0]))
    first = v.native
    assert isinstance(first, jax.Array)
    snap = v.value
    v.assign(uf.asarray([4.0, 5.0, 6.0]))
    assert v.native is not first
    np.testing.assert_array_equal(v.numpy(), [4.0, 5.0, 6.0])
    np.testing.assert_array_equal(snap.numpy(), [1.0, 2.0, 3.0])
    np.testing.assert_array_equal(uf.add(v, 1.0).numpy(), [5.0, 6.0, 7.0])
    with pytest.raises(uf.ShapeError):
        v.assign(uf.ones((2,)))
    with pytest.raises(uf.DTypeError):
        v.assign(uf.ones((3,), dtype=uf.float64))


def test_variable_trainable_flag_reaches_the_store(on_jax):
    v = Variable(uf.asarray([1.0]), trainable=False)
    assert v._store.trainable is False
    v.trainable = True
    assert v._store.trainable is True
    steps = Variable(uf.asarray(0), trainable=False)
    steps.assign(uf.asarray(7))
    assert steps.item() == 7


# ---------------------------------------------------------------- tracing
def test_is_tracing_and_data_dependent_shapes_under_jit(on_jax):
    b = uf.get_backend("jax")
    seen = []

    def probe(a):
        seen.append(b.is_tracing(a))
        return a

    jax.jit(probe)(jnp.ones(2))
    assert seen == [True] and not b.is_tracing(jnp.ones(2))
    x = uf.asarray([1.0, -2.0, 3.0])
    with pytest.raises(uf.TracingError, match="data"):
        uf.function(lambda t: t[t > 0])(x)
    with pytest.raises(uf.TracingError):
        uf.function(uf.nonzero)(x)
    # a full-shape mask update is a select, so it traces
    got = uf.function(lambda t: t.at[t > 0].multiply(10.0))(x)
    np.testing.assert_array_equal(got.numpy(), [10.0, -2.0, 30.0])


# ---------------------------------------------------------------- indexing against NumPy
X = rand(4, 5, 6, seed=1)
MASK = np.random.default_rng(2).random((4, 5)) > 0.5
I = np.array
KEYS = [
    0, -1, (1, 2, 3), slice(1, 3), slice(None, None, 2), slice(None, None, -1), slice(3, 0, -2),
    slice(10, -10, -3), slice(0, 0, -1), (slice(None), slice(None, None, -2), 0), None,
    (0, None, slice(1, 3)), Ellipsis, (Ellipsis, 0), (Ellipsis, slice(4, 1, -1)), (),
    (Ellipsis, None, 1), I([0, 2, 3]), I([-1, 0, 0]), (I([0, 1]), I([2, 3])),
    (I([0, 1]), slice(None), I([2, 3])), (0, slice(None), I([1, 2])),
    (None, 0, slice(None), I([1, 2])), (1, I([0, 1]), slice(None, None, -1)),
    (I([[1], [2]]), slice(None), I([[3, 4]])), MASK, (MASK, 1), (MASK, slice(None, None, -1)),
    (1, I([True, False, True, True, False]), slice(2, 4)), (I(2), slice(None), I([1, 2])),
    (I([0, 1], dtype=np.uint8), 1), (Ellipsis, I([-6, 5])), (I([0, 1]), None, I([1, 2])),
    X > 0.5, True,
]


def _key(key):
    if isinstance(key, tuple):
        return tuple(_key(k) for k in key)
    return uf.asarray(key) if isinstance(key, np.ndarray) else key


def _ids(k):
    return repr(k).replace("\n", "")[:40]


@pytest.mark.parametrize("key", KEYS, ids=_ids)
def test_getitem_matches_numpy(on_jax, key):
    np.testing.assert_array_equal(uf.asarray(X)[_key(key)].numpy(), X[key])


_UFUNC = {"add": np.add, "multiply": np.multiply, "min": np.minimum, "max": np.maximum}
UPDATE_KEYS = [-1, (slice(None), slice(None, None, -2), 0), (0, None, slice(1, 3)),
               (Ellipsis, slice(4, 1, -1)), I([-1, 0, 0]), (I([0, 1]), slice(None), I([2, 3])),
               (None, 0, slice(None), I([1, 2])), (I([[1], [2]]), slice(None), I([[3, 4]])),
               (MASK, slice(None, None, -1)), (1, I([True, False, True, True, False]), 2),
               X > 0.5]


@pytest.mark.parametrize("mode", ["set", "add", "multiply", "min", "max"])
def test_index_update_matches_numpy(on_jax, mode):
    x = uf.asarray(X)
    for key in UPDATE_KEYS:
        values = rand(*X[key].shape, seed=3)
        expected = X.copy()
        if mode == "set":
            expected[key] = values
        else:
            _UFUNC[mode].at(expected, key, values)
        got = getattr(x.at[_key(key)], mode)(uf.asarray(values))
        np.testing.assert_allclose(got.numpy(), expected, rtol=1e-6, err_msg=_ids(key))
    np.testing.assert_array_equal(x.numpy(), X)  # the input is untouched


@pytest.mark.parametrize("mode", ["add", "multiply", "min", "max"])
def test_index_update_accumulates_duplicates(on_jax, mode):
    x = np.arange(6, dtype=np.int32)
    idx, vals = np.array([1, 1, 4, 1]), np.array([3, -2, 5, 7], dtype=np.int32)
    expected = x.copy()
    _UFUNC[mode].at(expected, idx, vals)
    got = getattr(uf.asarray(x).at[uf.asarray(idx)], mode)(uf.asarray(vals))
    np.testing.assert_array_equal(got.numpy(), expected)
    scalar = getattr(uf.asarray(X).at[uf.asarray(X > 0)], mode)(2.0)  # masked, scalar value
    expected = X.copy()
    _UFUNC[mode].at(expected, X > 0, 2.0)
    np.testing.assert_array_equal(scalar.numpy(), expected)


@pytest.mark.parametrize("key", [7, -8, (0, 6), (Ellipsis, 9), (slice(None), -7), I([0, 5]),
                                 I([-8]), (I([1]), I([6])), (I([True, False, True, True]), 6),
                                 (None, Ellipsis, I([[0], [-7]]))], ids=_ids)
def test_out_of_range_indices_raise_instead_of_clamping(on_jax, key):
    x = uf.asarray(X[:, 0])  # shape (4, 6)
    with pytest.raises(uf.IndexError):
        x[_key(key)]
    with pytest.raises(uf.IndexError):
        x.at[_key(key)].set(0.0)


def test_take_out_of_range_raises(on_jax):
    x = uf.arange(5)
    np.testing.assert_array_equal(uf.take(x, uf.asarray([-1, 0])).numpy(), [4, 0])
    with pytest.raises(uf.UnifwError, match="out of bounds"):
        uf.take(x, uf.asarray([-6]))
    with pytest.raises(uf.UnifwError, match="out of bounds"):
        uf.take_along_axis(x, uf.asarray([5]), axis=0)


def test_numpy_conventions_jax_lacks(on_jax):
    x = uf.asarray(np.array([-3, 5, 7], np.int32))
    zero = uf.asarray(np.array([0, 2, 0], np.int32))
    np.testing.assert_array_equal((x // zero).numpy(), [0, 2, 0])  # NumPy: n // 0 == 0
    np.testing.assert_array_equal((x % zero).numpy(), [0, 1, 0])
    f = uf.asarray([2.0, -3.0, 0.0])
    assert np.signbit(uf.remainder(f, -1.0).numpy()).all()  # zero takes the divisor's sign
    quotient = uf.floor_divide(uf.asarray([-1.0, 1.0]), uf.asarray([-4.0, -4.0])).numpy()
    np.testing.assert_array_equal(np.signbit(quotient), [False, True])  # the sign of x1 / x2
    with pytest.raises(uf.DTypeError):
        uf.searchsorted(uf.asarray(np.array([1, 2], np.int32)), uf.asarray([1.5]))
    u8 = uf.asarray(np.array([0, 3, 200], np.uint8))
    assert uf.clip(u8, -1, 4).dtype is uf.uint8
    np.testing.assert_array_equal(uf.clip(u8, -1, 4).numpy(), [0, 3, 4])
    a = rand(4, 4, seed=4).astype(np.float64)
    a[:, 3] = a[:, 0] * 1e-3  # singular values spread over three decades
    s = np.linalg.svd(a, compute_uv=False)
    assert int(uf.linalg.matrix_rank(uf.asarray(a), rtol=1e-2)) == int((s > s[0] * 1e-2).sum())
    nonsym = np.tril(a) + np.triu(np.full((4, 4), 50.0), 1)  # eigh reads the lower triangle
    lower = np.tril(a) + np.tril(a, -1).T
    np.testing.assert_allclose(uf.linalg.eigvalsh(uf.asarray(nonsym)).numpy(),
                               np.linalg.eigvalsh(lower), rtol=1e-10)


# ---------------------------------------------------------------- nn.functional vs torch
def _torch():
    return pytest.importorskip("torch")


def f64(a):
    return _torch().from_numpy(np.asarray(a, np.float64))


def close(got, expected, tol=1e-4):
    np.testing.assert_allclose(got.numpy(), expected.numpy(), rtol=tol, atol=tol)


@pytest.mark.filterwarnings("ignore:Using padding='same'")  # torch's, about its own speed
@pytest.mark.parametrize("stride,padding,dilation,groups", [
    (1, 0, 1, 1), (2, 1, 1, 1), (1, "same", 2, 1), (1, "valid", 1, 2),
    ((2, 1), (1, 2), (1, 2), 2), (1, "same", (1, 3), 4),
])
def test_conv2d(nn_backend, stride, padding, dilation, groups):
    F_t = _torch().nn.functional
    x, w, b = rand(2, 4, 9, 8, seed=5), rand(8, 4 // groups, 3, 2, seed=6), rand(8, seed=7)
    got = F.conv2d(uf.asarray(x), uf.asarray(w), uf.asarray(b), stride, padding, dilation, groups)
    close(got, F_t.conv2d(f64(x), f64(w), f64(b), stride, padding, dilation, groups))
    unbatched = F.conv2d(uf.asarray(x[0]), uf.asarray(w), None, stride, padding, dilation, groups)
    close(unbatched, F_t.conv2d(f64(x[0]), f64(w), None, stride, padding, dilation, groups))


def test_conv1d(nn_backend):
    F_t = _torch().nn.functional
    x, w = rand(2, 4, 11, seed=8), rand(6, 2, 3, seed=9)
    close(F.conv1d(uf.asarray(x), uf.asarray(w), None, 2, 1, 2, 2),
          F_t.conv1d(f64(x), f64(w), None, 2, 1, 2, 2))


@pytest.mark.parametrize("stride,padding,output_padding,groups,dilation", [
    (1, 0, 0, 1, 1), (2, 1, 1, 1, 1), (2, 0, 1, 2, 2), ((3, 2), (1, 0), (2, 1), 1, 1),
    (1, 3, 0, 4, 2),
])
def test_conv_transpose2d(nn_backend, stride, padding, output_padding, groups, dilation):
    F_t = _torch().nn.functional
    x, w, b = rand(2, 4, 5, 6, seed=10), rand(4, 8 // groups, 3, 3, seed=11), rand(8, seed=12)
    got = F.conv_transpose2d(uf.asarray(x), uf.asarray(w), uf.asarray(b), stride, padding,
                             output_padding, groups, dilation)
    close(got, F_t.conv_transpose2d(f64(x), f64(w), f64(b), stride, padding, output_padding,
                                    groups, dilation))


@pytest.mark.parametrize("kernel,stride,padding,dilation,ceil_mode", [
    (2, None, 0, 1, False), (3, 2, 1, 1, True), ((3, 2), (2, 1), (1, 0), (2, 1), False),
    (3, 2, 1, 2, True), (2, 2, 1, 1, True),
])
def test_max_pool2d(nn_backend, kernel, stride, padding, dilation, ceil_mode):
    F_t = _torch().nn.functional
    x = rand(2, 3, 9, 10, seed=13)
    got = F.max_pool2d(uf.asarray(x), kernel, stride, padding, dilation, ceil_mode)
    close(got, F_t.max_pool2d(f64(x), kernel, stride, padding, dilation, ceil_mode), 1e-6)


@pytest.mark.parametrize("kernel,stride,padding,ceil_mode,count_include_pad", [
    (2, None, 0, False, True), (3, 2, 1, True, True), (3, 2, 1, True, False),
    ((3, 2), (2, 1), (1, 1), False, False), (2, 2, 1, True, True),
])
def test_avg_pool2d(nn_backend, kernel, stride, padding, ceil_mode, count_include_pad):
    F_t = _torch().nn.functional
    x = rand(2, 3, 9, 10, seed=14)
    got = F.avg_pool2d(uf.asarray(x), kernel, stride, padding, ceil_mode, count_include_pad)
    close(got, F_t.avg_pool2d(f64(x), kernel, stride, padding, ceil_mode, count_include_pad))


def test_pool_arguments_pytorch_rejects(nn_backend):
    x = uf.asarray(rand(1, 1, 4, 4, seed=15))
    with pytest.raises(uf.ShapeError):
        F.max_pool2d(x, 2, 1, 2)  # padding above half the kernel
    with pytest.raises(uf.ShapeError):
        F.avg_pool2d(x, 5)  # window larger than the input


@pytest.mark.parametrize("size", [1, (4, 3), (None, 7), (5, 10)], ids=str)
def test_adaptive_avg_pool2d(nn_backend, size):
    F_t = _torch().nn.functional
    x = rand(2, 3, 9, 10, seed=15)
    close(F.adaptive_avg_pool2d(uf.asarray(x), size), F_t.adaptive_avg_pool2d(f64(x), size))


@pytest.mark.parametrize("mode", ["constant", "reflect", "replicate", "circular"])
@pytest.mark.parametrize("shape,pad", [((2, 3, 7), (2, 1)), ((2, 3, 5, 6), (1, 2, 2, 0)),
                                       ((3, 6), (-1, 3)), ((2, 3, 5, 6), (2, -1, -2, 3)),
                                       ((1, 2, 3, 4, 5), (1, 1, 2, 0, 0, 2))], ids=str)
def test_pad_modes(nn_backend, mode, shape, pad):
    F_t = _torch().nn.functional
    x = rand(*shape, seed=16)
    if mode == "constant":
        close(F.pad(uf.asarray(x), pad, mode, 1.5), F_t.pad(f64(x), pad, mode, 1.5), 0)
    else:
        close(F.pad(uf.asarray(x), pad, mode), F_t.pad(f64(x), pad, mode), 0)


def test_pad_integers_bools_and_bad_sizes(nn_backend):
    x = np.arange(12, dtype=np.int32).reshape(3, 4)
    got = F.pad(uf.asarray(x), (1, 2, 0, 1), value=7.9)
    assert got.dtype is uf.int32
    np.testing.assert_array_equal(got.numpy(), np.pad(x, ((0, 1), (1, 2)), constant_values=7))
    mask = F.pad(uf.asarray(np.ones((2, 2), bool)), (1, 0))
    np.testing.assert_array_equal(mask.numpy(), [[False, True, True], [False, True, True]])
    with pytest.raises(uf.ShapeError):
        F.pad(uf.asarray(rand(1, 2, 3)), (3, 0), "reflect")  # must stay below the size
    with pytest.raises(uf.ShapeError):
        F.pad(uf.asarray(rand(5)), (1, 1), "replicate")  # PyTorch needs a channel axis


@pytest.mark.parametrize("training", [True, False])
def test_batch_norm(nn_backend, training):
    F_t = _torch().nn.functional
    x = rand(4, 3, 5, 5, seed=17)
    rm, rv = rand(3, seed=18), np.abs(rand(3, seed=19)) + 0.5
    w, b = rand(3, seed=20), rand(3, seed=21)
    rm_t, rv_t = uf.asarray(rm), uf.asarray(rv)
    got = F.batch_norm(uf.asarray(x), rm_t, rv_t, uf.asarray(w), uf.asarray(b), training, 0.1,
                       1e-3)
    expected = F_t.batch_norm(f64(x), f64(rm), f64(rv), f64(w), f64(b), training, 0.1, 1e-3)
    close(got, expected)
    np.testing.assert_array_equal(rm_t.numpy(), rm)  # running statistics are left alone
    close(F.batch_norm(uf.asarray(x[:, :, 0, 0]), rm_t, rv_t, None, None, training),
          F_t.batch_norm(f64(x[:, :, 0, 0]), f64(rm), f64(rv), None, None, training))
    if training:
        with pytest.raises(uf.ShapeError):
            F.batch_norm(uf.asarray(x[:1, :, 0, 0]), rm_t, rv_t, None, None, True)


def test_layer_norm_and_activations(nn_backend):
    torch = _torch()
    F_t = torch.nn.functional
    x = rand(3, 4, 6, seed=22) * 8
    x[0, 0, :3] = [np.nan, np.inf, -np.inf]
    w, b = rand(6, seed=23), rand(6, seed=24)
    finite = x[1:]
    close(F.layer_norm(uf.asarray(finite), 6, uf.asarray(w), uf.asarray(b), 1e-3),
          F_t.layer_norm(f64(finite), (6,), f64(w), f64(b), 1e-3))
    close(F.layer_norm(uf.asarray(finite), (4, 6)), F_t.layer_norm(f64(finite), (4, 6)))
    ux, tx = uf.asarray(x), f64(x)
    for name in ("relu", "sigmoid", "silu", "tanh"):
        close(getattr(F, name)(ux), getattr(F_t, name)(tx))
    close(F.gelu(ux), F_t.gelu(tx))
    close(F.gelu(ux, approximate="tanh"), F_t.gelu(tx, approximate="tanh"))
    close(F.softplus(ux, 2.0, 1.0), F_t.softplus(tx, 2.0, 1.0))
    close(F.leaky_relu(ux, 0.2), F_t.leaky_relu(tx, 0.2))
    close(F.softmax(ux, 1), torch.softmax(tx, 1))
    close(F.log_softmax(ux), torch.log_softmax(tx, -1))
    close(F.logsumexp(ux), torch.logsumexp(tx, (0, 1, 2)))
    close(F.logsumexp(ux, 1, True), torch.logsumexp(tx, 1, True))
    wl, bl = rand(5, 6, seed=25), rand(5, seed=26)
    close(F.linear(uf.asarray(finite), uf.asarray(wl), uf.asarray(bl)),
          F_t.linear(f64(finite), f64(wl), f64(bl)))
    with pytest.raises(uf.DTypeError):  # PyTorch refuses mixed dtypes; nothing is promoted
        F.linear(uf.asarray(finite), uf.asarray(wl.astype(np.float64)))


def test_one_hot_and_embedding(nn_backend):
    torch = _torch()
    idx = np.array([[0, 2], [3, 2]], np.int32)
    oh = F.one_hot(uf.asarray(idx), 5)
    assert oh.dtype is uf.int64
    np.testing.assert_array_equal(oh.numpy(), np.eye(5, dtype=np.int64)[idx])
    assert F.one_hot(uf.asarray(idx)).shape == (2, 2, 4)
    with pytest.raises(uf.UnifwError):
        F.one_hot(uf.asarray(idx), 3)  # PyTorch raises; JAX would give a zero row
    w = rand(5, 3, seed=27)
    got = F.embedding(uf.asarray(idx), uf.asarray(w), padding_idx=2)
    np.testing.assert_array_equal(got.numpy(), torch.nn.functional.embedding(
        torch.from_numpy(idx).long(), torch.from_numpy(w), padding_idx=2).numpy())
    for bad in ([5], [-1]):
        with pytest.raises(uf.IndexError):
            F.embedding(uf.asarray(bad), uf.asarray(w))


def test_jax_gradients_follow_pytorch_conventions(on_jax):
    torch = _torch()
    idx = np.array([[0, 2], [3, 2]], np.int64)
    w = rand(5, 3, seed=28)
    g = uf.grad(lambda t: uf.sum(F.embedding(uf.asarray(idx), t, padding_idx=2) ** 2))(
        uf.asarray(w))
    wt = torch.from_numpy(w).requires_grad_()
    (torch.nn.functional.embedding(torch.from_numpy(idx), wt, padding_idx=2) ** 2).sum().backward()
    np.testing.assert_allclose(g.numpy(), wt.grad.numpy(), rtol=1e-6)
    x = np.array([-1.0, 0.0, 2.0], np.float32)
    g = uf.grad(lambda t: uf.sum(F.leaky_relu(t, 0.1)))(uf.asarray(x))
    xt = torch.from_numpy(x).requires_grad_()
    torch.nn.functional.leaky_relu(xt, 0.1).sum().backward()
    np.testing.assert_allclose(g.numpy(), xt.grad.numpy())  # slope at exactly 0, as torch
    img = rand(1, 2, 7, 8, seed=29)
    for dilation in (1, 2):  # JAX has no gradient for dilated windows: another code path

        def pooled(t, dilation=dilation):
            return uf.sum(F.max_pool2d(t, 3, 2, 1, dilation, True) ** 2)

        g = uf.function(uf.grad(pooled))(uf.asarray(img))
        it = torch.from_numpy(img).requires_grad_()
        (torch.nn.functional.max_pool2d(it, 3, 2, 1, dilation, True) ** 2).sum().backward()
        np.testing.assert_allclose(g.numpy(), it.grad.numpy(), rtol=1e-6)


def _attention_oracle(q, k, v, mask=None, causal=False, scale=None):
    q, k, v = (np.asarray(a, np.float64) for a in (q, k, v))
    s = q @ np.swapaxes(k, -1, -2) * (scale or 1 / math.sqrt(q.shape[-1]))
    if causal:
        s = np.where(np.tril(np.ones(s.shape[-2:], bool)), s, -np.inf)
    if mask is not None:
        s = np.where(mask, s, -np.inf) if mask.dtype == bool else s + mask
    w = np.exp(s - s.max(-1, keepdims=True))
    return (w / w.sum(-1, keepdims=True)) @ v


@pytest.mark.parametrize("mask_kind", [None, "bool", "float"])
@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("same_shapes", [False, True])
def test_scaled_dot_product_attention(nn_backend, mask_kind, causal, same_shapes):
    kv_len, v_dim = (4, 8) if same_shapes else (6, 5)  # same shapes take JAX's fused kernel
    q, k, v = rand(2, 3, 4, 8, seed=29), rand(2, 3, kv_len, 8, seed=30), rand(2, 3, kv_len, v_dim,
                                                                                seed=31)
    rng = np.random.default_rng(32)
    mask = None
    if mask_kind == "bool":
        mask = rng.random((4, kv_len)) > 0.3
        mask[:, 0] = True  # every row keeps a key
    elif mask_kind == "float":
        mask = rng.standard_normal((2, 1, 4, kv_len)).astype(np.float32)
    got = F.scaled_dot_product_attention(uf.asarray(q), uf.asarray(k), uf.asarray(v),
                                         None if mask is None else uf.asarray(mask),
                                         is_causal=causal, scale=0.3)
    np.testing.assert_allclose(got.numpy(), _attention_oracle(q, k, v, mask, causal, 0.3),
                               rtol=1e-4, atol=1e-5)


def test_attention_fully_masked_rows_give_zeros_like_pytorch(nn_backend):
    torch = _torch()
    q, k, v = rand(2, 4, 8, seed=33), rand(2, 6, 8, seed=34), rand(2, 6, 5, seed=35)
    mask = np.random.default_rng(36).random((4, 6)) > 0.3
    mask[1] = False
    got = F.scaled_dot_product_attention(uf.asarray(q), uf.asarray(k), uf.asarray(v),
                                         uf.asarray(mask))
    expected = torch.nn.functional.scaled_dot_product_attention(
        f64(q), f64(k), f64(v), attn_mask=torch.from_numpy(mask))
    close(got, expected)
    np.testing.assert_array_equal(got.numpy()[:, 1], 0.0)


def test_attention_dropout_uses_the_explicit_key(nn_backend):
    q, k, v = (uf.asarray(rand(2, 4, 8, seed=s)) for s in (37, 38, 39))
    key = uf.random.key(3)
    a = F.scaled_dot_product_attention(q, k, v, dropout_p=0.4, dropout_key=key)
    b = F.scaled_dot_product_attention(q, k, v, dropout_p=0.4, dropout_key=key)
    np.testing.assert_array_equal(a.numpy(), b.numpy())
    weights = F.softmax(uf.matmul(q, uf.matrix_transpose(k)) * (1 / math.sqrt(8)))
    expected = uf.matmul(F.dropout(weights, 0.4, key=key), v)
    np.testing.assert_allclose(a.numpy(), expected.numpy(), rtol=1e-5, atol=1e-6)
