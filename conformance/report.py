"""Reports of a conformance run: the op x backend x mode matrix as text, JSON and HTML."""
from __future__ import annotations

import html
import json
import platform
import time
from collections import defaultdict
from importlib import resources

from .runner import Result

# worst first: a cell shows the worst outcome of its checks, dtypes and devices
_RANK = {"failed": 0, "xfailed": 1, "passed": 2, "skipped": 3}
_TEXT = {"failed": "FAIL", "xfailed": "xfail", "passed": "ok", "skipped": "-"}


def counts(results: list[Result]) -> dict:
    c = {k: 0 for k in _RANK}
    for r in results:
        c[r.outcome] += 1
    return c


def matrix(results: list[Result]):
    """(rows, columns, cells): cells[(op, column)] = (outcome, [results])."""
    cols, rows = [], []
    grouped = defaultdict(list)
    for r in results:
        col = f"{r.cell.backend}/{r.cell.mode}"
        if r.cell.device != "cpu":
            col = f"{r.cell.backend}/{r.cell.device}/{r.cell.mode}"
        if col not in cols:
            cols.append(col)
        if r.cell.op not in rows:
            rows.append(r.cell.op)
        grouped[(r.cell.op, col)].append(r)
    cells = {k: (min((r.outcome for r in v), key=_RANK.__getitem__), v)
             for k, v in grouped.items()}
    return rows, cols, cells


def text_matrix(results: list[Result]) -> str:
    rows, cols, cells = matrix(results)
    if not rows:
        return "(no conformance results)"
    w0 = max(len("op"), *(len(r) for r in rows))
    widths = [max(len(c), 5) for c in cols]
    lines = ["  ".join(["op".ljust(w0), *(c.ljust(w) for c, w in zip(cols, widths))])]
    for op in rows:
        marks = [_TEXT[cells[(op, c)][0]] if (op, c) in cells else "" for c in cols]
        lines.append("  ".join([op.ljust(w0), *(m.ljust(w) for m, w in zip(marks, widths))]))
    return "\n".join(line.rstrip() for line in lines)


def failure_text(results: list[Result]) -> str:
    return "\n\n".join(f"FAILED {r.cell.id}\n{r.message}" for r in results
                       if r.outcome == "failed")


def to_json(results: list[Result], meta: dict | None = None) -> dict:
    rows, cols, cells = matrix(results)
    return {
        "meta": {"created": time.strftime("%Y-%m-%dT%H:%M:%S"), "python":
                 platform.python_version(), "machine": platform.machine(), **(meta or {})},
        "summary": counts(results),
        "matrix": {"ops": rows, "columns": cols,
                   "cells": {f"{op}|{col}": outcome for (op, col), (outcome, _) in
                             cells.items()}},
        "results": [r.as_dict() for r in results],
    }


def write_json(path, results: list[Result], meta: dict | None = None) -> None:
    with open(path, "w", encoding="utf-8") as f:
        json.dump(to_json(results, meta), f, indent=1)


def _anchor(cell_id: str) -> str:
    return "f-" + "".join(ch if ch.isalnum() else "-" for ch in cell_id)


def to_html(results: list[Result], meta: dict | None = None) -> str:
    """A self-contained page: summary, the matrix as a coloured grid, expandable failures."""
    rows, cols, cells = matrix(results)
    c = counts(results)
    head = "".join(f"<th scope='col'>{html.escape(col)}</th>" for col in cols)
    body = []
    for op in rows:
        tds = []
        for col in cols:
            if (op, col) not in cells:
                tds.append("<td class='none'></td>")
                continue
            outcome, rs = cells[(op, col)]
            tip = "; ".join(f"{r.cell.check} {r.cell.dtype} {r.cell.device}: {r.outcome}"
                            for r in rs)
            label = _TEXT[outcome]
            failed = [r for r in rs if r.outcome == "failed"]
            inner = (f"<a href='#{_anchor(failed[0].cell.id)}'>{label}</a>" if failed
                     else label)
            tds.append(f"<td class='{outcome}' title='{html.escape(tip, quote=True)}'>"
                       f"{inner}</td>")
        body.append(f"<tr><th scope='row'>{html.escape(op)}</th>{''.join(tds)}</tr>")
    failures = []
    for r in results:
        if r.outcome != "failed":
            continue
        ex = (f"<h4>Minimal failing example</h4><pre class='example'>{html.escape(r.example)}"
              "</pre>") if r.example else ""
        failures.append(
            f"<details id='{_anchor(r.cell.id)}' class='failure'><summary>"
            f"{html.escape(r.cell.id)}</summary><pre>{html.escape(r.message)}</pre>{ex}"
            "</details>")
    m = meta or {}
    template = resources.files(__package__).joinpath("report.html").read_text("utf-8")
    values = {
        "title": "unifw conformance",
        "meta": html.escape(", ".join(f"{k}: {v}" for k, v in m.items())),
        "passed": str(c["passed"]), "failed": str(c["failed"]),
        "skipped": str(c["skipped"]), "xfailed": str(c["xfailed"]),
        "head": head, "rows": "\n".join(body),
        "failures": "\n".join(failures) or "<p>No failures.</p>",
        "css": resources.files(__package__).joinpath("report.css").read_text("utf-8"),
    }
    for k, v in values.items():
        template = template.replace("{{" + k + "}}", v)
    return template


def write_html(path, results: list[Result], meta: dict | None = None) -> None:
    with open(path, "w", encoding="utf-8") as f:
        f.write(to_html(results, meta))
