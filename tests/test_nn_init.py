"""nn.init: formulas against torch.nn.init's helpers, sample statistics against the
distributions (tolerances from the sample size), bit-identical parameters across backends."""
from __future__ import annotations

import math

import numpy as np
import pytest

import unifw as uf
from unifw import nn
from unifw.nn import init

torch = pytest.importorskip("torch")

# Tolerances: a sample statistic is accepted within Z standard errors of its expectation.
Z = 6.0


def _param(shape, dtype=uf.float64):
    return nn.Parameter(uf.zeros(shape, dtype=dtype))


def _check_uniform(w, bound):
    a = np.asarray(w, dtype=np.float64).ravel()
    n = a.size
    assert np.all(np.abs(a) <= bound)
    var = bound ** 2 / 3  # variance of U(-b, b); var of x^2 is b^4 (1/5 - 1/9)
    assert abs(a.mean()) < Z * math.sqrt(var / n)
    assert abs((a ** 2).mean() - var) < Z * math.sqrt(bound ** 4 * (1 / 5 - 1 / 9) / n)
    if n >= 5000:  # P(no sample in the top 0.5% of the range) = 0.995^n < 1e-10
        assert a.max() > 0.99 * bound and a.min() < -0.99 * bound


def _check_normal(w, std, mean=0.0):
    a = np.asarray(w, dtype=np.float64).ravel()
    n = a.size
    assert abs(a.mean() - mean) < Z * std / math.sqrt(n)
    assert abs(a.var() - std ** 2) < Z * std ** 2 * math.sqrt(2 / n)


@pytest.fixture
def numpy_backend():
    with uf.use_backend("numpy"):
        yield


# ---------------------------------------------------------------- formulas
@pytest.mark.parametrize("name,param", [("linear", None), ("conv2d", None), ("sigmoid", None),
                                        ("tanh", None), ("relu", None), ("leaky_relu", None),
                                        ("leaky_relu", 0.2), ("selu", None)])
def test_calculate_gain_matches_torch(name, param):
    assert init.calculate_gain(name, param) == pytest.approx(
        torch.nn.init.calculate_gain(name, param), rel=1e-15)


def test_calculate_gain_rejects_unknown():
    with pytest.raises(ValueError):
        init.calculate_gain("swish")
    with pytest.raises(ValueError):
        init.calculate_gain("leaky_relu", True)


@pytest.mark.parametrize("shape", [(5, 3), (4, 2, 3), (6, 3, 2, 5)])
def test_fan_in_and_fan_out_match_torch(numpy_backend, shape):
    assert init._calculate_fan_in_and_fan_out(_param(shape)) == \
        torch.nn.init._calculate_fan_in_and_fan_out(torch.empty(shape))


def test_fan_needs_two_dims(numpy_backend):
    with pytest.raises(ValueError, match="fewer than 2 dimensions"):
        init.xavier_uniform_(_param((4,)))


# ---------------------------------------------------------------- distributions
def test_uniform_and_normal_statistics(numpy_backend):
    uf.random.seed(0)
    w = init.uniform_(_param((300, 200)), -0.3, 0.3)
    _check_uniform(w, 0.3)
    _check_normal(init.normal_(_param((300, 200)), mean=1.5, std=0.2), 0.2, mean=1.5)
    t = np.asarray(init.trunc_normal_(_param((300, 200)), std=1.0, a=-0.5, b=1.0))
    assert t.min() >= -0.5 and t.max() <= 1.0 and t.min() < -0.49 and t.max() > 0.99


def test_constant_ones_zeros(backend):
    w = _param((2, 3), uf.float32)
    np.testing.assert_array_equal(np.asarray(init.constant_(w, 2.5)), np.full((2, 3), 2.5))
    np.testing.assert_array_equal(np.asarray(init.ones_(w)), np.ones((2, 3)))
    np.testing.assert_array_equal(np.asarray(init.zeros_(w)), np.zeros((2, 3)))


@pytest.mark.parametrize("gain", [1.0, 5 / 3])
def test_xavier(numpy_backend, gain):
    uf.random.seed(1)
    fan_in, fan_out = 150, 250
    std = gain * math.sqrt(2 / (fan_in + fan_out))
    _check_uniform(init.xavier_uniform_(_param((fan_out, fan_in)), gain=gain), math.sqrt(3) * std)
    _check_normal(init.glorot_normal_(_param((fan_out, fan_in)), gain=gain), std)


@pytest.mark.parametrize("mode,nonlinearity,a", [("fan_in", "leaky_relu", 0),
                                                 ("fan_out", "relu", 0),
                                                 ("fan_in", "leaky_relu", math.sqrt(5))])
