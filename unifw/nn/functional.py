"""``unifw.nn.functional`` (import as ``F``): PyTorch's functional API, on every backend.

Names and arguments follow ``torch.nn.functional``; layouts are channels-first
(NCHW). Tensors are immutable, so ``batch_norm(..., training=True)`` returns the
normalised output and does not update ``running_mean``/``running_var`` in place
(the ``nn.BatchNorm`` modules update their buffers).
"""
from unifw import errors as _errors
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

