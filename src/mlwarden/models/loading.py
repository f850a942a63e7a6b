"""``load_model``: a path or URL in, the right adapter out, and nothing unsafe loaded on the way.

Every file is read into memory once, scanned by the artifact scanner, and deserialised from
those same bytes, so nothing can swap it between the check and the load:

- ``.onnx`` -> :class:`OnnxClassifier` (scanned for custom ops and external-data escapes);
- pickle / joblib (plain or compressed) -> a restricted unpickler that resolves only globals
  the scanner's policy judges safe -> :class:`SklearnClassifier`;
- TorchScript -> ``torch.jit.load`` -> :class:`TorchClassifier`;
- a torch ``state_dict`` (``torch.save`` zip) or safetensors -> loaded with torch's
  ``weights_only`` unpickler into ``module_factory()`` -> :class:`TorchClassifier`;
- ``http(s)://`` -> :class:`HttpClassifier` (``/v1/...`` URLs speak the gateway protocol).
"""

from __future__ import annotations

import io
import warnings
import zipfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from mlwarden.findings import Severity
from mlwarden.models.base import Classifier
from mlwarden.models.errors import ModelLoadError
from mlwarden.models.guard import DEFAULT_REFUSE_AT, refuse_unsafe
from mlwarden.scan.policy import PicklePolicy
from mlwarden.scan.sniff import HEAD_BYTES, TAIL_BYTES, sniff

_PICKLE_FORMATS = frozenset({"pickle", "zlib", "gzip", "bz2", "xz", "lzma", "lz4"})


def load_model(
    spec: str | Path,
    *,
    allow: Iterable[str] = (),
    policy: PicklePolicy | None = None,
    refuse_at: Severity = DEFAULT_REFUSE_AT,
    module_factory: Callable[[], Any] | None = None,
    **kw: Any,
) -> Classifier:
    """Open a model file or endpoint as an adapter, refusing anything the scanner flags.

    Args:
        spec: a model file, or an ``http(s)://`` inference endpoint.
        allow: extra trusted pickle globals (``"module.name"`` / ``"module.*"``); they only
            clear globals the scanner judges *unknown*, never dangerous ones.
        policy: a full pickle policy (instead of ``allow``).
        refuse_at: scanner findings at or above this severity stop the load.
        module_factory: builds the ``torch.nn.Module`` a state_dict is loaded into.
        **kw: passed to the adapter (``input_shape``, ``n_classes``, ``clip``, ``api_key``,
            ``max_queries``, ...); TorchScript and state_dicts need ``input_shape`` and
            ``n_classes``.

    Raises:
        UnsafeModel: the scanner or the restricted unpickler refused the file.
        ModelLoadError: the file cannot be read, its format is not supported, or an
            argument the adapter needs is missing.
    """
    if isinstance(spec, str) and spec.startswith(("http://", "https://")):
        from mlwarden.models.http_adapter import HttpClassifier

        kw.setdefault("protocol", "mlwarden" if "/v1/" in spec else "oip-v2")
        return HttpClassifier(spec, **kw)
    policy = policy or PicklePolicy(frozenset(allow))
    path = Path(spec)
    formats = _sniff(path)
    if "onnx" in formats:
        from mlwarden.models.onnx_adapter import OnnxClassifier

        return OnnxClassifier(path, policy=policy, refuse_at=refuse_at, **kw)
    data = _read(path)
    # Route on the bytes that will load, not on the peek above (the file may have changed).
    formats = set(sniff(data[:HEAD_BYTES], path.name, len(data), data[-TAIL_BYTES:]))
    refuse_unsafe(data, path.name, fs_path=path.resolve(), policy=policy, refuse_at=refuse_at)
    if "zip" in formats and _is_torch_zip(data):
        return _torch_from_zip(data, module_factory, kw)
    if "safetensors" in formats:
        return _torch_from_safetensors(data, module_factory, kw)
    if formats & _PICKLE_FORMATS:
        return _sklearn_from_pickle(data, policy, kw)
    raise ModelLoadError(
        f"{path}: unsupported model format ({', '.join(sorted(formats)) or 'unrecognised'})",
        hint="Supported: ONNX, scikit-learn pickle/joblib, TorchScript, torch state_dict or "
        "safetensors (with module_factory=), and http(s):// endpoints.",
    )


