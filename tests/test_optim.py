"""Optimizers, gradient clipping and EMA against independent oracles.

Trajectories are compared with a float64 NumPy implementation of each update rule
as PyTorch documents it, and with ``torch.optim`` itself, on least-squares
problems drawn by hypothesis. Gradients are computed analytically with unifw ops,
so the NumPy backend is covered too.
"""
from __future__ import annotations

import contextlib

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import unifw as uf
from unifw import optim
from unifw.variable import Parameter

torch = pytest.importorskip("torch")

STEPS = 20


# ----------------------------------------------------------------------------- problems
def make_problem(seed):
    """Two parameters (a vector and a matrix) of 0.5*|A x - b|^2 + 0.5*s*|W - C|^2."""
    rng = np.random.default_rng(seed)
    d, m, k = rng.integers(1, 5), rng.integers(1, 6), rng.integers(1, 4)
    return {"A": rng.normal(size=(m, d)) / np.sqrt(m), "b": rng.normal(size=m),
            "C": rng.normal(size=(d, k)), "s": float(rng.uniform(0.1, 2.0)),
            "x0": rng.normal(size=d), "W0": rng.normal(size=(d, k))}


def np_grads(prob, x, W):
    return [prob["A"].T @ (prob["A"] @ x - prob["b"]), prob["s"] * (W - prob["C"])]


def uf_grads(prob, x, W, dtype):
    A, b, C = (uf.asarray(prob[k].astype(dtype)) for k in ("A", "b", "C"))
    return [A.T @ (A @ x - b), (W - C) * prob["s"]]


# ----------------------------------------------------------------------------- NumPy references
def ref_sgd(p, g, s, t, lr, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False,
            maximize=False):
    g = -g if maximize else g
    g = g + weight_decay * p
    if momentum:
        s["b"] = g.copy() if t == 1 else momentum * s["b"] + (1 - dampening) * g
        g = g + momentum * s["b"] if nesterov else s["b"]
    return p - lr * g


def ref_adam(p, g, s, t, lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, amsgrad=False,
             maximize=False, decoupled=False):
    b1, b2 = betas
    g = -g if maximize else g
    if decoupled:
        p = p * (1 - lr * weight_decay)
    else:
        g = g + weight_decay * p
    s["m"] = b1 * s.get("m", 0.0) + (1 - b1) * g
    s["v"] = b2 * s.get("v", 0.0) + (1 - b2) * g * g
    v = s["v"]
    if amsgrad:
        s["vmax"] = np.maximum(s.get("vmax", 0.0), s["v"])
        v = s["vmax"]
    m_hat = s["m"] / (1 - b1 ** t)
    v_hat = v / (1 - b2 ** t)
    return p - lr * m_hat / (np.sqrt(v_hat) + eps)


def ref_adamw(p, g, s, t, lr, weight_decay=1e-2, **kw):
    return ref_adam(p, g, s, t, lr, weight_decay=weight_decay, decoupled=True, **kw)


def ref_adagrad(p, g, s, t, lr, lr_decay=0.0, weight_decay=0.0, initial_accumulator_value=0.0,
                eps=1e-10, maximize=False):
    g = -g if maximize else g
    g = g + weight_decay * p
    clr = lr / (1 + (t - 1) * lr_decay)
    s["sum"] = s.get("sum", initial_accumulator_value) + g * g
    return p - clr * g / (np.sqrt(s["sum"]) + eps)


def ref_rmsprop(p, g, s, t, lr, alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.0,
                centered=False, maximize=False):
    g = -g if maximize else g
    g = g + weight_decay * p
    s["v"] = alpha * s.get("v", 0.0) + (1 - alpha) * g * g
    v = s["v"]
    if centered:
        s["a"] = alpha * s.get("a", 0.0) + (1 - alpha) * g
        v = v - s["a"] ** 2
    if momentum > 0:
        s["b"] = momentum * s.get("b", 0.0) + g / (np.sqrt(v) + eps)
        return p - lr * s["b"]
    return p - lr * g / (np.sqrt(v) + eps)


def reference(rule, prob, hp, steps=STEPS):
    params = [prob["x0"].copy(), prob["W0"].copy()]
    states = [{}, {}]
    for t in range(1, steps + 1):
        grads = np_grads(prob, *params)
        params = [rule(p, g, s, t, **hp) for p, g, s in zip(params, grads, states)]
    return params


def run_unifw(cls, prob, hp, dtype=np.float64, steps=STEPS):
    x = Parameter(uf.asarray(prob["x0"].astype(dtype)))
    W = Parameter(uf.asarray(prob["W0"].astype(dtype)))
    opt = cls([x, W], **hp)
    for _ in range(steps):
        opt.step(uf_grads(prob, x, W, dtype))
    return [x.numpy(), W.numpy()], opt


