"""The conformance tests collected by ``pytest --pyargs unifw_conformance`` (and
``unifw conformance``); parametrised by the plugin's options (see :mod:`.plugin`)."""
from __future__ import annotations

import pytest

import unifw as uf

from unifw_conformance import registry


def test_registry_covers_every_op():
    missing = registry.missing_ops()
    assert not missing, f"public ops without a conformance registry entry: {missing}"


def test_requested_devices(conformance_backend, conformance_plan):
    """A device named with --unifw-device must exist; with 'auto' a missing GPU skips."""
    present = uf.devices(conformance_backend)
    if conformance_plan.auto_device:
        if not any(d != "cpu" for d in present):
            pytest.skip(f"no GPU visible to {conformance_backend}: GPU checks skipped (pass "
                        "--unifw-device cpu,gpu:0 to demand one)")
        return
    absent = [d for d in conformance_plan.devices if d not in present]
    if absent:
        pytest.fail(f"requested device(s) {absent} not available on backend "
                    f"{conformance_backend!r} (devices: {present})", pytrace=False)


def test_conformance(conformance_cell, conformance_plan):
    cell = conformance_cell
    if cell.device not in uf.devices(cell.backend):
        pytest.fail(f"device {cell.device!r} was requested but backend {cell.backend!r} has "
                    f"only {uf.devices(cell.backend)}", pytrace=False)
    conformance_plan.running(cell.id)
    r = conformance_plan.session.result(cell)
    if r.outcome == "skipped":
        pytest.skip(r.message)
    if r.outcome == "xfailed":
        pytest.xfail(r.message)
    if r.outcome == "failed":
        pytest.fail(r.message, pytrace=False)
