"""Benchmark: ``value_and_grad`` of the seeds' two-layer-net loss, unifw vs native code.

The loss is the lecture's ``y_pred = x.mm(w1).clamp(min=0).mm(w2);
loss = (y_pred - y).pow(2).sum()`` (``clamp(min=0)`` written as ``relu``)
with N=64, D_in=1000, H=100, D_out=10
(float32), differentiated w.r.t. ``w1`` and ``w2``. For every backend four
variants run in one process:

* unifw eager: ``uf.value_and_grad(loss, argnums=(0, 1))``
* unifw compiled: ``uf.function`` of the same
* native eager: torch ``autograd.grad`` / ``tf.GradientTape`` / ``jax.value_and_grad``
* native compiled: the same in ``torch.compile`` / ``tf.function`` / ``jax.jit``

Blocks of calls of the variants alternate, in an order that rotates from round to
round (so drift hits all alike). The ratio the targets apply to (compiled within
1.05x, eager within 1.3x) is the median over rounds of unifw's block time over
native code's block time in the same round; the table also gives per-call
medians over the blocks, their ratio, and the best blocks. Times are process
CPU time.

Run pinned to one core with one intra-op thread, e.g.::

    taskset -c 1 python benchmarks/bench_grad.py --backends torch,jax,tensorflow
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

# one intra-op thread everywhere (must be set before the frameworks load)
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")
os.environ.setdefault("TF_NUM_INTRAOP_THREADS", "1")
os.environ.setdefault("TF_NUM_INTEROP_THREADS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false "
                                   "intra_op_parallelism_threads=1")

import numpy as np  # noqa: E402

N, D_IN, H, D_OUT = 64, 1000, 100, 10


def make_data(seed=0):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(s).astype(np.float32) * sc
            for s, sc in [((D_IN, H), 0.03), ((H, D_OUT), 0.1), ((N, D_IN), 1.0),
                          ((N, D_OUT), 1.0)]]


# ---------------------------------------------------------------- unifw
def unifw_variants(backend, data):
    import unifw as uf

    uf.set_backend(backend)
    w1, w2, x, y = [uf.asarray(a) for a in data]

    def loss(w1, w2, x, y):
        y_pred = uf.nn.functional.relu(x @ w1) @ w2
        return uf.sum((y_pred - y) ** 2)

    eager = uf.value_and_grad(loss, argnums=(0, 1))
    compiled = uf.function(uf.value_and_grad(loss, argnums=(0, 1)))

    def run(fn):
        def call():
            v, (g1, g2) = fn(w1, w2, x, y)
            return v.native, g1.native, g2.native
        return call

    return {"unifw eager": run(eager), "unifw compiled": run(compiled)}


# ---------------------------------------------------------------- native
def torch_variants(data):
    import torch

    torch.set_num_threads(1)
    w1, w2, x, y = [torch.from_numpy(a) for a in data]
    w1.requires_grad_(True)
    w2.requires_grad_(True)

    def step(w1, w2, x, y):
        y_pred = torch.relu(x @ w1) @ w2
        loss = (y_pred - y).pow(2).sum()
        g1, g2 = torch.autograd.grad(loss, [w1, w2])
        return loss.detach(), g1, g2

    compiled = torch.compile(step)
    return {"native eager": lambda: step(w1, w2, x, y),
            "native compiled": lambda: compiled(w1, w2, x, y)}


def tensorflow_variants(data):
    import tensorflow as tf

    w1, w2, x, y = [tf.constant(a) for a in data]

    def step(w1, w2, x, y):
        with tf.GradientTape() as tape:
            tape.watch([w1, w2])
            y_pred = tf.nn.relu(x @ w1) @ w2
            loss = tf.reduce_sum((y_pred - y) ** 2)
        g1, g2 = tape.gradient(loss, [w1, w2])
        return loss, g1, g2

    compiled = tf.function(step)
    return {"native eager": lambda: step(w1, w2, x, y),
            "native compiled": lambda: compiled(w1, w2, x, y)}


def jax_variants(data):
    import jax
    import jax.numpy as jnp

    w1, w2, x, y = [jnp.asarray(a) for a in data]

    def loss(w1, w2, x, y):
        y_pred = jax.nn.relu(x @ w1) @ w2
        return jnp.sum((y_pred - y) ** 2)

    vg = jax.value_and_grad(loss, argnums=(0, 1))
    compiled = jax.jit(vg)

    def flat(fn):
        def call():
            v, (g1, g2) = fn(w1, w2, x, y)
            return v, g1, g2
        return call

    return {"native eager": flat(vg), "native compiled": flat(compiled)}


NATIVE = {"torch": torch_variants, "tensorflow": tensorflow_variants, "jax": jax_variants}


def sync(backend, outs):
    if backend == "jax":
        for o in outs:
            o.block_until_ready()
    elif backend == "tensorflow":
        for o in outs:
            o.numpy()


def check_agree(backend, variants):
    ref = [np.asarray(o.numpy() if hasattr(o, "numpy") else o) for o in
           (t.detach() if hasattr(t, "detach") else t for t in variants["native eager"]())]
    for name, fn in variants.items():
        got = [np.asarray(t.detach().numpy() if hasattr(t, "detach") else t)
               for t in fn()]
        for r, g in zip(ref, got):
            np.testing.assert_allclose(g, r, rtol=2e-3, atol=1e-3,
                                       err_msg=f"{backend} {name} disagrees with native eager")


def time_block(backend, fn, calls):
    # process CPU time: pinned to one core, it does not count time other processes hold it
    t0 = time.process_time()
    for _ in range(calls):
        outs = fn()
    sync(backend, outs)
    return (time.process_time() - t0) / calls


def bench(backend, rounds, calls, warmup):
    """Per-call times of the four variants: {name: [seconds per call, one per block]}."""
    data = make_data()
    variants = {**NATIVE[backend](data), **unifw_variants(backend, data)}
    for fn in variants.values():  # compile and warm up
        for _ in range(warmup):
            sync(backend, fn())
    check_agree(backend, variants)
    samples = {name: [] for name in variants}
    names = list(variants)
    for r in range(rounds):  # the order rotates, so no variant always follows another
        for name in names[r % len(names):] + names[:r % len(names)]:
            samples[name].append(time_block(backend, variants[name], calls))
    return samples


def paired_ratio(uni, nat):
    """Median over rounds of unifw's block time over native code's block time of the same
    round: drift between rounds, larger than the facade's cost on a shared machine,
    cancels."""
    return statistics.median(u / n for u, n in zip(uni, nat))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--backends", default="torch,jax,tensorflow")
    p.add_argument("--rounds", type=int, default=30)
    p.add_argument("--calls", type=int, default=10, help="calls per timed block")
    p.add_argument("--warmup", type=int, default=5)
    args = p.parse_args(argv)
    rows = [(b, bench(b, args.rounds, args.calls, args.warmup))
            for b in [b.strip() for b in args.backends.split(",") if b.strip()]]
    print(f"\nvalue_and_grad of the two-layer net (N={N}, D_in={D_IN}, H={H}, D_out={D_OUT}); "
          f"{args.rounds} alternating blocks of {args.calls} calls; per-call us")
    print("ratio: median over rounds of unifw/native within a round (the target applies); "
          "med ratio: ratio of the medians")
    print(f"{'backend':<11} {'mode':<9} {'native med':>10} {'unifw med':>10} {'ratio':>6} "
          f"{'med ratio':>9} {'native min':>10} {'unifw min':>10} {'target':>7}")
    ok = True
    for backend, samples in rows:
        for mode, target in (("eager", 1.3), ("compiled", 1.05)):
            nat, uni = samples[f"native {mode}"], samples[f"unifw {mode}"]
            paired = paired_ratio(uni, nat)
            med = statistics.median(uni) / statistics.median(nat)
            ok &= paired <= target
            print(f"{backend:<11} {mode:<9} {statistics.median(nat) * 1e6:>10.1f} "
                  f"{statistics.median(uni) * 1e6:>10.1f} {paired:>6.3f} {med:>9.3f} "
                  f"{min(nat) * 1e6:>10.1f} {min(uni) * 1e6:>10.1f} {'<=' + str(target):>7}"
                  f"{'' if paired <= target else '  MISS'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
