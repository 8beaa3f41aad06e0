"""The per-example checks: values, eager vs compiled, gradients, and error classes.

Each function checks one hypothesis-drawn :class:`~.cases.Case` on one target and
raises an ``AssertionError`` subclass describing what differs.
"""
from __future__ import annotations

import contextlib
import zlib

import numpy as np

import unifw as uf

from . import tolerances as T
from .cases import Case, map_arrays, np_dtype, to_float64
from .compare import Mismatch, check_array, check_close_arrays
from .execute import (on, Target, Traced, Unavailable, check_placement, invoke, outputs,
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
                         label="", signed_zeros=True):
    if len(got) != len(ref):
        raise Mismatch(f"{label}{len(got)} outputs, expected {len(ref)}")
    dts = expected_dtypes(entry, case, dtype, len(ref))
    for i, (t, d) in enumerate(zip(got, dts)):
        if str(t.dtype) != d:
            raise Mismatch(f"{label}output {i}: dtype {t.dtype}, expected {d}")
    actual = [to_numpy(t) for t in got]
    names = [f"{label}output {i}" if len(ref) > 1 else f"{label}output" for i in range(len(ref))]
    if entry.normalize is not None:
        for a, r, what in zip(actual, ref, names):
            if a.shape != np.shape(r):
                raise Mismatch(f"{what}: shape {a.shape}, expected {np.shape(r)}")
        actual = outputs(entry.normalize(np, tuple(to_float64(a) for a in actual), case))
        ref = outputs(entry.normalize(np, tuple(ref), case))
        for a, r, d, what in zip(actual, ref, dts, names):
            wide = "complex128" if np.iscomplexobj(a) or np.iscomplexobj(r) else "float64"
            check_array(np.asarray(a).astype(np_dtype(wide)), r, wide,
                        entry.tolerance(d, T.for_dtype(d)), signed_zeros=False, what=what)
        return
    growth, scale = error_scale(entry, case)
    for i, (a, r, d, what) in enumerate(zip(actual, ref, dts, names)):
        tol = entry.tolerance(d, T.for_dtype(d))
        s = scale[i] if scale is not None and i < len(scale) else None
        check_array(a, r, d, tol, scale=s, growth=growth,
                    signed_zeros=entry.signed_zeros and signed_zeros, what=what)


# ---------------------------------------------------------------- values
def check_values(entry: Entry, target: Target, dtype: str, case: Case):
    """Eager result vs the float64 reference (dtype, shape, specials, values, placement)."""
    with on(target.backend), _device_scope(entry, target):
        args = target.convert(case.args)
        kwargs = target.convert(case.kwargs)
        got = outputs(invoke(entry, args, kwargs))
    check_placement(got, target)
    compare_to_reference(entry, case, dtype, got, reference(entry, case))


def _device_scope(entry, target):
    """Creation ops take their device from ``uf.device`` (unless the case passes device=)."""
    return uf.device(target.device) if entry.creation else contextlib.nullcontext()


def fresh_case(entry: Entry, case: Case) -> Case:
    """Same shapes and dtypes, other values: floating arrays reversed in memory order."""
    def flip(a):
        if a.dtype.kind in "fc" or a.dtype == np_dtype("bfloat16"):
            return a.reshape(-1)[::-1].reshape(a.shape).copy()
        return a

    args = tuple(a if i in entry.fixed_args else map_arrays(flip, a)
                 for i, a in enumerate(case.args))
    return Case(args, case.kwargs, case.diff, case.note)


class CompiledValues:
    """One eager-vs-compiled check of an op: inputs for two calls (the second with fresh
    values), a traceable :meth:`compute` and :meth:`verify` of each call's results."""

    def __init__(self, entry: Entry, target: Target, dtype: str, case: Case):
        if entry.compilable is not None and not entry.compilable(case):
            raise Unavailable("this case cannot be compiled")
        self.entry, self.target, self.dtype = entry, target, dtype
        self.cases = (case, fresh_case(entry, case))
        with on(target.backend):
            first = target.convert((case.args, case.kwargs))
            self._leaves = [split_tensors(first)[0],
                            split_tensors(target.convert((self.cases[1].args,
                                                          self.cases[1].kwargs)))[0]]
            _, self.rebuild = split_tensors(first)

    def leaves(self, call: int) -> list:
        return self._leaves[call]

    def compute(self, *leaves):
        with _device_scope(self.entry, self.target):
            return outputs(invoke(self.entry, *self.rebuild(leaves)))

    def verify(self, got, call: int):
        label = f"compiled call {call + 1}: "
        c = self.cases[call]
        got = outputs(got)
        with on(self.target.backend):
            eager = self.compute(*self.leaves(call))
        check_placement(got, self.target, what=label + "output")
        # compilers (TorchInductor, XLA) may fold -0.0 into +0.0 (expm1, atanh of -0.0):
        # the sign of zero is a requirement of eager mode only
        compare_to_reference(self.entry, c, self.dtype, got, reference(self.entry, c),
                             label=label, signed_zeros=False)
        for i, (g, e) in enumerate(zip(got, eager)):
            if str(g.dtype) != str(e.dtype):
                raise Mismatch(f"{label}output {i}: dtype {g.dtype} compiled, {e.dtype} eager")
            if self.entry.normalize is not None:
                continue  # values defined only up to the normalisation: checked above
            check_close_arrays(to_numpy(g), to_numpy(e),
                               self.entry.tolerance(str(e.dtype), T.for_dtype(str(e.dtype))),
                               what=f"{label}output {i} compiled vs eager")


