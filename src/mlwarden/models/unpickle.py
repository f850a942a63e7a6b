"""Restricted unpickling: only globals the scanner's policy judges safe are ever resolved.

The scan that precedes a load is the first gate; this is the second. ``find_class`` asks
:class:`~mlwarden.scan.policy.PicklePolicy` about every global the pickle names and refuses
anything not judged safe (unknown included: fail closed), so a scanner blind spot still
cannot reach ``os.system``. joblib files are unpickled with a restricted subclass of joblib's
own unpickler, which reads the raw array bytes joblib writes between pickle opcodes;
compressed joblib files are decompressed here from the scanned bytes (never re-read).
"""

from __future__ import annotations

import bz2
import inspect
import io
import lzma
import pickle
import zlib
from typing import Any

from mlwarden.models.errors import ModelLoadError, UnsafeModel
from mlwarden.scan.policy import Kind, PicklePolicy

#: Decompressed size above which a compressed pickle is refused (the scanner flags bombs).
MAX_DECOMPRESSED = 4 * 1024**3
_CHUNK = 1 << 20


def restricted_loads(
    data: bytes, policy: PicklePolicy | None = None, *, object_arrays: bool = True
) -> Any:
    """Unpickle ``data`` (plain or joblib, compressed or not), resolving only safe globals.

    Raises:
        UnsafeModel: the pickle names a global the policy does not judge safe.
        ModelLoadError: the bytes are not a loadable pickle.

    ``object_arrays=False`` refuses joblib arrays of object dtype outright (a second pickle
    inside the file) instead of unpickling them through the same restricted ``find_class``.
    """
    policy = policy or PicklePolicy()
    raw = decompress(data)
    unpickler = _unpickler_class(policy, object_arrays)
    try:
        return unpickler(io.BytesIO(raw)).load()
    except UnsafeModel:
        raise
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError) as exc:
        raise ModelLoadError(f"cannot unpickle the model: {exc}") from None
    except ImportError as exc:
        raise ModelLoadError(
            f"the model needs a package that is not installed: {exc}",
            hint="Install the library the model was saved with (e.g. scikit-learn).",
        ) from None


def decompress(data: bytes, limit: int = MAX_DECOMPRESSED) -> bytes:
    """Undo the whole-file compression joblib applies (zlib, gzip, bz2, xz, lzma, lz4)."""
    if data[:1] == b"\x78" and (data[0] * 256 + data[1]) % 31 == 0:
        return _drain(zlib.decompressobj(), data, limit)
    if data[:2] == b"\x1f\x8b":
        return _drain(zlib.decompressobj(wbits=31), data, limit)
    if data[:3] == b"BZh":
        return _drain(bz2.BZ2Decompressor(), data, limit)
    if data[:6] == b"\xfd7zXZ\x00" or data[:2] == b"\x5d\x00":
        return _drain(lzma.LZMADecompressor(), data, limit)
    if data[:4] == b"\x04\x22\x4d\x18":
        return _lz4(data, limit)
    return data


def _drain(decoder: Any, data: bytes, limit: int) -> bytes:
    # Output comes in bounded chunks so that a bomb is stopped at `limit`, not at MemoryError.
    out = bytearray(decoder.decompress(data, _CHUNK))
    while not decoder.eof:
        if len(out) > limit:
            raise ModelLoadError(f"the model decompresses to more than {limit} bytes")
        tail = getattr(decoder, "unconsumed_tail", b"")  # zlib keeps unread input here
        if getattr(decoder, "needs_input", False) and not tail:
            break
        chunk = decoder.decompress(tail, _CHUNK)
        if not chunk and not tail:
            break
        out += chunk
    if not decoder.eof:
        raise ModelLoadError("the compressed model stream is truncated")
    if len(out) > limit:
        raise ModelLoadError(f"the model decompresses to more than {limit} bytes")
    return bytes(out)


