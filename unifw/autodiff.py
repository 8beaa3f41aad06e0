"""Gradients: one functional API over PyTorch autograd, TensorFlow tapes and JAX transforms.

``grad``, ``value_and_grad``, ``vjp``, ``jvp``, ``jacobian`` and ``hessian`` take a
function and return a function, as in JAX; nothing is recorded on the tensors, so
no ``.grad`` is left behind and calls compose: gradients of gradients work on
every backend.

What can be differentiated: tensors (and nested lists/tuples/dicts of them),
:class:`~unifw.Variable` objects, and Modules (anything with ``named_parameters()``),
whose gradient is a dict ``{name: Tensor or None}`` keyed like
``named_parameters()``. Leaves that cannot carry a gradient get ``None``: integer
and boolean tensors, non-trainable variables (``trainable=False``), and
non-tensor Python values (Python floats are converted to tensors first, as JAX does).

State: the variables of every argument (parameters, buffers, optimizer slots)
are read through :data:`unifw.variable.trace_state` while the function runs, so
a Module's buffers updated inside a differentiated function (BatchNorm
statistics) are written back afterwards on every backend, JAX included.

The backends implement a few primitives over flat lists of native arrays
(``vjp``, ``jvp``, ``stop_gradient``, ``no_grad``, ``custom_vjp``); this module
does trees, ``argnums``, ``has_aux``, Modules and state.
"""
from __future__ import annotations

import contextlib
import functools

from ._registry import active, use_backend
from ._tensor import Tensor, wrap
from .errors import DTypeError, ShapeError, UnifwError
from .tree import is_stateful, tree_flatten, tree_leaves, tree_structure, tree_unflatten
from .variable import Variable, trace_state

__all__ = ["grad", "value_and_grad", "vjp", "jvp", "jacobian", "hessian", "stop_gradient",
           "no_grad", "custom_vjp"]


# ---------------------------------------------------------------- helpers
_LEAF_DEF = tree_structure(0)


def _is_module(x) -> bool:
    return not isinstance(x, Tensor) and callable(getattr(x, "named_parameters", None))


def _differentiable(native, b) -> bool:
    return b.udtype(native).kind in "fc"


def _first_backend(trees):
    for t in trees:
        if type(t) is Tensor:
            return t._b
    for leaf in tree_leaves(trees, is_leaf=_is_module):
        if isinstance(leaf, Tensor):
            return leaf._b
        if _is_module(leaf):
            params = leaf._cached_named_parameters() if hasattr(
                leaf, "_cached_named_parameters") else leaf.named_parameters()
            for _, p in params:
                return p._b
    return active()


def _require_autodiff(b, what):
    if not getattr(b, "supports_autodiff", False) or not hasattr(b, "vjp"):
        raise UnifwError(
            f"uf.{what}: backend '{b.name}' is forward-only (no automatic differentiation); "
            "use the torch, jax or tensorflow backend to compute gradients")


def _argnums(argnums, nargs, what):
    single = isinstance(argnums, int)
    nums = (argnums,) if single else tuple(argnums)
    if not nums or not all(isinstance(i, int) for i in nums):
        raise TypeError(f"uf.{what}: argnums must be an int or a non-empty tuple of ints, "
                        f"got {argnums!r}")
    out = []
    for i in nums:
        j = i + nargs if i < 0 else i
        if not 0 <= j < nargs:
            raise TypeError(f"uf.{what}: argnums {argnums!r} out of range for {nargs} "
                            "positional arguments")
        out.append(j)
    return tuple(out), single


def _write_back(b, var, key, native):
    """Store a value computed inside a transform into ``var`` (or the enclosing substitute)."""
    if var is None:
        trace_state.substitute[key] = native
    else:
        var.assign(wrap(native, b))


