"""Model checks: small hypothesis-drawn MLPs and CNNs, trained a few steps on every backend.

The same weights (drawn in NumPy) are loaded with ``load_state_dict`` on each backend. The
forward pass, the loss, the gradients and the parameters after each optimizer step are
compared with a float64 NumPy reference: the forward pass written from the layer
definitions, gradients by central finite differences of the reference loss, and SGD with
momentum or Adam by their update rules. Parameters, buffers and optimizer slots must stay on
the requested device. Checkpoints: save after a step on one backend, load into a fresh
model and optimizer on another, and both continue identically.
"""
from __future__ import annotations

import os
import tempfile
import zlib
from dataclasses import dataclass

import numpy as np
from hypothesis import strategies as st

import unifw as uf

from . import nn_reference as R
from .compare import Mismatch, check_array
from .execute import on, PlacementError, Target, Traced
from .tolerances import Tol

STEPS = 3
MODEL_TOL = Tol(1e-4, 1e-5)  # float32 model vs float64 reference: a few roundings per layer


@dataclass(frozen=True)
class Arch:
    """A small network: ``mlp`` (Linear layers) or ``cnn`` (Conv2d layers, then Linear)."""

    kind: str
    widths: tuple          # hidden widths (mlp) or conv channels (cnn)
    activation: str        # relu | tanh | gelu
    d_in: int              # features (mlp) or input channels (cnn)
    size: int              # image side (cnn)
    n_out: int
    kernel: int = 3
    stride: int = 1
    padding: int = 1
    loss: str = "mse"      # mse | cross_entropy
    optimizer: str = "sgd"  # sgd (momentum 0.9) | adam
    batch: int = 2
    seed: int = 0

    def __repr__(self):
        body = ", ".join(f"{k}={v!r}" for k, v in self.__dict__.items())
        return f"Arch({body})"


@st.composite
def archs(draw, kind=None):
    kind = kind or draw(st.sampled_from(["mlp", "cnn"]))
    common = dict(activation=draw(st.sampled_from(["relu", "tanh", "gelu"])),
                  n_out=draw(st.integers(1, 3)),
                  loss=draw(st.sampled_from(["mse", "cross_entropy"])),
                  optimizer=draw(st.sampled_from(["sgd", "adam"])),
                  batch=draw(st.integers(1, 3)), seed=draw(st.integers(0, 2**31)))
    if kind == "mlp":
        return Arch("mlp", tuple(draw(st.lists(st.integers(1, 5), min_size=1, max_size=2))),
                    d_in=draw(st.integers(1, 4)), size=0, **common)
    return Arch("cnn", tuple(draw(st.lists(st.integers(1, 3), min_size=1, max_size=2))),
                d_in=draw(st.integers(1, 2)), size=draw(st.integers(3, 5)),
                kernel=draw(st.sampled_from([1, 3])), stride=draw(st.sampled_from([1, 2])),
                padding=draw(st.sampled_from([0, 1])), **common)


# ---------------------------------------------------------------- building
def _conv_out(arch: Arch, size: int) -> int:
    return (size + 2 * arch.padding - arch.kernel) // arch.stride + 1


def layer_plan(arch: Arch) -> list:
    """[(kind, params)] with kinds linear/conv/act/flatten; shared by backend and reference."""
    plan = []
    if arch.kind == "mlp":
        dims = (arch.d_in, *arch.widths)
        for a, b in zip(dims, dims[1:]):
            plan += [("linear", (a, b)), ("act", arch.activation)]
        plan.append(("linear", (dims[-1], arch.n_out)))
        return plan
    chans = (arch.d_in, *arch.widths)
    size = arch.size
    for a, b in zip(chans, chans[1:]):
        plan += [("conv", (a, b)), ("act", arch.activation)]
        size = max(_conv_out(arch, size), 1)
    plan += [("flatten", None), ("linear", (chans[-1] * size * size, arch.n_out))]
    return plan


def valid(arch: Arch) -> bool:
    if arch.kind != "cnn":
        return True
    size = arch.size
    for _ in arch.widths:
        if size + 2 * arch.padding < arch.kernel:
            return False
        size = _conv_out(arch, size)
        if size < 1:
            return False
    return True


def build(arch: Arch, device: str):
    from unifw import nn

    layers = []
    for kind, p in layer_plan(arch):
        if kind == "linear":
            layers.append(nn.Linear(*p, device=device))
        elif kind == "conv":
            layers.append(nn.Conv2d(*p, arch.kernel, stride=arch.stride,
                                    padding=arch.padding, device=device))
        elif kind == "flatten":
            layers.append(nn.Flatten())
        else:
            layers.append({"relu": nn.ReLU, "tanh": nn.Tanh, "gelu": nn.GELU}[p]())
    return nn.Sequential(*layers)


def make_optimizer(arch: Arch, model):
    from unifw import optim

    if arch.optimizer == "adam":
        return optim.Adam(model.parameters(), lr=0.05, eps=1e-3)
    return optim.SGD(model.parameters(), lr=0.1, momentum=0.9)


