"""Static mode on PyTorch: ``torch.compile`` (TorchDynamo + TorchInductor).

Dynamo traces the facade's Python itself, so variables (``torch.nn.Parameter``)
are read and updated in place inside the compiled graph; nothing is lifted.
Each ``uf.function`` signature gets its own code object, so Dynamo's per-code
cache holds one entry per signature and never hits its recompile limit.
"""
import sys
import warnings

import torch

from unifw.errors import CompilationError

compile_lifts_state = False
cond_needs_structure = True  # torch.cond branches must be free of side effects

# Dynamo takes about 2 s to import: it is set up on the first compiled function (or
# control-flow op), so eager-only programs never load it.
_dynamo_ready = []


def _setup_dynamo():
    if _dynamo_ready:
        return
    import torch._dynamo
    from torch._dynamo.variables import builtin
    from torch._dynamo.variables.user_defined import UserDefinedObjectVariable

    # Dynamo (torch 2.13) cannot trace ``a @ b`` between user-defined objects: route
    # the operator to the objects' own __matmul__ / __rmatmul__.
    def call_matmul(self, tx, a, b):
        if isinstance(a, UserDefinedObjectVariable):
            return a.call_method(tx, "__matmul__", [b], {})
        if isinstance(b, UserDefinedObjectVariable):
            return b.call_method(tx, "__rmatmul__", [a], {})
        return None

    if not hasattr(builtin.BuiltinVariable, "call_matmul"):
        builtin.BuiltinVariable.call_matmul = call_matmul
    # Let Dynamo trace ``torch.autograd.grad`` (what uf.grad runs) into the graph instead
    # of breaking the graph there. Dynamo reads this flag only while tracing and still
    # breaks the graph where tracing autograd.grad would be unsafe.
    torch._dynamo.config.trace_autograd_ops = True
    _dynamo_ready.append(True)


_MULTI_DEVICE = torch.cuda.is_available()


def signature(x):
    """What a compiled program depends on in an input: shape, dtype (and device)."""
    return (x.shape, x.dtype, x.device) if _MULTI_DEVICE else (x.shape, x.dtype)


def constant_call(fn):
    """``fn`` (NumPy constant -> native tensor) as a call Dynamo runs at trace time and
    bakes in as a constant; traced, the conversion would break the graph at
    ``ndarray.dtype``."""
    # what torch._dynamo.assume_constant_result does (torch 2.13), without importing
    # Dynamo for eager-only programs; test_compile checks that it holds
    fn._dynamo_marked_constant = True
    return fn


def is_compiling():
    return torch.compiler.is_compiling()


def compile_error(exc) -> bool:
    """Whether ``exc`` is a failure of the compiler (not of the user's code)."""
    exc_module = sys.modules.get("torch._dynamo.exc")  # not loaded: Dynamo never ran
    return exc_module is not None and isinstance(exc, exc_module.TorchDynamoException)


# Guards that decide what a compiled program computes: the tensors it reads (shape, dtype,
# device, strides, requires_grad, aliasing) and torch's global state (grad mode, autocast,
# deterministic algorithms: all checked by GLOBAL_STATE in C++), function modes.
_KEPT_GUARDS = frozenset({
    "TENSOR_MATCH", "NO_TENSOR_ALIASING", "TENSOR_SUBCLASS_METADATA_MATCH", "SHAPE_ENV",
    "GLOBAL_STATE", "TORCH_FUNCTION_MODE_STACK",
})


def _guard_filter_for_main_frame(filter_fn):
    """Apply ``filter_fn`` to the guards of the ``uf.function``'s own frame only.

    After a graph break Dynamo compiles resume functions (and frames it could not
    inline) whose code depends on Python values of the interrupted frame; those keep
    all their guards, or a later call could run code specialised to other values.
    """
    main = []

    def guard_filter(entries):
        ctx = torch._guards.CompileContext.try_get()
        frame = ctx.compile_id.frame_id if ctx is not None and ctx.compile_id else None
        if not main:
            main.append(frame)
        if frame is None or frame != main[0]:
            return [True] * len(entries)
        return filter_fn(entries)

    return guard_filter


