"""One backend's benchmarks, in their own process (started by :mod:`benchmarks.run`).

The process is pinned to one CPU core with one intra-op thread (set by the
parent through the environment and ``--cpu``), selects the unifw backend, and
then runs every workload three ways in this same process: unifw, native code
and Keras 3 (``KERAS_BACKEND`` is this backend). Results go to ``--json-out``.
"""
from __future__ import annotations

import argparse
import json
import operator
import os
import sys

MODES = {"torch": ("eager", "compiled"), "jax": ("eager", "compiled"),
         "tensorflow": ("eager", "compiled", "xla"), "numpy": ()}
NATIVE_MODULE = {"torch": "impl_torch", "jax": "impl_jax", "tensorflow": "impl_tensorflow"}


def _configure_framework(backend: str, gpu: bool) -> str:
    """Import the framework, limit it to one intra-op thread; return its version."""
    if backend == "torch":
        import torch

        torch.set_num_threads(1)
        torch.set_num_interop_threads(1)
        return torch.__version__
    if backend == "tensorflow":
        import tensorflow as tf

        tf.config.threading.set_intra_op_parallelism_threads(1)
        tf.config.threading.set_inter_op_parallelism_threads(1)
        return tf.__version__
    if backend == "jax":
        import jax

        return jax.__version__
    import numpy

    return numpy.__version__


def gpu_present(backend: str) -> bool:
    if backend == "torch":
        import torch

        return torch.cuda.is_available()
    if backend == "tensorflow":
        import tensorflow as tf

        return bool(tf.config.list_physical_devices("GPU"))
    if backend == "jax":
        import jax

        try:
            return bool(jax.devices("gpu"))
        except RuntimeError:
            return False
    return False


def _prime_compiler(backend: str, device: str) -> None:
    """Compile a trivial function once, so one-off compiler imports are not charged to
    whichever implementation happens to compile first."""
    a, _ = _native_module(backend).op_operands(device)
    if backend == "torch":
        import torch

        a.requires_grad_(True)
        f = torch.compile(lambda v: (v * 2).sum())
        f(a).backward()
    elif backend == "tensorflow":
        import tensorflow as tf

        tf.function(lambda v: v * 2)(a).numpy()
        tf.function(lambda v: v * 2, jit_compile=True)(a).numpy()
    elif backend == "jax":
        import jax

        jax.jit(jax.grad(lambda v: (v * 2).sum()))(a).block_until_ready()


def _unifw_ready(backend: str):
    """Select the unifw backend; the error text if unifw cannot run it here."""
    try:
        import unifw as uf

        uf.set_backend(backend)
        return None
    except Exception as exc:
        return f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}"


def _native_module(backend):
    import importlib

    return importlib.import_module(f"benchmarks.{NATIVE_MODULE[backend]}")


def _op_loop(fn, a, b):
    def loop(n):
        r = None
        for _ in range(n):
            r = fn(a, b)
        return r
    return loop


def _raiser(exc):
    def loop(n):
        raise exc
    return loop


def run_overhead(backend: str, device: str, impls, settings, calls: int) -> list:
    """(e) per-op eager time of 4x4 float32 ``a + b`` and ``a @ b``: unifw and native
    operators, and ``keras.ops.add`` / ``keras.ops.matmul`` on native arrays."""
    from .timing import _stats, time_loops

    if backend == "numpy":
        import numpy as np

        a = np.arange(16, dtype=np.float32).reshape(4, 4) / 16
        na, nb, nsync = a, a + 1, (lambda r: None)
    else:
        mod = _native_module(backend)
        (na, nb), nsync = mod.op_operands(device), mod.sync
    rows = []
    for op_name, op in (("add", operator.add), ("matmul", operator.matmul)):
        loops = {"native": _op_loop(op, na, nb)}
        sync = {"native": nsync, "unifw": lambda r: nsync(r.native), "keras": nsync}
        if "unifw" in impls:
            try:
                import unifw as uf

                loops["unifw"] = _op_loop(op, uf.from_native(na), uf.from_native(nb))
            except Exception as exc:
                loops["unifw"] = _raiser(exc)
        if "keras" in impls:
            try:
                import keras

                kfn = keras.ops.add if op_name == "add" else keras.ops.matmul
                loops["keras"] = _op_loop(kfn, na, nb)
            except Exception as exc:
                loops["keras"] = _raiser(exc)
        res = time_loops(loops, {k: sync[k] for k in loops}, settings, calls)
        row = {"op": op_name, **{k: v.summary(settings.clock) for k, v in res.items()}}
        u, n = res.get("unifw"), res["native"]
        if u is not None and u.error is None and n.error is None:
            # unifw's and native's samples of a round were taken close in time: differences
            # cancel the drift between rounds, which on a shared machine is larger than
            # the overhead measured
            c = settings.clock
            row["paired_overhead"] = _stats([a - b for a, b in zip(u.times[c], n.times[c])])
            # the same pairs as ratios: a slow phase of the machine (a busy neighbour)
            # stretches both samples of a round by one factor, so the ratio keeps the
            # facade's share while the difference grows with the phase
            row["paired_ratio"] = _stats([a / b for a, b in zip(u.times[c], n.times[c])])
        rows.append(row)
    return rows


