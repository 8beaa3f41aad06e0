"""Losses (functional and module forms) against torch.nn.functional in float64."""
from __future__ import annotations

import numpy as np
import pytest

import unifw as uf
import unifw.nn.functional as F
from unifw import nn

torch = pytest.importorskip("torch")
TF = torch.nn.functional

REDUCTIONS = ["mean", "sum", "none"]


def _check(ours, ref, rtol=1e-10, atol=1e-12):
    ref = ref.detach().numpy()
    ours = np.asarray(ours)
    assert ours.shape == ref.shape
    np.testing.assert_allclose(ours, ref, rtol=rtol, atol=atol)


def _both(*arrays):
    """Each array as (unifw tensor, torch tensor)."""
    return [(uf.asarray(a), torch.from_numpy(np.asarray(a))) for a in arrays]


@pytest.fixture
def rng():
    return np.random.default_rng(0)


# ---------------------------------------------------------------- regression losses
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_regression_losses(backend, rng, reduction):
    (x, tx), (y, ty), (w, tw) = _both(rng.standard_normal((4, 5)),
                                      rng.standard_normal((4, 5)) * 2,
                                      rng.uniform(0.1, 2.0, (4, 5)))
    for fn in ("mse_loss", "l1_loss"):
        _check(getattr(F, fn)(x, y, reduction=reduction),
               getattr(TF, fn)(tx, ty, reduction=reduction))
        _check(getattr(F, fn)(x, y, reduction=reduction, weight=w),
               getattr(TF, fn)(tx, ty, reduction=reduction, weight=tw))
    for beta in (1.0, 0.5, 0.0):
        _check(F.smooth_l1_loss(x, y, reduction=reduction, beta=beta),
               TF.smooth_l1_loss(tx, ty, reduction=reduction, beta=beta))
    for delta in (1.0, 0.3):
        _check(F.huber_loss(x, y, reduction=reduction, delta=delta),
               TF.huber_loss(tx, ty, reduction=reduction, delta=delta))
        _check(F.huber_loss(x, y, reduction=reduction, delta=delta, weight=w),
               TF.huber_loss(tx, ty, reduction=reduction, delta=delta, weight=tw))


@pytest.mark.filterwarnings("ignore:size_average and reduce args")
def test_legacy_reduction_arguments(backend, rng):
    (x, tx), (y, ty) = _both(rng.standard_normal(6), rng.standard_normal(6))
    for size_average, reduce in [(False, None), (None, False), (True, True)]:
        _check(F.mse_loss(x, y, size_average, reduce),
               TF.mse_loss(tx, ty, size_average, reduce))


def test_bad_reduction_is_an_error(backend):
    x = uf.asarray(np.ones(3))
    with pytest.raises(ValueError, match="reduction"):
        F.l1_loss(x, x, reduction="avg")
    with pytest.raises(ValueError, match="reduction"):
        nn.MSELoss(reduction="avg")


# ---------------------------------------------------------------- classification losses
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("smoothing", [0.0, 0.2])
def test_cross_entropy_class_indices(backend, rng, reduction, weighted, smoothing):
    logits = rng.standard_normal((6, 4, 3)) * 3  # (N, C, d1)
    target = rng.integers(0, 4, (6, 3))
    target[0, 0] = target[3, 2] = -100  # ignored
    weight = rng.uniform(0.2, 2.0, 4) if weighted else None
    (x, tx), (t, tt) = _both(logits, target)
    w, tw = (uf.asarray(weight), torch.from_numpy(weight)) if weighted else (None, None)
    _check(F.cross_entropy(x, t, weight=w, reduction=reduction, label_smoothing=smoothing),
           TF.cross_entropy(tx, tt, weight=tw, reduction=reduction, label_smoothing=smoothing))
    # 2-D input and a custom ignore_index
    _check(F.cross_entropy(x[:, :, 0], t[:, 1], weight=w, ignore_index=2, reduction=reduction,
                           label_smoothing=smoothing),
           TF.cross_entropy(tx[:, :, 0], tt[:, 1], weight=tw, ignore_index=2,
                            reduction=reduction, label_smoothing=smoothing))


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_cross_entropy_probability_targets(backend, rng, reduction):
    logits = rng.standard_normal((5, 4))
    probs = rng.dirichlet(np.ones(4), 5)
    weight = rng.uniform(0.5, 1.5, 4)
    (x, tx), (p, tp), (w, tw) = _both(logits, probs, weight)
    for smoothing in (0.0, 0.1):
        _check(F.cross_entropy(x, p, reduction=reduction, label_smoothing=smoothing),
               TF.cross_entropy(tx, tp, reduction=reduction, label_smoothing=smoothing))
        _check(F.cross_entropy(x, p, w, reduction=reduction, label_smoothing=smoothing),
               TF.cross_entropy(tx, tp, tw, reduction=reduction, label_smoothing=smoothing))


