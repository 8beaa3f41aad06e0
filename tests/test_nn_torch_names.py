"""torch.nn.functional names added as composites of unifw ops (``F.elu``, ``F.hardtanh``,
``F.relu6``, ``F.normalize``, ``F.group_norm``, ``F.interpolate``) and their layers
(``nn.ELU``, ``nn.Hardtanh``, ``nn.ReLU6``, ``nn.GroupNorm``, ``nn.Upsample``...): forward
values against torch on every backend, gradients against torch's autograd on the
differentiable backends, compiled == eager, and torch state_dicts loading."""
from __future__ import annotations

import numpy as np
import pytest

import unifw as uf
import unifw.nn.functional as F
from unifw import nn

torch = pytest.importorskip("torch")
TF = torch.nn.functional

RTOL, ATOL = 1e-10, 1e-12


def _np(t):
    return np.asarray(t.detach().numpy() if hasattr(t, "detach") else t)


def _close(ours, ref, rtol=RTOL, atol=ATOL, msg=""):
    a, r = np.asarray(ours), _np(ref)
    assert a.shape == r.shape, (a.shape, r.shape, msg)
    np.testing.assert_allclose(a, r, rtol=rtol, atol=atol, err_msg=msg)


def _torch_grads(fn, arrays, cot):
    """Gradients of ``sum(fn(*arrays) * cot)`` by torch's autograd (None for None inputs)."""
    ts = [None if a is None else torch.tensor(a, requires_grad=True) for a in arrays]
    (fn(*ts) * torch.from_numpy(cot)).sum().backward()
    return [None if t is None else t.grad.numpy() for t in ts]


def _our_grads(fn, arrays, cot):
    """The same with ``uf.grad`` over all (non-None) inputs at once.

    On JAX under ``uf.function``: eager JAX compiles every op for every new shape (about a
    second per case here); eager JAX gradients are checked in test_compiled_matches_eager
    and test_eager_grads_jax_sample."""
    c = uf.asarray(cot)
    args = [None if a is None else uf.asarray(a) for a in arrays]
    grad = uf.grad(lambda xs: uf.sum(fn(*xs) * c))
    if uf.backend() == "jax":
        grad = uf.function(grad)
    return grad(args)


def _check_grads(ufn, tfn, arrays, out_shape, msg="", rtol=1e-9, atol=1e-11):
    cot = np.random.default_rng(99).standard_normal(out_shape)
    for g, r in zip(_our_grads(ufn, arrays, cot), _torch_grads(tfn, arrays, cot)):
        if r is None:
            continue
        _close(g, r, rtol, atol, msg)


# ---------------------------------------------------------------- activations
ACTIVATIONS = {
    "elu": (lambda m: m.elu, {}),
    "elu_alpha": (lambda m: m.elu, {"alpha": 0.3}),
    "hardtanh": (lambda m: m.hardtanh, {}),
    "hardtanh_bounds": (lambda m: m.hardtanh, {"min_val": -0.5, "max_val": 2.0}),
    "relu6": (lambda m: m.relu6, {}),
}


def _activation_input(shape=(3, 4, 5)):
    x = np.random.default_rng(0).standard_normal(shape) * 4
    # the kinks and bounds themselves, where gradient conventions matter
    x.flat[:8] = [0.0, -1.0, 1.0, 6.0, -0.5, 2.0, 6.5, -120.0]
    return x


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_activation_forward(backend, name):
    get, kw = ACTIVATIONS[name]
    x = _activation_input()
    _close(get(F)(uf.asarray(x), **kw), get(TF)(torch.from_numpy(x), **kw))
    x32 = x.astype(np.float32)
    _close(get(F)(uf.asarray(x32), **kw), get(TF)(torch.from_numpy(x32), **kw), 1e-6, 1e-7)


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_activation_grad(grad_backend, name):
    get, kw = ACTIVATIONS[name]
    x = _activation_input()
    _check_grads(lambda t: get(F)(t, **kw), lambda t: get(TF)(t, **kw), [x], x.shape)


