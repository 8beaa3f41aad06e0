"""A backend from a separate distribution (tests/plugin_dist, ``unifw-mybackend``) is found
through its ``unifw.backends`` entry point, selected with UNIFW_BACKEND, and passes
``unifw conformance --backend mybackend``."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

DIST = Path(__file__).parent / "plugin_dist"


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """The distribution installed into a fresh directory (put on PYTHONPATH to use it)."""
    target = tmp_path_factory.mktemp("site")
    source = tmp_path_factory.mktemp("build") / "plugin_dist"
    shutil.copytree(DIST, source)  # the build writes next to the sources: keep the repo clean
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "--no-build-isolation",
         "--no-index", "--disable-pip-version-check", "-q", "--target", str(target),
         str(source)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert list(target.glob("unifw_mybackend-*.dist-info"))
    return target


def _run(site, code_or_args, env_extra=None, timeout=300):
    env = {**os.environ, "PYTHONPATH": str(site), "TF_CPP_MIN_LOG_LEVEL": "3"}
    env.pop("UNIFW_BACKEND", None)
    env.update(env_extra or {})
    args = code_or_args if isinstance(code_or_args, list) else ["-c", code_or_args]
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, env=env,
                          timeout=timeout)


def test_discovered_and_selected_by_environment(site):
    code = ("import numpy as np, unifw as uf\n"
            "assert 'mybackend' in uf.registered_backends()\n"
            "assert 'mybackend' in uf.available_backends()\n"
            "x = uf.tensor([1.0, 2.0, 4.0])\n"
            "y = uf.sqrt(x) * 2\n"
            "print(uf.backend(), x.backend_name, np.asarray(y).tolist())\n")
    proc = _run(site, code, {"UNIFW_BACKEND": "mybackend"})
    assert proc.returncode == 0, proc.stderr
    name, tensor_backend, values = proc.stdout.split(" ", 2)
    assert (name, tensor_backend) == ("mybackend", "mybackend")
    assert eval(values) == pytest.approx([2.0, 2.0 * 2 ** 0.5, 4.0])


def test_not_visible_without_the_distribution():
    env = {**os.environ, "UNIFW_BACKEND": "mybackend"}
    proc = subprocess.run([sys.executable, "-c", "import unifw as uf; uf.backend()"],
                          capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode != 0
    assert "BackendNotAvailable" in proc.stderr and "mybackend" in proc.stderr


def test_conformance_runs_on_it(site):
    proc = _run(site, ["-m", "unifw.cli", "conformance", "--backend", "mybackend", "--op",
                       "add,sin,matmul,reshape", "--check", "values,errors", "--mode", "eager",
                       "--profile", "dev"])
    out = proc.stdout.strip().splitlines()
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert "mybackend/eager" in proc.stdout
    last = out[-1]
    passed, failed = (int(part.split()[0]) for part in last.split(", "))
    assert passed > 0 and failed == 0 and last == f"{passed} passed, 0 failed"
