"""Learning-rate schedules, with the values of ``torch.optim.lr_scheduler``.

Each schedule is a closed-form function of the step number, usable two ways:

* **as the learning rate** (JAX/optax style): ``optim.SGD(params,
  lr=CosineAnnealingLR(T_max=1000, base_lr=0.1))``. The optimizer evaluates
  the schedule at its step counter, on the host when eager and with unifw ops
  on the step Variable inside :func:`unifw.function`, so a compiled training
  step is traced once and follows the schedule at every step.
* **PyTorch style**: ``sched = CosineAnnealingLR(opt, T_max=1000)`` then
  ``sched.step()`` after each epoch or step; it writes each group's ``lr``.

``schedule(t)`` returns the learning rate at step ``t`` (``t`` is 0 for the
first update): a float for an int ``t``, a float64 tensor for an integer tensor.
Passing a number as the first argument means ``base_lr``: ``StepLR(0.1, 30)``.
"""
from __future__ import annotations

import math
import numbers

from .. import _dtypes
from .._tensor import Tensor
from ..variable import trace_state
from ._util import assign_value, new_buffer, plain

__all__ = ["LRSchedule", "StepLR", "MultiStepLR", "ExponentialLR", "CosineAnnealingLR",
           "CosineAnnealingWarmRestarts", "LinearLR", "LinearWarmup", "OneCycleLR",
           "SequentialLR", "warmup_cosine"]


class _HostMath:
    """Python-number arithmetic (double precision, like PyTorch's schedulers)."""

    f = staticmethod(float)
    cos = staticmethod(math.cos)
    minimum = staticmethod(min)
    maximum = staticmethod(max)

    @staticmethod
    def where(cond, a, b):
        return a if cond else b

    @staticmethod
    def count_le(thresholds, t):
        return sum(1 for c in thresholds if c <= t)

    @staticmethod
    def pick(values, index):
        return values[index]


class _TensorMath:
    """The same operations on an integer step tensor, with unifw ops (traceable).

    Constants enter only as Python scalars (weak, no tensor creation), so a traced
    schedule adds a handful of scalar ops and no graph breaks."""

    @staticmethod
    def f(x):
        return x.astype(_dtypes.float64) if isinstance(x, Tensor) else float(x)

    @staticmethod
    def cos(x):
        from .. import cos

        return cos(x)

    @staticmethod
    def minimum(a, b):
        from .. import minimum

        return minimum(a, b)

    @staticmethod
    def maximum(a, b):
        from .. import maximum

        return maximum(a, b)

    @staticmethod
    def where(cond, a, b):
        from .. import where

        if isinstance(a, Tensor) and isinstance(b, Tensor):
            return where(cond, a, b)
        return b + (a - b) * cond.astype(_dtypes.float64)  # finite learning rates only

    @staticmethod
    def count_le(thresholds, t):
        count = t * 0
        for c in thresholds:
            count = count + (t >= c).astype(t.dtype)
        return count

    @staticmethod
    def pick(values, index):
        out = index * 0
        for i, v in enumerate(values):
            out = out + (index == i).astype(index.dtype) * v
        return out


