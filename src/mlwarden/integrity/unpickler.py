"""Restricted unpicklers: only globals on the reviewed allow-list may be resolved.

``find_class`` asks :class:`mlwarden.scan.policy.PicklePolicy` (the scanner's reviewed
allow-list plus the caller's ``allow`` entries) and refuses anything not judged safe, so
``os.system``, ``builtins.eval``, nested loaders and unknown globals never resolve.
Persistent ids are refused. The joblib variant reads joblib's inline NumPy arrays but
refuses object-dtype arrays (joblib would ``pickle.load`` them unrestricted) and the legacy
``NDArrayWrapper`` (which opens a file named inside the pickle).
"""

from __future__ import annotations

import pickle
import warnings
from pathlib import Path
from typing import IO, Any

from mlwarden.integrity.errors import NoSafeLoaderError, Problem, UnsafeModelError
from mlwarden.scan.policy import Kind, PicklePolicy

#: Safe to scan, not to load: these read other files by a name stored in the pickle.
_NEVER = frozenset(
    {"joblib.numpy_pickle.NDArrayWrapper", "joblib.numpy_pickle_compat.NDArrayWrapper"}
)


def _refuse(what: str) -> UnsafeModelError:
    return UnsafeModelError([Problem("INT-LOAD-002", f"refused to load: {what}")])


def _checked(policy: PicklePolicy, module: str, name: str) -> None:
    verdict = policy.judge(module, name)
    if verdict.kind is not Kind.SAFE or f"{module}.{name}" in _NEVER:
        shown = f"{module}.{name}"[:200]
        raise _refuse(f"the pickle references {shown!r} ({verdict.reason})")


class RestrictedUnpickler(pickle.Unpickler):
    """A :class:`pickle.Unpickler` that resolves only allow-listed globals."""

    def __init__(self, file: IO[bytes], policy: PicklePolicy | None = None) -> None:
        super().__init__(file)
        self.policy = policy or PicklePolicy()

    def find_class(self, module: str, name: str) -> Any:
        _checked(self.policy, module, name)
        return super().find_class(module, name)

    def persistent_load(self, pid: Any) -> Any:
        raise _refuse("the pickle uses persistent ids")


def load_pickle(path: Path, policy: PicklePolicy | None = None) -> Any:
    """Unpickle a file with :class:`RestrictedUnpickler`."""
    with path.open("rb") as f:
        try:
            return RestrictedUnpickler(f, policy).load()
        except UnsafeModelError:
            raise
        except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError) as exc:
            raise _refuse(
                f"the pickle is not loadable: {type(exc).__name__}: {str(exc)[:200]}"
            ) from None


def _joblib_unpickler(policy: PicklePolicy) -> type:
    try:
        import numpy as np
        from joblib.numpy_pickle import NumpyArrayWrapper, NumpyUnpickler
    except ImportError:
        raise NoSafeLoaderError("loading joblib files needs joblib and numpy") from None

    class _Restricted(NumpyUnpickler):  # type: ignore[misc]
        dispatch = NumpyUnpickler.dispatch.copy()

        def find_class(self, module: str, name: str) -> Any:
            _checked(policy, module, name)
            return super().find_class(module, name)

        def persistent_load(self, pid: Any) -> Any:
            raise _refuse("the pickle uses persistent ids")

        def guarded_build(self) -> None:
            inst, state = self.stack[-2], self.stack[-1]
            if isinstance(inst, NumpyArrayWrapper):
                dtype = state.get("dtype") if isinstance(state, dict) else None
                if dtype is None or np.dtype(dtype).hasobject:
                    raise _refuse("joblib array of object dtype (an unrestricted pickle)")
            NumpyUnpickler.load_build(self)

        dispatch[pickle.BUILD[0]] = guarded_build

    return _Restricted


def load_joblib(path: Path, policy: PicklePolicy | None = None) -> Any:
    """Load a joblib file (plain or compressed) with a restricted joblib unpickler."""
    policy = policy or PicklePolicy()
    cls = _joblib_unpickler(policy)
    from joblib import numpy_pickle_utils as utils

    # NOTE: joblib renamed this helper in 1.5 (_read_fileobject before).
    opener = getattr(utils, "_validate_fileobject_and_memmap", None) or getattr(
        utils, "_read_fileobject", None
    )
    if opener is None:
        raise NoSafeLoaderError("this joblib version has no compatible reader")
    with path.open("rb") as f, warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        with opener(f, str(path), None) as opened:
            stream = opened[0] if isinstance(opened, tuple) else opened
            return _load_stream(cls, path, stream)


def _load_stream(cls: type, path: Path, stream: Any) -> Any:
    if isinstance(stream, str):
        raise _refuse("joblib file written by joblib < 0.10 (reads companion files)")
    try:
        return cls(str(path), stream, False).load()
    except UnsafeModelError:
        raise
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError) as exc:
        raise _refuse(f"the file is not loadable: {type(exc).__name__}: {str(exc)[:200]}") from None
