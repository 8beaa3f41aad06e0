"""Timing method shared by all benchmarks.

Each implementation is warmed up first: its first calls are timed separately, and
the time they took beyond that many steady-state steps is its tracing and
compilation cost (this also catches frameworks that compile on the second call).
Then all implementations are timed in alternating blocks (the order rotates from
block to block) so that drift in the machine's speed hits them all equally.
Every timed call forces its result to complete (the step returns a host float).

Two clocks are read around every timed call: wall time and the CPU time of the
whole process (all its threads). Pinned to one core with one compute thread, CPU
time equals wall time on an idle machine, and unlike wall time it does not count
the time other processes hold the core; ``Settings.clock`` picks the one reported
(CPU time on CPU runs, wall time on GPU runs, where device time is not CPU time).
"""
from __future__ import annotations

import functools
import gc
import math
import statistics
import time
from dataclasses import dataclass, field

CLOCKS = {"wall": time.perf_counter, "cpu": time.process_time}


@dataclass
class Settings:
    warmup: int = 5             # calls after the first, untimed
    blocks: int = 7             # alternating blocks
    block_seconds: float = 0.4  # aim for this much time per implementation per block
    min_steps: int = 3          # per block
    max_steps: int = 200        # per block
    clock: str = "cpu"          # the clock reported: "cpu" or "wall"

    @classmethod
    def quick(cls, clock: str = "cpu") -> "Settings":
        return cls(warmup=1, blocks=2, block_seconds=0.02, min_steps=2, max_steps=3,
                   clock=clock)


def _stats(t: list) -> dict:
    return {"median": statistics.median(t), "min": min(t), "max": max(t), "n": len(t)}


@dataclass
class Result:
    """Timings of one implementation, seconds, per clock."""

    times: dict = field(default_factory=lambda: {"wall": [], "cpu": []})
    warmup: dict = field(default_factory=lambda: {"wall": [], "cpu": []})
    losses: list = field(default_factory=list)   # the first few step losses
    error: str | None = None

    def summary(self, clock: str) -> dict:
        if self.error is not None or not self.times[clock]:
            return {"error": self.error or "no timed steps"}
        out = {**_stats(self.times[clock]), "clock": clock, "losses": self.losses,
               "other_clock": {c: _stats(v) for c, v in self.times.items() if c != clock and v}}
        warm = self.warmup[clock]
        if warm:
            out["first_call"] = warm[0]
            out["compile"] = max(0.0, sum(warm) - len(warm) * out["median"])
        return out


def _describe(exc: BaseException) -> str:
    msg = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {msg[0][:200] if msg else ''}"


def _timed(fn, into: dict):
    w0, c0 = time.perf_counter(), time.process_time()
    r = fn()
    c1, w1 = time.process_time(), time.perf_counter()
    into["wall"].append(w1 - w0)
    into["cpu"].append(c1 - c0)
    return r


def time_steps(builders: dict, settings: Settings, n_losses: int = 3) -> dict:
    """Time ``step()`` callables, alternating between implementations.

    builders: ``{impl_name: zero-argument function returning step}``; building happens
    here so that an implementation that cannot be built is reported, not fatal.
    Returns ``{impl_name: Result}``.
    """
    steps, results = {}, {}
    for name, build in builders.items():
        res = results[name] = Result()
        try:
            step = build()
            for _ in range(1 + max(settings.warmup, n_losses - 1)):
                loss = _timed(step, res.warmup)
                if len(res.losses) < n_losses:
                    res.losses.append(loss)
        except Exception as exc:  # report and carry on with the other implementations
            res.error = _describe(exc)
            continue
        est = statistics.median(res.warmup[settings.clock][1:])
        n = settings.block_seconds / max(est, 1e-9)
        steps[name] = (step, int(min(settings.max_steps, max(settings.min_steps, math.ceil(n)))))

    order = list(steps)
    for b in range(settings.blocks):
        rot = order[b % len(order):] + order[:b % len(order)] if order else []
        for name in rot:
            step, n = steps[name]
            gc.collect()
            try:
                for _ in range(n):
                    _timed(step, results[name].times)
            except Exception as exc:
                results[name].error = _describe(exc)
                order.remove(name)
    return results


def time_loops(loops: dict, sync: dict, settings: Settings, calls: int,
               rounds: int | None = None) -> dict:
    """Per-call time of tiny ops: ``loops[name](n)`` runs the op ``n`` times and returns the
    last result, which ``sync[name]`` forces to complete. Rounds alternate the
    implementations as above (``rounds`` of them, default ``18 * settings.blocks``); each
    round yields one sample per implementation (the mean over ``calls`` calls). The
    garbage collector runs once per round and is off inside the timed loops, as in
    ``timeit``. Returns ``{name: Result}``."""
    results = {name: Result() for name in loops}
    for name, loop in loops.items():  # warm-up
        try:
            sync[name](loop(calls))
        except Exception as exc:
            results[name].error = _describe(exc)
    order = [n for n in loops if results[n].error is None]
    for b in range(rounds or settings.blocks * 18):
        rot = order[b % len(order):] + order[:b % len(order)] if order else []
        gc.collect()
        for name in rot:
            sample = {"wall": [], "cpu": []}
            _timed(functools.partial(_run_loop, loops[name], sync[name], calls), sample)
            for c in sample:
                results[name].times[c].append(sample[c][0] / calls)
    return results


def _run_loop(loop, sync, calls):
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        sync(loop(calls))
    finally:
        if was_enabled:
            gc.enable()
