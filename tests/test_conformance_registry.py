"""The conformance registry covers every public op, and its entries are well-formed."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings

import unifw as uf
from unifw._opspec import DTYPE_GROUPS, OPS
from unifw_conformance import registry
from unifw_conformance.cases import dtypes_of_group, kind, map_arrays, to_float64
from unifw_conformance.registry import Foreign, OtherDevice

REG = registry.load()


def test_every_public_op_has_an_entry():
    assert registry.missing_ops() == []
    assert set(OPS) <= set(REG)


def test_missing_entry_is_detected(monkeypatch):
    monkeypatch.delitem(REG, "sin")
    assert registry.missing_ops() == ["sin"]


@pytest.mark.parametrize("name", sorted(OPS))
def test_entry_matches_the_op_spec(name):
    e, spec = REG[name], OPS[name]
    allowed = set(dtypes_of_group(DTYPE_GROUPS[spec.dtypes]))
    if not e.creation:
        assert set(e.dtypes) <= allowed, set(e.dtypes) - allowed
    assert e.grad <= spec.diff
    for bad in e.errors:
        assert issubclass(getattr(uf, bad.error), uf.UnifwError)


_SAMPLE = ["sin", "add", "sum", "matmul", "linalg.qr", "fft.rfft", "nn.conv2d", "getitem",
           "unique_all", "nn.scaled_dot_product_attention"]


@pytest.mark.parametrize("name", _SAMPLE)
def test_strategies_draw_cases_the_reference_accepts(name):
    """Drawn cases hold arrays of the requested dtype and the float64 reference runs on them
    (the reference is NumPy, independent of every backend)."""
    e = REG[name]
    d = "float32" if "float32" in e.dtypes else e.dtypes[0]

    @settings(max_examples=5, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(e.cases(d, False))
    def check(case):
        arrays = []
        map_arrays(arrays.append, (case.args, case.kwargs))
        assert any(kind(d) == "c" or a.dtype.kind != "c" for a in arrays) or not arrays
        with np.errstate(all="ignore"):
            out = e.reference(*map_arrays(to_float64, case.args),
                              **map_arrays(to_float64, case.kwargs))
        outs = out if isinstance(out, tuple) else (out,)
        assert all(isinstance(np.asarray(o), np.ndarray) for o in outs)

    check()


def test_bad_inputs_cover_backend_and_device_mixing():
    markers = [type(a) for e in REG.values() for b in e.errors for a in b.args
               if isinstance(a, (Foreign, OtherDevice))]
    assert Foreign in markers and OtherDevice in markers
