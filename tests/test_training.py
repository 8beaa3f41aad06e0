"""The SPEC training loop across backends and modes, and the ``uf.fit`` helper."""
from __future__ import annotations

import numpy as np
import pytest

import unifw as uf
from unifw import data, nn, optim
import unifw.nn.functional as F

from conftest import selected_backends

torch = pytest.importorskip("torch")

D_IN, H, D_OUT, N, STEPS = 64, 32, 10, 64, 50


class TwoLayerNet(nn.Module):
    def __init__(self, d_in, h, d_out):
        super().__init__()
        self.linear1 = nn.Linear(d_in, h)
        self.linear2 = nn.Linear(h, d_out)

    def forward(self, x):
        return self.linear2(F.relu(self.linear1(x)))


def _data():
    rng = np.random.default_rng(0)
    return (rng.normal(size=(N, D_IN)).astype(np.float32),
            rng.normal(size=(N, D_OUT)).astype(np.float32))


def _make_opt(name, params):
    if name == "SGD":
        return optim.SGD(params, lr=0.05, momentum=0.9)
    return optim.Adam(params, lr=1e-3)


def spec_loop(opt_name, compiled):
    """The SPEC's training loop (with a smaller network) for STEPS steps; the last loss."""
    x, y = _data()
    uf.random.seed(0)
    model = TwoLayerNet(D_IN, H, D_OUT)
    opt = _make_opt(opt_name, model.parameters())
    loader = data.DataLoader(data.TensorDataset(x, y), batch_size=8, shuffle=True, seed=0)

    def train_step(model, opt, xb, yb):
        loss, grads = uf.value_and_grad(lambda m: F.mse_loss(m(xb), yb))(model)
        opt.step(grads)
        return loss

    if compiled:
        train_step = uf.function(train_step)
    losses = []
    while len(losses) < STEPS:
        for xb, yb in loader:
            losses.append(train_step(model, opt, xb, yb))
    return float(losses[STEPS - 1])


def torch_loop(opt_name):
    """The same run written natively in PyTorch from the same initial weights (the oracle)."""
    x, y = _data()
    uf.random.seed(0)
    with uf.use_backend("numpy"):
        weights = [p.numpy() for p in TwoLayerNet(D_IN, H, D_OUT).parameters()]
    model = torch.nn.Sequential(torch.nn.Linear(D_IN, H), torch.nn.ReLU(),
                                torch.nn.Linear(H, D_OUT))
    with torch.no_grad():
        for p, w in zip(model.parameters(), weights):
            p.copy_(torch.tensor(w))
    opt = (torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9) if opt_name == "SGD"
           else torch.optim.Adam(model.parameters(), lr=1e-3))
    order_of = data.DataLoader(data.TensorDataset(x, y), shuffle=True, seed=0).indices
    batches = [order_of(epoch)[i:i + 8] for epoch in range(STEPS * 8 // N + 1)
               for i in range(0, N, 8)]
    for rows in batches[:STEPS]:
        loss = torch.nn.functional.mse_loss(model(torch.tensor(x[rows])), torch.tensor(y[rows]))
        opt.zero_grad()
        loss.backward()
        opt.step()
    return loss.item()


@pytest.mark.parametrize("opt_name", ["SGD", "Adam"])
def test_spec_loop_agrees_across_backends_and_modes(opt_name, request):
    """Acceptance: same seed, loss after 50 steps equal to 1e-4 relative on every backend,
    eager and compiled, and equal to the same run written in PyTorch."""
    available = [b for b in selected_backends(request.config) if b != "numpy"]
    expected = torch_loop(opt_name)
    results = {}
    for name in available:
        with uf.use_backend(name):
            for compiled in (False, True):
                results[(name, compiled)] = spec_loop(opt_name, compiled)
    for key, loss in results.items():
        assert loss == pytest.approx(expected, rel=1e-4), (key, loss, expected)


def test_fit_trains_and_reports_history(grad_backend):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(96, 6)).astype(np.float32)
    y = (x @ rng.normal(size=(6, 3))).argmax(axis=1)
    uf.random.seed(0)
    model = nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Linear(16, 3))
    opt = optim.Adam(model.parameters(), lr=0.05)
    train = data.DataLoader(data.TensorDataset(x, y), batch_size=16, shuffle=True, seed=0)
    val = data.DataLoader(data.TensorDataset(x, y), batch_size=32)
    history = uf.fit(model, opt, F.cross_entropy, train, epochs=4, metrics=["accuracy"],
                     val_loader=val, progress=False)
    assert set(history) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert all(len(v) == 4 for v in history.values())
    assert history["loss"][-1] < history["loss"][0]
    assert model.training
    # the reported validation numbers, recomputed with NumPy from the final weights
    w1, b1, w2, b2 = (p.numpy().astype(np.float64) for p in model.parameters())
    logits = np.maximum(x @ w1.T + b1, 0) @ w2.T + b2
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    assert history["val_loss"][-1] == pytest.approx(-log_probs[np.arange(96), y].mean(),
                                                    rel=1e-4)
    assert history["val_accuracy"][-1] == pytest.approx((logits.argmax(1) == y).mean())
    assert history["val_accuracy"][-1] > 0.8


def test_evaluate_restores_the_training_mode(backend):
    model = nn.Sequential(nn.Linear(2, 2))
    loader = data.DataLoader(data.TensorDataset(np.ones((4, 2), np.float32),
                                                np.zeros(4, np.int64)), batch_size=2)
    result = uf.training.evaluate(model, loader, F.cross_entropy, metrics=["accuracy"],
                                  compile=False)
    assert set(result) == {"loss", "accuracy"} and model.training
