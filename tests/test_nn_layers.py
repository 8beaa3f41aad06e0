"""Layers against torch.nn in float64: same weights (loaded through load_state_dict from the
torch module's state_dict as NumPy arrays), same inputs, outputs equal to float64 tolerance,
on every backend."""
from __future__ import annotations

import numpy as np
import pytest

import unifw as uf
from unifw import nn

torch = pytest.importorskip("torch")
tnn = torch.nn

RTOL, ATOL = 1e-9, 1e-11


@pytest.fixture
def numpy_backend():
    """For module logic that does not depend on the backend."""
    with uf.use_backend("numpy"):
        yield


def _torch_state(tmod):
    return {k: v.detach().numpy() for k, v in tmod.state_dict().items()}


def _flat(out):
    if isinstance(out, (tuple, list)):
        return [a for o in out for a in _flat(o)]
    if out is None:
        return []
    return [np.asarray(out.detach().numpy() if hasattr(out, "detach") else out)]


def _pair_modules(factory, seed=0):
    """The torch module (float64, eval) and ours loaded with its weights."""
    torch.manual_seed(seed)
    tmod = factory(tnn).double().eval()
    umod = factory(nn).double().eval()
    umod.load_state_dict(_torch_state(tmod))
    return tmod, umod


def _assert_same(ours, ref, rtol=RTOL, atol=ATOL):
    a, r = _flat(ours), _flat(ref)
    assert len(a) == len(r)
    for x, y in zip(a, r):
        assert x.shape == y.shape
        np.testing.assert_allclose(x, y, rtol=rtol, atol=atol)


CASES = {
    "linear_nobias_3d": (lambda m: m.Linear(5, 3, bias=False), [(2, 3, 5)]),
    "conv1d": (lambda m: m.Conv1d(3, 4, 3, stride=2, padding=1), [(2, 3, 9)]),
    "conv2d_groups_dilation": (lambda m: m.Conv2d(4, 6, 3, stride=(2, 1), padding=1,
                                                  dilation=(1, 2), groups=2), [(2, 4, 7, 8)]),
    "conv2d_same_even_kernel": (lambda m: m.Conv2d(3, 2, (4, 3), padding="same"),
                                [(1, 3, 6, 5)]),
    "conv2d_reflect_unbatched": (lambda m: m.Conv2d(3, 2, 3, padding=1, padding_mode="reflect"),
                                 [(3, 5, 5)]),
    "conv_transpose2d": (lambda m: m.ConvTranspose2d(4, 6, 3, stride=2, padding=1,
                                                     output_padding=1, groups=2),
                         [(2, 4, 5, 5)]),
    "pools": (lambda m: m.Sequential(m.MaxPool2d(3, stride=2, padding=1),
                                     m.MaxPool2d(2, ceil_mode=True),
                                     m.AvgPool2d(3, stride=1, padding=1, count_include_pad=False),
                                     m.AdaptiveAvgPool2d((2, 1))), [(2, 3, 9, 10)]),
    "layernorm": (lambda m: m.LayerNorm((4, 5)), [(3, 4, 5)]),
    "activations": (lambda m: m.Sequential(m.Identity(7, unused=True), m.LeakyReLU(0.2),
                                           m.GELU("tanh"), m.SiLU(), m.Tanh(), m.GELU(),
                                           m.Sigmoid(), m.LogSoftmax(dim=-1)), [(3, 4)]),
    "positive_activations": (lambda m: m.Sequential(m.ReLU(), m.Softplus(beta=2.0, threshold=1.0),
                                                    m.Softmax(dim=1)), [(3, 4, 2)]),
    "cnn": (lambda m: m.Sequential(m.Conv2d(2, 4, 3, padding=1), m.ReLU(), m.MaxPool2d(2),
                                   m.Flatten(), m.Linear(16, 3)), [(2, 2, 4, 4)]),
    "transformer_pre_norm_gelu": (lambda m: m.TransformerEncoderLayer(
        8, 2, 16, dropout=0.0, activation="gelu", norm_first=True), [(5, 2, 8)]),
    "rnn_relu": (lambda m: m.RNN(3, 4, nonlinearity="relu"), [(5, 2, 3)]),
    "lstm_2layer_bidir_batch_first": (lambda m: m.LSTM(3, 4, num_layers=2, bidirectional=True,
                                                       batch_first=True), [(2, 5, 3)]),
    "gru_bidir_nobias": (lambda m: m.GRU(3, 4, bias=False, bidirectional=True), [(4, 2, 3)]),
}