# ---------------------------------------------------------------- one differentiated call
class _Call:
    """One call of ``f`` with some arguments differentiated, flattened for a backend.

    ``primals`` are the native values of the differentiated leaves (one per
    tensor, trainable variable or trainable module parameter; a variable that
    appears twice is one primal). :meth:`flat` is the function of those natives
    that the backend differentiates; it returns the float outputs as outputs and
    everything else (aux, integer outputs, updated state) as aux natives.
    """

    def __init__(self, f, args, kwargs, argnums, has_aux, b, what):
        self.f, self.kwargs, self.has_aux, self.b, self.what = f, kwargs, has_aux, b, what
        self.args = list(args)
        self.argnums = argnums
        self.primals: list = []
        self.slot_var: list = []           # Variable (or None) behind each primal
        self._var_slot: dict = {}          # id(var) -> primal index
        self.plans = []                    # per differentiated argument: (treedef, leaf plans)
        for i in argnums:
            leaves, tdef = tree_flatten(args[i], is_leaf=_is_module)
            self.plans.append((tdef, [self._plan(leaf) for leaf in leaves]))
        self._collect_state()
        self.meta: dict = {}  # filled by flat(): output/aux structure, assigned state

    out_def = property(lambda self: self.meta["out_def"])
    out_float = property(lambda self: self.meta["out_float"])
    aux_def = property(lambda self: self.meta["aux_def"])
    aux_is_tensor = property(lambda self: self.meta["aux_is_tensor"])
    aux_static = property(lambda self: self.meta["aux_static"])
    changed = property(lambda self: self.meta["changed"])

    # -- differentiated leaves
    def _slot_for_var(self, v):
        k = id(v)
        s = self._var_slot.get(k)
        if s is None:
            s = self._var_slot[k] = len(self.primals)
            self.primals.append(v._native)
            self.slot_var.append(v)
        return s

    def _plan(self, leaf):
        b = self.b
        if isinstance(leaf, Variable):
            if leaf._b is not b:
                raise _mixed(self.what, leaf, b)
            if leaf.trainable and _differentiable(leaf._native, b):
                return ("var", self._slot_for_var(leaf), leaf)
            return ("const", None, leaf)
        if isinstance(leaf, Tensor):
            if leaf._b is not b:
                raise _mixed(self.what, leaf, b)
            if _differentiable(leaf._native, b):
                self.primals.append(leaf._native)
                self.slot_var.append(None)
                return ("tensor", len(self.primals) - 1, None)
            return ("const", None, leaf)
        if _is_module(leaf):
            entries = []
            params = leaf._cached_named_parameters() if hasattr(
                leaf, "_cached_named_parameters") else leaf.named_parameters()
            for name, p in params:
                ok = p.trainable and _differentiable(p._native, b)
                entries.append((name, self._slot_for_var(p) if ok else None))
            return ("module", entries, leaf)
        if type(leaf) is float:
            from ._creation import asarray

            with use_backend(b.name):
                t = asarray(leaf)
            self.primals.append(t._native)
            self.slot_var.append(None)
            return ("tensor", len(self.primals) - 1, None)
        return ("const", None, leaf)

    # -- state carried through the call
    def _collect_state(self):
        """Variables whose value may be read or assigned inside ``f``, other than primals.

        Those of all arguments (Modules' buffers included) and those an enclosing
        transform substitutes; they are substituted too, and any assignment comes
        back out as aux and is written back afterwards.
        """
        ts = trace_state
        seen = set(self._var_slot)
        state = []
        plain = all(type(a) is Tensor for a in self.args)
        for leaf in () if plain else tree_leaves(self.args):
            if isinstance(leaf, Variable) and id(leaf) not in seen:
                seen.add(id(leaf))
                state.append((id(leaf), leaf, leaf._native))
        for k, v in (ts.substitute.items() if ts.depth else ()):
            if k not in seen:
                seen.add(k)
                state.append((k, None, v))
        self.state = state

    # -- the function the backend differentiates
    def flat(self, *handles):
        b = self.b
        sub = dict(trace_state.substitute) if trace_state.depth else {}
        for k, _, v in self.state:
            sub[k] = v
        for s, v in enumerate(self.slot_var):
            if v is not None:
                sub[id(v)] = handles[s]
        tracked = [(k, v, sub[k]) for k, v, _ in self.state]
        tracked += [(id(v), v, handles[s]) for s, v in enumerate(self.slot_var) if v is not None]
        ts = trace_state
        outer = ts.substitute
        ts.substitute = sub
        ts.depth += 1
        try:
            call_args = list(self.args)
            for i, (tdef, plan) in zip(self.argnums, self.plans):
                call_args[i] = _rebuild(plan[0], handles, b) if tdef is _LEAF_DEF else \
                    tree_unflatten(tdef, [_rebuild(p, handles, b) for p in plan])
            res = self.f(*call_args, **self.kwargs)
            changed = [(k, v, sub[k]) for k, v, init in tracked if sub[k] is not init]
        finally:
            ts.depth -= 1
            ts.substitute = outer
        if self.has_aux:
            if not (isinstance(res, (tuple, list)) and len(res) == 2):
                raise TypeError(f"uf.{self.what}(..., has_aux=True): the function must return "
                                f"a pair (output, aux), got {type(res).__name__}")
            out, aux = res
        else:
            out, aux = res, None
        # Results are recorded in the dict ``self.meta`` (attribute stores on this object
        # after a torch.cond inside ``f`` are lost by TorchDynamo 2.13; dict stores are not).
        meta = self.meta
        out_leaves, meta["out_def"] = tree_flatten(out)
        out_float = []
        outs, rest = [], []
        for leaf in out_leaves:
            if not isinstance(leaf, Tensor):
                raise TypeError(f"uf.{self.what}: the function's output must contain only "
                                f"tensors, got a {type(leaf).__name__}")
            if leaf._b is not b:
                raise _mixed(self.what, leaf, b)
            ok = _differentiable(leaf._native, b)
            out_float.append(ok)
            (outs if ok else rest).append(leaf._native)
        meta["out_float"] = out_float
        if self.has_aux:
            aux_leaves, meta["aux_def"] = tree_flatten(aux)
            aux_is_tensor = [isinstance(a, Tensor) for a in aux_leaves]
            meta["aux_static"] = [None if t else a for a, t in zip(aux_leaves, aux_is_tensor)]
            rest += [a._native for a, t in zip(aux_leaves, aux_is_tensor) if t]
        else:
            meta["aux_def"], aux_is_tensor, meta["aux_static"] = None, [], []
        meta["aux_is_tensor"] = aux_is_tensor
        meta["changed"] = [(k, v) for k, v, _ in changed]
        rest += [n for _, _, n in changed]
        return outs, rest

    # -- after the backend ran
    def finish(self, outs, rest):
        """Write back state; return (output tree, aux tree, non-float outputs consumed)."""
        b = self.b
        n_state = len(self.changed)
        if n_state:
            for (k, v), n in zip(self.changed, rest[len(rest) - n_state:]):
                _write_back(b, v, k, n)
            rest = rest[:len(rest) - n_state]
        it_f, it_r = iter(outs), iter(rest)
        leaves = [wrap(next(it_f) if ok else next(it_r), b) for ok in self.out_float]
        out = tree_unflatten(self.out_def, leaves)
        if not self.has_aux:
            return out, None
        aux_leaves = [wrap(next(it_r), b) if t else s
                      for t, s in zip(self.aux_is_tensor, self.aux_static)]
        return out, tree_unflatten(self.aux_def, aux_leaves)

    def grads(self, natives):
        """Gradient trees (one per differentiated argument) from per-primal natives."""
        b = self.b
        g = [None if n is None else wrap(n, b) for n in natives]
        out = []
        for tdef, plan in self.plans:
            leaves = []
            for p in plan:
                kind = p[0]
                if kind in ("tensor", "var"):
                    leaves.append(g[p[1]])
                elif kind == "module":
                    leaves.append({name: (None if s is None else g[s]) for name, s in p[1]})
                else:
                    leaves.append(None)
            out.append(tree_unflatten(tdef, leaves))
        return out

    def tangents_in(self, tangents):
        """Native tangents, one per primal, from tangent trees shaped like the arguments."""
        b = self.b
        nat = [None] * len(self.primals)
        for (tdef, plan), t in zip(self.plans, tangents):
            leaves = _flatten_up_to(tdef, t, self.what)
            for p, tl in zip(plan, leaves):
                if p[0] in ("tensor", "var"):
                    nat[p[1]] = _tangent_native(tl, self.primals[p[1]], b, self.what)
                elif p[0] == "module":
                    tl = tl or {}
                    for name, s in p[1]:
                        if s is not None:
                            nat[s] = _tangent_native(tl.get(name), self.primals[s], b, self.what)
        return nat


