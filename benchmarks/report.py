"""Results file, Markdown tables and the ratio chart."""
from __future__ import annotations

import datetime
import json
import math
import os
import platform
from pathlib import Path

from .workloads import WORKLOADS

TARGET_COMPILED = 1.05   # unifw/native, compiled modes, workloads (a)-(d)
TARGET_EAGER_A = 1.3     # unifw/native, eager, workload (a)
TARGET_OVERHEAD_US = 1.5  # unifw - native per op
IMPLS = ("unifw", "native", "keras")
LOSS_RTOL = 1e-3          # unifw vs native losses of the first steps


# ------------------------------------------------------------------ results file
def load(path: Path) -> dict:
    path = Path(path)
    return json.loads(path.read_text()) if path.exists() else {}


def save(path: Path, data: dict) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=1, sort_keys=True))
    os.replace(tmp, path)


def merge_backend(merged: dict, backend: str, new: dict) -> None:
    """Put a worker's result into ``merged``; rows replace rows of the same workload and
    mode, so a partial re-run (``--workloads``/``--modes``) keeps the other rows."""
    old = merged.setdefault("backends", {}).get(backend, {})
    if "rows" in new and "rows" in old and "error" not in new:
        fresh = {(r["workload"], r["mode"]) for r in new["rows"]}
        new["rows"] = [r for r in old["rows"] if (r["workload"], r["mode"]) not in fresh] + \
            new["rows"]
    for key in ("overhead", "startup"):
        if key not in new and key in old:
            new[key] = old[key]
    merged["backends"][backend] = new


def machine_info(cpu, gpu: bool = False) -> dict:
    model = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    info = {"cpu_model": model, "cores": os.cpu_count(), "pinned_core": cpu,
            "platform": platform.platform(), "python": platform.python_version(),
            "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")}
    if gpu:
        info["gpu"] = _gpu_name()
    return info


def _gpu_name():
    import subprocess

    try:
        out = subprocess.run(["nvidia-smi", "--query-gpu=name", "--format=csv,noheader"],
                             capture_output=True, text=True, timeout=20)
        return out.stdout.strip().splitlines()[0] if out.stdout.strip() else None
    except (OSError, subprocess.SubprocessError):
        return None


# ------------------------------------------------------------------ derived numbers
def ratio(row: dict, num: str, den: str):
    a, b = row.get(num, {}), row.get(den, {})
    if "median" not in a or "median" not in b or not b["median"]:
        return None
    return a["median"] / b["median"]


def loss_diff(row: dict, impl: str, ref: str = "native"):
    """Largest relative difference between the first step losses of ``impl`` and ``ref``."""
    a, b = row.get(impl, {}).get("losses"), row.get(ref, {}).get("losses")
    if not a or not b:
        return None
    return max(abs(x - y) / max(abs(y), 1e-12) for x, y in zip(a, b))


def target_for(workload: str, mode: str):
    if mode in ("compiled", "xla"):
        return TARGET_COMPILED
    if workload == "two_layer":
        return TARGET_EAGER_A
    return None


def misses(data: dict) -> list:
    """Human-readable list of the targets this run misses."""
    out = []
    for b, res in data.get("backends", {}).items():
        for row in res.get("rows", []):
            w, m = row["workload"], row["mode"]
            r, t = ratio(row, "unifw", "native"), target_for(w, m)
            if r is not None and t is not None and r > t:
                out.append(f"{b} {WORKLOADS[w].title.split(' ')[0]} {w} {m}: unifw/native "
                           f"{r:.2f}x (target <= {t}x)")
            rk = ratio(row, "unifw", "keras")
            if rk is not None and rk >= 1:
                out.append(f"{b} {w} {m}: unifw/Keras {rk:.2f}x (target < 1x)")
            if "error" in row.get("unifw", {}):
                out.append(f"{b} {w} {m}: unifw did not run ({row['unifw']['error']})")
        for row in res.get("overhead", []):
            over = overhead_us(row)
            if over is not None:
                if over > TARGET_OVERHEAD_US:
                    out.append(f"{b} per-op {row['op']}: +{over:.2f} us over native "
                               f"(target <= {TARGET_OVERHEAD_US} us)")
    return out


# ------------------------------------------------------------------ Markdown
def _fmt(x, scale, digits=3):
    if x is None:
        return "n/a"
    v = x * scale
    return f"{v:.{digits}g}" if abs(v) < 10 ** digits else f"{v:.0f}"


def _cell(s: dict, scale: float) -> str:
    if not s:
        return "-"
    if "error" in s:
        return "error"
    return f"{_fmt(s['median'], scale)} ({_fmt(s['min'], scale)}-{_fmt(s['max'], scale)})"