@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel")
@pytest.mark.parametrize("case", sorted(CASES))
def test_forward_matches_torch(backend, case):
    factory, shapes = CASES[case]
    tmod, umod = _pair_modules(factory)
    rng = np.random.default_rng(1)
    xs = [rng.standard_normal(s) for s in shapes]
    with torch.no_grad():
        ref = tmod(*[torch.from_numpy(x) for x in xs])
    ours = umod(*[uf.asarray(x) for x in xs])
    _assert_same(ours, ref)


def test_recurrent_unbatched_with_initial_state(backend):
    tmod, umod = _pair_modules(lambda m: m.LSTM(3, 4, num_layers=2))
    rng = np.random.default_rng(2)
    x, h0, c0 = (rng.standard_normal(s) for s in [(5, 3), (2, 4), (2, 4)])
    with torch.no_grad():
        ref = tmod(torch.from_numpy(x), (torch.from_numpy(h0), torch.from_numpy(c0)))
    ours = umod(uf.asarray(x), (uf.asarray(h0), uf.asarray(c0)))
    _assert_same(ours, ref)
    with pytest.raises(ValueError, match="hidden state"):
        umod(uf.asarray(x), (uf.asarray(h0[:1]), uf.asarray(c0)))


def test_conv_transpose_output_size(backend):
    tmod, umod = _pair_modules(lambda m: m.ConvTranspose2d(2, 3, 3, stride=2, padding=1))
    x = np.random.default_rng(3).standard_normal((1, 2, 4, 4))
    with torch.no_grad():
        ref = tmod(torch.from_numpy(x), output_size=[8, 8])
    ours = umod(uf.asarray(x), output_size=[8, 8])
    _assert_same(ours, ref)
    with pytest.raises(ValueError, match="output size"):
        umod(uf.asarray(x), output_size=(12, 12))


def test_embedding_matches_torch(backend):
    tmod, umod = _pair_modules(lambda m: m.Embedding(10, 4, padding_idx=-1))
    assert umod.padding_idx == 9
    idx = np.array([[0, 9, 3], [9, 9, 1]], dtype=np.int64)
    with torch.no_grad():
        ref = tmod(torch.from_numpy(idx))
    _assert_same(umod(uf.asarray(idx)), ref)


def test_embedding_default_init_zeroes_padding_row(backend):
    uf.random.seed(0)
    emb = nn.Embedding(6, 3, padding_idx=2)
    w = np.asarray(emb.weight)
    np.testing.assert_array_equal(w[2], 0.0)
    assert np.all(w[[0, 1, 3, 4, 5]] != 0.0)
    frozen = nn.Embedding.from_pretrained(np.eye(3, dtype=np.float32))
    assert frozen.weight.trainable is False
    np.testing.assert_array_equal(np.asarray(frozen(uf.asarray(np.array([2, 0])))),
                                  np.eye(3)[[2, 0]])


@pytest.mark.parametrize("kdim,need_weights,average",
                         [(None, True, True), (None, True, False), (6, False, True)])