def _rebuild(plan, handles, b):
    """The argument leaf seen by the function: a primal handle wrapped, else the original
    (Variables and Modules are passed as themselves and read through the substitute)."""
    kind, slot, leaf = plan
    return wrap(handles[slot], b) if kind == "tensor" else leaf


def _mixed(what, leaf, b):
    from .errors import BackendMismatchError

    return BackendMismatchError(f"uf.{what}: a {leaf._b.name} tensor among arguments of a "
                                f"function differentiated on backend '{b.name}'")


def _flatten_up_to(tdef, tree, what):
    """Leaves of ``tree`` at the leaf positions of ``tdef`` (``None`` fills missing parts)."""
    if tdef.kind == "leaf":
        return [tree]
    if tree is None:
        return [None] * tdef.num_leaves
    if tdef.kind in ("dict", "state"):
        keys = tdef.meta if tdef.kind == "dict" else tdef.meta[1]
        if not isinstance(tree, dict):
            raise TypeError(f"uf.{what}: tangent structure does not match the primals")
        kids = [tree.get(k) for k in keys]
    else:
        if not isinstance(tree, (list, tuple)) or len(tree) != len(tdef.children):
            raise TypeError(f"uf.{what}: tangent structure does not match the primals")
        kids = list(tree)
    out = []
    for c, k in zip(tdef.children, kids):
        out += [None] * c.num_leaves if k is None else _flatten_up_to(c, k, what)
    return out


