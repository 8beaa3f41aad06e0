"""Datasets and the DataLoader: batching, reproducible shuffling across backends, collation."""
from __future__ import annotations

import collections
import threading

import numpy as np
import pytest

import unifw as uf
from unifw import data

N = 23


def _arrays():
    rng = np.random.default_rng(0)
    return rng.normal(size=(N, 3)).astype(np.float32), np.arange(N, dtype=np.int64)


def _epoch(loader):
    return [tuple(t.numpy() for t in batch) for batch in loader]


@pytest.mark.parametrize("drop_last", [False, True])
@pytest.mark.parametrize("batch_size", [1, 5, 23, 30])
def test_batches_cover_the_data_in_order(backend, batch_size, drop_last):
    x, y = _arrays()
    loader = data.DataLoader(data.TensorDataset(x, y), batch_size=batch_size,
                             drop_last=drop_last)
    batches = _epoch(loader)
    full = N // batch_size
    expected_len = full if drop_last else -(-N // batch_size)
    assert len(loader) == len(batches) == expected_len
    for i, (xb, yb) in enumerate(batches):
        np.testing.assert_array_equal(yb, y[i * batch_size:(i + 1) * batch_size])
        np.testing.assert_array_equal(xb, x[i * batch_size:(i + 1) * batch_size])
    for t in next(iter(loader)) if batches else ():
        assert isinstance(t, uf.Tensor) and t.backend_name == backend


def test_shuffled_epochs_are_permutations_that_differ(backend):
    x, y = _arrays()
    loader = data.DataLoader(data.TensorDataset(x, y), batch_size=4, shuffle=True, seed=3)
    orders = []
    for _ in range(3):
        batches = _epoch(loader)
        order = np.concatenate([yb for _, yb in batches])
        assert sorted(order.tolist()) == list(range(N))
        for xb, yb in batches:  # rows stay together
            np.testing.assert_array_equal(xb, x[yb])
        orders.append(order.tolist())
    assert orders[0] != orders[1] != orders[2]
    again = data.DataLoader(data.TensorDataset(x, y), batch_size=4, shuffle=True, seed=3)
    assert [np.concatenate([yb for _, yb in _epoch(again)]).tolist()
            for _ in range(3)] == orders
    again.set_epoch(1)
    assert np.concatenate([yb for _, yb in _epoch(again)]).tolist() == orders[1]
    other = data.DataLoader(data.TensorDataset(x, y), batch_size=4, shuffle=True, seed=4)
    assert np.concatenate([yb for _, yb in _epoch(other)]).tolist() != orders[0]


def test_same_batches_on_every_backend(backend):
    x, y = _arrays()

    def two_epochs():
        loader = data.DataLoader(data.TensorDataset(x, y), batch_size=6, shuffle=True, seed=11)
        return _epoch(loader) + _epoch(loader)

    with uf.use_backend("numpy"):
        reference = two_epochs()
    got = two_epochs()
    assert len(got) == len(reference)
    for (gx, gy), (rx, ry) in zip(got, reference):
        np.testing.assert_array_equal(gx, rx)
        np.testing.assert_array_equal(gy, ry)


def test_seed_defaults_to_the_global_generator(backend):
    x, y = _arrays()
    uf.random.seed(5)
    a = data.DataLoader(data.TensorDataset(x, y), batch_size=4, shuffle=True)
    uf.random.seed(5)
    b = data.DataLoader(data.TensorDataset(x, y), batch_size=4, shuffle=True)
    assert a.seed == b.seed
    assert [yb.tolist() for _, yb in _epoch(a)] == [yb.tolist() for _, yb in _epoch(b)]


def test_unifw_tensor_dataset_matches_numpy_dataset(backend):
    x, y = _arrays()
    from_np = data.DataLoader(data.TensorDataset(x, y), batch_size=5, shuffle=True, seed=1)
    from_uf = data.DataLoader(data.TensorDataset(uf.asarray(x), uf.asarray(y)), batch_size=5,
                              shuffle=True, seed=1)
    for (ax, ay), (bx, by) in zip(_epoch(from_np), _epoch(from_uf)):
        np.testing.assert_array_equal(ax, bx)
        np.testing.assert_array_equal(ay, by)


Pair = collections.namedtuple("Pair", ["image", "label"])


class NestedDataset(data.Dataset):
    """Samples with a dict, a namedtuple, a Python number and a string."""

    def __len__(self):
        return 7

    def __getitem__(self, i):
        return {"pair": Pair(np.full((2, 2), i, np.float32), i),
                "scale": float(i) / 2, "name": f"item{i}"}


def test_default_collate_of_nested_samples(backend):
    loader = data.DataLoader(NestedDataset(), batch_size=3, shuffle=True, seed=0)
    seen = []
    for batch in loader:
        assert set(batch) == {"pair", "scale", "name"}
        pair = batch["pair"]
        assert isinstance(pair, Pair)
        labels = pair.label.numpy()
        seen += labels.tolist()
        assert pair.image.shape == (len(labels), 2, 2)
        np.testing.assert_array_equal(pair.image.numpy()[:, 0, 0], labels.astype(np.float32))
        np.testing.assert_allclose(batch["scale"].numpy(), labels / 2)
        assert batch["name"] == [f"item{i}" for i in labels]
    assert sorted(seen) == list(range(7))


def test_custom_collate_fn(backend):
    x, y = _arrays()
    loader = data.DataLoader(data.TensorDataset(x, y), batch_size=4,
                             collate_fn=lambda samples: np.stack([s[1] for s in samples]) * 2)
    first = next(iter(loader))
    assert isinstance(first, uf.Tensor)
    np.testing.assert_array_equal(first.numpy(), y[:4] * 2)


def test_prefetch_gives_the_same_batches(backend):
    x, y = _arrays()
    plain = data.DataLoader(data.TensorDataset(x, y), batch_size=4, shuffle=True, seed=2)
    ahead = data.DataLoader(data.TensorDataset(x, y), batch_size=4, shuffle=True, seed=2,
                            prefetch=2, device="cpu")
    for _ in range(2):
        for (ax, ay), (bx, by) in zip(_epoch(plain), _epoch(ahead)):
            np.testing.assert_array_equal(ax, bx)
            np.testing.assert_array_equal(ay, by)
    batch = next(iter(ahead))
    assert batch[0].backend_name == backend and batch[0].device == "cpu"


class Failing(data.Dataset):
    def __len__(self):
        return 10

    def __getitem__(self, i):
        if i == 6:
            raise RuntimeError("bad sample 6")
        return np.float32(i)


def test_prefetch_propagates_errors_and_stops_on_break(backend):
    loader = data.DataLoader(Failing(), batch_size=2, prefetch=1)
    with pytest.raises(RuntimeError, match="bad sample 6"):
        for _ in loader:
            pass
    threads = threading.active_count()
    long = data.DataLoader(data.TensorDataset(np.arange(1000.0)), batch_size=1, prefetch=2)
    for i, _ in enumerate(long):
        if i == 3:
            break
    assert threading.active_count() <= threads


def test_bad_arguments(backend):
    with pytest.raises(ValueError, match="first dimension"):
        data.TensorDataset(np.zeros(3), np.zeros(4))
    with pytest.raises(ValueError, match="batch_size"):
        data.DataLoader(data.TensorDataset(np.zeros(3)), batch_size=0)
    with pytest.raises(TypeError, match="collate_fn"):
        next(iter(data.DataLoader([object(), object()], batch_size=2)))