def test_multihead_attention_matches_torch(backend, kdim, need_weights, average):
    E, H, N, L, S = 8, 2, 2, 3, 4
    tmod, umod = _pair_modules(lambda m: m.MultiheadAttention(E, H, batch_first=True,
                                                              kdim=kdim, vdim=kdim))
    rng = np.random.default_rng(4)
    q = rng.standard_normal((N, L, E))
    k = rng.standard_normal((N, S, kdim or E))
    v = rng.standard_normal((N, S, kdim or E))
    attn_mask = np.triu(np.ones((L, S), dtype=bool), k=2)  # True = not allowed (torch MHA)
    pad = np.zeros((N, S), dtype=bool)
    pad[1, -1] = True
    with torch.no_grad():
        ref = tmod(*(torch.from_numpy(a) for a in (q, k, v)),
                   key_padding_mask=torch.from_numpy(pad), need_weights=need_weights,
                   attn_mask=torch.from_numpy(attn_mask), average_attn_weights=average)
    ours = umod(*(uf.asarray(a) for a in (q, k, v)), key_padding_mask=uf.asarray(pad),
                need_weights=need_weights, attn_mask=uf.asarray(attn_mask),
                average_attn_weights=average)
    assert (ours[1] is None) == (ref[1] is None)
    _assert_same(ours, ref)


def test_multihead_attention_float_mask_seq_first_and_unbatched(backend):
    E, H, L = 6, 3, 4
    tmod, umod = _pair_modules(lambda m: m.MultiheadAttention(E, H))
    rng = np.random.default_rng(5)
    x = rng.standard_normal((L, 2, E))
    mask = rng.standard_normal((2 * H, L, L))
    with torch.no_grad():
        ref = tmod(*(torch.from_numpy(x),) * 3, attn_mask=torch.from_numpy(mask))
        ref_unbatched = tmod(*(torch.from_numpy(x[:, 0]),) * 3)
    _assert_same(umod(*(uf.asarray(x),) * 3, attn_mask=uf.asarray(mask)), ref)
    _assert_same(umod(*(uf.asarray(x[:, 0]),) * 3), ref_unbatched)


def test_transformer_encoder_with_causal_mask(backend):
    def factory(m):
        layer = m.TransformerEncoderLayer(8, 2, 16, dropout=0.0, batch_first=True)
        return m.TransformerEncoder(layer, num_layers=2)

    tmod, umod = _pair_modules(factory)
    assert [n for n, _ in umod.named_parameters()] == [n for n, _ in tmod.named_parameters()]
    x = np.random.default_rng(6).standard_normal((2, 4, 8))
    mask = np.triu(np.full((4, 4), -np.inf), k=1)
    with torch.no_grad():
        ref = tmod(torch.from_numpy(x), mask=torch.from_numpy(mask))
    _assert_same(umod(uf.asarray(x), mask=uf.asarray(mask)), ref)
    _assert_same(umod(uf.asarray(x), is_causal=True), ref)


# ---------------------------------------------------------------- BatchNorm and Dropout
@pytest.mark.parametrize("dims,momentum", [("1d", 0.1), ("1d_seq", None), ("2d", 0.3)])
def test_batchnorm_train_and_eval(backend, dims, momentum):
    shape = {"1d": (6, 3), "1d_seq": (4, 3, 5), "2d": (4, 3, 2, 5)}[dims]
    cls = "BatchNorm2d" if dims == "2d" else "BatchNorm1d"
    tmod, umod = _pair_modules(lambda m: getattr(m, cls)(3, momentum=momentum))
    rng = np.random.default_rng(7)
    with torch.no_grad():
        tmod.weight.copy_(torch.from_numpy(rng.uniform(0.5, 2.0, 3)))
        tmod.bias.copy_(torch.from_numpy(rng.standard_normal(3)))
    umod.load_state_dict(_torch_state(tmod))
    tmod.train()
    umod.train()
    for step in range(3):
        x = rng.standard_normal(shape) * (step + 1) + step
        with torch.no_grad():
            ref = tmod(torch.from_numpy(x))
        _assert_same(umod(uf.asarray(x)), ref)
    ours_state = {k: np.asarray(v) for k, v in umod.state_dict().items()}
    for k, v in _torch_state(tmod).items():
        np.testing.assert_allclose(ours_state[k], v, rtol=RTOL, atol=ATOL, err_msg=k)
    assert int(umod.num_batches_tracked) == 3
    tmod.eval()
    umod.eval()
    x = rng.standard_normal(shape)
    with torch.no_grad():
        ref = tmod(torch.from_numpy(x))
    _assert_same(umod(uf.asarray(x)), ref)
    assert int(umod.num_batches_tracked) == 3  # eval does not touch the statistics