def _ratio_cell(r, target=None):
    if r is None:
        return "-"
    flag = " ✗" if target is not None and r > target else ""
    return f"{r:.2f}x{flag}"


def _versions_line(res: dict) -> str:
    v = res.get("versions", {})
    return ", ".join(f"{k} {v[k]}" for k in sorted(v))


def markdown(data: dict, kind: str, chart: str | None) -> str:
    m = data.get("machine", {})
    backends = data.get("backends", {})
    clocks = {res.get("clock") for res in backends.values() if res.get("clock")}
    clock = {"cpu": "process CPU time", "wall": "wall time"}.get(
        clocks.pop() if len(clocks) == 1 else None, "mixed clocks")
    lines = [f"Machine: {m.get('cpu_model', '?')}, {m.get('cores', '?')} cores"
             + (f", GPU {m['gpu']}" if m.get("gpu") else "")
             + f"; workers pinned to core {m.get('pinned_core')} with 1 intra-op thread; "
             f"{m.get('platform', '')}; run {m.get('date', '?')}. Times are {clock}.", ""]
    for b, res in backends.items():
        lines.append(f"- **{b}**: " + (res.get("skipped") or res.get("error")
                                        or _versions_line(res)))
    lines.append("")
    lines += _training_table(backends)
    lines += _compile_table(backends)
    lines += _overhead_table(backends)
    if kind == "cpu":
        lines += _startup_table(backends)
    miss = misses(data)
    lines += ["**Targets missed in this run** (see the notes below):", ""]
    lines += [f"- {s}" for s in miss] if miss else ["- none"]
    lines.append("")
    if chart:
        lines += [f"![unifw/native and unifw/Keras time ratios]({chart})", ""]
    return "\n".join(lines)


def _training_table(backends):
    if not any(res.get("rows") for res in backends.values()):
        return []
    lines = ["#### Training step, median ms (min-max)", "",
             "| backend | workload | mode | unifw | native | Keras 3 | unifw/native | "
             "unifw/Keras | loss diff unifw / Keras vs native |",
             "|---|---|---|---|---|---|---|---|---|"]
    for b, res in backends.items():
        for row in res.get("rows", []):
            w, mode = row["workload"], row["mode"]
            du, dk = loss_diff(row, "unifw"), loss_diff(row, "keras")
            lines.append(
                f"| {b} | {WORKLOADS[w].title.split(',')[0]} | {mode} | "
                f"{_cell(row.get('unifw'), 1e3)} | {_cell(row.get('native'), 1e3)} | "
                f"{_cell(row.get('keras'), 1e3)} | "
                f"{_ratio_cell(ratio(row, 'unifw', 'native'), target_for(w, mode))} | "
                f"{_ratio_cell(ratio(row, 'unifw', 'keras'), 1.0)} | "
                f"{_fmt(du, 1, 2)} / {_fmt(dk, 1, 2)} |")
    return lines + [""]


def _compile_table(backends):
    rows = []
    for b, res in backends.items():
        for row in res.get("rows", []):
            if row["mode"] == "eager":
                continue
            fc = {k: row.get(k, {}).get("compile") for k in IMPLS}
            r = fc["unifw"] / fc["native"] if fc["unifw"] and fc["native"] else None
            rows.append(f"| {b} | {WORKLOADS[row['workload']].title.split(',')[0]} | "
                        f"{row['mode']} | {_fmt(fc['unifw'], 1)} | {_fmt(fc['native'], 1)} | "
                        f"{_fmt(fc['keras'], 1)} | {_ratio_cell(r)} |")
    if not rows:
        return []
    return ["#### (g) Tracing and compilation: time of the warm-up calls beyond as many "
            "steady-state steps, seconds", "",
            "| backend | workload | mode | unifw | native | Keras 3 | unifw/native |",
            "|---|---|---|---|---|---|---|", *rows, ""]


def overhead_us(row: dict):
    """unifw's per-call overhead over native code in µs, the figure the target is judged
    on: the median paired (same-round) ratio unifw/native, applied to native code's
    fastest round, ``(ratio - 1) * native min``. That is the overhead with the machine at
    its own speed; the plain paired difference (:func:`paired_difference_us`) also
    carries the slowdown of whatever else the machine was doing. Results written
    without ratios fall back to the paired difference, then to the difference of the
    medians."""
    ratio, n = row.get("paired_ratio"), row.get("native", {})
    if ratio is not None and "min" in n:
        return (ratio["median"] - 1.0) * n["min"] * 1e6
    return paired_difference_us(row)


def paired_difference_us(row: dict):
    """Median over rounds of unifw's sample minus native code's sample of the same round,
    µs (difference of the medians for results written before pairing)."""
    paired = row.get("paired_overhead")
    if paired is not None:
        return paired["median"] * 1e6
    u, n = row.get("unifw", {}), row.get("native", {})
    return (u["median"] - n["median"]) * 1e6 if "median" in u and "median" in n else None