class LRSchedule:
    """Base class: subclasses implement ``_lr(m, t, base)`` once, for both the host
    (``m`` does Python arithmetic) and tensor (``m`` does unifw ops) evaluations."""

    def __init__(self, optimizer=None, *, base_lr=None):
        if isinstance(optimizer, numbers.Real) and not isinstance(optimizer, bool):
            optimizer, base_lr = None, optimizer
        self.base_lr = None if base_lr is None else float(base_lr)
        self.optimizer = optimizer
        self.last_epoch = None
        self.base_lrs: list = []

    # -------------------------------------------------------------- evaluation
    def _lr(self, m, t, base):
        raise NotImplementedError

    def __call__(self, step):
        return self.value(step, self.base_lr)

    def value(self, step, base=None):
        """Learning rate at ``step`` for base learning rate ``base`` (default ``base_lr``)."""
        if isinstance(step, Tensor):
            step = plain(step) if step.dtype.kind in "iu" else step.astype(_dtypes.int64)
            out = self._lr(_TensorMath, step, base)
            return out if isinstance(out, Tensor) else step.astype(_dtypes.float64) * 0 + out
        return float(self._lr(_HostMath, int(step), base))

    def _base(self, base):
        if base is not None:
            return base
        if self.base_lr is None:
            raise ValueError(f"{type(self).__name__} needs base_lr= to be used as a learning "
                             "rate (or pass the optimizer, PyTorch style)")
        return self.base_lr

    # -------------------------------------------------------------- PyTorch-style use
    def _attach(self, optimizer):
        """Start driving ``optimizer``'s learning rates (called by the constructors)."""
        groups = optimizer.param_groups
        for g in groups:
            if g._lr_var is None:
                raise ValueError("this optimizer's lr is already a schedule; a PyTorch-style "
                                 "scheduler needs numeric learning rates")
        self.base_lrs = self._initial_lrs(groups)
        for g in groups:
            if "initial_lr" not in g:
                dict.__setitem__(g, "initial_lr", g["lr"])
        self.last_epoch = new_buffer(optimizer._params[0], 0, _dtypes.int64, "last_epoch")
        self._write_lrs(0)

    def _initial_lrs(self, groups) -> list:
        return [g.get("initial_lr", g["lr"]) for g in groups]

    def step(self) -> None:
        """Advance one step (PyTorch style) and write the new learning rates."""
        if self.optimizer is None:
            raise RuntimeError(f"this {type(self).__name__} is used as a learning rate; it "
                               "follows the optimizer's step counter and has no step()")
        if trace_state.depth:
            assign_value(self.last_epoch, plain(self.last_epoch) + 1)
            self._write_lrs(self.last_epoch)
        else:
            epoch = int(self.last_epoch) + 1
            assign_value(self.last_epoch, epoch)
            self._write_lrs(epoch)

    def _write_lrs(self, epoch):
        for group, base in zip(self.optimizer.param_groups, self.base_lrs):
            assign_value(group._lr_var, self.value(epoch, base))

    def get_last_lr(self) -> list:
        """Learning rates of the groups after the last ``step()``."""
        return [g["lr"] for g in self.optimizer.param_groups]

    def state_dict(self) -> dict:
        return {"last_epoch": int(self.last_epoch) if self.last_epoch is not None else None,
                "base_lrs": list(self.base_lrs)}

    def load_state_dict(self, state: dict) -> None:
        if self.last_epoch is not None and state.get("last_epoch") is not None:
            assign_value(self.last_epoch, int(state["last_epoch"]))
        if state.get("base_lrs"):
            self.base_lrs = [float(v) for v in state["base_lrs"]]

    def _unifw_variables(self) -> dict:
        return {} if self.last_epoch is None else {"last_epoch": self.last_epoch}

    def __repr__(self):
        fields = ", ".join(f"{k}={v!r}" for k, v in vars(self).items() if v is not None
                           and not k.startswith("_")
                           and k not in ("optimizer", "last_epoch", "base_lrs"))
        return f"{type(self).__name__}({fields})"


def _positive_int(value, what):
    if int(value) != value or value <= 0:
        raise ValueError(f"{what} must be a positive integer, got {value!r}")
    return int(value)


