"""The per-example checks: values, eager vs compiled, gradients, and error classes.

Each function checks one hypothesis-drawn :class:`~.cases.Case` on one target and
raises an ``AssertionError`` subclass describing what differs.
"""
from __future__ import annotations

import zlib

import numpy as np

import unifw as uf

from . import tolerances as T
from .cases import Case, kind, map_arrays, np_dtype, to_float64
from .compare import Mismatch, check_array, check_close_arrays
from .execute import (Target, Traced, Unavailable, check_placement, invoke, outputs,
                      split_tensors, to_numpy)
from .registry import Entry


class RetraceError(AssertionError):
    """A compiled function traced again for inputs of the same shapes and dtypes."""


class WrongError(AssertionError):
    """A bad input raised no error, or not the unifw error class every backend must raise."""


# ---------------------------------------------------------------- reference side
def reference(entry: Entry, case: Case) -> tuple:
    args = map_arrays(to_float64, case.args)
    kwargs = map_arrays(to_float64, case.kwargs)
    with np.errstate(all="ignore"):
        return outputs(entry.reference(*args, **kwargs))


def expected_dtypes(entry: Entry, case: Case, dtype: str, n: int) -> tuple:
    d = entry.out_dtype(case, dtype)
    return tuple(d) if isinstance(d, (tuple, list)) else (d,) * n


def error_scale(entry: Entry, case: Case):
    """(growth, scale) for ops that accumulate terms (see :mod:`.tolerances`)."""
    if entry.accumulates is None:
        return 1.0, None
    n = entry.accumulates(case)
    absed = map_arrays(lambda a: np.abs(to_float64(a)) if a.dtype.kind in "fc" or
                       a.dtype == np_dtype("bfloat16") else a, case.args)
    kwargs = map_arrays(to_float64, case.kwargs)
    with np.errstate(all="ignore"):
        scale = outputs(entry.reference(*absed, **kwargs))
    return T.growth(n), scale


def compare_to_reference(entry: Entry, case: Case, dtype: str, got: tuple, ref: tuple,
                         label=""):
    if len(got) != len(ref):
        raise Mismatch(f"{label}{len(got)} outputs, expected {len(ref)}")
    dts = expected_dtypes(entry, case, dtype, len(ref))
    for i, (t, d) in enumerate(zip(got, dts)):
        if str(t.dtype) != d:
            raise Mismatch(f"{label}output {i}: dtype {t.dtype}, expected {d}")
    actual = [to_numpy(t) for t in got]
    growth, scale = error_scale(entry, case)
    if entry.normalize is not None:
        actual = [to_float64(a) for a in actual]
        actual = outputs(entry.normalize(np, tuple(actual), case))
        ref = outputs(entry.normalize(np, tuple(ref), case))
        scale = None
    for i, (a, r) in enumerate(zip(actual, ref)):
        d = dts[min(i, len(dts) - 1)]
        if entry.normalize is not None:
            a = _as_result_dtype(a, d)
        tol = entry.tolerance(d, T.for_dtype(d))
        s = scale[i] if scale is not None and i < len(scale) else None
        check_array(a, r, d, tol, scale=s, growth=growth, signed_zeros=entry.signed_zeros,
                    what=f"{label}output {i}" if len(ref) > 1 else f"{label}output")


def _as_result_dtype(a, d):
    """Normalized outputs are compared at their upcast precision with the tolerance of ``d``."""
    with np.errstate(all="ignore"):
        return np.asarray(a).astype(np_dtype(d))


# ---------------------------------------------------------------- values
def check_values(entry: Entry, target: Target, dtype: str, case: Case):
    """Eager result vs the float64 reference (dtype, shape, specials, values, placement)."""
    with uf.use_backend(target.backend), _device_scope(entry, target):
        args = target.convert(case.args)
        kwargs = target.convert(case.kwargs)
        got = outputs(invoke(entry, args, kwargs))
    check_placement(got, target)
    compare_to_reference(entry, case, dtype, got, reference(entry, case))


def _device_scope(entry, target):
    """Creation ops take their device from ``uf.device`` (unless the case passes device=)."""
    if entry.creation:
        return uf.device(target.device)
    import contextlib

    return contextlib.nullcontext()


def fresh_case(entry: Entry, case: Case) -> Case:
    """Same shapes and dtypes, other values: floating arrays reversed in memory order."""
    def flip(a):
        if a.dtype.kind in "fc" or a.dtype == np_dtype("bfloat16"):
            return a.reshape(-1)[::-1].reshape(a.shape).copy()
        return a

    args = tuple(a if i in entry.fixed_args else map_arrays(flip, a)
                 for i, a in enumerate(case.args))
    return Case(args, case.kwargs, case.diff, case.note)


