"""Smoke test of the benchmark harness (``python -m benchmarks.run``): no timing assertions.

Runs the harness in ``--quick`` mode on one tiny workload and one backend, in its own
process as a user would, and checks that it produces a well-formed results file and
table row, and that unifw and native code compute the same losses (the first one
also against a float64 NumPy oracle). The report helpers are checked directly.
"""
from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks import report, workloads  # noqa: E402


@pytest.fixture(scope="module")
def bench_backend(request):
    from conftest import selected_backends

    names = [b for b in selected_backends(request.config) if b != "numpy"]
    if not names:
        pytest.skip("the training workloads need a backend with autodiff")
    return names[0]


@pytest.fixture(scope="module")
def quick_run(bench_backend, tmp_path_factory):
    results = tmp_path_factory.mktemp("bench") / "results.json"
    cmd = [sys.executable, "-m", "benchmarks.run", "--quick", "--backends", bench_backend,
           "--workloads", "two_layer", "--modes", "eager", "--impls", "unifw,native",
           "--skip-startup", "--no-overhead", "--cpu", "-1", "--results", str(results)]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return bench_backend, json.loads(results.read_text()), proc.stdout


def _two_layer_first_loss() -> float:
    d = workloads.make_data("two_layer")
    p = {k: v.astype(np.float64) for k, v in d["params"].items()}
    h = np.maximum(d["x"].astype(np.float64) @ p["linear1.weight"].T + p["linear1.bias"], 0)
    pred = h @ p["linear2.weight"].T + p["linear2.bias"]
    return float(np.mean((pred - d["y"]) ** 2))


def test_quick_run_produces_timings(quick_run):
    backend, data, _ = quick_run
    res = data["backends"][backend]
    assert "error" not in res and res["versions"]["unifw"]
    (row,) = res["rows"]
    assert (row["workload"], row["mode"]) == ("two_layer", "eager")
    for impl in ("unifw", "native"):
        s = row[impl]
        assert "error" not in s, s
        assert s["n"] >= 2 and 0 < s["min"] <= s["median"] <= s["max"]
        assert s["first_call"] > 0 and s["compile"] >= 0 and len(s["losses"]) == 3
        assert s["clock"] == "cpu" and s["other_clock"]["wall"]["n"] == s["n"]


def test_unifw_and_native_compute_the_same_losses(quick_run):
    backend, data, _ = quick_run
    (row,) = data["backends"][backend]["rows"]
    u, n = row["unifw"]["losses"], row["native"]["losses"]
    np.testing.assert_allclose(u, n, rtol=1e-4)
    np.testing.assert_allclose(n[0], _two_layer_first_loss(), rtol=1e-4)
    assert n[2] < n[0]  # the SGD steps were applied


def test_table_row_is_well_formed(quick_run):
    backend, _, stdout = quick_run
    num = r"[0-9.e+-]+"
    cell = rf"{num} \({num}-{num}\)"
    pattern = (rf"^\| {backend} \| \(a\) two-layer net \| eager \| {cell} \| {cell} \| - \| "
               rf"{num}x( ✗)? \| - \| {num} / n/a \|$")
    rows = [ln for ln in stdout.splitlines() if ln.startswith(f"| {backend} |")]
    assert len(rows) == 1 and re.match(pattern, rows[0]), rows


def _row(workload, mode, unifw_median):
    stat = {"median": 1.0, "min": 1.0, "max": 1.0, "n": 1, "first_call": 1.0, "losses": [1.0]}
    return {"workload": workload, "mode": mode, "native": stat,
            "unifw": {**stat, "median": unifw_median}}


def test_partial_rerun_replaces_only_its_rows():
    merged = {"backends": {"torch": {"rows": [_row("mlp", "eager", 2.0),
                                              _row("cnn", "eager", 3.0)],
                                     "startup": {"unifw": {"median": 1.0}}}}}
    report.merge_backend(merged, "torch", {"rows": [_row("mlp", "eager", 5.0)]})
    rows = {(r["workload"], r["mode"]): r["unifw"]["median"]
            for r in merged["backends"]["torch"]["rows"]}
    assert rows == {("mlp", "eager"): 5.0, ("cnn", "eager"): 3.0}
    assert merged["backends"]["torch"]["startup"] == {"unifw": {"median": 1.0}}


def test_missed_targets_are_listed():
    data = {"backends": {"jax": {"rows": [_row("two_layer", "eager", 1.2),
                                          _row("two_layer", "compiled", 1.2)]}}}
    missed = report.misses(data)
    assert len(missed) == 1 and "compiled" in missed[0] and "1.20x" in missed[0]


def test_per_op_overhead_is_judged_on_paired_rounds():
    # round medians 5 us vs 3 us, but paired within rounds unifw is only 1 us slower
    row = {"op": "add", "unifw": {"median": 5e-6, "min": 4e-6, "max": 9e-6},
           "native": {"median": 3e-6, "min": 2e-6, "max": 8e-6},
           "paired_overhead": {"median": 1e-6, "min": 0.5e-6, "max": 1.5e-6}}
    assert report.overhead_us(row) == pytest.approx(1.0)
    assert report.misses({"backends": {"torch": {"overhead": [row]}}}) == []
    # with ratios: the median paired ratio applied to native code's fastest round
    row["paired_ratio"] = {"median": 1.5, "min": 1.1, "max": 3.0}
    assert report.overhead_us(row) == pytest.approx(1.0)  # (1.5 - 1) * 2 us
    row["paired_ratio"]["median"] = 2.0
    assert report.overhead_us(row) == pytest.approx(2.0)
    assert report.paired_difference_us(row) == pytest.approx(1.0)
    (missed,) = report.misses({"backends": {"torch": {"overhead": [row]}}})
    assert "+2.00 us" in missed
    del row["paired_ratio"]
    del row["paired_overhead"]  # results written before pairing: difference of medians
    assert report.overhead_us(row) == pytest.approx(2.0)
    (missed,) = report.misses({"backends": {"torch": {"overhead": [row]}}})
    assert "+2.00 us" in missed


def test_update_doc_replaces_only_the_generated_section(tmp_path):
    doc = tmp_path / "bench.md"
    doc.write_text("# Title\n\nhand-written intro\n")
    report.update_doc(doc, "cpu", "first table")
    report.update_doc(doc, "gpu", "gpu table")
    report.update_doc(doc, "cpu", "second table")
    text = doc.read_text()
    assert text.startswith("# Title\n\nhand-written intro\n")
    assert "second table" in text and "first table" not in text and "gpu table" in text
    assert text.count("BEGIN GENERATED CPU") == 1
