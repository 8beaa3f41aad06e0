"""``unifw.nn.functional`` (import as ``F``): PyTorch's functional API, on every backend.

Names and arguments follow ``torch.nn.functional``; layouts are channels-first
(NCHW). Tensors are immutable, so ``batch_norm(..., training=True)`` returns the
normalised output and does not update ``running_mean``/``running_var`` in place
(the ``nn.BatchNorm`` modules update their buffers).
"""
import math as _math

import numpy as _np

from unifw import errors as _errors
from unifw._creation import asarray as _asarray
from unifw._dispatch import FUNCS as _F
from unifw.errors import ShapeError as _ShapeError_cls

for _k, _v in _F.items():
    if _k.startswith("nn."):
        globals()[_k[3:]] = _v
del _k, _v


def _bad(cls, op, detail, *tensors):
    """A unifw error from a loss: names the loss, its tensors and their backend."""
    backend = next((t.backend_name for t in tensors if hasattr(t, "backend_name")), "?")
    return _errors.op_error(cls, f"nn.{op}", backend, tensors, detail)


def _check_same_shape(op, input, target):
    if tuple(target.shape) != tuple(input.shape):
        raise _bad(_ShapeError_cls, op, f"target shape {tuple(target.shape)} must equal the "
                   f"input shape {tuple(input.shape)}", input, target)


# ---------------------------------------------------------------- losses
# Written with unifw ops (so they run, differentiate and compile on every backend);
# signatures, reductions and conventions are torch.nn.functional's. _F[name] is the
# generated public op (uf.sum, uf.where...).


def _legacy_reduction(size_average, reduce, reduction):
    if size_average is None and reduce is None:
        return reduction
    size_average = True if size_average is None else size_average
    reduce = True if reduce is None else reduce
    return "none" if not reduce else ("mean" if size_average else "sum")


def _reduce(loss, reduction):
    if reduction == "none":
        return loss
    if reduction == "mean":
        return _F["mean"](loss)
    if reduction == "sum":
        return _F["sum"](loss)
    raise ValueError(f"{reduction!r} is not a valid value for reduction "
                     "(expected 'none', 'mean' or 'sum')")


def _weighted_reduce(loss, weight, reduction, mean_by_weight):
    """Reduce ``loss * weight`` (``weight`` of the input's shape, or None)."""
    if weight is None:
        return _reduce(loss, reduction)
    if tuple(weight.shape) != tuple(loss.shape):
        raise _bad(_ShapeError_cls, "loss", f"weight shape {tuple(weight.shape)} must equal "
                   f"the loss shape {tuple(loss.shape)}", loss, weight)
    loss = loss * weight
    if reduction == "mean" and mean_by_weight:
        return _F["sum"](loss) / _F["sum"](weight)
    return _reduce(loss, reduction)


def mse_loss(input, target, size_average=None, reduce=None, reduction="mean", weight=None):
    """Mean squared error ``(input - target)^2``; with ``weight``, 'mean' is
    ``sum(w * err) / sum(w)`` (PyTorch's convention)."""
    reduction = _legacy_reduction(size_average, reduce, reduction)
    return _weighted_reduce(_F["square"](input - target), weight, reduction,
                            mean_by_weight=True)


def l1_loss(input, target, size_average=None, reduce=None, reduction="mean", weight=None):
    """Mean absolute error; with ``weight``, 'mean' is ``sum(w * err) / sum(w)``."""
    reduction = _legacy_reduction(size_average, reduce, reduction)
    return _weighted_reduce(_F["abs"](input - target), weight, reduction, mean_by_weight=True)


def smooth_l1_loss(input, target, size_average=None, reduce=None, reduction="mean",
                   beta=1.0):
    """``0.5 d^2 / beta`` where ``|d| < beta``, else ``|d| - 0.5 beta`` (L1 when beta=0)."""
    reduction = _legacy_reduction(size_average, reduce, reduction)
    if beta < 0:
        raise ValueError("smooth_l1_loss does not support negative values for beta.")
    d = _F["abs"](input - target)
    if beta == 0.0:
        return _reduce(d, reduction)
    loss = _F["where"](d < beta, (0.5 / beta) * d * d, d - 0.5 * beta)
    return _reduce(loss, reduction)