def _builders(backend, name, data, mode, device, impls) -> dict:
    """``{impl: build()}``; an implementation whose module cannot be imported is reported
    by its builder raising, not here."""
    import importlib

    modules = {"unifw": "impl_unifw", "native": NATIVE_MODULE[backend], "keras": "impl_keras"}

    def builder(impl):
        def build():
            mod = importlib.import_module(f"benchmarks.{modules[impl]}")
            return mod.build(name, data, mode, device)
        return build

    builders = {impl: builder(impl) for impl in impls}
    if backend == "torch" and "keras" in builders:
        builders["keras"] = _with_dynamo_default(builders["keras"])
    return builders


def _reset_compiler(backend):
    """Start each workload with empty Dynamo caches: Keras compiles every model's train step
    from the same code object, and Dynamo's automatic dynamic shapes then recompile the
    second model with symbolic sizes, which fails in Inductor for convolutions (Keras 3.15
    and torch 2.13, with or without unifw)."""
    if backend == "torch":
        import torch._dynamo

        torch._dynamo.reset()


def _with_dynamo_default(build):
    """unifw's torch backend sets ``torch._dynamo.config.trace_autograd_ops = True`` for the
    whole process; with it, Keras' ``torch.compile``d train step fails from its second call
    (and leaves Dynamo broken for later compiles). Give Keras' calls Dynamo's default."""
    def build_isolated():
        import torch._dynamo

        cfg = torch._dynamo.config
        step = build()

        def step_isolated():
            flag = cfg.trace_autograd_ops
            cfg.trace_autograd_ops = False
            try:
                return step()
            finally:
                cfg.trace_autograd_ops = flag
        return step_isolated
    return build_isolated


def run_workloads(backend, device, workloads, modes, impls, settings) -> list:
    from . import workloads as W
    from .timing import time_steps

    rows = []
    for name in workloads:
        data = W.make_data(name)
        for mode in modes:
            _reset_compiler(backend)
            res = time_steps(_builders(backend, name, data, mode, device, impls), settings)
            summary = {k: v.summary(settings.clock) for k, v in res.items()}
            rows.append({"workload": name, "mode": mode, **summary})
            print(f"[{backend}] {name:12s} {mode:8s} " + "  ".join(
                f"{k}={s['median'] * 1e3:.3f}ms" if "median" in s else f"{k}=ERR({s['error'][:80]})"
                for k, s in summary.items()), file=sys.stderr, flush=True)
    return rows


def _versions(backend, framework_version):
    import platform

    import numpy

    import unifw

    v = {"python": platform.python_version(), "numpy": numpy.__version__,
         "unifw": unifw.__version__, backend: framework_version}
    try:
        import keras

        v["keras"] = keras.__version__
    except Exception:
        pass
    if backend == "jax":
        import optax

        v["optax"] = optax.__version__
    return v


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--backend", required=True)
    ap.add_argument("--device", default="cpu", choices=("cpu", "gpu"))
    ap.add_argument("--workloads", default="two_layer,mlp,cnn,transformer")
    ap.add_argument("--modes", default="eager,compiled,xla")
    ap.add_argument("--impls", default="unifw,native,keras")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--clock", choices=("cpu", "wall"), default=None,
                    help="clock reported (default: cpu on CPU, wall on GPU)")
    ap.add_argument("--no-overhead", action="store_true")
    ap.add_argument("--cpu", type=int, default=None, help="pin this process to one CPU core")
    ap.add_argument("--json-out", required=True)
    args = ap.parse_args(argv)
    if args.cpu is not None and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {args.cpu})

    from .timing import Settings

    clock = args.clock or ("wall" if args.device == "gpu" else "cpu")
    settings = Settings.quick(clock) if args.quick else Settings(clock=clock)
    backend = args.backend
    fw_version = _configure_framework(backend, args.device == "gpu")
    out = {"backend": backend, "device": args.device, "cpu": args.cpu, "clock": clock}
    device = "cpu"
    if args.device == "gpu":
        if not gpu_present(backend):
            out["skipped"] = f"no GPU visible to {backend}"
            _write(args.json_out, out)
            return 0
        device = "gpu:0"
    out["unifw_error"] = _unifw_ready(backend)
    out["versions"] = _versions(backend, fw_version)
    impls = [i for i in args.impls.split(",") if i]
    if not args.no_overhead:
        out["overhead"] = run_overhead(backend, device, impls, settings,
                                       50 if args.quick else 1000)
    modes = [m for m in args.modes.split(",") if m in MODES[backend]]
    if any(m != "eager" for m in modes):
        _prime_compiler(backend, device)
    workloads = [w for w in args.workloads.split(",") if w]
    impls = [i for i in args.impls.split(",") if i]
    out["rows"] = run_workloads(backend, device, workloads, modes, impls, settings)
    _write(args.json_out, out)
    return 0


def _write(path, obj):
    with open(path, "w") as f:
        json.dump(obj, f, indent=1)


if __name__ == "__main__":
    sys.exit(main())