def test_activation_layers(backend):
    x = _activation_input((4, 6))
    pairs = [(nn.ELU(), torch.nn.ELU()), (nn.ELU(alpha=2.0), torch.nn.ELU(alpha=2.0)),
             (nn.Hardtanh(), torch.nn.Hardtanh()),
             (nn.Hardtanh(-2.0, 0.5), torch.nn.Hardtanh(-2.0, 0.5)),
             (nn.ReLU6(inplace=True), torch.nn.ReLU6()),
             (nn.Sequential(nn.ELU(0.5), nn.ReLU6()),
              torch.nn.Sequential(torch.nn.ELU(0.5), torch.nn.ReLU6()))]
    for ours, ref in pairs:
        _close(ours(uf.asarray(x)), ref(torch.from_numpy(x)), msg=repr(ours))
    assert isinstance(nn.ReLU6(), nn.Hardtanh)
    with pytest.raises(ValueError):
        nn.Hardtanh(1.0, -1.0)


# ---------------------------------------------------------------- normalize
NORMALIZE = [
    ((4, 5), {}),
    ((3, 4, 5), {"dim": -1}),
    ((3, 4, 5), {"p": 1.0, "dim": 0}),
    ((2, 3, 4), {"p": 3.0, "dim": (1, 2)}),
    ((3, 6), {"p": float("inf"), "dim": 1}),
    ((3, 6), {"p": 2, "dim": 1, "eps": 0.5}),
]


def _normalize_input(shape):
    x = np.random.default_rng(1).standard_normal(shape)
    x[0] = 0.0  # a zero vector: norm clamped at eps, zero gradient through the norm
    return x


@pytest.mark.parametrize("case", range(len(NORMALIZE)))
def test_normalize_forward(backend, case):
    shape, kw = NORMALIZE[case]
    x = _normalize_input(shape)
    _close(F.normalize(uf.asarray(x), **kw), TF.normalize(torch.from_numpy(x), **kw))


@pytest.mark.parametrize("case", range(len(NORMALIZE)))
def test_normalize_grad(grad_backend, case):
    shape, kw = NORMALIZE[case]
    x = _normalize_input(shape)
    _check_grads(lambda t: F.normalize(t, **kw), lambda t: TF.normalize(t, **kw), [x], shape)


# ---------------------------------------------------------------- group norm
GROUP_NORM = [((2, 6), 3, True), ((2, 6, 5), 2, True), ((3, 6, 4, 3), 6, False),
              ((2, 4, 3, 5), 1, True), ((2, 6, 2, 2, 3), 3, True)]


def _group_norm_args(shape, affine):
    rng = np.random.default_rng(2)
    x = rng.standard_normal(shape) * 3 + 1
    c = shape[1]
    w, b = (rng.standard_normal(c), rng.standard_normal(c)) if affine else (None, None)
    return x, w, b


@pytest.mark.parametrize("case", range(len(GROUP_NORM)))
def test_group_norm_forward(backend, case):
    shape, groups, affine = GROUP_NORM[case]
    x, w, b = _group_norm_args(shape, affine)
    ours = F.group_norm(uf.asarray(x), groups, None if w is None else uf.asarray(w),
                        None if b is None else uf.asarray(b), eps=1e-4)
    ref = TF.group_norm(torch.from_numpy(x), groups, None if w is None else torch.from_numpy(w),
                        None if b is None else torch.from_numpy(b), eps=1e-4)
    _close(ours, ref, 1e-9, 1e-10)


@pytest.mark.parametrize("case", range(len(GROUP_NORM)))
def test_group_norm_grad(grad_backend, case):
    shape, groups, affine = GROUP_NORM[case]
    x, w, b = _group_norm_args(shape, affine)
    _check_grads(lambda x, w, b: F.group_norm(x, groups, w, b),
                 lambda x, w, b: TF.group_norm(x, groups, w, b), [x, w, b], shape,
                 rtol=1e-8, atol=1e-10)