def huber_loss(input, target, reduction="mean", delta=1.0, weight=None):
    """``0.5 d^2`` where ``|d| <= delta``, else ``delta (|d| - 0.5 delta)``; with
    ``weight``, 'mean' is the plain mean of ``w * loss`` (PyTorch's convention)."""
    if delta <= 0:
        raise ValueError("huber_loss does not support non-positive values for delta.")
    d = _F["abs"](input - target)
    loss = _F["where"](d <= delta, 0.5 * d * d, delta * (d - 0.5 * delta))
    return _weighted_reduce(loss, weight, reduction, mean_by_weight=False)


def _class_dim(input):
    return 0 if input.ndim == 1 else 1


def _broadcast_weight(weight, input, class_dim):
    shape = [1] * input.ndim
    shape[class_dim] = weight.shape[0]
    return _F["reshape"](weight, tuple(shape))


def _gather_class(x, target, class_dim):
    """``x[n, target[n, ...], ...]``: values of the target classes, shape of ``target``."""
    idx = _F["expand_dims"](target, axis=class_dim)
    return _F["squeeze"](_F["take_along_axis"](x, idx, axis=class_dim), class_dim)


def _target_weights(weight, target, keep, dtype):
    """Per-target weight: ``weight[target]`` (1 without weights), 0 where ignored."""
    if weight is None:
        return _F["astype"](keep, dtype)
    safe = _F["where"](keep, target, _F["zeros_like"](target))
    w = _F["reshape"](_F["take"](weight, _F["reshape"](safe, (-1,)), axis=0), tuple(safe.shape))
    return _F["where"](keep, w, _F["zeros_like"](w))


def _check_index_target(op, logp, target):
    if target.dtype.kind not in "iu":
        raise _bad(_errors.DTypeError, op, "expected integer class indices as target, "
                   f"got {target.dtype}", logp, target)
    class_dim = _class_dim(logp)
    want = tuple(logp.shape[:class_dim]) + tuple(logp.shape[class_dim + 1:])
    if tuple(target.shape) != want:
        raise _bad(_ShapeError_cls, op, f"class-index target must have shape {want} "
                   f"for input shape {tuple(logp.shape)}, got {tuple(target.shape)}",
                   logp, target)


def _nll(logp, target, weight, ignore_index, reduction, op="nll_loss"):
    """Negative log-likelihood of class indices, with weights and ignore_index."""
    _check_index_target(op, logp, target)
    keep = target != ignore_index
    safe = _F["where"](keep, target, _F["zeros_like"](target))
    w = _target_weights(weight, target, keep, logp.dtype)
    loss = -_gather_class(logp, safe, _class_dim(logp)) * w
    if reduction == "mean":
        return _F["sum"](loss) / _F["sum"](w)
    return _reduce(loss, reduction)


def nll_loss(input, target, weight=None, size_average=None, ignore_index=-100, reduce=None,
             reduction="mean"):
    """Negative log-likelihood of log-probabilities ``input`` ``(N, C, ...)`` at integer
    ``target`` ``(N, ...)``. 'mean' divides by the total weight of non-ignored targets."""
    reduction = _legacy_reduction(size_average, reduce, reduction)
    return _nll(input, target, weight, ignore_index, reduction)


