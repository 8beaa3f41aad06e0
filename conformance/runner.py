"""Cells of the conformance matrix and running them under hypothesis.

A :class:`Cell` is one check of one registry entry on one backend, device, mode and
dtype. :func:`run_cell` draws examples with hypothesis, shrinks a failure to a minimal
example and returns a :class:`Result` naming op, backend, device, mode and dtype.
"""
from __future__ import annotations

import fnmatch
import os
import pickle
import random
import time
import traceback
import warnings
import zlib
from dataclasses import asdict, dataclass

from hypothesis import HealthCheck, given, seed, settings

import unifw as uf

from . import checks
from .cases import SIDES
from .execute import Target, Unavailable
from .registry import Entry, load

CHECKS = ("values", "grad", "errors", "models", "checkpoints")
MODES = ("eager", "compiled")


@dataclass(frozen=True)
class Profile:
    """How many examples each check draws, and which dtypes are tested."""

    name: str
    values: int
    compiled: int
    grad: int
    derandomize: bool
    dtypes: str  # "few" (one per kind, float32 and float64), "all"
    sides: tuple | None = None  # array sides drawn from these (None: any in range)
    models: int = 1  # architectures per model kind (MLP, CNN)
    compiled_dtypes: str = "one"  # "one": compiled cells for one dtype per op; "all"
    values_other: int | None = None  # examples for dtypes other than the op's main one
    compiled_errors: bool = True  # bad inputs also inside uf.function
    eager_grad_dtypes: tuple | None = None  # None: every gradient dtype, eagerly too


PROFILES = {
    "dev": Profile("dev", values=6, compiled=1, grad=2, derandomize=False, dtypes="few",
                   sides=(1, 3), values_other=3, compiled_errors=False,
                   eager_grad_dtypes=("float64",)),
    "ci": Profile("ci", values=10, compiled=1, grad=3, derandomize=True, dtypes="few",
                  sides=(1, 2, 3), values_other=4, compiled_errors=False,
                  eager_grad_dtypes=("float64",)),
    "thorough": Profile("thorough", values=200, compiled=10, grad=50, derandomize=False,
                        dtypes="all", models=10, compiled_dtypes="all"),
}

# "few": one representative per kind, and both float32 and float64
_FEW = (("bool",), ("int32", "int64", "int16", "int8", "uint8"), ("float32",), ("float64",),
        ("complex64", "complex128"))


def value_dtypes(entry: Entry, profile: Profile) -> list[str]:
    if profile.dtypes == "all":
        return list(entry.dtypes)
    return [next(d for d in group if d in entry.dtypes) for group in _FEW
            if any(d in entry.dtypes for d in group)]


def grad_dtypes(entry: Entry, profile: Profile) -> list[str]:
    want = entry.grad_dtypes if profile.dtypes != "all" else (
        *entry.grad_dtypes, "float16", "bfloat16", "complex128")
    return [d for d in dict.fromkeys(want) if d in entry.dtypes]


def _one(dtypes: list[str]) -> list[str]:
    """The dtype compiled checks use when a profile compiles one per op: float32 if tested."""
    return ["float32"] if "float32" in dtypes else dtypes[:1]


@dataclass(frozen=True)
class Cell:
    check: str
    op: str
    backend: str
    device: str
    mode: str
    dtype: str

    @property
    def id(self) -> str:
        return f"{self.check}:{self.op}:{self.backend}:{self.device}:{self.mode}:{self.dtype}"

    @property
    def target(self) -> Target:
        return Target(self.backend, self.device, self.mode)

    def where(self) -> dict:
        return dict(backend=self.backend, mode=self.mode, dtype=self.dtype, check=self.check,
                    device=self.device)


@dataclass
class Result:
    cell: Cell
    outcome: str  # passed, failed, skipped, xfailed
    message: str = ""
    example: str = ""
    seconds: float = 0.0

    @classmethod
    def from_dict(cls, d: dict) -> "Result":
        cell = Cell(d["check"], d["op"], d["backend"], d["device"], d["mode"], d["dtype"])
        return cls(cell, d["outcome"], d.get("message", ""), d.get("example", ""),
                   d.get("seconds", 0.0))

    def as_dict(self) -> dict:
        d = asdict(self.cell)
        d.update(id=self.cell.id, outcome=self.outcome, message=self.message,
                 example=self.example, seconds=round(self.seconds, 4))
        return d


