"""The main job: the seeds' two-layer network, written once, run on every installed backend.

``python -m unifw.demo`` builds the same ``TwoLayerNet`` (same seed, so bit-identical initial
weights) on each backend, runs the forward pass, then trains it for a few SGD and Adam steps in
eager and compiled (``uf.function``) mode, and prints a table showing that the backends agree.
"""
from __future__ import annotations

import argparse
import os
import time

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import unifw as uf  # noqa: E402


def make_model_and_data(d_in=1000, h=100, d_out=10, n=64):
    from unifw import nn
    import unifw.nn.functional as F

    class TwoLayerNet(nn.Module):
        def __init__(self, d_in, h, d_out):
            super().__init__()
            self.linear1 = nn.Linear(d_in, h)
            self.linear2 = nn.Linear(h, d_out)

        def forward(self, x):
            return self.linear2(F.relu(self.linear1(x)))

    uf.random.seed(0)
    model = TwoLayerNet(d_in, h, d_out)
    rng = np.random.default_rng(1)
    x = rng.standard_normal((n, d_in)).astype(np.float32)
    y = rng.standard_normal((n, d_out)).astype(np.float32)
    return model, x, y


def numpy_forward(model, x):
    """Independent float64 NumPy forward pass of the same weights (the reference)."""
    sd = {k: np.asarray(v, dtype=np.float64) for k, v in model.state_dict().items()}
    h = np.maximum(x @ sd["linear1.weight"].T + sd["linear1.bias"], 0.0)
    return h @ sd["linear2.weight"].T + sd["linear2.bias"]


def train(backend: str, optimizer: str, compiled: bool, steps: int):
    from unifw import optim
    import unifw.nn.functional as F

    with uf.use_backend(backend):
        model, x_np, y_np = make_model_and_data()
        x, y = uf.asarray(x_np), uf.asarray(y_np)
        opt = (optim.SGD(model.parameters(), lr=1e-2) if optimizer == "sgd"
               else optim.Adam(model.parameters(), lr=1e-4))

        def train_step(model, opt, xb, yb):
            loss, grads = uf.value_and_grad(lambda m: F.mse_loss(m(xb), yb))(model)
            opt.step(grads)
            return loss

        step = uf.function(train_step) if compiled else train_step
        first = float(step(model, opt, x, y))
        warmup = min(2, steps - 1)  # compilers may specialise again on the second call
        for _ in range(warmup):
            loss = step(model, opt, x, y)
        t0 = time.perf_counter()
        for _ in range(steps - 1 - warmup):
            loss = step(model, opt, x, y)
        last = float(loss)
        dt = (time.perf_counter() - t0) / max(steps - 1 - warmup, 1)
        return first, last, dt


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--backends", default="all")
    args = parser.parse_args(argv)
    names = [b for b in uf.available_backends()] if args.backends == "all" else \
        args.backends.split(",")

    from rich.console import Console
    from rich.table import Table

    console = Console()
    console.print(f"[bold]unifw demo[/bold]: the seeds' TwoLayerNet(1000, 100, 10), N=64, "
                  f"seed 0, on {', '.join(names)}")

    fwd = Table(title="Forward pass: same weights on every backend vs float64 NumPy")
    for c in ("backend", "output[0, :3]", "max |diff| vs NumPy"):
        fwd.add_column(c)
    worst = 0.0
    for name in names:
        with uf.use_backend(name):
            model, x, _ = make_model_and_data()
            out = model(uf.asarray(x)).numpy()
            ref = numpy_forward(model, x)
            err = float(np.max(np.abs(out - ref)))
            worst = max(worst, err)
            fwd.add_row(name, np.array2string(out[0, :3], precision=5), f"{err:.2e}")
    console.print(fwd)

    trainable = [n for n in names if uf.get_backend(n).supports_autodiff]
    tab = Table(title=f"Training: loss after {args.steps} steps (eager and uf.function)")
    for c in ("backend", "optimizer", "mode", "loss step 1", f"loss step {args.steps}",
              "ms/step"):
        tab.add_column(c)
    finals: dict = {}
    for name in trainable:
        for optname in ("sgd", "adam"):
            for compiled in (False, True):
                first, last, dt = train(name, optname, compiled, args.steps)
                finals.setdefault(optname, []).append(last)
                tab.add_row(name, optname, "compiled" if compiled else "eager", f"{first:.6f}",
                            f"{last:.6f}", f"{dt * 1e3:.2f}")
    console.print(tab)
    spread = {k: (max(v) - min(v)) / abs(np.mean(v)) for k, v in finals.items()}
    for k, s in spread.items():
        console.print(f"{k}: relative spread of the final loss across backends and modes = {s:.1e}")
    ok = worst < 1e-4 and all(s < 1e-4 for s in spread.values())
    console.print("[green]backends agree[/green]" if ok else "[red]backends disagree[/red]")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
