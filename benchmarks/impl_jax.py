"""The workloads written the way a JAX user would: pure functions of a parameter
dict, ``jax.value_and_grad`` and optax; compiled mode is ``jax.jit`` of the step.

Parameters keep PyTorch's layout (``Linear.weight`` is ``(out, in)``, convolutions
NCHW/OIHW), which XLA handles with no transposes.
"""
from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import optax

from . import workloads as W


def _linear(p, name, x, sep="."):
    return x @ p[f"{name}{sep}weight"].T + p[f"{name}{sep}bias"]


def _conv(p, name, x):
    y = jax.lax.conv_general_dilated(x, p[f"{name}.weight"], (1, 1), ((1, 1), (1, 1)),
                                     dimension_numbers=("NCHW", "OIHW", "NCHW"))
    return y + p[f"{name}.bias"][None, :, None, None]


def _layer_norm(p, name, x):
    mean = jnp.mean(x, axis=-1, keepdims=True)
    var = jnp.mean(jnp.square(x - mean), axis=-1, keepdims=True)
    return (x - mean) * jax.lax.rsqrt(var + W.LAYER_NORM_EPS) * p[f"{name}.weight"] + \
        p[f"{name}.bias"]


def _self_attention(p, x):
    b, s, d = x.shape
    h, dh = W.N_HEADS, d // W.N_HEADS
    qkv = _linear(p, "self_attn.in_proj", x, sep="_").reshape(b, s, 3, h, dh)
    q, k, v = (jnp.transpose(qkv[:, :, i], (0, 2, 1, 3)) for i in range(3))
    att = jax.nn.softmax(q @ jnp.swapaxes(k, -1, -2) / math.sqrt(dh), axis=-1)
    out = jnp.transpose(att @ v, (0, 2, 1, 3)).reshape(b, s, d)
    return _linear(p, "self_attn.out_proj", out)


def forward(name, p, x):
    if name == "two_layer":
        return _linear(p, "linear2", jnp.maximum(_linear(p, "linear1", x), 0))
    if name == "mlp":
        return _linear(p, "2", jax.nn.relu(_linear(p, "0", x)))
    if name == "cnn":
        h = jax.nn.relu(_conv(p, "2", jax.nn.relu(_conv(p, "0", x))))
        h = jax.lax.reduce_window(h, -jnp.inf, jax.lax.max, (1, 1, 2, 2), (1, 1, 2, 2), "VALID")
        h = jax.nn.relu(_linear(p, "6", h.reshape(h.shape[0], -1)))
        return _linear(p, "8", h)
    if name == "transformer":
        h = _layer_norm(p, "norm1", x + _self_attention(p, x))
        ff = _linear(p, "linear2", jax.nn.relu(_linear(p, "linear1", h)))
        return _layer_norm(p, "norm2", h + ff)
    raise KeyError(name)


def _loss(spec, pred, y):
    if spec.loss == "mse":
        return jnp.mean(jnp.square(pred - y))
    return optax.softmax_cross_entropy_with_integer_labels(pred, y).mean()


def _optimizer(spec):
    if spec.optimizer == "sgd":
        return optax.sgd(spec.lr)
    if spec.optimizer == "momentum":
        return optax.sgd(spec.lr, momentum=W.MOMENTUM)
    b1, b2 = W.ADAM_BETAS
    return optax.adam(spec.lr, b1=b1, b2=b2, eps=W.ADAM_EPS)


def build(name: str, data: dict, mode: str, device: str = "cpu"):
    """A ``step()`` that runs one training step and returns the loss as a Python float."""
    spec = W.WORKLOADS[name]
    dev = jax.devices("gpu" if device.startswith("gpu") else "cpu")[0]
    params = jax.device_put({k: jnp.asarray(v) for k, v in data["params"].items()}, dev)
    x = jax.device_put(jnp.asarray(data["x"]), dev)
    y = jax.device_put(jnp.asarray(data["y"]), dev)
    tx = _optimizer(spec)
    state = {"params": params, "opt": tx.init(params)}

    def loss_fn(p, x, y):
        return _loss(spec, forward(name, p, x), y)

    def train_step(params, opt_state, x, y):
        loss, grads = jax.value_and_grad(loss_fn)(params, x, y)
        updates, opt_state = tx.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, loss

    if mode == "compiled":
        train_step = jax.jit(train_step)
    elif mode != "eager":
        raise ValueError(f"jax has no mode {mode!r}")

    def step():
        state["params"], state["opt"], loss = train_step(state["params"], state["opt"], x, y)
        return float(loss)

    return step


# ------------------------------------------------------------------ per-op overhead
def op_operands(device: str = "cpu"):
    dev = jax.devices("gpu" if device.startswith("gpu") else "cpu")[0]
    a = jax.device_put(jnp.arange(16, dtype=jnp.float32).reshape(4, 4) / 16, dev)
    return a, a + 1


def sync(r):
    r.block_until_ready()
