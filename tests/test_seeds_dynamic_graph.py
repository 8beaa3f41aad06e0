"""The lecture's dynamic-graph example: the second layer's weight matrix is chosen by
the previous iteration's loss.

::

    w2 = w2a if prev_loss < 5.0 else w2b
    y_pred = x.mm(w1).clamp(min=0).mm(w2)
    loss = (y_pred - y).pow(2).sum()
    loss.backward()
    prev_loss = loss.item()

Eagerly it is plain Python control flow and runs on every backend (NumPy computes the
gradients by hand, as in the lecture's NumPy version). Compiled, the branch becomes
``uf.cond`` on the loss tensor. Both give the losses of a float64 NumPy reference.
"""
import numpy as np
import pytest

import unifw as uf
import unifw.nn.functional as F

N, D_IN, H, D_OUT = 16, 50, 20, 5
LR, THRESHOLD, STEPS = 2e-3, 200.0, 10


def _data():
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((N, D_IN)), rng.standard_normal((N, D_OUT))
    w1 = rng.standard_normal((D_IN, H)) * 0.2
    w2a = rng.standard_normal((H, D_OUT)) * 0.2
    w2b = rng.standard_normal((H, D_OUT)) * 0.5
    return x, y, w1, w2a, w2b


def _manual_loss_and_grads(xp, x, y, w1, w2):
    """Forward and hand-written backward pass (``xp`` is numpy or unifw)."""
    h = x @ w1
    h_relu = xp.maximum(h, 0.0)
    y_pred = h_relu @ w2
    loss = xp.sum((y_pred - y) ** 2)
    grad_y_pred = 2.0 * (y_pred - y)
    grad_w2 = xp.matrix_transpose(h_relu) @ grad_y_pred
    grad_h = xp.where(h < 0, 0.0, grad_y_pred @ xp.matrix_transpose(w2))
    return loss, xp.matrix_transpose(x) @ grad_h, grad_w2


def reference_losses():
    x, y, w1, w2a, w2b = _data()
    prev_loss, losses, branches = THRESHOLD, [], []
    for _ in range(STEPS):
        use_a = prev_loss < THRESHOLD
        loss, g1, g2 = _manual_loss_and_grads(np, x, y, w1, w2a if use_a else w2b)
        w1 = w1 - LR * g1
        if use_a:
            w2a = w2a - LR * g2
        else:
            w2b = w2b - LR * g2
        prev_loss = float(loss)
        losses.append(prev_loss)
        branches.append("a" if use_a else "b")
    return np.array(losses), branches


def _tensors():
    return [uf.asarray(a, dtype=uf.float32) for a in _data()]


def eager_losses(backend):
    x, y, w1, w2a, w2b = _tensors()

    def loss_fn(w1, w2):
        y_pred = (x @ w1).clip(min=0.0) @ w2
        return ((y_pred - y) ** 2).sum()

    prev_loss, losses = THRESHOLD, []
    for _ in range(STEPS):
        use_a = prev_loss < THRESHOLD  # a Python branch on the previous loss
        w2 = w2a if use_a else w2b
        if backend == "numpy":
            loss, g1, g2 = _manual_loss_and_grads(uf, x, y, w1, w2)
        else:
            loss, (g1, g2) = uf.value_and_grad(loss_fn, argnums=(0, 1))(w1, w2)
        w1 = w1 - LR * g1
        if use_a:
            w2a = w2a - LR * g2
        else:
            w2b = w2b - LR * g2
        prev_loss = loss.item()
        losses.append(prev_loss)
    return np.array(losses)


def make_compiled_step():
    """One training step with the branch as ``uf.cond`` on the previous loss (a tensor)."""

    @uf.function
    def step(w1, w2a, w2b, x, y, prev_loss):
        def loss_fn(w1, w2a, w2b):
            w2 = uf.cond(prev_loss < THRESHOLD, lambda: w2a, lambda: w2b)
            y_pred = F.relu(x @ w1) @ w2  # clamp(min=0)
            return ((y_pred - y) ** 2).sum()

        loss, (g1, ga, gb) = uf.value_and_grad(loss_fn, argnums=(0, 1, 2))(w1, w2a, w2b)
        return loss, w1 - LR * g1, w2a - LR * ga, w2b - LR * gb

    return step


def compiled_losses():
    x, y, w1, w2a, w2b = _tensors()
    step = make_compiled_step()
    prev_loss, losses = uf.asarray(THRESHOLD, dtype=uf.float32), []
    for _ in range(STEPS):
        prev_loss, w1, w2a, w2b = step(w1, w2a, w2b, x, y, prev_loss)
        losses.append(prev_loss.item())
    return np.array(losses), step


def test_reference_uses_both_weight_matrices():
    losses, branches = reference_losses()
    assert "a" in branches and "b" in branches
    # no loss close to the threshold: float32 runs take the same branches
    assert np.min(np.abs(losses - THRESHOLD)) > 0.1 * THRESHOLD


def test_dynamic_graph_eager_on_every_backend(backend):
    want, _ = reference_losses()
    np.testing.assert_allclose(eager_losses(backend), want, rtol=1e-4)


def test_dynamic_graph_with_cond_compiled(grad_backend):
    want, _ = reference_losses()
    got, step = compiled_losses()
    np.testing.assert_allclose(got, want, rtol=1e-4)
    np.testing.assert_allclose(got, eager_losses(grad_backend), rtol=1e-5)
    assert step.trace_count == 1  # both branches live in the one compiled program


def test_python_branch_on_the_loss_tensor_asks_for_cond():
    pytest.importorskip("jax")
    with uf.use_backend("jax"):
        @uf.function
        def step(w2a, w2b, prev_loss):
            return w2a if prev_loss < THRESHOLD else w2b

        with pytest.raises(uf.TracingError, match="uf.cond"):
            step(uf.ones((2,)), uf.zeros((2,)), uf.asarray(1.0))