def test_cross_entropy_unbatched(backend, rng):
    (x, tx), = _both(rng.standard_normal(5))
    t, tt = uf.asarray(np.int64(3)), torch.tensor(3)
    _check(F.cross_entropy(x, t, label_smoothing=0.1), TF.cross_entropy(tx, tt,
                                                                     label_smoothing=0.1))


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_nll_loss(backend, rng, reduction):
    logp = np.log(rng.dirichlet(np.ones(5), 7))
    target = rng.integers(0, 5, 7)
    target[2] = 4
    (x, tx), (t, tt), (w, tw) = _both(logp, target, rng.uniform(0.1, 1.0, 5))
    _check(F.nll_loss(x, t, reduction=reduction), TF.nll_loss(tx, tt, reduction=reduction))
    _check(F.nll_loss(x, t, w, ignore_index=4, reduction=reduction),
           TF.nll_loss(tx, tt, tw, ignore_index=4, reduction=reduction))


@pytest.mark.filterwarnings("ignore:divide by zero:RuntimeWarning")
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_binary_cross_entropy(backend, rng, reduction):
    probs = rng.uniform(0.0, 1.0, (4, 3))
    probs[0, 0], probs[1, 1] = 0.0, 1.0  # log clamped at -100, as in torch
    target = rng.uniform(0.0, 1.0, (4, 3))
    (x, tx), (y, ty), (w, tw) = _both(probs, target, rng.uniform(0.5, 2.0, (4, 3)))
    _check(F.binary_cross_entropy(x, y, reduction=reduction),
           TF.binary_cross_entropy(tx, ty, reduction=reduction))
    _check(F.binary_cross_entropy(x, y, w, reduction=reduction),
           TF.binary_cross_entropy(tx, ty, tw, reduction=reduction))


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_binary_cross_entropy_with_logits(backend, rng, reduction):
    logits = rng.standard_normal((4, 3)) * 3
    logits[0, 0], logits[1, 1] = 80.0, -80.0  # stable at extremes
    target = (rng.uniform(size=(4, 3)) > 0.5).astype(np.float64)
    (x, tx), (y, ty), (w, tw), (pw, tpw) = _both(logits, target,
                                                 rng.uniform(0.5, 2.0, (4, 3)),
                                                 rng.uniform(0.5, 3.0, 3))
    _check(F.binary_cross_entropy_with_logits(x, y, reduction=reduction),
           TF.binary_cross_entropy_with_logits(tx, ty, reduction=reduction))
    _check(F.binary_cross_entropy_with_logits(x, y, w, reduction=reduction, pos_weight=pw),
           TF.binary_cross_entropy_with_logits(tx, ty, tw, reduction=reduction,
                                               pos_weight=tpw))


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_multi_margin_loss(backend, rng, reduction):
    (x, tx), (t, tt), (w, tw) = _both(rng.standard_normal((6, 4)), rng.integers(0, 4, 6),
                                      rng.uniform(0.5, 2.0, 4))
    for p, margin in [(1, 1.0), (2, 0.5)]:
        _check(F.multi_margin_loss(x, t, p=p, margin=margin, reduction=reduction),
               TF.multi_margin_loss(tx, tt, p=p, margin=margin, reduction=reduction))
        _check(F.multi_margin_loss(x, t, p, margin, w, reduction=reduction),
               TF.multi_margin_loss(tx, tt, p, margin, tw, reduction=reduction))
    _check(F.multi_margin_loss(x[0], t[0]), TF.multi_margin_loss(tx[0], tt[0]))


