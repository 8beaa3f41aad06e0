"""``unifw.nn.functional`` ops for the TensorFlow backend (torch.nn.functional semantics).

Layouts are channels-first (NCHW) as in PyTorch. TensorFlow's CPU convolution
and pooling kernels take NHWC, so inputs are transposed around them.
"""
import math

import numpy as np
import tensorflow as tf

from .core import _ints, device_of
from .numpy import _HALF, _check_bounds, _dim, _index_dtype, _scalar, _index_errors

R = tf.raw_ops
_TO_NHWC, _TO_NCHW = [0, 2, 3, 1], [0, 3, 1, 2]


# Layout peepholes (graph mode only). Convolutions and pools run in NHWC and return
# Transpose(y, NHWC->NCHW); ReLU moves that transpose after itself, and the next
# conv/pool takes ``y`` back instead of transposing again, so a conv-ReLU-conv or
# conv-ReLU-pool chain stays NHWC inside a tf.function with no transposes between.
def _nchw_source(x):
    """``y`` when graph tensor ``x`` is ``Transpose(y, NHWC->NCHW)``, else None."""
    try:
        op = x.op
    except AttributeError:  # an eager tensor
        return None
    if op.type != "Transpose":
        return None
    perm = tf.get_static_value(op.inputs[1])
    return op.inputs[0] if perm is not None and list(perm) == _TO_NCHW else None


def _to_nhwc(x4):
    src = _nchw_source(x4)
    return src if src is not None else R.Transpose(x=x4, perm=_ints(_TO_NHWC))


def _to_nchw(yh):
    return R.Transpose(x=yh, perm=_ints(_TO_NCHW))


def _pair(v, name="argument"):
    if isinstance(v, int):
        return v, v
    v = tuple(int(e) for e in v)
    if len(v) == 1:
        return v[0], v[0]
    if len(v) != 2:
        raise ValueError(f"{name} must be an int or a pair, got {v}")
    return v


def _f32(x):
    """Half-precision inputs compute statistics in float32, as PyTorch does."""
    return R.Cast(x=x, DstT=tf.float32) if x.dtype in _HALF else x


# ------------------------------------------------------------------ activations
def relu(x, /):
    src = _nchw_source(x) if x.shape.rank == 4 else None
    if src is not None:
        return _to_nchw(R.Relu(features=src))
    return R.Relu(features=x)


def leaky_relu(x, /, negative_slope=0.01):
    if x.dtype == tf.float64:  # the fused kernel holds the slope as a float32 attribute
        return R.SelectV2(condition=R.Greater(x=x, y=_scalar(0, x.dtype)), t=x,
                          e=R.Mul(x=x, y=_scalar(negative_slope, x.dtype)))
    return R.LeakyRelu(features=x, alpha=float(negative_slope))


_SQRT_HALF = math.sqrt(0.5)
_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)


def gelu(x, /, approximate="none"):
    # written out: tf.nn.gelu rounds its constants to float32 before casting them
    d = x.dtype
    if approximate == "none":
        z = R.Mul(x=x, y=_scalar(_SQRT_HALF, d))
        if d == tf.float64:  # TF's float64 erf returns NaN at +-inf; erf(+-10) is +-1.0
            z = R.ClipByValue(t=z, clip_value_min=_scalar(-10, d), clip_value_max=_scalar(10, d))
        inner = R.Erf(x=z)
    elif approximate == "tanh":
        cube = R.Mul(x=_scalar(0.044715, d), y=R.Mul(x=x, y=R.Square(x=x)))
        inner = R.Tanh(x=R.Mul(x=_scalar(_SQRT_2_OVER_PI, d), y=R.AddV2(x=x, y=cube)))
    else:
        raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")
    half_x = R.Mul(x=x, y=_scalar(0.5, d))
    return R.Mul(x=half_x, y=R.AddV2(x=inner, y=_scalar(1, d)))


def silu(x, /):
    return R.Mul(x=x, y=R.Sigmoid(x=x))


