"""Backend discovery (entry points) and selection (env var, global, context-local).

Backends are distributions that declare an entry point in the group
``unifw.backends``. The entry point names a :class:`BackendPlugin` (cheap to
import: it must not import the framework) that says which modules the backend
needs and where the real :class:`~unifw.backend_api.Backend` lives. The
framework is imported only when the backend is first used.
"""
from __future__ import annotations

import contextlib
import contextvars
import importlib
import importlib.util
import os
import threading
from dataclasses import dataclass, field

from .errors import BackendNotAvailable

ENTRY_POINT_GROUP = "unifw.backends"
DEFAULT_ORDER = ("torch", "jax", "tensorflow", "numpy")
ENV_VAR = "UNIFW_BACKEND"


@dataclass(frozen=True)
class BackendPlugin:
    """What a backend distribution registers under the ``unifw.backends`` entry point.

    name: backend name users select (``UNIFW_BACKEND=name``).
    load: ``"package.module:attribute"`` of the :class:`Backend` instance (imported lazily).
    requires: top-level modules that must be importable (checked without importing them).
    pip_extra: what to ``pip install`` to get it, shown in errors.
    """

    name: str
    load: str
    requires: tuple = ()
    pip_extra: str = ""
    description: str = field(default="", compare=False)

    def importable(self) -> bool:
        try:
            return all(importlib.util.find_spec(m) is not None for m in self.requires)
        except (ImportError, ValueError):
            return False

    def load_backend(self):
        mod, _, attr = self.load.partition(":")
        obj = importlib.import_module(mod)
        for part in attr.split(".") if attr else ():
            obj = getattr(obj, part)
        return obj() if isinstance(obj, type) else obj


_lock = threading.RLock()
_plugins: dict[str, BackendPlugin] | None = None
_loaded: dict = {}
_global_name: str | None = None
_scoped = contextvars.ContextVar("unifw_backend", default=None)


def _discover() -> dict[str, BackendPlugin]:
    global _plugins
    if _plugins is None:
        from importlib.metadata import entry_points

        found = {}
        for ep in entry_points(group=ENTRY_POINT_GROUP):
            try:
                obj = ep.load()
            except Exception:  # a broken third-party plugin must not break unifw
                continue
            if isinstance(obj, BackendPlugin):
                found.setdefault(obj.name, obj)
            else:  # entry point names a Backend object (or class) directly
                found.setdefault(ep.name, BackendPlugin(ep.name, f"{ep.value}", ()))
        _plugins = found
    return _plugins


def registered_backends() -> list[str]:
    """Names of all registered backends (entry points and :func:`register_plugin`),
    importable or not."""
    return sorted(_discover())


def available_backends() -> list[str]:
    """Names of registered backends whose framework is importable here.

    Built-in backends come first in the default order, then third-party ones.
    """
    plugins = _discover()
    names = [n for n in DEFAULT_ORDER if n in plugins]
    names += sorted(n for n in plugins if n not in DEFAULT_ORDER)
    return [n for n in names if plugins[n].importable()]


def register_plugin(plugin: BackendPlugin) -> None:
    """Register a backend without an entry point (tests, interactive use)."""
    with _lock:
        _discover()[plugin.name] = plugin
        _loaded.pop(plugin.name, None)


def unregister_plugin(name: str) -> None:
    """Forget a backend registered with :func:`register_plugin` (no-op if unknown).

    The global or scoped selection is not changed; selecting the name again raises
    :class:`BackendNotAvailable`.
    """
    with _lock:
        _discover().pop(name, None)
        _loaded.pop(name, None)


def _not_available(name: str, why: str = "") -> BackendNotAvailable:
    plugins = _discover()
    installed = available_backends()
    msg = f"backend {name!r} is not available"
    if why:
        msg += f" ({why})"
    msg += f"; installed backends: {', '.join(installed) or 'none'}"
    p = plugins.get(name)
    if p is not None and p.pip_extra:
        msg += f"; install it with: pip install '{p.pip_extra}'"
    elif p is None:
        known = ", ".join(f"{n} (pip install '{q.pip_extra}')" for n, q in sorted(plugins.items())
                          if q.pip_extra)
        msg += f"; registered backends: {known}"
    return BackendNotAvailable(msg)


def load_backend(name: str):
    """Return the loaded :class:`Backend` called ``name`` (importing its framework once)."""
    b = _loaded.get(name)
    if b is not None:
        return b
    with _lock:
        b = _loaded.get(name)
        if b is not None:
            return b
        plugins = _discover()
        p = plugins.get(name)
        if p is None:
            raise _not_available(name, "unknown backend name")
        if not p.importable():
            raise _not_available(name, f"requires {', '.join(p.requires)}")
        try:
            b = p.load_backend()
        except ImportError as e:
            raise _not_available(name, f"import failed: {e}") from e
        b.name = name
        _loaded[name] = b
        return b


def _default_name() -> str:
    env = os.environ.get(ENV_VAR, "").strip()
    if env:
        return env
    avail = available_backends()
    for n in DEFAULT_ORDER:
        if n in avail:
            return n
    if avail:
        return avail[0]
    raise _not_available("<default>", "no backend framework is installed")


def backend() -> str:
    """Name of the active backend: ``"torch"``, ``"tensorflow"``, ``"jax"``, ``"numpy"``..."""
    return active().name


def active():
    """The active :class:`Backend` object (context-local choice, else process-wide)."""
    # The ContextVar is read only while some use_backend block is open: torch.compile cannot
    # trace ContextVar.get (a graph break in every creation op), but it can a module global.
    if _scopes_open:
        b = _scoped.get()
        if b is not None:
            return b
    b = _global_backend
    if b is not None:
        return b
    return _init_global()


_global_backend = None
_scopes_open = 0  # use_backend blocks open in any thread or task


def _init_global():
    global _global_backend, _global_name
    with _lock:
        if _global_backend is None:
            _global_name = _default_name()
            _global_backend = load_backend(_global_name)
        return _global_backend


def set_backend(name: str) -> None:
    """Select the backend for the whole process (all threads, outside ``use_backend``)."""
    global _global_backend, _global_name
    b = load_backend(name)
    with _lock:
        _global_backend, _global_name = b, name


@contextlib.contextmanager
def use_backend(name: str):
    """Use backend ``name`` inside the ``with`` block (context-local: threads and
    asyncio tasks keep their own choice); the previous one is restored on exit."""
    global _scopes_open
    b = load_backend(name)
    with _lock:
        _scopes_open += 1
    token = _scoped.set(b)
    try:
        yield b
    finally:
        _scoped.reset(token)
        with _lock:
            _scopes_open -= 1


def get_backend(name: str | None = None):
    """The :class:`Backend` object called ``name`` (the active one if None)."""
    return active() if name is None else load_backend(name)
