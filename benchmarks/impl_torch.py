"""The workloads written the way a PyTorch user would: ``nn.Module`` + ``torch.optim``.

Compiled mode is ``torch.compile`` of the whole training step (PyTorch 2's
recommendation: forward, backward and optimizer step in one compiled function).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from . import workloads as W


class TwoLayerNet(nn.Module):
    def __init__(self, d_in, h, d_out):
        super().__init__()
        self.linear1 = nn.Linear(d_in, h)
        self.linear2 = nn.Linear(h, d_out)

    def forward(self, x):
        return self.linear2(self.linear1(x).clamp(min=0))


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
        return torch.optim.SGD(params, lr=spec.lr)
    if spec.optimizer == "momentum":
        return torch.optim.SGD(params, lr=spec.lr, momentum=W.MOMENTUM)
    return torch.optim.Adam(params, lr=spec.lr, betas=W.ADAM_BETAS, eps=W.ADAM_EPS)


def build(name: str, data: dict, mode: str, device: str = "cpu"):
    """A ``step()`` that runs one training step and returns the loss as a Python float."""
    spec = W.WORKLOADS[name]
    dev = torch.device("cuda" if device.startswith("gpu") else "cpu")
    model = _model(name)
    model.load_state_dict({k: torch.from_numpy(v) for k, v in data["params"].items()})
    model.to(dev)
    opt = _optimizer(spec, model.parameters())
    x = torch.from_numpy(data["x"]).to(dev)
    y = torch.from_numpy(data["y"]).to(dev)
    loss_fn = F.mse_loss if spec.loss == "mse" else F.cross_entropy

    def train_step(x, y):
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        return loss.detach()

    if mode == "compiled":
        train_step = torch.compile(train_step)
    elif mode != "eager":
        raise ValueError(f"torch has no mode {mode!r}")

    def step():
        return train_step(x, y).item()

    return step


# ------------------------------------------------------------------ per-op overhead
def op_operands(device: str = "cpu"):
    dev = torch.device("cuda" if device.startswith("gpu") else "cpu")
    a = torch.rand(4, 4, dtype=torch.float32, device=dev)
    return a, a + 1


def sync(r):
    if r.is_cuda:
        torch.cuda.synchronize()
