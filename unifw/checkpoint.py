"""Checkpoints: ``uf.save`` / ``uf.load`` of modules, optimizers, schedules, EMAs.

A checkpoint is a `safetensors <https://huggingface.co/docs/safetensors>`_ file:
the tensors of every object's state protocol (``_unifw_variables()``) by
dotted name, and in the safetensors metadata a small JSON header with the
structure (object types, dtypes, shapes, step counters), the global RNG state,
the user's metadata, and a SHA-256 digest of the header and all tensor bytes.
Nothing is pickled, so loading a file runs no code.

Writes are atomic: the file is written next to the target under a temporary
name, flushed to disk and renamed over it. Loads check everything (integrity,
names, shapes, dtypes) before changing anything; a mismatch raises
:class:`~unifw.CheckpointError` listing every problem, and the target keeps its
values. Files are backend-neutral: save on one backend, load on any other.
"""
from __future__ import annotations

import hashlib
import json
import os
import tempfile

import numpy as np

from . import _dtypes
from ._tensor import Tensor
from .errors import CheckpointError
from .tree import is_stateful
from .variable import Variable

__all__ = ["save", "load", "read"]

_FORMAT = "unifw.checkpoint"
_VERSION = 1
# safetensors has no complex128: stored as float64 pairs (last axis of size 2)
_STORED_AS = {"complex128": "float64", "complex64": "complex64"}


# ---------------------------------------------------------------------- structure
def _flatten(obj, prefix: str, out: dict, types: dict):
    """Collect ``name -> Tensor`` from ``obj`` (see :func:`save` for what is accepted)."""
    if isinstance(obj, Tensor):
        out[prefix or "tensor"] = obj
    elif is_stateful(obj):
        types[prefix] = f"{type(obj).__module__}.{type(obj).__qualname__}"
        for name, var in obj._unifw_variables().items():
            out[f"{prefix}.{name}" if prefix else name] = var
    elif isinstance(obj, dict):
        for key, value in obj.items():
            if not isinstance(key, str) or not key or "." in key:
                raise TypeError(f"checkpoint dict keys must be non-empty strings without '.', "
                                f"got {key!r}")
            _flatten(value, f"{prefix}.{key}" if prefix else key, out, types)
    elif isinstance(obj, (list, tuple)):
        for i, value in enumerate(obj):
            _flatten(value, f"{prefix}.{i}" if prefix else str(i), out, types)
    else:
        raise TypeError(f"cannot checkpoint a {type(obj).__name__} at {prefix or 'top level'!r}: "
                        "pass Modules, optimizers, schedules, EMAs, Variables, tensors, or "
                        "dicts/lists of those")


def _host_array(t: Tensor) -> np.ndarray:
    a = np.asarray(t.numpy(), order="C")
    if a.dtype == np.complex128:
        a = np.asarray(a.view(np.float64).reshape(a.shape + (2,)), order="C")
    if a.dtype.byteorder == ">":
        a = a.byteswap().view(a.dtype.newbyteorder("<"))
    return a


def _digest(header_json: str, names: list, arrays: dict) -> str:
    h = hashlib.sha256(header_json.encode())
    for name in names:
        a = arrays[name]
        h.update(f"\0{name}\0{a.dtype.name}\0{a.shape}\0".encode())
        h.update(a.reshape(-1).view(np.uint8))
    return h.hexdigest()


# ---------------------------------------------------------------------- save
def save(path, obj, *, metadata: dict | None = None) -> None:
    """Write ``obj``'s state to ``path`` (a ``.safetensors`` file), atomically.

    ``obj``: a Module, optimizer, schedule, EMA, Variable or tensor, or a dict
    (or list) of those, e.g. ``{"model": model, "opt": opt}``. The global RNG
    state (:func:`unifw.random.get_state`) is saved too, and ``metadata``, any
    JSON-serialisable dict (epoch, config, metrics...), is stored in the header
    and returned by :func:`load`.
    """
    from .random import get_state

    tensors, types = {}, {}
    _flatten(obj, "", tensors, types)
    arrays, entries, counters = {}, {}, {}
    for name, t in tensors.items():
        a = _host_array(t)
        arrays[name] = a
        entries[name] = {"dtype": t.dtype.name, "shape": list(t.shape)}
        if t.ndim == 0 and t.dtype.kind in "iu":
            counters[name] = int(a)
    header = {"version": _VERSION, "backend": _backend_name(tensors), "objects": types,
              "tensors": entries, "counters": counters, "rng": get_state(),
              "metadata": metadata or {}}
    try:
        header_json = json.dumps(header, sort_keys=True)
    except TypeError as e:
        raise TypeError(f"uf.save: metadata must be JSON-serialisable ({e})") from None
    names = sorted(arrays)
    blob = _serialize(arrays, {"format": _FORMAT, "unifw": header_json,
                               "digest": _digest(header_json, names, arrays)})
    _write_atomically(os.fspath(path), blob)


