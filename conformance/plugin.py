"""pytest plugin of the unifw conformance suite (registered through the ``pytest11`` entry point).

Run it with ``pytest --pyargs unifw_conformance`` or ``unifw conformance``. Options:

``--unifw-backend torch,jax|all``  backends to test (default: every installed one)
``--unifw-device auto|cpu,gpu:0``  devices; a device named here that is absent fails the run
``--unifw-mode eager,compiled``    modes
``--unifw-profile dev|ci|thorough`` examples per check and dtypes (default ci)
``--unifw-op GLOB,...``            registry entries to test (default all)
``--unifw-check values,grad,errors,models,checkpoints``
``--unifw-json PATH`` / ``--unifw-html PATH``   reports of the run

The plugin does nothing for test files that do not use its fixtures, so it is harmless
in any other pytest run.
"""
from __future__ import annotations

import os
import zlib

import pytest

_ALL_CHECKS = ("values", "grad", "errors", "models", "checkpoints")


def pytest_addoption(parser):
    g = parser.getgroup("unifw", "unifw conformance suite")
    g.addoption("--unifw-backend", default="all", help="backends: comma list or 'all'")
    g.addoption("--unifw-device", default="auto",
                help="devices: 'auto' (cpu and any GPU present) or a comma list such as "
                     "cpu,gpu:0 (a listed device that is absent is a failure)")
    g.addoption("--unifw-mode", default="eager,compiled", help="modes: eager,compiled")
    g.addoption("--unifw-profile", default=None, help="dev, ci (default) or thorough")
    g.addoption("--unifw-op", default="", help="registry entries (glob patterns, comma list)")
    g.addoption("--unifw-check", default=",".join(_ALL_CHECKS), help="checks to run")
    g.addoption("--unifw-json", default=None, help="write a JSON report here")
    g.addoption("--unifw-html", default=None, help="write an HTML report here")
    g.addoption("--unifw-checkpoint-to", default="",
                help="backends that load the checkpoints saved by the tested ones (default: "
                     "the tested backends)")
    g.addoption("--unifw-bank", default=None,
                help="file of drawn examples shared by the processes of one run (read at "
                     "start, written at the end)")
    g.addoption("--unifw-compile-option", action="append", default=[],
                metavar="BACKEND:KEY=VALUE",
                help="option for a backend's compiler, e.g. torch:backend=aot_eager (repeat "
                     "for several)")
    g.addoption("--unifw-shard", default=None, metavar="I/N",
                help="run only shard I of N (0-based): the ops whose name hashes to I, so one "
                     "backend can be spread over several processes")
    g.addoption("--unifw-progress", default=None,
                help="file that always holds the id of the cell running now (to name the "
                     "culprit if a backend crashes the process)")


class _Counter:
    """pytest outcomes of this run, stored in the JSON report."""

    def __init__(self):
        self.passed = self.failed = 0

    def pytest_runtest_logreport(self, report):
        if report.when == "call" and report.passed and not hasattr(report, "wasxfail"):
            self.passed += 1
        elif report.failed:
            self.failed += 1


def _register_hypothesis_profiles():
    """``dev``, ``ci`` and ``thorough`` as hypothesis profiles too (unless the project defines
    its own), so ``--hypothesis-profile ci`` selects the matching conformance profile."""
    from hypothesis import HealthCheck, settings
    from hypothesis.errors import InvalidArgument

    from .runner import PROFILES

    for name, p in PROFILES.items():
        try:
            settings.get_profile(name)
        except InvalidArgument:
            settings.register_profile(name, max_examples=p.values, derandomize=p.derandomize,
                                      deadline=None, suppress_health_check=list(HealthCheck))


def pytest_configure(config):
    _register_hypothesis_profiles()
    config._unifw_conformance_counter = _Counter()
    config.pluginmanager.register(config._unifw_conformance_counter,
                                  "unifw-conformance-counter")


def _split(value):
    return [v.strip() for v in str(value).split(",") if v.strip()]


