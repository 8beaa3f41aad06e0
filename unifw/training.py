"""A small training loop: :func:`fit` and :func:`evaluate`.

``history = uf.fit(model, opt, F.cross_entropy, loader, epochs=5,
metrics=["accuracy"], val_loader=test_loader)`` compiles the training step with
:func:`unifw.function`, shows a progress bar (tqdm) with the loss and the
throughput, and returns the per-epoch averages. Batches are ``(inputs, targets)``
pairs and the model is called as ``model(inputs)``.
"""
from __future__ import annotations

import time

from . import _dtypes
from ._tensor import Tensor

__all__ = ["fit", "evaluate", "accuracy"]


def accuracy(pred: Tensor, target: Tensor) -> Tensor:
    """Fraction of rows whose arg-max matches the integer ``target`` (class scores in ``pred``)."""
    from . import argmax, mean

    hits = argmax(pred, axis=-1) == target.astype(_dtypes.int64)
    return mean(hits.astype(_dtypes.float32))


_NAMED_METRICS = {"accuracy": accuracy, "acc": accuracy}


def _metric_fns(metrics) -> dict:
    if metrics is None:
        return {}
    if isinstance(metrics, dict):
        return dict(metrics)
    out = {}
    for m in metrics:
        if isinstance(m, str):
            if m not in _NAMED_METRICS:
                raise ValueError(f"unknown metric {m!r}; known: {sorted(_NAMED_METRICS)} "
                                 "(or pass a dict name -> fn(pred, target))")
            out[m] = _NAMED_METRICS[m]
        else:
            out[getattr(m, "__name__", f"metric{len(out)}")] = m
    return out


def _split(batch):
    if not (isinstance(batch, (tuple, list)) and len(batch) == 2):
        raise TypeError("fit/evaluate expect batches of (inputs, targets); got "
                        f"{type(batch).__name__}")
    return batch


def _batch_size(x) -> int:
    from .tree import tree_leaves

    for leaf in tree_leaves(x):
        if isinstance(leaf, Tensor) and leaf.ndim:
            return leaf.shape[0]
    return 1


class _Average:
    """Sample-weighted running means of tensors, read on the host only when asked."""

    def __init__(self):
        self.sums: dict = {}
        self.count = 0

    def add(self, values: dict, n: int):
        for k, v in values.items():
            v = v.astype(_dtypes.float64) * float(n)
            self.sums[k] = v if k not in self.sums else self.sums[k] + v
        self.count += n

    def result(self) -> dict:
        return {k: float(v) / max(self.count, 1) for k, v in self.sums.items()}


def _maybe_compile(fn, compile):
    if not compile:
        return fn
    from .compile import function

    return function(fn)


def _eval_step(loss_fn, fns: dict, compile: bool):
    def eval_step(model, x, y):
        pred = model(x)
        out = {name: fn(pred, y) for name, fn in fns.items()}
        if loss_fn is not None:
            out["loss"] = loss_fn(pred, y)
        return out

    return _maybe_compile(eval_step, compile)


def _run_eval(model, loader, step) -> dict:
    from .autodiff import no_grad

    was_training = getattr(model, "training", False)
    model.eval()
    avg = _Average()
    try:
        with no_grad():
            for batch in loader:
                x, y = _split(batch)
                avg.add(step(model, x, y), _batch_size(x))
    finally:
        model.train(was_training)
    return avg.result()


def evaluate(model, loader, loss_fn=None, *, metrics=None, compile: bool = True) -> dict:
    """Mean loss (if ``loss_fn``) and metrics of ``model``, in eval mode, over ``loader``."""
    return _run_eval(model, loader, _eval_step(loss_fn, _metric_fns(metrics), compile))


def fit(model, opt, loss_fn, loader, epochs: int = 1, *, metrics=None, val_loader=None,
        compile: bool = True, clip_grad_norm: float | None = None, scheduler=None,
        progress: bool = True) -> dict:
    """Train ``model`` with ``opt`` to minimise ``loss_fn(model(x), y)`` over ``loader``.

    - ``metrics``: names (``"accuracy"``) or a dict ``name -> fn(pred, target)``,
      averaged per epoch on the training batches (and on ``val_loader``).
    - ``compile``: run the step through :func:`unifw.function` (traced once).
    - ``clip_grad_norm``: clip the global gradient norm to this value each step.
    - ``scheduler``: a PyTorch-style schedule (``sched.step()`` after each epoch).
      A schedule given as the optimizer's ``lr`` needs nothing here.
    - ``progress``: a tqdm bar per epoch with the loss and samples/s.

    Returns the history: ``{"loss": [...], "<metric>": [...], "val_loss": [...],
    "val_<metric>": [...]}`` with one value per epoch.
    """
    from tqdm.auto import tqdm

    from .autodiff import value_and_grad
    from .optim.clip import clip_grad_norm as clip_norm

    fns = _metric_fns(metrics)

    def train_step(model, opt, x, y):
        def objective(m):
            pred = m(x)
            return loss_fn(pred, y), pred

        (loss, pred), grads = value_and_grad(objective, has_aux=True)(model)
        if clip_grad_norm is not None:
            grads, _ = clip_norm(grads, clip_grad_norm)
        opt.step(grads)
        out = {name: fn(pred, y) for name, fn in fns.items()}
        out["loss"] = loss
        return out

    step = _maybe_compile(train_step, compile)
    val_step = _eval_step(loss_fn, fns, compile) if val_loader is not None else None
    history: dict = {}
    model.train()
    for epoch in range(epochs):
        avg = _Average()
        bar = tqdm(total=len(loader), desc=f"epoch {epoch + 1}/{epochs}", disable=not progress,
                   leave=True, dynamic_ncols=True)
        start = last_shown = time.perf_counter()
        with bar:
            for batch in loader:
                x, y = _split(batch)
                out = step(model, opt, x, y)
                avg.add(out, _batch_size(x))
                bar.update(1)
                now = time.perf_counter()
                if progress and now - last_shown > 0.25:
                    last_shown = now
                    bar.set_postfix(loss=f"{float(out['loss']):.4g}",
                                    samples_per_s=f"{avg.count / (now - start):.0f}")
            result = avg.result()
            elapsed = time.perf_counter() - start
            bar.set_postfix(loss=f"{result.get('loss', float('nan')):.4g}",
                            samples_per_s=f"{avg.count / max(elapsed, 1e-9):.0f}")
        for k, v in result.items():
            history.setdefault(k, []).append(v)
        if val_loader is not None:
            val = _run_eval(model, val_loader, val_step)
            for k, v in val.items():
                history.setdefault(f"val_{k}", []).append(v)
            if progress:
                tqdm.write("  " + "  ".join(f"val_{k}={v:.4g}" for k, v in val.items()))
        if scheduler is not None:
            scheduler.step()
    return history