def _backend_name(tensors) -> str:
    for t in tensors.values():
        return t.backend_name
    return ""


def _serialize(arrays: dict, meta: dict) -> bytes:
    from safetensors import TensorSpec, serialize

    specs = {name: TensorSpec(dtype=a.dtype.name, shape=list(a.shape),
                              data_ptr=a.ctypes.data, data_len=a.nbytes)
             for name, a in arrays.items()}
    return bytes(serialize(specs, metadata=meta))  # ``arrays`` keeps the buffers alive


def _write_atomically(path: str, blob: bytes) -> None:
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=".tmp",
                               dir=directory)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(blob)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    try:  # make the rename itself durable
        dir_fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dir_fd)
    except OSError:
        pass
    finally:
        os.close(dir_fd)


# ---------------------------------------------------------------------- read
def read(path) -> tuple[dict, dict]:
    """Read and verify a checkpoint: ``(arrays, header)`` with NumPy arrays by name.

    Raises :class:`~unifw.CheckpointError` if the file is not a unifw checkpoint,
    is truncated, or its contents do not match their digest.
    """
    from safetensors import deserialize

    path = os.fspath(path)
    try:
        with open(path, "rb") as f:
            blob = f.read()
    except OSError as e:
        raise CheckpointError(f"cannot read checkpoint {path!r}: {e}") from e
    meta = _metadata(blob, path)
    try:
        header = json.loads(meta["unifw"])
        entries = header["tensors"]
    except (KeyError, TypeError, ValueError) as e:
        raise CheckpointError(f"{path!r}: the checkpoint header is damaged ({e})") from None
    try:
        raw = dict(deserialize(blob))
    except Exception as e:
        raise CheckpointError(f"{path!r} is corrupt or truncated: {e}") from e
    if set(raw) != set(entries):
        raise CheckpointError(f"{path!r}: the tensors do not match the checkpoint header")
    arrays = {}
    for name, entry in entries.items():
        arrays[name] = _decode(name, entry, raw[name], path)
    stored = {name: _stored_view(arrays[name]) for name in arrays}
    if _digest(meta["unifw"], sorted(stored), stored) != meta.get("digest"):
        raise CheckpointError(f"{path!r} was altered or damaged: its contents do not match "
                              "the digest written with it")
    return arrays, header


def _metadata(blob: bytes, path: str) -> dict:
    """The safetensors ``__metadata__`` (parsed by hand: the header is 8 bytes of
    little-endian length, then JSON)."""
    if len(blob) < 8:
        raise CheckpointError(f"{path!r} is empty or truncated ({len(blob)} bytes)")
    n = int.from_bytes(blob[:8], "little")
    if n > len(blob) - 8:
        raise CheckpointError(f"{path!r} is truncated (header of {n} bytes, file of "
                              f"{len(blob)} bytes)")
    try:
        meta = json.loads(blob[8:8 + n])["__metadata__"]
    except (ValueError, KeyError, TypeError):
        raise CheckpointError(f"{path!r} is not a unifw checkpoint (unreadable header)") from None
    if not isinstance(meta, dict) or meta.get("format") != _FORMAT:
        raise CheckpointError(f"{path!r} is a safetensors file but not a unifw checkpoint "
                              "(use safetensors directly to read it)")
    return meta


