"""PyTorch backend specifics: dtypes, devices, zero-copy exchange, variables, indexing, nn ops.

Oracles are independent of the code under test: NumPy (float64 where it matters), NumPy's
own indexing and ``ufunc.at``, and ``torch.nn.functional`` evaluated in float64.
"""
from __future__ import annotations

import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")
F_torch = torch.nn.functional

import unifw as uf  # noqa: E402
import unifw.nn.functional as F  # noqa: E402
from unifw.variable import Variable  # noqa: E402

HAS_GPU = torch.cuda.is_available()
gpu = pytest.mark.skipif(not HAS_GPU, reason="needs a CUDA GPU")


@pytest.fixture(autouse=True)
def torch_backend():
    with uf.use_backend("torch"):
        yield


def rand(*shape, seed=0, dtype=np.float32):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


# ---------------------------------------------------------------- dtypes
DTYPES = {
    "bool": torch.bool, "int8": torch.int8, "int16": torch.int16, "int32": torch.int32,
    "int64": torch.int64, "uint8": torch.uint8, "float16": torch.float16,
    "bfloat16": torch.bfloat16, "float32": torch.float32, "float64": torch.float64,
    "complex64": torch.complex64, "complex128": torch.complex128,
}


@pytest.mark.parametrize("name", list(DTYPES))
def test_dtype_round_trip_through_numpy(name):
    dt = uf._dtypes.as_dtype(name)
    a = np.array([[0, 1, 2], [3, 1, 0]]).astype(dt.numpy_dtype)
    x = uf.asarray(a)
    assert x.dtype is dt
    assert x.native.dtype == DTYPES[name]
    back = x.numpy()
    assert back.dtype == dt.numpy_dtype
    np.testing.assert_array_equal(back, a)
    # creation with an explicit dtype and an astype round trip
    assert uf.zeros((2,), dtype=dt).native.dtype == DTYPES[name]
    assert uf.astype(uf.astype(x, uf.float64), dt).dtype is dt


def test_default_dtypes_follow_pytorch():
    assert uf.asarray(1.5).native.dtype == torch.float32
    assert uf.asarray(3).native.dtype == torch.int64
    assert uf.zeros((2,)).native.dtype == torch.float32
    assert uf.arange(3).native.dtype == torch.int64
    assert uf.arange(0.0, 1.0, 0.25).native.dtype == torch.float32


def test_complex_results_never_use_complex32():
    x = uf.asarray(np.ones(8, np.float16))
    assert uf.fft.rfft(x).dtype is uf.complex64
    np.testing.assert_allclose(uf.fft.rfft(x).numpy(), np.fft.rfft(np.ones(8)), atol=1e-6)


# ---------------------------------------------------------------- devices
def test_device_reporting():
    expected = ["cpu"] + [f"gpu:{i}" for i in range(torch.cuda.device_count())]
    assert uf.devices() == expected
    x = uf.ones((2,), device="cpu")
    assert x.device == "cpu" and x.native.device.type == "cpu"
    assert x.to("cpu") is x
    with pytest.raises(uf.DeviceNotAvailable):
        uf.ones((2,), device=f"gpu:{torch.cuda.device_count()}")


@gpu
def test_gpu_placement_and_mismatch():
    x = uf.ones((3,), device="gpu:0")
    assert x.device == "gpu:0" and x.native.device == torch.device("cuda", 0)
    assert uf.default_device() == "gpu:0"
    y = x.to("cpu")
    assert y.device == "cpu"
    np.testing.assert_array_equal(y.numpy(), np.ones(3, np.float32))
    with pytest.raises(uf.DeviceMismatchError):
        uf.add(x, y)
    with pytest.raises(uf.DeviceMismatchError):
        uf.add(x, uf.asarray(1.0, device="cpu"))  # a 0-d CPU tensor too
    with uf.device("cpu"):
        assert uf.zeros((1,)).device == "cpu"


@gpu
def test_gpu_out_of_range_index_raises_instead_of_device_assert():
    x = uf.arange(5, device="gpu:0")
    with pytest.raises(uf.IndexError):
        uf.take(x, uf.asarray([7], device="gpu:0"))
    with pytest.raises(uf.IndexError):
        x[uf.asarray([0, 9], device="gpu:0")]
    np.testing.assert_array_equal(x[uf.asarray([-1, 0], device="gpu:0")].numpy(), [4, 0])


