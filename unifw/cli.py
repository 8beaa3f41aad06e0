"""The ``unifw`` command.

``unifw conformance [--backend all|NAME,...] [--device auto|cpu,gpu:0] [--mode eager,compiled]
[--profile dev|ci|thorough] [--op GLOB,...] [--check values,grad,errors,models,checkpoints]
[--report out.html] [--json out.json]`` runs the conformance suite (pytest with the
``unifw_conformance`` plugin) for each backend in its own process, prints the
op x backend x mode matrix and ends with the line ``N passed, N failed``. The exit status is
0 only when nothing failed. A backend that crashes its process fails, naming the check it
was running; the other backends still run. ``-j 2`` tests two backends at a time.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="unifw", description="unifw command-line tools")
    sub = p.add_subparsers(dest="command", required=True)
    c = sub.add_parser("conformance", help="run the conformance suite on installed backends",
                       description="Check that backends agree with the float64 reference "
                                   "and with each other, in every mode and on every device.")
    c.add_argument("--backend", default="all", help="comma list of backends, or 'all'")
    c.add_argument("--device", default="auto",
                   help="'auto' (cpu plus any GPU present), or e.g. cpu,gpu:0 (a device "
                        "named here that is absent fails the run)")
    c.add_argument("--mode", default="eager,compiled", help="eager,compiled (default both)")
    c.add_argument("--profile", default="ci", choices=("dev", "ci", "thorough"),
                   help="examples per check and dtypes tested (default: ci)")
    c.add_argument("--op", default="", help="registry entries to test (glob patterns)")
    c.add_argument("--check", default="values,grad,errors,models,checkpoints",
                   help="checks to run")
    c.add_argument("--report", metavar="HTML", help="write the HTML report here")
    c.add_argument("--json", metavar="JSON", help="write the JSON report here")
    c.add_argument("-x", "--exitfirst", action="store_true", help="stop at the first failure")
    c.add_argument("--compile-option", action="append", default=[],
                   metavar="BACKEND:KEY=VALUE",
                   help="option for a backend's compiler, e.g. torch:backend=aot_eager")
    c.add_argument("-j", "--jobs", type=int, default=os.cpu_count() or 1,
                   help="processes run at the same time (default: one per CPU core)")
    c.add_argument("--shards", type=int, default=0,
                   help="processes each backend's ops are spread over (default: --jobs)")
    return p


def _backends(spec: str) -> list[str]:
    import unifw as uf

    avail = uf.available_backends()
    names = [n.strip() for n in spec.split(",") if n.strip()]
    if not names or names == ["all"]:
        return avail
    missing = [n for n in names if n not in avail]
    if missing:
        raise SystemExit(f"unifw conformance: backend(s) {missing} not available here "
                         f"(installed: {', '.join(avail) or 'none'})")
    return names


def _jobs(args, backends: list[str]) -> list[tuple]:
    """(backend, shard, shards, name) of each process to run."""
    n = args.shards if args.shards > 0 else max(args.jobs, 1)
    # slowest first, so that no core idles at the end (JAX eager compiles every op per shape)
    order = sorted(backends, key=lambda b: _SLOWEST_FIRST.get(b, len(_SLOWEST_FIRST)))
    return [(b, i, n, f"{b}.{i}" if n > 1 else b) for b in order for i in range(n)]


_SLOWEST_FIRST = {"jax": 0, "torch": 1, "tensorflow": 2}


def _command(args, job: tuple, all_backends: list[str], tmp: str) -> list[str]:
    backend, shard, shards, name = job
    report = os.path.join(tmp, f"{name}.json")
    progress = os.path.join(tmp, f"{name}.progress")
    cmd = [sys.executable, "-m", "pytest", "--pyargs", "unifw_conformance",
           "-p", "no:cacheprovider", "-p", "no:warnings", "-p", "no:faulthandler", "-q",
           "--no-header", "--tb=no",
           "-rN", "--unifw-backend", backend, "--unifw-device", args.device,
           "--unifw-mode", args.mode, "--unifw-profile", args.profile,
           "--unifw-check", args.check, "--unifw-json", report,
           "--unifw-progress", progress, "--unifw-checkpoint-to", ",".join(all_backends),
           "--unifw-bank", os.path.join(tmp, "examples.pickle")]
    if shards > 1:
        cmd += ["--unifw-shard", f"{shard}/{shards}"]
    if args.op:
        cmd += ["--unifw-op", args.op]
    for opt in args.compile_option:
        cmd += ["--unifw-compile-option", opt]
    if args.exitfirst:
        cmd.append("-x")
    if os.environ.get("PYTEST_DISABLE_PLUGIN_AUTOLOAD"):
        cmd += ["-p", "unifw_conformance.plugin"]
    return cmd


def _collect(job: tuple, returncode: int, tmp: str):
    """(results, passed, failed) of one process."""
    from unifw_conformance.runner import Cell, Result

    backend, name = job[0], job[3]
    report = os.path.join(tmp, f"{name}.json")
    progress = os.path.join(tmp, f"{name}.progress")
    if os.path.exists(report):
        with open(report, encoding="utf-8") as f:
            data = json.load(f)
        results = [Result.from_dict(d) for d in data["results"]]
        meta = data["meta"]
        return results, int(meta.get("tests_passed", 0)), int(meta.get("tests_failed", 0))
    last = ""
    if os.path.exists(progress):
        with open(progress, encoding="utf-8") as f:
            last = f.read().strip()
    parts = last.split(":") if last.count(":") >= 5 else ["process", "process", backend,
                                                         "cpu", "eager", "-"]
    cell = Cell(parts[0], parts[1], backend, ":".join(parts[3:-2]), parts[-2], parts[-1])
    msg = (f"the conformance run of backend {backend!r} ended without a report (exit status "
           f"{returncode}); it was running {last or 'its setup'}")
    return [Result(cell, "failed", msg)], 0, 1


def _run_backends(args, jobs: list[tuple], backends: list[str], tmp: str) -> dict:
    """Run the processes (``args.jobs`` at a time); {job name: return code}. With one job at
    a time the output streams; with more, each process's output is printed when it ends."""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": os.environ.get("TF_CPP_MIN_LOG_LEVEL", "3")}
    codes: dict = {}
    by_name = {j[3]: j for j in jobs}
    queue = [j[3] for j in jobs]
    running: dict = {}
    while queue or running:
        while queue and len(running) < max(args.jobs, 1):
            b = queue.pop(0)
            cmd = _command(args, by_name[b], backends, tmp)
            if args.jobs <= 1:
                print(f"== {b} ==", flush=True)
                running[b] = (subprocess.Popen(cmd, env=env), None)
            else:
                log = open(os.path.join(tmp, f"{b}.log"), "w+", encoding="utf-8")
                running[b] = (subprocess.Popen(cmd, env=env, stdout=log,
                                               stderr=subprocess.STDOUT), log)
        for b, (proc, log) in list(running.items()):
            if proc.poll() is None:
                continue
            codes[b] = proc.returncode
            del running[b]
            if log is not None:
                log.seek(0)
                print(f"== {b} ==\n{log.read()}", flush=True)
                log.close()
        if running:
            time.sleep(0.2)
    return codes