def _decode(name, entry, raw, path) -> np.ndarray:
    try:
        dtype = _dtypes.as_dtype(entry["dtype"])
        shape = tuple(int(d) for d in entry["shape"])
        stored = _dtypes.as_dtype(_STORED_AS.get(dtype.name, dtype.name))
        stored_shape = shape + (2,) if dtype is _dtypes.complex128 else shape
        a = np.frombuffer(raw["data"], dtype=stored.numpy_dtype).reshape(stored_shape)
        if tuple(raw["shape"]) != stored_shape:
            raise ValueError("shape differs from the safetensors entry")
    except Exception as e:
        raise CheckpointError(f"{path!r}: tensor {name!r} is damaged ({e})") from None
    if dtype is _dtypes.complex128:
        a = a.view(np.complex128).reshape(shape)
    return a


def _stored_view(a: np.ndarray) -> np.ndarray:
    if a.dtype == np.complex128:
        return a.view(np.float64).reshape(a.shape + (2,))
    return a


# ---------------------------------------------------------------------- load
def load(path, obj=None, *, strict: bool = True, restore_rng: bool = True):
    """Load a checkpoint written by :func:`save` into ``obj`` (same structure), in place.

    Everything is verified first (file integrity; names, shapes and dtypes against
    ``obj``); on any problem a :class:`~unifw.CheckpointError` lists all of them and
    ``obj`` is left unchanged. ``strict=False`` tolerates entries missing on either
    side (shapes and dtypes must still match). The global RNG state is restored
    unless ``restore_rng=False``. Returns the ``metadata`` dict given to :func:`save`.

    Without ``obj``, returns the checkpoint's arrays as ``{name: np.ndarray}``.
    """
    arrays, header = read(path)
    if obj is None:
        return arrays
    targets, types = {}, {}
    _flatten(obj, "", targets, types)
    problems = _compare(arrays, header, targets, types, strict)
    if problems:
        raise CheckpointError(f"checkpoint {os.fspath(path)!r} does not match the target "
                              f"({len(problems)} problem{'s' if len(problems) > 1 else ''}); "
                              "nothing was loaded:\n  " + "\n  ".join(problems))
    values = []
    for name, var in targets.items():
        if name in arrays:
            values.append((var, _on_backend_of(var, arrays[name], name)))
    for var, value in values:
        var.assign(value)
    if restore_rng and header.get("rng") is not None:
        from .random import set_state

        set_state(header["rng"])
    return header.get("metadata", {})


def _compare(arrays, header, targets, types, strict) -> list:
    problems = []
    saved_types = header.get("objects", {})
    for prefix, kind in types.items():
        was = saved_types.get(prefix)
        if was is not None and was != kind:
            problems.append(f"{prefix or 'object'}: saved from {was.rsplit('.', 1)[-1]}, "
                            f"loading into {kind.rsplit('.', 1)[-1]}")
    entries = header["tensors"]
    for name, var in targets.items():
        if not isinstance(var, Variable):
            problems.append(f"{name}: the target is an immutable Tensor; load into a Variable")
            continue
        if name not in arrays:
            if strict:
                problems.append(f"{name}: missing from the checkpoint")
            continue
        saved = entries[name]
        if tuple(saved["shape"]) != var.shape:
            problems.append(f"{name}: shape {tuple(saved['shape'])} in the checkpoint, "
                            f"{var.shape} in the target")
        if saved["dtype"] != var.dtype.name:
            problems.append(f"{name}: dtype {saved['dtype']} in the checkpoint, "
                            f"{var.dtype} in the target")
    if strict:
        problems += _unexpected([name for name in arrays if name not in targets], targets)
    return problems


def _unexpected(names: list, targets: dict) -> list:
    """One line per unexpected tensor, or per whole object absent from the target."""
    present = {name.split(".", 1)[0] for name in targets}
    lines, absent = [], {}
    for name in names:
        top = name.split(".", 1)[0]
        if top in present or top == name:
            lines.append(f"{name}: in the checkpoint but not in the target")
        else:
            absent[top] = absent.get(top, 0) + 1
    lines += [f"{top}: in the checkpoint ({n} tensors) but not in the target"
              for top, n in absent.items()]
    return lines


def _on_backend_of(var: Variable, array: np.ndarray, name: str) -> Tensor:
    from .optim._util import tensor_like

    try:
        return tensor_like(var, array, var.dtype)
    except Exception as e:
        raise CheckpointError(f"{name}: cannot place the value on {var.backend_name} "
                              f"device {var.device}: {e}") from e