def check_compiled(entry: Entry, target: Target, dtype: str, case: Case):
    """``uf.function`` vs eager on two calls with fresh same-shape inputs, and no retrace."""
    cv = CompiledValues(entry, target, dtype, case)
    with on(target.backend):
        fn = Traced(cv.compute)
        for call in (0, 1):
            cv.verify(fn(*cv.leaves(call)), call)
    if fn.retraced():
        raise RetraceError(fn.retrace_message())


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
        for where in case.diff:  # i (positional argument) or (i, j) (item j of a list argument)
            a = case.args[where] if isinstance(where, int) else case.args[where[0]][where[1]]
            if np.iscomplexobj(a):
                self.layout.append((where, 2))
                self.params += [a.real.copy(), a.imag.copy()]
            else:
                self.layout.append((where, 1))
                self.params.append(a)

    def _assemble(self, params, xp, base=None):
        src = self.case.args if base is None else base
        args = [list(a) if isinstance(a, list) else a for a in src]
        k = 0
        for where, n in self.layout:
            if n == 2:
                re, im = params[k], params[k + 1]
                if xp is np:
                    value = re + 1j * im
                else:
                    c = uf.complex64 if str(re.dtype) == "float32" else uf.complex128
                    value = re.astype(c) + im.astype(c) * 1j
            else:
                value = params[k]
            if isinstance(where, int):
                args[where] = value
            else:
                args[where[0]][where[1]] = value
            k += n
        return args

    def _real_outputs(self, outs, xp):
        if self.entry.normalize is not None:
            outs = outputs(self.entry.normalize(xp, outs, self.case))
        res = []
        for o in outs:
            kd = o.dtype.kind
            if kd == "c":
                res += [xp.real(o), xp.imag(o)]
            elif kd == "f":
                res.append(o)
        return tuple(res)

    def integer_args(self) -> list:
        """Positions of integer and bool array arguments (indices, masks): never differentiable."""
        return [i for i, a in enumerate(self.case.args)
                if isinstance(a, np.ndarray) and a.dtype.kind in "biu"]

    def backend_fn(self, target: Target, kwargs, extra=()):
        """The op on the backend as a function of the parameters, then of the arguments at
        positions ``extra`` (passed as tensors)."""
        # torch.compile traces Python itself: NumPy arrays touched while tracing become
        # constants it guards on (and its guards crash on them), so on torch the arguments are
        # converted once, here. Elsewhere they are converted in the function, as constants of
        # the trace (JAX ops that need concrete index values still get them).
        base = target.convert(tuple(self.case.args)) if target.backend == "torch" else None

        def f(*params):
            if base is None:
                conv = list(target.convert(tuple(self._assemble(params[:len(self.params)], uf))))
            else:
                conv = self._assemble(params[:len(self.params)], uf, base)
            for i, t in zip(extra, params[len(self.params):]):
                conv[i] = t
            return self._real_outputs(outputs(invoke(self.entry, tuple(conv), kwargs)), uf)
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
    check_array(got, ref, "float64", T.Tol(tol.rtol, tol.atol + tol.rtol * mag),
                signed_zeros=False, what=what)


