"""Running an op on a target (backend, device, mode): converting cases, calling, compiling."""
from __future__ import annotations

import contextlib
from dataclasses import dataclass

import numpy as np

import unifw as uf

from .registry import Entry, Foreign, OtherDevice


class PlacementError(AssertionError):
    """A result, gradient or state is on the wrong backend or device."""


def on(backend: str):
    """``uf.use_backend(backend)``, or nothing when it is already the active backend.

    An open ``use_backend`` block makes every creation op read a ContextVar, which
    torch.compile cannot trace (a graph break per op); the conformance process of one
    backend selects it process-wide, so its compiled checks trace whole graphs, as users'
    code does.
    """
    if uf.backend() == backend:
        return contextlib.nullcontext()
    return uf.use_backend(backend)


@dataclass(frozen=True)
class Target:
    """Where a check runs: backend name, device ("cpu", "gpu:0") and mode (eager, compiled)."""

    backend: str
    device: str = "cpu"
    mode: str = "eager"

    def __str__(self):
        return f"{self.backend}/{self.device}/{self.mode}"

    @property
    def b(self):
        return uf.get_backend(self.backend)

    def tensor(self, a: np.ndarray):
        with on(self.backend):
            return uf.asarray(a, device=self.device)

    def convert(self, obj):
        """Case arguments -> tensors on this target (lists, tuples, dicts searched)."""
        if isinstance(obj, np.ndarray):
            return self.tensor(obj)
        if isinstance(obj, Foreign):
            other = next((n for n in uf.available_backends() if n != self.backend), None)
            if other is None:
                raise Unavailable("a backend-mix case needs a second installed backend")
            with on(other):
                return uf.asarray(obj.value)
        if isinstance(obj, OtherDevice):
            devs = [d for d in uf.devices(self.backend) if d != self.device]
            if not devs:
                raise Unavailable(f"a device-mix case needs a second device on {self.backend}")
            with on(self.backend):
                return uf.asarray(obj.value, device=devs[0])
        if isinstance(obj, list):
            return [self.convert(v) for v in obj]
        if isinstance(obj, tuple):
            return tuple(self.convert(v) for v in obj)
        if isinstance(obj, dict):
            return {k: self.convert(v) for k, v in obj.items()}
        return obj


class Unavailable(Exception):
    """This check cannot run here (e.g. it needs a second device); reported as skipped."""


# ---------------------------------------------------------------- calling
def op_function(entry: Entry):
    from unifw._dispatch import FUNCS

    return FUNCS.get(entry.name)


def invoke(entry: Entry, args, kwargs):
    fn = op_function(entry)
    if entry.call is not None:
        return entry.call(fn, *args, **kwargs)
    return fn(*args, **kwargs)


def outputs(result) -> tuple:
    """A result as a tuple of tensors (single results become 1-tuples)."""
    if isinstance(result, (tuple, list)):
        return tuple(result)
    return (result,)


# ---------------------------------------------------------------- tensor leaves
def split_tensors(obj):
    """(leaves, rebuild): the tensors inside nested args and a function putting new ones back."""
    leaves = []

    def strip(o):
        if isinstance(o, uf.Tensor):
            leaves.append(o)
            return _Slot(len(leaves) - 1)
        if isinstance(o, list):
            return [strip(v) for v in o]
        if isinstance(o, tuple):
            return tuple(strip(v) for v in o)
        if isinstance(o, dict):
            return {k: strip(v) for k, v in o.items()}
        return o

    skeleton = strip(obj)

    def rebuild(new_leaves):
        def fill(o):
            if isinstance(o, _Slot):
                return new_leaves[o.i]
            if isinstance(o, list):
                return [fill(v) for v in o]
            if isinstance(o, tuple):
                return tuple(fill(v) for v in o)
            if isinstance(o, dict):
                return {k: fill(v) for k, v in o.items()}
            return o

        return fill(skeleton)

    return leaves, rebuild


@dataclass(frozen=True)
class _Slot:
    i: int


# per backend, extra options for the framework's compiler (uf.function(backend_options=...)),
# e.g. {"torch": {"backend": "aot_eager"}}; set from --unifw-compile-option
COMPILE_OPTIONS: dict = {}


class Traced:
    """``uf.function(fn)`` that records its trace count after every call: a second call with
    inputs of the same shapes and dtypes must not trace (or compile) again."""

    def __init__(self, fn):
        options = COMPILE_OPTIONS.get(uf.backend())
        self.compiled = uf.function(fn, backend_options=options) if options else \
            uf.function(fn)
        self.counts = []

    def __call__(self, *leaves):
        out = self.compiled(*leaves)
        self.counts.append(getattr(self.compiled, "trace_count", 0))
        return out

    def retraced(self) -> bool:
        return len(self.counts) > 1 and self.counts[-1] != self.counts[0]

    def retrace_message(self) -> str:
        return (f"traced again on a second call with inputs of the same shapes and dtypes "
                f"(trace counts after each call: {self.counts})")


def run_op(entry: Entry, target: Target, args, kwargs):
    """Call the op eagerly on converted args (the compiled path is in :mod:`.checks`)."""
    with on(target.backend):
        return outputs(invoke(entry, args, kwargs))


# ---------------------------------------------------------------- placement
def check_placement(tensors, target: Target, what="output"):
    for i, t in enumerate(tensors):
        label = f"{what}[{i}]" if len(tensors) > 1 else what
        if not isinstance(t, uf.Tensor):
            raise PlacementError(f"{label} is a {type(t).__name__}, expected a unifw Tensor")
        if t.backend_name != target.backend:
            raise PlacementError(f"{label} is on backend {t.backend_name!r}, expected "
                                 f"{target.backend!r}")
        if str(t.device) != target.device:
            raise PlacementError(f"{label} is on device {str(t.device)!r}, expected "
                                 f"{target.device!r} (the requested device)")


def to_numpy(t) -> np.ndarray:
    return np.asarray(t.numpy())


def strict_precision(backend: str) -> None:
    """Turn off TF32 and reduced-precision matmuls (correctness runs on GPUs)."""
    if backend == "torch":
        import torch

        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
    elif backend == "tensorflow":
        import tensorflow as tf

        tf.config.experimental.enable_tensor_float_32_execution(False)
    elif backend == "jax":
        import jax

        jax.config.update("jax_default_matmul_precision", "highest")