def weights(arch: Arch) -> dict:
    """State dict of NumPy float32 arrays (PyTorch names and shapes)."""
    rng = np.random.default_rng(arch.seed)
    sd = {}
    for i, (kind, p) in enumerate(layer_plan(arch)):
        if kind == "linear":
            a, b = p
            sd[f"{i}.weight"] = rng.uniform(-1, 1, (b, a)) / np.sqrt(a)
            sd[f"{i}.bias"] = rng.uniform(-0.5, 0.5, (b,))
        elif kind == "conv":
            a, b = p
            sd[f"{i}.weight"] = rng.uniform(-1, 1, (b, a, arch.kernel, arch.kernel)) / np.sqrt(
                a * arch.kernel ** 2)
            sd[f"{i}.bias"] = rng.uniform(-0.5, 0.5, (b,))
    return {k: v.astype(np.float32) for k, v in sd.items()}


def data(arch: Arch):
    rng = np.random.default_rng(arch.seed + 1)
    shape = (arch.batch, arch.d_in) if arch.kind == "mlp" else (
        arch.batch, arch.d_in, arch.size, arch.size)
    x = rng.uniform(-1, 1, shape).astype(np.float32)
    if arch.loss == "mse":
        y = rng.uniform(-1, 1, (arch.batch, arch.n_out)).astype(np.float32)
    else:
        y = rng.integers(0, arch.n_out, arch.batch).astype(np.int64)
    return x, y


# ---------------------------------------------------------------- float64 reference
def ref_forward(arch: Arch, sd: dict, x):
    h = x.astype(np.float64)
    for i, (kind, p) in enumerate(layer_plan(arch)):
        if kind == "linear":
            h = R.linear(h, sd[f"{i}.weight"], sd[f"{i}.bias"])
        elif kind == "conv":
            h = R.conv(h, sd[f"{i}.weight"], sd[f"{i}.bias"], stride=arch.stride,
                       padding=arch.padding)
        elif kind == "flatten":
            h = h.reshape(h.shape[0], -1)
        else:
            h = {"relu": lambda v: np.maximum(v, 0), "tanh": np.tanh, "gelu": R.gelu}[p](h)
    return h


def ref_loss(arch: Arch, sd: dict, x, y) -> float:
    out = ref_forward(arch, sd, x)
    if arch.loss == "mse":
        return float(np.mean((out - y) ** 2))
    return float(-np.mean(R.log_softmax(out, -1)[np.arange(len(y)), y]))


def ref_grads(arch: Arch, sd: dict, x, y, step=1e-6) -> dict:
    grads = {}
    for name, p in sd.items():
        g = np.zeros(p.shape)
        for j in np.ndindex(p.shape):
            hi, lo = dict(sd), dict(sd)
            hi[name], lo[name] = p.copy(), p.copy()
            hi[name][j] += step
            lo[name][j] -= step
            g[j] = (ref_loss(arch, hi, x, y) - ref_loss(arch, lo, x, y)) / (2 * step)
        grads[name] = g
    return grads


class RefOptimizer:
    """SGD with momentum (PyTorch's rule) and Adam, in float64."""

    def __init__(self, arch: Arch):
        self.arch, self.t, self.state = arch, 0, {}

    def step(self, sd: dict, grads: dict) -> dict:
        self.t += 1
        out = {}
        for k, p in sd.items():
            g = grads[k]
            if self.arch.optimizer == "sgd":
                buf = g if self.t == 1 else 0.9 * self.state[k] + g
                self.state[k] = buf
                out[k] = p - 0.1 * buf
            else:
                m, v = self.state.get(k, (np.zeros_like(p), np.zeros_like(p)))
                m, v = 0.9 * m + 0.1 * g, 0.999 * v + 0.001 * g * g
                self.state[k] = (m, v)
                mh, vh = m / (1 - 0.9 ** self.t), v / (1 - 0.999 ** self.t)
                out[k] = p - 0.05 * mh / (np.sqrt(vh) + 1e-3)
        return out


def reference_run(arch: Arch):
    """Forward output, loss, gradients and the parameters after each of STEPS steps."""
    sd = {k: v.astype(np.float64) for k, v in weights(arch).items()}
    x, y = data(arch)
    out = ref_forward(arch, sd, x)
    loss = ref_loss(arch, sd, x, y)
    grads = ref_grads(arch, sd, x, y)
    opt = RefOptimizer(arch)
    params, g = [], grads
    for _ in range(STEPS):
        sd = opt.step(sd, g)
        params.append(sd)
        g = ref_grads(arch, sd, x, y)
    return out, loss, grads, params


# ---------------------------------------------------------------- the backend side
def _loss_fn(arch: Arch):
    import unifw.nn.functional as F

    def loss(model, xb, yb):
        out = model(xb)
        return F.mse_loss(out, yb) if arch.loss == "mse" else F.cross_entropy(out, yb)
    return loss


def _check_state_devices(objs, target: Target, what: str):
    for obj in objs:
        for name, v in obj._unifw_variables().items():
            if str(v.device) != target.device or v.backend_name != target.backend:
                raise PlacementError(f"{what} state {name!r} is on {v.backend_name}/"
                                     f"{v.device}, expected {target.backend}/{target.device}")