class GradCheck:
    """One gradient check: finite-difference references computed up front, a traceable
    :meth:`compute` (VJP and JVP on the backend) and :meth:`verify` of its results."""

    def __init__(self, entry: Entry, target: Target, dtype: str, case: Case):
        self.entry, self.target, self.dtype, self.case = entry, target, dtype, case
        self.problem = prob = GradProblem(entry, case, dtype)
        if not prob.params:
            raise Unavailable("no differentiable argument in this case")
        self.rng = _cotangent_rng(case)
        ref_f = prob.reference_fn()
        ref_out = ref_f(*prob.params)
        cot = [self.rng.standard_normal(np.shape(o)) for o in ref_out]
        tangents = [self.rng.standard_normal(p.shape) for p in prob.params]
        self.fd_vjp = _fd_vjp(ref_f, prob.params, cot, T.FD_STEP)
        self.fd_jvp = _fd_jvp(ref_f, prob.params, tangents, T.FD_STEP)
        with on(target.backend):
            self.f = prob.backend_fn(target, target.convert(case.kwargs))
            self.primals = [target.tensor(p) for p in prob.params]
            self.out_dtypes = [str(o.dtype) for o in outputs(self.f(*self.primals))]
            self.u = [target.tensor(c.astype(np_dtype(d))) for c, d in zip(cot,
                                                                           self.out_dtypes)]
            self.v = [target.tensor(t.astype(np_dtype(dtype))) for t in tangents]

    def leaves(self, fresh=False) -> list:
        ps = self.primals
        if fresh:
            ps = [self.target.tensor(to_numpy(p).reshape(-1)[::-1].reshape(p.shape).copy())
                  for p in ps]
        return [*ps, *self.u, *self.v]

    def compute(self, *leaves):
        """(VJP per input, JVP per output); traceable, so it can run inside uf.function."""
        n, m = len(self.primals), len(self.u)
        ps, us, vs = leaves[:n], leaves[n:n + m], leaves[n + m:]
        _, pull = uf.vjp(self.f, *ps)
        grads = tuple(pull(tuple(us)))
        _, t_out = uf.jvp(self.f, tuple(ps), tuple(vs))
        return grads, tuple(outputs(t_out))

    def verify(self, grads, jv, label=""):
        _check_grads_like(grads, self.primals, self.target, label + "gradient")
        for i, (g, r) in enumerate(zip(grads, self.fd_vjp)):
            _compare_grad(to_numpy(g), r, self.dtype,
                          f"{label}VJP for input {i} vs finite differences")
        check_placement(jv, self.target, what=label + "JVP")
        for i, (t, r) in enumerate(zip(jv, self.fd_jvp)):
            if str(t.dtype) != self.out_dtypes[i]:
                raise Mismatch(f"{label}JVP output {i}: dtype {t.dtype}, expected the "
                               f"output's {self.out_dtypes[i]}")
            _compare_grad(to_numpy(t), r, self.dtype,
                          f"{label}JVP output {i} vs finite differences")

    def verify_against_eager(self, results, fresh, label):
        """Compiled (grads, jvp) vs the same computed eagerly."""
        with on(self.target.backend):
            eager = self.compute(*self.leaves(fresh))
        for part, got, want in (("gradient", results[0], eager[0]), ("JVP", results[1],
                                                                      eager[1])):
            for i, (g, e) in enumerate(zip(got, want)):
                if str(g.dtype) != str(e.dtype):
                    raise Mismatch(f"{label}{part} {i}: dtype {g.dtype} compiled, {e.dtype} "
                                   "eager")
                check_close_arrays(to_numpy(g), to_numpy(e), _grad_tol(self.dtype),
                                   what=f"{label}{part} {i} compiled vs eager")

    def integers_get_no_gradient(self, prob: GradProblem):
        """Integer and bool inputs (indices, masks) are primals too: their gradient is None."""
        ints = prob.integer_args()
        if not ints:
            return
        with on(self.target.backend):
            f = prob.backend_fn(self.target, self.target.convert(self.case.kwargs), ints)
            extra = [self.target.tensor(self.case.args[i]) for i in ints]
            _, pull = uf.vjp(f, *self.primals, *extra)
            grads = pull(tuple(self.u))
        for i, g in zip(ints, grads[len(self.primals):]):
            if g is not None:
                raise Mismatch(f"argument {i} ({extra[ints.index(i)].dtype}) got a gradient "
                               f"({g.dtype}{list(g.shape)}); non-differentiable inputs must "
                               "get None")

    def second_order(self):
        if self.entry.grad >= 2 and self.dtype == "float64":
            with on(self.target.backend):
                _check_second_order(self.f, self.primals, self.u, self.rng)


def check_grad(entry: Entry, target: Target, dtype: str, case: Case):
    """Analytic VJP and JVP vs finite differences of the float64 reference (and second order
    by differentiating the VJP where the entry declares it); eager or compiled."""
    g = GradCheck(entry, target, dtype, case)
    with on(target.backend):
        if target.mode != "compiled":
            g.verify(*g.compute(*g.leaves()))
            g.integers_get_no_gradient(g.problem)
            g.second_order()
            return
        fn = Traced(g.compute)
        for call, fresh in enumerate((False, True)):
            label = f"compiled call {call + 1}: "
            res = fn(*g.leaves(fresh))
            if not fresh:
                g.verify(*res, label=label)
            g.verify_against_eager(res, fresh, label)
        if fn.retraced():
            raise RetraceError("the gradient function " + fn.retrace_message())


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
            with on(target.backend):
                args = target.convert(bad.args)
                kwargs = target.convert(bad.kwargs)
        except Unavailable:
            continue
        ran += 1
        try:
            _expect_error(entry, target, bad, args, kwargs)
        except WrongError as e:
            e.example = f"{bad.what}: {Case(bad.args, bad.kwargs)!r}"
            raise
    if not ran:
        raise Unavailable("no registered bad input can be built here")


def _expect_error(entry, target, bad, args, kwargs):
    want = getattr(uf, bad.error)
    try:
        with on(target.backend):
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
