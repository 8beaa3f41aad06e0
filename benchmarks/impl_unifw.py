"""The workloads written once against unifw (the SPEC training loop), run on the
active backend: eager, ``uf.function`` (compiled) and ``uf.function(jit_compile=True)``
(XLA on TensorFlow)."""
from __future__ import annotations

import unifw as uf
import unifw.nn.functional as F
from unifw import nn, optim

from . import workloads as W


class TwoLayerNet(nn.Module):
    def __init__(self, d_in, h, d_out):
        super().__init__()
        self.linear1 = nn.Linear(d_in, h)
        self.linear2 = nn.Linear(h, d_out)

    def forward(self, x):
        return self.linear2(F.relu(self.linear1(x)))


def _model(name):
    if name == "two_layer":
        return TwoLayerNet(1000, 100, 10)
    if name == "mlp":
        return nn.Sequential(nn.Linear(1024, 1024), nn.ReLU(), nn.Linear(1024, 10))
    if name == "cnn":
        return nn.Sequential(
            nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.Conv2d(16, 32, 3, padding=1),
            nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(32 * 4 * 4, 64), nn.ReLU(),
            nn.Linear(64, 10))
    if name == "transformer":
        return nn.TransformerEncoderLayer(W.D_MODEL, W.N_HEADS, W.D_FF, dropout=0.0,
                                          batch_first=True, layer_norm_eps=W.LAYER_NORM_EPS)
    raise KeyError(name)


def _optimizer(spec, params):
    if spec.optimizer == "sgd":
        return optim.SGD(params, lr=spec.lr)
    if spec.optimizer == "momentum":
        return optim.SGD(params, lr=spec.lr, momentum=W.MOMENTUM)
    return optim.Adam(params, lr=spec.lr, betas=W.ADAM_BETAS, eps=W.ADAM_EPS)


def build(name: str, data: dict, mode: str, device: str = "cpu"):
    """A ``step()`` that runs one training step and returns the loss as a Python float."""
    spec = W.WORKLOADS[name]
    with uf.device(device):
        model = _model(name)
        model.load_state_dict(data["params"])
        opt = _optimizer(spec, model.parameters())
        x, y = uf.asarray(data["x"]), uf.asarray(data["y"])
    loss_fn = F.mse_loss if spec.loss == "mse" else F.cross_entropy

    def train_step(model, opt, x, y):
        loss, grads = uf.value_and_grad(lambda m: loss_fn(m(x), y))(model)
        opt.step(grads)
        return loss

    if mode == "compiled":
        train_step = uf.function(train_step)
    elif mode == "xla":
        train_step = uf.function(train_step, jit_compile=True)
    elif mode != "eager":
        raise ValueError(f"unifw has no mode {mode!r}")

    def step():
        return float(train_step(model, opt, x, y))

    return step