def test_group_norm_layer_loads_torch_state_dict(backend):
    torch.manual_seed(0)
    ref = torch.nn.GroupNorm(3, 6, eps=1e-3).double()
    with torch.no_grad():
        ref.weight.normal_()
        ref.bias.normal_()
    ours = nn.GroupNorm(3, 6, eps=1e-3, dtype=uf.float64)
    assert list(ours.state_dict()) == list(ref.state_dict()) == ["weight", "bias"]
    ours.load_state_dict({k: v.numpy() for k, v in ref.state_dict().items()})
    x = np.random.default_rng(3).standard_normal((2, 6, 4, 5))
    with torch.no_grad():
        _close(ours(uf.asarray(x)), ref(torch.from_numpy(x)), 1e-9, 1e-10)
    # and back into torch; defaults and no-affine match too
    fresh = torch.nn.GroupNorm(3, 6).double()
    fresh.load_state_dict({k: torch.from_numpy(np.array(v)) for k, v in
                           ours.state_dict().items()})
    np.testing.assert_array_equal(fresh.weight.detach().numpy(), ref.weight.detach().numpy())
    default, ref_default = nn.GroupNorm(2, 4), torch.nn.GroupNorm(2, 4)
    for k, v in ref_default.state_dict().items():
        np.testing.assert_array_equal(np.asarray(default.state_dict()[k]), v.numpy())
    plain = nn.GroupNorm(2, 4, affine=False)
    assert plain.weight is None and plain.bias is None and not list(plain.parameters())
    x = np.random.default_rng(4).standard_normal((2, 4, 3)).astype(np.float32)
    _close(plain(uf.asarray(x)), torch.nn.GroupNorm(2, 4, affine=False)(torch.from_numpy(x)),
           1e-5, 1e-6)
    assert nn.GroupNorm(2, 4, bias=False).bias is None


def test_group_norm_errors(backend):
    with pytest.raises(ValueError, match="divisible"):
        nn.GroupNorm(4, 6)
    x = uf.asarray(np.zeros((2, 6, 3)))
    with pytest.raises(ValueError, match="divisible"):
        F.group_norm(x, 4)
    with pytest.raises(ValueError):
        nn.GroupNorm(2, 4)(x)


# ---------------------------------------------------------------- interpolate
INTERP = {
    # name: (input shape, kwargs)
    "nearest1d_size_up": ((2, 3, 5), dict(size=12)),
    "nearest1d_size_down": ((2, 3, 9), dict(size=4)),
    "nearest1d_scale_frac": ((2, 3, 5), dict(scale_factor=1.7)),
    "nearest1d_scale2": ((1, 2, 4), dict(scale_factor=2)),
    "nearest2d_size": ((2, 3, 4, 5), dict(size=(7, 3))),
    "nearest2d_scale_tuple": ((2, 3, 4, 6), dict(scale_factor=(2.5, 0.5))),
    "nearest2d_recompute": ((1, 2, 5, 7), dict(scale_factor=1.3, recompute_scale_factor=True)),
    "nearest_exact2d": ((2, 3, 5, 4), dict(size=(3, 9), mode="nearest-exact")),
    "nearest3d": ((1, 2, 3, 4, 5), dict(scale_factor=(2, 1, 0.6))),
    "linear_up": ((2, 3, 5), dict(size=11, mode="linear")),
    "linear_down": ((2, 3, 9), dict(size=4, mode="linear")),
    "linear_up_ac": ((2, 3, 5), dict(size=11, mode="linear", align_corners=True)),
    "linear_down_ac": ((2, 3, 9), dict(size=4, mode="linear", align_corners=True)),
    "linear_scale": ((2, 3, 6), dict(scale_factor=1.5, mode="linear", align_corners=False)),
    "linear_to_one_ac": ((1, 2, 5), dict(size=1, mode="linear", align_corners=True)),
    "bilinear_up": ((2, 3, 4, 5), dict(size=(7, 9), mode="bilinear")),
    "bilinear_down": ((2, 3, 8, 9), dict(size=(3, 5), mode="bilinear")),
    "bilinear_mixed_ac": ((2, 3, 4, 9), dict(size=(7, 4), mode="bilinear", align_corners=True)),
    "bilinear_scale": ((1, 2, 4, 5), dict(scale_factor=2, mode="bilinear")),
    "bilinear_scale_frac_ac": ((1, 2, 5, 6), dict(scale_factor=(1.5, 0.7), mode="bilinear",
                                                  align_corners=True)),
    "bilinear_scale_recompute": ((1, 2, 5, 6), dict(scale_factor=1.7, mode="bilinear",
                                                    recompute_scale_factor=True)),
    "bilinear_same_size": ((1, 2, 4, 5), dict(size=(4, 8), mode="bilinear")),
    "trilinear": ((1, 2, 3, 4, 5), dict(size=(5, 3, 6), mode="trilinear")),
    "area2d": ((2, 3, 7, 8), dict(size=(3, 5), mode="area")),
    "area1d_scale": ((2, 3, 9), dict(scale_factor=0.5, mode="area")),
}