@pytest.mark.filterwarnings("ignore:reduction. 'mean' divides")
@pytest.mark.parametrize("reduction", REDUCTIONS + ["batchmean"])
def test_kl_div(backend, rng, reduction):
    logq = np.log(rng.dirichlet(np.ones(5), 3))
    p = rng.dirichlet(np.ones(5), 3)
    p[0, 1] = 0.0  # 0 * log 0 = 0
    (x, tx), (y, ty), (ly, tly) = _both(logq, p, np.log(rng.dirichlet(np.ones(5), 3)))
    _check(F.kl_div(x, y, reduction=reduction), TF.kl_div(tx, ty, reduction=reduction))
    _check(F.kl_div(x, ly, reduction=reduction, log_target=True),
           TF.kl_div(tx, tly, reduction=reduction, log_target=True))


# ---------------------------------------------------------------- module forms
MODULES = [
    ("MSELoss", {}, "reg"), ("L1Loss", {"reduction": "sum"}, "reg"),
    ("SmoothL1Loss", {"beta": 0.5}, "reg"), ("HuberLoss", {"delta": 0.5}, "reg"),
    ("CrossEntropyLoss", {"weight": "w", "label_smoothing": 0.1, "ignore_index": 1}, "cls"),
    ("NLLLoss", {"weight": "w", "reduction": "none"}, "logp"),
    ("BCELoss", {"weight": "wb"}, "prob"),
    ("BCEWithLogitsLoss", {"pos_weight": "w"}, "bin"),
    ("MultiMarginLoss", {"p": 2, "margin": 0.7, "weight": "w"}, "cls"),
    ("KLDivLoss", {"reduction": "batchmean", "log_target": True}, "logp_pair"),
]


@pytest.mark.parametrize("name,kwargs,kind", MODULES, ids=[m[0] for m in MODULES])
def test_loss_modules_match_torch(backend, rng, name, kwargs, kind):
    extra = {"w": rng.uniform(0.5, 2.0, 4), "wb": rng.uniform(0.5, 2.0, (3, 4))}
    logits = rng.standard_normal((3, 4))
    inputs = {
        "reg": (logits, rng.standard_normal((3, 4))),
        "cls": (logits, rng.integers(0, 4, 3)),
        "logp": (np.log(rng.dirichlet(np.ones(4), 3)), rng.integers(0, 4, 3)),
        "prob": (rng.uniform(0.01, 0.99, (3, 4)), rng.uniform(size=(3, 4))),
        "bin": (logits, (rng.uniform(size=(3, 4)) > 0.5).astype(np.float64)),
        "logp_pair": (np.log(rng.dirichlet(np.ones(4), 3)), np.log(rng.dirichlet(np.ones(4), 3))),
    }[kind]
    tensor_args = ("weight", "pos_weight")
    ours_kw = {k: uf.asarray(extra[v]) if k in tensor_args else v for k, v in kwargs.items()}
    ref_kw = {k: torch.from_numpy(extra[v]) if k in tensor_args else v
              for k, v in kwargs.items()}
    ours, ref = getattr(nn, name)(**ours_kw), getattr(torch.nn, name)(**ref_kw)
    assert list(ours.state_dict()) == list(ref.state_dict())
    (a, ta), (b, tb) = _both(*inputs)
    _check(ours(a, b), ref(ta, tb))


# ---------------------------------------------------------------- gradients
def test_loss_gradients_match_torch(grad_backend, rng):
    logits, target = rng.standard_normal((5, 4)), rng.integers(0, 4, 5)
    target[1] = -100
    weight = rng.uniform(0.5, 2.0, 4)
    y = rng.standard_normal((5, 4))

    def ours(x):
        w = uf.asarray(weight)
        return (F.cross_entropy(x, uf.asarray(target), w, label_smoothing=0.2)
                + F.smooth_l1_loss(x, uf.asarray(y), beta=0.5)
                + F.binary_cross_entropy_with_logits(x, uf.asarray((y > 0).astype(np.float64)))
                + F.multi_margin_loss(x, uf.asarray(np.abs(target) % 4), p=2))

    tx = torch.from_numpy(logits).requires_grad_()
    ref = (TF.cross_entropy(tx, torch.from_numpy(target), torch.from_numpy(weight),
                            label_smoothing=0.2)
           + TF.smooth_l1_loss(tx, torch.from_numpy(y), beta=0.5)
           + TF.binary_cross_entropy_with_logits(tx, torch.from_numpy((y > 0).astype(np.float64)))
           + TF.multi_margin_loss(tx, torch.from_numpy(np.abs(target) % 4), p=2))
    ref.backward()
    g = uf.grad(ours)(uf.asarray(logits))
    np.testing.assert_allclose(np.asarray(g), tx.grad.numpy(), rtol=1e-9, atol=1e-12)
