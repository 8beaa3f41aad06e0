"""Compiled-mode cells run in batches: one ``uf.function`` computes many ops at once.

Compiling costs far more than running (TorchInductor takes seconds per graph), so the
compiled checks of all ops that share backend, device, dtype and check are traced into
one function whose outputs are compared op by op. If the batch fails to trace or
compile, it is split in halves until the failing ops are isolated, so each op's cell is
still judged on its own.
"""
from __future__ import annotations

import time


from . import checks
from .cases import map_arrays
from .execute import on, Traced, Unavailable
from .runner import Cell, Profile, Result, _describe, bank_for, finish
from .registry import load


def _prepare(cell: Cell, profile: Profile, index: int):
    """The check object for example ``index`` of a cell (None if it has no such example)."""
    entry = load()[cell.op]
    grad = cell.check == "grad"
    examples = sorted(bank_for(profile).examples(entry, cell.dtype, grad), key=_size,
                      reverse=True)
    usable = 0
    for case in examples:
        try:
            obj = (checks.GradCheck if grad else checks.CompiledValues)(
                entry, cell.target, cell.dtype, case)
        except Unavailable:
            continue
        if usable == index:
            return obj
        usable += 1
    return None


def _size(case) -> int:
    """Elements in a case's arrays: compiled checks use the largest examples first (the
    first examples hypothesis draws are the smallest)."""
    sizes = []
    map_arrays(lambda a: sizes.append(a.size), (case.args, case.kwargs))
    return sum(sizes)


def _run_group(items):
    """Compile ``items`` (list of (cell, check object)) together; {cell: exception or None}.
    Raises only if tracing or compiling the group fails as a whole."""
    sizes = [len(_leaves(obj, 0)) for _, obj in items]
    found = {}

    def body(*leaves):
        out, k = [], 0
        for (cell, obj), n in zip(items, sizes):
            try:  # an op failing while traced fails alone; the others still compile
                out.append(obj.compute(*leaves[k:k + n]))
            except Exception as e:  # noqa: BLE001 - recorded per op
                found[cell] = e
                out.append(())
            k += n
        return tuple(out)

    fn = Traced(body)
    for call in (0, 1):
        leaves = [lv for _, obj in items for lv in _leaves(obj, call)]
        results = fn(*leaves)
        for (cell, obj), res in zip(items, results):
            if found.get(cell) is not None:
                continue
            try:
                _verify(obj, res, call)
                found.setdefault(cell, None)
            except Exception as e:  # noqa: BLE001 - recorded per op
                found[cell] = e
    if fn.retraced():
        err = checks.RetraceError(fn.retrace_message())
        if len(items) > 1:
            raise err  # find the ops that trace again (see _isolate)
        found = {cell: e if e is not None else err for cell, e in found.items()}
    return found


def _leaves(obj, call):
    if isinstance(obj, checks.GradCheck):
        return obj.leaves(fresh=bool(call))
    return obj.leaves(call)


def _verify(obj, res, call):
    label = f"compiled call {call + 1}: "
    if isinstance(obj, checks.GradCheck):
        if call == 0:
            obj.verify(*res, label=label)
        obj.verify_against_eager(res, bool(call), label)
    else:
        obj.verify(res, call)


def _isolate(items):
    """Run a group; on a group-wide failure split it until single ops carry the blame."""
    try:
        return _run_group(items)
    except Exception as e:  # noqa: BLE001
        if len(items) == 1:
            return {items[0][0]: e}
        mid = len(items) // 2
        return {**_isolate(items[:mid]), **_isolate(items[mid:])}


def run_batch(cells: list[Cell], profile: Profile) -> dict[Cell, Result]:
    """Results of compiled-mode cells that share check, backend, device and dtype."""
    start = time.perf_counter()
    out: dict[Cell, Result] = {}
    errors: dict[Cell, BaseException] = {}
    examples: dict[Cell, str] = {}
    ran: set = set()
    with on(cells[0].backend):
        for index in range(profile.compiled):
            items = []
            for cell in cells:
                if cell in errors:
                    continue
                try:
                    obj = _prepare(cell, profile, index)
                except Exception as e:  # noqa: BLE001 - preparing (strategy, reference) failed
                    errors[cell] = e
                    continue
                if obj is not None:
                    items.append((cell, obj))
            if not items:
                continue
            for cell, err in _isolate(items).items():
                ran.add(cell)
                if err is not None and cell not in errors:
                    errors[cell] = err
                    obj = dict(items)[cell]
                    examples[cell] = repr(obj.case if isinstance(obj, checks.GradCheck)
                                          else obj.cases[0])
    took = (time.perf_counter() - start) / max(len(cells), 1)
    for cell in cells:
        entry = load()[cell.op]
        if cell in errors:
            err = errors[cell]
            ex = examples.get(cell, "")
            msg = _describe(cell, err) + (f"\nfailing example: {ex}" if ex else "")
            out[cell] = finish(cell, entry, msg, ex, took)
        elif cell not in ran:
            out[cell] = Result(cell, "skipped", "no example of this op can be compiled")
        else:
            out[cell] = finish(cell, entry, None, "", took)
    return out
