"""``unifw conformance``: per-backend runs, the matrix, reports and the closing line."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest


def _cli(*args, timeout=600):
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    return subprocess.run([sys.executable, "-m", "unifw.cli", "conformance", *args],
                          capture_output=True, text=True, env=env, timeout=timeout)


def test_matrix_reports_and_closing_line(tmp_path):
    html, js = tmp_path / "r.html", tmp_path / "r.json"
    proc = _cli("--backend", "numpy", "--op", "add,sin", "--check", "values,errors",
                "--profile", "dev", "--report", str(html), "--json", str(js))
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    lines = proc.stdout.strip().splitlines()
    assert re.fullmatch(r"\d+ passed, 0 failed", lines[-1])
    header = next(ln for ln in lines if ln.startswith("op "))
    assert header.split() == ["op", "numpy/eager", "numpy/compiled"]
    assert any(ln.split()[:2] == ["add", "ok"] for ln in lines)
    data = json.loads(js.read_text())
    passed = int(lines[-1].split()[0])
    assert data["summary"]["passed"] > 0 and passed >= data["summary"]["passed"] // 2
    assert "<table id=\"matrix\"" in html.read_text()


def test_a_demanded_gpu_that_is_absent_fails():
    import unifw as uf

    if any(d != "cpu" for d in uf.devices("numpy")):
        pytest.skip("this machine has a GPU")
    proc = _cli("--backend", "numpy", "--device", "cpu,gpu:0", "--op", "add", "--check",
                "values", "--mode", "eager", "--profile", "dev")
    assert proc.returncode != 0
    assert re.fullmatch(r"\d+ passed, [1-9]\d* failed", proc.stdout.strip().splitlines()[-1])


def test_unknown_backend_is_refused():
    proc = _cli("--backend", "nosuchbackend")
    assert proc.returncode != 0 and "nosuchbackend" in proc.stderr


def test_shards_split_the_cells_and_cover_them_all(tmp_path):
    """Spreading a backend over processes runs every cell exactly once."""
    ops = "add,sin,cos,abs,sum,flip,tril"

    def cells(shards, jobs):
        js = tmp_path / f"s{shards}.json"
        proc = _cli("--backend", "numpy", "--op", ops, "--check", "values,errors",
                    "--profile", "dev", "--mode", "eager", "-j", str(jobs), "--shards",
                    str(shards), "--json", str(js))
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
        if shards > 1:
            assert all(f"== numpy.{i} ==" in proc.stdout for i in range(shards))
        ids = [r["id"] for r in json.loads(js.read_text())["results"]]
        assert len(ids) == len(set(ids))
        return sorted(ids)

    assert cells(3, 2) == cells(1, 1)
