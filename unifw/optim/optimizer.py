"""The :class:`Optimizer` base class: parameter groups, state variables, ``step(grads)``.

Every piece of optimizer state (the step counters, each group's learning rate,
the per-parameter slots such as Adam's moments) lives in unifw
:class:`~unifw.variable.Buffer` objects and is listed by ``_unifw_variables()``,
so :func:`unifw.function` carries it into and out of a compiled step and
:func:`unifw.save` checkpoints it.

A step runs in one of two modes. Eagerly, scalars such as the learning rate
and Adam's bias corrections are computed on the host in double precision (as
``torch.optim`` does). While a :func:`unifw.function` traces, they are computed
from the step Variables with unifw ops, so the compiled step is traced once
and stays correct for every later step.
"""
from __future__ import annotations

import contextlib
import numbers
import threading

from .. import _dtypes
from .._tensor import Tensor
from ..errors import DTypeError, ShapeError
from ..variable import Buffer, Variable, structure_changed
from ._util import assign_value, is_tracing, new_buffer, plain, tensor_like
from .fused import fused_update, increment
from .schedules import LRSchedule

__all__ = ["Optimizer", "ParamGroup", "cast_like"]

# While tracing, the learning rate and step-derived scalars (bias corrections) are
# computed in float64 and cast to each parameter's dtype only where they meet it:
# 1 - 0.999**t in float32 is off by 1e-5 relative already at t = 1.
_SCALAR = _dtypes.float64


class ParamGroup(dict):
    """One parameter group: ``"params"`` and the group's options, like an entry of
    ``torch.optim.Optimizer.param_groups``.

    ``group["lr"]`` reads the current learning rate as a float and
    ``group["lr"] = 0.01`` changes it; the value lives in a Variable, so a
    compiled step sees the change without retracing. A group whose ``lr`` is a
    schedule reports the schedule's value at the current step.
    """

    def __init__(self, options: dict, optimizer: "Optimizer"):
        super().__init__(options)
        self._optimizer = optimizer
        self._lr_var = None

    def __getitem__(self, key):
        value = dict.__getitem__(self, key)
        if key != "lr":
            return value
        if isinstance(value, LRSchedule):
            return value(self._optimizer.step_count)
        return float(self._lr_var)

    def get(self, key, default=None):
        return self[key] if key in self else default

    def __setitem__(self, key, value):
        if key == "lr" and self._lr_var is not None:
            if isinstance(value, LRSchedule):
                raise ValueError("this group was created with a numeric lr; create the "
                                 "optimizer with lr=<schedule> to use a schedule")
            assign_value(self._lr_var, float(value))
            return
        if key == "lr" and isinstance(dict.__getitem__(self, "lr"), LRSchedule):
            raise ValueError("this group's lr is a schedule; it cannot be set to a number")
        dict.__setitem__(self, key, value)

    def raw(self, key):
        """The stored option (a schedule stays a schedule)."""
        return dict.__getitem__(self, key)


