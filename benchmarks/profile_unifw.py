"""Where unifw's own time goes: ``python -m benchmarks.profile_unifw --backend torch``.

1. Per-op layers, 4x4 float32 ``add``/``matmul`` (process CPU time, best of 7): the
   native operator, the backend's function called with natives (``backend.add(a, b)``),
   the public function and the Tensor operator. The differences are the backend
   function's and the facade's costs.
2. Python calls made by one training step, unifw against native code: a count that
   does not depend on the machine's load, with the facade functions called most.
3. cProfile of unifw training steps, by own time.
"""
from __future__ import annotations

import argparse
import collections
import cProfile
import io
import operator
import os
import pstats
import sys
import time
import timeit


def _operands(backend):
    if backend == "numpy":
        import numpy as np

        a = np.arange(16, dtype=np.float32).reshape(4, 4) / 16
        return a, a + 1
    from .worker import _native_module

    return _native_module(backend).op_operands("cpu")


def _best_us(fn, calls, repeat):
    return min(timeit.repeat(fn, number=calls, repeat=repeat, timer=time.process_time)) \
        / calls * 1e6


def op_layers(backend: str, calls: int = 20000, repeat: int = 7) -> list:
    """``[(op, {layer: us per call})]``."""
    import unifw as uf
    from unifw._registry import get_backend

    na, nb = _operands(backend)
    ua, ub = uf.from_native(na), uf.from_native(nb)
    b = get_backend(backend)
    rows = []
    for name, op in (("add", operator.add), ("matmul", operator.matmul)):
        layers = {"native operator": (op, na, nb),
                  f"backend.{name}(natives)": (getattr(b, name), na, nb),
                  f"uf.{name}(ua, ub)": (getattr(uf, name), ua, ub),
                  "unifw operator": (op, ua, ub)}
        rows.append((name, {k: _best_us(lambda f=f, x=x, y=y: f(x, y), calls, repeat)
                            for k, (f, x, y) in layers.items()}))
    return rows


def _count_calls(step) -> collections.Counter:
    counts = collections.Counter()

    def tracer(frame, event, arg):
        if event == "call":
            code = frame.f_code
            where = code.co_filename.rsplit("site-packages/", 1)[-1]
            counts[f"{os.path.relpath(where) if where.startswith('/') else where}:"
                   f"{code.co_name}"] += 1

    sys.setprofile(tracer)
    try:
        step()
    finally:
        sys.setprofile(None)
    return counts


def call_counts(backend: str, workload: str, mode: str, top: int) -> str:
    from . import impl_unifw, workloads
    from .worker import _native_module

    data = workloads.make_data(workload)
    steps = {"unifw": impl_unifw.build(workload, data, mode),
             "native": _native_module(backend).build(workload, data, mode)}
    lines = []
    for name, step in steps.items():
        for _ in range(4):
            step()
        counts = _count_calls(step)
        lines.append(f"  {name}: {sum(counts.values())} Python calls per step")
        if name == "unifw":
            lines += [f"      {n:4d} {where}" for where, n in counts.most_common(top)]
    return "\n".join(lines)


def profile_steps(workload: str, mode: str, steps: int, top: int) -> str:
    from . import impl_unifw, workloads

    step = impl_unifw.build(workload, workloads.make_data(workload), mode)
    for _ in range(3):
        step()
    prof = cProfile.Profile(time.process_time)
    prof.enable()
    for _ in range(steps):
        step()
    prof.disable()
    out = io.StringIO()
    pstats.Stats(prof, stream=out).sort_stats("tottime").print_stats(top)
    return out.getvalue()


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--backend", default="torch")
    ap.add_argument("--workload", default="two_layer")
    ap.add_argument("--mode", default="eager")
    ap.add_argument("--steps", type=int, default=50)
    ap.add_argument("--top", type=int, default=25)
    ap.add_argument("--cpu", type=int, default=None, help="pin to this core")
    args = ap.parse_args(argv)
    if args.cpu is not None:
        os.sched_setaffinity(0, {args.cpu})
    from .worker import _configure_framework

    _configure_framework(args.backend, gpu=False)
    import unifw as uf

    uf.set_backend(args.backend)
    print(f"== per-op layers on {args.backend}: us per call (CPU time, best of 7), "
          "difference to the native operator in brackets")
    for name, best in op_layers(args.backend):
        base = best["native operator"]
        print(f"  {name}: " + ", ".join(f"{k} {v:.2f} ({v - base:+.2f})" for k, v in best.items()))
    if args.backend == "numpy":
        return 0
    print(f"== {args.workload} {args.mode} on {args.backend}")
    print(call_counts(args.backend, args.workload, args.mode, args.top))
    print(profile_steps(args.workload, args.mode, args.steps, args.top))
    return 0


if __name__ == "__main__":
    sys.exit(main())
