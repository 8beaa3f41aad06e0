"""Checkpoints: round trips, resuming on another backend, integrity and mismatch errors."""
from __future__ import annotations

import json
import os

import numpy as np
import pytest

import unifw as uf
from unifw import nn, optim
from unifw.variable import Buffer, Parameter
import unifw.nn.functional as F

from conftest import selected_backends


def pytest_generate_tests(metafunc):
    if "save_on" in metafunc.fixturenames:
        grad = [b for b in selected_backends(metafunc.config) if b != "numpy"]
        pairs = [(a, b) for a in grad for b in grad]
        metafunc.parametrize("save_on,load_on", pairs, ids=[f"{a}-to-{b}" for a, b in pairs])


def _data():
    rng = np.random.default_rng(0)
    return rng.normal(size=(16, 5)).astype(np.float32), rng.normal(size=(16, 2)).astype(np.float32)


def _setup(seed):
    uf.random.seed(seed)
    model = nn.Sequential(nn.Linear(5, 8), nn.ReLU(), nn.Linear(8, 2))
    opt = optim.Adam(model.parameters(), lr=0.01, amsgrad=True)
    sched = optim.ExponentialLR(opt, gamma=0.9)
    ema = optim.EMA(model, decay=0.8)
    return {"model": model, "opt": opt, "sched": sched, "ema": ema}


def _train(state, steps, x, y):
    model, opt = state["model"], state["opt"]
    xs, ys = uf.asarray(x), uf.asarray(y)
    losses = []
    for i in range(steps):
        rows = slice(4 * (i % 4), 4 * (i % 4) + 4)
        loss, grads = uf.value_and_grad(
            lambda m, rows=rows: F.mse_loss(m(xs[rows]), ys[rows]))(model)
        opt.step(grads)
        state["ema"].update(model)
        state["sched"].step()
        losses.append(float(loss))
    return losses


def _snapshot(state) -> dict:
    out = {}
    for key, obj in state.items():
        out.update({f"{key}.{k}": v.numpy().copy() for k, v in obj._unifw_variables().items()})
    return out


def test_resume_on_another_backend_continues_identically(tmp_path, save_on, load_on):
    x, y = _data()
    path = tmp_path / "ckpt.safetensors"
    with uf.use_backend(save_on):
        a = _setup(seed=0)
        _train(a, 10, x, y)
        uf.save(path, a, metadata={"epoch": 10})
        expected = _train(a, 10, x, y)
        expected_state = _snapshot(a)
    with uf.use_backend(load_on):
        b = _setup(seed=123)  # other initial values, same structure
        assert uf.load(path, b) == {"epoch": 10}
        got = _train(b, 10, x, y)
        got_state = _snapshot(b)
    np.testing.assert_allclose(got, expected, rtol=1e-5)
    assert got_state.keys() == expected_state.keys()
    for k in expected_state:
        np.testing.assert_allclose(got_state[k], expected_state[k], rtol=1e-5, atol=1e-6,
                                   err_msg=k)


def test_round_trip_restores_values_dtypes_and_rng(tmp_path, backend):
    w = Parameter(uf.asarray(np.array([1.5, -2.25], np.float32)).astype(uf.bfloat16))
    z = Buffer(uf.asarray(np.array([1 + 2j, 3 - 1j])))
    z128 = Buffer(uf.asarray(np.array([1 + 2j], np.complex128)))
    counter = Buffer(uf.asarray(np.int64(7)))
    mask = Buffer(uf.asarray(np.array([True, False])))
    state = {"w": w, "z": z, "z128": z128, "counter": counter, "mask": mask}
    originals = {k: v.numpy().copy() for k, v in state.items()}
    uf.random.seed(42)
    uf.save(tmp_path / "c.safetensors", state)
    expected_draw = uf.random.host_generator().integers(0, 2 ** 31)
    for v in state.values():
        v.assign(uf.zeros_like(v))
    uf.random.seed(0)
    uf.load(tmp_path / "c.safetensors", state)
    for k, v in state.items():
        assert v.dtype.name == originals[k].dtype.name or k == "w"
        np.testing.assert_array_equal(v.numpy(), originals[k])
    assert w.dtype == uf.bfloat16
    assert uf.random.host_generator().integers(0, 2 ** 31) == expected_draw
    arrays = uf.load(tmp_path / "c.safetensors")
    np.testing.assert_array_equal(arrays["z128"], originals["z128"])
    assert arrays["counter"] == 7


