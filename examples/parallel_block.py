"""Custom Modules mixed with ``nn.Sequential``: the seeds' ParallelBlock network.

Each ParallelBlock runs two linear layers side by side and multiplies their
outputs; blocks are stacked in a Sequential and trained with Adam::

    UNIFW_BACKEND=torch python examples/parallel_block.py
"""
import numpy as np

import unifw as uf
from unifw import nn, optim
import unifw.nn.functional as F


class ParallelBlock(nn.Module):
    def __init__(self, d_in, d_out):
        super().__init__()
        self.linear1 = nn.Linear(d_in, d_out)
        self.linear2 = nn.Linear(d_in, d_out)

    def forward(self, x):
        h1 = self.linear1(x)
        h2 = self.linear2(x)
        return (h1 * h2).clip(min=0)


def main(steps=500):
    uf.random.seed(0)
    rng = np.random.default_rng(0)
    n, d_in, h, d_out = 64, 1000, 100, 10
    x = uf.asarray(rng.normal(size=(n, d_in)).astype(np.float32))
    y = uf.asarray(rng.normal(size=(n, d_out)).astype(np.float32))

    model = nn.Sequential(ParallelBlock(d_in, h), ParallelBlock(h, h), nn.Linear(h, d_out))
    print(model)
    print("parameters:", [name for name, _ in model.named_parameters()])
    opt = optim.Adam(model.parameters(), lr=1e-4)

    @uf.function
    def train_step(model, opt, x, y):
        loss, grads = uf.value_and_grad(lambda m: F.mse_loss(m(x), y))(model)
        opt.step(grads)
        return loss

    for t in range(steps):
        loss = train_step(model, opt, x, y)
        if t % 100 == 0 or t == steps - 1:
            print(f"[{uf.backend()}] step {t:4d}  loss {float(loss):.4e}")


if __name__ == "__main__":
    main()