def _tangent_native(t, primal, b, what):
    if t is None:
        return b.zeros_like(primal)
    if not isinstance(t, Tensor):
        from ._creation import asarray

        with use_backend(b.name):
            t = asarray(t, dtype=b.udtype(primal))
    if tuple(t.shape) != tuple(primal.shape):
        raise ShapeError(f"uf.{what}: tangent of shape {t.shape} for a primal of shape "
                         f"{tuple(primal.shape)}")
    if t._native.dtype != primal.dtype:
        raise DTypeError(f"uf.{what}: tangent of dtype {t.dtype} for a primal of dtype "
                         f"{b.udtype(primal)}")
    return t._native


def _prepare(f, args, kwargs, argnums, has_aux, what):
    nums, single = _argnums(argnums, len(args), what)
    b = _first_backend([args[i] for i in nums])
    _require_autodiff(b, what)
    call = _Call(f, args, kwargs, nums, has_aux, b, what)
    return call, single


# ---------------------------------------------------------------- public API
def value_and_grad(f, argnums=0, has_aux=False):
    """``value_and_grad(f)(*args)`` returns ``(f(*args), gradient)``.

    ``f`` must return a scalar (shape ``()``) float tensor, or ``(scalar, aux)``
    with ``has_aux=True`` (then the result is ``((value, aux), gradient)``).
    ``argnums`` (int or tuple) picks the positional arguments to differentiate;
    with a tuple the gradient is a tuple. Keyword arguments are passed through
    and not differentiated.
    """

    @functools.wraps(f)
    def value_and_grad_f(*args, **kwargs):
        call, single = _prepare(f, args, kwargs, argnums, has_aux, "value_and_grad")
        b = call.b
        outs, rest, pullback = b.vjp(call.flat, call.primals, reuse=False)
        if len(call.out_float) != 1 or not call.out_float[0]:
            raise TypeError(_scalar_msg(call, "float tensor"))
        (out,) = outs
        if tuple(out.shape) != ():
            raise ShapeError(f"uf.value_and_grad: the function must return a scalar (shape ()), "
                             f"got shape {tuple(out.shape)}; reduce it (e.g. .sum()) first")
        if b.udtype(out).kind != "f":
            raise DTypeError("uf.value_and_grad: the function must return a real float scalar, "
                             f"got {b.udtype(out)}")
        g = pullback([None])  # cotangent 1 (backends make it, or skip it)
        value, aux = call.finish(outs, rest)
        grads = call.grads(g)
        grads = grads[0] if single else tuple(grads)
        return ((value, aux) if has_aux else value), grads

    return value_and_grad_f