def run_torch(cls, prob, hp, dtype=torch.float64, steps=STEPS):
    params = [torch.nn.Parameter(torch.tensor(prob[k], dtype=dtype)) for k in ("x0", "W0")]
    opt = cls(params, **hp)
    for _ in range(steps):
        with torch.no_grad():
            grads = np_grads(prob, *[p.double().numpy() for p in params])
        for p, g in zip(params, grads):
            p.grad = torch.tensor(g, dtype=dtype)
        opt.step()
    return [p.detach().double().numpy() for p in params]


# ----------------------------------------------------------------------------- hyperparameters
lrs = st.sampled_from([1e-3, 0.01, 0.05, 0.1])
decays = st.sampled_from([0.0, 0.0, 1e-3, 0.1])


@st.composite
def sgd_hp(draw):
    momentum = draw(st.sampled_from([0.0, 0.5, 0.9]))
    nesterov = momentum > 0 and draw(st.booleans())
    dampening = 0.0 if nesterov or not momentum else draw(st.sampled_from([0.0, 0.3]))
    return dict(lr=draw(lrs), momentum=momentum, dampening=dampening, nesterov=nesterov,
                weight_decay=draw(decays), maximize=draw(st.booleans()))


@st.composite
def adam_hp(draw):
    return dict(lr=draw(lrs), betas=draw(st.sampled_from([(0.9, 0.999), (0.5, 0.9)])),
                eps=draw(st.sampled_from([1e-8, 1e-3])), weight_decay=draw(decays),
                amsgrad=draw(st.booleans()), maximize=draw(st.booleans()))


@st.composite
def adagrad_hp(draw):
    return dict(lr=draw(lrs), lr_decay=draw(st.sampled_from([0.0, 0.05])),
                weight_decay=draw(decays),
                initial_accumulator_value=draw(st.sampled_from([0.0, 0.1])),
                eps=draw(st.sampled_from([1e-10, 1e-3])), maximize=draw(st.booleans()))


@st.composite
def rmsprop_hp(draw):
    return dict(lr=draw(lrs), alpha=draw(st.sampled_from([0.99, 0.9])),
                eps=draw(st.sampled_from([1e-8, 1e-3])), weight_decay=draw(decays),
                momentum=draw(st.sampled_from([0.0, 0.5])), centered=draw(st.booleans()),
                maximize=draw(st.booleans()))


CASES = {
    "SGD": (optim.SGD, torch.optim.SGD, ref_sgd, sgd_hp()),
    "Adam": (optim.Adam, torch.optim.Adam, ref_adam, adam_hp()),
    "AdamW": (optim.AdamW, torch.optim.AdamW, ref_adamw, adam_hp()),
    "Adagrad": (optim.Adagrad, torch.optim.Adagrad, ref_adagrad, adagrad_hp()),
    "RMSprop": (optim.RMSprop, torch.optim.RMSprop, ref_rmsprop, rmsprop_hp()),
}


def _modes(backend):
    """Eager update paths: on PyTorch both the fused (torch.optim kernels) and generic rules."""
    return [contextlib.nullcontext, optim.fused.disabled] if backend == "torch" else \
        [contextlib.nullcontext]