class StepLR(LRSchedule):
    """``base_lr * gamma ** (t // step_size)``."""

    def __init__(self, optimizer=None, step_size=1, gamma=0.1, *, base_lr=None):
        super().__init__(optimizer, base_lr=base_lr)
        self.step_size = _positive_int(step_size, "step_size")
        self.gamma = float(gamma)
        if self.optimizer is not None:
            self._attach(self.optimizer)

    def _lr(self, m, t, base):
        return self._base(base) * self.gamma ** m.f(t // self.step_size)


class MultiStepLR(LRSchedule):
    """``base_lr * gamma ** (number of milestones <= t)``."""

    def __init__(self, optimizer=None, milestones=(), gamma=0.1, *, base_lr=None):
        super().__init__(optimizer, base_lr=base_lr)
        self.milestones = sorted(int(v) for v in milestones)
        self.gamma = float(gamma)
        if self.optimizer is not None:
            self._attach(self.optimizer)

    def _lr(self, m, t, base):
        return self._base(base) * self.gamma ** m.f(m.count_le(self.milestones, t))


class ExponentialLR(LRSchedule):
    """``base_lr * gamma ** t``."""

    def __init__(self, optimizer=None, gamma=0.9, *, base_lr=None):
        super().__init__(optimizer, base_lr=base_lr)
        self.gamma = float(gamma)
        if self.optimizer is not None:
            self._attach(self.optimizer)

    def _lr(self, m, t, base):
        return self._base(base) * self.gamma ** m.f(t)


def _cosine(m, base, eta_min, t_cur, period):
    return eta_min + (base - eta_min) * (1.0 + m.cos(math.pi * m.f(t_cur) / period)) / 2.0


class CosineAnnealingLR(LRSchedule):
    """``eta_min + (base_lr - eta_min) * (1 + cos(pi * t / T_max)) / 2``."""

    def __init__(self, optimizer=None, T_max=1, eta_min=0.0, *, base_lr=None):
        super().__init__(optimizer, base_lr=base_lr)
        self.T_max = _positive_int(T_max, "T_max")
        self.eta_min = float(eta_min)
        if self.optimizer is not None:
            self._attach(self.optimizer)

    def _lr(self, m, t, base):
        return _cosine(m, self._base(base), self.eta_min, t, float(self.T_max))


class CosineAnnealingWarmRestarts(LRSchedule):
    """Cosine annealing restarted every ``T_0``, ``T_0 * T_mult``, ... steps (SGDR)."""

    _MAX_STEP = 2 ** 40  # restarts are tabulated up to this step

    def __init__(self, optimizer=None, T_0=1, T_mult=1, eta_min=0.0, *, base_lr=None):
        super().__init__(optimizer, base_lr=base_lr)
        self.T_0 = _positive_int(T_0, "T_0")
        self.T_mult = _positive_int(T_mult, "T_mult")
        self.eta_min = float(eta_min)
        starts, periods = [0], [self.T_0]
        while self.T_mult > 1 and starts[-1] + periods[-1] < self._MAX_STEP:
            starts.append(starts[-1] + periods[-1])
            periods.append(periods[-1] * self.T_mult)
        self._starts, self._periods = starts, periods
        if self.optimizer is not None:
            self._attach(self.optimizer)

    def _lr(self, m, t, base):
        if self.T_mult == 1:
            t_cur, period = t % self.T_0, float(self.T_0)
        else:
            cycle = m.count_le(self._starts[1:], t)
            t_cur = t - m.pick(self._starts, cycle)
            period = m.f(m.pick(self._periods, cycle))
        return _cosine(m, self._base(base), self.eta_min, t_cur, period)


class LinearLR(LRSchedule):
    """Factor moving linearly from ``start_factor`` to ``end_factor`` over ``total_iters`` steps."""

    def __init__(self, optimizer=None, start_factor=1.0 / 3, end_factor=1.0, total_iters=5, *,
                 base_lr=None):
        super().__init__(optimizer, base_lr=base_lr)
        if not (0.0 <= start_factor <= 1.0 and 0.0 <= end_factor <= 1.0):
            raise ValueError("start_factor and end_factor must lie in [0, 1]")
        self.start_factor = float(start_factor)
        self.end_factor = float(end_factor)
        self.total_iters = _positive_int(total_iters, "total_iters")
        if self.optimizer is not None:
            self._attach(self.optimizer)

    def _lr(self, m, t, base):
        done = m.f(m.minimum(t, self.total_iters)) / self.total_iters
        return self._base(base) * (self.start_factor
                                   + (self.end_factor - self.start_factor) * done)


class LinearWarmup(LinearLR):
    """Linear warm-up from ``start_factor * base_lr`` to ``base_lr`` over ``warmup_steps``
    (:class:`LinearLR` ending at factor 1)."""

    def __init__(self, optimizer=None, warmup_steps=5, start_factor=1.0 / 3, *, base_lr=None):
        super().__init__(optimizer, start_factor=start_factor, end_factor=1.0,
                         total_iters=warmup_steps, base_lr=base_lr)


class OneCycleLR(LRSchedule):
    """The 1cycle policy (Smith & Topin): warm up to ``max_lr``, then anneal far below the start.

    Same phases and values as ``torch.optim.lr_scheduler.OneCycleLR``; momentum is not
    cycled (PyTorch's ``cycle_momentum=False``).
    """

    def __init__(self, optimizer=None, max_lr=None, total_steps=None, epochs=None,
                 steps_per_epoch=None, pct_start=0.3, anneal_strategy="cos", div_factor=25.0,
                 final_div_factor=1e4, three_phase=False):
        if isinstance(optimizer, numbers.Real) and max_lr is None:
            optimizer, max_lr = None, optimizer
        super().__init__(optimizer)
        if max_lr is None:
            raise ValueError("OneCycleLR needs max_lr")
        if total_steps is None:
            if epochs is None or steps_per_epoch is None:
                raise ValueError("OneCycleLR needs total_steps, or epochs and steps_per_epoch")
            total_steps = int(epochs) * int(steps_per_epoch)
        self.total_steps = _positive_int(total_steps, "total_steps")
        if not 0.0 <= pct_start <= 1.0:
            raise ValueError(f"pct_start must lie in [0, 1], got {pct_start}")
        if anneal_strategy not in ("cos", "linear"):
            raise ValueError("anneal_strategy must be 'cos' or 'linear'")
        self.max_lr = max_lr
        self.anneal_strategy = anneal_strategy
        self.div_factor = float(div_factor)
        self.final_div_factor = float(final_div_factor)
        n = float(self.total_steps)
        if three_phase:
            ends = [pct_start * n - 1, 2 * pct_start * n - 2, n - 1]
            shape = [(1.0 / div_factor, 1.0), (1.0, 1.0 / div_factor),
                     (1.0 / div_factor, 1.0 / (div_factor * final_div_factor))]
        else:
            ends = [pct_start * n - 1, n - 1]
            shape = [(1.0 / div_factor, 1.0), (1.0, 1.0 / (div_factor * final_div_factor))]
        self._phases = [(end, a, b) for end, (a, b) in zip(ends, shape)]
        if not isinstance(max_lr, (list, tuple)):
            self.base_lr = float(max_lr)
        if self.optimizer is not None:
            self._attach(self.optimizer)

    def _initial_lrs(self, groups):
        lrs = self.max_lr if isinstance(self.max_lr, (list, tuple)) else [self.max_lr] * len(groups)
        if len(lrs) != len(groups):
            raise ValueError(f"max_lr has {len(lrs)} values for {len(groups)} parameter groups")
        for g, top in zip(groups, lrs):
            dict.__setitem__(g, "initial_lr", top / self.div_factor)
        return [float(v) for v in lrs]

    def _anneal(self, m, start, end, pct):
        if self.anneal_strategy == "cos":
            return end + (start - end) / 2.0 * (m.cos(math.pi * pct) + 1.0)
        return (end - start) * pct + start

    def value(self, step, base=None):
        if not isinstance(step, Tensor) and int(step) > self.total_steps:
            raise ValueError(f"OneCycleLR: step {int(step)} is past total_steps "
                             f"({self.total_steps})")
        return super().value(step, base)

    def _lr(self, m, t, base):
        top = self._base(base)
        t = m.minimum(t, self.total_steps)
        tf = m.f(t)
        values, start = [], 0.0
        for end, a, b in self._phases:
            values.append(self._anneal(m, a * top, b * top, (tf - start) / (end - start)))
            start = end
        out = values[-1]
        for (end, _, _), v in zip(reversed(self._phases[:-1]), reversed(values[:-1])):
            out = m.where(tf <= end, v, out)
        return out


class SequentialLR(LRSchedule):
    """Schedule ``schedulers[i]`` from ``milestones[i-1]`` on, each restarting at step 0
    (``torch.optim.lr_scheduler.SequentialLR``)."""

    def __init__(self, optimizer=None, schedulers=(), milestones=()):
        if isinstance(optimizer, (list, tuple)):
            optimizer, schedulers = None, optimizer
        super().__init__(optimizer)
        self.schedulers = list(schedulers)
        self.milestones = [int(v) for v in milestones]
        if len(self.milestones) != len(self.schedulers) - 1:
            raise ValueError(f"SequentialLR: {len(self.schedulers)} schedulers need "
                             f"{len(self.schedulers) - 1} milestones, got {len(self.milestones)}")
        if self.milestones != sorted(self.milestones):
            raise ValueError("SequentialLR: milestones must be increasing")
        if self.optimizer is not None:
            self._attach(self.optimizer)

    def _lr(self, m, t, base):
        offsets = [0] + self.milestones
        if m is _HostMath:
            i = m.count_le(self.milestones, t)
            return self.schedulers[i]._lr(m, t - offsets[i], base)
        out = None
        for i in reversed(range(len(self.schedulers))):
            v = self.schedulers[i]._lr(m, m.maximum(t - offsets[i], 0), base)
            out = v if out is None else m.where(t < offsets[i + 1], v, out)
        return out


def warmup_cosine(base_lr: float, warmup_steps: int, total_steps: int, eta_min: float = 0.0,
                  start_factor: float = 1.0 / 3) -> SequentialLR:
    """Linear warm-up for ``warmup_steps`` then cosine annealing to ``eta_min`` at
    ``total_steps``."""
    return SequentialLR(
        [LinearWarmup(warmup_steps=warmup_steps, start_factor=start_factor, base_lr=base_lr),
         CosineAnnealingLR(T_max=total_steps - warmup_steps, eta_min=eta_min, base_lr=base_lr)],
        milestones=[warmup_steps])