def _interp_input(shape, dtype=np.float64):
    return np.random.default_rng(5).standard_normal(shape).astype(dtype)


@pytest.mark.parametrize("name", sorted(INTERP))
def test_interpolate_forward(backend, name):
    shape, kw = INTERP[name]
    x = _interp_input(shape)
    _close(F.interpolate(uf.asarray(x), **kw), TF.interpolate(torch.from_numpy(x), **kw))


@pytest.mark.parametrize("bk", ["numpy", "torch"])
def test_interpolate_forward_float32(bk):
    """float32 uses float32 source coordinates and weights, like torch's kernels (computed
    with NumPy, so independent of the backend: two backends suffice)."""
    with uf.use_backend(bk):
        for name, (shape, kw) in sorted(INTERP.items()):
            x = _interp_input(shape, np.float32)
            out = F.interpolate(uf.asarray(x), **kw)
            assert out.dtype == uf.float32
            _close(out, TF.interpolate(torch.from_numpy(x), **kw), 1e-6, 1e-6, msg=name)


@pytest.mark.parametrize("name", sorted(INTERP))
def test_interpolate_grad(grad_backend, name):
    shape, kw = INTERP[name]
    x = _interp_input(shape)
    out_shape = tuple(TF.interpolate(torch.from_numpy(x), **kw).shape)
    _check_grads(lambda t: F.interpolate(t, **kw), lambda t: TF.interpolate(t, **kw), [x],
                 out_shape)


def test_interpolate_many_sizes_match_torch():
    """Source indices of 'nearest'/'nearest-exact' (exactly: the input is arange) and the
    'linear' values over many (in, out, scale) combinations, float32 and float64 (torch
    rounds the coordinates differently in each, e.g. in=26 -> out=22, scale 3.7 in float64,
    in=2 -> out=41 'nearest-exact' in float32, scale 1.1 with out == in)."""
    rng = np.random.default_rng(10)
    with uf.use_backend("numpy"):
        for dtype in (np.float32, np.float64):
            for n_in in (1, 2, 3, 5, 7, 10, 26, 29):
                index_input = np.arange(n_in, dtype=dtype).reshape(1, 1, n_in)
                x = rng.standard_normal((1, 1, n_in)).astype(dtype)
                sizes = [dict(size=out) for out in (1, 2, 3, 4, 6, 9, 13, 20, 22, 41, 47)]
                scales = [dict(scale_factor=s) for s in (0.3, 0.5, 0.75, 1.1, 1.5, 2.0, 2.25,
                                                         3.7, 1 / 3)
                          if int(n_in * s) > 0]
                for kw in sizes + scales:
                    for mode in ("nearest", "nearest-exact"):
                        kw = dict(kw, mode=mode)
                        np.testing.assert_array_equal(
                            np.asarray(F.interpolate(uf.asarray(index_input), **kw)),
                            TF.interpolate(torch.from_numpy(index_input), **kw).numpy(),
                            err_msg=f"{dtype.__name__} {n_in} {kw}")
                    for ac in (False, True):
                        kw = dict(kw, mode="linear", align_corners=ac)
                        tol = 1e-6 if dtype == np.float32 else 1e-13
                        _close(F.interpolate(uf.asarray(x), **kw),
                               TF.interpolate(torch.from_numpy(x), **kw), tol, tol,
                               f"{dtype.__name__} {n_in} {kw}")