def cells(entries, backends, devices, modes, profile: Profile, checks_=CHECKS,
          patterns=None, all_backends=None) -> list[Cell]:
    """The cells of a run. ``patterns`` (globs) also filter the model and checkpoint rows;
    ``all_backends`` are the destinations of checkpoint checks (default ``backends``)."""
    out = []
    for e in entries:
        for be in backends:
            for dev in devices:
                for mode in modes:
                    one = mode == "compiled" and profile.compiled_dtypes == "one"
                    if "values" in checks_:
                        dts = value_dtypes(e, profile)
                        out += [Cell("values", e.name, be, dev, mode, d)
                                for d in (_one(dts) if one else dts)]
                    if "grad" in checks_ and e.grad:
                        dts = grad_dtypes(e, profile)
                        if mode == "eager" and profile.eager_grad_dtypes:
                            dts = [d for d in dts if d in profile.eager_grad_dtypes] or dts
                        out += [Cell("grad", e.name, be, dev, mode, d)
                                for d in (_one(dts) if one else dts)]
                    if "errors" in checks_ and e.errors and (mode == "eager" or
                                                            profile.compiled_errors):
                        out.append(Cell("errors", e.name, be, dev, mode, "-"))
    extra = []
    for be in backends:
        for dev in devices:
            for mode in modes:
                if "models" in checks_:
                    extra += [Cell("models", f"model.{k}", be, dev, mode, "float32")
                              for k in ("mlp", "cnn")]
                if "checkpoints" in checks_ and mode == "eager":
                    extra += [Cell("checkpoints", f"checkpoint.to_{dest}", be, dev, mode,
                                   "float32") for dest in (all_backends or backends)]
    if patterns:
        extra = [c for c in extra if any(fnmatch.fnmatchcase(c.op, p) for p in patterns)]
    return out + extra


def skip_reason(cell: Cell, entry: Entry) -> str | None:
    """Why a cell cannot run here (None: it runs)."""
    b = uf.get_backend(cell.backend)
    if cell.mode == "compiled" and not b.supports_compile:
        return f"backend {cell.backend!r} has no compiler (uf.function runs eagerly)"
    if cell.mode == "compiled" and entry.dynamic_shape and cell.check != "errors":
        return "the result shape depends on the values; not compilable"
    if cell.check == "grad" and not b.supports_autodiff:
        return f"backend {cell.backend!r} has no autodiff"
    if cell.dtype != "-" and uf._dtypes.as_dtype(cell.dtype) not in b.dtype_map:
        return f"backend {cell.backend!r} has no {cell.dtype}"
    return entry.unsupported(**cell.where())


def _settings(n: int) -> settings:
    return settings(max_examples=n, derandomize=False, deadline=None, database=None,
                    print_blob=False, report_multiple_bugs=False,
                    suppress_health_check=list(HealthCheck))


def _hypothesis_run(strategy, n: int, seed_value: int, sink):
    """Run ``sink`` on hypothesis examples. The same seed gives the same examples, so a
    failure found on stored examples is found again here, and then shrunk."""

    @seed(seed_value)
    @_settings(n)
    @given(strategy)
    def run(case):
        sink(case)

    run()


class ExampleBank:
    """Examples drawn once per (entry, dtype, kind) and shared by every backend, device and
    mode: the same inputs everywhere, and the drawing is paid once."""

    def __init__(self, profile: Profile):
        self.profile = profile
        self._store: dict = {}
        self._session_seed = random.getrandbits(32)
        self.dirty = False  # examples drawn since the last load or save

    def seed(self, entry: Entry, dtype: str, grad: bool) -> int:
        base = zlib.crc32(f"{entry.name}/{dtype}/{grad}".encode())
        return base if self.profile.derandomize else base ^ self._session_seed

    def count(self, entry: Entry, dtype: str, grad: bool) -> int:
        if grad:
            return self.profile.grad
        main = _one(value_dtypes(entry, self.profile))
        if self.profile.values_other is None or dtype in main:
            return self.profile.values
        return self.profile.values_other

    def save(self, path) -> None:
        """Store the drawn examples (the next process of a run reuses them), atomically."""
        tmp = f"{path}.{os.getpid()}.tmp"
        with open(tmp, "wb") as f:
            pickle.dump(self._store, f)
        os.replace(tmp, path)
        self.dirty = False

    def load(self, path) -> None:
        try:
            with open(path, "rb") as f:
                self._store.update(pickle.load(f))
        except FileNotFoundError:
            pass

    def strategy(self, entry: Entry, dtype: str, grad: bool):
        return entry.cases(dtype, grad)

    def examples(self, entry: Entry, dtype: str, grad: bool) -> list:
        key = (entry.name, dtype, grad)
        if key not in self._store:
            got: list = []
            token = SIDES.set(self.profile.sides)
            try:
                _hypothesis_run(self.strategy(entry, dtype, grad),
                                self.count(entry, dtype, grad), self.seed(entry, dtype, grad),
                                got.append)
            finally:
                SIDES.reset(token)
            self._store[key] = got
            self.dirty = True
        return self._store[key]


