"""The ``unifw`` command.

``unifw conformance [--backend all|NAME,...] [--device auto|cpu,gpu:0] [--mode eager,compiled]
[--profile dev|ci|thorough] [--op GLOB,...] [--check values,grad,errors,models,checkpoints]
[--report out.html] [--json out.json]`` runs the conformance suite (pytest with the
``unifw_conformance`` plugin), prints the op x backend x mode matrix and ends with the line
``N passed, N failed``. The exit status is 0 only when nothing failed.
"""
from __future__ import annotations

import argparse
import os
import sys


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="unifw", description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="command", required=True)
    c = sub.add_parser("conformance", help="run the conformance suite on installed backends",
                       description="Check that backends agree with the float64 reference "
                                   "and each other, in every mode and on every device.")
    c.add_argument("--backend", default="all", help="comma list of backends, or 'all'")
    c.add_argument("--device", default="auto",
                   help="'auto' (cpu plus any GPU present), or e.g. cpu,gpu:0 (a device "
                        "named here that is absent fails the run)")
    c.add_argument("--mode", default="eager,compiled", help="eager, compiled or both")
    c.add_argument("--profile", default="ci", choices=("dev", "ci", "thorough"),
                   help="examples per check and dtypes tested (default: ci)")
    c.add_argument("--op", default="", help="registry entries to test (glob patterns)")
    c.add_argument("--check", default="values,grad,errors,models,checkpoints",
                   help="checks to run")
    c.add_argument("--report", metavar="HTML", help="write the HTML report here")
    c.add_argument("--json", metavar="JSON", help="write the JSON report here")
    c.add_argument("-x", "--exitfirst", action="store_true", help="stop at the first failure")
    c.add_argument("-q", "--quiet", action="store_true", help="no per-test progress")
    return p


class _Collector:
    """pytest plugin object that keeps each test's outcome for the final line."""

    def __init__(self):
        self.passed = self.failed = 0
        self.plan = None

    def pytest_runtest_logreport(self, report):
        if report.when == "call" and report.passed and not hasattr(report, "wasxfail"):
            self.passed += 1
        elif report.failed:
            self.failed += 1

    def pytest_sessionfinish(self, session):
        self.plan = getattr(session.config, "_unifw_conformance_plan", None)


def conformance(args) -> int:
    import pytest

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    pyargs = ["--pyargs", "unifw_conformance", "-p", "no:cacheprovider", "-q",
              "--no-header", "-rN", "--tb=no", "-p", "no:warnings",
              "--unifw-backend", args.backend, "--unifw-device", args.device,
              "--unifw-mode", args.mode, "--unifw-profile", args.profile,
              "--unifw-check", args.check]
    if args.op:
        pyargs += ["--unifw-op", args.op]
    if args.report:
        pyargs += ["--unifw-html", args.report]
    if args.json:
        pyargs += ["--unifw-json", args.json]
    if args.exitfirst:
        pyargs.append("-x")
    if args.quiet:
        pyargs.append("-qq")
    if os.environ.get("PYTEST_DISABLE_PLUGIN_AUTOLOAD"):
        pyargs += ["-p", "unifw_conformance.plugin"]
    collector = _Collector()
    code = pytest.main(pyargs, plugins=[collector])
    if collector.plan is not None:
        from unifw_conformance import report

        results = list(collector.plan.session.results.values())
        print()
        print(report.text_matrix(results))
        fails = report.failure_text(results)
        if fails:
            print()
            print(fails)
        if args.report:
            print(f"\nHTML report: {args.report}")
    print(f"{collector.passed} passed, {collector.failed} failed")
    if code == 0 and collector.failed == 0:
        return 0
    return int(code) or 1


def main(argv=None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "conformance":
        return conformance(args)
    return 2


if __name__ == "__main__":
    sys.exit(main())