def test_upsample_layers(backend):
    x = _interp_input((2, 3, 4, 5))
    pairs = [
        (nn.Upsample(scale_factor=2), torch.nn.Upsample(scale_factor=2)),
        (nn.Upsample(size=(6, 7), mode="bilinear"), torch.nn.Upsample(size=(6, 7),
                                                                      mode="bilinear")),
        (nn.Upsample(scale_factor=1.5, mode="bilinear", align_corners=True),
         torch.nn.Upsample(scale_factor=1.5, mode="bilinear", align_corners=True)),
        (nn.UpsamplingNearest2d(size=7), torch.nn.UpsamplingNearest2d(size=7)),
        (nn.UpsamplingBilinear2d(scale_factor=2), torch.nn.UpsamplingBilinear2d(scale_factor=2)),
    ]
    for ours, ref in pairs:
        _close(ours(uf.asarray(x)), ref(torch.from_numpy(x)), msg=repr(ours))
    x3 = _interp_input((2, 3, 6))
    _close(nn.Upsample(size=10, mode="linear")(uf.asarray(x3)),
           torch.nn.Upsample(size=10, mode="linear")(torch.from_numpy(x3)))


def test_interpolate_errors(backend):
    x3, x4 = uf.asarray(_interp_input((1, 2, 5))), uf.asarray(_interp_input((1, 2, 4, 4)))
    with pytest.raises(ValueError, match="unsupported mode"):
        F.interpolate(x4, size=8, mode="bicubic")
    with pytest.raises(ValueError, match="unsupported mode"):
        F.interpolate(x4, size=8, mode="cubic")
    with pytest.raises(ValueError, match="align_corners"):
        F.interpolate(x4, size=8, mode="nearest", align_corners=True)
    with pytest.raises(ValueError, match="only one of"):
        F.interpolate(x4, size=8, scale_factor=2)
    with pytest.raises(ValueError, match="either size or scale_factor"):
        F.interpolate(x4)
    with pytest.raises(ValueError, match="needs 4-D"):
        F.interpolate(x3, size=8, mode="bilinear")
    with pytest.raises(ValueError, match="needs 3-D"):
        F.interpolate(x4, size=8, mode="linear")
    with pytest.raises(ValueError, match="same number of spatial"):
        F.interpolate(x4, size=(2, 3, 4))
    with pytest.raises(ValueError, match="greater than 0"):
        F.interpolate(x3, scale_factor=0.1)
    with pytest.raises(ValueError):
        F.interpolate(uf.asarray(np.zeros((2, 3))), size=4)
    ints = uf.asarray(np.arange(10).reshape(1, 2, 5))
    with pytest.raises(TypeError, match="floating-point"):
        F.interpolate(ints, size=8, mode="linear")
    np.testing.assert_array_equal(np.asarray(F.interpolate(ints, size=8)), TF.interpolate(
        torch.arange(10).reshape(1, 2, 5).to(torch.uint8), size=8).numpy())


# ---------------------------------------------------------------- inside uf.function
def _all_ops(x4, x3, w, b, m=F):
    """Every new function once (``m`` is unifw's F or torch's)."""
    return (m.elu(x4, 0.7), m.hardtanh(x4, -0.5, 0.5), m.relu6(x4 * 4),
            m.normalize(x4, dim=1), m.normalize(x3, p=1.0, dim=-1),
            m.group_norm(x4, 2, w, b),
            m.interpolate(x4, size=(7, 3), mode="bilinear"),
            m.interpolate(x4, scale_factor=1.5, mode="bilinear", align_corners=True),
            m.interpolate(x4, scale_factor=(2, 0.5)),
            m.interpolate(x3, size=9, mode="linear"),
            m.interpolate(x3, size=4, mode="nearest-exact"))


def _all_ops_torch(x4, x3, w, b):
    return _all_ops(x4, x3, w, b, m=TF)


def _all_ops_loss(ops, xs):
    return sum((o * o).sum() for o in ops(*xs))