def cross_entropy(input, target, weight=None, size_average=None, ignore_index=-100,
                  reduce=None, reduction="mean", label_smoothing=0.0):
    """Cross entropy of logits ``input`` ``(N, C, ...)`` (or ``(C,)``) against integer
    class indices ``(N, ...)`` or class probabilities (same shape as ``input``).

    ``weight`` rescales classes, ``ignore_index`` drops targets (index targets only),
    ``label_smoothing`` mixes the target with the uniform distribution. 'mean'
    divides by the total weight of non-ignored targets (index targets) or by the
    number of samples (probability targets), exactly as PyTorch does.
    """
    reduction = _legacy_reduction(size_average, reduce, reduction)
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"label_smoothing must be between 0.0 and 1.0. Got: {label_smoothing}")
    if target.dtype.kind != "f" and weight is None and label_smoothing == 0.0:
        _check_index_target("cross_entropy", input, target)
        return softmax_cross_entropy(  # noqa: F821  (generated op above: the fused kernel)
            input, target, ignore_index, reduction)
    class_dim = _class_dim(input)
    n_classes = input.shape[class_dim]
    logp = log_softmax(input, class_dim)  # noqa: F821  (generated op above)
    wb = _broadcast_weight(weight, input, class_dim) if weight is not None else None
    if target.dtype.kind == "f":  # class probabilities
        _check_same_shape("cross_entropy", input, target)
        if label_smoothing > 0:
            target = target * (1 - label_smoothing) + label_smoothing / n_classes
        prod = logp * target if wb is None else logp * target * wb
        loss = -_F["sum"](prod, axis=class_dim)
        if reduction == "mean":
            return _F["sum"](loss) / float(input.size // n_classes)
        return _reduce(loss, reduction)
    nll = _nll(logp, target, weight, ignore_index, reduction, op="cross_entropy")
    if label_smoothing == 0.0:
        return nll
    keep = target != ignore_index
    smooth = -_F["sum"](logp if wb is None else logp * wb, axis=class_dim)
    smooth = _F["where"](keep, smooth, _F["zeros_like"](smooth))
    if reduction == "mean":
        smooth = _F["sum"](smooth) / _F["sum"](_target_weights(weight, target, keep,
                                                                 input.dtype))
    else:
        smooth = _reduce(smooth, reduction)
    return (1 - label_smoothing) * nll + smooth * (label_smoothing / n_classes)


def binary_cross_entropy(input, target, weight=None, size_average=None, reduce=None,
                         reduction="mean"):
    """``-w (t log(x) + (1 - t) log(1 - x))`` for probabilities ``x``; the logs are
    clamped at -100 as in PyTorch."""
    reduction = _legacy_reduction(size_average, reduce, reduction)
    _check_same_shape("binary_cross_entropy", input, target)
    log_x = _F["maximum"](_F["log"](input), -100.0)
    log_1mx = _F["maximum"](_F["log1p"](-input), -100.0)
    loss = (target - 1) * log_1mx - target * log_x
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, reduction)


def binary_cross_entropy_with_logits(input, target, weight=None, size_average=None,
                                     reduce=None, reduction="mean", pos_weight=None):
    """Sigmoid + binary cross entropy in one numerically stable expression;
    ``pos_weight`` multiplies the positive term (broadcast along the last axis)."""
    reduction = _legacy_reduction(size_average, reduce, reduction)
    _check_same_shape("binary_cross_entropy_with_logits", input, target)
    # log(1 + exp(-x)) computed without overflow
    softplus_neg = _F["log1p"](_F["exp"](-_F["abs"](input))) + _F["maximum"](-input, 0.0)
    if pos_weight is not None:
        log_weight = (pos_weight - 1) * target + 1
        loss = (1 - target) * input + log_weight * softplus_neg
    else:
        loss = (1 - target) * input + softplus_neg
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, reduction)


