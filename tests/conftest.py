"""Shared test configuration.

Backends under test: ``--backends=torch,jax`` (default: every installed backend), or the
``UNIFW_TEST_BACKENDS`` environment variable. Hypothesis profiles: ``ci`` (default,
derandomized, no deadline), ``dev`` (fewer examples), ``thorough`` (many examples); pick with
``--hypothesis-profile`` or ``HYPOTHESIS_PROFILE``.
"""
from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, settings

settings.register_profile("ci", max_examples=25, derandomize=True, deadline=None,
                          print_blob=True,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                                 HealthCheck.filter_too_much])
settings.register_profile("dev", max_examples=10, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("thorough", max_examples=300, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def pytest_addoption(parser):
    parser.addoption("--backends", default=os.environ.get("UNIFW_TEST_BACKENDS", "all"),
                     help="comma-separated backends to test (default: all installed)")


def selected_backends(config) -> list[str]:
    import unifw as uf

    avail = uf.available_backends()
    want = config.getoption("--backends")
    if want in ("", "all"):
        return [b for b in ("numpy", "torch", "tensorflow", "jax") if b in avail]
    names = [w.strip() for w in want.split(",") if w.strip()]
    missing = [n for n in names if n not in avail]
    if missing:
        raise pytest.UsageError(f"--backends: not installed here: {missing}")
    return names


def pytest_generate_tests(metafunc):
    bks = selected_backends(metafunc.config)
    if "backend" in metafunc.fixturenames:
        metafunc.parametrize("backend", bks, indirect=True)
    if "grad_backend" in metafunc.fixturenames:
        metafunc.parametrize("grad_backend", [b for b in bks if b != "numpy"], indirect=True)


@pytest.fixture
def backend(request):
    """Runs the test with ``request.param`` as the active backend; yields its name."""
    import unifw as uf

    with uf.use_backend(request.param):
        yield request.param


@pytest.fixture
def grad_backend(request):
    """Like ``backend`` but only backends with autodiff (torch, tensorflow, jax)."""
    import unifw as uf

    with uf.use_backend(request.param):
        yield request.param