# ---------------------------------------------------------------- zero-copy exchange
def test_from_native_and_native_share_memory():
    t = torch.arange(4.0)
    x = uf.from_native(t)
    assert x.native is t and x.dtype is uf.float32
    p = torch.nn.Parameter(torch.ones(2))
    assert uf.from_native(p).native is p


def test_asarray_from_numpy_is_zero_copy_but_numpy_is_a_copy():
    a = np.arange(6, dtype=np.float32)
    x = uf.asarray(a)
    assert x.native.data_ptr() == a.ctypes.data
    out = x.numpy()
    out[0] = 100.0
    assert x.native[0].item() == 0.0
    assert uf.tensor(a).native.data_ptr() != a.ctypes.data  # uf.tensor always copies


def test_asarray_copies_read_only_and_negative_stride_arrays():
    a = np.arange(5.0)
    a.flags.writeable = False
    x = uf.asarray(a)
    assert x.native.data_ptr() != a.ctypes.data
    np.testing.assert_array_equal(uf.asarray(np.arange(5)[::-1]).numpy(), [4, 3, 2, 1, 0])


def test_bfloat16_numpy_exchange():
    import ml_dtypes

    a = np.array([1.5, -2.0, 3.25], dtype=ml_dtypes.bfloat16)
    x = uf.asarray(a)
    assert x.dtype is uf.bfloat16
    np.testing.assert_array_equal(x.native.float().numpy(), a.astype(np.float32))
    y = uf.from_dlpack(a)
    assert y.dtype is uf.bfloat16 and y.native.data_ptr() == a.ctypes.data
    assert x.numpy().dtype == ml_dtypes.bfloat16


def test_dlpack_exchange_with_numpy_is_zero_copy():
    a = np.arange(6, dtype=np.int32).reshape(2, 3)
    x = uf.from_dlpack(a)
    assert x.native.data_ptr() == a.ctypes.data and x.dtype is uf.int32
    b = np.from_dlpack(x)
    assert b.ctypes.data == x.native.data_ptr()
    np.testing.assert_array_equal(b, a)


def test_dlpack_exchange_with_jax():
    jnp = pytest.importorskip("jax.numpy")
    j = jnp.arange(4.0, dtype=jnp.float32)
    x = uf.from_dlpack(j)
    assert x.backend_name == "torch"
    np.testing.assert_array_equal(x.numpy(), np.arange(4.0, dtype=np.float32))


def test_conjugate_views_convert_to_numpy():
    t = torch.tensor([1 + 2j, 3 - 1j], dtype=torch.complex64).conj()  # lazy conj bit
    np.testing.assert_array_equal(uf.from_native(t).numpy(), [1 - 2j, 3 + 1j])
    np.testing.assert_array_equal(uf.conj(uf.asarray([1 + 2j])).numpy(), [1 - 2j])


# ---------------------------------------------------------------- variables
def test_variable_is_a_parameter_updated_in_place():
    v = Variable(uf.asarray([1.0, 2.0, 3.0]))
    store = v.native
    assert isinstance(store, torch.nn.Parameter) and store.requires_grad
    ptr = store.data_ptr()
    snap = v.value
    v.assign(uf.asarray([4.0, 5.0, 6.0]))
    assert v.native is store and store.data_ptr() == ptr
    np.testing.assert_array_equal(v.numpy(), [4.0, 5.0, 6.0])
    np.testing.assert_array_equal(snap.numpy(), [1.0, 2.0, 3.0])
    assert not store.grad_fn  # assignment is not recorded by autograd


def test_variable_owns_its_storage():
    src = uf.asarray(np.zeros(3, np.float32))
    v = Variable(src)
    v.assign(uf.ones((3,)))
    np.testing.assert_array_equal(src.numpy(), np.zeros(3))


def test_variable_assign_from_a_view_of_itself():
    v = Variable(uf.asarray([[1.0, 2.0], [3.0, 4.0]]))
    v.assign(uf.matrix_transpose(v))
    np.testing.assert_array_equal(v.numpy(), [[1.0, 3.0], [2.0, 4.0]])


def test_variable_trainable_flag_and_integer_variables():
    v = Variable(uf.asarray([1.0]), trainable=False)
    assert not v.native.requires_grad
    v.trainable = True
    assert v.native.requires_grad
    steps = Variable(uf.asarray(0), trainable=True)  # ints cannot require grad
    assert not steps.native.requires_grad
    steps.assign(uf.asarray(7))
    assert steps.item() == 7