def multi_margin_loss(input, target, p=1, margin=1.0, weight=None, size_average=None,
                      reduce=None, reduction="mean"):
    """Multi-class hinge (SVM) loss: ``sum_{i != y} max(0, margin - x[y] + x[i])^p / C``,
    each term scaled by ``weight[y]``."""
    reduction = _legacy_reduction(size_average, reduce, reduction)
    if p not in (1, 2):
        raise ValueError("only p == 1 and p == 2 supported")
    unbatched = input.ndim == 1
    if unbatched:
        input, target = input[None], _F["reshape"](target, (1,))
    if input.ndim != 2:
        raise _bad(_ShapeError_cls, "multi_margin_loss", "expected a 1-D or 2-D input",
                   input, target)
    n_classes = input.shape[1]
    idx = target[:, None]
    x_y = _F["take_along_axis"](input, idx, axis=1)
    z = _F["clip"](margin - x_y + input, min=0.0)
    if p == 2:
        z = z * z
    if weight is not None:
        z = z * _F["take"](weight, target, axis=0)[:, None]
    classes = _F["arange"](n_classes, dtype=target.dtype, device=target.device)
    z = _F["where"](classes[None, :] == idx, _F["zeros_like"](z), z)
    loss = _F["sum"](z, axis=1) / n_classes
    if unbatched:
        loss = loss[0]
    return _reduce(loss, reduction)


def kl_div(input, target, size_average=None, reduce=None, reduction="mean", log_target=False):
    """``target * (log(target) - input)`` pointwise, ``input`` being log-probabilities
    (``target`` too when ``log_target``). Use ``reduction="batchmean"`` for the
    mathematical KL divergence per sample; 'mean' averages over all elements."""
    reduction = _legacy_reduction(size_average, reduce, reduction)
    if log_target:
        loss = _F["exp"](target) * (target - input)
    else:
        positive = target > 0
        safe = _F["where"](positive, target, _F["ones_like"](target))
        loss = _F["where"](positive, target * _F["log"](safe), _F["zeros_like"](target))
        loss = loss - target * input
    if reduction == "batchmean":
        return _F["sum"](loss) / float(input.shape[0] if input.ndim else 1)
    return _reduce(loss, reduction)



# ---------------------------------------------------------------- activations
# Composites of unifw ops, with torch.nn.functional's signatures (``inplace`` is accepted
# for compatibility: tensors are immutable values, a new tensor is returned).


def elu(input, alpha=1.0, inplace=False):
    """``x`` where ``x > 0``, else ``alpha * (exp(x) - 1)``."""
    positive = input > 0
    # exp only sees the non-positive part, so the unused branch never overflows (no inf * 0
    # in the gradient); at 0 the gradient is alpha, as in PyTorch.
    neg = _F["where"](positive, _F["zeros_like"](input), input)
    return _F["where"](positive, input, alpha * _F["expm1"](neg))


def hardtanh(input, min_val=-1.0, max_val=1.0, inplace=False):
    """``input`` clamped to ``[min_val, max_val]``; the gradient is 1 strictly inside the
    interval and 0 elsewhere (PyTorch's convention at the bounds)."""
    if min_val > max_val:
        raise ValueError("min_val cannot be greater than max_val")
    # (full_like, not a bare Python scalar in ``where``: the bound keeps the input's precision)
    return _F["where"](input <= min_val, _F["full_like"](input, min_val),
                       _F["where"](input >= max_val, _F["full_like"](input, max_val), input))


def relu6(input, inplace=False):
    """``min(max(x, 0), 6)`` (``hardtanh(x, 0, 6)``)."""
    return hardtanh(input, 0.0, 6.0)


# ---------------------------------------------------------------- normalisation


def _axes(dim, ndim):
    dims = tuple(dim) if isinstance(dim, (tuple, list)) else (dim,)
    out = []
    for d in dims:
        if not -ndim <= d < max(ndim, 1):
            raise IndexError(f"Dimension out of range (expected to be in range of "
                             f"[{-ndim}, {ndim - 1}], but got {d})")
        out.append(d % ndim if ndim else 0)
    return tuple(out)


