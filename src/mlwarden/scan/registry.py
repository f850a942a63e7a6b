"""The one list of format scanners: built-in ones plus the ``mlwarden.scanners`` entry points."""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache
from importlib import import_module
from importlib.metadata import entry_points

from mlwarden.errors import PluginError
from mlwarden.scan.base import Scanner

#: Built-in scanners as "module:Class", imported on first use to keep start-up fast.
BUILTIN_SCANNERS: tuple[str, ...] = (
    "mlwarden.scan.pickle_scanner:PickleScanner",
    "mlwarden.scan.archives:ZipScanner",
    "mlwarden.scan.archives:TarScanner",
    "mlwarden.scan.archives:SevenZipScanner",
    "mlwarden.scan.archives:CompressedScanner",
    "mlwarden.scan.numpy_scanner:NumpyScanner",
    "mlwarden.scan.safetensors_scanner:SafetensorsScanner",
    "mlwarden.scan.onnx_scanner:OnnxScanner",
    "mlwarden.scan.keras_scanner:KerasH5Scanner",
    "mlwarden.scan.keras_scanner:KerasConfigScanner",
    "mlwarden.scan.savedmodel_scanner:SavedModelScanner",
    "mlwarden.scan.gguf_scanner:GgufScanner",
    "mlwarden.scan.torchscript_scanner:TorchScriptCodeScanner",
)
ENTRY_POINT_GROUP = "mlwarden.scanners"


def _load(spec: str) -> Scanner:
    module_name, _, attr = spec.partition(":")
    obj = getattr(import_module(module_name), attr)
    scanner = obj() if isinstance(obj, type) else obj
    if not isinstance(scanner, Scanner):
        raise PluginError(f"{spec} does not implement the Scanner protocol (id, formats, scan)")
    return scanner


def _check_unique(scanners: Iterable[Scanner]) -> tuple[Scanner, ...]:
    seen: dict[str, Scanner] = {}
    for scanner in scanners:
        if scanner.id in seen:
            raise PluginError(f"duplicate scanner id {scanner.id!r}")
        seen[scanner.id] = scanner
    return tuple(seen.values())


@lru_cache(maxsize=1)
def all_scanners() -> tuple[Scanner, ...]:
    """Every scanner: built-ins first, then third-party entry points (duplicate ids fail)."""
    plugins = [_load(f"{ep.module}:{ep.attr}") for ep in entry_points(group=ENTRY_POINT_GROUP)]
    return _check_unique([*(_load(s) for s in BUILTIN_SCANNERS), *plugins])


def scanners_for(fmt: str) -> tuple[Scanner, ...]:
    """The scanners that handle format ``fmt``."""
    return tuple(s for s in all_scanners() if fmt in s.formats)
