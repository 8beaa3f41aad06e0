"""The workloads in Keras 3 on the process's backend (``KERAS_BACKEND``), written the
way a Keras user would: a ``keras.Model``, ``model.compile`` and ``train_on_batch``.

Modes: ``eager`` is ``run_eagerly=True``; ``compiled`` is Keras' compiled train step
(``jit_compile=True``, except on TensorFlow where it is the default ``tf.function``
graph without XLA, matching native ``tf.function``); ``xla`` is ``jit_compile=True``.
Layouts are Keras' defaults (kernels ``(in, out)``, images NHWC).
"""
from __future__ import annotations

import keras
import numpy as np

from . import workloads as W

L = keras.layers


def _model(name):
    if name == "two_layer":
        return keras.Sequential([keras.Input((1000,)), L.Dense(100, activation="relu"),
                                 L.Dense(10)])
    if name == "mlp":
        return keras.Sequential([keras.Input((1024,)), L.Dense(1024, activation="relu"),
                                 L.Dense(10)])
    if name == "cnn":
        return keras.Sequential([
            keras.Input((8, 8, 1)), L.Conv2D(16, 3, padding="same", activation="relu"),
            L.Conv2D(32, 3, padding="same", activation="relu"), L.MaxPooling2D(2), L.Flatten(),
            L.Dense(64, activation="relu"), L.Dense(10)])
    if name == "transformer":
        x = keras.Input((W.SEQ, W.D_MODEL))
        att = L.MultiHeadAttention(W.N_HEADS, W.D_MODEL // W.N_HEADS, name="self_attn")(x, x)
        h = L.LayerNormalization(epsilon=W.LAYER_NORM_EPS, name="norm1")(x + att)
        ff = L.Dense(W.D_MODEL, name="linear2")(L.Dense(W.D_FF, activation="relu",
                                                        name="linear1")(h))
        out = L.LayerNormalization(epsilon=W.LAYER_NORM_EPS, name="norm2")(h + ff)
        return keras.Model(x, out)
    raise KeyError(name)


def _load_torch_params(name, model, p):
    """Put PyTorch-layout parameters into the Keras model (so losses are comparable)."""
    if name == "transformer":
        d, h = W.D_MODEL, W.N_HEADS
        dh = d // h
        w_in, b_in = p["self_attn.in_proj_weight"], p["self_attn.in_proj_bias"]
        qkv = []
        for i in range(3):
            qkv += [w_in[i * d:(i + 1) * d].T.reshape(d, h, dh), b_in[i * d:(i + 1) * d]
                    .reshape(h, dh)]
        out_proj = [p["self_attn.out_proj.weight"].T.reshape(h, dh, d),
                    p["self_attn.out_proj.bias"]]
        model.get_layer("self_attn").set_weights(qkv + out_proj)
        for layer in ("linear1", "linear2"):
            model.get_layer(layer).set_weights([p[f"{layer}.weight"].T, p[f"{layer}.bias"]])
        for layer in ("norm1", "norm2"):
            model.get_layer(layer).set_weights([p[f"{layer}.weight"], p[f"{layer}.bias"]])
        return
    prefixes = sorted({k.rsplit(".", 1)[0] for k in p}, key=lambda s: (len(s), s))
    layers = [layer for layer in model.layers if layer.weights]
    for prefix, layer in zip(prefixes, layers):
        w = p[f"{prefix}.weight"]
        if w.ndim == 4:
            w = W.conv_to_hwio(w)
        elif name == "cnn" and prefix == "6":
            w = W.cnn_fc_to_nhwc(w)
        else:
            w = w.T
        layer.set_weights([w, p[f"{prefix}.bias"]])


def _optimizer(spec):
    if spec.optimizer == "sgd":
        return keras.optimizers.SGD(spec.lr)
    if spec.optimizer == "momentum":
        return keras.optimizers.SGD(spec.lr, momentum=W.MOMENTUM)
    b1, b2 = W.ADAM_BETAS
    return keras.optimizers.Adam(spec.lr, beta_1=b1, beta_2=b2, epsilon=W.ADAM_EPS)


def compile_options(mode: str) -> dict:
    if mode == "eager":
        return {"run_eagerly": True, "jit_compile": False}
    if mode == "xla" or keras.backend.backend() != "tensorflow":
        return {"run_eagerly": False, "jit_compile": True}
    return {"run_eagerly": False, "jit_compile": False}


def build(name: str, data: dict, mode: str, device: str = "cpu"):
    """A ``step()`` that runs one training step and returns the loss as a Python float."""
    spec = W.WORKLOADS[name]
    keras.utils.set_random_seed(0)
    model = _model(name)
    _load_torch_params(name, model, data["params"])
    loss = (keras.losses.MeanSquaredError() if spec.loss == "mse" else
            keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.compile(optimizer=_optimizer(spec), loss=loss, **compile_options(mode))
    x = W.nchw_to_nhwc(data["x"]) if name == "cnn" else data["x"]
    x, y = keras.ops.convert_to_tensor(x), keras.ops.convert_to_tensor(data["y"])

    def step():
        return float(np.asarray(model.train_on_batch(x, y)))

    return step