def _vector_norm(x, p, axes):
    """``||x||_p`` over ``axes`` (kept), with a zero gradient at zero vectors like
    ``torch.norm`` (no 0/0 from the square root or the ``1/p`` power)."""
    if p == float("inf"):
        return _F["max"](_F["abs"](x), axis=axes, keepdims=True)
    if p == float("-inf"):
        return _F["min"](_F["abs"](x), axis=axes, keepdims=True)
    if p == 0:
        return _F["astype"](_F["sum"](_F["astype"](x != 0, x.dtype), axis=axes, keepdims=True),
                            x.dtype)
    # |x| as x * sign(x): gradient 0 at 0 on every backend (JAX's abs has 1 there)
    if p == 1:
        return _F["sum"](x * _F["sign"](x), axis=axes, keepdims=True)
    powered = x * x if p == 2 else (x * _F["sign"](x)) ** p
    s = _F["sum"](powered, axis=axes, keepdims=True)
    nonzero = s > 0
    safe = _F["where"](nonzero, s, _F["ones_like"](s))
    root = _F["sqrt"](safe) if p == 2 else safe ** (1.0 / p)
    return _F["where"](nonzero, root, _F["zeros_like"](root))


def normalize(input, p=2.0, dim=1, eps=1e-12, out=None):
    """``input / max(||input||_p, eps)``, the norm taken over ``dim`` (an int or a tuple).

    ``out=`` is not supported (tensors are immutable)."""
    if out is not None:
        raise ValueError("normalize(out=...) is not supported: unifw tensors are immutable")
    norm = _vector_norm(input, p, _axes(dim, input.ndim))
    # clamp_min(eps) as torch: the gradient passes where norm >= eps
    return input / _F["where"](norm >= eps, norm, _F["full_like"](norm, eps))


def group_norm(input, num_groups, weight=None, bias=None, eps=1e-05):
    """Group normalisation of ``(N, C, *)``: the ``C`` channels are split in ``num_groups``
    groups, each normalised over its channels and spatial positions (biased variance),
    then the per-channel affine ``weight``/``bias`` (shape ``(C,)``) is applied."""
    if input.ndim < 2:
        raise ValueError(f"group_norm: expected at least 2 dimensions for input tensor but "
                         f"received {input.ndim}")
    shape = tuple(input.shape)
    n, c = shape[0], shape[1]
    if num_groups <= 0 or c % num_groups:
        raise ValueError(f"group_norm: expected number of channels in input ({c}) to be "
                         f"divisible by num_groups ({num_groups})")
    for name, t in (("weight", weight), ("bias", bias)):
        if t is not None and tuple(t.shape) != (c,):
            raise _bad(_ShapeError_cls, "group_norm", f"{name} must have shape ({c},), got "
                       f"{tuple(t.shape)}", input, t)
    g = _F["reshape"](input, (n, num_groups, -1))
    mean = _F["mean"](g, axis=-1, keepdims=True)
    var = _F["var"](g, axis=-1, keepdims=True)
    out = _F["reshape"]((g - mean) * (1.0 / _F["sqrt"](var + eps)), shape)
    affine_shape = (c,) + (1,) * (len(shape) - 2)
    if weight is not None:
        out = out * _F["reshape"](weight, affine_shape)
    if bias is not None:
        out = out + _F["reshape"](bias, affine_shape)
    return out


# ---------------------------------------------------------------- interpolation
# The source indices and weights depend only on the (static) sizes: they are computed here
# with NumPy, exactly as PyTorch's CPU kernels compute them (same float precision), and
# applied with ``take`` along each spatial axis, so results, gradients (scatter-adds) and
# compiled functions agree with torch on every backend.

_LINEAR_MODES = {"linear": 3, "bilinear": 4, "trilinear": 5}
_INTERP_MODES = ("nearest", "nearest-exact", "area") + tuple(_LINEAR_MODES)


def _scale_value(scale, n_in, n_out, np_float):
    """torch's ``compute_scales_value``: ``1/scale`` when a scale factor is used, else
    ``in/out``, in the precision ``np_float``."""
    if scale is not None and scale > 0:
        return np_float(1.0 / scale)
    return np_float(n_in) / np_float(n_out)


def _half_pixel_source(ratio, dst, np_float):
    """``ratio * (dst + 0.5) - 0.5`` as torch's CPU kernels compute it: in ``np_float``, and
    for float32 as one fused multiply-add (exact in float64, then rounded once)."""
    if np_float is _np.float32:
        return (_np.float64(ratio) * (dst + 0.5) - 0.5).astype(_np.float32)
    return ratio * (dst + 0.5) - 0.5


