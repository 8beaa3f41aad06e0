"""unifw's built-in backend plugins (installed as the ``unifw_backends`` package).

Each backend is a folder of the same modules (``core``, ``numpy``, ``linalg``,
``fft``, ``nn``, ``autodiff``, ``compile``), so an op is found in the same
place in every backend. Each registers through the ``unifw.backends`` entry
point exactly as a third-party backend would (see ``pyproject.toml``).
"""
