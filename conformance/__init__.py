"""unifw's conformance suite: proof that every backend agrees, in every mode, on every device.

Run it with ``unifw conformance --backend all`` or ``pytest --pyargs unifw_conformance``
(options in :mod:`unifw_conformance.plugin`, documentation in ``docs/conformance.md``).

Modules:

* :mod:`.registry` — one :class:`~.registry.Entry` per public op, loss and model check
  (entries in ``ops_*.py``; float64 NumPy references, ``nn_reference.py`` for the
  neural-network ops);
* :mod:`.cases`, :mod:`.builders` — hypothesis strategies of inputs;
* :mod:`.checks`, :mod:`.models` — the checks (values, compiled, gradients, errors, models,
  checkpoints), :mod:`.compare` and :mod:`.tolerances` — how results are compared;
* :mod:`.runner`, :mod:`.batch` — cells of the matrix, running them, batching compiled ones;
* :mod:`.report` — the text matrix, JSON and HTML reports; :mod:`.plugin` — pytest.
"""
from .registry import REGISTRY, Entry, load, missing_ops
from .runner import PROFILES, Cell, Result, Session, cells, run_cell

__all__ = ["REGISTRY", "Entry", "load", "missing_ops", "PROFILES", "Cell", "Result", "Session",
           "cells", "run_cell"]
