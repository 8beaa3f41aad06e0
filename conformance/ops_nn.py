"""Registry entries: ``unifw.nn.functional`` (torch.nn.functional names and semantics)."""
from __future__ import annotations

import numpy as np
from hypothesis import assume
from hypothesis import strategies as st

from . import nn_reference as R
from .builders import (arrays_fixed, bad_dtype_inputs, default_bad_inputs, group_dtypes, int64,
                       same, unary)
from .cases import Case, draw_array, shapes
from .registry import BadInput, Entry, Foreign, register

_F = "float32"


def _entry(name, cases, ref, out=same, **kw):
    from unifw._opspec import OPS

    spec = OPS[f"nn.{name}"]
    kw.setdefault("grad", spec.diff)
    kw.setdefault("signed_zeros", False)
    kw.setdefault("errors", default_bad_inputs(spec))
    dt = kw.pop("dtypes", None) or group_dtypes("real_float")
    return register(Entry(f"nn.{name}", cases, ref, dt, out, **kw))


# ---------------------------------------------------------------- activations
unary("nn.relu", lambda x: np.maximum(x, 0.0), avoid=(0.0,), signed_zeros=False)
unary("nn.sigmoid", lambda x: 1 / (1 + np.exp(-x)), -10, 10)
unary("nn.silu", lambda x: x / (1 + np.exp(-x)), -10, 10)
unary("nn.tanh", np.tanh)


def _act_cases(extra, lo=-5.0, hi=5.0, avoid=()):
    @st.composite
    def cases(draw, d, grad):
        x = draw_array(draw, d, shapes(0, 3, 1, 4), lo, hi, avoid=avoid if grad else (),
                       specials=not grad)
        return Case((x, *extra(draw)), diff=(0,) if grad else ())
    return cases


_entry("leaky_relu", _act_cases(lambda draw: (draw(st.sampled_from([0.01, 0.2, 1.5])),),
                                avoid=(0.0,)),
       lambda x, s=0.01: np.where(x >= 0, x, x * s))
_entry("gelu", _act_cases(lambda draw: (draw(st.sampled_from(["none", "tanh"])),)), R.gelu)
_entry("softplus", _act_cases(lambda draw: (draw(st.sampled_from([1.0, 2.0, 0.5])),
                                            draw(st.sampled_from([20.0, 1.0]))), -10, 10),
       R.softplus)


def _dim_cases(keepdim=False, dim_none=False):
    @st.composite
    def cases(draw, d, grad):
        x = draw_array(draw, d, shapes(1, 3, 1, 4), -10, 10)
        dim = draw(st.integers(-x.ndim, x.ndim - 1))
        if dim_none and draw(st.booleans()):
            dim = None
        args = (x, dim) + ((draw(st.booleans()),) if keepdim else ())
        return Case(args, diff=(0,) if grad else ())
    return cases


def _dim_terms(case):
    x, dim = case.args[0], case.args[1]
    return x.size if dim is None else x.shape[dim]


_entry("softmax", _dim_cases(), R.softmax, accumulates=_dim_terms)
_entry("log_softmax", _dim_cases(), R.log_softmax, accumulates=_dim_terms)
_entry("logsumexp", _dim_cases(keepdim=True, dim_none=True), R.logsumexp,
       accumulates=_dim_terms)


@st.composite
def _one_hot_cases(draw, d, grad):
    x = draw_array(draw, d, shapes(0, 2, 1, 4), 0, 4)
    if draw(st.booleans()):
        return Case((x, 5))
    return Case((x, -1), note="number of classes from the data")


def _one_hot_ref(x, num_classes=-1):
    n = int(x.max()) + 1 if num_classes == -1 else num_classes
    return (x[..., None] == np.arange(n)).astype(np.int64)


_entry("one_hot", _one_hot_cases, _one_hot_ref, int64,
       dtypes=tuple(d for d in group_dtypes("integer") if d != "uint8"),
       compilable=lambda c: c.args[1] != -1, errors=tuple(bad_dtype_inputs("integer")))


# ---------------------------------------------------------------- linear and convolutions
@st.composite
def _linear_cases(draw, d, grad):
    lead = draw(shapes(0, 2, 1, 3))
    i, o = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    x = draw_array(draw, d, lead + (i,))
    w = draw_array(draw, d, (o, i))
    b = draw_array(draw, d, (o,)) if draw(st.booleans()) else None
    args = (x, w) if b is None else (x, w, b)
    return Case(args, diff=tuple(range(len(args))) if grad else ())


