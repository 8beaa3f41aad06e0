"""Run the benchmark suite: ``python -m benchmarks.run [--backends torch,jax] [--gpu] [--quick]``.

For each backend, one worker process (``KERAS_BACKEND`` set to it, pinned to one
core, one intra-op thread) times every workload written with unifw, with the
framework's own API and with Keras 3, eager and compiled; then fresh processes
time start-up. Results are merged into ``benchmarks/results/<cpu|gpu>.json`` and
rendered into ``docs/benchmarks.md`` (between generated markers) and a PNG chart.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from . import report, startup
from .workloads import WORKLOADS

ROOT = Path(__file__).resolve().parent.parent
BACKENDS = ("torch", "tensorflow", "jax", "numpy")


def installed_backends() -> list:
    import unifw

    avail = unifw.available_backends()
    return [b for b in BACKENDS if b in avail]


def default_cpu():
    """Pin to core 1 when there are at least two (core 0 takes most interrupts)."""
    if not hasattr(os, "sched_getaffinity"):
        return None
    cores = sorted(os.sched_getaffinity(0))
    return cores[1] if len(cores) > 1 else cores[0]


def worker_env(backend: str, gpu: bool) -> dict:
    """Environment of a worker: one thread everywhere, Keras on ``backend``, cold compiles."""
    env = dict(os.environ)
    env.update({
        "KERAS_BACKEND": backend, "UNIFW_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "3",
        "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1",
        "TF_NUM_INTRAOP_THREADS": "1", "TF_NUM_INTEROP_THREADS": "1",
        "TORCHINDUCTOR_COMPILE_THREADS": "1",
        # measure cold compiles: no on-disk caches from earlier runs
        "TORCHINDUCTOR_FX_GRAPH_CACHE": "0", "TORCHINDUCTOR_AUTOGRAD_CACHE": "0",
        "JAX_ENABLE_COMPILATION_CACHE": "false",
        "PYTHONPATH": os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p),
    })
    env["XLA_FLAGS"] = (env.get("XLA_FLAGS", "") + " --xla_cpu_multi_thread_eigen=false "
                        "intra_op_parallelism_threads=1").strip()
    if not gpu:
        env["CUDA_VISIBLE_DEVICES"] = ""
        env["JAX_PLATFORMS"] = "cpu"
    return env


def run_backend(backend: str, args, cpu) -> dict:
    env = worker_env(backend, args.gpu)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "result.json"
        cmd = [sys.executable, "-m", "benchmarks.worker", "--backend", backend,
               "--device", "gpu" if args.gpu else "cpu", "--workloads", args.workloads,
               "--modes", args.modes, "--json-out", str(out)]
        if cpu is not None:
            cmd += ["--cpu", str(cpu)]
        if args.quick:
            cmd.append("--quick")
        cmd += ["--impls", args.impls]
        if args.clock:
            cmd += ["--clock", args.clock]
        if args.no_overhead:
            cmd.append("--no-overhead")
        print(f"== {backend}: {' '.join(cmd[1:])}", file=sys.stderr, flush=True)
        p = subprocess.run(cmd, env=env, cwd=ROOT)
        if p.returncode != 0 or not out.exists():
            return {"backend": backend, "error": f"worker exited with status {p.returncode}"}
        result = json.loads(out.read_text())
    if not args.gpu and not args.skip_startup and "skipped" not in result:
        result["startup"] = startup.measure(backend, env, cpu, 1 if args.quick else 5,
                                            args.clock or "cpu")
    return result


def parse_args(argv=None):
    ap = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--backends", default="all",
                    help="comma-separated backends (default: every installed one)")
    ap.add_argument("--workloads", default=",".join(WORKLOADS),
                    help=f"comma-separated subset of {','.join(WORKLOADS)}")
    ap.add_argument("--modes", default="eager,compiled,xla",
                    help="comma-separated subset of eager,compiled,xla (xla: TensorFlow only)")
    ap.add_argument("--impls", default="unifw,native,keras",
                    help="comma-separated subset of unifw,native,keras")
    ap.add_argument("--clock", choices=("cpu", "wall"), default=None,
                    help="clock reported: process CPU time (default on CPU) or wall time "
                    "(default with --gpu)")
    ap.add_argument("--gpu", action="store_true",
                    help="run on the GPU (skips cleanly on a backend that sees none)")
    ap.add_argument("--quick", action="store_true", help="smoke run: very few steps")
    ap.add_argument("--cpu", type=int, default=None,
                    help="core to pin workers to (default: core 1 if present; -1: no pinning)")
    ap.add_argument("--skip-startup", action="store_true", help="skip (f) start-up timing")
    ap.add_argument("--no-overhead", action="store_true", help="skip (e) per-op overhead")
    ap.add_argument("--results", type=Path, default=None,
                    help="results JSON to merge into (default: benchmarks/results/<cpu|gpu>.json)")
    ap.add_argument("--doc", type=Path, default=None,
                    help="Markdown file whose generated section is updated (default: "
                    "docs/benchmarks.md; with --quick only when given)")
    ap.add_argument("--no-doc", action="store_true", help="do not touch the Markdown/PNG")
    return ap.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    kind = "gpu" if args.gpu else "cpu"
    backends = installed_backends() if args.backends == "all" else [
        b.strip() for b in args.backends.split(",") if b.strip()]
    cpu = default_cpu() if args.cpu is None else (None if args.cpu < 0 else args.cpu)
    suffix = "-quick" if args.quick else ""
    results_path = args.results or ROOT / "benchmarks" / "results" / f"{kind}{suffix}.json"
    doc = args.doc or (None if args.quick else ROOT / "docs" / "benchmarks.md")
    merged = report.load(results_path)
    merged["machine"] = report.machine_info(cpu, gpu=args.gpu)
    ran = []
    for b in backends:
        res = run_backend(b, args, cpu)
        if "skipped" in res:  # keep what an earlier run on a machine with a GPU measured
            print(f"== {b}: skipped ({res['skipped']})", file=sys.stderr)
            continue
        report.merge_backend(merged, b, res)
        ran.append(b)
    if not ran:
        print("nothing ran: results and documentation left unchanged", file=sys.stderr)
        return 0
    report.save(results_path, merged)
    if doc is not None and not args.no_doc:
        png = doc.with_name(f"benchmarks_{kind}.png")
        report.write_chart(merged, png)
        report.update_doc(doc, kind, report.markdown(merged, kind, png.name))
        print(f"wrote {doc} and {png}", file=sys.stderr)
    print(report.markdown(merged, kind, None))
    return 0


if __name__ == "__main__":
    sys.exit(main())
