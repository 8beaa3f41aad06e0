"""``nn.Module``: the base class of layers and models, with PyTorch's API.

Parameters and buffers are :class:`~unifw.variable.Parameter` /
:class:`~unifw.variable.Buffer` objects (Tensors backed by a
``torch.nn.Parameter``, a ``tf.Variable`` or a box holding a JAX/NumPy array).
Assigning one to an attribute registers it, as does assigning a Module, so
names, order and ``state_dict`` keys are PyTorch's.

Every Module implements the state protocol ``_unifw_variables()`` (all its
parameters and buffers, RNG keys included, by dotted name) through which
``uf.function``, gradients and checkpoints carry its state.
"""
from __future__ import annotations

import copy
from collections import OrderedDict, namedtuple

import numpy as np

from .. import _dtypes
from .._tensor import Device, Tensor, wrap
from ..errors import StateDictError
from ..variable import Buffer, Parameter, Variable, structure_changed, structure_epoch

__all__ = ["Module", "Parameter", "Buffer", "IncompatibleKeys"]

IncompatibleKeys = namedtuple("IncompatibleKeys", ["missing_keys", "unexpected_keys"])


def _addindent(text: str, spaces: int) -> str:
    lines = text.split("\n")
    if len(lines) == 1:
        return text
    pad = " " * spaces
    return lines[0] + "\n" + "\n".join(pad + line for line in lines[1:])


class _Registry(OrderedDict):
    """A Module's parameters, buffers or children: every change is reported to
    :func:`~unifw.variable.structure_changed` (``uf.function`` caches the state it
    flattens from Modules until then)."""

    def __setitem__(self, key, value):
        super().__setitem__(key, value)
        structure_changed()

    def __delitem__(self, key):
        super().__delitem__(key)
        structure_changed()

    def pop(self, *args):
        structure_changed()
        return super().pop(*args)

    def popitem(self, last=True):
        structure_changed()
        return super().popitem(last)

    def clear(self):
        super().clear()
        structure_changed()

    def update(self, *args, **kwargs):
        super().update(*args, **kwargs)
        structure_changed()

    def setdefault(self, key, default=None):
        structure_changed()
        return super().setdefault(key, default)

    def move_to_end(self, key, last=True):
        super().move_to_end(key, last)
        structure_changed()


