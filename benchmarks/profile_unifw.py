"""Where unifw's eager time goes: ``python -m benchmarks.profile_unifw --backend torch``.

1. Per-op layers, 4x4 float32 ``add``/``matmul``: the native operator, the backend's
   function called directly with natives (``backend.add(a, b)``), and the public op
   (``ua + ub``); the differences are the backend-function and facade costs.
2. cProfile of eager training steps (default workload (a)): the facade functions by
   own time, and the Python calls each step makes.
"""
from __future__ import annotations

import argparse
import cProfile
import io
import operator
import os
import pstats
import sys
import timeit


def op_layers(backend: str, calls: int = 20000, repeat: int = 7) -> list:
    import unifw as uf
    from unifw._registry import get_backend

    from .worker import _native_module

    if backend == "numpy":
        import numpy as np

        na = np.arange(16, dtype=np.float32).reshape(4, 4) / 16
        nb = na + 1
    else:
        na, nb = _native_module(backend).op_operands("cpu")
    b = get_backend(backend)
    ua, ub = uf.from_native(na), uf.from_native(nb)
    rows = []
    for name, op in (("add", operator.add), ("matmul", operator.matmul)):
        impl = getattr(b, name)
        fn = getattr(uf, name)
        layers = {"native operator": lambda: op(na, nb),
                  f"backend.{name}(natives)": lambda: impl(na, nb),
                  f"uf.{name}(ua, ub)": lambda: fn(ua, ub),
                  "unifw operator": lambda: op(ua, ub)}
        best = {k: min(timeit.repeat(f, number=calls, repeat=repeat)) / calls * 1e6
                for k, f in layers.items()}
        rows.append((name, best))
    return rows


def profile_steps(backend: str, workload: str, mode: str, steps: int, top: int) -> str:
    from . import impl_unifw, workloads

    step = impl_unifw.build(workload, workloads.make_data(workload), mode)
    for _ in range(3):
        step()
    prof = cProfile.Profile()
    prof.enable()
    for _ in range(steps):
        step()
    prof.disable()
    out = io.StringIO()
    st = pstats.Stats(prof, stream=out)
    st.sort_stats("tottime").print_stats(top)
    total_calls = sum(v[1] for v in st.stats.values())
    return (f"{workload} {mode} on {backend}: {total_calls / steps:.0f} Python calls per step\n"
            + out.getvalue())


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--backend", default="torch")
    ap.add_argument("--workload", default="two_layer")
    ap.add_argument("--mode", default="eager")
    ap.add_argument("--steps", type=int, default=50)
    ap.add_argument("--top", type=int, default=30)
    ap.add_argument("--cpu", type=int, default=None)
    args = ap.parse_args(argv)
    if args.cpu is not None:
        os.sched_setaffinity(0, {args.cpu})
    from .worker import _configure_framework

    _configure_framework(args.backend, gpu=False)
    import unifw as uf

    uf.set_backend(args.backend)
    print(f"== per-op layers on {args.backend} (best of 7, us per call)")
    for name, best in op_layers(args.backend):
        base = best["native operator"]
        print(f"  {name}: " + ", ".join(f"{k} {v:.2f} ({v - base:+.2f})" for k, v in best.items()))
    if args.backend != "numpy":
        print(profile_steps(args.backend, args.workload, args.mode, args.steps, args.top))
    return 0


if __name__ == "__main__":
    sys.exit(main())
