"""Pytrees: nested containers of tensors, flattened to a list of leaves and back.

Containers (*nodes*) are ``list``, ``tuple``, namedtuples, ``dict`` and ``None``
(a node with no children, as in JAX). Stateful objects that implement the state
protocol ``_unifw_variables()`` (Modules, optimizers, EMA...) are nodes too: their
children are their variables, by name. Everything else is a *leaf* (Tensors,
Variables, Python scalars, strings...).

``tree_unflatten`` rebuilds containers of the same types. A stateful object
cannot be rebuilt from arrays, so its node unflattens to a ``dict`` from variable
name to leaf: the same shape as a gradient with respect to a Module.

Dicts keep their insertion order (unlike JAX, which sorts keys), so a gradient
dict lists parameters in the order of ``named_parameters()``.
"""
from __future__ import annotations

from typing import Any, Callable, NamedTuple

__all__ = ["TreeDef", "tree_flatten", "tree_unflatten", "tree_map", "tree_leaves",
           "tree_structure", "is_stateful"]


def is_stateful(obj) -> bool:
    """Whether ``obj`` implements the state protocol (``_unifw_variables()``)."""
    return callable(getattr(type(obj), "_unifw_variables", None))


class TreeDef(NamedTuple):
    """The structure of a pytree without its leaves (hashable, comparable).

    ``kind`` is one of ``"leaf"``, ``"none"``, ``"list"``, ``"tuple"``,
    ``"namedtuple"``, ``"dict"``, ``"state"``; ``meta`` holds the dict keys,
    namedtuple type, or the state object's type and variable names.
    """

    kind: str
    meta: Any
    children: tuple

    @property
    def num_leaves(self) -> int:
        if self.kind == "leaf":
            return 1
        return sum(c.num_leaves for c in self.children)

    def __repr__(self):
        if self.kind == "leaf":
            return "*"
        if self.kind == "none":
            return "None"
        inner = ", ".join(map(repr, self.children))
        if self.kind == "list":
            return f"[{inner}]"
        if self.kind == "tuple":
            return f"({inner}{',' if len(self.children) == 1 else ''})"
        if self.kind == "namedtuple":
            return f"{self.meta.__name__}({inner})"
        keys = self.meta if self.kind == "dict" else self.meta[1]
        body = ", ".join(f"{k!r}: {c!r}" for k, c in zip(keys, self.children))
        if self.kind == "dict":
            return "{" + body + "}"
        return f"{self.meta[0].__name__}{{{body}}}"


_LEAF = TreeDef("leaf", None, ())
_NONE = TreeDef("none", None, ())


def _leaf_types():
    from ._tensor import Tensor
    from .variable import Buffer, Parameter, Variable

    return frozenset({Tensor, Variable, Parameter, Buffer, int, float, bool, str, complex})


_LEAF_TYPES = _leaf_types()  # exact types that are always leaves (the common case, fast)


def _is_namedtuple(x) -> bool:
    return isinstance(x, tuple) and hasattr(type(x), "_fields")


def _children(x):
    """(kind, meta, children) of a node, or None for a leaf."""
    if x is None:
        return "none", None, ()
    t = type(x)
    if t is list:
        return "list", None, x
    if t is tuple:
        return "tuple", None, x
    if t is dict:
        keys = tuple(x)
        return "dict", keys, [x[k] for k in keys]
    if _is_namedtuple(x):
        return "namedtuple", t, tuple(x)
    if isinstance(x, dict):  # OrderedDict and other dict subclasses: kept as plain dicts
        keys = tuple(x)
        return "dict", keys, [x[k] for k in keys]
    if isinstance(x, list):
        return "list", None, list(x)
    if is_stateful(x):
        variables = x._unifw_variables()
        names = tuple(variables)
        return "state", (t, names), [variables[n] for n in names]
    return None


