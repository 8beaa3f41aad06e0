"""Learning-rate schedules against ``torch.optim.lr_scheduler``."""
from __future__ import annotations

import warnings

import numpy as np
import pytest

import unifw as uf
from unifw import optim
from unifw.variable import Parameter

torch = pytest.importorskip("torch")
T = torch.optim.lr_scheduler

STEPS = 25
BASE_LRS = (0.1, 0.03)

# name: (our class, torch class, keyword arguments shared by both)
SIMPLE = {
    "StepLR": (optim.StepLR, T.StepLR, dict(step_size=3, gamma=0.5)),
    "MultiStepLR": (optim.MultiStepLR, T.MultiStepLR, dict(milestones=[2, 5, 5, 9], gamma=0.3)),
    "ExponentialLR": (optim.ExponentialLR, T.ExponentialLR, dict(gamma=0.9)),
    "CosineAnnealingLR": (optim.CosineAnnealingLR, T.CosineAnnealingLR,
                          dict(T_max=7, eta_min=0.01)),
    "WarmRestarts": (optim.CosineAnnealingWarmRestarts, T.CosineAnnealingWarmRestarts,
                     dict(T_0=4, T_mult=1, eta_min=0.001)),
    "WarmRestartsMult": (optim.CosineAnnealingWarmRestarts, T.CosineAnnealingWarmRestarts,
                         dict(T_0=3, T_mult=2)),
    "LinearLR": (optim.LinearLR, T.LinearLR, dict(start_factor=0.25, total_iters=4)),
}
ONE_CYCLE = {
    "OneCycleCos": dict(max_lr=1.0, total_steps=STEPS),
    "OneCycleLinear3": dict(max_lr=0.5, total_steps=STEPS, anneal_strategy="linear",
                            three_phase=True, pct_start=0.25, div_factor=10.0),
}
ALL = list(SIMPLE) + list(ONE_CYCLE) + ["Sequential"]


def _ours(name, opt=None, base_lr=None):
    if name in SIMPLE:
        cls, _, kw = SIMPLE[name]
        return cls(opt, **kw) if opt is not None else cls(base_lr=base_lr, **kw)
    if name in ONE_CYCLE:
        return optim.OneCycleLR(opt, **ONE_CYCLE[name])
    subs = [optim.LinearLR(opt, start_factor=0.1, total_iters=3, base_lr=base_lr),
            optim.CosineAnnealingLR(opt, T_max=10, eta_min=0.001, base_lr=base_lr)]
    return optim.SequentialLR(opt, subs, milestones=[3])


def _torch_lrs(name) -> list:
    params = [torch.nn.Parameter(torch.zeros(1)) for _ in BASE_LRS]
    opt = torch.optim.SGD([{"params": [p], "lr": lr} for p, lr in zip(params, BASE_LRS)])
    if name in SIMPLE:
        _, cls, kw = SIMPLE[name]
        sched = cls(opt, **kw)
    elif name in ONE_CYCLE:
        sched = T.OneCycleLR(opt, cycle_momentum=False, **ONE_CYCLE[name])
    else:
        sched = T.SequentialLR(opt, [T.LinearLR(opt, start_factor=0.1, total_iters=3),
                                     T.CosineAnnealingLR(opt, T_max=10, eta_min=0.001)],
                               milestones=[3])
    lrs = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for _ in range(STEPS):
            lrs.append([g["lr"] for g in opt.param_groups])
            opt.step()
            sched.step()
    return lrs


def _params():
    return [Parameter(uf.asarray(np.zeros(1))) for _ in BASE_LRS]


@pytest.mark.parametrize("name", ALL)
def test_pytorch_style_matches_torch(backend, name):
    ps = _params()
    opt = optim.SGD([{"params": [p], "lr": lr} for p, lr in zip(ps, BASE_LRS)])
    sched = _ours(name, opt)
    got = []
    for _ in range(STEPS):
        got.append([g["lr"] for g in opt.param_groups])
        sched.step()
    np.testing.assert_allclose(got, _torch_lrs(name), rtol=1e-10, atol=1e-14)
    assert sched.get_last_lr() == [g["lr"] for g in opt.param_groups]