class Optimizer:
    """Base class of unifw optimizers.

    ``params`` is an iterable of :class:`~unifw.variable.Parameter` (e.g.
    ``model.parameters()``), of ``(name, Parameter)`` pairs (e.g.
    ``model.named_parameters()``), or a list of dicts, each with a ``"params"``
    entry and per-group options overriding the constructor's (PyTorch's param
    groups).

    ``step(grads)`` applies one update. ``grads`` is the dict returned by
    ``uf.value_and_grad(...)(model)`` (keyed like ``model.named_parameters()``)
    or a list aligned with the optimizer's parameters. ``None`` gradients and
    parameters with ``trainable = False`` are skipped: no update, no state change.

    Subclasses define ``_slots(group)`` (names of per-parameter state) and
    ``_update(p, g, slots, h, t)`` (the update rule on unifw tensors).
    """

    def __init__(self, params, defaults: dict):
        self.defaults = dict(defaults)
        self.param_groups: list[ParamGroup] = []
        self._params: list = []          # all parameters, in group order
        self._names: list = []           # their names (None where unknown)
        self._slots_of: list[dict] = []  # per parameter: {slot name: Buffer}
        self._group_items: list[list] = []  # per group: [(index, param, slots)]
        groups = _as_groups(params)
        if not groups:
            raise ValueError("optimizer got an empty parameter list")
        for spec in groups:
            self.add_param_group(spec)
        self._step = new_buffer(self._params[0], 0, _dtypes.int64, "step")

    # ------------------------------------------------------------------ groups
    def add_param_group(self, spec: dict) -> None:
        """Add a group (``{"params": [...], **options}``), like torch's ``add_param_group``."""
        spec = dict(spec)
        named = _named_params(spec.pop("params"))
        if not named:
            raise ValueError("a parameter group has no parameters")
        options = {**self.defaults, **spec}
        unknown = set(spec) - set(self.defaults)
        if unknown:
            raise ValueError(f"unknown option(s) {sorted(unknown)} for {type(self).__name__}; "
                             f"valid: {sorted(self.defaults)}")
        lr = options["lr"]
        if not isinstance(lr, LRSchedule):
            _check(isinstance(lr, numbers.Real) and lr >= 0.0, f"invalid learning rate {lr!r}")
        seen = {id(p) for p in self._params}
        group = ParamGroup({"params": [p for _, p in named], **options}, self)
        items = []
        for name, p in named:
            if id(p) in seen:
                raise ValueError("a parameter appears in more than one group (or twice); "
                                 f"name={name!r}, shape={p.shape}")
            seen.add(id(p))
            if not isinstance(p, Variable):
                raise TypeError(f"optimizers update Parameters (unifw Variables), got "
                                f"{type(p).__name__}; pass model.parameters()")
            if p.dtype.kind != "f":
                raise DTypeError(f"cannot optimize a parameter of dtype {p.dtype} "
                                 f"(name={name!r}); only real floating parameters")
            index = len(self._params)
            slots = {s: self._new_slot(s, p, options) for s in self._slots(options)}
            self._params.append(p)
            self._names.append(name)
            self._slots_of.append(slots)
            items.append((index, p, slots))
        if not isinstance(lr, LRSchedule):
            group._lr_var = new_buffer(named[0][1], float(lr), _dtypes.float64, "lr")
            dict.__setitem__(group, "lr", float(lr))
        self.param_groups.append(group)
        self._group_items.append(items)
        structure_changed()

    # ------------------------------------------------------------------ subclass hooks
    def _slots(self, options: dict) -> tuple:
        """Names of the per-parameter state entries (PyTorch's names)."""
        return ()

    def _slot_init(self, name: str, p: Tensor, options: dict):
        """Initial value of slot ``name`` for parameter ``p`` (zeros by default)."""
        from .. import zeros_like

        return zeros_like(p)

    def _update(self, p, g, s: dict, h: dict, t):
        """One update rule: returns ``(new_param, {slot: new_value})``.

        ``p``, ``g`` and ``s`` hold unifw tensors; ``h`` holds the group's options
        with ``h["lr"]`` resolved for this step; ``t`` is this parameter's step
        number after the increment (or None without a ``"step"`` slot). ``h["lr"]``
        and ``t`` are Python numbers in eager mode and 0-d float tensors while
        tracing: pass scalars through :func:`cast_like` before they meet ``p``.
        """
        raise NotImplementedError

    # ------------------------------------------------------------------ stepping
    @property
    def step_count(self) -> int:
        """Number of ``step()`` calls so far (the counter schedules read)."""
        return int(self._step)

    def step(self, grads) -> None:
        """Apply one update from ``grads`` (dict from ``uf.value_and_grad`` or a list)."""
        grads = self._align(grads)
        first = self._params[0]
        tracing = is_tracing(first)
        with _no_grad(first._b), (_memoized_casts() if tracing else contextlib.nullcontext()):
            for group, items in zip(self.param_groups, self._group_items):
                todo = [(i, p, s, grads[i]) for i, p, s in items
                        if grads[i] is not None and p.trainable]
                if not todo:
                    continue
                h = dict(group)
                h["lr"] = self._group_lr(group, tracing)
                if not tracing and fused_update(self, h, todo):
                    continue
                for _, p, s, g in todo:
                    self._apply(p, g, s, h, tracing)
            if tracing or not increment(self._step):
                self._step.assign(plain(self._step) + 1)

    def _apply(self, p, g, s, h, tracing):
        step_slot = s.get("step")
        t = None
        if step_slot is not None:
            if tracing:
                new_step = plain(step_slot) + 1
                t = new_step.astype(_SCALAR)
            else:
                t = int(step_slot._native) + 1
                new_step = tensor_like(step_slot, t, step_slot.dtype)
        if tracing and h["lr"].dtype != _SCALAR:
            h = {**h, "lr": h["lr"].astype(_SCALAR)}
        values = {k: plain(v) for k, v in s.items() if k != "step"}
        new_p, new_slots = self._update(plain(p), g, values, h, t)
        if step_slot is not None:
            step_slot.assign(new_step)
        for k, v in new_slots.items():
            s[k].assign(v)
        p.assign(new_p)

    def _group_lr(self, group: ParamGroup, tracing: bool):
        lr = group.raw("lr")
        if isinstance(lr, LRSchedule):
            return lr(plain(self._step) if tracing else int(self._step._native))
        return plain(group._lr_var) if tracing else float(group._lr_var._native)

    def _align(self, grads) -> list:
        n = len(self._params)
        if isinstance(grads, dict):
            if all(name is not None for name in self._names) and any(
                    name in grads for name in self._names):
                out = [grads.get(name) for name in self._names]
            elif len(grads) == n:
                out = list(grads.values())
            else:
                raise ValueError(
                    f"{type(self).__name__}.step: got {len(grads)} gradients for {n} parameters. "
                    "Build the optimizer from the parameters of the module you differentiate "
                    "(model.parameters() or model.named_parameters()), or pass a list of "
                    "gradients aligned with the optimizer's parameters")
        elif isinstance(grads, (list, tuple)):
            if len(grads) != n:
                raise ValueError(f"{type(self).__name__}.step: got {len(grads)} gradients for "
                                 f"{n} parameters")
            out = list(grads)
        else:
            raise TypeError("step(grads): grads must be the dict returned by "
                            "uf.value_and_grad(...)(model) or a list aligned with the parameters")
        for i, (g, p) in enumerate(zip(out, self._params)):
            if g is None:
                continue
            if not isinstance(g, Tensor):
                raise TypeError(f"gradient for {self._describe(i)} is a {type(g).__name__}, "
                                "not a unifw Tensor")
            gn, pn = g._native, p._native
            if gn.shape != pn.shape:
                raise ShapeError(f"gradient of shape {g.shape} for {self._describe(i)}")
            if gn.dtype != pn.dtype:
                raise DTypeError(f"gradient of dtype {g.dtype} for {self._describe(i)}; "
                                 "cast it explicitly")
        return out

    def _describe(self, i) -> str:
        p = self._params[i]
        name = f" {self._names[i]!r}" if self._names[i] else f" #{i}"
        return f"parameter{name} (shape {p.shape}, dtype {p.dtype})"

    # ------------------------------------------------------------------ state
    @property
    def state(self) -> dict:
        """``{parameter: {slot name: Buffer}}``, like ``torch.optim.Optimizer.state``."""
        return {p: dict(s) for p, s in zip(self._params, self._slots_of)}

    def _unifw_variables(self) -> dict:
        out = {"step": self._step}
        for gi, group in enumerate(self.param_groups):
            if group._lr_var is not None:
                out[f"param_groups.{gi}.lr"] = group._lr_var
        for i, slots in enumerate(self._slots_of):
            for k, v in slots.items():
                out[f"state.{i}.{k}"] = v
        return out

    def state_dict(self) -> dict:
        """PyTorch-shaped state: ``{"state": {i: {slot: Tensor}}, "param_groups": [...]}``
        plus ``"step"`` (the optimizer's step counter). Tensors are snapshots."""
        groups = []
        for group, items in zip(self.param_groups, self._group_items):
            g = {k: v for k, v in dict.items(group) if k != "params"}
            if group._lr_var is not None:
                g["lr"] = float(group._lr_var)
            g["params"] = [i for i, _, _ in items]
            groups.append(g)
        state = {i: {k: v.value for k, v in slots.items()}
                 for i, slots in enumerate(self._slots_of) if slots}
        return {"state": state, "param_groups": groups, "step": int(self._step)}

    def load_state_dict(self, state_dict: dict) -> None:
        """Load a :meth:`state_dict` (ours, or a PyTorch optimizer's converted to NumPy).

        Each group's hyperparameters are taken from the dict (as in PyTorch; slots
        appear or go if e.g. ``amsgrad`` changes). Everything is checked before
        anything changes: group count and sizes, slot names, shapes. Parameters
        missing from ``"state"`` get fresh state.
        """
        groups = state_dict["param_groups"]
        if len(groups) != len(self.param_groups):
            raise ValueError(f"state dict has {len(groups)} parameter groups, the optimizer "
                             f"has {len(self.param_groups)}")
        options, index_map = [], {}
        for gi, (group, saved, items) in enumerate(zip(self.param_groups, groups,
                                                       self._group_items)):
            if len(saved["params"]) != len(items):
                raise ValueError(f"group {gi}: state dict has {len(saved['params'])} "
                                 f"parameters, the optimizer has {len(items)}")
            opts = {k: group.raw(k) for k in self.defaults}
            opts.update({k: tuple(v) if isinstance(v, list) else v for k, v in saved.items()
                         if k in self.defaults and not isinstance(opts[k], LRSchedule)})
            options.append(opts)
            index_map.update({int(s): (i, gi) for s, (i, _, _) in zip(saved["params"], items)})
        plan, problems = {}, []
        saved_state = {int(k): v for k, v in state_dict.get("state", {}).items()}
        for saved_i, (i, gi) in index_map.items():
            p, entry = self._params[i], saved_state.get(saved_i, {})
            values = {}
            for k in self._slots(options[gi]):
                if entry.get(k) is None:
                    values[k] = 0 if k == "step" else self._slot_init(k, p, options[gi]).numpy()
                    continue
                arr = _to_numpy(entry[k])
                want = () if k == "step" else p.shape
                if arr.shape != want and not (k == "step" and arr.size == 1):
                    problems.append(f"state {saved_i}.{k}: shape {arr.shape}, expected {want}")
                    continue
                values[k] = arr.reshape(want)
            # PyTorch keeps a "step" (and None momentum buffers) even where the rule needs none
            extra = {k for k, v in entry.items()
                     if k not in values and k != "step" and v is not None}
            if extra:
                problems.append(f"state {saved_i}: unexpected entries {sorted(extra)}")
            plan[i] = values, options[gi]
        if problems:
            raise ValueError("cannot load optimizer state:\n  " + "\n  ".join(problems))
        for i, (values, opts) in plan.items():
            slots, p = self._slots_of[i], self._params[i]
            kept = {k: slots[k] if k in slots else self._new_slot(k, p, opts) for k in values}
            slots.clear()
            slots.update(kept)  # in place: the group items share this dict
            for k, value in values.items():
                assign_value(slots[k], value)
        for group, opts in zip(self.param_groups, options):
            for k, v in opts.items():
                if k == "lr" and group._lr_var is not None:
                    assign_value(group._lr_var, float(v))
                    dict.__setitem__(group, "lr", float(v))
                elif k != "lr":
                    dict.__setitem__(group, k, v)
        if "step" in state_dict:
            assign_value(self._step, int(state_dict["step"]))
        structure_changed()

    def _new_slot(self, name, p, options):
        if name == "step":
            return new_buffer(p, 0, _dtypes.int64, "step")
        return Buffer(self._slot_init(name, p, options), name=name)

    def __repr__(self):
        lines = [f"{type(self).__name__} ("]
        for gi, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {gi}")
            for k in sorted(k for k in group if k != "params"):
                shown = group.raw(k) if k == "lr" and group._lr_var is None else group[k]
                lines.append(f"    {k}: {shown}")
        lines.append(")")
        return "\n".join(lines)


