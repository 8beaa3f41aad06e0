"""Registry entries: losses of ``unifw.nn.functional`` (PyTorch's definitions), rows
``loss.<name>``. References are written from the definitions in float64."""
from __future__ import annotations

import numpy as np
from hypothesis import assume
from hypothesis import strategies as st

from . import nn_reference as R
from .builders import arrays_fixed, group_dtypes, same
from .cases import Case, draw_array, shapes
from .registry import BadInput, Entry, register

_REDUCTIONS = ["mean", "sum", "none"]


def _call(name):
    def call(fn, *args, **kwargs):
        import unifw.nn.functional as F

        return getattr(F, name)(*args, **kwargs)
    return call


def _reduce(loss, reduction):
    return loss.mean() if reduction == "mean" else loss.sum() if reduction == "sum" else loss


def _loss(name, cases, ref, *, grad=2, accumulates=None, **kw):
    kw.setdefault("errors", (BadInput((arrays_fixed("float32", (2, 3)),
                                       arrays_fixed("float32", (4,))), "ShapeError",
                                      "input (2, 3) and target (4,)"),))
    return register(Entry(f"loss.{name}", cases, ref, group_dtypes("real_float"), same,
                          grad=grad, call=_call(name), signed_zeros=False,
                          accumulates=accumulates or (lambda c: c.args[0].size), **kw))


def _pair_cases(lo=-3.0, hi=3.0, tlo=-3.0, thi=3.0, kink_gap=None, extra=None):
    @st.composite
    def cases(draw, d, grad):
        shape = draw(shapes(1, 3, 1, 4))
        x = draw_array(draw, d, shape, lo, hi)
        t = draw_array(draw, d, shape, tlo, thi)
        kw = {"reduction": draw(st.sampled_from(_REDUCTIONS))}
        if extra is not None:
            kw.update(extra(draw))
        if grad and kink_gap is not None:
            diff = np.abs(x.astype(np.float64) - t.astype(np.float64))
            assume(np.all(np.abs(diff - kink_gap(kw)) > 0.05) and np.all(diff > 0.05))
        return Case((x, t), kw, diff=(0, 1) if grad else ())
    return cases


_loss("mse_loss", _pair_cases(), lambda x, t, reduction="mean": _reduce((x - t) ** 2,
                                                                          reduction))
_loss("l1_loss", _pair_cases(kink_gap=lambda kw: 0.0),
      lambda x, t, reduction="mean": _reduce(np.abs(x - t), reduction), grad=1)


def _smooth_l1(x, t, reduction="mean", beta=1.0):
    d = np.abs(x - t)
    return _reduce(np.where(d < beta, 0.5 * d * d / beta, d - 0.5 * beta), reduction)


def _huber(x, t, reduction="mean", delta=1.0):
    d = np.abs(x - t)
    return _reduce(np.where(d < delta, 0.5 * d * d, delta * (d - 0.5 * delta)), reduction)


_loss("smooth_l1_loss",
      _pair_cases(kink_gap=lambda kw: kw["beta"],
                  extra=lambda draw: {"beta": draw(st.sampled_from([1.0, 0.5]))}),
      _smooth_l1, grad=1)
_loss("huber_loss",
      _pair_cases(kink_gap=lambda kw: kw["delta"],
                  extra=lambda draw: {"delta": draw(st.sampled_from([1.0, 2.0]))}),
      _huber, grad=1)


@st.composite
def _ce_cases(draw, d, grad, nll=False):
    n, c = draw(st.integers(1, 4)), draw(st.integers(2, 4))
    extra = tuple(draw(st.lists(st.integers(1, 2), max_size=1)))
    x = draw_array(draw, d, (n, c) + extra, -3, 3)
    if nll:
        x = R.log_softmax(x.astype(np.float64), 1).astype(x.dtype)
    target = draw_array(draw, "int64", (n,) + extra, 0, c - 1)
    kw = {"reduction": draw(st.sampled_from(_REDUCTIONS))}
    if draw(st.booleans()):
        kw["weight"] = draw_array(draw, d, (c,), 0.5, 2.0)
    if not nll and draw(st.booleans()):
        kw["label_smoothing"] = draw(st.sampled_from([0.1, 0.3]))
    return Case((x, target), kw, diff=(0,) if grad else ())


def _nll_ref(logp, target, weight=None, reduction="mean"):
    c = logp.shape[1]
    w = np.ones(c) if weight is None else weight
    picked = -np.take_along_axis(logp, target[:, None], axis=1)[:, 0]
    wt = w[target]
    loss = picked * wt
    if reduction == "mean":
        return loss.sum() / wt.sum()
    return _reduce(loss, reduction)


def _ce_ref(x, target, weight=None, reduction="mean", label_smoothing=0.0):
    logp = R.log_softmax(x, 1)
    c = x.shape[1]
    nll = _nll_ref(logp, target, weight, reduction)
    if label_smoothing == 0.0:
        return nll
    w = np.ones(c) if weight is None else weight
    shape = (1, c) + (1,) * (x.ndim - 2)
    smooth = -(logp * w.reshape(shape)).sum(axis=1)
    if reduction == "mean":
        smooth = smooth.sum() / (np.ones_like(target) * 1.0).sum() if weight is None else \
            smooth.sum() / w[target].sum()
    else:
        smooth = _reduce(smooth, reduction)
    return (1 - label_smoothing) * nll + smooth * (label_smoothing / c)