@pytest.mark.parametrize("name", ALL)
def test_schedule_values_match_torch_on_host_and_as_tensors(backend, name):
    sched = _ours(name, base_lr=BASE_LRS[0])
    expected = [lrs[0] for lrs in _torch_lrs(name)]
    host = [sched(t) for t in range(STEPS)]
    np.testing.assert_allclose(host, expected, rtol=1e-10, atol=1e-14)
    traced = [sched(uf.asarray(t, dtype=uf.int64)) for t in range(STEPS)]
    assert all(v.backend_name == backend and v.ndim == 0 for v in traced)
    np.testing.assert_allclose([float(v) for v in traced], expected, rtol=1e-9, atol=1e-14)


def test_schedule_as_lr_inside_compiled_step(grad_backend):
    """lr=<schedule> follows the optimizer's step Variable: one trace, every step right."""
    sched = _ours("Sequential", base_lr=BASE_LRS[0])
    p = Parameter(uf.asarray(np.zeros(2)))
    opt = optim.SGD([p], lr=sched)
    ones = uf.asarray(np.ones(2))

    @uf.function
    def step(p, opt, g):
        opt.step([g])

    step(p, opt, ones)
    traces = step.trace_count
    for _ in range(11):
        step(p, opt, ones)
    assert step.trace_count == traces
    expected = -sum(lrs[0] for lrs in _torch_lrs("Sequential")[:12])
    np.testing.assert_allclose(p.numpy(), [expected] * 2, rtol=1e-9)
    assert opt.param_groups[0]["lr"] == pytest.approx(sched(12))


def test_warmup_cosine_matches_torch_sequential(backend):
    sched = optim.warmup_cosine(0.2, warmup_steps=4, total_steps=20, eta_min=0.01)
    p = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([p], lr=0.2)
    ref = T.SequentialLR(opt, [T.LinearLR(opt, start_factor=1 / 3, total_iters=4),
                               T.CosineAnnealingLR(opt, T_max=16, eta_min=0.01)],
                         milestones=[4])
    expected = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for _ in range(20):
            expected.append(opt.param_groups[0]["lr"])
            opt.step()
            ref.step()
    np.testing.assert_allclose([sched(t) for t in range(20)], expected, rtol=1e-10)


def test_pytorch_style_step_inside_compiled_function(grad_backend):
    p = Parameter(uf.asarray(np.zeros(1)))
    opt = optim.SGD([p], lr=0.1)
    sched = optim.StepLR(opt, step_size=2, gamma=0.5)

    @uf.function
    def epoch(opt, sched):
        sched.step()

    for _ in range(5):
        epoch(opt, sched)
    assert opt.param_groups[0]["lr"] == pytest.approx(0.1 * 0.5 ** 2)
    assert sched.state_dict()["last_epoch"] == 5


def test_schedule_state_dict_round_trip(backend):
    p = Parameter(uf.asarray(np.zeros(1)))
    opt = optim.SGD([p], lr=0.1)
    sched = optim.ExponentialLR(opt, gamma=0.5)
    for _ in range(3):
        sched.step()
    state = sched.state_dict()
    opt2 = optim.SGD([Parameter(uf.asarray(np.zeros(1)))], lr=0.1)
    sched2 = optim.ExponentialLR(opt2, gamma=0.5)
    sched2.load_state_dict(state)
    sched2.step()
    assert opt2.param_groups[0]["lr"] == pytest.approx(0.1 * 0.5 ** 4)


def test_invalid_schedules_raise(backend):
    with pytest.raises(ValueError, match="step_size"):
        optim.StepLR(base_lr=0.1, step_size=0)
    with pytest.raises(ValueError, match="base_lr"):
        optim.CosineAnnealingLR(T_max=3)(0)
    with pytest.raises(ValueError, match="milestones"):
        optim.SequentialLR([optim.StepLR(base_lr=0.1)], milestones=[3])
    with pytest.raises(ValueError, match="total_steps"):
        optim.OneCycleLR(max_lr=1.0, total_steps=10)(11)
    p = Parameter(uf.asarray(np.zeros(1)))
    with pytest.raises(ValueError, match="schedule"):
        optim.StepLR(optim.SGD([p], lr=optim.ExponentialLR(base_lr=0.1)))
    with pytest.raises(RuntimeError, match="step"):
        optim.ExponentialLR(base_lr=0.1).step()
