"""Parameter averaging for evaluation: exponential moving average and Polyak averaging."""
from __future__ import annotations

import contextlib

from .. import _dtypes
from .._tensor import Tensor
from ..variable import Buffer
from ._util import assign_value, is_tracing, new_buffer, plain

__all__ = ["EMA"]


class EMA:
    """Running average of a model's parameters, for evaluation (Polyak averaging).

    ``ema.update(model)`` after each optimizer step; ``ema.copy_to(model)`` puts the
    averages into a model, or ``with ema.applied_to(model):`` swaps them in for a block.
    The first ``update`` copies the parameters; later ones do
    ``avg += (p - avg) * (1 - decay)`` (exponential moving average), or with
    ``decay=None`` ``avg += (p - avg) / (n + 1)``: the plain mean of all updates
    (Polyak–Ruppert / SWA). Same values as ``torch.optim.swa_utils.AveragedModel``
    with ``get_ema_multi_avg_fn(decay)`` (or its default average).

    ``use_buffers=True`` also averages floating-point buffers (BatchNorm statistics)
    and copies the others. The averages and the update counter are unifw Buffers
    (``_unifw_variables()``): pass the EMA to a :func:`unifw.function` step to update
    it there, and save it with :func:`unifw.save`.
    """

    def __init__(self, model, decay: float | None = 0.999, *, use_buffers: bool = False):
        if decay is not None and not 0.0 <= decay <= 1.0:
            raise ValueError(f"decay must lie in [0, 1] (or be None for a plain mean), got {decay}")
        self.decay = None if decay is None else float(decay)
        self.use_buffers = use_buffers
        tracked = self._tracked(model)
        if not tracked:
            raise ValueError("EMA: the model has no parameters")
        self.averages: dict[str, Buffer] = {
            name: Buffer(v.value, name=name) for name, v in tracked}
        self.num_updates = new_buffer(tracked[0][1], 0, _dtypes.int64, "num_updates")
        self._model_ref = (model, [v for _, v in tracked])

    def _tracked(self, model) -> list:
        items = list(model.named_parameters())
        if self.use_buffers:
            items += list(model.named_buffers())
        return items

    def _pairs(self, model) -> list:
        """``(average, model variable)`` pairs, matched by name."""
        if model is self._model_ref[0]:
            return list(zip(self.averages.values(), self._model_ref[1]))
        current = dict(self._tracked(model))
        missing = [n for n in self.averages if n not in current]
        if missing:
            raise KeyError(f"EMA: the model has no {missing}")
        return [(avg, current[name]) for name, avg in self.averages.items()]

    def update(self, model) -> None:
        """Fold the model's current parameters into the averages."""
        pairs = self._pairs(model)
        n = self.num_updates
        if is_tracing(n):
            first = (plain(n) == 0).astype(_dtypes.float32)
            if self.decay is None:
                weight = 1.0 / (plain(n).astype(_dtypes.float32) + 1.0)
            else:
                weight = first + (1.0 - first) * (1.0 - self.decay)
        else:
            count = int(n._native)
            weight = 1.0 if count == 0 else (
                1.0 / (count + 1) if self.decay is None else 1.0 - self.decay)
        for avg, var in pairs:
            if avg.dtype.kind != "f":
                avg.assign(var.value)
                continue
            w = weight.astype(avg.dtype) if isinstance(weight, Tensor) else weight
            current = plain(avg)
            avg.assign(current + (plain(var) - current) * w)
        assign_value(n, plain(n) + 1)

    def copy_to(self, model) -> None:
        """Write the averages into ``model``'s parameters (and buffers with ``use_buffers``)."""
        for avg, var in self._pairs(model):
            var.assign(avg.value)

    @contextlib.contextmanager
    def applied_to(self, model):
        """Use the averages inside the block; the model's own values come back after it."""
        pairs = self._pairs(model)
        saved = [var.value for _, var in pairs]
        self.copy_to(model)
        try:
            yield model
        finally:
            for (_, var), value in zip(pairs, saved):
                var.assign(value)

    # ------------------------------------------------------------------ state
    def _unifw_variables(self) -> dict:
        out = {"num_updates": self.num_updates}
        out.update({f"averages.{name}": v for name, v in self.averages.items()})
        return out

    def state_dict(self) -> dict:
        return {"num_updates": int(self.num_updates),
                "averages": {name: v.value for name, v in self.averages.items()}}

    def load_state_dict(self, state: dict) -> None:
        averages = state["averages"]
        problems = [f"missing {n!r}" for n in self.averages if n not in averages]
        problems += [f"unexpected {n!r}" for n in averages if n not in self.averages]
        problems += [f"{n!r}: shape {tuple(averages[n].shape)}, expected {v.shape}"
                     for n, v in self.averages.items()
                     if n in averages and tuple(averages[n].shape) != v.shape]
        if problems:
            raise ValueError("cannot load EMA state: " + "; ".join(problems))
        for name, v in self.averages.items():
            value = averages[name]
            assign_value(v, value.numpy() if isinstance(value, Tensor) else value)
        assign_value(self.num_updates, int(state["num_updates"]))

    def __repr__(self):
        return (f"EMA(decay={self.decay}, tensors={len(self.averages)}, "
                f"use_buffers={self.use_buffers})")