def tree_flatten(tree, is_leaf: Callable[[Any], bool] | None = None):
    """``(leaves, treedef)``: the leaves left to right, and the structure to rebuild.

    ``is_leaf(x)`` returning True stops the recursion at ``x`` (it becomes a leaf).
    """
    leaves: list = []

    def walk(x):
        if is_leaf is not None and is_leaf(x):
            leaves.append(x)
            return _LEAF
        if type(x) in _LEAF_TYPES:
            leaves.append(x)
            return _LEAF
        node = _children(x)
        if node is None:
            leaves.append(x)
            return _LEAF
        kind, meta, kids = node
        if kind == "none":
            return _NONE
        return TreeDef(kind, meta, tuple(walk(c) for c in kids))

    return leaves, walk(tree)


def tree_unflatten(treedef: TreeDef, leaves):
    """Rebuild a tree of structure ``treedef`` from ``leaves`` (inverse of ``tree_flatten``)."""
    if treedef.kind == "leaf":
        if len(leaves) != 1:
            raise ValueError(f"tree_unflatten: {len(leaves)} leaves for a single leaf")
        return leaves[0]
    it = iter(leaves)

    def build(d: TreeDef):
        k = d.kind
        if k == "leaf":
            return next(it)
        if k == "none":
            return None
        kids = [build(c) for c in d.children]
        if k == "list":
            return kids
        if k == "tuple":
            return tuple(kids)
        if k == "namedtuple":
            return d.meta(*kids)
        keys = d.meta if k == "dict" else d.meta[1]
        return dict(zip(keys, kids))

    out = build(treedef)
    rest = sum(1 for _ in it)
    if rest:
        raise ValueError(f"tree_unflatten: {rest} leaves left over for structure {treedef!r}")
    return out


def tree_leaves(tree, is_leaf=None) -> list:
    """The leaves of ``tree``, left to right."""
    return tree_flatten(tree, is_leaf)[0]


def tree_structure(tree, is_leaf=None) -> TreeDef:
    """The :class:`TreeDef` of ``tree``."""
    return tree_flatten(tree, is_leaf)[1]


def tree_map(f: Callable, tree, *rest, is_leaf: Callable[[Any], bool] | None = None):
    """Apply ``f`` to every leaf of ``tree`` (and the matching parts of ``rest``).

    ``rest`` trees must have ``tree``'s structure down to its leaves; at a leaf
    of ``tree`` they may hold anything (for instance ``None`` where a frozen
    parameter has no gradient), which is passed to ``f`` as is. Dict entries are
    matched by key, so key order may differ between the trees.
    """

    def walk(x, others):
        if is_leaf is not None and is_leaf(x):
            return f(x, *others)
        node = _children(x)
        if node is None:
            return f(x, *others)
        kind, meta, kids = node
        if kind == "none":
            return None
        if kind in ("dict", "state"):
            keys = meta if kind == "dict" else meta[1]
            other_kids = [_dict_children(o, keys, kind) for o in others]
            mapped = [walk(c, [ok[i] for ok in other_kids]) for i, c in enumerate(kids)]
            return dict(zip(keys, mapped))
        other_kids = [_seq_children(o, len(kids), kind) for o in others]
        mapped = [walk(c, [ok[i] for ok in other_kids]) for i, c in enumerate(kids)]
        if kind == "list":
            return mapped
        if kind == "tuple":
            return tuple(mapped)
        return meta(*mapped)

    return walk(tree, rest)


def _dict_children(o, keys, kind):
    if is_stateful(o):
        o = o._unifw_variables()
    if not isinstance(o, dict) or set(o) != set(keys):
        got = sorted(map(str, o)) if isinstance(o, dict) else type(o).__name__
        raise ValueError(f"tree_map: expected a {kind} with keys {sorted(map(str, keys))}, "
                         f"got {got}")
    return [o[k] for k in keys]


def _seq_children(o, n, kind):
    if not isinstance(o, (list, tuple)) or len(o) != n:
        got = f"{type(o).__name__} of length {len(o)}" if isinstance(o, (list, tuple)) else \
            type(o).__name__
        raise ValueError(f"tree_map: expected a {kind} of length {n}, got {got}")
    return o