class Module:
    """Base class of all layers and models (PyTorch's ``torch.nn.Module`` API).

    Subclasses call ``super().__init__()``, assign layers, Parameters and
    Buffers as attributes, and define ``forward``; ``model(x)`` calls it::

        class TwoLayerNet(nn.Module):
            def __init__(self, d_in, h, d_out):
                super().__init__()
                self.linear1 = nn.Linear(d_in, h)
                self.linear2 = nn.Linear(h, d_out)

            def forward(self, x):
                return self.linear2(F.relu(self.linear1(x)))
    """

    training: bool

    def __init__(self):
        d = self.__dict__
        d["training"] = True
        d["_parameters"] = _Registry()
        d["_buffers"] = _Registry()
        d["_non_persistent_buffers"] = set()
        d["_modules"] = _Registry()

    def forward(self, *args, **kwargs):
        raise NotImplementedError(f'Module [{type(self).__name__}] is missing the required '
                                  '"forward" function')

    def __call__(self, *args, **kwargs):
        return self.forward(*args, **kwargs)

    # ------------------------------------------------------------ registration
    def _require_init(self, what: str):
        if "_parameters" not in self.__dict__:
            raise AttributeError(f"cannot assign {what} before Module.__init__() call "
                                 "(call super().__init__() first)")

    def register_parameter(self, name: str, param: Parameter | None) -> None:
        """Register ``param`` (a :class:`Parameter` or None) under ``name``."""
        self._require_init("parameters")
        self._check_name(name, "_parameters")
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(f"cannot assign a {type(param).__name__} as parameter {name!r} "
                            "(nn.Parameter or None expected)")
        self._parameters[name] = param

    def register_buffer(self, name: str, tensor, persistent: bool = True) -> None:
        """Register a buffer: module state that is not trained (e.g. BatchNorm statistics).

        A Tensor or array is wrapped in a :class:`Buffer`. Non-persistent buffers
        (``persistent=False``, e.g. RNG keys) are left out of ``state_dict`` but are
        still carried by ``uf.function`` and saved by ``uf.save``.
        """
        self._require_init("buffers")
        self._check_name(name, "_buffers")
        if tensor is not None and not isinstance(tensor, Buffer):
            if isinstance(tensor, Parameter):
                raise TypeError(f"cannot register the Parameter {name!r} as a buffer")
            tensor = Buffer(tensor)
        self._buffers[name] = tensor
        if persistent:
            self._non_persistent_buffers.discard(name)
        else:
            self._non_persistent_buffers.add(name)

    def add_module(self, name: str, module: Module | None) -> None:
        """Register ``module`` as a child named ``name`` (what attribute assignment does)."""
        self._require_init("child modules")
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"{type(module).__name__} is not a Module subclass")
        self._check_name(name, "_modules")
        self._modules[name] = module

    register_module = add_module

    def _check_name(self, name, registry):
        if not isinstance(name, str) or not name or "." in name:
            raise KeyError(f"name must be a non-empty string without '.', got {name!r}")
        if hasattr(self, name) and name not in getattr(self, registry):
            raise KeyError(f"attribute {name!r} already exists")

    def __setattr__(self, name: str, value):
        d = self.__dict__
        params = d.get("_parameters")
        if isinstance(value, Parameter):
            self._require_init("parameters")
            self._forget(name)
            params[name] = value
        elif params is not None and name in params:
            if value is not None:
                raise TypeError(
                    f"cannot assign a {type(value).__name__} to parameter {name!r} of "
                    f"{type(self).__name__}: assign an nn.Parameter (or None) to replace it, "
                    f"or change its value in place with module.{name}.assign(value)")
            params[name] = None
        elif isinstance(value, Module):
            self._require_init("child modules")
            self._forget(name)
            d["_modules"][name] = value
        elif d.get("_modules") is not None and name in d["_modules"]:
            if value is not None:
                raise TypeError(f"cannot assign a {type(value).__name__} as child module "
                                f"{name!r} (nn.Module or None expected)")
            d["_modules"][name] = None
        elif isinstance(value, Buffer):
            self._require_init("buffers")
            persistent = name not in d["_non_persistent_buffers"]
            self._forget(name)
            self.register_buffer(name, value, persistent)
        elif d.get("_buffers") is not None and name in d["_buffers"]:
            self._set_buffer_value(name, value)
        elif isinstance(value, Variable):
            raise TypeError(f"cannot assign a bare {type(value).__name__} to {name!r}: wrap "
                            "the value in nn.Parameter (trained) or nn.Buffer (not trained)")
        else:
            object.__setattr__(self, name, value)
            if name == "training":
                structure_changed()

    def _set_buffer_value(self, name, value):
        """``module.running_mean = t`` writes the value into the existing Buffer (so the
        update is carried out of ``uf.function``); None unregisters it."""
        buf = self._buffers[name]
        if value is None:
            self._buffers[name] = None
        elif buf is None:
            self._buffers[name] = Buffer(value)
        else:
            buf.assign(value)

    def _forget(self, name):
        d = self.__dict__
        d.pop(name, None)
        for registry in ("_parameters", "_buffers", "_modules"):
            d[registry].pop(name, None)
        d["_non_persistent_buffers"].discard(name)

    def __getattr__(self, name: str):
        d = self.__dict__
        for registry in ("_parameters", "_buffers", "_modules"):
            reg = d.get(registry)
            if reg is not None and name in reg:
                return reg[name]
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def __delattr__(self, name: str):
        d = self.__dict__
        for registry in ("_parameters", "_buffers", "_modules"):
            if name in d[registry]:
                del d[registry][name]
                d["_non_persistent_buffers"].discard(name)
                return
        object.__delattr__(self, name)

    def __dir__(self):
        keys = set(super().__dir__())
        for registry in ("_parameters", "_buffers", "_modules"):
            keys.update(self.__dict__[registry])
        return sorted(keys)

    # ------------------------------------------------------------ traversal
    def named_modules(self, memo=None, prefix: str = "", remove_duplicate: bool = True):
        """``(dotted name, module)`` for this module and all submodules, pre-order."""
        if memo is None:
            memo = set()
        if remove_duplicate:
            if id(self) in memo:
                return
            memo.add(id(self))
        yield prefix, self
        for name, module in self._modules.items():
            if module is None:
                continue
            sub = f"{prefix}.{name}" if prefix else name
            yield from module.named_modules(memo, sub, remove_duplicate)

    def modules(self):
        for _, m in self.named_modules():
            yield m

    def named_children(self):
        seen = set()
        for name, m in self._modules.items():
            if m is not None and id(m) not in seen:
                seen.add(id(m))
                yield name, m

    def children(self):
        for _, m in self.named_children():
            yield m

    def _named_members(self, registry, prefix, recurse, remove_duplicate):
        seen = set()
        mods = (self.named_modules(prefix=prefix, remove_duplicate=remove_duplicate)
                if recurse else [(prefix, self)])
        for mod_prefix, mod in mods:
            for name, v in getattr(mod, registry).items():
                if v is None or (remove_duplicate and id(v) in seen):
                    continue
                seen.add(id(v))
                yield (f"{mod_prefix}.{name}" if mod_prefix else name), v

    def named_parameters(self, prefix: str = "", recurse: bool = True,
                         remove_duplicate: bool = True):
        """``(dotted name, Parameter)`` pairs in PyTorch's order, frozen ones included."""
        yield from self._named_members("_parameters", prefix, recurse, remove_duplicate)

    def parameters(self, recurse: bool = True):
        for _, p in self.named_parameters(recurse=recurse):
            yield p

    def named_buffers(self, prefix: str = "", recurse: bool = True,
                      remove_duplicate: bool = True):
        yield from self._named_members("_buffers", prefix, recurse, remove_duplicate)

    def buffers(self, recurse: bool = True):
        for _, b in self.named_buffers(recurse=recurse):
            yield b

    def get_submodule(self, target: str) -> Module:
        mod = self
        for part in target.split(".") if target else []:
            child = mod._modules.get(part)
            if child is None:
                raise AttributeError(f"{type(mod).__name__} has no submodule {part!r} "
                                     f"(looking up {target!r})")
            mod = child
        return mod

    def get_parameter(self, target: str) -> Parameter:
        owner, _, name = target.rpartition(".")
        p = self.get_submodule(owner)._parameters.get(name)
        if p is None:
            raise AttributeError(f"no parameter {target!r}")
        return p

    def get_buffer(self, target: str) -> Buffer:
        owner, _, name = target.rpartition(".")
        b = self.get_submodule(owner)._buffers.get(name)
        if b is None:
            raise AttributeError(f"no buffer {target!r}")
        return b

    # ------------------------------------------------------------ state
    def _unifw_variables(self) -> "OrderedDict[str, Variable]":
        """State protocol: every Parameter and Buffer (RNG keys included) by dotted
        name, module by module in ``state_dict`` order; shared variables appear once.

        The result is cached until the next structure change (any registration,
        ``train``/``eval``, ``trainable`` flip): callers must not mutate it."""
        cached = self.__dict__.get("_state_cache")
        if cached is not None and cached[0] == structure_epoch[0]:
            return cached[1]
        epoch = structure_epoch[0]
        out = OrderedDict()
        seen = set()
        for mod_prefix, mod in self.named_modules():
            for registry in (mod._parameters, mod._buffers):
                for name, v in registry.items():
                    if v is not None and id(v) not in seen:
                        seen.add(id(v))
                        out[f"{mod_prefix}.{name}" if mod_prefix else name] = v
        self.__dict__["_state_cache"] = (epoch, out)
        return out

    def _cached_named_parameters(self) -> tuple:
        """``((dotted name, Parameter), ...)`` as ``named_parameters()`` yields them,
        cached like :meth:`_unifw_variables` (the autodiff fast path reads it each step)."""
        cached = self.__dict__.get("_params_cache")
        if cached is not None and cached[0] == structure_epoch[0]:
            return cached[1]
        epoch = structure_epoch[0]
        out = tuple(self.named_parameters())
        self.__dict__["_params_cache"] = (epoch, out)
        return out

    def _unifw_static(self) -> tuple:
        """Hashable Python-side configuration that changes what ``forward`` computes
        (the training flags), for ``uf.function`` to key its traces on: a step traced
        in training mode must be retraced after ``model.eval()``."""
        return tuple((name, m.training) for name, m in self.named_modules())

    def _state_entries(self, prefix=""):
        """``(key, Variable)`` of what ``state_dict`` holds, in PyTorch's order."""
        for name, p in self._parameters.items():
            if p is not None:
                yield prefix + name, p
        for name, b in self._buffers.items():
            if b is not None and name not in self._non_persistent_buffers:
                yield prefix + name, b
        for name, m in self._modules.items():
            if m is not None:
                yield from m._state_entries(f"{prefix}{name}.")

    def state_dict(self, destination=None, prefix: str = "", keep_vars: bool = False):
        """Parameters and persistent buffers by PyTorch key, as snapshot Tensors
        (``np.asarray(t)`` gives the array; ``keep_vars=True`` gives the Variables)."""
        out = OrderedDict() if destination is None else destination
        for key, v in self._state_entries(prefix):
            out[key] = v if keep_vars else v.value
        return out

    def load_state_dict(self, state_dict, strict: bool = True) -> IncompatibleKeys:
        """Copy values from ``state_dict`` (NumPy arrays, unifw Tensors of any backend,
        or framework tensors) into this module's parameters and buffers.

        Everything is checked before anything changes: missing and unexpected
        keys (when ``strict``) and shape mismatches (always) are reported together
        in one :class:`~unifw.StateDictError`, and the module is left untouched.
        Values are cast to each variable's dtype, as PyTorch's ``copy_`` does.
        """
        expected = OrderedDict(self._state_entries())
        given = OrderedDict(state_dict)
        missing = [k for k in expected if k not in given]
        unexpected = [k for k in given if k not in expected]
        problems, updates = [], []
        for key, var in expected.items():
            if key not in given:
                continue
            try:
                value = _value_for(var, given[key])
            except _Mismatch as e:
                problems.append(f"size mismatch for {key}: copying a param with shape "
                                f"{e.given} from checkpoint, the shape in current model is "
                                f"{e.expected}.")
                continue
            except Exception as e:  # noqa: BLE001  (reported with the others)
                problems.append(f"could not convert {key}: {type(e).__name__}: {e}")
                continue
            updates.append((var, value))
        if strict and unexpected:
            problems.insert(0, "Unexpected key(s) in state_dict: "
                            + ", ".join(f'"{k}"' for k in unexpected) + ".")
        if strict and missing:
            problems.insert(0, "Missing key(s) in state_dict: "
                            + ", ".join(f'"{k}"' for k in missing) + ".")
        if problems:
            err = StateDictError(f"Error(s) in loading state_dict for {type(self).__name__}:\n\t"
                                 + "\n\t".join(problems))
            err.missing_keys, err.unexpected_keys = missing, unexpected
            raise err
        for var, value in updates:
            var.assign(value)
        return IncompatibleKeys(missing, unexpected)

    # ------------------------------------------------------------ modes and placement
    def train(self, mode: bool = True) -> Module:
        """Set training mode on this module and all submodules (Dropout, BatchNorm use it)."""
        if not isinstance(mode, bool):
            raise ValueError("training mode is expected to be a bool")
        for m in self.modules():
            m.__dict__["training"] = mode
        structure_changed()
        return self

    def eval(self) -> Module:
        return self.train(False)

    def requires_grad_(self, requires_grad: bool = True) -> Module:
        """Freeze (False) or unfreeze all parameters: sets ``param.trainable``."""
        for p in self.parameters():
            p.trainable = requires_grad
        return self

    def apply(self, fn) -> Module:
        """Call ``fn`` on every submodule (children first) and on this module."""
        for m in self.children():
            m.apply(fn)
        fn(self)
        return self

    def to(self, *args, **kwargs) -> Module:
        """Move parameters and buffers to a device and/or cast the floating-point ones:
        ``model.to("gpu:0")``, ``model.to(uf.float64)``, ``model.to(device, dtype)``.

        The Parameter objects stay the same (optimizers keep referring to them).
        """
        device, dtype = _parse_to_args(args, kwargs)
        if dtype is not None and dtype.kind != "f":
            raise TypeError(f"Module.to only accepts floating point dtypes, got {dtype}")
        for v in self._unifw_variables().values():
            value = wrap(v._native, v._b)
            if dtype is not None and value.dtype.kind == "f" and value.dtype is not dtype:
                value = value.astype(dtype)
            if device is not None:
                value = value.to(device)
            if value._native is not v._native:
                v._rebind(value._native)
        return self

    def float(self) -> Module:
        return self.to(_dtypes.float32)

    def double(self) -> Module:
        return self.to(_dtypes.float64)

    def half(self) -> Module:
        return self.to(_dtypes.float16)

    def bfloat16(self) -> Module:
        return self.to(_dtypes.bfloat16)

    def cpu(self) -> Module:
        return self.to("cpu")

    # ------------------------------------------------------------ copying and printing
    def __deepcopy__(self, memo):
        """A copy with its own parameters and buffers (equal values, shared ones stay shared)."""
        for v in self._unifw_variables().values():
            if id(v) not in memo:
                memo[id(v)] = _clone_variable(v)
        new = type(self).__new__(type(self))
        memo[id(self)] = new
        for k, val in self.__dict__.items():
            if k not in ("_state_cache", "_params_cache"):
                new.__dict__[k] = copy.deepcopy(val, memo)
        return new

    def extra_repr(self) -> str:
        """Layer arguments shown by ``repr`` (override in layers, as in PyTorch)."""
        return ""

    def _get_name(self) -> str:
        return type(self).__name__

    def __repr__(self):
        extra = self.extra_repr()
        extra_lines = extra.split("\n") if extra else []
        child_lines = [f"({k}): " + _addindent(repr(m), 2) for k, m in self._modules.items()]
        lines = extra_lines + child_lines
        out = self._get_name() + "("
        if lines:
            if len(extra_lines) == 1 and not child_lines:
                out += extra_lines[0]
            else:
                out += "\n  " + "\n  ".join(lines) + "\n"
        return out + ")"