def prepare_bank(profile: Profile, entries, path) -> None:
    """Draw every example a run of ``entries`` needs, once, and store them at ``path`` (the
    backend processes of ``unifw conformance`` then share them)."""
    bank = bank_for(profile)
    for e in entries:
        for d in value_dtypes(e, profile):
            bank.examples(e, d, False)
        if e.grad:
            for d in grad_dtypes(e, profile):
                bank.examples(e, d, True)
    bank.save(path)


_banks: dict = {}


def bank_for(profile: Profile) -> ExampleBank:
    if profile.name not in _banks:
        _banks[profile.name] = ExampleBank(profile)
    return _banks[profile.name]


def finish(cell: Cell, entry: Entry, failure: str | None, example: str, took: float) -> Result:
    """The Result of a cell that ran, applying the registry's expected failures (strict)."""
    expect = entry.expected_failure_entry(**cell.where())
    xfail = expect.reason if expect is not None else None
    if failure is not None:
        if xfail:
            return Result(cell, "xfailed", f"expected failure: {xfail}\n{failure}", example,
                          took)
        return Result(cell, "failed", failure, example, took)
    if xfail and expect.strict:
        return Result(cell, "failed", f"XPASS(strict): registered as an expected failure "
                      f"({xfail}) but passed; remove the registry's xfail", seconds=took)
    if xfail:
        return Result(cell, "passed", f"passed although registered as an intermittent "
                      f"failure ({xfail})", seconds=took)
    return Result(cell, "passed", seconds=took)


def run_cell(cell: Cell, profile: Profile | str = "ci") -> Result:
    """Run one cell on its own; never raises for a conformance failure (it is in the Result)."""
    profile = PROFILES[profile] if isinstance(profile, str) else profile
    if cell.check in ("models", "checkpoints"):
        return _run_model_cell(cell, profile)
    entry = load()[cell.op]
    start = time.perf_counter()
    reason = skip_reason(cell, entry)
    if reason:
        return Result(cell, "skipped", reason)
    try:
        _execute(cell, entry, profile)
    except Unavailable as e:
        return Result(cell, "skipped", str(e), seconds=time.perf_counter() - start)
    except _Failure as f:
        return finish(cell, entry, f.message, f.example, time.perf_counter() - start)
    return finish(cell, entry, None, "", time.perf_counter() - start)


class Session:
    """Runs the cells of one conformance run, batching compiled-mode cells (see
    :mod:`.batch`); results are cached so each cell runs once."""

    def __init__(self, cells_: list[Cell], profile: Profile | str = "ci"):
        self.profile = PROFILES[profile] if isinstance(profile, str) else profile
        self.cells = list(cells_)
        self.results: dict[Cell, Result] = {}

    @staticmethod
    def _batch_key(cell: Cell):
        if cell.mode == "compiled" and cell.check in ("values", "grad"):
            return (cell.check, cell.backend, cell.device, cell.dtype)
        return None

    def result(self, cell: Cell) -> Result:
        if cell in self.results:
            return self.results[cell]
        key = self._batch_key(cell)
        if key is None:
            self.results[cell] = run_cell(cell, self.profile)
            return self.results[cell]
        from .batch import run_batch

        group = []
        for c in self.cells:
            if self._batch_key(c) != key or c in self.results:
                continue
            reason = skip_reason(c, load()[c.op]) if c.check not in ("models",
                                                                  "checkpoints") else None
            if reason:
                self.results[c] = Result(c, "skipped", reason)
            else:
                group.append(c)
        if cell not in self.results and cell not in group:
            group.append(cell)
        if group:
            self.results.update(run_batch(group, self.profile))
        return self.results[cell]

    def run_all(self, progress=None) -> list[Result]:
        out = []
        for c in self.cells:
            r = self.result(c)
            out.append(r)
            if progress is not None:
                progress(r)
        return out


