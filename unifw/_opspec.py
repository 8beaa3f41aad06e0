"""The one list of public ops.

Every public op of unifw (Array API core, ``linalg``, ``fft`` and
``nn.functional``) is declared here exactly once. From this list:

* the facade functions (``uf.add``, ``uf.linalg.solve``, ``F.conv2d``...) are
  generated (:mod:`unifw._dispatch`): they unwrap tensors, check backend,
  device and dtype, promote, call the backend and wrap the result;
* each backend is checked for completeness when it loads (a missing
  ``required`` op is an error; a missing optional op gets the composite
  default from :mod:`unifw._composites`);
* the conformance suite draws its test matrix (every op here must have a
  conformance entry).

A backend implements each op as a plain function with the *same signature*,
taking and returning native arrays; ``dtype`` arguments arrive as native
dtypes and ``device`` arguments as unifw device strings (``"cpu"``, ``"gpu:0"``).
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class OpSpec:
    name: str
    sig: str                      # parameters, as in a Python ``def``
    tensors: tuple = ("x",)       # tensor params; "name*" = sequence of tensors, "name?" = optional
    kind: str = "other"           # unary, binary, compare, reduce, creation, manip, ...
    dtypes: str = "any"           # accepted dtypes of the tensor inputs (see DTYPE_GROUPS)
    promote: bool = False         # promote the tensor inputs to one dtype (Array API rules)
    out: str = "tensor"           # tensor | tuple | python | none
    diff: int = 2                 # differentiable to this order (0 = not differentiable)
    ns: str = ""                  # "" (uf.*), "linalg", "fft", "nn" (unifw.nn.functional)
    required: bool = True         # False: a composite default exists (see _composites)
    method: str | None = None     # also exposed as Tensor method under this name
    same_dtype: tuple = ()        # tensor params that must share the first one's dtype (no casts)

    @property
    def qualname(self) -> str:
        return f"{self.ns}.{self.name}" if self.ns else self.name


# dtype groups by unifw DType.kind letters
DTYPE_GROUPS = {
    "any": "biufc", "numeric": "iufc", "real": "iuf", "float": "fc", "real_float": "f",
    "integer": "iu", "int_bool": "biu", "bool": "b",
}

OPS: dict[str, OpSpec] = {}


def _op(name, sig="x, /", **kw) -> OpSpec:
    spec = OpSpec(name, sig, **kw)
    OPS[spec.qualname] = spec
    return spec


# ---------------------------------------------------------------- elementwise
_UNARY_FLOAT = ["acos", "acosh", "asin", "asinh", "atan", "atanh", "cos", "cosh", "exp",
                "expm1", "log", "log1p", "log2", "log10", "sin", "sinh", "sqrt", "tan", "tanh"]
for _n in _UNARY_FLOAT:
    _op(_n, kind="unary", dtypes="float", method=_n)
for _n in ["ceil", "floor", "trunc"]:
    _op(_n, kind="unary", dtypes="real", diff=1, method=_n)
_op("round", kind="unary", dtypes="numeric", diff=1, method="round")
_op("abs", kind="unary", dtypes="numeric", method="abs")
_op("negative", kind="unary", dtypes="numeric")
_op("positive", kind="unary", dtypes="numeric", required=False)
_op("square", kind="unary", dtypes="numeric", required=False, method="square")
_op("sign", kind="unary", dtypes="numeric", diff=1, method="sign")
_op("signbit", kind="unary", dtypes="real_float", diff=0)
_op("isfinite", kind="unary", dtypes="numeric", diff=0, out="tensor")
_op("isinf", kind="unary", dtypes="numeric", diff=0)
_op("isnan", kind="unary", dtypes="numeric", diff=0)
_op("conj", kind="unary", dtypes="numeric")
_op("real", kind="unary", dtypes="numeric")
_op("imag", kind="unary", dtypes="numeric")
_op("logical_not", kind="unary", dtypes="bool", diff=0)
_op("bitwise_invert", kind="unary", dtypes="int_bool", diff=0)

_BIN = ("x1", "x2")
for _n in ["add", "subtract", "multiply", "divide", "pow", "maximum", "minimum", "atan2",
           "hypot", "logaddexp", "copysign", "remainder", "floor_divide"]:
    _dt = {"add": "numeric", "subtract": "numeric", "multiply": "numeric", "divide": "float",
           "pow": "numeric", "atan2": "real_float", "hypot": "real_float",
           "logaddexp": "real_float", "copysign": "real_float"}.get(_n, "real")
    _op(_n, "x1, x2, /", tensors=_BIN, kind="binary", dtypes=_dt, promote=True,
        required=_n not in ("hypot", "logaddexp", "copysign"),
        diff=1 if _n in ("maximum", "minimum", "remainder", "floor_divide", "copysign") else 2)
for _n in ["equal", "not_equal", "less", "less_equal", "greater", "greater_equal"]:
    _op(_n, "x1, x2, /", tensors=_BIN, kind="compare",
        dtypes="any" if _n in ("equal", "not_equal") else "real",
        promote=True, diff=0)
for _n in ["logical_and", "logical_or", "logical_xor"]:
    _op(_n, "x1, x2, /", tensors=_BIN, kind="binary", dtypes="bool", promote=True, diff=0)
for _n in ["bitwise_and", "bitwise_or", "bitwise_xor"]:
    _op(_n, "x1, x2, /", tensors=_BIN, kind="binary", dtypes="int_bool", promote=True, diff=0)
for _n in ["bitwise_left_shift", "bitwise_right_shift"]:
    _op(_n, "x1, x2, /", tensors=_BIN, kind="binary", dtypes="integer", promote=True, diff=0)
_op("clip", "x, /, min=None, max=None", tensors=("x", "min?", "max?"), kind="clip",
    dtypes="real", diff=1, method="clip")

# ---------------------------------------------------------------- creation
_op("arange", "start, /, stop=None, step=1, *, dtype=None, device=None", tensors=(),
    kind="creation", diff=0)
_op("empty", "shape, *, dtype=None, device=None", tensors=(), kind="creation", diff=0,
    required=False)
_op("zeros", "shape, *, dtype=None, device=None", tensors=(), kind="creation", diff=0)
_op("ones", "shape, *, dtype=None, device=None", tensors=(), kind="creation", diff=0)
_op("full", "shape, fill_value, *, dtype=None, device=None", tensors=(), kind="creation", diff=0)
_op("eye", "n_rows, n_cols=None, /, *, k=0, dtype=None, device=None", tensors=(),
    kind="creation", diff=0)
_op("linspace", "start, stop, /, num, *, dtype=None, device=None, endpoint=True", tensors=(),
    kind="creation", diff=0)
for _n in ["zeros_like", "ones_like", "empty_like"]:
    _op(_n, "x, /, *, dtype=None, device=None", kind="creation_like", diff=0,
        required=_n != "empty_like")
_op("full_like", "x, /, fill_value, *, dtype=None, device=None", kind="creation_like", diff=0)
_op("tril", "x, /, *, k=0", kind="manip")
_op("triu", "x, /, *, k=0", kind="manip")
_op("meshgrid", "*arrays, indexing='xy'", tensors=("arrays*",), kind="manip", out="tuple",
    promote=True)

# ---------------------------------------------------------------- dtype / manipulation
_op("astype", "x, dtype, /, *, copy=True, device=None", kind="astype", diff=1, method=None)
_op("broadcast_to", "x, /, shape", kind="manip")
_op("broadcast_arrays", "*arrays", tensors=("arrays*",), kind="manip", out="tuple")
_op("concat", "arrays, /, *, axis=0", tensors=("arrays*",), kind="manip", promote=True)
_op("stack", "arrays, /, *, axis=0", tensors=("arrays*",), kind="manip", promote=True)
_op("unstack", "x, /, *, axis=0", kind="manip", out="tuple", required=False)
_op("expand_dims", "x, /, *, axis=0", kind="manip")
_op("squeeze", "x, /, axis", kind="manip")
_op("flip", "x, /, *, axis=None", kind="manip")
_op("roll", "x, /, shift, *, axis=None", kind="manip")
_op("moveaxis", "x, source, destination, /", kind="manip")
_op("permute_dims", "x, /, axes", kind="manip")
_op("reshape", "x, /, shape, *, copy=None", kind="manip")
_op("repeat", "x, repeats, /, *, axis=None", tensors=("x",), kind="manip")
_op("tile", "x, repetitions, /", kind="manip")
_op("matrix_transpose", "x, /", kind="manip")
_op("take", "x, indices, /, *, axis=None", tensors=("x", "indices"), kind="index", diff=2)
_op("take_along_axis", "x, indices, /, *, axis=-1", tensors=("x", "indices"), kind="index")
_op("where", "condition, x1, x2, /", tensors=("condition", "x1", "x2"), kind="where",
    promote=True)

# ---------------------------------------------------------------- linear algebra (main namespace)
_op("matmul", "x1, x2, /", tensors=_BIN, kind="matmul", dtypes="numeric", promote=True)
_op("tensordot", "x1, x2, /, *, axes=2", tensors=_BIN, kind="matmul", dtypes="numeric",
    promote=True)
_op("vecdot", "x1, x2, /, *, axis=-1", tensors=_BIN, kind="matmul", dtypes="numeric",
    promote=True)

# ---------------------------------------------------------------- statistics / utility
for _n in ["sum", "prod"]:
    _op(_n, "x, /, *, axis=None, dtype=None, keepdims=False", kind="reduce", dtypes="numeric",
        method=_n)
for _n in ["max", "min"]:
    _op(_n, "x, /, *, axis=None, keepdims=False", kind="reduce", dtypes="real", diff=1, method=_n)
_op("mean", "x, /, *, axis=None, keepdims=False", kind="reduce", dtypes="float", method="mean")
for _n in ["std", "var"]:
    _op(_n, "x, /, *, axis=None, correction=0.0, keepdims=False", kind="reduce",
        dtypes="float", method=_n)
_op("cumulative_sum", "x, /, *, axis=None, dtype=None, include_initial=False", kind="reduce",
    dtypes="numeric")
_op("cumulative_prod", "x, /, *, axis=None, dtype=None, include_initial=False", kind="reduce",
    dtypes="numeric", diff=1)
for _n in ["all", "any"]:
    _op(_n, "x, /, *, axis=None, keepdims=False", kind="reduce", diff=0, method=_n)
_op("diff", "x, /, *, axis=-1, n=1", kind="manip", dtypes="numeric", required=False)

# ---------------------------------------------------------------- searching / sorting / sets
for _n in ["argmax", "argmin"]:
    _op(_n, "x, /, *, axis=None, keepdims=False", kind="search", dtypes="real", diff=0,
        method=_n)
_op("nonzero", "x, /", kind="search", out="tuple", diff=0)
_op("count_nonzero", "x, /, *, axis=None, keepdims=False", kind="search", diff=0)
_op("searchsorted", "x1, x2, /, *, side='left', sorter=None", tensors=("x1", "x2", "sorter?"),
    kind="search", dtypes="real", diff=0, promote=True)
_op("sort", "x, /, *, axis=-1, descending=False, stable=True", kind="sort", dtypes="real",
    diff=1)
_op("argsort", "x, /, *, axis=-1, descending=False, stable=True", kind="sort", dtypes="real",
    diff=0)
_op("unique_values", "x, /", kind="set", diff=0)
_op("unique_counts", "x, /", kind="set", out="tuple", diff=0)
_op("unique_inverse", "x, /", kind="set", out="tuple", diff=0)
_op("unique_all", "x, /", kind="set", out="tuple", diff=0)

# -------------------------------------------------- indexing primitives (Tensor[] / .at[])
_op("getitem", "x, key, /", kind="getitem")
_op("index_update", "x, key, values, /, *, mode='set'", tensors=("x", "values"),
    kind="index_update")

# ---------------------------------------------------------------- linalg extension
_L = dict(ns="linalg", kind="linalg", dtypes="float")
_op("cholesky", "x, /, *, upper=False", **_L)
_op("cross", "x1, x2, /, *, axis=-1", tensors=_BIN, promote=True, **{**_L, "dtypes": "numeric"})
_op("det", **_L)
_op("diagonal", "x, /, *, offset=0", **{**_L, "dtypes": "any"})
_op("eigh", out="tuple", diff=1, **_L)
_op("eigvalsh", diff=1, **_L)
_op("inv", **_L)
_op("matmul", "x1, x2, /", tensors=_BIN, promote=True, **{**_L, "dtypes": "numeric"},
    required=False)
_op("matrix_norm", "x, /, *, keepdims=False, ord='fro'", **_L)
_op("matrix_power", "x, n, /", **{**_L, "dtypes": "numeric"})
_op("matrix_rank", "x, /, *, rtol=None", diff=0, **_L)
_op("matrix_transpose", **{**_L, "dtypes": "any"}, required=False)
_op("outer", "x1, x2, /", tensors=_BIN, promote=True, **{**_L, "dtypes": "numeric"})
_op("pinv", "x, /, *, rtol=None", diff=1, **_L)
_op("qr", "x, /, *, mode='reduced'", out="tuple", diff=1, **_L)
_op("slogdet", out="tuple", diff=1, **_L)
_op("solve", "x1, x2, /", tensors=_BIN, promote=True, **_L)
_op("svd", "x, /, *, full_matrices=True", out="tuple", diff=0, **_L)
_op("svdvals", diff=1, **_L)
_op("tensordot", "x1, x2, /, *, axes=2", tensors=_BIN, promote=True,
    **{**_L, "dtypes": "numeric"}, required=False)
_op("trace", "x, /, *, offset=0, dtype=None", **{**_L, "dtypes": "numeric"})
_op("vecdot", "x1, x2, /, *, axis=-1", tensors=_BIN, promote=True,
    **{**_L, "dtypes": "numeric"}, required=False)
_op("vector_norm", "x, /, *, axis=None, keepdims=False, ord=2", diff=1, **_L)

# ---------------------------------------------------------------- fft extension
_F = dict(ns="fft", kind="fft", dtypes="float", diff=1)
for _n in ["fft", "ifft"]:
    _op(_n, "x, /, *, n=None, axis=-1, norm='backward'", **{**_F, "dtypes": "float"})
for _n in ["fftn", "ifftn"]:
    _op(_n, "x, /, *, s=None, axes=None, norm='backward'", **_F)
for _n in ["rfft", "ihfft"]:
    _op(_n, "x, /, *, n=None, axis=-1, norm='backward'", **{**_F, "dtypes": "real_float"})
for _n in ["irfft", "hfft"]:
    _op(_n, "x, /, *, n=None, axis=-1, norm='backward'", **_F)
_op("rfftn", "x, /, *, s=None, axes=None, norm='backward'", **{**_F, "dtypes": "real_float"})
_op("irfftn", "x, /, *, s=None, axes=None, norm='backward'", **_F)
for _n in ["fftfreq", "rfftfreq"]:
    _op(_n, "n, /, *, d=1.0, dtype=None, device=None", tensors=(), ns="fft", kind="creation",
        diff=0)
for _n in ["fftshift", "ifftshift"]:
    _op(_n, "x, /, *, axes=None", ns="fft", kind="manip", dtypes="numeric")

# ---------------------------------------------------------------- nn.functional
_N = dict(ns="nn", kind="nn", dtypes="real_float")
_op("relu", **_N, diff=1)
_op("leaky_relu", "x, /, negative_slope=0.01", **_N, diff=1)
_op("gelu", "x, /, approximate='none'", **_N)
_op("silu", **_N)
_op("sigmoid", **_N)
_op("tanh", **_N, required=False)
_op("softplus", "x, /, beta=1.0, threshold=20.0", **_N)
_op("softmax", "x, /, dim=-1", **_N)
_op("log_softmax", "x, /, dim=-1", **_N)
_op("logsumexp", "x, /, dim=None, keepdim=False", **_N)
# Fused softmax cross-entropy of logits ``(N, C, ...)`` or ``(C,)`` at integer class
# indices: what F.cross_entropy calls without class weights or label smoothing (torch's
# kernel, TensorFlow's SparseSoftmaxCrossEntropyWithLogits).
_op("softmax_cross_entropy", "x, target, /, ignore_index=-100, reduction='mean'",
    tensors=("x", "target"), **_N, required=False)
_op("one_hot", "x, /, num_classes=-1", **{**_N, "dtypes": "integer"}, diff=0)
_op("linear", "x, weight, bias=None, /", tensors=("x", "weight", "bias?"), **_N,
    same_dtype=("x", "weight", "bias"))
_CONV = "x, weight, bias=None, /, stride=1, padding=0, dilation=1, groups=1"
_op("conv1d", _CONV, tensors=("x", "weight", "bias?"), **_N, same_dtype=("x", "weight", "bias"))
_op("conv2d", _CONV, tensors=("x", "weight", "bias?"), **_N, same_dtype=("x", "weight", "bias"))
_op("conv_transpose2d",
    "x, weight, bias=None, /, stride=1, padding=0, output_padding=0, groups=1, dilation=1",
    tensors=("x", "weight", "bias?"), **_N, same_dtype=("x", "weight", "bias"))
_op("max_pool2d", "x, /, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False",
    **_N, diff=1)
_op("avg_pool2d",
    "x, /, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True", **_N)
_op("adaptive_avg_pool2d", "x, /, output_size", **_N)
_op("batch_norm",
    "x, running_mean, running_var, weight=None, bias=None, /, training=False, momentum=0.1, "
    "eps=1e-05",
    tensors=("x", "running_mean", "running_var", "weight?", "bias?"), **_N,
    same_dtype=("x", "running_mean", "running_var", "weight", "bias"))
_op("layer_norm", "x, /, normalized_shape, weight=None, bias=None, eps=1e-05",
    tensors=("x", "weight?", "bias?"), **_N, same_dtype=("x", "weight", "bias"))
_op("dropout", "x, /, p=0.5, training=True, *, key=None", tensors=("x", "key?"), **_N,
    required=False)
_op("embedding", "x, weight, /, padding_idx=None", tensors=("x", "weight"),
    **{**_N, "dtypes": "any"})
_op("scaled_dot_product_attention",
    "query, key, value, /, attn_mask=None, dropout_p=0.0, is_causal=False, scale=None, *, "
    "dropout_key=None",
    tensors=("query", "key", "value", "attn_mask?", "dropout_key?"), **_N, required=False,
    same_dtype=("query", "key", "value"))
_op("pad", "x, pad, /, mode='constant', value=0.0", **{**_N, "dtypes": "any"})


def ops_in(ns: str) -> list[OpSpec]:
    return [s for s in OPS.values() if s.ns == ns]


# The non-op part of the backend interface (see unifw.backend_api.Backend).
CORE_INTERFACE = (
    "native_types", "dtype_map", "devices", "default_device", "device_of", "to_device",
    "asarray", "to_numpy", "from_dlpack", "is_tracing",
    "variable_new", "variable_read", "variable_assign",
)
AUTODIFF_INTERFACE = ("vjp", "jvp", "stop_gradient", "no_grad", "custom_vjp")
COMPILE_INTERFACE = ("function", "cond", "while_loop", "scan")