def _scalar_msg(call, what):
    return (f"uf.{call.what}: the function must return one scalar {what}, got the structure "
            f"{call.out_def!r}")


def grad(f, argnums=0, has_aux=False):
    """``grad(f)(*args)``: the gradient of scalar-valued ``f`` w.r.t. ``args[argnums]``.

    Same arguments as :func:`value_and_grad`; with ``has_aux=True`` returns
    ``(gradient, aux)``.
    """
    vg = value_and_grad(f, argnums, has_aux)

    @functools.wraps(f)
    def grad_f(*args, **kwargs):
        (v, g) = vg(*args, **kwargs)
        return (g, v[1]) if has_aux else g

    return grad_f


def vjp(f, *primals, has_aux=False):
    """``out, vjp_fn = vjp(f, *primals)``: ``vjp_fn(cotangent)`` gives input cotangents.

    ``vjp_fn`` takes a cotangent shaped like ``out`` and returns a tuple with
    one entry per primal (``None`` where a primal takes no gradient). It can be
    called several times. With ``has_aux=True`` returns ``(out, vjp_fn, aux)``.
    """
    call, _ = _prepare(f, primals, {}, tuple(range(len(primals))), has_aux, "vjp")
    b = call.b
    outs, rest, pullback = b.vjp(call.flat, call.primals, reuse=True)
    out, aux = call.finish(outs, rest)
    out_def, out_float = call.out_def, call.out_float
    float_protos = list(outs)

    def vjp_fn(cotangent):
        leaves = _flatten_up_to(out_def, cotangent, "vjp")
        cts = []
        protos = iter(float_protos)
        for ok, c in zip(out_float, leaves):
            if ok:
                cts.append(_tangent_native(c, next(protos), b, "vjp"))
        if not cts:
            g = [b.zeros_like(p) for p in call.primals]
        else:
            g = pullback(cts)
        return tuple(call.grads(g))

    return (out, vjp_fn, aux) if has_aux else (out, vjp_fn)


def jvp(f, primals, tangents, has_aux=False):
    """``out, out_tangent = jvp(f, primals, tangents)``: forward-mode derivative.

    ``primals`` and ``tangents`` are tuples of the same structure (a Module's
    tangent is a dict ``{name: tensor}``; ``None`` means zero). Outputs that are
    not floating point get a ``None`` tangent. With ``has_aux=True`` returns
    ``(out, out_tangent, aux)``.
    """
    primals, tangents = tuple(primals), tuple(tangents)
    if len(primals) != len(tangents):
        raise TypeError(f"uf.jvp: {len(primals)} primals but {len(tangents)} tangents")
    call, _ = _prepare(f, primals, {}, tuple(range(len(primals))), has_aux, "jvp")
    b = call.b
    tan = call.tangents_in(tangents)
    outs, rest, touts = b.jvp(call.flat, call.primals, tan)
    out, aux = call.finish(outs, rest)
    it = iter(touts)
    tl = [wrap(next(it), b) if ok else None for ok in call.out_float]
    tangent_out = tree_unflatten(call.out_def, tl)
    return (out, tangent_out, aux) if has_aux else (out, tangent_out)