def _sniff(path: Path) -> set[str]:
    try:
        with path.open("rb") as stream:
            head = stream.read(HEAD_BYTES)
            size = path.stat().st_size
            stream.seek(max(0, size - TAIL_BYTES))
            tail = stream.read(TAIL_BYTES)
    except OSError as exc:
        raise ModelLoadError(f"cannot read {path}: {exc.strerror or exc}") from None
    return set(sniff(head, path.name, size, tail))


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise ModelLoadError(f"cannot read {path}: {exc.strerror or exc}") from None


def _sklearn_from_pickle(data: bytes, policy: PicklePolicy, kw: dict[str, Any]) -> Classifier:
    from mlwarden.models.sklearn_adapter import SklearnClassifier
    from mlwarden.models.unpickle import restricted_loads

    obj = restricted_loads(data, policy)
    if not (hasattr(obj, "predict") and hasattr(obj, "classes_")):
        raise ModelLoadError(
            f"the pickle holds a {type(obj).__name__}, not a fitted classifier",
            hint="Save the fitted estimator itself (joblib.dump(model, path)).",
        )
    return SklearnClassifier(obj, **kw)


def _is_torch_zip(data: bytes) -> bool:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = archive.namelist()
    except (zipfile.BadZipFile, OSError):
        return False
    return any(n.endswith(("/data.pkl", "/constants.pkl")) for n in names)


def _is_torchscript(data: bytes) -> bool:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return any("/code/" in n or n.endswith("/constants.pkl") for n in archive.namelist())


def _torch_from_zip(
    data: bytes, module_factory: Callable[[], Any] | None, kw: dict[str, Any]
) -> Classifier:
    import torch

    _require_shape(kw)
    if _is_torchscript(data):
        try:
            with warnings.catch_warnings():
                # torch 2.9+ deprecates TorchScript; the files users ship still need loading.
                warnings.simplefilter("ignore", DeprecationWarning)
                module = torch.jit.load(io.BytesIO(data), map_location="cpu")  # type: ignore[no-untyped-call]
        except RuntimeError as exc:
            raise ModelLoadError(f"torch cannot load the TorchScript archive: {exc}") from None
        return _torch_adapter(module, kw)
    try:
        state = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises UnpicklingError, RuntimeError, ValueError, ...
        raise ModelLoadError(
            f"torch's weights-only loader refused the file: {str(exc)[:300]}",
            hint="Save a state_dict (torch.save(model.state_dict(), path)) or TorchScript, "
            "not a whole pickled module.",
        ) from None
    return _with_state(state, module_factory, kw)


def _torch_from_safetensors(
    data: bytes, module_factory: Callable[[], Any] | None, kw: dict[str, Any]
) -> Classifier:
    _require_shape(kw)
    try:
        from safetensors.torch import load as load_safetensors
    except ImportError:
        raise ModelLoadError(
            "safetensors is not installed", hint="pip install safetensors torch"
        ) from None
    state: dict[str, Any] = load_safetensors(data)
    return _with_state(state, module_factory, kw)


def _with_state(
    state: Any, module_factory: Callable[[], Any] | None, kw: dict[str, Any]
) -> Classifier:
    if module_factory is None:
        raise ModelLoadError(
            "the file holds weights only (a state_dict): the network's code is needed",
            hint="Pass module_factory= (a callable returning the untrained torch.nn.Module).",
        )
    if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
        state = state["state_dict"]
    if not isinstance(state, dict):
        raise ModelLoadError(f"expected a state_dict, found a {type(state).__name__}")
    module = module_factory()
    try:
        module.load_state_dict(state)
    except RuntimeError as exc:
        raise ModelLoadError(
            f"the weights do not fit module_factory's network: {str(exc)[:300]}"
        ) from None
    return _torch_adapter(module, kw)


def _require_shape(kw: dict[str, Any]) -> None:
    missing = [k for k in ("input_shape", "n_classes") if k not in kw]
    if missing:
        raise ModelLoadError(
            f"a torch model does not record its {' and '.join(missing)}",
            hint="Pass input_shape=(...) and n_classes=K to load_model.",
        )


def _torch_adapter(module: Any, kw: dict[str, Any]) -> Classifier:
    from mlwarden.models.torch_adapter import TorchClassifier

    return TorchClassifier(module, **kw)
