"""unifw benchmark suite: unifw against native framework code and Keras 3.

Run ``python -m benchmarks.run --help``; the method and this machine's numbers
are in ``docs/benchmarks.md``.
"""