@pytest.mark.parametrize("name", list(CASES))
@settings(max_examples=4, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 2 ** 32 - 1), data=st.data())
def test_trajectory_matches_numpy_and_torch(backend, name, seed, data):
    cls, torch_cls, rule, hp_strategy = CASES[name]
    hp = data.draw(hp_strategy)
    prob = make_problem(seed)
    expected = reference(rule, prob, hp)
    oracle = run_torch(torch_cls, prob, hp)
    for e, o in zip(expected, oracle):  # the two oracles agree with each other
        np.testing.assert_allclose(o, e, rtol=1e-9, atol=1e-12)
    for mode in _modes(backend):
        with mode():
            got, _ = run_unifw(cls, prob, hp)
        for g, e in zip(got, expected):
            np.testing.assert_allclose(g, e, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("name", list(CASES))
def test_float32_matches_torch_float32(backend, name):
    cls, torch_cls, _, _ = CASES[name]
    hp = {"SGD": dict(lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.01),
          "Adam": dict(lr=0.05, amsgrad=True), "AdamW": dict(lr=0.05),
          "Adagrad": dict(lr=0.1, lr_decay=0.01), "RMSprop": dict(lr=0.01, centered=True,
                                                                  momentum=0.5)}[name]
    prob = make_problem(7)
    expected = run_torch(torch_cls, prob, hp, dtype=torch.float32)
    got, _ = run_unifw(cls, prob, hp, dtype=np.float32)
    for g, e in zip(got, expected):
        assert g.dtype == np.float32
        np.testing.assert_allclose(g, e, rtol=2e-5, atol=2e-6)


COMPILED_HP = {"SGD": dict(lr=0.05, momentum=0.9, dampening=0.3),
               "Adam": dict(lr=0.05, amsgrad=True, weight_decay=0.1), "AdamW": dict(lr=0.05),
               "Adagrad": dict(lr=0.1, lr_decay=0.01),
               "RMSprop": dict(lr=0.01, centered=True, momentum=0.5)}


def test_compiled_steps_match_reference_without_retracing(grad_backend):
    """All five optimizers stepped inside one uf.function (one compilation per backend)."""
    prob = make_problem(3)
    A, b, C = (uf.asarray(prob[k]) for k in ("A", "b", "C"))
    runs = {}
    for name, (cls, _, _, _) in CASES.items():
        x, W = Parameter(uf.asarray(prob["x0"])), Parameter(uf.asarray(prob["W0"]))
        runs[name] = (cls([x, W], **COMPILED_HP[name]), x, W)
    opts = [opt for opt, _, _ in runs.values()]
    params = [(x, W) for _, x, W in runs.values()]

    @uf.function
    def step(opts, params, A, b, C):
        for opt, (x, W) in zip(opts, params):
            opt.step([A.T @ (A @ x - b), (W - C) * prob["s"]])

    for _ in range(3):
        step(opts, params, A, b, C)
    traces = step.trace_count
    for _ in range(STEPS - 3):
        step(opts, params, A, b, C)
    assert step.trace_count == traces  # no retracing as the step counters advance
    for name, (opt, x, W) in runs.items():
        expected = reference(CASES[name][2], prob, COMPILED_HP[name])
        for got, e in zip([x.numpy(), W.numpy()], expected):
            np.testing.assert_allclose(got, e, rtol=1e-9, atol=1e-12, err_msg=name)
        assert opt.step_count == STEPS


# ----------------------------------------------------------------------------- semantics
def test_none_grads_and_frozen_params_are_skipped(backend):
    a = Parameter(uf.asarray(np.array([1.0, 2.0])))
    b = Parameter(uf.asarray(np.array([3.0])))
    c = Parameter(uf.asarray(np.array([4.0, 5.0])))
    c.trainable = False
    opt = optim.Adam([a, b, c], lr=0.1)
    before = {k: v.numpy().copy() for k, v in opt._unifw_variables().items()}
    opt.step({"a": uf.asarray(np.array([1.0, 1.0])), "b": None,
              "c": uf.asarray(np.array([1.0, 1.0]))})
    after = {k: v.numpy() for k, v in opt._unifw_variables().items()}
    np.testing.assert_array_equal(b.numpy(), [3.0])
    np.testing.assert_array_equal(c.numpy(), [4.0, 5.0])
    for i in (1, 2):  # no state change for the skipped ones
        for slot in ("step", "exp_avg", "exp_avg_sq"):
            np.testing.assert_array_equal(after[f"state.{i}.{slot}"], before[f"state.{i}.{slot}"])
    assert int(after["state.0.step"]) == 1
    np.testing.assert_allclose(a.numpy(), [0.9, 1.9], rtol=1e-6)


def test_param_groups_use_their_own_options(backend):
    prob = make_problem(1)
    x = Parameter(uf.asarray(prob["x0"]))
    W = Parameter(uf.asarray(prob["W0"]))
    opt = optim.SGD([{"params": [x]}, {"params": [W], "lr": 0.01, "momentum": 0.5}], lr=0.1)
    assert opt.param_groups[1]["momentum"] == 0.5 and opt.param_groups[0]["momentum"] == 0.0
    tx = torch.nn.Parameter(torch.tensor(prob["x0"]))
    tW = torch.nn.Parameter(torch.tensor(prob["W0"]))
    topt = torch.optim.SGD([{"params": [tx]}, {"params": [tW], "lr": 0.01, "momentum": 0.5}],
                           lr=0.1)
    for _ in range(5):
        opt.step(uf_grads(prob, x, W, np.float64))
        gx, gW = np_grads(prob, tx.detach().numpy(), tW.detach().numpy())
        tx.grad, tW.grad = torch.tensor(gx), torch.tensor(gW)
        topt.step()
    np.testing.assert_allclose(x.numpy(), tx.detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(W.numpy(), tW.detach().numpy(), rtol=1e-12)


def test_changing_lr_through_param_groups(backend):
    p = Parameter(uf.asarray(np.array([1.0])))
    opt = optim.SGD([p], lr=0.1)
    opt.param_groups[0]["lr"] = 0.5
    assert opt.param_groups[0]["lr"] == 0.5
    opt.step([uf.asarray(np.array([2.0]))])
    np.testing.assert_allclose(p.numpy(), [0.0])


def test_grads_by_name_from_named_parameters(backend):
    a = Parameter(uf.asarray(np.array([1.0])))
    b = Parameter(uf.asarray(np.array([2.0])))
    opt = optim.SGD([("first", a), ("second", b)], lr=1.0)
    opt.step({"second": uf.asarray(np.array([1.0])), "unrelated": uf.asarray(np.array([5.0]))})
    np.testing.assert_array_equal(a.numpy(), [1.0])
    np.testing.assert_array_equal(b.numpy(), [1.0])


def test_bad_inputs_raise_clear_errors(backend):
    p = Parameter(uf.asarray(np.zeros((2, 3), np.float32)))
    opt = optim.SGD([p], lr=0.1)
    with pytest.raises(ValueError, match="1 parameters"):
        opt.step([None, None])
    with pytest.raises(uf.ShapeError, match="shape"):
        opt.step([uf.asarray(np.zeros((3, 2), np.float32))])
    with pytest.raises(uf.DTypeError):
        opt.step([uf.asarray(np.zeros((2, 3), np.float64))])
    with pytest.raises(ValueError, match="more than one group"):
        optim.SGD([p, p])
    with pytest.raises(ValueError, match="unknown option"):
        optim.SGD([{"params": [p], "betas": (0.9, 0.9)}])
    with pytest.raises(ValueError, match="empty"):
        optim.Adam([])
    with pytest.raises(uf.DTypeError):
        optim.SGD([Parameter(uf.asarray(np.zeros(2, np.int64)))])
    with pytest.raises(ValueError, match="Nesterov"):
        optim.SGD([p], nesterov=True)


def test_state_dict_round_trip_and_loading_torch_state(backend):
    prob = make_problem(5)
    hp = dict(lr=0.05, amsgrad=True)
    tparams = [torch.nn.Parameter(torch.tensor(prob[k])) for k in ("x0", "W0")]
    topt = torch.optim.Adam(tparams, **hp)
    for _ in range(4):
        for p, g in zip(tparams, np_grads(prob, *[q.detach().numpy() for q in tparams])):
            p.grad = torch.tensor(g)
        topt.step()
    torch_state = topt.state_dict()
    state = {"state": {i: {k: v.numpy() for k, v in s.items()}
                       for i, s in torch_state["state"].items()},
             "param_groups": torch_state["param_groups"]}
    x = Parameter(uf.asarray(tparams[0].detach().numpy().copy()))
    W = Parameter(uf.asarray(tparams[1].detach().numpy().copy()))
    opt = optim.Adam([x, W], lr=1.0)
    opt.load_state_dict(state)
    assert opt.param_groups[0]["lr"] == 0.05
    for _ in range(4):
        opt.step(uf_grads(prob, x, W, np.float64))
        for p, g in zip(tparams, np_grads(prob, *[q.detach().numpy() for q in tparams])):
            p.grad = torch.tensor(g)
        topt.step()
    np.testing.assert_allclose(x.numpy(), tparams[0].detach().numpy(), rtol=1e-10)
    np.testing.assert_allclose(W.numpy(), tparams[1].detach().numpy(), rtol=1e-10)

    saved = opt.state_dict()
    opt2 = optim.Adam([Parameter(x.value), Parameter(W.value)], lr=1.0, amsgrad=True)
    opt2.load_state_dict(saved)
    for k, v in opt._unifw_variables().items():
        np.testing.assert_array_equal(opt2._unifw_variables()[k].numpy(), v.numpy())
    bad = {**saved, "state": {0: {**saved["state"][0], "exp_avg": np.zeros(7)}}}
    with pytest.raises(ValueError, match="shape"):
        opt2.load_state_dict(bad)


def test_bfloat16_parameters_update_in_their_dtype(grad_backend):
    p = Parameter(uf.asarray(np.array([1.0, -2.0, 3.0], np.float32)).astype(uf.bfloat16))
    opt = optim.Adam([p], lr=0.1, weight_decay=0.01)

    @uf.function
    def compiled(p, opt):
        opt.step([p * 2.0])

    opt.step([p * 2.0])
    compiled(p, opt)
    assert p.dtype == uf.bfloat16
    tp = torch.nn.Parameter(torch.tensor([1.0, -2.0, 3.0], dtype=torch.bfloat16))
    topt = torch.optim.Adam([tp], lr=0.1, weight_decay=0.01)
    for _ in range(2):
        tp.grad = (tp * 2.0).detach()
        topt.step()
    np.testing.assert_allclose(p.numpy().astype(np.float32), tp.detach().float().numpy(),
                               rtol=2e-2)


# ----------------------------------------------------------------------------- clipping
@pytest.mark.parametrize("norm_type", [2.0, 1.0, float("inf")])
@pytest.mark.parametrize("max_norm", [0.5, 100.0])
def test_clip_grad_norm_matches_torch(backend, norm_type, max_norm):
    rng = np.random.default_rng(0)
    arrays = [rng.normal(size=(3, 4)).astype(np.float32), rng.normal(size=5).astype(np.float32)]
    grads = {"w": uf.asarray(arrays[0]), "skip": None, "b": uf.asarray(arrays[1])}
    clipped, norm = optim.clip_grad_norm(grads, max_norm, norm_type=norm_type)
    tensors = [torch.nn.Parameter(torch.zeros(a.shape)) for a in arrays]
    for t, a in zip(tensors, arrays):
        t.grad = torch.tensor(a)
    tnorm = torch.nn.utils.clip_grad_norm_(tensors, max_norm, norm_type=norm_type)
    np.testing.assert_allclose(float(norm), float(tnorm), rtol=1e-6)
    assert clipped["skip"] is None and list(clipped) == ["w", "skip", "b"]
    np.testing.assert_allclose(clipped["w"].numpy(), tensors[0].grad.numpy(), rtol=1e-6)
    np.testing.assert_allclose(clipped["b"].numpy(), tensors[1].grad.numpy(), rtol=1e-6)


def test_clip_grad_value_matches_torch(backend):
    a = np.linspace(-3, 3, 13).astype(np.float32)
    out = optim.clip_grad_value([uf.asarray(a), None], 1.5)
    t = torch.nn.Parameter(torch.zeros(13))
    t.grad = torch.tensor(a)
    torch.nn.utils.clip_grad_value_([t], 1.5)
    assert out[1] is None
    np.testing.assert_array_equal(out[0].numpy(), t.grad.numpy())


# ----------------------------------------------------------------------------- EMA
class _Model:
    """The parts of the Module protocol EMA uses (so EMA is tested on every backend)."""

    def __init__(self, arrays):
        self.params = {k: Parameter(uf.asarray(v)) for k, v in arrays.items()}

    def named_parameters(self):
        return list(self.params.items())

    def _unifw_variables(self):
        return dict(self.params)


@pytest.mark.parametrize("decay", [0.9, None])
def test_ema_matches_torch_averaged_model(backend, decay):
    from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

    rng = np.random.default_rng(0)
    values = [{"w": rng.normal(size=(2, 3)), "b": rng.normal(size=3)} for _ in range(6)]
    model = _Model(values[0])
    ema = optim.EMA(model, decay=decay)
    tmodel = torch.nn.ParameterDict({k: torch.nn.Parameter(torch.tensor(v))
                                     for k, v in values[0].items()})
    kw = {} if decay is None else {"multi_avg_fn": get_ema_multi_avg_fn(decay)}
    tavg = AveragedModel(tmodel, **kw)
    for vals in values[1:]:
        for k, v in vals.items():
            model.params[k].assign(uf.asarray(v))
            tmodel[k].data = torch.tensor(v)
        ema.update(model)
        tavg.update_parameters(tmodel)
    for k in values[0]:
        np.testing.assert_allclose(ema.averages[k].numpy(), tavg.module[k].detach().numpy(),
                                   rtol=1e-12)
    with ema.applied_to(model):
        np.testing.assert_array_equal(model.params["w"].numpy(), ema.averages["w"].numpy())
    np.testing.assert_array_equal(model.params["w"].numpy(), values[-1]["w"])
    ema.copy_to(model)
    np.testing.assert_array_equal(model.params["b"].numpy(), ema.averages["b"].numpy())


def test_ema_update_inside_compiled_step(grad_backend):
    model = _Model({"w": np.zeros(3)})
    ema = optim.EMA(model, decay=0.5)

    @uf.function
    def shift(model, ema):
        p = model.params["w"]
        p.assign(p + 1.0)
        ema.update(model)

    for _ in range(3):
        shift(model, ema)
    # first update copies (1), then 0.5*1 + 0.5*2 = 1.5, then 0.5*1.5 + 0.5*3 = 2.25
    np.testing.assert_allclose(ema.averages["w"].numpy(), [2.25] * 3)
    assert int(ema.num_updates) == 3