def test_compiled_matches_eager(grad_backend):
    """Every new function inside ``uf.function``, values and gradients: equal to eager and
    to torch (eager JAX, which compiles each op per shape, only here and for the values)."""
    rng = np.random.default_rng(6)
    arrays = [rng.standard_normal((2, 4, 5, 6)), rng.standard_normal((2, 3, 5)),
              rng.standard_normal(4), rng.standard_normal(4)]
    args = [uf.asarray(a.astype(np.float32)) for a in arrays]
    compiled = uf.function(_all_ops)(*args)
    eager = _all_ops(*args)
    ts = [torch.tensor(a.astype(np.float32), requires_grad=True) for a in arrays]
    ref = _all_ops_torch(*ts)
    for got, want, tref in zip(compiled, eager, ref):
        np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=1e-5, atol=1e-6)
        _close(got, tref, 1e-5, 1e-6)

    value, grads = uf.function(uf.value_and_grad(
        lambda xs: _all_ops_loss(_all_ops, xs)))(args)
    _all_ops_loss(_all_ops_torch, ts).backward()
    ref_value = sum(float((r * r).sum().detach()) for r in ref)
    np.testing.assert_allclose(np.asarray(value), ref_value, rtol=1e-5)
    for got, t in zip(grads, ts):
        _close(got, t.grad, 1e-4, 1e-5)
    if uf.backend() == "jax":
        return
    e_value, e_grads = uf.value_and_grad(lambda xs: _all_ops_loss(_all_ops, xs))(args)
    np.testing.assert_allclose(np.asarray(value), np.asarray(e_value), rtol=1e-5)
    for got, want in zip(grads, e_grads):
        np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=1e-4, atol=1e-5)


def test_eager_grads_jax_sample():
    """A few eager (not compiled) JAX gradients against torch."""
    if "jax" not in uf.available_backends():
        pytest.skip("jax not installed")
    with uf.use_backend("jax"):
        x = _activation_input((2, 3))
        cot = np.random.default_rng(9).standard_normal(x.shape)
        for fn in ("elu", "hardtanh", "relu6"):
            g = uf.grad(lambda t, f=getattr(F, fn): uf.sum(f(t) * uf.asarray(cot)))(
                uf.asarray(x))
            _close(g, _torch_grads(getattr(TF, fn), [x], cot)[0], msg=fn)
        x = _interp_input((1, 2, 3, 4))
        kw = dict(size=(5, 3), mode="bilinear")
        cot = np.random.default_rng(9).standard_normal((1, 2, 5, 3))
        g = uf.grad(lambda t: uf.sum(F.interpolate(t, **kw) * uf.asarray(cot)))(uf.asarray(x))
        _close(g, _torch_grads(lambda t: TF.interpolate(t, **kw), [x], cot)[0])


def test_group_norm_upsample_model_compiled_training_step(grad_backend):
    """A small model with the new layers, loaded with a torch model's weights: the compiled
    loss and parameter gradients are torch's."""
    def build(m):
        return m.Sequential(m.Conv2d(2, 4, 3, padding=1), m.GroupNorm(2, 4), m.ELU(),
                            m.Upsample(scale_factor=2, mode="bilinear"), m.Hardtanh(),
                            m.Conv2d(4, 1, 1), m.ReLU6())

    torch.manual_seed(0)
    ref = build(torch.nn)
    with torch.no_grad():
        ref[1].weight.normal_()
        ref[1].bias.normal_()
    model = build(nn)
    model.load_state_dict({k: v.numpy() for k, v in ref.state_dict().items()})
    x = np.random.default_rng(7).standard_normal((2, 2, 3, 3)).astype(np.float32)
    y = np.random.default_rng(8).standard_normal((2, 1, 6, 6)).astype(np.float32) + 0.5

    def step(model, x, y):
        return uf.value_and_grad(lambda m: F.mse_loss(m(x), y))(model)

    loss, grads = uf.function(step)(model, uf.asarray(x), uf.asarray(y))
    ref_loss = TF.mse_loss(ref(torch.from_numpy(x)), torch.from_numpy(y))
    ref_loss.backward()
    np.testing.assert_allclose(np.asarray(loss), ref_loss.item(), rtol=1e-5)
    ref_grads = dict(ref.named_parameters())
    assert list(grads) == list(ref_grads)
    for name, g in grads.items():
        _close(g, ref_grads[name].grad, 1e-4, 1e-6, msg=name)
