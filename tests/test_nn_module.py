"""nn.Module: registration, naming, containers, state_dict / load_state_dict, modes,
freezing, placement; gradients of module parameters against torch autograd."""
from __future__ import annotations

import copy

import numpy as np
import pytest

import unifw as uf
import unifw.nn.functional as F
from unifw import nn
from unifw.variable import Variable

torch = pytest.importorskip("torch")


class TwoLayerNet(nn.Module):
    def __init__(self, d_in, h, d_out):
        super().__init__()
        self.linear1 = nn.Linear(d_in, h)
        self.linear2 = nn.Linear(h, d_out)

    def forward(self, x):
        return self.linear2(F.relu(self.linear1(x)))


class ParallelBlock(nn.Module):
    def __init__(self, d_in, d_out):
        super().__init__()
        self.linear1 = nn.Linear(d_in, d_out)
        self.linear2 = nn.Linear(d_in, d_out)

    def forward(self, x):
        return (self.linear1(x) * self.linear2(x)).clamp(min=0)


class TorchParallelBlock(torch.nn.Module):
    def __init__(self, d_in, d_out):
        super().__init__()
        self.linear1 = torch.nn.Linear(d_in, d_out)
        self.linear2 = torch.nn.Linear(d_in, d_out)

    def forward(self, x):
        return (self.linear1(x) * self.linear2(x)).clamp(min=0)


@pytest.fixture
def numpy_backend():
    """For module logic that does not depend on the backend."""
    with uf.use_backend("numpy"):
        yield


def _arrays(sd):
    return {k: np.array(v) for k, v in sd.items()}


# ---------------------------------------------------------------- registration and naming
def test_registration_and_names_follow_pytorch(numpy_backend):
    ours = nn.Sequential(ParallelBlock(4, 3), ParallelBlock(3, 3), nn.BatchNorm1d(3),
                         nn.Linear(3, 2))
    ref = torch.nn.Sequential(TorchParallelBlock(4, 3), TorchParallelBlock(3, 3),
                              torch.nn.BatchNorm1d(3), torch.nn.Linear(3, 2))
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in ref.named_parameters()]
    assert [n for n, _ in ours.named_buffers()] == [n for n, _ in ref.named_buffers()]
    assert list(ours.state_dict()) == list(ref.state_dict())
    assert [n for n, _ in ours.named_modules()] == [n for n, _ in ref.named_modules()]
    assert [tuple(p.shape) for p in ours.parameters()] == [tuple(p.shape)
                                                          for p in ref.parameters()]
    assert len(list(ours.children())) == 4
    assert isinstance(ours.get_submodule("1.linear2"), nn.Linear)
    assert ours.get_parameter("3.bias") is ours[3].bias
    assert ours.get_buffer("2.running_var") is ours[2].running_var


def test_attribute_assignment_rules(numpy_backend):
    m = nn.Module()
    m.w = nn.Parameter(uf.ones((2,)))
    m.stats = nn.Buffer(uf.zeros((2,), dtype=uf.float32))
    m.child = nn.Linear(2, 2)
    m.plain = 3
    assert [n for n, _ in m.named_parameters()] == ["w", "child.weight", "child.bias"]
    assert [n for n, _ in m.named_buffers()] == ["stats"]
    assert m.plain == 3 and "plain" not in m.state_dict()
    with pytest.raises(TypeError, match=r"assign\(value\)"):
        m.w = uf.zeros((2,))  # a plain Tensor must not silently replace a Parameter
    with pytest.raises(TypeError, match="Module"):
        m.child = 5
    with pytest.raises(TypeError, match="Parameter"):
        m.v = Variable(uf.ones((1,)))
    m.stats = uf.full((2,), 7.0, dtype=uf.float32)  # writes into the existing Buffer
    np.testing.assert_array_equal(np.asarray(m.stats), [7.0, 7.0])
    m.w = None
    assert "w" not in dict(m.named_parameters())
    del m.child
    assert [n for n, _ in m.named_parameters()] == []
    with pytest.raises(AttributeError, match="has no attribute 'missing'"):
        _ = m.missing


def test_assigning_before_init_is_an_error(numpy_backend):
    class Bad(nn.Module):
        def __init__(self):
            self.lin = nn.Linear(1, 1)

    with pytest.raises(AttributeError, match="super"):
        Bad()


def test_shared_parameters_are_listed_once(numpy_backend):
    lin = nn.Linear(2, 2)
    m = nn.Sequential(lin, nn.ReLU(), lin)
    assert [n for n, _ in m.named_parameters()] == ["0.weight", "0.bias"]
    assert list(m._unifw_variables()) == ["0.weight", "0.bias"]
    assert list(m.state_dict()) == ["0.weight", "0.bias", "2.weight", "2.bias"]  # like torch