# ---------------------------------------------------------------- indexing against NumPy
X = rand(4, 5, 6, seed=1)
MASK = np.random.default_rng(2).random((4, 5)) > 0.5
I = np.array
KEYS = [
    0, -1, (1, 2, 3), slice(1, 3), slice(None, None, 2), slice(None, None, -1),
    slice(3, 0, -2), slice(10, -10, -3), slice(0, 0, -1), (slice(None), slice(None, None, -2), 0),
    None, (None, 0), (0, None, slice(1, 3)), Ellipsis, (Ellipsis, 0), (Ellipsis, slice(4, 1, -1)),
    (), (Ellipsis, None, 1), I([0, 2, 3]), I([-1, 0, 0]), (I([0, 1]), I([2, 3])),
    (I([0, 1]), slice(None), I([2, 3])), (0, slice(None), I([1, 2])), (slice(None), 0, I([1, 2])),
    (None, 0, slice(None), I([1, 2])), (1, I([0, 1]), slice(None, None, -1)),
    (I([[1], [2]]), slice(None), I([[3, 4]])), MASK, (MASK, 1), (MASK, slice(None, None, -1)),
    (1, I([True, False, True, True, False]), slice(2, 4)), (I(2), slice(None), I([1, 2])),
    (I([0, 1], dtype=np.uint8), 1), (I([0, 3], dtype=np.int8),), (slice(None), I([2, 2, 2])),
    (Ellipsis, I([-6, 5])), (I([0, 1]), None, I([1, 2])), X > 0.5,
]


def _key_for_unifw(key):
    if isinstance(key, tuple):
        return tuple(_key_for_unifw(k) for k in key)
    return uf.asarray(key) if isinstance(key, np.ndarray) else key


@pytest.mark.parametrize("key", KEYS, ids=lambda k: repr(k)[:40])
def test_getitem_matches_numpy(key):
    got = uf.asarray(X)[_key_for_unifw(key)].numpy()
    np.testing.assert_array_equal(got, X[key])


@pytest.mark.parametrize("mode", ["set", "add", "multiply", "min", "max"])
@pytest.mark.parametrize("key", KEYS, ids=lambda k: repr(k)[:40])
def test_index_update_matches_numpy_at(key, mode):
    shape = X[key].shape
    values = rand(*shape, seed=3)
    expected = X.copy()
    if mode == "set":
        expected[key] = values
    else:
        {"add": np.add, "multiply": np.multiply, "min": np.minimum,
         "max": np.maximum}[mode].at(expected, key, values)
    x = uf.asarray(X.copy())
    got = getattr(x.at[_key_for_unifw(key)], mode)(uf.asarray(values))
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-6)
    np.testing.assert_array_equal(x.numpy(), X)  # the input is untouched


@pytest.mark.parametrize("mode", ["add", "multiply", "min", "max"])
def test_index_update_accumulates_duplicates(mode):
    x = np.arange(6, dtype=np.int32)
    idx = np.array([1, 1, 4, 1])
    vals = np.array([3, -2, 5, 7], dtype=np.int32)
    expected = x.copy()
    getattr(np, {"add": "add", "multiply": "multiply", "min": "minimum",
                 "max": "maximum"}[mode]).at(expected, idx, vals)
    got = getattr(uf.asarray(x).at[uf.asarray(idx)], mode)(uf.asarray(vals))
    np.testing.assert_array_equal(got.numpy(), expected)


def test_index_update_on_bool_and_scalar_values():
    b = np.zeros(4, bool)
    got = uf.asarray(b).at[uf.asarray([1, 1, 3])].add(uf.asarray([True, False, True]))
    np.testing.assert_array_equal(got.numpy(), [False, True, False, True])
    np.testing.assert_array_equal(uf.asarray(X).at[0, ::-1].set(2.5).numpy()[0], 2.5)


def test_out_of_range_indices_raise():
    x = uf.arange(5)
    with pytest.raises(uf.IndexError):
        x[7]
    with pytest.raises(uf.IndexError):
        x[uf.asarray([0, 5])]
    # take/take_along_axis: the facade picks the error class, the backend must refuse
    with pytest.raises(uf.UnifwError, match="out of bounds"):
        uf.take(x, uf.asarray([-6]))
    with pytest.raises(uf.UnifwError, match="out of bounds"):
        uf.take_along_axis(x, uf.asarray([5]), axis=0)