def _model_state(model):
    return {k: v.numpy().copy() for k, v in model._unifw_variables().items()}


def test_damaged_files_raise_and_leave_the_model_unchanged(tmp_path, backend):
    uf.random.seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.Linear(4, 2))
    path = tmp_path / "m.safetensors"
    uf.save(path, model)
    good = path.read_bytes()
    uf.random.seed(1)
    target = nn.Sequential(nn.Linear(3, 4), nn.Linear(4, 2))
    before = _model_state(target)

    def expect_error(blob, match):
        path.write_bytes(blob)
        with pytest.raises(uf.CheckpointError, match=match):
            uf.load(path, target)
        after = _model_state(target)
        for k in before:
            np.testing.assert_array_equal(after[k], before[k])

    expect_error(good[:-7], "truncated")
    expect_error(good[:5], "truncated")
    flipped = bytearray(good)
    flipped[-2] ^= 0x10  # a bit in the last tensor's data
    expect_error(bytes(flipped), "altered")
    n = int.from_bytes(good[:8], "little")
    header = good[8:8 + n].decode()
    meta = json.loads(header)["__metadata__"]
    inner = json.loads(meta["unifw"])
    inner["metadata"] = {"note": "x"}  # change the structure but keep the digest
    meta["unifw"] = json.dumps(inner, sort_keys=True)
    new_header = json.dumps({**json.loads(header), "__metadata__": meta}).encode()
    new_header += b" " * (-len(new_header) % 8)
    expect_error(len(new_header).to_bytes(8, "little") + new_header + good[8 + n:], "altered")
    from safetensors.numpy import save as st_save

    expect_error(st_save({"a": np.zeros(2, np.float32)}), "not a unifw checkpoint")
    with pytest.raises(uf.CheckpointError, match="cannot read"):
        uf.load(tmp_path / "missing.safetensors", target)


def test_mismatch_lists_every_problem_and_changes_nothing(tmp_path, backend):
    uf.random.seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.Linear(4, 2))
    path = tmp_path / "m.safetensors"
    uf.save(path, {"model": model})
    other = nn.Sequential(nn.Linear(3, 5), nn.Linear(5, 2, dtype=uf.float64),
                          nn.Linear(2, 2))
    before = _model_state(other)
    with pytest.raises(uf.CheckpointError) as info:
        uf.load(path, {"model": other})
    message = str(info.value)
    for expected in ["model.0.weight: shape (4, 3) in the checkpoint, (5, 3)",
                     "model.0.bias: shape (4,)", "model.1.weight: shape (2, 4)",
                     "model.1.weight: dtype float32 in the checkpoint, float64",
                     "model.2.weight: missing", "model.2.bias: missing"]:
        assert expected in message
    for k, v in _model_state(other).items():
        np.testing.assert_array_equal(v, before[k])
    with pytest.raises(uf.CheckpointError, match="saved from Sequential, loading into Adam"):
        uf.load(path, {"model": optim.Adam(model.parameters())})


def test_non_strict_load_of_a_subset(tmp_path, backend):
    uf.random.seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.Linear(4, 2))
    opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    uf.save(tmp_path / "c.safetensors", {"model": model, "opt": opt})
    uf.random.seed(1)
    fresh = nn.Sequential(nn.Linear(3, 4), nn.Linear(4, 2))
    with pytest.raises(uf.CheckpointError, match="opt: in the checkpoint"):
        uf.load(tmp_path / "c.safetensors", {"model": fresh})
    uf.load(tmp_path / "c.safetensors", {"model": fresh}, strict=False)
    np.testing.assert_array_equal(fresh[1].weight.numpy(), model[1].weight.numpy())


def test_writes_are_atomic(tmp_path, backend, monkeypatch):
    uf.random.seed(0)
    model = nn.Linear(3, 2)
    path = tmp_path / "m.safetensors"
    uf.save(path, model)
    good = path.read_bytes()

    def failing_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", failing_replace)
    model.weight.assign(model.weight.value * 2.0)
    with pytest.raises(OSError, match="disk full"):
        uf.save(path, model)
    monkeypatch.undo()
    assert path.read_bytes() == good
    assert os.listdir(tmp_path) == ["m.safetensors"]  # no temporary file left behind


def test_metadata_must_be_json(tmp_path, backend):
    with pytest.raises(TypeError, match="JSON"):
        uf.save(tmp_path / "c.safetensors", nn.Linear(2, 2), metadata={"f": object()})
    assert not os.listdir(tmp_path)