def check_compiled(entry: Entry, target: Target, dtype: str, case: Case):
    """``uf.function`` vs eager on two calls with fresh same-shape inputs, and no retrace."""
    b = target.b
    with uf.use_backend(target.backend), _device_scope(entry, target):
        args = target.convert((case.args, case.kwargs))
        leaves, rebuild = split_tensors(args)

        def body(*new_leaves):
            a, k = rebuild(new_leaves)
            return outputs(invoke(entry, a, k))

        fn = Traced(body)
        for call, c in enumerate((case, fresh_case(entry, case))):
            if call:
                leaves, _ = split_tensors(target.convert((c.args, c.kwargs)))
            got = outputs(fn(*leaves))
            eager = outputs(invoke(entry, *rebuild(leaves)))
            label = f"compiled call {call + 1}: "
            check_placement(got, target, what=label + "output")
            compare_to_reference(entry, c, dtype, got, reference(entry, c), label=label)
            for i, (g, e) in enumerate(zip(got, eager)):
                if str(g.dtype) != str(e.dtype):
                    raise Mismatch(f"{label}output {i}: dtype {g.dtype} compiled, {e.dtype} "
                                   "eager")
                check_close_arrays(to_numpy(g), to_numpy(e),
                                   entry.tolerance(str(e.dtype), T.for_dtype(str(e.dtype))),
                                   what=f"{label}output {i} compiled vs eager")
        if b.supports_compile and fn.traces != 1:
            raise RetraceError(f"traced {fn.traces} times for two calls with the same shapes "
                               "and dtypes (expected 1)")


# ---------------------------------------------------------------- gradients
def _cotangent_rng(case: Case) -> np.random.Generator:
    """One generator per case: every backend gets the same cotangents and tangents."""
    return np.random.default_rng(zlib.crc32(repr(case).encode()))


class GradProblem:
    """The op as a real function of real parameters, on a backend and in NumPy.

    Complex arguments are split into real and imaginary parameters and complex outputs
    into real and imaginary parts, so every framework's complex convention gives the same
    real derivative. Non-floating outputs are dropped.
    """

    def __init__(self, entry: Entry, case: Case, dtype: str):
        self.entry, self.case, self.dtype = entry, case, dtype
        self.params, self.layout = [], []
        for i in case.diff:
            a = case.args[i]
            if kind(dtype) == "c" or np.iscomplexobj(a):
                self.layout.append((i, 2))
                self.params += [a.real.copy(), a.imag.copy()]
            else:
                self.layout.append((i, 1))
                self.params.append(a)

    def _assemble(self, params, xp):
        args = list(self.case.args)
        k = 0
        for i, n in self.layout:
            if n == 2:
                re, im = params[k], params[k + 1]
                if xp is np:
                    args[i] = re + 1j * im
                else:
                    c = uf.complex64 if str(re.dtype) == "float32" else uf.complex128
                    args[i] = re.astype(c) + im.astype(c) * 1j
            else:
                args[i] = params[k]
            k += n
        return args

    def _real_outputs(self, outs, xp):
        if self.entry.normalize is not None:
            outs = outputs(self.entry.normalize(xp, outs, self.case))
        res = []
        for o in outs:
            kd = o.dtype.kind if xp is np else o.dtype.kind
            if kd == "c":
                res += [xp.real(o), xp.imag(o)]
            elif kd == "f":
                res.append(o)
        return tuple(res)

    def backend_fn(self, target: Target, kwargs):
        def f(*params):
            args = self._assemble(params, uf)
            conv = target.convert(tuple(args))
            return self._real_outputs(outputs(invoke(self.entry, conv, kwargs)), uf)
        return f

    def reference_fn(self):
        kwargs = map_arrays(to_float64, self.case.kwargs)

        def f(*params):
            args = map_arrays(to_float64, self._assemble(params, np))
            with np.errstate(all="ignore"):
                outs = outputs(self.entry.reference(*args, **kwargs))
            outs = tuple(np.asarray(o) for o in outs)
            return self._real_outputs(outs, np)
        return f


