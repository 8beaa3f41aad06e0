"""Static mode on NumPy: there is no compiler, so functions run eagerly.

``uf.function`` still checks what it would check elsewhere (state that was not
passed in), so code debugged here compiles on the other backends. Control flow
runs as Python (``uf.cond`` and friends find no ``cond`` primitive here).
"""


def signature(x):
    return (x.shape, x.dtype)


def compile_error(exc) -> bool:
    return False


def function(fn, *, jit_compile=None, fallback_to_eager=False, on_trace=None, name="",
             options=None):
    """``fn`` itself, run on every call (one "trace" per signature, for trace counts)."""
    if on_trace is not None:
        on_trace()
    return fn
