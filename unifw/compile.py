"""Static mode: :func:`function` (``torch.compile`` / ``tf.function`` / ``jax.jit``) and
control flow that compiles (:func:`cond`, :func:`while_loop`, :func:`fori_loop`, :func:`scan`).

``uf.function`` traces the Python function once per *signature* and reuses the
compiled program while the signature stays the same. The signature is the
structure of the arguments, the shape, dtype and device of every tensor, the
value of every Python scalar (scalars are static, as in ``tf.function``: pass a
tensor for a value that changes every call), the values of ``static_argnums`` /
``static_argnames``, and the identity (and train/eval mode) of every Module or
optimizer passed in.

State: the variables of Modules, optimizers and Variables passed as arguments
are carried in and written back. JAX programs are pure, so there the values are
passed as inputs and assignments come back as outputs; TensorFlow and PyTorch
read and update the variables in place inside the compiled program. Reading a
variable that was not passed raises :class:`~unifw.TracingError`, so no value is
silently frozen into the program; so does a Python ``if`` on a traced tensor
(use :func:`cond`). See ``docs/autodiff_and_static_mode.md``.
"""
from __future__ import annotations

import functools
import inspect
import itertools
import os
import types
import warnings
import weakref

from ._registry import active
from ._tensor import Tensor, wrap
from .errors import CompilationError, ShapeError, TracingError, UnifwError
from .tree import is_stateful, tree_flatten, tree_leaves, tree_unflatten
from .variable import Variable, structure_epoch, trace_state

__all__ = ["function", "Function", "config", "cond", "while_loop", "fori_loop", "scan"]

_EAGER_ENV = "UNIFW_RUN_EAGERLY"
_RETRACE_WARN = 10  # warn once when one function has been traced this many times


class _Config:
    """Process-wide switches of static mode (``uf.config``)."""

    def __init__(self):
        self._eager = os.environ.get(_EAGER_ENV, "").strip().lower() not in (
            "", "0", "false", "no")

    def run_functions_eagerly(self, flag: bool = True) -> None:
        """Run every :func:`unifw.function` as plain Python (for debugging with print/pdb).

        Setting the environment variable ``UNIFW_RUN_EAGERLY=1`` before the
        program starts has the same effect.
        """
        self._eager = bool(flag)

    def functions_run_eagerly(self) -> bool:
        """Whether functions currently run eagerly."""
        return self._eager


config = _Config()

# uf.function traces in progress: a uf.function called while another traces is inlined
_tracing = 0
_code_ids = itertools.count()


def function(fn=None, *, static_argnums=(), static_argnames=(), jit_compile=None,
             fallback_to_eager=False, backend_options=None):
    """Compile ``fn`` with the active backend's compiler (decorator or call form).

    ``@uf.function`` or ``uf.function(fn, static_argnums=(2,), jit_compile=True)``.

    - ``static_argnums`` / ``static_argnames``: arguments that are Python values
      baked into the program (hashable); each distinct value traces once.
    - ``jit_compile``: TensorFlow compiles with XLA when True (JAX always uses
      XLA; PyTorch uses TorchInductor).
    - ``fallback_to_eager``: when ``torch.compile`` fails, run the function
      eagerly with a warning instead of raising :class:`~unifw.CompilationError`.
    - ``backend_options``: extra keyword arguments for the framework's compiler
      (``torch.compile(mode=...)``, ``tf.function(reduce_retracing=...)``, ``jax.jit``).

    ``uf.config.run_functions_eagerly(True)`` or ``UNIFW_RUN_EAGERLY=1`` runs
    every function as plain Python.
    """
    opts = dict(static_argnums=static_argnums, static_argnames=static_argnames,
                jit_compile=jit_compile, fallback_to_eager=fallback_to_eager,
                backend_options=backend_options)
    if fn is None:
        return lambda f: Function(f, **opts)
    return Function(fn, **opts)


