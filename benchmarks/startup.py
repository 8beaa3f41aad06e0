"""(f) Start-up: ``import unifw`` + selecting a backend + a first op, against importing
the framework alone (and Keras 3), each in a fresh pinned interpreter. Interpreter
start-up itself is excluded: the clocks (wall and process CPU time) start inside the
child before the import."""
from __future__ import annotations

import os
import subprocess
import sys

_FIRST_OP = {
    "torch": "import torch; x = torch.ones(4, 4); (x + x).numpy()",
    "tensorflow": "import tensorflow as tf; x = tf.ones((4, 4)); (x + x).numpy()",
    "jax": "import jax.numpy as jnp; x = jnp.ones((4, 4)); (x + x).block_until_ready()",
    "numpy": "import numpy as np; x = np.ones((4, 4)); x + x",
}


def _snippets(backend: str) -> dict:
    return {
        "unifw": (f"import unifw as uf; uf.set_backend({backend!r}); x = uf.ones((4, 4)); "
                  "(x + x).numpy()"),
        "native": _FIRST_OP[backend],
        "keras": ("import keras; x = keras.ops.ones((4, 4)); "
                  "keras.ops.convert_to_numpy(x + x)"),
    }


def _child_source(body: str, cpu) -> str:
    pin = f"import os; os.sched_setaffinity(0, {{{cpu}}})\n" if cpu is not None else ""
    return (f"{pin}import time\n_w0, _c0 = time.perf_counter(), time.process_time()\n{body}\n"
            "print('STARTUP_SECONDS', time.perf_counter() - _w0, time.process_time() - _c0)\n")


def measure(backend: str, env: dict, cpu, repeats: int, clock: str = "cpu") -> dict:
    """``{impl: {"median", "min", "max", "n"} or {"error"}}`` over ``repeats`` fresh processes,
    the implementations alternating."""
    import statistics

    times = {k: [] for k in _snippets(backend)}
    errors = {}
    for r in range(repeats):
        names = list(times)
        names = names[r % len(names):] + names[:r % len(names)]
        for name in names:
            if name in errors:
                continue
            src = _child_source(_snippets(backend)[name], cpu)
            p = subprocess.run([sys.executable, "-c", src], env=env, capture_output=True,
                               text=True, cwd=os.getcwd())
            line = [ln for ln in p.stdout.splitlines() if ln.startswith("STARTUP_SECONDS")]
            if p.returncode != 0 or not line:
                tail = (p.stderr.strip().splitlines() or ["?"])[-1]
                errors[name] = f"exit {p.returncode}: {tail[:200]}"
                continue
            wall, cpu_time = (float(v) for v in line[0].split()[1:3])
            times[name].append(cpu_time if clock == "cpu" else wall)
    out = {}
    for name, t in times.items():
        if name in errors:
            out[name] = {"error": errors[name]}
        else:
            out[name] = {"median": statistics.median(t), "min": min(t), "max": max(t),
                         "n": len(t)}
    return out