_entry("linear", _linear_cases, R.linear, accumulates=lambda c: c.args[1].shape[1] + 1,
       errors=(BadInput((arrays_fixed(_F, (2, 3)), arrays_fixed(_F, (4, 2))), "ShapeError",
                        "3 features into a (4, 2) weight"),
               BadInput((arrays_fixed(_F, (2, 3)), Foreign(arrays_fixed(_F, (4, 3)))),
                        "BackendMismatchError", "weight from another backend"),
               *bad_dtype_inputs("real_float", 2)))


def _conv_cases(nd):
    @st.composite
    def cases(draw, d, grad):
        groups = draw(st.sampled_from([1, 1, 2]))
        cin, cout = groups * draw(st.integers(1, 2)), groups * draw(st.integers(1, 2))
        k = tuple(draw(st.integers(1, 3)) for _ in range(nd))
        dil = draw(st.sampled_from([1, 2]))
        stride = draw(st.sampled_from([1, 2]))
        padding = draw(st.sampled_from([0, 1, "same", "valid"]))
        if padding == "same":
            stride = 1
        size = tuple(draw(st.integers(1, 5)) for _ in range(nd))
        p = 0 if padding in ("valid",) else (1 if padding == 1 else 0)
        assume(all(s + 2 * p >= dil * (kk - 1) + 1 or padding == "same"
                   for s, kk in zip(size, k)))
        x = draw_array(draw, d, (draw(st.integers(1, 2)), cin) + size)
        w = draw_array(draw, d, (cout, cin // groups) + k)
        b = draw_array(draw, d, (cout,)) if draw(st.booleans()) else None
        kw = {"stride": stride, "padding": padding, "dilation": dil, "groups": groups}
        args = (x, w) if b is None else (x, w, b)
        return Case(args, kw, diff=tuple(range(len(args))) if grad else ())
    return cases


def _conv_terms(case):
    w = case.args[1]
    return int(np.prod(w.shape[1:])) + 1


_CONV_ERRORS = (BadInput((arrays_fixed(_F, (1, 3, 5, 5)), arrays_fixed(_F, (2, 2, 3, 3))),
                         "ShapeError", "3 input channels into a weight for 2"),
                *bad_dtype_inputs("real_float", 2, (1, 1, 3, 3)))
_entry("conv1d", _conv_cases(1), R.conv, accumulates=_conv_terms,
       errors=(BadInput((arrays_fixed(_F, (1, 3, 5)), arrays_fixed(_F, (2, 2, 3))),
                        "ShapeError", "3 input channels into a weight for 2"),))
_entry("conv2d", _conv_cases(2), R.conv, accumulates=_conv_terms, errors=_CONV_ERRORS)


@st.composite
def _convt_cases(draw, d, grad):
    groups = draw(st.sampled_from([1, 1, 2]))
    cin, cout_g = groups * draw(st.integers(1, 2)), draw(st.integers(1, 2))
    k = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    stride, dil = draw(st.sampled_from([1, 2])), draw(st.sampled_from([1, 2]))
    padding = draw(st.integers(0, 1))
    out_pad = draw(st.integers(0, max(stride, dil) - 1))
    size = (draw(st.integers(1, 4)), draw(st.integers(1, 4)))
    assume(all((s - 1) * stride - 2 * padding + dil * (kk - 1) + out_pad + 1 > 0
               for s, kk in zip(size, k)))
    x = draw_array(draw, d, (draw(st.integers(1, 2)), cin) + size)
    w = draw_array(draw, d, (cin, cout_g) + k)
    b = draw_array(draw, d, (cout_g * groups,)) if draw(st.booleans()) else None
    kw = {"stride": stride, "padding": padding, "output_padding": out_pad, "groups": groups,
          "dilation": dil}
    args = (x, w) if b is None else (x, w, b)
    return Case(args, kw, diff=tuple(range(len(args))) if grad else ())


_entry("conv_transpose2d", _convt_cases, R.conv_transpose2d,
       accumulates=lambda c: int(np.prod(c.args[1].shape)) // c.kwargs["groups"] + 1)


# ---------------------------------------------------------------- pooling
def _pool_cases(avg):
    @st.composite
    def cases(draw, d, grad):
        k = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
        stride = draw(st.sampled_from([None, 1, 2]))
        padding = draw(st.integers(0, min(k) // 2))
        ceil_mode = draw(st.booleans())
        dil = 1 if avg else draw(st.sampled_from([1, 2]))
        size = (draw(st.integers(1, 5)), draw(st.integers(1, 5)))
        assume(all(s + 2 * padding >= dil * (kk - 1) + 1 for s, kk in zip(size, k)))
        x = draw_array(draw, d, (draw(st.integers(1, 2)), draw(st.integers(1, 2))) + size,
                       unique=grad and not avg)
        kw = {"kernel_size": k, "stride": stride, "padding": padding, "ceil_mode": ceil_mode}
        if avg:
            kw["count_include_pad"] = draw(st.booleans())
        else:
            kw["dilation"] = dil
        return Case((x,), kw, diff=(0,) if grad else ())
    return cases


_POOL_ERRORS = (BadInput((arrays_fixed(_F, (3,)),), "ShapeError", "a 1-d input",
                         {"kernel_size": 2}),)
_entry("max_pool2d", _pool_cases(False), R.max_pool2d, errors=_POOL_ERRORS)
_entry("avg_pool2d", _pool_cases(True), R.avg_pool2d, errors=_POOL_ERRORS,
       accumulates=lambda c: int(np.prod(c.kwargs["kernel_size"])))


@st.composite
def _adaptive_cases(draw, d, grad):
    x = draw_array(draw, d, (1, draw(st.integers(1, 2)), draw(st.integers(1, 6)),
                             draw(st.integers(1, 6))))
    out = draw(st.sampled_from(["int", "tuple"]))
    size = draw(st.integers(1, 4)) if out == "int" else (draw(st.integers(1, 4)),
                                                         draw(st.integers(1, 4)))
    return Case((x, size), diff=(0,) if grad else ())


_entry("adaptive_avg_pool2d", _adaptive_cases, R.adaptive_avg_pool2d,
       accumulates=lambda c: c.args[0].shape[2] * c.args[0].shape[3])


# ---------------------------------------------------------------- normalisation
@st.composite
def _bn_cases(draw, d, grad):
    c = draw(st.integers(1, 3))
    x = draw_array(draw, d, (draw(st.integers(2, 3)), c) + tuple(draw(st.lists(
        st.integers(1, 3), max_size=2))))
    rm = draw_array(draw, d, (c,), -1, 1)
    rv = draw_array(draw, d, (c,), 0.5, 2)
    w = draw_array(draw, d, (c,)) if draw(st.booleans()) else None
    b = draw_array(draw, d, (c,)) if w is not None and draw(st.booleans()) else None
    training = draw(st.booleans())
    if training:  # a constant channel has zero variance: the output is then ill-conditioned
        axes = (0,) + tuple(range(2, x.ndim))
        assume(np.all(x.astype(np.float64).var(axis=axes) > 0.05))
    args = (x, rm, rv) + ((w,) if w is not None else ()) + ((b,) if b is not None else ())
    diff = (0,) + tuple(range(3, len(args)))
    return Case(args, {"training": training, "eps": 1e-5}, diff=diff if grad else ())


_entry("batch_norm", _bn_cases, R.batch_norm, fixed_args=(1, 2),
       errors=(BadInput((arrays_fixed(_F, (2, 3)), arrays_fixed(_F, (2,)), arrays_fixed(_F, (2,))),
                        "ShapeError", "statistics for 2 channels, input with 3"),),
       accumulates=lambda c: c.args[0].size // c.args[0].shape[1])


@st.composite
def _ln_cases(draw, d, grad):
    x = draw_array(draw, d, shapes(1, 3, 2, 4))
    k = draw(st.integers(1, x.ndim))
    ns = x.shape[x.ndim - k:]
    assume(np.all(x.astype(np.float64).reshape(x.shape[:x.ndim - k] + (-1,)).var(axis=-1)
                  > 0.05))
    w = draw_array(draw, d, ns) if draw(st.booleans()) else None
    b = draw_array(draw, d, ns) if draw(st.booleans()) else None
    kw = {"weight": w, "bias": b, "eps": 1e-5}
    return Case((x, ns), {k_: v for k_, v in kw.items() if v is not None},
                diff=(0,) if grad else ())


_entry("layer_norm", _ln_cases, R.layer_norm,
       errors=(BadInput((arrays_fixed(_F, (2, 3)), (4,)), "ShapeError",
                        "normalized_shape (4,) for an input (2, 3)"),),
       accumulates=lambda c: int(np.prod(c.args[1])))


# ---------------------------------------------------------------- dropout
@st.composite
def _dropout_cases(draw, d, grad):
    x = draw_array(draw, d, shapes(1, 3, 1, 4), 0.5, 3.0)
    if grad:  # the mask is random: differentiate where dropout is the identity
        return Case((x,), {"p": 0.5, "training": False}, diff=(0,))
    p = draw(st.sampled_from([0.0, 0.25, 0.5, 0.9]))
    key = np.array([draw(st.integers(0, 2**31)), draw(st.integers(0, 2**31))], np.int64)
    return Case((x,), {"p": p, "training": draw(st.booleans()), "key": key})


def _dropout_ref(x, p=0.5, training=True, key=None):
    """Every element as if kept (scaled by 1 / (1 - p)); which are dropped is random."""
    return x / (1 - p) if training and p > 0 else x


def _dropout_norm(xp, outs, case):
    """Kept elements are x / (1 - p) and dropped ones 0: map both to x / (1 - p)."""
    (y,) = outs
    p, training = case.kwargs["p"], case.kwargs["training"]
    if not training or p == 0:  # (touches no NumPy array: this may run traced)
        return (y,)
    x = case.args[0].astype(np.float64)
    return (np.where(y != 0, y, x / (1 - p)),)


_entry("dropout", _dropout_cases, _dropout_ref, normalize=_dropout_norm, grad=1)


# ---------------------------------------------------------------- embedding, attention, pad
@st.composite
def _embedding_cases(draw, d, grad):
    v, dim = draw(st.integers(1, 5)), draw(st.integers(1, 3))
    idx = draw_array(draw, "int64", shapes(0, 2, 1, 4), 0, v - 1)
    w = draw_array(draw, d, (v, dim))
    pad = None if grad else draw(st.one_of(st.none(), st.integers(0, v - 1)))
    return Case((idx, w), {"padding_idx": pad}, diff=(1,) if grad else ())


_entry("embedding", _embedding_cases, lambda i, w, padding_idx=None: w[i],
       lambda c, d: d, dtypes=group_dtypes("real_float"), fixed_args=(0,),
       errors=(BadInput((np.array([0, 7]), arrays_fixed(_F, (3, 2))), "IndexError",
                        "index 7 into 3 rows"),))


@st.composite
def _sdpa_cases(draw, d, grad):
    batch = tuple(draw(st.lists(st.integers(1, 2), max_size=2)))
    L, S, E, Ev = (draw(st.integers(1, 4)) for _ in range(4))
    q = draw_array(draw, d, batch + (L, E), -2, 2)
    k = draw_array(draw, d, batch + (S, E), -2, 2)
    v = draw_array(draw, d, batch + (S, Ev), -2, 2)
    form = draw(st.sampled_from(["none", "causal", "bool mask", "float mask"]))
    kw = {}
    if form == "causal":
        kw["is_causal"] = True
    elif form == "bool mask":
        m = draw_array(draw, "bool", (L, S))
        m[:, 0] = True  # no fully masked row (its softmax is undefined)
        kw["attn_mask"] = m
    elif form == "float mask":
        kw["attn_mask"] = draw_array(draw, d, (L, S), -1, 1)
    if draw(st.booleans()):
        kw["scale"] = draw(st.sampled_from([0.5, 1.0]))
    return Case((q, k, v), kw, diff=(0, 1, 2) if grad else ())


_entry("scaled_dot_product_attention", _sdpa_cases, R.scaled_dot_product_attention,
       errors=(BadInput((arrays_fixed(_F, (2, 3)), arrays_fixed(_F, (2, 4)),
                         arrays_fixed(_F, (2, 3))), "ShapeError",
                        "query features 3, key features 4"),),
       accumulates=lambda c: c.args[1].shape[-2] * c.args[0].shape[-1])


@st.composite
def _pad_cases(draw, d, grad):
    mode = draw(st.sampled_from(["constant", "reflect", "replicate", "circular"]))
    nd = draw(st.integers(1, 2))
    lead = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    size = tuple(draw(st.integers(2, 4)) for _ in range(nd))
    x = draw_array(draw, d, lead + size)
    limit = [s - 1 for s in reversed(size)]
    pad = []
    for lim in limit:
        hi = 2 if mode == "constant" else lim
        pad += [draw(st.integers(0, hi)), draw(st.integers(0, hi))]
    kw = {"mode": mode}
    if mode == "constant":
        kw["value"] = draw(st.sampled_from([0.0, 1.5, -2.0]))
    return Case((x, tuple(pad)), kw, diff=(0,) if grad else ())


_entry("pad", _pad_cases, R.pad, signed_zeros=True,
       errors=(BadInput((arrays_fixed(_F, (2, 3)), (1, 1, 1, 1, 1, 1)), "ShapeError",
                        "padding 3 dimensions of a 2-d input"),),
       dtypes=group_dtypes("real_float"))