def _fd_vjp(f, params, cot, step):
    """Finite-difference J^T u of a NumPy function, one central difference per element."""
    grads = []
    for p_i, p in enumerate(params):
        p64 = p.astype(np.float64)
        g = np.zeros(p64.shape)
        for j in np.ndindex(p64.shape):
            plus, minus = list(params), list(params)
            pp, pm = p64.copy(), p64.copy()
            pp[j] += step
            pm[j] -= step
            plus[p_i], minus[p_i] = pp, pm
            fp, fm = f(*[x.astype(np.float64) for x in plus]), f(
                *[x.astype(np.float64) for x in minus])
            g[j] = sum(float(np.sum(u * (a - b))) for u, a, b in zip(cot, fp, fm)) / (2 * step)
        grads.append(g)
    return grads


def _fd_jvp(f, params, tangents, step):
    p64 = [p.astype(np.float64) for p in params]
    fp = f(*[p + step * t for p, t in zip(p64, tangents)])
    fm = f(*[p - step * t for p, t in zip(p64, tangents)])
    return [(a - b) / (2 * step) for a, b in zip(fp, fm)]


def _check_grads_like(grads, primals, target, label):
    if len(grads) != len(primals):
        raise Mismatch(f"{label}: {len(grads)} gradients for {len(primals)} inputs")
    for i, (g, p) in enumerate(zip(grads, primals)):
        if g is None:
            raise Mismatch(f"{label}[{i}] is None for a differentiable input")
        check_placement([g], target, what=f"{label}[{i}]")
        if str(g.dtype) != str(p.dtype) or tuple(g.shape) != tuple(p.shape):
            raise Mismatch(f"{label}[{i}]: {g.dtype}{list(g.shape)}, expected the primal's "
                           f"{p.dtype}{list(p.shape)}")


def _grad_tol(dtype: str) -> T.Tol:
    if dtype == "float64":
        return T.GRAD_FD
    return T.for_dtype(dtype).scaled(T.GRAD_LOW_PRECISION_FACTOR)


def _compare_grad(got, ref, dtype, what):
    ref = np.asarray(ref, np.float64)
    got = np.asarray(got, np.float64)
    # derivatives are compared relative to the largest one, not elementwise
    tol = _grad_tol(dtype)
    mag = float(np.max(np.abs(ref))) if ref.size else 0.0
    check_array(got, ref, "float64", T.Tol(tol.rtol, tol.atol + tol.rtol * mag), what=what)


def check_grad(entry: Entry, target: Target, dtype: str, case: Case):
    """Analytic VJP and JVP vs finite differences of the float64 reference (and second order
    by differentiating the VJP where the entry declares it); eager or compiled."""
    prob = GradProblem(entry, case, dtype)
    if not prob.params:
        raise Unavailable("no differentiable argument in this case")
    rng = _cotangent_rng(case)
    ref_f = prob.reference_fn()
    ref_out = ref_f(*prob.params)
    cot = [rng.standard_normal(np.shape(o)) for o in ref_out]
    tangents = [rng.standard_normal(p.shape) for p in prob.params]
    fd_vjp = _fd_vjp(ref_f, prob.params, cot, T.FD_STEP)
    fd_jvp = _fd_jvp(ref_f, prob.params, tangents, T.FD_STEP)
    compiled = target.mode == "compiled"
    with uf.use_backend(target.backend):
        kwargs = target.convert(case.kwargs)
        f = prob.backend_fn(target, kwargs)
        primals = [target.tensor(p) for p in prob.params]
        out_dtypes = [str(o.dtype) for o in outputs(f(*primals))]
        u = tuple(target.tensor(c.astype(np_dtype(d))) for c, d in zip(cot, out_dtypes))
        v = tuple(target.tensor(t.astype(np_dtype(dtype))) for t in tangents)

        def vjp(*ps_and_u):
            ps, us = ps_and_u[:len(primals)], ps_and_u[len(primals):]
            _, pull = uf.vjp(f, *ps)
            return tuple(pull(tuple(us)))

        def jvp(*ps_and_v):
            ps, vs = ps_and_v[:len(primals)], ps_and_v[len(primals):]
            _, t_out = uf.jvp(f, tuple(ps), tuple(vs))
            return tuple(t_out)

        vjp_run = Traced(vjp) if compiled else vjp
        jvp_run = Traced(jvp) if compiled else jvp
        grads = vjp_run(*primals, *u)
        _check_grads_like(grads, primals, target, "gradient")
        for i, (g, r) in enumerate(zip(grads, fd_vjp)):
            _compare_grad(to_numpy(g), r, dtype, f"VJP for input {i} vs finite differences")
        jv = outputs(jvp_run(*primals, *v))
        check_placement(jv, target, what="JVP")
        for i, (t, r) in enumerate(zip(jv, fd_jvp)):
            if str(t.dtype) != out_dtypes[i]:
                raise Mismatch(f"JVP output {i}: dtype {t.dtype}, expected the output's "
                               f"{out_dtypes[i]}")
            _compare_grad(to_numpy(t), r, dtype, f"JVP output {i} vs finite differences")
        if compiled:
            _check_compiled_grads(vjp_run, vjp, primals, u, grads, dtype, target)
        if entry.grad >= 2 and dtype == "float64":
            _check_second_order(f, primals, u, rng)