def jacobian(f, argnums=0, has_aux=False):
    """The Jacobian of ``f`` w.r.t. ``args[argnums]`` (reverse mode, like ``jax.jacrev``).

    For an output leaf of shape ``So`` and an input leaf of shape ``Si`` the
    block has shape ``So + Si``. The result has the output's structure with the
    argument's structure at each leaf (a tuple of those for tuple ``argnums``).
    """

    @functools.wraps(f)
    def jacobian_f(*args, **kwargs):
        from ._dispatch import FUNCS

        call, single = _prepare(f, args, kwargs, argnums, has_aux, "jacobian")
        b = call.b
        outs, rest, pullback = b.vjp(call.flat, call.primals, reuse=True)
        out, aux = call.finish(outs, rest)
        stack, reshape = FUNCS["stack"], FUNCS["reshape"]
        blocks = []
        it = iter(outs)
        for ok in call.out_float:
            if not ok:
                blocks.append(None)
                continue
            o = next(it)
            so = tuple(o.shape)
            n = 1
            for d in so:
                n *= int(d)
            basis = wrap(b.eye(n, dtype=o.dtype, device=b.device_of(o)), b)
            rows = []
            for k in range(n):
                ct = [b.zeros_like(x) for x in outs]
                ct[_index(outs, o)] = b.reshape(basis[k]._native, so)
                rows.append(pullback(ct))
            per_primal = []
            for s, p in enumerate(call.primals):
                col = [wrap(r[s], b) for r in rows]
                per_primal.append(reshape(stack(col), so + tuple(p.shape))._native)
            trees = call.grads(per_primal)
            blocks.append(trees[0] if single else tuple(trees))
        jac = tree_unflatten(call.out_def, blocks)
        return (jac, aux) if has_aux else jac

    return jacobian_f


def _index(seq, obj):
    for i, x in enumerate(seq):
        if x is obj:
            return i
    raise ValueError("output not found")


def hessian(f, argnums=0, has_aux=False):
    """The Hessian of scalar ``f``: ``jacobian(grad(f))`` (blocks of shape ``Si + Sj``)."""
    return jacobian(grad(f, argnums, has_aux), argnums, has_aux)


def stop_gradient(x):
    """``x`` (a tensor or tree of tensors) treated as a constant by differentiation."""

    def stop(leaf):
        if isinstance(leaf, Tensor):
            b = leaf._b
            fn = getattr(b, "stop_gradient", None)
            return wrap(fn(leaf._native), b) if fn is not None else wrap(leaf._native, b)
        return leaf

    if isinstance(x, Tensor):
        return stop(x)
    from .tree import tree_map

    return tree_map(stop, x)


class no_grad(contextlib.ContextDecorator):
    """``with uf.no_grad():`` (or ``@uf.no_grad()``): operations inside are not differentiated.

    PyTorch: ``torch.no_grad``. TensorFlow: unifw's active gradient tapes stop
    recording. JAX records nothing outside transforms; inside a function being
    differentiated, the result of every differentiable op run in the block goes
    through ``jax.lax.stop_gradient`` (process-wide while the block runs, not
    per thread), so the block's values are constants to ``uf.grad`` as on the
    other backends.
    """

    def __init__(self):
        self._active = []

    def __enter__(self):
        b = active()
        make = getattr(b, "no_grad", None) if getattr(b, "supports_autodiff", False) else None
        cm = make() if make is not None else contextlib.nullcontext()
        cm.__enter__()
        if make is not None and b.no_grad_stops_ops:
            cm = _StopOps(b, cm)
        self._active.append(cm)
        return None

    def __exit__(self, *exc):
        return self._active.pop().__exit__(*exc)


