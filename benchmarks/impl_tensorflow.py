"""The workloads in Keras-free TensorFlow: ``tf.Variable`` parameters, ``tf.GradientTape``
and hand-written optimizer updates; compiled modes are ``tf.function`` (graph) and
``tf.function(jit_compile=True)`` (XLA).

Layouts are TensorFlow's own: kernels ``(in, out)``, images NHWC (TensorFlow has
no NCHW convolution on CPU).
"""
from __future__ import annotations

import math

import tensorflow as tf

from . import workloads as W


class _Params:
    """Named ``tf.Variable`` parameters converted from PyTorch's layout."""

    def __init__(self, name, torch_params):
        self.v = {}
        for k, a in torch_params.items():
            if name == "cnn" and k == "6.weight":
                a = W.cnn_fc_to_nhwc(a)
            elif a.ndim == 4:
                a = W.conv_to_hwio(a)
            elif a.ndim == 2:
                a = a.T
            self.v[k] = tf.Variable(a, name=k.replace(".", "_"))

    def linear(self, name, x, sep="."):
        return tf.matmul(x, self.v[f"{name}{sep}weight"]) + self.v[f"{name}{sep}bias"]

    def conv(self, name, x):
        return tf.nn.conv2d(x, self.v[f"{name}.weight"], 1, "SAME") + self.v[f"{name}.bias"]

    def layer_norm(self, name, x):
        mean, var = tf.nn.moments(x, axes=[-1], keepdims=True)
        return (x - mean) * tf.math.rsqrt(var + W.LAYER_NORM_EPS) * self.v[f"{name}.weight"] + \
            self.v[f"{name}.bias"]


def _self_attention(p, x):
    b, s, d = x.shape
    h, dh = W.N_HEADS, d // W.N_HEADS
    qkv = tf.reshape(p.linear("self_attn.in_proj", x, sep="_"), (b, s, 3, h, dh))
    q, k, v = (tf.transpose(qkv[:, :, i], (0, 2, 1, 3)) for i in range(3))
    att = tf.nn.softmax(tf.matmul(q, k, transpose_b=True) / math.sqrt(dh), axis=-1)
    out = tf.reshape(tf.transpose(tf.matmul(att, v), (0, 2, 1, 3)), (b, s, d))
    return p.linear("self_attn.out_proj", out)


def forward(name, p, x):
    if name == "two_layer":
        return p.linear("linear2", tf.maximum(p.linear("linear1", x), 0.0))
    if name == "mlp":
        return p.linear("2", tf.nn.relu(p.linear("0", x)))
    if name == "cnn":
        h = tf.nn.relu(p.conv("2", tf.nn.relu(p.conv("0", x))))
        h = tf.nn.max_pool2d(h, 2, 2, "VALID")
        h = tf.nn.relu(p.linear("6", tf.reshape(h, (h.shape[0], -1))))
        return p.linear("8", h)
    if name == "transformer":
        h = p.layer_norm("norm1", x + _self_attention(p, x))
        ff = p.linear("linear2", tf.nn.relu(p.linear("linear1", h)))
        return p.layer_norm("norm2", h + ff)
    raise KeyError(name)


class _Optimizer:
    """SGD, SGD with momentum (PyTorch's form) and Adam, on ``tf.Variable`` slots."""

    def __init__(self, spec, variables):
        self.spec = spec
        self.vars = variables
        if spec.optimizer == "momentum":
            self.buf = [tf.Variable(tf.zeros_like(v)) for v in variables]
        if spec.optimizer == "adam":
            self.m = [tf.Variable(tf.zeros_like(v)) for v in variables]
            self.s = [tf.Variable(tf.zeros_like(v)) for v in variables]
            self.t = tf.Variable(0.0)

    def apply(self, grads):
        lr = self.spec.lr
        if self.spec.optimizer == "sgd":
            for v, g in zip(self.vars, grads):
                v.assign_sub(lr * g)
        elif self.spec.optimizer == "momentum":
            for v, b, g in zip(self.vars, self.buf, grads):
                v.assign_sub(lr * b.assign(W.MOMENTUM * b + g))
        else:
            b1, b2 = W.ADAM_BETAS
            t = self.t.assign_add(1.0)
            c1, c2 = 1.0 - tf.pow(b1, t), 1.0 - tf.pow(b2, t)
            for v, m, s, g in zip(self.vars, self.m, self.s, grads):
                m.assign(b1 * m + (1.0 - b1) * g)
                s.assign(b2 * s + (1.0 - b2) * tf.square(g))
                v.assign_sub(lr * (m / c1) / (tf.sqrt(s / c2) + W.ADAM_EPS))


def build(name: str, data: dict, mode: str, device: str = "cpu"):
    """A ``step()`` that runs one training step and returns the loss as a Python float."""
    spec = W.WORKLOADS[name]
    with tf.device("/GPU:0" if device.startswith("gpu") else "/CPU:0"):
        params = _Params(name, data["params"])
        variables = list(params.v.values())
        opt = _Optimizer(spec, variables)
        x_np = W.nchw_to_nhwc(data["x"]) if name == "cnn" else data["x"]
        x = tf.constant(x_np)
        y = tf.constant(data["y"])

    def train_step(x, y):
        with tf.GradientTape() as tape:
            pred = forward(name, params, x)
            if spec.loss == "mse":
                loss = tf.reduce_mean(tf.square(pred - y))
            else:
                loss = tf.reduce_mean(
                    tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=pred))
        opt.apply(tape.gradient(loss, variables))
        return loss

    if mode == "compiled":
        train_step = tf.function(train_step)
    elif mode == "xla":
        train_step = tf.function(train_step, jit_compile=True)
    elif mode != "eager":
        raise ValueError(f"tensorflow has no mode {mode!r}")

    def step():
        return float(train_step(x, y))

    return step


# ------------------------------------------------------------------ per-op overhead
def op_operands(device: str = "cpu"):
    with tf.device("/GPU:0" if device.startswith("gpu") else "/CPU:0"):
        a = tf.random.uniform((4, 4), dtype=tf.float32)
        return a, a + 1


def sync(r):
    r.numpy()