class Plan:
    """What this pytest run tests, from the command-line options."""

    def __init__(self, config):
        import unifw as uf

        from . import runner

        self.config = config
        want = _split(config.getoption("--unifw-backend"))
        avail = uf.available_backends()
        self.explicit = bool(want) and want != ["all"]
        if not want or want == ["all"]:
            self.backends = avail
        else:
            missing = [b for b in want if b not in avail]
            if missing:
                raise pytest.UsageError(
                    f"--unifw-backend: {missing} not available here (installed: {avail})")
            self.backends = want
        dev = _split(config.getoption("--unifw-device"))
        self.auto_device = dev in ([], ["auto"])
        self.devices = ["cpu"] if self.auto_device else dev
        self.modes = _split(config.getoption("--unifw-mode"))
        bad = [m for m in self.modes if m not in runner.MODES]
        if bad:
            raise pytest.UsageError(f"--unifw-mode: unknown {bad} (use eager, compiled)")
        self.profile = runner.PROFILES[_profile_name(config)]
        self.checks = _split(config.getoption("--unifw-check"))
        self.ops = _split(config.getoption("--unifw-op"))
        self.checkpoint_to = _split(config.getoption("--unifw-checkpoint-to")) or self.backends
        self.progress = config.getoption("--unifw-progress")
        self.shard = _shard(config.getoption("--unifw-shard"))
        self.bank_path = config.getoption("--unifw-bank")
        _compile_options(config.getoption("--unifw-compile-option"))
        if self.bank_path:
            runner.bank_for(self.profile).load(self.bank_path)
        self.results = []
        self._session = None
        self._gpu_devices = {}

    def gpu_devices(self, backend):
        """GPUs a backend sees, for ``auto``: they join the device list."""
        if backend not in self._gpu_devices:
            import unifw as uf

            self._gpu_devices[backend] = [d for d in uf.devices(backend) if d != "cpu"]
        return self._gpu_devices[backend]

    def running(self, cell_id: str) -> None:
        if self.progress:
            with open(self.progress, "w", encoding="utf-8") as f:
                f.write(cell_id)

    def cells(self):
        from . import registry, runner

        entries = registry.select(self.ops)
        checks = tuple(c for c in self.checks if c in runner.CHECKS)
        unknown = [c for c in self.checks if c not in runner.CHECKS]
        if unknown:
            raise pytest.UsageError(f"--unifw-check: unknown {unknown} (use {runner.CHECKS})")
        out = []
        for b in self.backends:
            devs = list(self.devices)
            if self.auto_device:
                devs += self.gpu_devices(b)
            out += runner.cells(entries, [b], devs, self.modes, self.profile, checks,
                                patterns=self.ops, all_backends=self.checkpoint_to)
        if self.shard is not None:
            i, n = self.shard
            out = [c for c in out if zlib.crc32(c.op.encode()) % n == i]
        return out

    @property
    def session(self):
        if self._session is None:
            from .runner import Session

            self._session = Session(self.cells(), self.profile)
        return self._session


def _shard(spec):
    if not spec:
        return None
    i, sep, n = str(spec).partition("/")
    try:
        i, n = int(i), int(n)
    except ValueError:
        i = n = -1
    if not sep or n < 1 or not 0 <= i < n:
        raise pytest.UsageError(f"--unifw-shard: expected I/N with 0 <= I < N, got {spec!r}")
    return i, n


def _compile_options(specs) -> None:
    from .execute import COMPILE_OPTIONS

    for spec in specs:
        backend, _, kv = spec.partition(":")
        key, sep, value = kv.partition("=")
        if not (backend and key and sep):
            raise pytest.UsageError(f"--unifw-compile-option: expected BACKEND:KEY=VALUE, got "
                                    f"{spec!r}")
        COMPILE_OPTIONS.setdefault(backend, {})[key] = value


def _profile_name(config) -> str:
    from .runner import PROFILES

    name = config.getoption("--unifw-profile")
    if name is None:
        hyp = getattr(config.option, "hypothesis_profile", None)
        name = hyp if hyp in PROFILES else os.environ.get("UNIFW_CONFORMANCE_PROFILE", "ci")
    if name not in PROFILES:
        raise pytest.UsageError(f"--unifw-profile: unknown {name!r} (use dev, ci, thorough)")
    return name


def _plan(config) -> Plan:
    plan = getattr(config, "_unifw_conformance_plan", None)
    if plan is None:
        plan = Plan(config)
        config._unifw_conformance_plan = plan
    return plan


def pytest_generate_tests(metafunc):
    names = metafunc.fixturenames
    if "conformance_cell" in names:
        plan = _plan(metafunc.config)
        cells = plan.session.cells
        metafunc.parametrize("conformance_cell", cells, ids=[c.id for c in cells])
    if "conformance_backend" in names:
        metafunc.parametrize("conformance_backend", _plan(metafunc.config).backends)
    if "conformance_mode" in names:
        metafunc.parametrize("conformance_mode", _plan(metafunc.config).modes)


@pytest.fixture
def conformance_plan(request) -> Plan:
    """The run's :class:`Plan` (backends, devices, modes, profile, session of results)."""
    return _plan(request.config)


def uf_scoped() -> bool:
    from unifw import _registry

    return bool(_registry._scopes_open)


def pytest_collection_finish(session):
    plan = getattr(session.config, "_unifw_conformance_plan", None)
    if plan is None:
        return
    if plan.explicit and len(plan.backends) == 1 and not uf_scoped():
        # one backend per process (``unifw conformance``): select it process-wide, so no
        # use_backend block is open while checks compile (see execute.on)
        import unifw as uf

        uf.set_backend(plan.backends[0])
    if any(d != "cpu" for d in plan.devices) or (
            plan.auto_device and any(plan.gpu_devices(b) for b in plan.backends)):
        from .execute import strict_precision

        for b in plan.backends:
            strict_precision(b)


def pytest_sessionfinish(session, exitstatus):
    plan = getattr(session.config, "_unifw_conformance_plan", None)
    if plan is None:
        return
    results = list(plan.session.results.values())
    counter = session.config._unifw_conformance_counter
    meta = {"backends": ",".join(plan.backends), "devices": ",".join(plan.devices),
            "modes": ",".join(plan.modes), "profile": plan.profile.name,
            "tests_passed": counter.passed, "tests_failed": counter.failed}
    from . import report
    from .runner import bank_for

    bank = bank_for(plan.profile)
    if plan.bank_path and bank.dirty:
        bank.save(plan.bank_path)
    path = session.config.getoption("--unifw-json")
    if path:
        report.write_json(path, results, meta)
    path = session.config.getoption("--unifw-html")
    if path:
        report.write_html(path, results, meta)