def _signature_guards(entries):
    """Dynamo's guards to keep for a ``uf.function`` program.

    Dynamo also guards every Python object the facade touches (the backend object, the
    generated op functions, dispatch tables: hundreds of checks, ~0.1 ms per call, more
    than the whole program of a small model). unifw decides when to retrace from the
    call's signature (shapes, dtypes, Python scalars, static arguments, Module identity
    and mode), and other Python values are read when tracing, as with ``jax.jit`` and
    ``tf.function``; so only the guards above are kept.
    """
    return [e.guard_type in _KEPT_GUARDS for e in entries]


def _inductor(options):
    from torch._inductor.compile_fx import compile_fx

    patches = {}
    mode = options.pop("mode", None)
    if mode not in (None, "default"):
        patches.update(torch._inductor.list_mode_options(mode, options.get("dynamic")))
    patches.update(options.pop("options", None) or {})

    def compiler(gm, example_inputs):
        return compile_fx(gm, example_inputs, config_patches=patches)

    return compiler


def function(fn, *, jit_compile=None, fallback_to_eager=False, on_trace=None, name="",
             options=None):
    """``torch.compile(fn)``, run eagerly on its first call.

    The first call runs ``fn`` as plain Python: unifw records the output
    structure then, so the traced code has no Python side effects for Dynamo to
    replay on every call. ``on_trace`` is called for that first run and for every
    further graph Dynamo compiles (graph breaks, recompilations).
    """
    _setup_dynamo()
    options = dict(options or {})
    guard_filter = _guard_filter_for_main_frame(options.pop("guard_filter_fn",
                                                            _signature_guards))
    inner = options.pop("backend", None) or _inductor(options)
    if isinstance(inner, str):  # a registered torch.compile backend: "eager", "aot_eager"...
        inner = torch._dynamo.lookup_backend(inner)
    options["options"] = {"guard_filter_fn": guard_filter}
    graphs = []

    def backend(gm, example_inputs):
        graphs.append(None)
        if len(graphs) > 1 and on_trace is not None:
            on_trace()
        return inner(gm, example_inputs)

    compiled = torch.compile(fn, backend=backend, **options)
    state = {"calls": 0, "eager": False}

    def call(*natives):
        state["calls"] += 1
        if state["calls"] == 1:
            if on_trace is not None:
                on_trace()
            return fn(*natives)
        if state["eager"]:
            return fn(*natives)
        try:
            return compiled(*natives)
        except torch._dynamo.exc.TorchDynamoException as e:
            if not fallback_to_eager:
                raise
            state["eager"] = True
            warnings.warn(f"uf.function {name!r}: torch.compile failed ({type(e).__name__}: "
                          f"{str(e).strip().splitlines()[0][:200] if str(e).strip() else ''}); "
                          "running it eagerly (fallback_to_eager=True)", stacklevel=3)
            return fn(*natives)

    return call


def cond(pred, true_fn, false_fn, operands):
    """``torch.cond`` (traced by torch.compile into one graph with both branches).

    Branch outputs are cloned: torch.cond refuses outputs that alias its inputs
    (a branch that just selects a tensor, as in ``uf.cond(p, lambda: a, lambda: b)``).
    """
    _setup_dynamo()
    return list(torch.cond(pred, lambda *o: tuple(t.clone() for t in true_fn(*o)),
                           lambda *o: tuple(t.clone() for t in false_fn(*o)),
                           tuple(operands)))


def while_loop(cond_fn, body_fn, init):
    """A Python loop (torch.compile unrolls or graph-breaks on the data-dependent test)."""
    val = list(init)
    while bool(cond_fn(*val)):
        val = list(body_fn(*val))
    return val


def scan(f, init, xs, length):
    """A Python loop over the leading axis of ``xs``, stacking the per-step outputs."""
    carry, ys = list(init), []
    for i in range(length):
        carry, y = f(carry, [x[i] for x in xs])
        ys.append(y)
    if not ys:
        raise CompilationError("uf.scan: length 0 is not supported inside torch.compile")
    return list(carry), [torch.stack(col) for col in zip(*ys)]