def conformance(args) -> int:
    from unifw_conformance import registry, report, runner

    backends = _backends(args.backend)
    results, passed, failed = [], 0, 0
    with tempfile.TemporaryDirectory() as tmp:
        # examples are drawn once, here, and shared by every backend's process
        patterns = [p.strip() for p in args.op.split(",") if p.strip()]
        runner.prepare_bank(runner.PROFILES[args.profile], registry.select(patterns),
                            os.path.join(tmp, "examples.pickle"))
        jobs = _jobs(args, backends)
        codes = _run_backends(args, jobs, backends, tmp)
        for job in jobs:
            r, p, f = _collect(job, codes[job[3]], tmp)
            results += r
            passed += p
            failed += f
    meta = {"backends": ",".join(backends), "devices": args.device, "modes": args.mode,
            "profile": args.profile}
    print()
    print(report.text_matrix(results))
    fails = report.failure_text(results)
    if fails:
        print()
        print(fails)
    if args.report:
        report.write_html(args.report, results, meta)
        print(f"\nHTML report: {args.report}")
    if args.json:
        report.write_json(args.json, results, meta)
    print(f"{passed} passed, {failed} failed")
    return 0 if failed == 0 and passed > 0 else 1


def main(argv=None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "conformance":
        return conformance(args)
    return 2


if __name__ == "__main__":
    sys.exit(main())
