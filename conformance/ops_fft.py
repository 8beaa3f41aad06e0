"""Registry entries: the ``fft`` extension, against ``numpy.fft`` in complex128."""
from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

from unifw._dtypes import as_dtype

from .builders import default_bad_inputs, arrays_fixed, bad_dtype_inputs, group_dtypes, same
from .cases import Case, complex_dtype, draw_array, real_dtype, shapes
from .registry import BadInput, Entry, register

_NORMS = ["backward", "ortho", "forward"]
_BAD_N = BadInput((arrays_fixed("float32", (4,)),), "ShapeError", "a transform length n=0",
                  {"n": 0})


def _entry(name, cases, ref, out, **kw):
    from unifw._opspec import OPS

    spec = OPS[f"fft.{name}"]
    kw.setdefault("grad", spec.diff)
    kw.setdefault("signed_zeros", False)
    kw.setdefault("errors", default_bad_inputs(spec))
    dtypes = kw.pop("dtypes", None) or group_dtypes(spec.dtypes)
    return register(Entry(f"fft.{name}", cases, ref, dtypes, out, **kw))


def _to_complex(case, d):
    return complex_dtype(d)


def _to_real(case, d):
    return real_dtype(d)


def _one_axis(n_opt=True, even_default=False):
    @st.composite
    def cases(draw, d, grad):
        x = draw_array(draw, d, shapes(1, 3, 1, 5), -2, 2)
        kw = {"axis": draw(st.integers(-x.ndim, x.ndim - 1)),
              "norm": draw(st.sampled_from(_NORMS))}
        if n_opt and draw(st.booleans()):
            kw["n"] = draw(st.integers(1, 6))
        elif even_default:  # hermitian inverses need an output length of at least 1
            kw["n"] = 2 * (x.shape[kw["axis"]] - 1) or 1
        return Case((x,), kw, diff=(0,) if grad else ())
    return cases


def _axes_cases(real_out=False):
    @st.composite
    def cases(draw, d, grad):
        x = draw_array(draw, d, shapes(1, 3, 1, 4), -2, 2)
        kw = {"norm": draw(st.sampled_from(_NORMS))}
        form = draw(st.sampled_from(["default", "axes", "axes and s"]))
        if form != "default":
            k = draw(st.integers(1, x.ndim))
            axes = tuple(draw(st.permutations(range(x.ndim))))[:k]
            kw["axes"] = tuple(sorted(axes))
            if form == "axes and s":
                kw["s"] = tuple(draw(st.integers(1, 5)) for _ in kw["axes"])
        if real_out and "s" not in kw:  # irfftn: the default last length is 2 * (m - 1)
            axes = kw.get("axes", tuple(range(x.ndim)))
            m = x.shape[axes[-1]]
            if m == 1:
                kw["s"] = tuple(x.shape[a] for a in axes[:-1]) + (1,)
                kw["axes"] = axes
        return Case((x,), kw, diff=(0,) if grad else ())
    return cases


def _terms_axis(case):
    x, kw = case.args[0], case.kwargs
    return max(kw.get("n", 0) or 0, x.shape[kw["axis"]])


def _terms_axes(case):
    x, kw = case.args[0], case.kwargs
    axes = kw.get("axes", range(x.ndim))
    return int(np.prod([x.shape[a] for a in axes])) * int(np.prod(kw.get("s", (1,))))


def _ref1(f):
    def ref(x, n=None, axis=-1, norm="backward"):
        return f(x, n=n, axis=axis, norm=norm)
    return ref


def _refn(f):
    def ref(x, s=None, axes=None, norm="backward"):
        return f(x, s=s, axes=axes, norm=norm)
    return ref


_entry("fft", _one_axis(), _ref1(np.fft.fft), _to_complex, accumulates=_terms_axis,
       errors=(_BAD_N, *bad_dtype_inputs("float")))
_entry("ifft", _one_axis(), _ref1(np.fft.ifft), _to_complex, accumulates=_terms_axis,
       errors=(_BAD_N, *bad_dtype_inputs("float")))
_entry("rfft", _one_axis(), _ref1(np.fft.rfft), _to_complex, accumulates=_terms_axis,
       errors=(_BAD_N, *bad_dtype_inputs("float")))
_entry("ihfft", _one_axis(), _ref1(np.fft.ihfft), _to_complex, accumulates=_terms_axis)
_entry("irfft", _one_axis(even_default=True), _ref1(np.fft.irfft), _to_real,
       accumulates=_terms_axis)
_entry("hfft", _one_axis(even_default=True), _ref1(np.fft.hfft), _to_real,
       accumulates=_terms_axis)
_entry("fftn", _axes_cases(), _refn(np.fft.fftn), _to_complex, accumulates=_terms_axes)
_entry("ifftn", _axes_cases(), _refn(np.fft.ifftn), _to_complex, accumulates=_terms_axes)
_entry("rfftn", _axes_cases(), _refn(np.fft.rfftn), _to_complex, accumulates=_terms_axes)
_entry("irfftn", _axes_cases(real_out=True), _refn(np.fft.irfftn), _to_real,
       accumulates=_terms_axes)


@st.composite
def _freq_cases(draw, d, grad):
    kw = {"d": draw(st.sampled_from([1.0, 0.5, 2.0, 0.1]))}
    if draw(st.booleans()):
        kw["dtype"] = as_dtype(d)
    return Case((draw(st.integers(1, 9)),), kw)


def _freq_out(case, d):
    return str(case.kwargs["dtype"]) if "dtype" in case.kwargs else "float32"


for _n, _f in [("fftfreq", np.fft.fftfreq), ("rfftfreq", np.fft.rfftfreq)]:
    _entry(_n, _freq_cases, (lambda f: lambda n, d=1.0, dtype=None: f(n, d))(_f), _freq_out,
           creation=True, errors=(), dtypes=group_dtypes("real_float"))


@st.composite
def _shift_cases(draw, d, grad):
    x = draw_array(draw, d, shapes(1, 3, 1, 5))
    axes = None
    if draw(st.booleans()):
        axes = draw(st.integers(-x.ndim, x.ndim - 1))
    elif draw(st.booleans()):
        axes = tuple(sorted(set(draw(st.lists(st.integers(0, x.ndim - 1), min_size=1)))))
    return Case((x,), {"axes": axes}, diff=(0,) if grad else ())


_entry("fftshift", _shift_cases, lambda x, axes=None: np.fft.fftshift(x, axes=axes), same,
       signed_zeros=True)
_entry("ifftshift", _shift_cases, lambda x, axes=None: np.fft.ifftshift(x, axes=axes), same,
       signed_zeros=True)