def sigmoid(x, /):
    return R.Sigmoid(x=x)


def tanh(x, /):
    return R.Tanh(x=x)


def softplus(x, /, beta=1.0, threshold=20.0):
    z = x if beta == 1 else R.Mul(x=x, y=_scalar(beta, x.dtype))
    soft = R.Softplus(features=z)
    if beta != 1:
        soft = R.RealDiv(x=soft, y=_scalar(beta, x.dtype))
    # linear above the threshold, as torch
    return R.SelectV2(condition=R.Greater(x=z, y=_scalar(threshold, x.dtype)), t=x, e=soft)


def _along(op, x, dim):
    nd = x.shape.rank
    if nd == 0:
        return R.Reshape(tensor=op(logits=R.Reshape(tensor=x, shape=_ints((1,)))),
                         shape=_ints(()))
    if dim is None:
        dim = -1
    if dim % nd == nd - 1:
        return op(logits=x)
    perm = list(range(nd))
    perm[dim], perm[-1] = perm[-1], perm[dim]
    perm = _ints(perm)
    return R.Transpose(x=op(logits=R.Transpose(x=x, perm=perm)), perm=perm)


def softmax(x, /, dim=-1):
    return _along(R.Softmax, x, dim)


def log_softmax(x, /, dim=-1):
    return _along(R.LogSoftmax, x, dim)


def softmax_cross_entropy(x, target, /, ignore_index=-100, reduction="mean"):
    from unifw import _composites

    kind = "i" if target.dtype.is_integer else "f" if target.dtype.is_floating else "b"
    _composites.class_target_problem(x.shape, target.shape, kind, ignore_index, reduction)
    if x.shape.rank != 2 or x.dtype not in (tf.float32, tf.float64):
        from .backend import backend

        return _composites.nn_softmax_cross_entropy(backend, x, target, ignore_index,
                                                    reduction)
    labels = _index_dtype(target)
    keep = R.NotEqual(x=labels, y=tf.constant(ignore_index, labels.dtype))
    # TensorFlow's kernel rejects labels outside [0, C): ignored ones become class 0
    safe = R.SelectV2(condition=keep, t=labels, e=tf.zeros_like(labels))
    _check_bounds(safe, x.shape[1], x)
    loss = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=safe, logits=x)
    w = R.Cast(x=keep, DstT=x.dtype)
    loss = R.Mul(x=loss, y=w)
    if reduction == "none":
        return loss
    total = R.Sum(input=loss, axis=_ints([0]))
    if reduction == "sum":
        return total
    return R.RealDiv(x=total, y=R.Sum(input=w, axis=_ints([0])))


def logsumexp(x, /, dim=None, keepdim=False):
    return tf.reduce_logsumexp(x, axis=dim, keepdims=keepdim)


def one_hot(x, /, num_classes=-1):
    x = _index_dtype(x)
    eager = tf.executing_eagerly()
    if num_classes < 0:
        if not eager:
            raise ValueError("one_hot: pass num_classes inside a compiled function")
        if tf.size(x) == 0:
            raise ValueError("one_hot: cannot infer num_classes from an empty tensor")
        num_classes = int(tf.reduce_max(x)) + 1
    if eager and tf.size(x) > 0 and bool(tf.reduce_any((x < 0) | (x >= num_classes))):
        # tf.one_hot silently gives all-zero rows for out-of-range classes
        raise IndexError(f"one_hot: class values must be in [0, {num_classes})")
    return tf.one_hot(x, num_classes, dtype=tf.int64)