class _StopOps:
    """Swap a backend's differentiable ops for versions whose results have no gradient
    (JAX's ``no_grad``); nested blocks share one swap. The dispatch functions look the
    op up on the backend at every call, so nothing else changes and outside the block
    no op pays for it. ``vjp``/``jvp`` called in the block run with the real ops: a
    gradient asked for inside ``no_grad`` is computed, as with ``torch.no_grad``."""

    _swapped: dict = {}  # backend name -> [depth, {attr: original}]

    def __init__(self, b, inner):
        self.b, self.inner = b, inner
        rec = self._swapped.get(b.name)
        if rec is None:
            from ._opspec import OPS
            from .backend_api import attr_name

            originals = {}
            for spec in OPS.values():
                if spec.diff and spec.out in ("tensor", "tuple"):
                    a = attr_name(spec)
                    originals[a] = getattr(b, a)
            for a in ("vjp", "jvp"):
                originals[a] = getattr(b, a)
            rec = self._swapped[b.name] = [0, originals]
            _install(b, originals, stopped=True)
        rec[0] += 1

    def __exit__(self, *exc):
        rec = self._swapped[self.b.name]
        rec[0] -= 1
        if rec[0] == 0:
            del self._swapped[self.b.name]
            _install(self.b, rec[1], stopped=False)
        return self.inner.__exit__(*exc)


def _install(b, originals, stopped):
    if not stopped:
        for a, fn in originals.items():
            setattr(b, a, fn)
        return
    for a, fn in originals.items():
        if a in ("vjp", "jvp"):
            setattr(b, a, _recording(b, fn, originals))
        else:
            setattr(b, a, _stopped(fn, originals["stop_gradient"] if "stop_gradient" in
                                   originals else b.stop_gradient))


def _stopped(fn, stop):
    def op(*args, **kwargs):
        out = fn(*args, **kwargs)
        if isinstance(out, (tuple, list)):  # (a NamedTuple too: the facade names them)
            return tuple(stop(o) for o in out)
        return stop(out)

    return op


def _recording(b, transform, originals):
    def run(*args, **kwargs):
        swapped = {a: getattr(b, a) for a in originals}
        _install(b, originals, stopped=False)
        try:
            return transform(*args, **kwargs)
        finally:
            for a, fn in swapped.items():
                setattr(b, a, fn)

    return run


# ---------------------------------------------------------------- custom_vjp
class custom_vjp:
    """A function with a user-defined reverse-mode derivative.

    ::

        @uf.custom_vjp
        def sigmoid(x):
            return 1 / (1 + uf.exp(-x))

        def sigmoid_fwd(x):
            y = sigmoid(x)
            return y, y                       # (output, residuals)

        def sigmoid_bwd(y, g):
            return (g * y * (1 - y),)         # one cotangent per positional argument

        sigmoid.defvjp(sigmoid_fwd, sigmoid_bwd)

    Positional arguments may be trees of tensors; the cotangent for each is a
    tree of the same structure (``None`` for zero), and non-tensor arguments
    get ``None``. Keyword arguments are not supported (as in JAX).

    Backends: ``jax.custom_vjp``, ``torch.autograd.Function``, ``tf.custom_gradient``.
    Gradients of gradients see the residuals as functions of the inputs (JAX
    semantics): the second derivative differentiates ``f_bwd`` and ``f_fwd``.
    Forward mode (``jvp``) works on every backend through the backward rule (on
    JAX, which refuses forward mode on a ``custom_vjp`` function, by transposing
    the pullback: ``f_bwd`` must then be differentiable).
    """

    def __init__(self, fun):
        functools.update_wrapper(self, fun)
        self.fun = fun
        self.fwd = None
        self.bwd = None
        self._in_fwd = 0  # > 0 while f_fwd runs: a call of f in there is the plain f

    def defvjp(self, fwd, bwd):
        """Set ``fwd(*args) -> (output, residuals)`` and ``bwd(residuals, g) -> tuple``."""
        self.fwd, self.bwd = fwd, bwd

    def __call__(self, *args, **kwargs):
        if kwargs:
            raise TypeError(f"{self.fun.__name__}: a custom_vjp function takes positional "
                            "arguments only")
        if self.fwd is None:
            raise UnifwError(f"{self.fun.__name__}: call .defvjp(fwd, bwd) before using this "
                             "custom_vjp function")
        b = _first_backend(args)
        if self._in_fwd or not getattr(b, "supports_autodiff", False) or \
                not hasattr(b, "custom_vjp"):
            return self.fun(*args)
        return _CustomCall(self, args, b).run()