# ---------------------------------------------------------------- Array API details torch lacks
def test_semantics_torch_does_not_share():
    x = uf.asarray(np.array([-3, 5, 7], np.int32))
    zero = uf.asarray(np.array([0, 2, 0], np.int32))
    np.testing.assert_array_equal((x % zero).numpy(), [0, 1, 0])  # NumPy: n % 0 == 0
    np.testing.assert_array_equal((x // zero).numpy(), [0, 2, 0])
    f = uf.asarray([2.0, -3.0, 0.0])
    np.testing.assert_array_equal(np.signbit(uf.remainder(f, -1.0).numpy()), [True] * 3)
    np.testing.assert_array_equal(uf.sign(uf.asarray([np.nan, -2.0])).numpy(), [np.nan, -1.0])
    assert uf.arange(0, -5, 1).shape == (0,)
    np.testing.assert_array_equal(uf.sum(uf.ones((2, 3)), axis=()).numpy(), np.ones((2, 3)))
    with pytest.raises(uf.ShapeError):
        uf.squeeze(uf.ones((2, 3)), axis=0)  # torch would silently do nothing
    u8 = uf.asarray(np.array([0, 3, 200], np.uint8))
    np.testing.assert_array_equal(uf.clip(u8, -1, 4).numpy(), [0, 3, 4])
    c = uf.asarray(np.array([complex(np.inf, 0.0)], np.complex128))
    np.testing.assert_array_equal((c + uf.asarray([0j], dtype=uf.complex128)).numpy(),
                                  [complex(np.inf, 0.0)])
    np.testing.assert_array_equal((c - uf.asarray([0j], dtype=uf.complex128)).numpy(),
                                  [complex(np.inf, 0.0)])
    # a complex Python scalar promotes a real tensor first, then takes the complex path
    np.testing.assert_array_equal((uf.asarray([np.inf], dtype=uf.float64) + 0j).numpy(),
                                  [complex(np.inf, 0.0)])
    np.testing.assert_array_equal((uf.asarray([0j]) ** 0).numpy(), [1 + 0j])


def test_reductions_over_several_axes_and_sorting():
    a = rand(3, 4, 5, seed=4)
    x = uf.asarray(a)
    np.testing.assert_allclose(uf.prod(x, axis=(0, 2), keepdims=True).numpy(),
                               np.prod(a, axis=(0, 2), keepdims=True), rtol=1e-5)
    np.testing.assert_array_equal(uf.argmax(x, keepdims=True).numpy(),
                                  np.argmax(a, keepdims=True))
    ties = np.array([2.0, 1.0, 2.0, 1.0, 2.0], np.float32)
    np.testing.assert_array_equal(uf.argsort(uf.asarray(ties), descending=True).numpy(),
                                  [0, 2, 4, 1, 3])
    c = np.array([1 + 1j, -1j, 1 + 1j, 2], np.complex64)
    vals, idx, inv, cnt = uf.unique_all(uf.asarray(c))
    ev, ei, einv, ecnt = np.unique(c, return_index=True, return_inverse=True, return_counts=True)
    for got, exp in zip((vals, idx, inv, cnt), (ev, ei, einv, ecnt)):
        np.testing.assert_array_equal(got.numpy(), exp)


# ---------------------------------------------------------------- nn.functional
def f64(a):
    return torch.from_numpy(np.asarray(a, np.float64))


def close(got, expected, tol=1e-4):
    np.testing.assert_allclose(got.numpy(), expected.numpy(), rtol=tol, atol=tol)


@pytest.mark.parametrize("stride,padding,dilation,groups", [
    (1, 0, 1, 1), (2, 1, 1, 1), (1, "same", 2, 1), (1, "valid", 1, 2), ((2, 1), (1, 2), (1, 2), 2),
])
def test_conv2d(stride, padding, dilation, groups):
    x, w, b = rand(2, 4, 9, 8, seed=5), rand(6, 4 // groups, 3, 3, seed=6), rand(6, seed=7)
    got = F.conv2d(uf.asarray(x), uf.asarray(w), uf.asarray(b), stride, padding, dilation, groups)
    close(got, F_torch.conv2d(f64(x), f64(w), f64(b), stride, padding, dilation, groups))


def test_conv1d():
    x, w = rand(2, 3, 11, seed=8), rand(4, 3, 3, seed=9)
    close(F.conv1d(uf.asarray(x), uf.asarray(w), None, 2, 1),
          F_torch.conv1d(f64(x), f64(w), None, 2, 1))


@pytest.mark.parametrize("stride,padding,output_padding,groups,dilation", [
    (1, 0, 0, 1, 1), (2, 1, 1, 1, 1), (2, 0, 1, 2, 2), ((3, 2), (1, 0), (2, 1), 1, 1),
])
def test_conv_transpose2d(stride, padding, output_padding, groups, dilation):
    x, w, b = rand(2, 4, 5, 6, seed=10), rand(4, 6 // groups, 3, 3, seed=11), rand(6, seed=12)
    got = F.conv_transpose2d(uf.asarray(x), uf.asarray(w), uf.asarray(b), stride, padding,
                             output_padding, groups, dilation)
    close(got, F_torch.conv_transpose2d(f64(x), f64(w), f64(b), stride, padding,
                                        output_padding, groups, dilation))


@pytest.mark.parametrize("kernel,stride,padding,dilation,ceil_mode", [
    (2, None, 0, 1, False), (3, 2, 1, 1, True), ((3, 2), (2, 1), (1, 0), (2, 1), False),
    (3, 2, 1, 2, True),
])
def test_max_pool2d(kernel, stride, padding, dilation, ceil_mode):
    x = rand(2, 3, 9, 10, seed=13)
    got = F.max_pool2d(uf.asarray(x), kernel, stride, padding, dilation, ceil_mode)
    close(got, F_torch.max_pool2d(f64(x), kernel, stride, padding, dilation, ceil_mode), 1e-6)


@pytest.mark.parametrize("kernel,stride,padding,ceil_mode,count_include_pad", [
    (2, None, 0, False, True), (3, 2, 1, True, True), (3, 2, 1, True, False),
    ((3, 2), (2, 1), (1, 1), False, False),
])
def test_avg_pool2d(kernel, stride, padding, ceil_mode, count_include_pad):
    x = rand(2, 3, 9, 10, seed=14)
    got = F.avg_pool2d(uf.asarray(x), kernel, stride, padding, ceil_mode, count_include_pad)
    close(got, F_torch.avg_pool2d(f64(x), kernel, stride, padding, ceil_mode, count_include_pad))


def test_adaptive_avg_pool2d():
    x = rand(2, 3, 9, 10, seed=15)
    close(F.adaptive_avg_pool2d(uf.asarray(x), (4, 3)), F_torch.adaptive_avg_pool2d(f64(x), (4, 3)))


_NP_PAD = {"constant": "constant", "reflect": "reflect", "replicate": "edge", "circular": "wrap"}


@pytest.mark.parametrize("mode", list(_NP_PAD))
@pytest.mark.parametrize("shape,pad", [((2, 3, 7), (2, 1)), ((2, 3, 5, 6), (1, 2, 2, 0)),
                                       ((3, 6), (1, 3)), ((2, 2, 3, 4, 5), (1, 1, 2, 0, 0, 2))])
def test_pad_modes_match_numpy(mode, shape, pad):
    x = rand(*shape, seed=16)
    # torch's pad tuple starts with the last dim: (left, right, top, bottom, ...)
    widths = [(0, 0)] * (x.ndim - len(pad) // 2) + [
        (pad[2 * i], pad[2 * i + 1]) for i in reversed(range(len(pad) // 2))]
    kw = {"constant_values": 1.5} if mode == "constant" else {}
    expected = np.pad(x, widths, mode=_NP_PAD[mode], **kw)
    got = F.pad(uf.asarray(x), pad, mode, 1.5) if mode == "constant" else F.pad(
        uf.asarray(x), pad, mode)
    np.testing.assert_array_equal(got.numpy(), expected)


def test_pad_integer_and_negative():
    x = np.arange(12, dtype=np.int32).reshape(3, 4)
    np.testing.assert_array_equal(F.pad(uf.asarray(x), (1, -1)).numpy(),
                                  np.pad(x, ((0, 0), (1, 0)))[:, :4])


def test_batch_norm_uses_batch_statistics_without_touching_running_stats():
    x = rand(4, 3, 5, 5, seed=17)
    rm, rv = np.zeros(3, np.float32), np.ones(3, np.float32)
    w, b = rand(3, seed=18), rand(3, seed=19)
    rm_t, rv_t = uf.asarray(rm), uf.asarray(rv)
    got = F.batch_norm(uf.asarray(x), rm_t, rv_t, uf.asarray(w), uf.asarray(b), True, 0.1, 1e-5)
    xd = x.astype(np.float64)
    mean = xd.mean(axis=(0, 2, 3), keepdims=True)
    var = xd.var(axis=(0, 2, 3), keepdims=True)
    expected = (xd - mean) / np.sqrt(var + 1e-5) * w[:, None, None] + b[:, None, None]
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-4, atol=1e-4)
    np.testing.assert_array_equal(rm_t.numpy(), rm)
    np.testing.assert_array_equal(rv_t.numpy(), rv)
    ev = F.batch_norm(uf.asarray(x), uf.asarray(rm + 1), uf.asarray(rv * 2), None, None, False)
    np.testing.assert_allclose(ev.numpy(), (xd - 1) / np.sqrt(2 + 1e-5), rtol=1e-5, atol=1e-5)


def test_layer_norm_and_activations():
    x = rand(3, 4, 6, seed=20) * 3
    w, b = rand(6, seed=21), rand(6, seed=22)
    close(F.layer_norm(uf.asarray(x), 6, uf.asarray(w), uf.asarray(b)),
          F_torch.layer_norm(f64(x), (6,), f64(w), f64(b)))
    close(F.layer_norm(uf.asarray(x), (4, 6)), F_torch.layer_norm(f64(x), (4, 6)))
    ux, tx = uf.asarray(x), f64(x)
    close(F.gelu(ux), F_torch.gelu(tx))
    close(F.gelu(ux, approximate="tanh"), F_torch.gelu(tx, approximate="tanh"))
    close(F.softplus(ux, 2.0, 1.0), F_torch.softplus(tx, 2.0, 1.0))
    close(F.leaky_relu(ux, 0.2), F_torch.leaky_relu(tx, 0.2))
    close(F.softmax(ux, 1), torch.softmax(tx, 1))
    close(F.log_softmax(ux), torch.log_softmax(tx, -1))
    close(F.logsumexp(ux), torch.logsumexp(tx, (0, 1, 2)))
    close(F.logsumexp(ux, 1, True), torch.logsumexp(tx, 1, True))


def test_one_hot_and_embedding_padding_gradient():
    idx = np.array([[0, 2], [3, 2]], np.int32)
    oh = F.one_hot(uf.asarray(idx), 5)
    assert oh.dtype is uf.int64
    np.testing.assert_array_equal(oh.numpy(), np.eye(5, dtype=np.int64)[idx])
    w = torch.nn.Parameter(torch.from_numpy(rand(5, 3, seed=23)))
    out = F.embedding(uf.asarray(idx), uf.from_native(w), 2)
    np.testing.assert_array_equal(out.numpy(), w.detach().numpy()[idx])
    out.native.sum().backward()
    np.testing.assert_array_equal(w.grad.numpy()[2], 0.0)
    np.testing.assert_array_equal(w.grad.numpy()[0], 1.0)
    with pytest.raises(uf.UnifwError, match="out of range"):
        F.embedding(uf.asarray([5]), uf.from_native(w))


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
def test_scaled_dot_product_attention(mask_kind, causal):
    q, k, v = rand(2, 3, 4, 8, seed=24), rand(2, 3, 6, 8, seed=25), rand(2, 3, 6, 5, seed=26)
    rng = np.random.default_rng(27)
    mask = None
    if mask_kind == "bool":
        mask = rng.random((4, 6)) > 0.3
        mask[:, 0] = True  # keep every row attendable
    elif mask_kind == "float":
        mask = rng.standard_normal((2, 1, 4, 6)).astype(np.float32)
    got = F.scaled_dot_product_attention(uf.asarray(q), uf.asarray(k), uf.asarray(v),
                                         None if mask is None else uf.asarray(mask),
                                         is_causal=causal, scale=0.3)
    np.testing.assert_allclose(got.numpy(), _attention_oracle(q, k, v, mask, causal, 0.3),
                               rtol=1e-4, atol=1e-5)


def test_attention_dropout_uses_the_explicit_key():
    q, k, v = (uf.asarray(rand(2, 4, 8, seed=s)) for s in (28, 29, 30))
    key = uf.random.key(3)
    a = F.scaled_dot_product_attention(q, k, v, dropout_p=0.4, dropout_key=key)
    b = F.scaled_dot_product_attention(q, k, v, dropout_p=0.4, dropout_key=key)
    np.testing.assert_array_equal(a.numpy(), b.numpy())
    weights = F.softmax(uf.matmul(q, uf.matrix_transpose(k)) * (1 / math.sqrt(8)))
    expected = uf.matmul(F.dropout(weights, 0.4, key=key), v)
    np.testing.assert_allclose(a.numpy(), expected.numpy(), rtol=1e-5, atol=1e-6)