def _run_model_cell(cell: Cell, profile: Profile) -> Result:
    from . import models

    start = time.perf_counter()
    backends = [cell.backend] + ([cell.op.split("_", 1)[1]] if cell.check == "checkpoints"
                                 else [])
    for be in backends:
        b = uf.get_backend(be)
        if not b.supports_autodiff:
            return Result(cell, "skipped", f"backend {be!r} has no autodiff: models are "
                          "trained only where gradients exist")
        if cell.mode == "compiled" and not b.supports_compile:
            return Result(cell, "skipped", f"backend {be!r} has no compiler")
    kind = "mlp" if cell.op == "model.mlp" else None
    archs = models.model_examples(2 * profile.models, f"{cell.op}/{profile.name}",
                                  profile.derandomize)
    if kind is not None or cell.op == "model.cnn":
        archs = [a for a in archs if a.kind == (kind or "cnn")][:profile.models]
    else:
        archs = archs[:profile.models]
    for arch in archs:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                if cell.check == "models":
                    models.check_model(arch, cell.target)
                else:
                    models.check_checkpoint(arch, cell.target, backends[1])
        except Exception as e:  # noqa: BLE001 - any error is a finding
            msg = _describe(cell, e) + f"\nfailing example: {arch!r}"
            return Result(cell, "failed", msg, repr(arch), time.perf_counter() - start)
    return Result(cell, "passed", seconds=time.perf_counter() - start)


class _Failure(Exception):
    def __init__(self, message, example):
        super().__init__(message)
        self.message, self.example = message, example


def _describe(cell: Cell, exc: BaseException) -> str:
    head = (f"op {cell.op!r}, backend {cell.backend!r}, device {cell.device!r}, "
            f"mode {cell.mode!r}, dtype {cell.dtype!r}, check {cell.check!r}")
    body = f"{type(exc).__name__}: {exc}"
    if not isinstance(exc, AssertionError):
        tb = "".join(traceback.format_exception(exc)[-6:])
        body += "\n" + tb
    return f"{head}\n{body}"


def _execute(cell: Cell, entry: Entry, profile: Profile):
    target = cell.target
    if cell.check == "errors":
        try:
            checks.check_errors(entry, target)
        except Unavailable:
            raise
        except Exception as e:  # noqa: BLE001
            example = getattr(e, "example", "")
            raise _Failure(_describe(cell, e) + (f"\nfailing bad input: {example}" if example
                                                 else ""), example) from e
        return
    grad = cell.check == "grad"
    if grad:
        fn = checks.check_grad
    elif cell.mode == "compiled":
        fn = checks.check_compiled
    else:
        fn = checks.check_values
    bank = bank_for(profile)
    try:
        examples = bank.examples(entry, cell.dtype, grad)
    except Exception as e:  # noqa: BLE001 - a broken strategy fails its cells, not the run
        raise _Failure(f"{_describe(cell, e)}\nthe registry's input strategy failed", "") from e
    if cell.mode == "compiled":  # each example compiles anew: fewer of them
        examples = examples[:profile.compiled]
    ran = 0
    for case in examples:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                fn(entry, target, cell.dtype, case)
            ran += 1
        except Unavailable as u:
            reason = str(u)
        except Exception as e:  # noqa: BLE001 - any error is a finding; shrink it
            minimal, err = _shrink(bank, entry, cell, fn, len(examples), case, e)
            raise _Failure(_describe(cell, err) + f"\nminimal failing example: {minimal!r}",
                           repr(minimal)) from e
    if examples and not ran:
        raise Unavailable(reason)


def _shrink(bank, entry, cell, fn, n, case, error):
    """Re-run hypothesis with the bank's seed so it finds this failure again and shrinks it;
    falls back to the failing example as drawn."""
    last: dict = {}

    def sink(c):
        last["case"] = c
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                fn(entry, cell.target, cell.dtype, c)
        except Unavailable:
            pass

    grad = cell.check == "grad"
    token = SIDES.set(bank.profile.sides)
    try:
        _hypothesis_run(bank.strategy(entry, cell.dtype, grad),
                        bank.count(entry, cell.dtype, grad),
                        bank.seed(entry, cell.dtype, grad), sink)
    except Exception as e:  # noqa: BLE001 - the minimal example's error
        return last.get("case", case), e
    finally:
        SIDES.reset(token)
    return case, error
