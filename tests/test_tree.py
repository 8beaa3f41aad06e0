"""Pytrees: flatten/unflatten round trips, tree_map, stateful objects as nodes."""
from collections import OrderedDict, namedtuple

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import unifw as uf
from unifw.tree import TreeDef, is_stateful, tree_flatten, tree_leaves, tree_map, \
    tree_structure, tree_unflatten
from unifw.variable import Buffer, Parameter

Point = namedtuple("Point", ["x", "y"])

leaf_values = st.one_of(st.integers(-5, 5), st.floats(-1, 1, allow_nan=False), st.text(max_size=2))


def containers(children):
    return st.one_of(
        st.lists(children, max_size=3),
        st.lists(children, max_size=3).map(tuple),
        st.dictionaries(st.text("abc", min_size=1, max_size=2), children, max_size=3),
        st.tuples(children, children).map(lambda t: Point(*t)),
        st.just(None),
    )


trees = st.recursive(leaf_values, containers, max_leaves=12)


def _count_leaves(t):
    if t is None:
        return 0
    if isinstance(t, dict):
        return sum(_count_leaves(v) for v in t.values())
    if isinstance(t, (list, tuple)):
        return sum(_count_leaves(v) for v in t)
    return 1


@given(trees)
def test_flatten_unflatten_round_trip(tree):
    leaves, tdef = tree_flatten(tree)
    assert len(leaves) == _count_leaves(tree) == tdef.num_leaves
    assert tree_unflatten(tdef, leaves) == tree
    rebuilt = tree_unflatten(tdef, leaves)
    assert tree_structure(rebuilt) == tdef
    assert hash(tdef) == hash(tree_structure(rebuilt))


class _Seen:
    def __init__(self, v):
        self.v = v

    def __eq__(self, other):
        return isinstance(other, _Seen) and other.v == self.v


@given(trees)
def test_tree_map_matches_leafwise_application(tree):
    mapped = tree_map(_Seen, tree)
    assert tree_leaves(mapped) == [_Seen(v) for v in tree_leaves(tree)]
    assert tree_structure(mapped) == tree_structure(tree)


def test_containers_keep_their_types_and_order():
    tree = {"b": [1, (2, 3)], "a": Point(4, None), "c": OrderedDict(z=5)}
    leaves, tdef = tree_flatten(tree)
    assert leaves == [1, 2, 3, 4, 5]  # insertion order, not sorted keys
    out = tree_unflatten(tdef, [10, 20, 30, 40, 50])
    assert list(out) == ["b", "a", "c"]
    assert isinstance(out["a"], Point) and out["a"] == Point(40, None)
    assert out["b"] == [10, (20, 30)]
    assert out["c"] == {"z": 50}


def test_tree_map_with_several_trees_matches_dicts_by_key():
    a = {"w": 1.0, "b": 2.0}
    g = {"b": 0.5, "w": None}  # other key order; None where no gradient
    out = tree_map(lambda p, gp: p if gp is None else p - gp, a, g)
    assert out == {"w": 1.0, "b": 1.5}


def test_tree_map_structure_mismatch_raises():
    with pytest.raises(ValueError, match="keys"):
        tree_map(lambda a, b: a, {"x": 1}, {"y": 1})
    with pytest.raises(ValueError, match="length"):
        tree_map(lambda a, b: a, [1, 2], [1])


def test_unflatten_rejects_extra_leaves():
    tdef = tree_structure([0, 0])
    with pytest.raises(ValueError, match="left over"):
        tree_unflatten(tdef, [1, 2, 3])


def test_treedef_repr_is_readable():
    assert repr(tree_structure({"a": [0, (0,)], "b": None})) == "{'a': [*, (*,)], 'b': None}"
    assert isinstance(tree_structure(0), TreeDef)


def test_is_leaf_stops_recursion():
    tree = {"a": [1, 2], "b": [3]}
    leaves, tdef = tree_flatten(tree, is_leaf=lambda x: isinstance(x, list))
    assert leaves == [[1, 2], [3]]
    assert tree_unflatten(tdef, leaves) == tree


class _State:
    """A minimal object with the state protocol (like an optimizer)."""

    def __init__(self, variables):
        self._vars = variables

    def _unifw_variables(self):
        return self._vars


@pytest.fixture
def numpy_backend():
    """Trees do not depend on the backend: tensors come from NumPy here."""
    with uf.use_backend("numpy"):
        yield


def test_stateful_objects_are_nodes_of_their_variables(numpy_backend):
    p = Parameter(uf.ones((2,)))
    s = Buffer(uf.zeros((), dtype=uf.int64))
    obj = _State(OrderedDict([("w", p), ("step", s)]))
    assert is_stateful(obj) and not is_stateful(p)
    leaves, tdef = tree_flatten({"opt": obj, "x": 1})
    assert leaves[0] is p and leaves[1] is s and leaves[2] == 1
    assert tdef.children[0].kind == "state"
    # a stateful node unflattens to {name: leaf}: the shape of a gradient w.r.t. it
    assert tree_unflatten(tdef, ["W", "S", 2]) == {"opt": {"w": "W", "step": "S"}, "x": 2}
    shapes = tree_map(lambda v: tuple(v.shape) if isinstance(v, uf.Tensor) else v, obj)
    assert shapes == {"w": (2,), "step": ()}


def test_module_flattens_to_its_parameters_and_buffers(numpy_backend):
    from unifw import nn

    uf.random.seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4))
    leaves, tdef = tree_flatten(model)
    names = list(model._unifw_variables())
    assert [id(v) for v in leaves] == [id(v) for v in model._unifw_variables().values()]
    assert "0.weight" in names and "1.running_mean" in names
    values = tree_map(lambda v: v.numpy(), model)
    np.testing.assert_array_equal(values["0.weight"], model[0].weight.numpy())
