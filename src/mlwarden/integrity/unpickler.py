"""Restricted unpicklers for safe_load: the model adapters' restricted unpickler, with the
integrity module's errors.

One mechanism serves both (``mlwarden.models.unpickle``): ``find_class`` asks
:class:`mlwarden.scan.policy.PicklePolicy` (the scanner's reviewed allow-list plus the
caller's ``allow`` entries) and refuses anything not judged safe; persistent ids and joblib's
legacy companion-file wrapper are refused; joblib files (compressed or not) are read by a
restricted joblib unpickler; safe_load refuses joblib object arrays altogether.
"""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import IO, Any

from mlwarden.integrity.errors import NoSafeLoaderError, Problem, UnsafeModelError
from mlwarden.models.errors import ModelLoadError, UnsafeModel
from mlwarden.models.unpickle import plain_unpickler, restricted_loads
from mlwarden.scan.policy import PicklePolicy


def _refuse(what: str) -> UnsafeModelError:
    return UnsafeModelError([Problem("INT-LOAD-002", f"refused to load: {what}")])


class RestrictedUnpickler(pickle.Unpickler):
    """A :class:`pickle.Unpickler` that resolves only allow-listed globals."""

    def __init__(self, file: IO[bytes], policy: PicklePolicy | None = None) -> None:
        super().__init__(file)
        self._inner = plain_unpickler(policy or PicklePolicy())(file)

    def load(self) -> Any:
        try:
            return self._inner.load()
        except UnsafeModel as exc:
            raise _refuse(str(exc)) from None


def load_pickle(path: Path, policy: PicklePolicy | None = None) -> Any:
    """Unpickle a file with the restricted unpickler."""
    return load_joblib(path, policy)


def load_joblib(path: Path, policy: PicklePolicy | None = None) -> Any:
    """Load a pickle or joblib file (plain or compressed), resolving only safe globals."""
    try:
        return restricted_loads(path.read_bytes(), policy, object_arrays=False)
    except UnsafeModel as exc:
        raise _refuse(str(exc)) from None
    except ModelLoadError as exc:
        if "not installed" in str(exc):
            raise NoSafeLoaderError(str(exc)) from None
        raise _refuse(f"the pickle is not loadable: {str(exc)[:200]}") from None