def test_batchnorm_without_running_stats(backend):
    tmod, umod = _pair_modules(lambda m: m.BatchNorm2d(2, affine=False,
                                                       track_running_stats=False))
    assert list(umod.state_dict()) == []
    x = np.random.default_rng(8).standard_normal((3, 2, 2, 2))
    with torch.no_grad():
        ref = tmod(torch.from_numpy(x))
    _assert_same(umod(uf.asarray(x)), ref)


def test_batchnorm_rejects_bad_input(numpy_backend):
    bn = nn.BatchNorm2d(3)
    with pytest.raises(ValueError, match="4D"):
        bn(uf.zeros((2, 3)))
    with pytest.raises(ValueError, match="more than 1 value"):
        nn.BatchNorm1d(3)(uf.zeros((1, 3)))


def test_dropout_train_and_eval(backend):
    uf.random.seed(0)
    p = 0.25
    drop = nn.Dropout(p)
    x = uf.ones((200, 100))
    a, b = np.asarray(drop(x)), np.asarray(drop(x))
    for out in (a, b):
        kept = out != 0
        np.testing.assert_allclose(out[kept], 1 / (1 - p), rtol=1e-6)
        # fraction dropped: binomial, 20000 draws; 6 standard deviations
        sd = np.sqrt(p * (1 - p) / out.size)
        assert abs((~kept).mean() - p) < 6 * sd
    assert (a != b).any(), "each call must draw a fresh mask"
    drop.eval()
    np.testing.assert_array_equal(np.asarray(drop(x)), np.asarray(x))
    assert "rng_key" in dict(drop.named_buffers())
    assert drop.state_dict() == {}  # like PyTorch: no entry for the key


def test_dropout_masks_identical_across_backends(backend):
    def masks():
        uf.random.seed(3)
        drop = nn.Dropout(0.5)
        x = uf.ones((64,))
        return [np.asarray(drop(x)) for _ in range(2)]

    ours = masks()
    with uf.use_backend("numpy"):
        ref = masks()
    for a, r in zip(ours, ref):
        np.testing.assert_array_equal(a, r)


def test_dropout_in_transformer_layer_only_in_training(numpy_backend):
    uf.random.seed(0)
    layer = nn.TransformerEncoderLayer(8, 2, 16, dropout=0.5, batch_first=True)
    x = uf.asarray(np.random.default_rng(9).standard_normal((2, 3, 8)).astype(np.float32))
    assert not np.allclose(np.asarray(layer(x)), np.asarray(layer(x)))
    layer.eval()
    np.testing.assert_array_equal(np.asarray(layer(x)), np.asarray(layer(x)))


def test_recurrent_dropout_between_layers(numpy_backend):
    tmod, umod = _pair_modules(lambda m: m.GRU(3, 4, num_layers=2, dropout=0.5))
    x = np.random.default_rng(11).standard_normal((4, 2, 3))
    umod.train()
    out1, out2 = (np.asarray(umod(uf.asarray(x))[0]) for _ in range(2))
    assert not np.allclose(out1, out2)
    umod.eval()
    with torch.no_grad():
        ref = tmod(torch.from_numpy(x))
    _assert_same(umod(uf.asarray(x)), ref)
    with pytest.warns(UserWarning, match="num_layers greater than 1"):
        nn.LSTM(3, 4, dropout=0.2)


