"""Autodiff primitives of the PyTorch backend (functional: nothing is left in ``.grad``).

Reverse mode is ``torch.autograd.grad`` on fresh handles of the inputs (a
differentiable ``view_as`` alias when the input is already part of a graph, so
that an enclosing differentiation still sees through it, else a detached leaf).
``create_graph`` is set when an enclosing unifw differentiation is running or a
cotangent itself carries a gradient, which is what makes gradients of gradients
work. Forward mode is the transpose of reverse mode (the "double vjp" trick), so
it also goes through ``custom_vjp`` rules.
"""
import torch

# Number of unifw forward passes (vjp/jvp) running: > 0 means an enclosing
# differentiation may differentiate what runs now.
_nesting = 0


def _handle(x):
    return x.view_as(x) if x.requires_grad else x.detach().requires_grad_()


def _forward(fn, primals):
    if not torch.is_grad_enabled():  # inside no_grad, a transform still records
        with torch.enable_grad():
            return _forward(fn, primals)
    global _nesting
    xs = [_handle(p) for p in primals]
    _nesting += 1
    try:
        outs, rest = fn(*xs)
    finally:
        _nesting -= 1
    return xs, outs, rest


def _grad(outs, xs, cts, retain, create):
    """Gradients of ``outs`` w.r.t. ``xs`` (a ``None`` cotangent means ones)."""
    if not torch.is_grad_enabled():
        with torch.enable_grad():
            return _grad(outs, xs, cts, retain, create)
    pairs = [(o, c) for o, c in zip(outs, cts) if o.requires_grad]
    if not pairs:
        return [torch.zeros_like(x) for x in xs]
    grad_outputs = None if all(c is None for _, c in pairs) else [
        torch.ones_like(o) if c is None else c for o, c in pairs]
    gs = torch.autograd.grad([o for o, _ in pairs], xs, grad_outputs=grad_outputs,
                             retain_graph=retain or create, create_graph=create,
                             allow_unused=True)
    return [torch.zeros_like(x) if g is None else g for g, x in zip(gs, xs)]


def _detached(ts):
    return [t.detach() if isinstance(t, torch.Tensor) else t for t in ts]


def vjp(fn, primals, *, reuse=True):
    """Run ``fn(*handles) -> (outs, rest)``; return ``(outs, rest, pullback)``.

    ``pullback(cotangents)`` returns one gradient per primal (zeros where unused); a
    ``None`` cotangent means ones. With ``reuse=False`` it may be called once.
    """
    xs, outs, rest = _forward(fn, primals)

    def pullback(cts):
        create = _nesting > 0 or any(c is not None and c.requires_grad for c in cts)
        return _grad(outs, xs, cts, reuse, create)

    if _nesting == 0:  # nothing outside can differentiate the results: free the graph early
        return _detached(outs), _detached(rest), pullback
    return outs, rest, pullback


def _jvp_forward_mode(fn, primals, tangents):
    """``torch.func.jvp`` (forward mode): what torch.compile can trace; its AOT autograd
    cannot run the double backward of the transpose trick."""
    def f(*xs):
        outs, rest = fn(*xs)
        return tuple(outs), rest

    outs, touts, rest = torch.func.jvp(f, tuple(primals), tuple(tangents), has_aux=True)
    return list(outs), rest, list(touts)


def jvp(fn, primals, tangents):
    """``(outs, rest, tangent_outs)``: J t computed as d/du <J^T u, t> (linear in u)."""
    if torch.compiler.is_compiling():
        return _jvp_forward_mode(fn, primals, tangents)
    xs, outs, rest = _forward(fn, primals)
    nested = _nesting > 0 or any(t.requires_grad for t in tangents)
    with torch.enable_grad():
        us = [torch.zeros_like(o, requires_grad=True) for o in outs]
        gs = _grad(outs, xs, us, True, True)
        pairs = [(g, t) for g, t in zip(gs, tangents) if g.requires_grad]
        if pairs:
            touts = torch.autograd.grad([g for g, _ in pairs], us,
                                        grad_outputs=[t for _, t in pairs],
                                        create_graph=nested, materialize_grads=True)
        else:
            touts = [torch.zeros_like(o) for o in outs]
    if not nested and _nesting == 0:
        return _detached(outs), _detached(rest), _detached(touts)
    return outs, rest, list(touts)


def stop_gradient(x):
    return x.detach()


def no_grad():
    return torch.no_grad()


class _CustomVJP(torch.autograd.Function):
    """Outputs computed outside (by ``fwd``) enter detached; gradients come from ``bwd``.

    The residuals are inputs too, so in a double backward the derivative of
    ``bwd(residuals, g)`` flows through them to the primal inputs (JAX's semantics).
    """

    @staticmethod
    def forward(ctx, bwd, n_in, n_res, *tensors):
        ctx.bwd, ctx.n_in, ctx.n_res = bwd, n_in, n_res
        ctx.save_for_backward(*tensors[n_in:n_in + n_res])
        ctx.n_out = len(tensors) - n_in - n_res
        return tuple(t.view_as(t) for t in tensors[n_in + n_res:])

    @staticmethod
    def backward(ctx, *cts):
        res = list(ctx.saved_tensors)
        gs = ctx.bwd(res, list(cts))
        return (None, None, None, *gs, *([None] * (ctx.n_res + ctx.n_out)))


def custom_vjp(fn, fwd, bwd):
    """A callable on natives that returns ``fwd``'s outputs and differentiates with ``bwd``."""

    def call(*xs):
        if not torch.is_grad_enabled() or not any(x.requires_grad for x in xs):
            return fn(*xs)
        if _nesting >= 2:  # a second-order derivative may follow: keep the residuals' graph
            outs, res = fwd(*xs)
        else:
            with torch.no_grad():
                outs, res = fwd(*xs)

        def backward(res_, cts):
            gs = bwd(res_, cts)
            return [torch.zeros_like(x) if g is None else g for g, x in zip(gs, xs)]

        res = [r if isinstance(r, torch.Tensor) else torch.as_tensor(r) for r in res]
        return list(_CustomVJP.apply(backward, len(xs), len(res), *xs, *res,
                                     *[o.detach() for o in outs]))

    return call