# ---------------------------------------------------------------------- helpers
def _check(ok: bool, message: str):
    if not ok:
        raise ValueError(message)


def _as_groups(params) -> list[dict]:
    if isinstance(params, Tensor):
        raise TypeError("params must be an iterable of Parameters (e.g. model.parameters()), "
                        "not a single tensor")
    params = list(params)
    if params and all(isinstance(g, dict) for g in params):
        return params
    return [{"params": params}] if params else []


def _named_params(params) -> list:
    if isinstance(params, Tensor):
        params = [params]
    out = []
    for item in params:
        if isinstance(item, tuple) and len(item) == 2 and isinstance(item[0], str):
            out.append(item)
        else:
            out.append((None, item))
    return out


def _no_grad(b):
    """The backend's no-grad context: an update is not part of any gradient."""
    make = getattr(b, "no_grad", None) if b.supports_autodiff else None
    return make() if make is not None else contextlib.nullcontext()


class _CastMemo(threading.local):
    table = None  # while a step traces: {(id(scalar), dtype): (scalar, cast)}


_cast_memo = _CastMemo()


@contextlib.contextmanager
def _memoized_casts():
    """One cast per scalar and dtype in a traced step (the group's learning rate is
    cast once, not once per parameter: no repeated read-and-cast ops in the graph)."""
    before = _cast_memo.table
    _cast_memo.table = {}
    try:
        yield
    finally:
        _cast_memo.table = before


def cast_like(p: Tensor, *scalars):
    """The scalars (numbers or 0-d tensors) ready to combine with ``p``: tensors are
    cast to ``p``'s dtype, numbers stay weak Python scalars."""
    memo = _cast_memo.table
    out = []
    for x in scalars:
        if isinstance(x, Tensor) and x.dtype != p.dtype:
            if memo is None:
                x = x.astype(p.dtype)
            else:
                hit = memo.get((id(x), p.dtype))
                if hit is None:  # the scalar is kept in the entry, so its id stays unique
                    hit = memo[(id(x), p.dtype)] = (x, x.astype(p.dtype))
                x = hit[1]
        out.append(x)
    return tuple(out) if len(out) != 1 else out[0]


def _to_numpy(x):
    import numpy as np

    if isinstance(x, Tensor):
        return x.numpy()
    if isinstance(x, numbers.Number):
        return np.asarray(x)
    if hasattr(x, "detach"):  # a torch tensor from a PyTorch state dict
        x = x.detach().cpu().numpy()
    return np.asarray(x)