def _floor_index(src, n_in):
    """``min(floorf(src), n_in - 1)``: torch floors in float32, whatever the precision."""
    return _np.minimum(_np.floor(src.astype(_np.float32)).astype(_np.int64), n_in - 1)


def _nearest_index(n_in, n_out, scale, exact, np_float):
    """Source index of each output index for 'nearest' (``floor(dst * scale)``, torch's
    legacy rule) or 'nearest-exact' (``floor((dst + 0.5) * scale)``)."""
    dst = _np.arange(n_out)
    ratio = _scale_value(scale, n_in, n_out, np_float)
    if not exact:
        return _floor_index(dst.astype(np_float) * ratio, n_in)
    src = _half_pixel_source(ratio, dst, np_float)
    src = _np.where(src < 0, np_float(0), src).astype(np_float)
    if np_float is _np.float32:
        src = src.astype(_np.float64) + 0.5
    else:
        src = src + 0.5
    return _floor_index(src, n_in)


def _linear_index(n_in, n_out, scale, align_corners, np_float):
    """``(i0, i1, w0, w1)``: torch's ``compute_source_index_and_lambda`` per output index."""
    dst = _np.arange(n_out)
    if n_out == n_in:
        return dst, dst, _np.ones(n_out, np_float), _np.zeros(n_out, np_float)
    if align_corners:
        ratio = np_float(n_in - 1) / np_float(n_out - 1) if n_out > 1 else np_float(0)
        src = ratio * dst.astype(np_float)
    else:
        src = _half_pixel_source(_scale_value(scale, n_in, n_out, np_float), dst, np_float)
        src = _np.where(src < 0, np_float(0), src).astype(np_float)
    i0 = _floor_index(src, n_in)
    w1 = _np.clip(src - i0.astype(np_float), 0, 1).astype(np_float)
    w0 = (np_float(1) - w1).astype(np_float)
    i1 = i0 + (i0 < n_in - 1)
    return i0, i1, w0, w1


def _output_sizes(input, size, scale_factor, recompute_scale_factor, mode):
    """torch's size/scale_factor processing: ``(output sizes, scale factors or Nones)``."""
    dim = input.ndim - 2
    in_sizes = tuple(input.shape[2:])
    if size is not None and scale_factor is not None:
        raise ValueError("only one of size or scale_factor should be defined")
    if size is None and scale_factor is None:
        raise ValueError("either size or scale_factor should be defined")
    if size is not None:
        if recompute_scale_factor:
            raise ValueError("recompute_scale_factor is not meaningful with an explicit size.")
        sizes = tuple(size) if isinstance(size, (list, tuple)) else (size,) * dim
        if len(sizes) != dim:
            raise ValueError(f"Input and output must have the same number of spatial "
                             f"dimensions, but got input with spatial dimensions of "
                             f"{list(in_sizes)} and output size of {size}.")
        if not all(isinstance(s, int) or hasattr(s, "__index__") for s in sizes):
            raise TypeError(f"expected size to be an int or a tuple of ints, got {size!r}")
        sizes, scales = tuple(int(s) for s in sizes), (None,) * dim
    else:
        scales = (tuple(float(s) for s in scale_factor)
                  if isinstance(scale_factor, (list, tuple)) else (float(scale_factor),) * dim)
        if len(scales) != dim:
            raise ValueError(f"Input and scale_factor must have the same number of spatial "
                             f"dimensions, but got input with spatial dimensions of "
                             f"{list(in_sizes)} and scale_factor of shape {scale_factor}.")
        sizes = tuple(_math.floor(n * s) for n, s in zip(in_sizes, scales))
        if recompute_scale_factor or mode == "area":
            scales = (None,) * dim
    if any(n <= 0 for n in in_sizes) or any(s <= 0 for s in sizes):
        raise ValueError(f"interpolate: input and output sizes should be greater than 0, but "
                         f"got input {in_sizes} and output {sizes}")
    return sizes, scales