def test_encoder_copies_have_independent_parameters_and_keys(numpy_backend):
    uf.random.seed(0)
    enc = nn.TransformerEncoder(nn.TransformerEncoderLayer(4, 1, 8, dropout=0.1), 2)
    l0, l1 = enc.layers
    assert l0.linear1.weight is not l1.linear1.weight
    np.testing.assert_array_equal(np.asarray(l0.linear1.weight), np.asarray(l1.linear1.weight))
    assert not np.array_equal(np.asarray(l0.dropout.rng_key), np.asarray(l1.dropout.rng_key))


# ---------------------------------------------------------------- factory arguments
def test_dtype_and_device_factory_arguments(backend):
    lin = nn.Linear(3, 2)
    assert lin.weight.dtype == uf.float32 and lin.bias.dtype == uf.float32
    conv = nn.Conv2d(2, 2, 3, dtype=uf.float64, device="cpu")
    assert conv.weight.dtype == uf.float64 and conv.weight.device == "cpu"
    bn = nn.BatchNorm1d(4, dtype=uf.float64)
    assert bn.running_mean.dtype == uf.float64
    assert bn.num_batches_tracked.dtype == uf.int64
    lstm = nn.LSTM(2, 3, dtype=uf.float64)
    assert {p.dtype for p in lstm.parameters()} == {uf.float64}


# ---------------------------------------------------------------- state_dict round trips
ROUND_TRIP = {
    "cnn": lambda m: m.Sequential(m.Conv2d(1, 4, 3, padding=1), m.BatchNorm2d(4), m.ReLU(),
                                  m.MaxPool2d(2), m.Flatten(), m.Dropout(0.2), m.Linear(16, 3)),
    "lstm": lambda m: m.LSTM(3, 4, num_layers=2, bidirectional=True),
    "attention": lambda m: m.MultiheadAttention(8, 2, kdim=5, vdim=6),
    "transformer": lambda m: m.TransformerEncoderLayer(8, 2, 16, dropout=0.1),
    "embedding": lambda m: m.Embedding(7, 3, padding_idx=0),
}


@pytest.mark.parametrize("name", sorted(ROUND_TRIP))
def test_state_dict_loads_into_torch(backend, name):
    uf.random.seed(1)
    ours = ROUND_TRIP[name](nn)
    ref = ROUND_TRIP[name](tnn)
    sd = ours.state_dict()
    assert list(sd) == list(ref.state_dict())
    ref.load_state_dict({k: torch.from_numpy(np.array(v)) for k, v in sd.items()}, strict=True)
    for k, v in ref.state_dict().items():
        np.testing.assert_array_equal(v.numpy(), np.asarray(sd[k]), err_msg=k)


# ---------------------------------------------------------------- inside uf.function
def test_batchnorm_and_dropout_compiled_match_eager(backend):
    def build():
        uf.random.seed(5)
        return nn.Sequential(nn.Linear(4, 6), nn.BatchNorm1d(6), nn.ReLU(), nn.Dropout(0.5),
                             nn.Linear(6, 2))

    eager, compiled = build(), build()
    step = uf.function(lambda m, x: m(x))
    rng = np.random.default_rng(10)
    for mode in ("train", "train", "eval", "train"):
        eager.train(mode == "train")
        compiled.train(mode == "train")
        x = uf.asarray(rng.standard_normal((8, 4)).astype(np.float32))
        np.testing.assert_allclose(np.asarray(step(compiled, x)), np.asarray(eager(x)),
                                   rtol=1e-5, atol=1e-6, err_msg=mode)
        for (name, a), b in zip(compiled._unifw_variables().items(),
                                eager._unifw_variables().values()):
            np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-5, atol=1e-6,
                                       err_msg=f"{mode}: {name}")
    assert int(compiled[1].num_batches_tracked) == 3