class _Entry:
    """One compiled program: a signature's tracing results and the compiled callable."""

    __slots__ = ("call", "n_tensors", "lifted", "meta", "build_out", "b")

    # meta: (output treedef, output leaves with _TENSOR for tensors, indices of the
    # lifted variables assigned), recorded by the first trace only. Later traces
    # leave it alone, so TorchDynamo has no side effect to replay on every call.


class Function:
    """A function compiled per signature; see :func:`function`.

    ``trace_count`` is how many times the Python function has been traced (for
    PyTorch: how many graphs ``torch.compile`` has compiled).
    """

    def __init__(self, fn, *, static_argnums=(), static_argnames=(), jit_compile=None,
                 fallback_to_eager=False, backend_options=None):
        functools.update_wrapper(self, fn)
        self.python_function = fn
        self.jit_compile = jit_compile
        self.fallback_to_eager = fallback_to_eager
        self.backend_options = dict(backend_options or {})
        nums = (static_argnums,) if isinstance(static_argnums, int) else tuple(static_argnums)
        names = (static_argnames,) if isinstance(static_argnames, str) else \
            tuple(static_argnames)
        try:
            params = list(inspect.signature(fn).parameters.values())
        except (TypeError, ValueError):
            params = []
        positional = [p.name for p in params
                      if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
        self._static_nums = frozenset(nums) | {positional.index(n) for n in names
                                               if n in positional}
        self._static_names = frozenset(names) | {positional[i] for i in nums
                                                 if 0 <= i < len(positional)}
        self._positional_only = not self._static_nums
        self._cache: dict = {}
        self._fast: dict = {}  # fast-path key -> (epoch, entry, tensor positions, lifted, refs)
        self.trace_count = 0
        self._warned = False

    def __get__(self, obj, objtype=None):
        """As a method: ``self`` (a Module, say) is the first argument, so its state is
        carried in like any other argument's."""
        if obj is None:
            return self
        return types.MethodType(self, obj)

    def __repr__(self):
        name = getattr(self.python_function, "__qualname__", self.python_function)
        return f"<uf.function {name}>"

    # ------------------------------------------------------------ calling
    def __call__(self, *args, **kwargs):
        if _tracing or config._eager:
            return self.python_function(*args, **kwargs)
        fast_key = None
        if not kwargs and self._positional_only and not trace_state.depth:
            # fast path (the training loop): the arguments are tensors, Modules,
            # optimizers and Python scalars seen before, and no Module or optimizer
            # has changed structure since: reuse the flattened state of that call
            fast_key = _fast_key(args)
            if fast_key is not None:
                rec = self._fast.get(fast_key)
                if rec is not None and rec[0] == structure_epoch[0]:
                    _, entry, tpos, lifted, refs = rec
                    for i, ref in refs:
                        if ref() is not args[i]:
                            break
                    else:
                        read = entry.b.variable_read
                        return self._run(entry, [args[i]._native for i in tpos]
                                         + [read(v._store) for v in lifted], lifted)
        epoch = structure_epoch[0]
        sig = _Signature(self, args, kwargs)
        b = sig.b
        if not getattr(b, "supports_compile", False) or not hasattr(b, "function"):
            return self.python_function(*args, **kwargs)
        key = sig.key()
        entry = self._cache.get(key)
        if entry is None:
            entry = self._cache[key] = self._build(sig)
        lifted = sig.lifted_vars(entry.lifted)
        if fast_key is not None:
            self._remember(fast_key, epoch, entry, args, lifted)
        return self._run(entry, sig.tensor_natives + [v._native for v in lifted], lifted)

    def _remember(self, fast_key, epoch, entry, args, lifted):
        try:
            refs = tuple((i, weakref.ref(a)) for i, a in enumerate(args)
                         if type(a) is not Tensor and _FAST_STATEFUL.get(type(a)))
        except TypeError:  # an object without weak references: no fast path for it
            return
        if len(self._fast) >= _FAST_MAX:
            self._fast.clear()
        tpos = tuple(i for i, a in enumerate(args) if type(a) is Tensor)
        self._fast[fast_key] = (epoch, entry, tpos, tuple(lifted), refs)

    def _run(self, entry, natives, lifted):
        b = entry.b
        try:
            outs = entry.call(*natives)
        except UnifwError:
            raise
        except Exception as e:
            err = getattr(b, "compile_error", None)
            if err is None or not err(e):
                raise
            first = str(e).strip().splitlines()[0][:300] if str(e).strip() else ""
            raise CompilationError(
                f"uf.function: compiling {self.__name__!r} on backend '{b.name}' failed: "
                f"{type(e).__name__}: {first} (pass fallback_to_eager=True to run it eagerly "
                "instead, or debug with uf.config.run_functions_eagerly(True))") from e
        out_def, out_static, changed = entry.meta
        if changed:
            n = len(outs) - len(changed)
            ts = trace_state
            for i, new in zip(changed, outs[n:]):
                v = lifted[i]
                if ts.depth and id(v) in ts.substitute:
                    v.assign(wrap(new, b))
                else:
                    b.variable_assign(v._store, new)
            outs = outs[:n]
        build = entry.build_out
        if build is not None and len(outs) == build.n_tensors:
            return build(outs, b)
        it = iter(outs)
        try:
            return tree_unflatten(out_def, [wrap(next(it), b) if s is _TENSOR else s
                                            for s in out_static])
        except StopIteration:  # Python in the function took another path than traced
            n_expected = sum(1 for s in out_static if s is _TENSOR)
            raise CompilationError(
                f"uf.function {self.__name__!r} on backend '{b.name}': the compiled program "
                f"returned {len(outs)} tensors where its trace returned {n_expected}; the "
                "function's output structure must not depend on values or on exceptions "
                "caught inside it") from None

    # ------------------------------------------------------------ tracing
    def _build(self, sig):
        b = sig.b
        entry = _Entry()
        entry.b = b
        entry.meta = entry.build_out = None
        entry.n_tensors = len(sig.tensor_natives)
        lift_all = getattr(b, "compile_lifts_state", True)
        ts = trace_state
        entry.lifted = tuple(lift_all or bool(ts.depth and id(v) in ts.substitute)
                             for v in sig.state_vars)
        lifted_vars = sig.lifted_vars(entry.lifted)
        state_ids = frozenset(id(v) for v in sig.state_vars)
        n_tensors = entry.n_tensors
        fn, name = self.python_function, self.__name__
        if sig.fast_key is not None:  # only plain tensors: nothing to rebuild but Tensors
            def arguments(natives):
                return [wrap(n, b) for n in natives[:n_tensors]], {}
        else:
            plan, tdef, statics = sig.plan, sig.tdef, sig.statics

            def arguments(natives):
                it = iter(natives[:n_tensors])
                leaves = [wrap(next(it), b) if p is _TENSOR else p for p in plan]
                return statics.merge(*tree_unflatten(tdef, leaves))

        def traced(*natives):
            global _tracing
            args, kwargs = arguments(natives)
            sub = {id(v): n for v, n in zip(lifted_vars, natives[n_tensors:])}
            init = dict(sub)
            saved = (ts.depth, ts.allowed, ts.substitute)
            ts.depth, ts.allowed, ts.substitute = saved[0] + 1, state_ids, sub
            _tracing += 1
            try:
                out = fn(*args, **kwargs)
            finally:
                _tracing -= 1
                ts.depth, ts.allowed, ts.substitute = saved
            out_leaves, out_def = tree_flatten(out, is_leaf=is_stateful)
            out_static, flat_out = [], []
            for leaf in out_leaves:
                if isinstance(leaf, Tensor):
                    if leaf._b is not b:
                        raise TracingError(f"uf.function {name!r}: returned a {leaf._b.name} "
                                           f"tensor from a function compiled on '{b.name}'")
                    out_static.append(_TENSOR)
                    flat_out.append(leaf._native)
                else:
                    out_static.append(leaf)
            changed = [i for i, v in enumerate(lifted_vars) if sub[id(v)] is not init[id(v)]]
            if entry.meta is None:
                entry.meta = (out_def, out_static, changed)
                entry.build_out = _output_builder(out_def, out_static)
            return flat_out + [sub[id(lifted_vars[i])] for i in changed]

        traced.__code__ = traced.__code__.replace(
            co_name=f"uf_function_{_identifier(name)}_{next(_code_ids)}")
        traced.__name__ = traced.__code__.co_name
        entry.call = b.function(traced, jit_compile=self.jit_compile,
                                fallback_to_eager=self.fallback_to_eager,
                                on_trace=self._on_trace, name=name,
                                options=self.backend_options)
        return entry

    def _on_trace(self):
        self.trace_count += 1
        if self.trace_count >= _RETRACE_WARN and not self._warned:
            self._warned = True
            warnings.warn(
                f"uf.function {self.__name__!r} has been traced {self.trace_count} times. "
                "Each new argument signature (tensor shapes/dtypes, Python scalar values, "
                "static arguments, Module identity or train/eval mode) traces again; pass "
                "changing numbers as tensors rather than Python scalars. (On PyTorch every "
                "graph break compiles one more graph: see torch._dynamo.explain.)",
                stacklevel=3)


_SIGNATURE_FNS: dict = {}
_FAST_MAX = 16
_SCALAR_TYPES = frozenset({int, float, bool, str, type(None)})
_FAST_STATEFUL: dict = {}  # type -> True when its state may be cached between calls


def _trainable_flags(leaf, variables) -> tuple:
    """Which variables of a Module or optimizer are trainable: gradients and updates of
    frozen parameters are left out when tracing, so flipping ``trainable`` retraces.
    An optimizer's own variables are its slots; its parameters are in param_groups."""
    params = [p for g in getattr(leaf, "param_groups", ()) for p in g["params"]]
    return tuple(v._trainable for v in (*variables.values(), *params)
                 if isinstance(v, Variable))


def _fast_stateful(t) -> bool:
    """Modules and optimizers whose state is listed by the base classes' own
    ``_unifw_variables`` (structure changes bump ``structure_epoch``)."""
    ok = _FAST_STATEFUL.get(t)
    if ok is None:
        from .nn.module import Module
        from .optim.optimizer import Optimizer

        if issubclass(t, Module):
            ok = (t._unifw_variables is Module._unifw_variables
                  and t._unifw_static is Module._unifw_static)
        elif issubclass(t, Optimizer):
            ok = t._unifw_variables is Optimizer._unifw_variables and not (
                hasattr(t, "_unifw_static") or hasattr(t, "training"))
        else:
            ok = False
        _FAST_STATEFUL[t] = ok
    return ok


def _fast_key(args):
    """A cheap key of a positional call for ``Function``'s fast path, or None."""
    key = []
    b = sig_of = None
    for a in args:
        t = type(a)
        if t is Tensor:
            ab = a._b
            if b is None:
                b, sig_of = ab, signature_fn(ab)
            elif ab is not b:
                return None
            key.append(sig_of(a._native))
        elif t in _SCALAR_TYPES:
            key.append((t, a))
        elif _FAST_STATEFUL.get(t) or (t not in _FAST_STATEFUL and _fast_stateful(t)):
            key.append(id(a))
        else:
            return None
    key.append(b if b is not None else active())
    return tuple(key)


def signature_fn(b):
    """``native -> hashable`` describing what a trace depends on (shape, dtype, device)."""
    fn = _SIGNATURE_FNS.get(b)
    if fn is None:
        fn = getattr(b, "signature", None)
        if fn is None:
            def fn(n, _dev=b.device_of):
                return (tuple(n.shape), n.dtype, _dev(n))
        _SIGNATURE_FNS[b] = fn
    return fn


def _identifier(name: str) -> str:
    out = "".join(c if c.isalnum() or c == "_" else "_" for c in name)
    return out or "fn"


class _Tensor:
    def __repr__(self):
        return "<tensor>"


_TENSOR = _Tensor()  # marks a tensor slot in plans and output descriptions


def _output_builder(out_def, out_static):
    """``build(outs, b)``: the traced function's output rebuilt from the compiled
    program's tensors, as one generated expression (no tree walk per call), or None
    for structures too large to write that way (the generic rebuild is used)."""
    consts: list = []
    n = [0, 0]  # tensors taken, leaves seen

    def const(value):
        consts.append(value)
        return f"c[{len(consts) - 1}]"

    def expr(d, depth):
        if depth > 40 or len(consts) + n[1] > 2000:
            raise OverflowError
        kind = d.kind
        if kind == "leaf":
            static = out_static[n[1]]
            n[1] += 1
            if static is not _TENSOR:
                return const(static)
            n[0] += 1
            return f"w(o[{n[0] - 1}], b)"
        if kind == "none":
            return "None"
        kids = [expr(c, depth + 1) for c in d.children]
        if kind == "list":
            return "[" + ", ".join(kids) + "]"
        if kind == "tuple":
            return "(" + "".join(k + ", " for k in kids) + ")"
        if kind == "namedtuple":
            return f"{const(d.meta)}({', '.join(kids)})"
        keys = d.meta if kind == "dict" else d.meta[1]
        return "{" + ", ".join(f"{const(k)}: {v}" for k, v in zip(keys, kids)) + "}"

    try:
        body = expr(out_def, 0)
    except OverflowError:
        return None
    build = eval(f"lambda o, b: {body}", {"w": wrap, "c": tuple(consts)})  # noqa: S307
    build.n_tensors = n[0]
    return build


class _Statics:
    """The static arguments of a call, removed from the traced part and merged back."""

    __slots__ = ("pos", "kw", "nargs")

    def __init__(self, pos, kw, nargs):
        self.pos, self.kw, self.nargs = pos, kw, nargs

    def merge(self, dyn_args, dyn_kwargs):
        args, it = [], iter(dyn_args)
        for i in range(self.nargs):
            args.append(self.pos[i] if i in self.pos else next(it))
        return args, {**dyn_kwargs, **self.kw}

    def key(self):
        try:
            return (tuple(sorted(self.pos.items())), tuple(sorted(self.kw.items())))
        except TypeError:
            return (tuple(self.pos.items()), tuple(self.kw.items()))


class _Signature:
    """What a call's arguments contribute to the cache key, and their tensors' natives."""

    def __init__(self, func, args, kwargs):
        snums, snames = func._static_nums, func._static_names
        pos = {i: a for i, a in enumerate(args) if i in snums}
        kw = {k: v for k, v in kwargs.items() if k in snames}
        self.statics = _Statics(pos, kw, len(args))
        dyn = ([a for i, a in enumerate(args) if i not in snums],
               {k: v for k, v in kwargs.items() if k not in snames})
        leaves, self.tdef = tree_flatten(dyn, is_leaf=is_stateful)
        leaves = _numpy_leaves_as_tensors(leaves)
        self.b = None
        plan, sig, natives, state, seen = [], [], [], [], set()
        for leaf in leaves:
            if isinstance(leaf, Variable):
                plan.append(leaf)
                sig.append(("v", id(leaf), leaf._trainable))
                self._add_state(leaf, state, seen)
            elif isinstance(leaf, Tensor):
                b = leaf._b
                if self.b is None:
                    self.b = b
                elif b is not self.b:
                    raise _mixed(func, b, self.b)
                n = leaf._native
                plan.append(_TENSOR)
                sig.append(signature_fn(b)(n))
                natives.append(n)
            elif is_stateful(leaf):
                plan.append(leaf)
                variables = leaf._unifw_variables()
                mode = leaf._unifw_static() if hasattr(leaf, "_unifw_static") else \
                    getattr(leaf, "training", None)
                sig.append(("s", id(leaf), mode, _trainable_flags(leaf, variables)))
                for v in variables.values():
                    self._add_state(v, state, seen)
            else:
                plan.append(leaf)
                try:
                    hash(leaf)
                except TypeError:
                    raise TypeError(
                        f"uf.function {func.__name__!r}: argument leaf of type "
                        f"{type(leaf).__name__} is neither a tensor nor hashable; pass it "
                        "as a static argument or as tensors") from None
                sig.append(("c", type(leaf), leaf))
        if self.b is None:
            self.b = state[0]._b if state else active()
        for v in state:
            if v._b is not self.b:
                raise _mixed(func, v._b, self.b)
        self.plan, self.sig, self.tensor_natives, self.state_vars = plan, sig, natives, state
        plain = not kwargs and not snums and len(natives) == len(args) and all(
            type(a) is Tensor for a in args)
        self.fast_key = (self.b, *sig) if plain else None

    @staticmethod
    def _add_state(v, state, seen):
        if id(v) not in seen:
            seen.add(id(v))
            state.append(v)

    def lifted_vars(self, lifted):
        return [v for v, f in zip(self.state_vars, lifted) if f]

    def key(self):
        ts = trace_state
        subst = tuple(bool(ts.depth and id(v) in ts.substitute) for v in self.state_vars) \
            if ts.depth else ()
        return (self.b.name, self.tdef, tuple(self.sig), self.statics.key(), subst)


def _numpy_leaves_as_tensors(leaves):
    """NumPy arrays and scalars become traced tensors, as an op would convert them eagerly
    (same dtype, current device), so a new value never traces again."""
    np = _numpy_if_loaded()
    if np is None or not any(isinstance(v, (np.ndarray, np.generic)) for v in leaves):
        return leaves
    from ._devices import current_device
    from ._dispatch import infer_dtype

    b = next((v._b for v in leaves if isinstance(v, Tensor)), None) or active()
    dev = current_device(b)
    return [wrap(b.asarray(v, dtype=b.native_dtype(infer_dtype(v)), device=dev), b)
            if isinstance(v, (np.ndarray, np.generic)) else v for v in leaves]


def _numpy_if_loaded():
    import sys

    return sys.modules.get("numpy")


def _mixed(func, b1, b2):
    from .errors import BackendMismatchError

    return BackendMismatchError(f"uf.function {func.__name__!r}: arguments mix backends "
                                f"'{b1.name}' and '{b2.name}'")


# ---------------------------------------------------------------- control flow
def _tree_natives(tree, b, what):
    leaves, tdef = tree_flatten(tree)
    natives, static = [], []
    for leaf in leaves:
        if isinstance(leaf, Tensor):
            if leaf._b is not b:
                from .errors import BackendMismatchError

                raise BackendMismatchError(f"uf.{what}: mixes backends '{leaf._b.name}' "
                                           f"and '{b.name}'")
            natives.append(leaf._native)
            static.append(_TENSOR)
        else:
            static.append(leaf)
    return natives, (tdef, static)


def _tree_from(natives, desc, b):
    tdef, static = desc
    it = iter(natives)
    return tree_unflatten(tdef, [wrap(next(it), b) if s is _TENSOR else s for s in static])


def _backend_of(*trees):
    for leaf in tree_leaves(trees):
        if isinstance(leaf, Tensor):
            return leaf._b
    return active()


def _traced(b, natives) -> bool:
    return any(b.is_tracing(n) for n in natives)


def _no_state_writes(what):
    """Guard a branch/body: assigning a lifted variable inside it would leak a traced value."""
    ts = trace_state
    before = dict(ts.substitute) if ts.depth else None

    def check():
        if before is not None and any(ts.substitute.get(k) is not v for k, v in before.items()):
            for k, v in before.items():
                ts.substitute[k] = v
            raise TracingError(
                f"a variable was assigned inside uf.{what} while compiling; compute the new "
                f"value inside the {what} (return it) and assign it outside")

    return check


def _check_same(desc_a, desc_b, what):
    if desc_a[0] != desc_b[0] or [s for s in desc_a[1] if s is not _TENSOR] != \
            [s for s in desc_b[1] if s is not _TENSOR]:
        raise TypeError(f"uf.{what}: the branches/iterations return different structures "
                        f"({desc_a[0]!r} vs {desc_b[0]!r})")


def cond(pred, true_fn, false_fn, *operands):
    """``true_fn(*operands)`` if ``pred`` else ``false_fn(*operands)``, compilable.

    ``pred`` is a Python bool or a scalar bool tensor. Eagerly, only the chosen
    branch runs. While compiling, both branches are traced and must return the
    same structure, shapes and dtypes (``lax.cond`` / ``tf.cond`` / ``torch.cond``);
    gradients flow through the branch taken.
    """
    if isinstance(pred, bool) or not isinstance(pred, Tensor):
        return true_fn(*operands) if pred else false_fn(*operands)
    b = pred._b
    if pred.shape != ():
        raise ShapeError(f"uf.cond: pred must be a scalar, got shape {pred.shape}")
    ops, ops_desc = _tree_natives(operands, b, "cond")
    if not hasattr(b, "cond") or not (_traced(b, [pred._native]) or _compiling(b)):
        return true_fn(*operands) if _host_bool(pred) else false_fn(*operands)
    if getattr(b, "cond_needs_structure", False):
        # the framework's cond forbids side effects in branches: learn the output
        # structure from a trace of one branch (its unused ops are dropped)
        _, desc = _tree_natives(true_fn(*operands), b, "cond")
        descs = {True: desc}
    else:
        descs = {}

    def branch(fn, tag):
        def run(*natives):
            check = _no_state_writes("cond")
            out = fn(*_tree_from(natives, ops_desc, b))
            check()
            outs, d = _tree_natives(out, b, "cond")
            if descs:  # compare with the other branch (without storing: no side effects)
                _check_same(next(iter(descs.values())), d, "cond")
            else:
                descs[tag] = d
            return outs
        return run

    outs = b.cond(pred._native, branch(true_fn, True), branch(false_fn, False), ops)
    return _tree_from(outs, next(iter(descs.values())), b)


def _compiling(b) -> bool:
    check = getattr(b, "is_compiling", None)
    return bool(check and check())


def while_loop(cond_fn, body_fn, init_val):
    """``val = init_val; while cond_fn(val): val = body_fn(val)``, compilable.

    ``val`` is a tree of tensors whose structure, shapes and dtypes stay fixed.
    Compiled on JAX this is ``lax.while_loop``, which supports forward-mode
    differentiation only (use :func:`scan` or :func:`fori_loop` with Python int
    bounds for reverse mode); TensorFlow's ``tf.while_loop`` and PyTorch's Python
    loop differentiate both ways.
    """
    b = _backend_of(init_val)
    init, desc = _tree_natives(init_val, b, "while_loop")
    if not hasattr(b, "while_loop") or not (_traced(b, init) or _compiling(b)):
        val = init_val
        while _truth(cond_fn(val), "while_loop"):
            val = body_fn(val)
        return val

    def c(*natives):
        check = _no_state_writes("while_loop")
        p = cond_fn(_tree_from(natives, desc, b))
        check()
        if not isinstance(p, Tensor):
            return b.asarray(bool(p), dtype=b.native_dtype("bool"), device=b.device_of(init[0]))
        return p._native

    def body(*natives):
        check = _no_state_writes("while_loop")
        out = body_fn(_tree_from(natives, desc, b))
        check()
        outs, d = _tree_natives(out, b, "while_loop")
        _check_same(desc, d, "while_loop")
        return outs

    return _tree_from(b.while_loop(c, body, init), desc, b)


def _truth(p, what):
    if isinstance(p, Tensor) and p.shape != ():
        raise ShapeError(f"uf.{what}: the condition must be a scalar, got shape {p.shape}")
    return _host_bool(p) if isinstance(p, Tensor) else bool(p)


def _host_bool(t: Tensor) -> bool:
    # the concrete value that uf.cond / uf.while_loop branch on where the framework runs
    # them in Python (PyTorch eagerly or between graphs); bool(t) itself refuses inside
    # uf.function
    return bool(t._b.to_numpy(t._native))


def fori_loop(lower, upper, body_fn, init_val):
    """``val = init_val; for i in range(lower, upper): val = body_fn(i, val)``, compilable.

    ``i`` is an int64 scalar tensor, eagerly and compiled alike (convert it with
    ``astype`` to combine it with floats). With Python int bounds the loop has a
    static trip count and is differentiable in reverse mode everywhere (it runs as
    a :func:`scan`); with tensor bounds it is a :func:`while_loop`.
    """
    b = _backend_of(init_val, lower, upper)
    init, _ = _tree_natives(init_val, b, "fori_loop")
    like = init[0] if init else None
    if isinstance(lower, int) and isinstance(upper, int):
        if upper <= lower:
            return init_val
        idx = wrap(b.arange(lower, upper, 1, dtype=_int64(b), device=_device(b, like)), b)
        if not (_traced(b, init) or _compiling(b)) or not hasattr(b, "scan"):
            val = init_val
            for i in range(upper - lower):
                val = body_fn(idx[i], val)
            return val
        val, _ = scan(lambda val, i: (body_fn(i, val), None), init_val, idx)
        return val
    lo, hi = (t if isinstance(t, Tensor) else
              wrap(b.asarray(t, dtype=_int64(b), device=_device(b, like)), b)
              for t in (lower, upper))

    def body(state):
        i, val = state
        return (i + 1, body_fn(i, val))

    return while_loop(lambda state: state[0] < hi, body, (lo, init_val))[1]


def _int64(b):
    return b.native_dtype("int64")


def _device(b, like):
    return b.device_of(like) if like is not None else b.default_device()


def scan(f, init, xs, length=None):
    """``carry, ys = scan(f, init, xs)``: loop ``carry, y = f(carry, x)`` over ``xs``' first axis.

    ``xs`` is a tree of tensors (or None with ``length``); ``ys`` stacks the
    ``y``'s along a new first axis (``lax.scan`` / ``tf.scan`` / a Python loop),
    differentiable in both modes.
    """
    b = _backend_of(init, xs)
    init_n, init_desc = _tree_natives(init, b, "scan")
    xs_n, xs_desc = _tree_natives(xs, b, "scan")
    if length is None:
        if not xs_n:
            raise TypeError("uf.scan: pass xs with at least one tensor, or length=")
        length = int(xs_n[0].shape[0])
    for x in xs_n:
        if int(x.shape[0]) != length:
            raise ShapeError(f"uf.scan: xs have different leading sizes ({int(x.shape[0])} "
                             f"vs {length})")
    if not hasattr(b, "scan") or not (_traced(b, init_n + xs_n) or _compiling(b)):
        return _scan_eager(f, init, xs, xs_desc, xs_n, length, b)
    y_desc = {}

    def step(carry_n, x_n):
        check = _no_state_writes("scan")
        carry, y = f(_tree_from(carry_n, init_desc, b), _tree_from(x_n, xs_desc, b))
        check()
        c_n, c_desc = _tree_natives(carry, b, "scan")
        _check_same(init_desc, c_desc, "scan")
        y_n, y_desc["d"] = _tree_natives(y, b, "scan")
        return c_n, y_n

    carry_n, ys_n = b.scan(step, init_n, xs_n, length)
    return _tree_from(carry_n, init_desc, b), _tree_from(ys_n, y_desc["d"], b)


def _scan_eager(f, init, xs, xs_desc, xs_n, length, b):
    from ._dispatch import FUNCS

    carry, ys = init, []
    for i in range(length):
        x = _tree_from([n[i] for n in xs_n], xs_desc, b)
        carry, y = f(carry, x)
        ys.append(y)
    if not ys:
        return carry, None
    stack = FUNCS["stack"]
    first_leaves, ydef = tree_flatten(ys[0])
    cols = [tree_flatten(y)[0] for y in ys]
    stacked = [stack([c[j] for c in cols]) if isinstance(first_leaves[j], Tensor)
               else first_leaves[j] for j in range(len(first_leaves))]
    return carry, tree_unflatten(ydef, stacked)

