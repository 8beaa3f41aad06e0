"""A representative, fast subset of the conformance matrix on every installed backend (the
full matrix runs as ``unifw conformance --backend all`` in CI)."""
from __future__ import annotations

import pytest

import unifw as uf
from unifw_conformance import runner
from unifw_conformance.registry import select

VALUE_OPS = ["divide", "matmul", "sum", "getitem", "linalg.solve", "nn.conv2d"]
ERROR_OPS = ["add", "matmul", "reshape", "nn.linear"]
GRAD_OPS = ["tanh", "matmul", "nn.log_softmax"]
COMPILED_OPS = ["add", "exp", "sum"]


def _results(backend, ops, checks, modes, dtypes=None):
    cells = runner.cells(select(ops), [backend], ["cpu"], modes, runner.PROFILES["dev"],
                         checks)
    if dtypes:
        cells = [c for c in cells if c.dtype in dtypes or c.dtype == "-"]
    session = runner.Session(cells, "dev")
    return session.run_all()


def _assert_ok(results):
    bad = [r for r in results if r.outcome == "failed"]
    assert not bad, "\n\n".join(r.message for r in bad)
    assert any(r.outcome == "passed" for r in results)


def test_values_eager(backend):
    _assert_ok(_results(backend, VALUE_OPS, ("values",), ["eager"], ("float32", "int32")))


def test_errors_eager(backend):
    _assert_ok(_results(backend, ERROR_OPS, ("errors",), ["eager"]))


def test_gradients_eager(grad_backend):
    _assert_ok(_results(grad_backend, GRAD_OPS, ("grad",), ["eager"], ("float64",)))


def test_compiled_values_in_one_batch(backend):
    if not uf.get_backend(backend).supports_compile:
        pytest.skip("no compiler")
    _assert_ok(_results(backend, COMPILED_OPS, ("values",), ["compiled"], ("float32",)))


def test_model_trains_like_the_reference(grad_backend):
    cells = [runner.Cell("models", "model.mlp", grad_backend, "cpu", "eager", "float32"),
             runner.Cell("checkpoints", "checkpoint.to_numpy", grad_backend, "cpu", "eager",
                         "float32")]
    res = [runner.run_cell(c, "dev") for c in cells]
    assert res[0].outcome == "passed", res[0].message
    assert res[1].outcome == "skipped"  # NumPy has no autodiff to continue training with