def test_unifw_variables_include_nonpersistent_buffers(numpy_backend):
    m = nn.Sequential(nn.Linear(2, 3), nn.BatchNorm1d(3), nn.Dropout(0.5))
    names = list(m._unifw_variables())
    assert names == ["0.weight", "0.bias", "1.weight", "1.bias", "1.running_mean",
                     "1.running_var", "1.num_batches_tracked", "2.rng_key"]
    assert "2.rng_key" not in m.state_dict()
    assert all(isinstance(v, Variable) for v in m._unifw_variables().values())


def test_repr_matches_pytorch(numpy_backend):
    def build(mod):
        return mod.Sequential(mod.Conv2d(1, 4, 3, stride=2, padding=1, bias=False),
                              mod.BatchNorm2d(4), mod.ReLU(), mod.MaxPool2d(2), mod.Flatten(),
                              mod.Dropout(0.1), mod.Linear(16, 10), mod.LSTM(3, 4, 2),
                              mod.LayerNorm(4), mod.Embedding(5, 2, padding_idx=0),
                              mod.GELU(), mod.Softmax(dim=1))

    assert repr(build(nn)) == repr(build(torch.nn))


# ---------------------------------------------------------------- containers
def test_sequential_indexing_slicing_and_editing(numpy_backend):
    layers = [nn.Linear(4, 4), nn.ReLU(), nn.Linear(4, 2)]
    seq = nn.Sequential(*layers)
    assert len(seq) == 3 and list(seq) == layers
    assert seq[0] is layers[0] and seq[-1] is layers[2]
    tail = seq[1:]
    assert isinstance(tail, nn.Sequential) and list(tail) == layers[1:]
    assert [n for n, _ in tail.named_parameters()] == ["2.weight", "2.bias"]  # torch keeps keys
    with pytest.raises(IndexError):
        seq[3]
    seq.append(nn.Tanh())
    assert len(seq) == 4 and isinstance(seq[3], nn.Tanh)
    del seq[1]
    assert [n for n, _ in seq.named_parameters()] == ["0.weight", "0.bias", "1.weight",
                                                     "1.bias"]
    seq.insert(0, nn.Identity())
    assert isinstance(seq[0], nn.Identity) and len(seq) == 4
    from collections import OrderedDict

    named = nn.Sequential(OrderedDict(enc=nn.Linear(2, 3), act=nn.ReLU()))
    assert [n for n, _ in named.named_parameters()] == ["enc.weight", "enc.bias"]


def test_sequential_forward_chains_layers(numpy_backend):
    seq = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    x = uf.asarray(np.random.default_rng(0).standard_normal((5, 3)).astype(np.float32))
    w1, b1, w2, b2 = (np.asarray(p, dtype=np.float64) for p in seq.parameters())
    ref = np.maximum(np.asarray(x, np.float64) @ w1.T + b1, 0) @ w2.T + b2
    np.testing.assert_allclose(np.asarray(seq(x)), ref, rtol=1e-5, atol=1e-6)


def test_module_list_and_dict(numpy_backend):
    ml = nn.ModuleList([nn.Linear(2, 2) for _ in range(3)])
    assert len(ml) == 3 and isinstance(ml[-1], nn.Linear)
    ml.append(nn.Linear(2, 1))
    assert [n for n, _ in ml.named_parameters()][-2:] == ["3.weight", "3.bias"]
    assert isinstance(ml[1:], nn.ModuleList) and len(ml[1:]) == 3
    md = nn.ModuleDict({"enc": nn.Linear(2, 3), "dec": nn.Linear(3, 2)})
    assert list(md) == ["enc", "dec"] and "enc" in md
    assert [n for n, _ in md.named_parameters()] == ["enc.weight", "enc.bias", "dec.weight",
                                                    "dec.bias"]
    md["act"] = nn.ReLU()
    assert list(md.keys()) == ["enc", "dec", "act"]
    assert isinstance(md.pop("act"), nn.ReLU) and len(md) == 2

    class Holder(nn.Module):
        def __init__(self):
            super().__init__()
            self.blocks = nn.ModuleList([nn.Linear(2, 2), nn.Linear(2, 2)])

    assert [n for n, _ in Holder().named_parameters()] == [
        "blocks.0.weight", "blocks.0.bias", "blocks.1.weight", "blocks.1.bias"]