_CLASS_ERRORS = (BadInput((arrays_fixed("float32", (2, 3)), np.array([0, 1, 2])), "ShapeError",
                          "3 targets for a batch of 2"),)
_loss("cross_entropy", _ce_cases, _ce_ref, accumulates=lambda c: c.args[0].size,
      errors=_CLASS_ERRORS)
_loss("nll_loss", st.composite(lambda draw, d, g: draw(_ce_cases(d, g, nll=True))), _nll_ref,
      grad=1, errors=_CLASS_ERRORS)


@st.composite
def _sce_cases(draw, d, grad):
    """Logits (N, C, ...) or (C,), class indices, an ignore_index that is sometimes a
    class in use, and a reduction: the fused op behind F.cross_entropy."""
    c = draw(st.integers(2, 4))
    lead = draw(st.sampled_from([(), (draw(st.integers(1, 4)),)]))
    extra = tuple(draw(st.lists(st.integers(1, 2), max_size=1))) if lead else ()
    x = draw_array(draw, d, lead[:1] + (c,) + extra, -3, 3)
    target = draw_array(draw, draw(st.sampled_from(["int64", "int32"])), lead + extra, 0, c - 1)
    kw = {"reduction": draw(st.sampled_from(_REDUCTIONS))}
    if draw(st.booleans()):
        kw["ignore_index"] = draw(st.integers(0, c - 1))
        keep = target != kw["ignore_index"]
        # 'mean' over only ignored targets is 0/0 (NaN on every backend): keep one target
        assume(kw["reduction"] != "mean" or bool(np.any(keep)))
    return Case((x, target), kw, diff=(0,) if grad else ())


def _sce_ref(x, target, ignore_index=-100, reduction="mean"):
    class_dim = 0 if x.ndim == 1 else 1
    logp = R.log_softmax(x, class_dim)
    picked = -np.squeeze(np.take_along_axis(
        logp, np.expand_dims(np.where(target == ignore_index, 0, target), class_dim),
        axis=class_dim), class_dim)
    keep = (target != ignore_index).astype(np.float64)
    loss = picked * keep
    if reduction == "mean":
        return loss.sum() / keep.sum()
    return _reduce(loss, reduction)


register(Entry("nn.softmax_cross_entropy", _sce_cases, _sce_ref, group_dtypes("real_float"),
               same, grad=2, signed_zeros=False, accumulates=lambda c: c.args[0].size,
               errors=(BadInput((arrays_fixed("float32", (2, 3)), np.array([0, 1, 2])),
                                "ShapeError", "3 targets for a batch of 2"),
                       BadInput((arrays_fixed("float32", (2, 3)),
                                 arrays_fixed("float32", (2,))),
                                "DTypeError", "float targets")),))


@st.composite
def _bce_cases(draw, d, grad, logits=False):
    shape = draw(shapes(1, 3, 1, 4))
    x = draw_array(draw, d, shape, -4, 4) if logits else draw_array(draw, d, shape, 0.05, 0.95)
    t = draw_array(draw, d, shape, 0, 1)
    kw = {"reduction": draw(st.sampled_from(_REDUCTIONS))}
    if draw(st.booleans()):
        kw["weight"] = draw_array(draw, d, shape, 0.5, 2.0)
    if logits and draw(st.booleans()):
        kw["pos_weight"] = draw_array(draw, d, shape[-1:], 0.5, 2.0)
    return Case((x, t), kw, diff=(0, 1) if grad else ())


def _bce_ref(p, t, weight=None, reduction="mean"):
    loss = -(t * np.maximum(np.log(p), -100) + (1 - t) * np.maximum(np.log1p(-p), -100))
    return _reduce(loss if weight is None else loss * weight, reduction)


def _bce_logits_ref(x, t, weight=None, reduction="mean", pos_weight=None):
    log_sig, log_1m = -np.logaddexp(0, -x), -np.logaddexp(0, x)
    pw = 1.0 if pos_weight is None else pos_weight
    loss = -(pw * t * log_sig + (1 - t) * log_1m)
    return _reduce(loss if weight is None else loss * weight, reduction)


_loss("binary_cross_entropy", _bce_cases, _bce_ref)
_loss("binary_cross_entropy_with_logits",
      st.composite(lambda draw, d, g: draw(_bce_cases(d, g, logits=True))), _bce_logits_ref)


@st.composite
def _kl_cases(draw, d, grad):
    shape = draw(shapes(1, 3, 1, 4))
    log_target = draw(st.booleans())
    x = draw_array(draw, d, shape, -3, -0.1)
    t = draw_array(draw, d, shape, -3, -0.1) if log_target else draw_array(draw, d, shape,
                                                                           0.05, 1)
    red = draw(st.sampled_from(["mean", "sum", "none", "batchmean"]))
    return Case((x, t), {"reduction": red, "log_target": log_target},
                diff=(0, 1) if grad else ())


def _kl_ref(x, t, reduction="mean", log_target=False):
    loss = np.exp(t) * (t - x) if log_target else t * (np.log(t) - x)
    if reduction == "batchmean":
        return loss.sum() / x.shape[0]
    return _reduce(loss, reduction)


_loss("kl_div", _kl_cases, _kl_ref)