def _params_np(model) -> dict:
    return {k: np.asarray(v.numpy()) for k, v in model.named_parameters()}


def _compare_params(got: dict, want: dict, what: str):
    if set(got) != set(want):
        raise Mismatch(f"{what}: parameter names {sorted(got)}, expected {sorted(want)}")
    for k in want:
        check_array(got[k], want[k], "float32", MODEL_TOL, signed_zeros=False,
                    what=f"{what}: {k}")


def _train_step(arch: Arch):
    loss_fn = _loss_fn(arch)

    def step(model, opt, xb, yb):
        loss, grads = uf.value_and_grad(loss_fn)(model, xb, yb)
        opt.step(grads)
        return loss
    return step


def check_model(arch: Arch, target: Target):
    """Forward, loss, gradients and STEPS optimizer steps vs the float64 reference."""
    out_ref, loss_ref, grads_ref, params_ref = reference_run(arch)
    x, y = data(arch)
    with on(target.backend), uf.device(target.device):
        model = build(arch, target.device)
        model.load_state_dict(weights(arch))
        opt = make_optimizer(arch, model)
        xb, yb = uf.asarray(x), uf.asarray(y)
        out = model(xb)
        if str(out.device) != target.device:
            raise PlacementError(f"model output on {out.device}, expected {target.device}")
        check_array(np.asarray(out.numpy()), out_ref, "float32", MODEL_TOL, signed_zeros=False,
                    what="forward output")
        loss, grads = uf.value_and_grad(_loss_fn(arch))(model, xb, yb)
        check_array(np.asarray(loss.numpy()), np.asarray(loss_ref), "float32", MODEL_TOL,
                    what="loss")
        names = [k for k, _ in model.named_parameters()]
        if sorted(grads) != sorted(names):
            raise Mismatch(f"gradient names {sorted(grads)}, expected {sorted(names)}")
        for k, p in model.named_parameters():
            g = grads[k]
            if str(g.dtype) != str(p.dtype) or tuple(g.shape) != tuple(p.shape) or \
                    str(g.device) != str(p.device):
                raise Mismatch(f"gradient {k}: {g.dtype}{list(g.shape)} on {g.device}, "
                               f"expected {p.dtype}{list(p.shape)} on {p.device}")
            scale = float(np.max(np.abs(grads_ref[k]))) if grads_ref[k].size else 0.0
            check_array(np.asarray(g.numpy()), grads_ref[k], "float32",
                        Tol(MODEL_TOL.rtol, MODEL_TOL.atol + MODEL_TOL.rtol * scale),
                        signed_zeros=False, what=f"gradient {k}")
        step = _train_step(arch)
        if target.mode == "compiled":
            step = Traced(step)
        for i in range(STEPS):
            step(model, opt, xb, yb)
            _compare_params(_params_np(model), params_ref[i], f"after step {i + 1}")
        _check_state_devices([model, opt], target, "model/optimizer")
        if target.mode == "compiled" and step.counts[-1] != step.counts[0]:
            raise Mismatch("the compiled train step " + step.retrace_message())


def check_checkpoint(arch: Arch, source: Target, dest: str):
    """Save after one step on ``source``; load into a fresh model and optimizer on ``dest``;
    one more step on both must give the same parameters."""
    x, y = data(arch)
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "ckpt.safetensors")
        with on(source.backend), uf.device(source.device):
            model = build(arch, source.device)
            model.load_state_dict(weights(arch))
            opt = make_optimizer(arch, model)
            xb, yb = uf.asarray(x), uf.asarray(y)
            step = _train_step(arch)
            step(model, opt, xb, yb)
            uf.save(path, {"model": model, "opt": opt})
            step(model, opt, xb, yb)
            want = _params_np(model)
        with on(dest), uf.device("cpu"):
            model2 = build(arch, "cpu")
            opt2 = make_optimizer(arch, model2)
            uf.load(path, {"model": model2, "opt": opt2})
            _train_step(arch)(model2, opt2, uf.asarray(x), uf.asarray(y))
            got = _params_np(model2)
    _compare_params(got, want, f"continued on {dest} after loading a {source.backend} "
                               "checkpoint")


def model_examples(n: int, seed_text: str, derandomize: bool) -> list[Arch]:
    """``n`` architectures (hypothesis-drawn, seeded), MLPs and CNNs alternating."""
    from .runner import _hypothesis_run

    out: list = []
    strategy = st.integers(0, 1).flatmap(lambda k: archs("mlp" if k == 0 else "cnn")).filter(
        valid)
    _hypothesis_run(strategy, max(n, 1), zlib.crc32(seed_text.encode()), out.append)
    mlps = [a for a in out if a.kind == "mlp"]
    cnns = [a for a in out if a.kind == "cnn"]
    mixed = [a for pair in zip(mlps, cnns) for a in pair] + mlps[len(cnns):] + cnns[len(mlps):]
    return mixed[:n]