def test_kaiming(numpy_backend, mode, nonlinearity, a):
    uf.random.seed(2)
    shape = (40, 30, 3, 3)  # fan_in 270, fan_out 360
    fan = 270 if mode == "fan_in" else 360
    std = torch.nn.init.calculate_gain(nonlinearity, a) / math.sqrt(fan)
    _check_uniform(init.kaiming_uniform_(_param(shape), a=a, mode=mode,
                                         nonlinearity=nonlinearity), math.sqrt(3) * std)
    _check_normal(init.he_normal_(_param(shape), a=a, mode=mode, nonlinearity=nonlinearity), std)
    with pytest.raises(ValueError, match="Mode"):
        init.kaiming_uniform_(_param(shape), mode="fan_avg")


@pytest.mark.parametrize("shape", [(6, 4), (4, 6), (3, 2, 2)])
def test_orthogonal(numpy_backend, shape):
    uf.random.seed(3)
    w = np.asarray(init.orthogonal_(_param(shape), gain=2.0)).reshape(shape[0], -1)
    small = min(w.shape)
    gram = w.T @ w if w.shape[0] >= w.shape[1] else w @ w.T
    np.testing.assert_allclose(gram, 4.0 * np.eye(small), atol=1e-12)


def test_layer_default_init_bounds_follow_torch(numpy_backend):
    uf.random.seed(4)
    lin = nn.Linear(400, 300)
    _check_uniform(lin.weight, 1 / math.sqrt(400))  # kaiming_uniform(a=sqrt(5))
    _check_uniform(lin.bias, 1 / math.sqrt(400))
    conv = nn.Conv2d(16, 64, 3)
    _check_uniform(conv.weight, 1 / math.sqrt(16 * 9))
    deconv = nn.ConvTranspose2d(64, 16, 3)  # torch's fan_in for (in, out, k, k) is out * k * k
    _check_uniform(deconv.weight, 1 / math.sqrt(16 * 9))
    lstm = nn.LSTM(20, 100)
    for p in lstm.parameters():
        assert np.abs(np.asarray(p)).max() <= 0.1
    _check_normal(nn.Embedding(400, 100).weight, 1.0)
    mha = nn.MultiheadAttention(64, 4)
    _check_uniform(mha.in_proj_weight, math.sqrt(6 / (64 + 192)))
    assert not np.asarray(mha.in_proj_bias).any() and not np.asarray(mha.out_proj.bias).any()


# ---------------------------------------------------------------- determinism
def _build():
    uf.random.seed(1234)
    return nn.Sequential(nn.Conv2d(2, 3, 3), nn.BatchNorm2d(3), nn.Flatten(), nn.Linear(12, 5),
                         nn.LSTM(5, 4), nn.MultiheadAttention(4, 2), nn.Embedding(6, 4),
                         nn.Dropout(0.3))


def test_same_seed_bit_identical_parameters_across_backends(backend):
    ours = {k: np.asarray(v) for k, v in _build()._unifw_variables().items()}
    with uf.use_backend("numpy"):
        ref = {k: np.asarray(v) for k, v in _build()._unifw_variables().items()}
    assert list(ours) == list(ref)
    for k in ref:
        assert ours[k].dtype == ref[k].dtype
        np.testing.assert_array_equal(ours[k], ref[k], err_msg=k)
    uf.random.seed(99)
    other = np.asarray(nn.Linear(12, 5).weight)
    assert not np.array_equal(other, ours["3.weight"])


def test_explicit_key_and_generator(backend):
    w1, w2, w3 = (_param((4, 5)) for _ in range(3))
    init.kaiming_uniform_(w1, key=uf.random.key(7))
    init.kaiming_uniform_(w2, key=uf.random.key(7))
    np.testing.assert_array_equal(np.asarray(w1), np.asarray(w2))
    init.kaiming_uniform_(w3, key=uf.random.key(8))
    assert not np.array_equal(np.asarray(w1), np.asarray(w3))
    init.normal_(w1, generator=np.random.default_rng(5))
    init.normal_(w2, generator=np.random.default_rng(5))
    np.testing.assert_array_equal(np.asarray(w1), np.asarray(w2))
    with pytest.raises(TypeError):
        init.normal_(w1, generator=np.random.default_rng(5), key=3)


def test_init_requires_a_variable(numpy_backend):
    with pytest.raises(TypeError, match="immutable"):
        init.normal_(uf.zeros((2, 2), dtype=uf.float32))