# ---------------------------------------------------------------- helpers
class _Mismatch(Exception):
    def __init__(self, given, expected):
        super().__init__()
        self.given, self.expected = given, expected


def _to_host(value) -> np.ndarray:
    try:
        return np.asarray(value)
    except (TypeError, RuntimeError):
        if hasattr(value, "detach"):  # a torch tensor that requires grad, or a bfloat16 one
            return value.detach().cpu().float().numpy()
        raise


def _value_for(var: Variable, given) -> Tensor:
    """``given`` as a Tensor with ``var``'s backend, device, dtype and (checked) shape."""
    b = var._b
    shape = tuple(var.shape)
    if isinstance(given, Tensor) and given._b is b:
        t = wrap(given._native, b)
        if tuple(t.shape) != shape:
            raise _Mismatch(tuple(t.shape), shape)
        if t.dtype is not var.dtype:
            t = t.astype(var.dtype)
        return t.to(var.device)
    arr = _to_host(given)
    if tuple(arr.shape) != shape:
        raise _Mismatch(tuple(arr.shape), shape)
    arr = arr.astype(var.dtype.numpy_dtype, copy=False)
    return wrap(b.asarray(arr, dtype=b.native_dtype(var.dtype), device=str(var.device),
                          copy=True), b)


def _clone_variable(v: Variable) -> Variable:
    if isinstance(v, Parameter):
        return Parameter(v.value, v.trainable, name=v.name)
    if isinstance(v, Buffer):
        return Buffer(v.value, name=v.name)
    return Variable(v.value, trainable=v.trainable, name=v.name)


def _as_dtype_or_none(x):
    if isinstance(x, _dtypes.DType):
        return x
    if isinstance(x, str) and x in _dtypes._by_name:
        return _dtypes._by_name[x]
    return None


def _parse_to_args(args, kwargs):
    device = kwargs.pop("device", None)
    dtype = kwargs.pop("dtype", None)
    kwargs.pop("non_blocking", None)
    if kwargs:
        raise TypeError(f"to() got unexpected keyword arguments {sorted(kwargs)}")
    for a in args:
        if isinstance(a, Tensor):
            device, dtype = a.device, a.dtype
        elif _as_dtype_or_none(a) is not None:
            dtype = a
        elif isinstance(a, (str, Device)):
            device = a
        elif a is not None:
            raise TypeError(f"to() received an invalid argument {a!r}")
    return device, (_dtypes.as_dtype(dtype) if dtype is not None else None)