def _lz4(data: bytes, limit: int) -> bytes:
    try:
        import lz4.frame
    except ImportError:
        raise ModelLoadError(
            "the model is lz4-compressed and lz4 is not installed",
            hint="pip install lz4",
        ) from None
    out: bytes = lz4.frame.decompress(data)
    if len(out) > limit:
        raise ModelLoadError(f"the model decompresses to more than {limit} bytes")
    return out


#: Safe to scan, not to load: joblib's legacy wrapper reads a file named inside the pickle.
_NEVER_LOAD = frozenset(
    {"joblib.numpy_pickle.NDArrayWrapper", "joblib.numpy_pickle_compat.NDArrayWrapper"}
)


def check_global(policy: PicklePolicy, module: str, name: str) -> None:
    """Raise :class:`UnsafeModel` unless ``module.name`` may be resolved while loading."""
    if f"{module}.{name}" in _NEVER_LOAD:
        raise UnsafeModel(f"refusing {module}.{name}: it reads a companion file from disk")
    verdict = policy.judge(module, name)
    if verdict.kind is not Kind.SAFE:
        raise UnsafeModel(
            f"refusing to resolve the pickle global {module}.{name}: {verdict.reason} "
            f"({verdict.kind.value})"
        )


def _unpickler_class(policy: PicklePolicy, object_arrays: bool = True) -> Any:
    try:
        from joblib import numpy_pickle as jnp
    except ImportError:
        return _plain_unpickler(policy)
    init_params = inspect.signature(jnp.NumpyUnpickler.__init__).parameters
    read_params = inspect.signature(jnp.NumpyArrayWrapper.read).parameters
    inner = _plain_unpickler(policy)

    class _RestrictedJoblib(jnp.NumpyUnpickler):  # type: ignore[misc]
        dispatch = jnp.NumpyUnpickler.dispatch.copy()

        def __init__(self, stream: io.BytesIO) -> None:
            native = "ensure_native_byte_order" in init_params
            extra = {"ensure_native_byte_order": True} if native else {}
            super().__init__("", stream, **extra)

        def find_class(self, module: str, name: str) -> Any:
            check_global(policy, module, name)
            return super().find_class(module, name)

        def persistent_load(self, pid: Any) -> Any:
            raise UnsafeModel("refusing a pickle persistent id: it needs an external loader")

        def load_build(self) -> None:
            # NOTE: joblib's own BUILD hook is replaced: before joblib 1.5 it unpickled
            # object arrays with an unrestricted pickle.load, and legacy (< 0.10) wrappers
            # read companion files from disk. Here every nested pickle meets find_class.
            pickle._Unpickler.load_build(self)  # type: ignore[attr-defined]
            wrapper = self.stack[-1]
            if isinstance(wrapper, jnp.NDArrayWrapper):
                raise UnsafeModel("refusing a legacy joblib array stored in a companion file")
            if not isinstance(wrapper, jnp.NumpyArrayWrapper):
                return
            self.stack.pop()
            if wrapper.dtype.hasobject and not object_arrays:
                raise UnsafeModel("refusing a joblib array of object dtype (a nested pickle)")
            if wrapper.dtype.hasobject:
                self.stack.append(inner(self.file_handle).load())
            elif "ensure_native_byte_order" in read_params:
                self.stack.append(wrapper.read(self, True))
            else:  # pragma: no cover - joblib < 1.4
                self.stack.append(wrapper.read(self))

        dispatch[pickle.BUILD[0]] = load_build

    return _RestrictedJoblib


def plain_unpickler(policy: PicklePolicy) -> Any:
    """A :class:`pickle.Unpickler` class resolving only globals ``policy`` judges safe."""
    return _plain_unpickler(policy)


def _plain_unpickler(policy: PicklePolicy) -> Any:
    class _Restricted(pickle.Unpickler):
        def find_class(self, module: str, name: str) -> Any:
            check_global(policy, module, name)
            return super().find_class(module, name)

        def persistent_load(self, pid: Any) -> Any:
            raise UnsafeModel("refusing a pickle persistent id: it needs an external loader")

    return _Restricted
