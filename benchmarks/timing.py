"""Timing method shared by all benchmarks.

Each implementation is warmed up (its first call, which includes any tracing and
compilation, is timed separately), then all implementations are timed in
alternating blocks (the order rotates from block to block) so that drift in the
machine's speed hits them all equally. Every timed call forces its result to
complete (the step returns a host float). Reported: median, min and max.
"""
from __future__ import annotations

import gc
import math
import statistics
import time
from dataclasses import dataclass, field

_clock = time.perf_counter


@dataclass
class Settings:
    warmup: int = 5            # calls after the first, untimed
    blocks: int = 7            # alternating blocks
    block_seconds: float = 0.4  # aim for this much time per implementation per block
    min_steps: int = 3         # per block
    max_steps: int = 200       # per block

    @classmethod
    def quick(cls) -> "Settings":
        return cls(warmup=1, blocks=2, block_seconds=0.02, min_steps=2, max_steps=3)


@dataclass
class Result:
    """Timings of one implementation (seconds)."""

    times: list = field(default_factory=list)
    first_call: float | None = None
    losses: list = field(default_factory=list)   # the first few step losses
    error: str | None = None

    def summary(self) -> dict:
        if self.error is not None:
            return {"error": self.error}
        t = self.times
        return {"median": statistics.median(t), "min": min(t), "max": max(t), "n": len(t),
                "first_call": self.first_call, "losses": self.losses}


def _describe(exc: BaseException) -> str:
    msg = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {msg[0][:200] if msg else ''}"


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
            t0 = _clock()
            res.losses.append(step())
            res.first_call = _clock() - t0
            warm = []
            for i in range(max(settings.warmup, n_losses - 1)):
                t0 = _clock()
                loss = step()
                warm.append(_clock() - t0)
                if len(res.losses) < n_losses:
                    res.losses.append(loss)
        except Exception as exc:  # report and carry on with the other implementations
            res.error = _describe(exc)
            continue
        est = statistics.median(warm) if warm else res.first_call
        n = settings.block_seconds / max(est, 1e-9)
        steps[name] = (step, int(min(settings.max_steps, max(settings.min_steps, math.ceil(n)))))

    order = list(steps)
    for b in range(settings.blocks):
        rot = order[b % len(order):] + order[:b % len(order)] if order else []
        for name in rot:
            step, n = steps[name]
            times = results[name].times
            gc.collect()
            try:
                for _ in range(n):
                    t0 = _clock()
                    step()
                    times.append(_clock() - t0)
            except Exception as exc:
                results[name].error = _describe(exc)
                order.remove(name)
    return results


def time_loops(loops: dict, sync: dict, settings: Settings, calls: int) -> dict:
    """Per-call time of tiny ops: ``loops[name](n)`` runs the op ``n`` times and returns the
    last result, which ``sync[name]`` forces to complete. Blocks alternate as above; each
    block yields one sample (the mean over ``calls`` calls). Returns ``{name: Result}``."""
    results = {name: Result() for name in loops}
    for name, loop in loops.items():  # warm-up
        try:
            sync[name](loop(calls))
        except Exception as exc:
            results[name].error = _describe(exc)
    order = [n for n in loops if results[n].error is None]
    for b in range(settings.blocks * 3):
        rot = order[b % len(order):] + order[:b % len(order)] if order else []
        for name in rot:
            gc.collect()
            t0 = _clock()
            sync[name](loops[name](calls))
            results[name].times.append((_clock() - t0) / calls)
    return results
