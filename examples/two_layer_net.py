"""The SPEC's training loop: a two-layer ReLU network fit to random data.

Runs unchanged on every backend::

    UNIFW_BACKEND=jax python examples/two_layer_net.py
    UNIFW_BACKEND=tensorflow python examples/two_layer_net.py --eager
"""
import argparse
import os
import tempfile

import numpy as np

import unifw as uf
from unifw import data, nn, optim
import unifw.nn.functional as F


class TwoLayerNet(nn.Module):
    def __init__(self, d_in, h, d_out):
        super().__init__()
        self.linear1 = nn.Linear(d_in, h)
        self.linear2 = nn.Linear(h, d_out)

    def forward(self, x):
        return self.linear2(F.relu(self.linear1(x)))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--eager", action="store_true", help="do not compile the step")
    args = parser.parse_args()

    uf.random.seed(0)
    rng = np.random.default_rng(0)
    n, d_in, h, d_out = 64, 1000, 100, 10
    x = rng.normal(size=(n, d_in)).astype(np.float32)
    y = rng.normal(size=(n, d_out)).astype(np.float32)

    model = TwoLayerNet(d_in, h, d_out)
    opt = optim.Adam(model.parameters(), lr=1e-4)
    loader = data.DataLoader(data.TensorDataset(x, y), batch_size=8, shuffle=True, seed=0)

    def train_step(model, opt, xb, yb):
        loss, grads = uf.value_and_grad(lambda m: F.mse_loss(m(xb), yb))(model)
        opt.step(grads)
        return loss

    if not args.eager:
        train_step = uf.function(train_step)

    for epoch in range(args.epochs):
        for xb, yb in loader:
            loss = train_step(model, opt, xb, yb)
        if epoch % 5 == 4 or epoch == args.epochs - 1:
            print(f"[{uf.backend()}] epoch {epoch + 1:3d}  loss {float(loss):.5f}")

    with tempfile.TemporaryDirectory() as tmp:  # save, then resume from the file
        path = os.path.join(tmp, "ckpt.safetensors")
        uf.save(path, {"model": model, "opt": opt}, metadata={"epochs": args.epochs})
        restored = TwoLayerNet(d_in, h, d_out)
        restored_opt = optim.Adam(restored.parameters(), lr=1e-4)
        meta = uf.load(path, {"model": restored, "opt": restored_opt})
        same = np.array_equal(restored.linear1.weight.numpy(), model.linear1.weight.numpy())
        print(f"checkpoint after {meta['epochs']} epochs reloaded: weights equal = {same}, "
              f"optimizer step = {restored_opt.step_count}")


if __name__ == "__main__":
    main()