def _overhead_table(backends):
    rows = []
    for b, res in backends.items():
        for row in res.get("overhead", []):
            u, n = row.get("unifw", {}), row.get("native", {})
            over = overhead_us(row)
            flag = " ✗" if over is not None and over > TARGET_OVERHEAD_US else ""
            diff = paired_difference_us(row)
            paired = row.get("paired_overhead")
            spread = (f" ({paired['min'] * 1e6:+.2f} to {paired['max'] * 1e6:+.2f})"
                      if paired else "")
            ratio = row.get("paired_ratio")
            cells = ["n/a" if diff is None else f"{diff:+.2f}{spread}",
                     "n/a" if ratio is None else f"{ratio['median']:.2f}x",
                     "n/a" if over is None else f"{over:+.2f}{flag}"]
            rows.append(f"| {b} | {row['op']} | {_cell(u, 1e6)} | {_cell(n, 1e6)} | "
                        f"{_cell(row.get('keras'), 1e6)} | " + " | ".join(cells) + " |")
    if not rows:
        return []
    return ["#### (e) Per-op eager time, 4x4 float32, µs per call, median (min-max)", "",
            "Paired: unifw's and native code's samples of the same round. Difference: the "
            "median over rounds of unifw - native (min to max). Ratio: the median over "
            "rounds of unifw / native. Overhead: (ratio - 1) x native code's fastest "
            "round, the facade's cost at this machine's own speed; the target is judged "
            "on it.", "",
            "| backend | op | unifw `a op b` | native `a op b` | Keras `keras.ops` | "
            "paired difference | paired ratio | overhead |", "|---|---|---|---|---|---|---|---|",
            *rows, ""]


def _startup_table(backends):
    rows = []
    for b, res in backends.items():
        s = res.get("startup")
        if not s:
            continue
        u, n = s.get("unifw", {}), s.get("native", {})
        d = u["median"] - n["median"] if "median" in u and "median" in n else None
        rows.append(f"| {b} | {_cell(u, 1)} | {_cell(n, 1)} | {_cell(s.get('keras'), 1)} | "
                    f"{'n/a' if d is None else f'{d:+.3f}'} |")
    if not rows:
        return []
    return ["#### (f) Start-up: import + backend + first op, seconds, median (min-max)", "",
            "| backend | `import unifw` + `set_backend` | framework alone | `import keras` | "
            "unifw - framework |", "|---|---|---|---|---|", *rows, ""]


BEGIN = "<!-- BEGIN GENERATED {kind} (python -m benchmarks.run; do not edit by hand) -->"
END = "<!-- END GENERATED {kind} -->"


def update_doc(path: Path, kind: str, body: str) -> None:
    """Replace the generated section for ``kind`` in ``path`` (appended if absent)."""
    path = Path(path)
    begin, end = BEGIN.format(kind=kind.upper()), END.format(kind=kind.upper())
    text = path.read_text() if path.exists() else "# Benchmarks\n"
    block = f"{begin}\n{body}\n{end}"
    if begin in text and end in text:
        head, rest = text.split(begin, 1)
        tail = rest.split(end, 1)[1]
        text = head + block + tail
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    path.write_text(text)


# ------------------------------------------------------------------ chart
def write_chart(data: dict, path: Path) -> None:
    """Bar chart of unifw/native and unifw/Keras per backend, workload and mode (log scale)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = [(b, res["rows"]) for b, res in data.get("backends", {}).items()
              if res.get("rows")]
    if not panels:
        return
    fig, axes = plt.subplots(len(panels), 1, figsize=(11, 3.2 * len(panels)), squeeze=False)
    for ax, (b, rows) in zip(axes[:, 0], panels):
        labels = [f"{r['workload']}\n{r['mode']}" for r in rows]
        xs = range(len(rows))
        for off, (den, color) in zip((-0.2, 0.2), (("native", "tab:blue"),
                                                   ("keras", "tab:orange"))):
            vals = [ratio(r, "unifw", den) for r in rows]
            ax.bar([x + off for x in xs], [v if v else math.nan for v in vals], 0.4,
                   color=color, label=f"unifw / {'Keras 3' if den == 'keras' else 'native'}")
        ax.axhline(1.0, color="black", lw=0.8)
        ax.axhline(TARGET_COMPILED, color="tab:red", lw=0.8, ls="--", label="1.05x")
        ax.set_yscale("log")
        ax.set_xticks(list(xs))
        ax.set_xticklabels(labels, fontsize=8)
        ax.set_ylabel("time ratio (lower is better)")
        ax.set_title(b)
        ax.legend(fontsize=8, loc="upper right")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
