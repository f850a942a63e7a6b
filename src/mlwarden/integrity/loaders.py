"""Loaders that cannot execute code from the file, chosen by the bytes (not the extension).

safetensors, NumPy without pickle, torch with ``weights_only=True``, ONNX (parsed, never
run), skops with only allow-listed types trusted, and pickles/joblib through the restricted
unpickler. Formats whose loading runs the file's code (TorchScript, Keras Lambda layers,
MLflow custom pyfunc) are refused. Frameworks are imported here, only when used.
"""

from __future__ import annotations

import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from mlwarden.integrity.errors import NoSafeLoaderError, Problem, UnsafeModelError
from mlwarden.integrity.unpickler import load_joblib, load_pickle
from mlwarden.scan.policy import Kind, PicklePolicy
from mlwarden.scan.sniff import read_head_tail, sniff

#: Pickle protocol 2 + the 10-byte LONG1 magic number that legacy torch.save files start with.
_TORCH_LEGACY = bytes.fromhex("80028a0a6cfc9c46f9206aa85019")
_COMPRESSED = frozenset({"zlib", "gzip", "bz2", "xz", "lzma"})
#: What each refused format would do on load.
_RUNS_CODE = {
    "torchscript": "TorchScript archives run their code when loaded",
    "keras": "Keras models may rebuild Lambda layers from bytecode; re-export the weights",
}


def detect(path: Path) -> str:
    """The loader kind for a file: ``safetensors``, ``npy``, ``npz``, ``torch``, ``onnx``,
    ``skops``, ``pickle``, ``joblib``, or a refused/unknown kind."""
    with path.open("rb") as f:
        head, tail = read_head_tail(f, path.stat().st_size)
    formats = sniff(head, path.name, path.stat().st_size, tail)
    if "zip" in formats:
        return _zip_kind(path)
    if "pickle" in formats:
        return "torch" if head.startswith(_TORCH_LEGACY) else "pickle"
    if _COMPRESSED & set(formats):
        return "joblib"
    for kind in ("safetensors", "npy", "onnx", "gguf", "hdf5", "tf-savedmodel"):
        if kind in formats:
            return kind
    return formats[0] if formats else "unknown"


def _zip_kind(path: Path) -> str:
    try:
        with zipfile.ZipFile(path) as z:
            names = z.namelist()
    except (zipfile.BadZipFile, OSError, ValueError):
        return "zip"
    bases = {n.rsplit("/", 1)[-1] for n in names}
    if any("/code/" in f"/{n}" for n in names) or "constants.pkl" in bases:
        return "torchscript"
    if "data.pkl" in bases:
        return "torch"
    if "schema.json" in names:
        return "skops"
    if "config.json" in names and any(n.endswith(".weights.h5") for n in names):
        return "keras"
    if names and all(n.endswith(".npy") for n in names):
        return "npz"
    return "zip"


def _safetensors(path: Path, framework: str, device: str) -> Any:
    if framework == "pt":
        from safetensors.torch import load_file as load_pt

        return load_pt(str(path), device=device)
    from safetensors.numpy import load_file

    return load_file(str(path))


def _npy(path: Path) -> Any:
    import numpy as np

    return np.load(path, allow_pickle=False)


def _npz(path: Path) -> Any:
    import numpy as np

    with np.load(path, allow_pickle=False) as archive:
        return {name: archive[name] for name in archive.files}


def _torch(path: Path, device: str) -> Any:
    import pickle

    import torch

    try:
        return torch.load(path, weights_only=True, map_location=device)
    except pickle.UnpicklingError as exc:
        first = str(exc).strip().splitlines()[0][:240] if str(exc).strip() else "refused"
        raise UnsafeModelError(
            [
                Problem(
                    "INT-LOAD-002",
                    "torch.load(weights_only=True) refused the file (a pickled module or "
                    f"class, not a state_dict): {first}",
                )
            ]
        ) from None


def _onnx(path: Path) -> Any:
    import onnx

    return onnx.load(str(path), load_external_data=True)


def _skops(path: Path, policy: PicklePolicy) -> Any:
    try:
        from skops.io import get_untrusted_types, load
    except ImportError:
        raise NoSafeLoaderError(
            "loading skops files needs skops", hint="pip install skops"
        ) from None
    untrusted = get_untrusted_types(file=str(path))
    refused = [t for t in untrusted if not _allowed_type(policy, t)]
    if refused:
        raise UnsafeModelError(
            [
                Problem(
                    "INT-LOAD-002",
                    f"skops file needs types off the allow-list: {', '.join(refused[:10])}",
                )
            ]
        )
    return load(str(path), trusted=untrusted)


def _allowed_type(policy: PicklePolicy, dotted: str) -> bool:
    module, _, name = dotted.rpartition(".")
    return bool(module) and policy.judge(module, name).kind is Kind.SAFE


def loader_for(
    kind: str, *, framework: str, device: str, policy: PicklePolicy
) -> Callable[[Path], Any]:
    """The loader function for ``kind``.

    Raises:
        UnsafeModelError: the format runs code when loaded (INT-LOAD-002).
        NoSafeLoaderError: no code-free loader for this format.
    """
    table: dict[str, Callable[[Path], Any]] = {
        "safetensors": lambda p: _safetensors(p, framework, device),
        "npy": _npy,
        "npz": _npz,
        "torch": lambda p: _torch(p, device),
        "onnx": _onnx,
        "skops": lambda p: _skops(p, policy),
        "pickle": lambda p: _pickle(p, policy),
        "joblib": lambda p: load_joblib(p, policy),
    }
    if kind in _RUNS_CODE:
        raise UnsafeModelError([Problem("INT-LOAD-002", f"refused: {_RUNS_CODE[kind]}")])
    if kind not in table:
        raise NoSafeLoaderError(
            f"no code-free loader for format {kind!r}; supported: {', '.join(sorted(table))}"
        )
    return table[kind]


def _pickle(path: Path, policy: PicklePolicy) -> Any:
    try:
        import joblib  # noqa: F401  - joblib's unpickler also reads its inline arrays
    except ImportError:
        return load_pickle(path, policy)
    return load_joblib(path, policy)


def load_file(
    path: Path,
    *,
    framework: str = "numpy",
    device: str = "cpu",
    policy: PicklePolicy | None = None,
    kind: str | None = None,
) -> tuple[str, Any]:
    """Detect the format of ``path`` and load it without running code from it."""
    kind = kind or detect(path)
    loader = loader_for(kind, framework=framework, device=device, policy=policy or PicklePolicy())
    return kind, loader(path)