# ---------------------------------------------------------------- state_dict
def test_load_state_dict_from_torch_numpy_arrays(backend):
    ref = torch.nn.Sequential(TorchParallelBlock(4, 3), torch.nn.BatchNorm1d(3),
                              torch.nn.Linear(3, 2)).double()
    with torch.no_grad():
        ref[1].running_mean.copy_(torch.arange(3.0))
        ref[1].num_batches_tracked.fill_(5)
    ours = nn.Sequential(ParallelBlock(4, 3), nn.BatchNorm1d(3), nn.Linear(3, 2)).double()
    result = ours.load_state_dict({k: v.numpy() for k, v in ref.state_dict().items()})
    assert result.missing_keys == [] and result.unexpected_keys == []
    for k, v in ours.state_dict().items():
        np.testing.assert_array_equal(np.asarray(v), ref.state_dict()[k].numpy(), err_msg=k)
    assert ours[1].num_batches_tracked.dtype == uf.int64
    ref.eval()
    ours.eval()
    x = np.random.default_rng(0).standard_normal((5, 4))
    with torch.no_grad():
        expected = ref(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(np.asarray(ours(uf.asarray(x))), expected, rtol=1e-12)


def test_load_state_dict_accepts_tensors_and_casts(backend):
    m = nn.Linear(2, 2)
    sd = {"weight": uf.asarray(np.eye(2)), "bias": np.array([1, 2], dtype=np.int64)}
    m.load_state_dict(sd)
    assert m.weight.dtype == uf.float32 and m.bias.dtype == uf.float32
    np.testing.assert_array_equal(np.asarray(m.weight), np.eye(2))
    np.testing.assert_array_equal(np.asarray(m.bias), [1.0, 2.0])
    # a state_dict of our own is a snapshot: later changes to the model do not alter it
    snap = m.state_dict()
    m.weight.assign(uf.zeros((2, 2), dtype=uf.float32))
    np.testing.assert_array_equal(np.asarray(snap["weight"]), np.eye(2))


def test_load_state_dict_errors_list_everything_and_change_nothing(backend):
    m = TwoLayerNet(3, 4, 2)
    before = _arrays(m.state_dict())
    bad = _arrays(m.state_dict())
    bad["linear1.weight"] = np.zeros((3, 4), np.float32)  # transposed shape
    bad["linear2.bias"] = np.zeros((2,), np.float32) + 9.0  # valid, must not be applied
    del bad["linear2.weight"]
    bad["extra.weight"] = np.zeros(1)
    with pytest.raises(uf.StateDictError) as info:
        m.load_state_dict(bad)
    msg = str(info.value)
    assert 'Missing key(s) in state_dict: "linear2.weight"' in msg
    assert 'Unexpected key(s) in state_dict: "extra.weight"' in msg
    assert "size mismatch for linear1.weight" in msg and "(3, 4)" in msg and "(4, 3)" in msg
    assert info.value.missing_keys == ["linear2.weight"]
    for k, v in _arrays(m.state_dict()).items():
        np.testing.assert_array_equal(v, before[k], err_msg=k)


def test_load_state_dict_non_strict(numpy_backend):
    m = TwoLayerNet(3, 4, 2)
    partial = {"linear1.weight": np.ones((4, 3), np.float32), "other": np.zeros(2)}
    result = m.load_state_dict(partial, strict=False)
    assert result.missing_keys == ["linear1.bias", "linear2.weight", "linear2.bias"]
    assert result.unexpected_keys == ["other"]
    np.testing.assert_array_equal(np.asarray(m.linear1.weight), np.ones((4, 3)))
    with pytest.raises(uf.StateDictError, match="size mismatch"):
        m.load_state_dict({"linear1.weight": np.ones((3, 3))}, strict=False)


def test_state_dict_round_trip_between_backends(backend):
    uf.random.seed(0)
    with uf.use_backend("numpy"):
        src = TwoLayerNet(3, 5, 2)
    dst = TwoLayerNet(3, 5, 2)
    dst.load_state_dict(src.state_dict())  # numpy-backend tensors into this backend
    for k, v in dst.state_dict().items():
        assert v.backend_name == uf.backend()
        np.testing.assert_array_equal(np.asarray(v), np.asarray(src.state_dict()[k]))


# ---------------------------------------------------------------- modes, freezing, placement
def test_train_eval_apply_and_requires_grad(numpy_backend):
    m = nn.Sequential(nn.Linear(2, 2), nn.Dropout(), nn.Sequential(nn.BatchNorm1d(2)))
    assert all(mod.training for mod in m.modules())
    assert m.eval() is m and not any(mod.training for mod in m.modules())
    m.train()
    assert m[2][0].training
    with pytest.raises(ValueError):
        m.train("no")
    visited = []
    m.apply(lambda mod: visited.append(type(mod).__name__))
    assert visited == ["Linear", "Dropout", "BatchNorm1d", "Sequential", "Sequential"]
    m[0].weight.trainable = False
    assert [n for n, p in m.named_parameters() if not p.trainable] == ["0.weight"]
    assert len(list(m.parameters())) == 4  # frozen ones are still listed
    m.requires_grad_(False)
    assert not any(p.trainable for p in m.parameters())
    m.requires_grad_()
    assert all(p.trainable for p in m.parameters())


def test_to_dtype_and_device_keeps_parameter_objects(backend):
    m = nn.Sequential(nn.Linear(2, 3), nn.BatchNorm1d(3), nn.Dropout(0.2))
    params = list(m.parameters())
    values = [np.asarray(p) for p in params]
    assert m.to(uf.float64) is m
    assert [p is q for p, q in zip(m.parameters(), params)] == [True] * 4
    assert {p.dtype for p in m.parameters()} == {uf.float64}
    assert m[1].running_mean.dtype == uf.float64
    assert m[1].num_batches_tracked.dtype == uf.int64  # integer state is not cast
    assert m[2].rng_key.dtype == uf.int64
    for p, v in zip(m.parameters(), values):
        np.testing.assert_array_equal(np.asarray(p), v.astype(np.float64))
    m.to("cpu", dtype="float32")
    assert {p.dtype for p in m.parameters()} == {uf.float32}
    assert {str(p.device) for p in m.parameters()} == {"cpu"}
    x = uf.asarray(np.ones((4, 2), np.float32))
    assert m(x).dtype == uf.float32
    with pytest.raises(TypeError):
        m.to(uf.int32)


@pytest.mark.gpu
def test_to_gpu(backend):
    gpus = [d for d in uf.devices() if d != "cpu"]
    if not gpus:
        pytest.skip("no GPU")
    m = nn.Linear(3, 2).to(gpus[0])
    assert {str(p.device) for p in m.parameters()} == {gpus[0]}
    x = uf.asarray(np.ones((1, 3), np.float32), device=gpus[0])
    assert m(x).device == gpus[0]


def test_deepcopy_gives_independent_state(numpy_backend):
    m = TwoLayerNet(2, 3, 1)
    c = copy.deepcopy(m)
    assert c.linear1.weight is not m.linear1.weight
    np.testing.assert_array_equal(np.asarray(c.linear1.weight), np.asarray(m.linear1.weight))
    c.linear1.weight.assign(uf.zeros((3, 2), dtype=uf.float32))
    assert np.asarray(m.linear1.weight).any()


def test_missing_forward_is_reported(numpy_backend):
    with pytest.raises(NotImplementedError, match="forward"):
        nn.Module()(uf.zeros(1))


# ---------------------------------------------------------------- gradients
def test_value_and_grad_of_module_matches_torch(grad_backend):
    uf.random.seed(0)
    ours = nn.Sequential(ParallelBlock(4, 5), nn.BatchNorm1d(5), nn.Tanh(), nn.Linear(5, 3))
    ours.double()
    ours[3].bias.trainable = False
    ref = torch.nn.Sequential(TorchParallelBlock(4, 5), torch.nn.BatchNorm1d(5),
                              torch.nn.Tanh(), torch.nn.Linear(5, 3)).double()
    ref.load_state_dict({k: torch.from_numpy(np.array(v)) for k, v in ours.state_dict().items()})
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((6, 4)), rng.integers(0, 3, 6)

    loss, grads = uf.value_and_grad(
        lambda m: F.cross_entropy(m(uf.asarray(x)), uf.asarray(y)))(ours)
    ref_loss = torch.nn.functional.cross_entropy(ref(torch.from_numpy(x)), torch.from_numpy(y))
    ref_loss.backward()

    np.testing.assert_allclose(float(loss), ref_loss.item(), rtol=1e-12)
    assert list(grads) == [n for n, _ in ours.named_parameters()]
    assert grads["3.bias"] is None
    for name, p in ref.named_parameters():
        if name != "3.bias":
            np.testing.assert_allclose(np.asarray(grads[name]), p.grad.numpy(), rtol=1e-9,
                                       atol=1e-12, err_msg=name)
    # the BatchNorm statistics were updated by the differentiated call, as in torch
    np.testing.assert_allclose(np.asarray(ours[1].running_mean), ref[1].running_mean.numpy(),
                               rtol=1e-12)