def _x_weight_t(x, weight):
    """``x @ weight.T`` for 2-D ``x`` ``(n, in)`` and ``weight`` ``(out, in)``.

    TensorFlow's CPU MatMul is slow with a large transposed right operand: for
    n=256 and a 1024x1024 weight, ``MatMul(x, w, transpose_b=True)`` takes 19 ms,
    ``Transpose(MatMul(w, x, transpose_b=True))`` 10 ms (forward and backward
    39 vs 30 ms, one core). The second form wins while the batch is small next
    to the weight (4n <= min(in, out), measured from n=64 to 2048) and loses
    elsewhere, so it is taken only there.
    """
    n = x.shape[0]
    out_f, in_f = weight.shape
    if n is not None and out_f is not None and in_f is not None and 4 * n <= min(out_f, in_f):
        return R.Transpose(x=R.MatMul(a=weight, b=x, transpose_b=True), perm=_ints((1, 0)))
    return R.MatMul(a=x, b=weight, transpose_b=True)


def linear(x, weight, bias=None, /):
    nd = x.shape.rank
    if nd == 2:
        y = _x_weight_t(x, weight)
    elif nd == 1:
        y = R.Squeeze(input=R.MatMul(a=x[None], b=weight, transpose_b=True), axis=[0])
    else:  # one GEMM over all leading dims
        flat = R.Reshape(tensor=x, shape=_ints((-1, _dim(x, -1))))
        y = _x_weight_t(flat, weight)
        lead = x.shape[:-1]
        out_shape = (lead.as_list() if lead.is_fully_defined() else tf.shape(x)[:-1])
        y = R.Reshape(tensor=y, shape=tf.concat([out_shape, [_dim(weight, 0)]], 0)
                      if tf.is_tensor(out_shape) else _ints(out_shape + [_dim(weight, 0)]))
    if bias is not None:
        y = R.BiasAdd(value=y, bias=bias) if y.shape.rank >= 2 else R.AddV2(x=y, y=bias)
    return y