def _check_compiled_grads(vjp_run, vjp, primals, u, grads, dtype, target):
    eager = vjp(*primals, *u)
    for i, (g, e) in enumerate(zip(grads, eager)):
        check_close_arrays(to_numpy(g), to_numpy(e), _grad_tol(dtype),
                           what=f"compiled vs eager gradient {i}")
    fresh = [target.tensor(to_numpy(p).reshape(-1)[::-1].reshape(p.shape).copy())
             for p in primals]
    again = vjp_run(*fresh, *u)
    for i, (g, e) in enumerate(zip(again, vjp(*fresh, *u))):
        check_close_arrays(to_numpy(g), to_numpy(e), _grad_tol(dtype),
                           what=f"compiled call 2 (fresh inputs) vs eager gradient {i}")
    if target.b.supports_compile and vjp_run.traces != 1:
        raise RetraceError(f"the gradient function traced {vjp_run.traces} times for two calls "
                           "with the same shapes (expected 1)")


def _check_second_order(f, primals, u, rng):
    """d/dx <VJP(x), w> along a random direction: analytic (grad of grad) vs finite
    differences of the analytic first derivative."""
    w = [rng.standard_normal(tuple(p.shape)) for p in primals]
    d = [rng.standard_normal(tuple(p.shape)) for p in primals]

    def inner(*ps):
        _, pull = uf.vjp(f, *ps)
        gs = pull(tuple(u))
        total = None
        for g, wi in zip(gs, w):
            term = uf.sum(g * uf.asarray(wi, device=g.device))
            total = term if total is None else total + term
        return total

    _, pull2 = uf.vjp(inner, *primals)
    hess = pull2(uf.asarray(1.0, dtype=uf.float64, device=primals[0].device))
    analytic = sum(float(np.sum(to_numpy(h) * di)) for h, di in zip(hess, d))
    step = 1e-5
    plus = inner(*[p + uf.asarray(step * di, device=p.device) for p, di in zip(primals, d)])
    minus = inner(*[p - uf.asarray(step * di, device=p.device) for p, di in zip(primals, d)])
    fd = (float(plus) - float(minus)) / (2 * step)
    if not abs(analytic - fd) <= 1e-5 + 1e-4 * abs(fd):
        raise Mismatch(f"second derivative along a random direction: analytic {analytic!r}, "
                       f"finite differences {fd!r}")


# ---------------------------------------------------------------- errors
def check_errors(entry: Entry, target: Target):
    """Each registered bad input raises the registered unifw error class (exactly)."""
    ran = 0
    for bad in entry.errors:
        try:
            with uf.use_backend(target.backend):
                args = target.convert(bad.args)
                kwargs = target.convert(bad.kwargs)
        except Unavailable:
            continue
        ran += 1
        _expect_error(entry, target, bad, args, kwargs)
    if not ran:
        raise Unavailable("no registered bad input can be built here")


def _expect_error(entry, target, bad, args, kwargs):
    want = getattr(uf, bad.error)
    try:
        with uf.use_backend(target.backend):
            if target.mode == "compiled":
                leaves, rebuild = split_tensors((args, kwargs))
                fn = uf.function(lambda *ls: outputs(invoke(entry, *rebuild(ls))))
                fn(*leaves)
            else:
                invoke(entry, args, kwargs)
    except uf.UnifwError as e:
        if type(e) is not want:
            raise WrongError(f"{bad.what}: raised {type(e).__name__} ({e}), expected "
                             f"{bad.error}") from e
        return
    except Exception as e:  # noqa: BLE001 - a framework error leaking through is the finding
        raise WrongError(f"{bad.what}: raised the framework's {type(e).__module__}."
                         f"{type(e).__name__} ({e}), expected uf.{bad.error}") from e
    raise WrongError(f"{bad.what}: no error raised, expected uf.{bad.error}")
