"""The benchmark workloads: sizes, hyper-parameters and the shared data.

Every implementation (unifw, native, Keras) of a workload starts from the same
batch and the same initial parameters, drawn here with NumPy in PyTorch's
layout and naming (``Linear.weight`` is ``(out, in)``). The implementations
convert them to their own layout, so their losses can be compared step by step.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Workload:
    name: str
    title: str
    loss: str        # "mse" (mean) or "cross_entropy" (mean, integer labels)
    optimizer: str   # "sgd", "momentum" or "adam"
    lr: float


WORKLOADS = {w.name: w for w in [
    Workload("two_layer", "(a) two-layer net, N=64, 1000-100-10, SGD step", "mse", "sgd", 1e-4),
    Workload("mlp", "(b) MLP, N=256, 1024-1024-10, Adam step", "cross_entropy", "adam", 1e-3),
    Workload("cnn", "(c) digits CNN, N=64, 8x8, SGD+momentum step", "cross_entropy",
             "momentum", 1e-2),
    Workload("transformer", "(d) Transformer encoder layer, d=128, 4 heads, seq 64, batch 32, "
             "fwd+bwd (+SGD)", "mse", "sgd", 1e-3),
]}

MOMENTUM = 0.9
ADAM_BETAS = (0.9, 0.999)
ADAM_EPS = 1e-8
LAYER_NORM_EPS = 1e-5

# transformer sizes
D_MODEL, N_HEADS, SEQ, BATCH, D_FF = 128, 4, 64, 32, 512


def _linear(rng, fan_out, fan_in):
    """PyTorch's default Linear/Conv init: U(-1/sqrt(fan_in), 1/sqrt(fan_in))."""
    bound = 1.0 / np.sqrt(fan_in)
    return rng.uniform(-bound, bound, size=(fan_out, fan_in)).astype(np.float32)


def _bias(rng, fan_out, fan_in):
    bound = 1.0 / np.sqrt(fan_in)
    return rng.uniform(-bound, bound, size=(fan_out,)).astype(np.float32)


def _normal(rng, *shape):
    return rng.standard_normal(shape).astype(np.float32)


def make_data(name: str, seed: int = 0) -> dict:
    """``{"x": ..., "y": ..., "params": {torch_name: array}}`` for workload ``name``."""
    rng = np.random.default_rng(seed)
    if name == "two_layer":
        n, d_in, h, d_out = 64, 1000, 100, 10
        params = {"linear1.weight": _linear(rng, h, d_in), "linear1.bias": _bias(rng, h, d_in),
                  "linear2.weight": _linear(rng, d_out, h), "linear2.bias": _bias(rng, d_out, h)}
        return {"x": _normal(rng, n, d_in), "y": _normal(rng, n, d_out), "params": params}
    if name == "mlp":
        n, d, h, k = 256, 1024, 1024, 10
        params = {"0.weight": _linear(rng, h, d), "0.bias": _bias(rng, h, d),
                  "2.weight": _linear(rng, k, h), "2.bias": _bias(rng, k, h)}
        return {"x": _normal(rng, n, d), "y": rng.integers(0, k, n).astype(np.int64),
                "params": params}
    if name == "cnn":
        return _digits_batch(rng)
    if name == "transformer":
        d, f = D_MODEL, D_FF
        params = {
            "self_attn.in_proj_weight": _xavier(rng, 3 * d, d),
            "self_attn.in_proj_bias": np.zeros(3 * d, np.float32),
            "self_attn.out_proj.weight": _linear(rng, d, d),
            "self_attn.out_proj.bias": np.zeros(d, np.float32),
            "linear1.weight": _linear(rng, f, d), "linear1.bias": _bias(rng, f, d),
            "linear2.weight": _linear(rng, d, f), "linear2.bias": _bias(rng, d, f),
            "norm1.weight": np.ones(d, np.float32), "norm1.bias": np.zeros(d, np.float32),
            "norm2.weight": np.ones(d, np.float32), "norm2.bias": np.zeros(d, np.float32),
        }
        return {"x": _normal(rng, BATCH, SEQ, d), "y": _normal(rng, BATCH, SEQ, d),
                "params": params}
    raise KeyError(f"unknown workload {name!r}; known: {sorted(WORKLOADS)}")


def _xavier(rng, fan_out, fan_in):
    # PyTorch's MultiheadAttention initialises in_proj_weight with xavier_uniform
    bound = np.sqrt(6.0 / (fan_in + fan_out / 3))
    return rng.uniform(-bound, bound, size=(fan_out, fan_in)).astype(np.float32)


def _digits_batch(rng, n=64):
    """A batch of the scikit-learn 8x8 digits (shipped with the package), NCHW in [0, 1]."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    idx = rng.permutation(len(digits.target))[:n]
    x = (digits.images[idx] / 16.0).astype(np.float32)[:, None, :, :]
    y = digits.target[idx].astype(np.int64)
    params = {
        "0.weight": _conv(rng, 16, 1), "0.bias": _bias(rng, 16, 9),
        "2.weight": _conv(rng, 32, 16), "2.bias": _bias(rng, 32, 16 * 9),
        "6.weight": _linear(rng, 64, 32 * 4 * 4), "6.bias": _bias(rng, 64, 32 * 4 * 4),
        "8.weight": _linear(rng, 10, 64), "8.bias": _bias(rng, 10, 64),
    }
    return {"x": x, "y": y, "params": params}


def _conv(rng, c_out, c_in, k=3):
    fan_in = c_in * k * k
    bound = 1.0 / np.sqrt(fan_in)
    return rng.uniform(-bound, bound, size=(c_out, c_in, k, k)).astype(np.float32)


# ------------------------------------------------------------------ layout helpers
def conv_to_hwio(w):
    """PyTorch conv weight (O, I, kh, kw) -> TensorFlow/Keras kernel (kh, kw, I, O)."""
    return np.ascontiguousarray(w.transpose(2, 3, 1, 0))


def cnn_fc_to_nhwc(w, c=32, h=4, wd=4):
    """Rows of the first Linear after Flatten, reordered from (C, H, W) to (H, W, C) order,
    as (in, out) for a Dense kernel."""
    out = w.shape[0]
    return np.ascontiguousarray(w.reshape(out, c, h, wd).transpose(0, 2, 3, 1)
                                .reshape(out, c * h * wd).T)


def nchw_to_nhwc(x):
    return np.ascontiguousarray(x.transpose(0, 2, 3, 1))