def _gather(x, index, axis):
    return _F["take"](x, _asarray(index, device=x.device), axis=axis)


def _along(w, axis, ndim, x):
    shape = [1] * ndim
    shape[axis] = -1
    return _asarray(w.reshape(shape), dtype=x.dtype, device=x.device)


def interpolate(input, size=None, scale_factor=None, mode="nearest", align_corners=None,
                recompute_scale_factor=None, antialias=False):
    """Resize the spatial dimensions of ``(N, C, L)``, ``(N, C, H, W)`` or
    ``(N, C, D, H, W)`` to ``size`` (an int or a tuple) or by ``scale_factor`` (a float or
    a tuple; the output size is ``floor(in * scale)``).

    Modes: ``'nearest'`` (torch's: source index ``floor(dst * in / out)``),
    ``'nearest-exact'``, ``'linear'`` (3-d), ``'bilinear'`` (4-d), ``'trilinear'`` (5-d),
    with ``align_corners`` (default False: half-pixel source coordinates clamped at 0),
    and ``'area'`` (adaptive average pooling; 3-d and 4-d). With ``scale_factor`` (and
    ``recompute_scale_factor`` not True) the coordinates use ``1 / scale_factor``, as in
    PyTorch. Results equal PyTorch's.
    """
    if mode in ("nearest", "nearest-exact", "area"):
        if align_corners is not None:
            raise ValueError("align_corners option can only be set with the interpolating "
                             "modes: linear | bilinear | bicubic | trilinear")
    elif mode in _LINEAR_MODES:
        align_corners = bool(align_corners)
    else:
        raise ValueError(f"interpolate: unsupported mode {mode!r} (supported: "
                         f"{', '.join(repr(m) for m in _INTERP_MODES)})")
    if antialias:
        raise ValueError("interpolate(antialias=True) is not supported")
    if input.ndim not in (3, 4, 5):
        raise ValueError(f"interpolate: expected a 3-D, 4-D or 5-D input (N, C, ...), got "
                         f"{input.ndim}-D")
    if mode in _LINEAR_MODES and input.ndim != _LINEAR_MODES[mode]:
        raise ValueError(f"interpolate: got {input.ndim}-D input, but {mode} mode needs "
                         f"{_LINEAR_MODES[mode]}-D input")
    if mode in _LINEAR_MODES and not input.dtype.is_floating:
        raise _bad(_errors.DTypeError, "interpolate", f"mode {mode!r} needs a floating-point "
                   f"input, got {input.dtype}", input)
    sizes, scales = _output_sizes(input, size, scale_factor, recompute_scale_factor, mode)
    if mode == "area":
        if input.ndim == 5:
            raise ValueError("interpolate: mode 'area' supports 3-D and 4-D inputs only")
        if input.ndim == 3:
            pooled = adaptive_avg_pool2d(  # noqa: F821  (generated op above)
                _F["expand_dims"](input, axis=2), (1, sizes[0]))
            return _F["squeeze"](pooled, 2)
        return adaptive_avg_pool2d(input, sizes)  # noqa: F821
    np_float = _np.float64 if input.dtype.bits == 64 else _np.float32
    x, ndim = input, input.ndim
    for k, (n_in, n_out, scale) in enumerate(zip(input.shape[2:], sizes, scales)):
        axis = k + 2
        if mode in _LINEAR_MODES:
            i0, i1, w0, w1 = _linear_index(n_in, n_out, scale, align_corners, np_float)
            if n_in == n_out:
                continue
            x = (_gather(x, i0, axis) * _along(w0, axis, ndim, x)
                 + _gather(x, i1, axis) * _along(w1, axis, ndim, x))
        else:
            index = _nearest_index(n_in, n_out, scale, mode == "nearest-exact", np_float)
            if n_in == n_out and _np.array_equal(index, _np.arange(n_out)):
                continue
            x = _gather(x, index, axis)
    return x