class _CustomCall:
    def __init__(self, cv, args, b):
        self.cv, self.b = cv, b
        self.defs = []
        self.plans = []  # per argument: list of (is_primal, static leaf)
        self.primals = []
        for a in args:
            leaves, tdef = tree_flatten(a)
            plan = []
            for leaf in leaves:
                if isinstance(leaf, Tensor) and _differentiable(leaf._native, b):
                    if leaf._b is not b:
                        raise _mixed("custom_vjp", leaf, b)
                    self.primals.append(leaf._native)
                    plan.append((True, None))
                elif is_stateful(leaf) or _is_module(leaf):
                    raise TypeError("a custom_vjp function takes tensors (and trees of "
                                    "tensors) as arguments, not Modules")
                else:
                    plan.append((False, leaf))
            self.defs.append(tdef)
            self.plans.append(plan)
        self.out_def = None

    def _args(self, xs):
        b, it = self.b, iter(xs)
        return [tree_unflatten(d, [wrap(next(it), b) if p else s for p, s in plan])
                for d, plan in zip(self.defs, self.plans)]

    def _outs(self, y):
        leaves, d = tree_flatten(y)
        if not all(isinstance(v, Tensor) for v in leaves):
            raise TypeError(f"{self.cv.fun.__name__}: a custom_vjp function must return "
                            "tensors (or a tree of tensors)")
        if self.out_def is None:
            self.out_def = d
        elif d != self.out_def:
            raise TypeError(f"{self.cv.fun.__name__}: f and f_fwd return different "
                            f"structures ({self.out_def!r} vs {d!r})")
        return [v._native for v in leaves]

    def fn(self, *xs):
        return self._outs(self.cv.fun(*self._args(xs)))

    def fwd(self, *xs):
        self.cv._in_fwd += 1
        try:
            res = self.cv.fwd(*self._args(xs))
        finally:
            self.cv._in_fwd -= 1
        if not (isinstance(res, tuple) and len(res) == 2):
            raise TypeError(f"{self.cv.fun.__name__}: f_fwd must return (output, residuals)")
        y, r = res
        outs = self._outs(y)
        r_leaves, self.res_def = tree_flatten(r)
        self.res_tensor = [isinstance(v, Tensor) for v in r_leaves]
        self.res_static = [None if t else v for v, t in zip(r_leaves, self.res_tensor)]
        return outs, [v._native for v, t in zip(r_leaves, self.res_tensor) if t]

    def bwd(self, res, cts):
        b = self.b
        it = iter(res)
        r = tree_unflatten(self.res_def, [wrap(next(it), b) if t else s
                                          for t, s in zip(self.res_tensor, self.res_static)])
        g = tree_unflatten(self.out_def, [wrap(c, b) for c in cts])
        grads = self.cv.bwd(r, g)
        nargs = len(self.defs)
        if isinstance(grads, list):
            grads = tuple(grads)
        if not isinstance(grads, tuple):
            if nargs != 1:
                raise TypeError(f"{self.cv.fun.__name__}: f_bwd must return a tuple with one "
                                f"cotangent per argument ({nargs})")
            grads = (grads,)
        if len(grads) != nargs:
            raise TypeError(f"{self.cv.fun.__name__}: f_bwd returned {len(grads)} cotangents "
                            f"for {nargs} arguments")
        out = []
        prim = iter(self.primals)
        for d, plan, gtree in zip(self.defs, self.plans, grads):
            leaves = _flatten_up_to(d, gtree, "custom_vjp") if gtree is not None else \
                [None] * d.num_leaves
            for (is_p, _), gl in zip(plan, leaves):
                if is_p:
                    p = next(prim)
                    out.append(None if gl is None else _tangent_native(gl, p, b, "custom_vjp"))
        return out

    def run(self):
        outs = self.b.custom_vjp(self.fn, self.fwd, self.bwd)(*self.primals)
        return tree_unflatten(self.out_def, [wrap(o, self.b) for o in outs])
