"""Reports of a conformance run: JSON, the text matrix, and the HTML page rendered in
headless Chromium (skipped when Chromium is not installed)."""
from __future__ import annotations

import json
import shutil
import subprocess

import pytest

from unifw_conformance import report
from unifw_conformance.runner import Cell, Result


def _results():
    def r(check, op, backend, mode, dtype, outcome, msg="", example=""):
        return Result(Cell(check, op, backend, "cpu", mode, dtype), outcome, msg, example)

    return [
        r("values", "sin", "torch", "eager", "float32", "passed"),
        r("grad", "sin", "torch", "eager", "float64", "failed",
          "op 'sin', backend 'torch', device 'cpu', mode 'eager': VJP <wrong>",
          "(array([0.5], dtype=float64))"),
        r("values", "sin", "jax", "compiled", "float32", "passed"),
        r("values", "add", "torch", "eager", "float32", "xfailed", "known"),
        r("values", "add", "jax", "compiled", "float32", "skipped", "no compiler"),
    ]


def test_matrix_takes_the_worst_outcome_per_cell():
    rows, cols, cells = report.matrix(_results())
    assert rows == ["sin", "add"]
    assert cols == ["torch/eager", "jax/compiled"]
    assert cells[("sin", "torch/eager")][0] == "failed"
    assert cells[("sin", "jax/compiled")][0] == "passed"
    assert cells[("add", "torch/eager")][0] == "xfailed"
    text = report.text_matrix(_results()).splitlines()
    assert text[1].split() == ["sin", "FAIL", "ok"]


def test_json_report(tmp_path):
    path = tmp_path / "r.json"
    report.write_json(path, _results(), {"profile": "ci"})
    data = json.loads(path.read_text())
    assert data["summary"] == {"failed": 1, "xfailed": 1, "passed": 2, "skipped": 1}
    assert data["matrix"]["cells"]["sin|torch/eager"] == "failed"
    back = [Result.from_dict(d) for d in data["results"]]
    assert [b.cell for b in back] == [r.cell for r in _results()]


def test_html_escapes_and_links_failures():
    page = report.to_html(_results(), {"profile": "ci"})
    assert "&lt;wrong&gt;" in page and "<wrong>" not in page
    assert "href='#f-grad-sin-torch-cpu-eager-float64'" in page
    assert "id='f-grad-sin-torch-cpu-eager-float64'" in page


def _chromium():
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    pytest.skip("headless Chromium is not installed (apt-get install chromium)")


def test_html_renders_the_grid_in_chromium(tmp_path):
    exe = _chromium()
    page = tmp_path / "report.html"
    report.write_html(page, _results(), {"profile": "ci"})
    cmd = [exe, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
           f"--user-data-dir={tmp_path / 'profile'}"]
    url = page.as_uri() + "#f-grad-sin-torch-cpu-eager-float64"
    dom = subprocess.run([*cmd, "--dump-dom", url], capture_output=True, text=True, timeout=120)
    assert dom.returncode == 0, dom.stderr[-2000:]
    html = dom.stdout
    assert '<table id="matrix"' in html
    assert html.count("<td class=\"failed\"") == 1 and html.count("<td class=\"passed\"") == 1
    assert html.count("<td class=\"xfailed\"") == 1 and html.count("<td class=\"skipped\"") == 1
    # the linked failure is opened by the page's script
    assert '<details id="f-grad-sin-torch-cpu-eager-float64" class="failure" open="">' in html
    shot = tmp_path / "report.png"
    png = subprocess.run([*cmd, f"--screenshot={shot}", "--window-size=900,600",
                          page.as_uri()], capture_output=True, text=True, timeout=120)
    assert png.returncode == 0 and shot.stat().st_size > 5000