# ------------------------------------------------------------------ convolution
def _conv_padding(padding, kernel, dilation, stride):
    """Explicit (before, after) padding per spatial dim, PyTorch rules."""
    if isinstance(padding, str):
        if padding == "valid":
            return [(0, 0)] * len(kernel)
        if padding != "same":
            raise ValueError(f"padding must be 'same', 'valid' or ints, got {padding!r}")
        if any(s != 1 for s in stride):
            raise ValueError("padding='same' is not supported for strided convolutions")
        out = []
        for k, d in zip(kernel, dilation):
            total = d * (k - 1)
            out.append((total // 2, total - total // 2))  # the extra one goes after
        return out
    return [(p, p) for p in _pair(padding, "padding")]


def _check_groups(c_in, w_in, c_out, groups, name):
    if groups < 1 or c_in % groups or c_out % groups or w_in * groups != c_in:
        raise ValueError(f"{name}: input channels {c_in}, weight in-channels {w_in} and "
                         f"out-channels {c_out} do not fit groups={groups}")


def _onednn_enabled():
    try:
        from tensorflow.python.util import _pywrap_util_port
        return bool(_pywrap_util_port.IsMklEnabled())
    except (ImportError, AttributeError):
        return False


# TF's own CPU kernels have no gradient for grouped or dilated convolutions; its oneDNN
# kernels do, for float32 and bfloat16. Elsewhere on CPU those convs are decomposed.
_ONEDNN = _onednn_enabled()
_ONEDNN_DTYPES = frozenset({tf.float32, tf.bfloat16})


def _native_conv_ok(x):
    return device_of(x) != "cpu" or (_ONEDNN and x.dtype in _ONEDNN_DTYPES)


def _dilate_kernel(wh, dilation):
    """HWIO kernel with ``d - 1`` zeros between taps: a dilated conv as a plain one."""
    dh, dw = dilation
    kh, kw, i, o = wh.shape
    w = R.Reshape(tensor=wh, shape=_ints((kh, 1, kw, 1, i, o)))
    w = tf.pad(w, [[0, 0], [0, dh - 1], [0, 0], [0, dw - 1], [0, 0], [0, 0]])
    w = R.Reshape(tensor=w, shape=_ints((kh * dh, kw * dw, i, o)))
    return w[:(kh - 1) * dh + 1, :(kw - 1) * dw + 1]


def _conv2d_nhwc(xh, wh, stride, pads, dilation, groups):
    explicit = [[0, 0], list(pads[0]), list(pads[1]), [0, 0]]
    padded = any(p for pair in pads for p in pair)
    if (groups == 1 and dilation == (1, 1)) or _native_conv_ok(xh):
        # TF infers the groups from the ratio of input channels to kernel in-channels
        return tf.nn.conv2d(xh, wh, strides=[1, *stride, 1],
                            padding=explicit if padded else "VALID",
                            dilations=[1, *dilation, 1])
    if dilation != (1, 1):
        wh = _dilate_kernel(wh, dilation)
    if padded:
        xh = tf.pad(xh, explicit)
    strides = [1, *stride, 1]
    if groups == 1:
        return tf.nn.conv2d(xh, wh, strides=strides, padding="VALID")
    c_in, c_out = xh.shape[-1], wh.shape[-1]
    if groups == c_in:  # depthwise, channel multiplier c_out / c_in
        kh, kw = wh.shape[0], wh.shape[1]
        wd = R.Reshape(tensor=wh, shape=_ints((kh, kw, c_in, c_out // c_in)))
        if stride[0] == stride[1]:
            return tf.nn.depthwise_conv2d(xh, wd, strides=strides, padding="VALID")
        # the depthwise kernel takes equal strides only: stride 1, then subsample
        y = tf.nn.depthwise_conv2d(xh, wd, strides=[1, 1, 1, 1], padding="VALID")
        return y[:, ::stride[0], ::stride[1], :]
    outs = [tf.nn.conv2d(xi, wi, strides=strides, padding="VALID")
            for xi, wi in zip(tf.split(xh, groups, axis=-1), tf.split(wh, groups, axis=-1))]
    return tf.concat(outs, axis=-1)


def _unbatched(fn, x, spatial):
    """Run ``fn`` on a batched view when ``x`` lacks the batch dim (torch allows this)."""
    if x.shape.rank == spatial + 1:
        return R.Squeeze(input=fn(x[None]), axis=[0])
    if x.shape.rank != spatial + 2:
        raise ValueError(f"expected a {spatial + 2}-d (batched) or {spatial + 1}-d input, "
                         f"got shape {x.shape}")
    return fn(x)


def conv2d(x, weight, bias=None, /, stride=1, padding=0, dilation=1, groups=1):
    stride, dilation = _pair(stride, "stride"), _pair(dilation, "dilation")
    kernel = (weight.shape[2], weight.shape[3])
    pads = _conv_padding(padding, kernel, dilation, stride)

    def run(x4):
        _check_groups(x4.shape[1], weight.shape[1], weight.shape[0], groups, "conv2d")
        xh = _to_nhwc(x4)
        wh = R.Transpose(x=weight, perm=_ints((2, 3, 1, 0)))  # (O, I/g, kh, kw) -> HWIO
        y = _conv2d_nhwc(xh, wh, stride, pads, dilation, groups)
        if bias is not None:
            y = R.BiasAdd(value=y, bias=bias)
        return _to_nchw(y)
    return _unbatched(run, x, 2)


def conv1d(x, weight, bias=None, /, stride=1, padding=0, dilation=1, groups=1):
    one = lambda v: v if isinstance(v, str) else (0, _pair(v)[0])  # noqa: E731
    one_s = lambda v: (1, _pair(v)[0])  # noqa: E731

    def run(x3):
        y = conv2d(x3[:, :, None, :], weight[:, :, None, :], bias, one_s(stride),
                   one(padding), one_s(dilation), groups)
        return R.Squeeze(input=y, axis=[2])
    return _unbatched(run, x, 1)


def _stuff_zeros(xh, stride):
    """Insert ``stride - 1`` zeros between input pixels (NHWC), for transposed convs."""
    sh, sw = stride
    if sh == sw == 1:
        return xh
    n, h, w, c = (_dim(xh, i) for i in range(4))
    y = R.Reshape(tensor=xh, shape=_ints([n, h, 1, w, 1, c]))
    y = tf.pad(y, [[0, 0], [0, 0], [0, sh - 1], [0, 0], [0, sw - 1], [0, 0]])
    y = R.Reshape(tensor=y, shape=_ints([n, h * sh, w * sw, c]))
    return y[:, :(h - 1) * sh + 1, :(w - 1) * sw + 1, :]


def _pad_or_crop(xh, before_after):
    """Pad (positive) or crop (negative) the two spatial dims of an NHWC tensor."""
    crop = [slice(None)]
    pads = [[0, 0]]
    for i, (b, a) in enumerate(before_after):
        n = _dim(xh, i + 1)
        crop.append(slice(max(0, -b), n - max(0, -a)))
        pads.append([max(0, b), max(0, a)])
    pads.append([0, 0])
    crop.append(slice(None))
    return tf.pad(xh[tuple(crop)], pads)


def conv_transpose2d(x, weight, bias=None, /, stride=1, padding=0, output_padding=0, groups=1,
                     dilation=1):
    stride, dilation = _pair(stride, "stride"), _pair(dilation, "dilation")
    padding, out_pad = _pair(padding, "padding"), _pair(output_padding, "output_padding")
    for op, s, d in zip(out_pad, stride, dilation):
        if op >= s and op >= d:
            raise ValueError("output_padding must be smaller than either stride or dilation")
    c_in, c_out_g, kh, kw = weight.shape
    kernel = (kh, kw)

    def run(x4):
        if x4.shape[1] != c_in or c_in % groups:
            raise ValueError(f"conv_transpose2d: input has {x4.shape[1]} channels, weight "
                             f"expects {c_in} (divisible by groups={groups})")
        xh = _to_nhwc(x4)
        # the adjoint of a strided conv: a stride-1 conv over the zero-stuffed input with the
        # flipped kernel, padded by d*(k-1) - p (and output_padding after)
        edge = [(d * (k - 1) - p, d * (k - 1) - p + op)
                for k, d, p, op in zip(kernel, dilation, padding, out_pad)]
        xs = _pad_or_crop(_stuff_zeros(xh, stride), edge)
        w = R.Reshape(tensor=weight, shape=_ints([groups, c_in // groups, c_out_g, kh, kw]))
        w = R.Transpose(x=w, perm=_ints((3, 4, 1, 0, 2)))  # (kh, kw, I/g, g, O/g)
        w = R.Reshape(tensor=w, shape=_ints([kh, kw, c_in // groups, groups * c_out_g]))
        w = R.ReverseV2(tensor=w, axis=_ints((0, 1)))
        y = _conv2d_nhwc(xs, w, (1, 1), [(0, 0), (0, 0)], dilation, groups)
        if bias is not None:
            y = R.BiasAdd(value=y, bias=bias)
        return _to_nchw(y)
    return _unbatched(run, x, 2)


# ------------------------------------------------------------------ pooling
def _pool_out(size, k, s, p, d, ceil_mode):
    eff = d * (k - 1) + 1
    if ceil_mode:
        out = -(-(size + 2 * p - eff) // s) + 1
        if (out - 1) * s >= size + p:  # the last window must start inside the input
            out -= 1
    else:
        out = (size + 2 * p - eff) // s + 1
    if out < 1:
        raise ValueError(f"pooling output size would be {out} for input size {size}")
    return out


def _pool_geometry(x4, kernel_size, stride, padding, dilation, ceil_mode):
    k = _pair(kernel_size, "kernel_size")
    # torch: no stride (None or an empty list) means the kernel size
    s = _pair(kernel_size if stride is None or stride == () or stride == [] else stride,
              "stride")
    p = _pair(padding, "padding")
    d = _pair(dilation, "dilation")
    for ki, pi, di in zip(k, p, d):
        if pi > (di * (ki - 1) + 1) // 2:
            raise ValueError("pad should be at most half of the effective kernel size")
    size = (x4.shape[2], x4.shape[3])
    out = [_pool_out(n, ki, si, pi, di, ceil_mode) for n, ki, si, pi, di in zip(size, k, s, p, d)]
    # padding after the input so that the last window fits (ceil_mode may need more than p)
    after = [max(0, (o - 1) * si + di * (ki - 1) + 1 - n - pi)
             for o, si, di, ki, n, pi in zip(out, s, d, k, size, p)]
    return k, s, p, d, out, after


def _propagate_nans(xh, y, k, s):
    """``y``, the max-pool of ``xh``, with NaN in every window that holds one.

    TF's kernel skips NaNs; torch propagates them. The exact fix subtracts the
    window means of the NaNs alone (NaN where a window has one, else exactly +0,
    which keeps the sign of a zero maximum), outside the gradient. It costs three
    passes over the input (as much as the pool itself), so it runs only when the
    input's sum is NaN: always when the input holds a NaN (an inf - inf sum also
    takes the branch, where the fix then changes nothing).
    """
    def fix():
        nans = R.SelectV2(condition=R.IsNan(x=xh), t=xh, e=_scalar(0, xh.dtype))
        return R.Sub(x=y, y=tf.stop_gradient(tf.nn.avg_pool2d(nans, k, s, "VALID")))

    flag = R.IsNan(x=R.Sum(input=xh, axis=_ints((0, 1, 2, 3))))
    return tf.cond(flag, fix, lambda: y)


def max_pool2d(x, /, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False):
    def run(x4):
        k, s, p, d, out, after = _pool_geometry(x4, kernel_size, stride, padding, dilation,
                                                ceil_mode)
        xh = _to_nhwc(x4)
        if any(p) or any(after):
            xh = tf.pad(xh, [[0, 0], [p[0], after[0]], [p[1], after[1]], [0, 0]],
                        constant_values=_scalar(-math.inf, x4.dtype))
        if d == (1, 1):
            y = _propagate_nans(xh, tf.nn.max_pool2d(xh, k, s, "VALID"), k, s)
        else:  # dilated windows: maximum over the k*k strided views
            y = None
            for i in range(k[0]):
                for j in range(k[1]):
                    v = xh[:, i * d[0]: i * d[0] + (out[0] - 1) * s[0] + 1: s[0],
                           j * d[1]: j * d[1] + (out[1] - 1) * s[1] + 1: s[1], :]
                    y = v if y is None else R.Maximum(x=y, y=v)
        return _to_nchw(y)
    return _unbatched(run, x, 2)


def _window_counts(n, k, s, p, out, after, include_pad):
    """Number of counted cells in each pooling window along one axis (NumPy, static)."""
    valid = np.zeros(p + n + after, np.float64)  # the padded axis
    lo, hi = (0, n + 2 * p) if include_pad else (p, p + n)
    valid[lo:min(hi, valid.size)] = 1
    csum = np.concatenate([[0.0], np.cumsum(valid)])
    starts = np.arange(out) * s
    return csum[starts + k] - csum[starts]


def avg_pool2d(x, /, kernel_size, stride=None, padding=0, ceil_mode=False,
               count_include_pad=True):
    def run(x4):
        k, s, p, _, out, after = _pool_geometry(x4, kernel_size, stride, padding, 1, ceil_mode)
        xh = _to_nhwc(x4)
        if not any(p) and not any(after):
            return _to_nchw(tf.nn.avg_pool2d(xh, k, s, "VALID"))
        xh = tf.pad(xh, [[0, 0], [p[0], after[0]], [p[1], after[1]], [0, 0]])
        mean_all = tf.nn.avg_pool2d(xh, k, s, "VALID")  # divides by k*k
        counts = [_window_counts(x4.shape[2 + i], k[i], s[i], p[i], out[i], after[i],
                                 count_include_pad) for i in range(2)]
        fix = (k[0] * k[1]) / np.outer(counts[0], counts[1])
        y = R.Mul(x=mean_all, y=tf.constant(fix[None, :, :, None], x4.dtype))
        return _to_nchw(y)
    return _unbatched(run, x, 2)


def _adaptive_matrix(n, m, dtype):
    """(m, n) averaging matrix of torch's adaptive pooling bins along one axis."""
    a = np.zeros((m, n), np.float64)
    for i in range(m):
        lo, hi = (i * n) // m, -(-((i + 1) * n) // m)
        a[i, lo:hi] = 1.0 / (hi - lo)
    return tf.constant(a, dtype)


def adaptive_avg_pool2d(x, /, output_size):
    def run(x4):
        h, w = x4.shape[2], x4.shape[3]
        oh, ow = output_size if not isinstance(output_size, int) else (output_size,) * 2
        oh, ow = h if oh is None else oh, w if ow is None else ow
        if h % oh == 0 and w % ow == 0:  # equal bins: a reshape and a mean
            n, c = _dim(x4, 0), _dim(x4, 1)
            y = R.Reshape(tensor=x4, shape=_ints([n, c, oh, h // oh, ow, w // ow]))
            return R.Mean(input=y, axis=_ints((3, 5)), keep_dims=False)
        ph = _adaptive_matrix(h, oh, x4.dtype)
        pw = _adaptive_matrix(w, ow, x4.dtype)
        return tf.einsum("ih,nchw,jw->ncij", ph, x4, pw)
    return _unbatched(run, x, 2)


# ------------------------------------------------------------------ normalisation
def _moments(x, axes):
    # no stop_gradient on the mean (unlike tf.nn.moments): second derivatives stay exact
    axes = _ints(axes)
    mean = R.Mean(input=x, axis=axes, keep_dims=True)
    var = R.Mean(input=R.Square(x=R.Sub(x=x, y=mean)), axis=axes, keep_dims=True)
    return mean, var


def batch_norm(x, running_mean, running_var, weight=None, bias=None, /, training=False,
               momentum=0.1, eps=1e-05):
    nd = x.shape.rank
    if nd < 2:
        raise ValueError(f"batch_norm: expected at least 2-d input, got shape {x.shape}")
    c = _dim(x, 1)
    bshape = _ints([1, c] + [1] * (nd - 2))
    axes = [0] + list(range(2, nd))
    if training:
        n = x.shape.num_elements()
        if n is not None and c and n // c == 1:
            raise ValueError("batch_norm: expected more than 1 value per channel when training")
        mean, var = _moments(_f32(x), axes)
        mean, var = R.Cast(x=mean, DstT=x.dtype), R.Cast(x=var, DstT=x.dtype)
    else:
        mean = R.Reshape(tensor=running_mean, shape=bshape)
        var = R.Reshape(tensor=running_var, shape=bshape)
    inv = R.Rsqrt(x=R.AddV2(x=var, y=_scalar(eps, var.dtype)))
    if weight is not None:
        inv = R.Mul(x=inv, y=R.Reshape(tensor=weight, shape=bshape))
    y = R.Mul(x=R.Sub(x=x, y=mean), y=inv)
    if bias is not None:
        y = R.AddV2(x=y, y=R.Reshape(tensor=bias, shape=bshape))
    return y


def layer_norm(x, /, normalized_shape, weight=None, bias=None, eps=1e-05):
    ns = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
    nd = x.shape.rank
    if len(ns) > nd or tuple(x.shape[nd - len(ns):]) != ns:
        raise ValueError(f"layer_norm: normalized_shape {ns} does not match the trailing "
                         f"dims of input shape {tuple(x.shape)}")
    axes = list(range(nd - len(ns), nd))
    xf = _f32(x)
    mean, var = _moments(xf, axes)
    y = R.Mul(x=R.Sub(x=xf, y=mean), y=R.Rsqrt(x=R.AddV2(x=var, y=_scalar(eps, var.dtype))))
    y = R.Cast(x=y, DstT=x.dtype) if y.dtype != x.dtype else y
    if weight is not None:
        y = R.Mul(x=y, y=weight)
    if bias is not None:
        y = R.AddV2(x=y, y=bias)
    return y


# ------------------------------------------------------------------ embedding, attention, pad
def embedding(x, weight, /, padding_idx=None):
    idx = _index_dtype(x)
    n = _dim(weight, 0)
    _check_bounds(idx, n, weight)
    with _index_errors:
        out = tf.gather(weight, idx)
    if padding_idx is None:
        return out
    if padding_idx < 0:
        padding_idx += n
    # the padding row is looked up as usual but receives no gradient, as torch
    keep = R.NotEqual(x=idx, y=_scalar(padding_idx, idx.dtype))[..., None]
    return R.SelectV2(condition=keep, t=out, e=tf.stop_gradient(out))


def scaled_dot_product_attention(query, key, value, /, attn_mask=None, dropout_p=0.0,
                                 is_causal=False, scale=None, *, dropout_key=None):
    if dropout_p > 0.0:  # dropout draws unifw's counter-based bits: the shared composite
        from unifw._composites import nn_scaled_dot_product_attention

        from .backend import backend
        return nn_scaled_dot_product_attention(backend, query, key, value, attn_mask,
                                               dropout_p, is_causal, scale,
                                               dropout_key=dropout_key)
    d = query.dtype
    sc = 1.0 / math.sqrt(_dim(query, -1)) if scale is None else scale
    scores = R.Mul(x=tf.linalg.matmul(query, key, transpose_b=True), y=_scalar(sc, d))
    neg = _scalar(-math.inf, d)
    if is_causal:
        L, S = _dim(query, -2), _dim(key, -2)
        causal = tf.linalg.band_part(tf.ones((L, S), tf.bool), -1, 0)
        scores = R.SelectV2(condition=causal, t=scores, e=neg)
    if attn_mask is not None:
        if attn_mask.dtype == tf.bool:
            scores = R.SelectV2(condition=attn_mask, t=scores, e=neg)
        else:
            scores = R.AddV2(x=scores, y=attn_mask)
    w = R.Softmax(logits=scores)
    if is_causal or attn_mask is not None:
        # a fully masked row attends to nothing: 0, not NaN (as PyTorch >= 2.5)
        w = R.SelectV2(condition=R.IsNan(x=w), t=_scalar(0, d), e=w)
    return tf.linalg.matmul(w, value)


def pad(x, pad, /, mode="constant", value=0.0):
    pad = [int(p) for p in pad]
    nd = x.shape.rank
    if len(pad) % 2 or len(pad) // 2 > nd:
        raise ValueError(f"pad: the padding {pad} must be pairs for at most {nd} dims")
    pairs = [(0, 0)] * nd  # torch lists the last dim first
    for i in range(len(pad) // 2):
        pairs[nd - 1 - i] = (pad[2 * i], pad[2 * i + 1])
    if mode == "constant":
        if any(b < 0 or a < 0 for b, a in pairs):  # negative padding crops
            x = x[tuple(slice(max(0, -b), _dim(x, i) - max(0, -a)) for i, (b, a) in
                        enumerate(pairs))]
            pairs = [(max(0, b), max(0, a)) for b, a in pairs]
        return tf.pad(x, [list(p) for p in pairs], constant_values=_scalar(value, x.dtype))
    if mode == "reflect":
        for i, (b, a) in enumerate(pairs):
            if max(b, a) >= (x.shape[i] or 0):
                raise ValueError(f"pad: reflect padding {(b, a)} must be smaller than the "
                                 f"dimension size {x.shape[i]}")
        return tf.pad(x, [list(p) for p in pairs], mode="REFLECT")
    if mode not in ("replicate", "circular"):
        raise ValueError(f"pad: unknown mode {mode!r}")
    for i, (b, a) in enumerate(pairs):
        if b == 0 and a == 0:
            continue
        n = _dim(x, i)
        if mode == "circular" and (b > n or a > n):
            raise ValueError("pad: circular padding must not exceed the dimension size")
        src = tf.range(-b, n + a)
        src = tf.clip_by_value(src, 0, n - 1) if mode == "replicate" else tf.math.floormod(src, n)
        x = tf.gather(x, src, axis=i)
    return x

