"""Keras model scanners: legacy HDF5 model configs and JSON configs (``.keras`` config.json).

Both find the model's JSON config without loading the model and hand it to
:func:`mlwarden.scan.keras_config.analyse_config`. Legacy ``.h5`` models keep the config in
the root attributes ``model_config`` and ``training_config``; they are read with h5py when
it is installed (reading attributes runs nothing) and otherwise carved out of the raw bytes.
"""

from __future__ import annotations

import importlib
import json
import re
from collections.abc import Iterator
from pathlib import PurePosixPath
from types import ModuleType
from typing import BinaryIO

from mlwarden.errors import MalformedInput, ScanLimitExceeded
from mlwarden.findings import Finding, ItemError
from mlwarden.scan.base import Artifact, ScanContext, finding
from mlwarden.scan.keras_config import analyse_config

#: Root attributes a Keras h5 loader parses as JSON.
_CONFIG_ATTRS = ("model_config", "training_config")
_CHUNK = 1024 * 1024
_OVERLAP = 64
#: Start of a serialised Keras object: ``{"class_name": ...`` (Keras 2) or ``{"module": ...``.
_CANDIDATE = re.compile(rb'\{\s*"(?:class_name|module)"\s*:')
#: A whole JSON string (unrolled loop: no backtracking blow-up), a brace, or a lone quote
#: (a string that runs past the end of the buffer).
_JSON_TOKENS = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"|[{}]|"', re.DOTALL)
_MAX_CANDIDATES = 256
_HEAD = 4096
#: Standalone JSON files above this size are parsed only if their head mentions class_name.
_FULL_PARSE_BYTES = 16 * 1024 * 1024
_KERAS_ZIP_MARKERS = frozenset({"metadata.json", "model.weights.h5"})
_TOO_DEEP = object()


class KerasH5Scanner:
    """Legacy Keras HDF5 models: the model and training configs in the root attributes."""

    id = "keras-h5"
    formats = frozenset({"hdf5"})

    def scan(self, artifact: Artifact, ctx: ScanContext) -> Iterator[Finding]:
        """Yield findings for the configs stored in an HDF5 file (none for weights-only)."""
        h5py = _import_h5py()
        configs = _read_h5_configs(h5py, artifact, ctx) if h5py is not None else None
        if configs is None:
            ctx.count("keras-h5:carved")
            configs = _carve_configs(artifact, ctx)
        for label, offset, tree in configs:
            yield from _findings(artifact, ctx, label, tree, offset)


class KerasConfigScanner:
    """Keras JSON configs: ``config.json`` of a ``.keras`` zip, or ``model.to_json()`` files."""

    id = "keras-config"
    formats = frozenset({"json"})

    def scan(self, artifact: Artifact, ctx: ScanContext) -> Iterator[Finding]:
        """Yield findings for a Keras config; other JSON (tokenizers, HF configs) yields none."""
        in_keras_zip = _is_keras_zip_config(artifact)
        data = _read_json_bytes(artifact, ctx, in_keras_zip)
        if data is None:
            return
        try:
            tree = _parse_json(data)
        except ValueError as exc:
            if in_keras_zip:
                raise MalformedInput(f"config.json is not valid JSON: {exc}") from None
            return
        if in_keras_zip or _looks_like_keras(tree):
            yield from _findings(artifact, ctx, artifact.name, tree, None)


def _import_h5py() -> ModuleType | None:
    try:
        return importlib.import_module("h5py")
    except ImportError:
        return None


def _findings(
    artifact: Artifact, ctx: ScanContext, label: str, tree: object, offset: int | None
) -> Iterator[Finding]:
    if tree is _TOO_DEEP:
        yield finding(
            "SCAN-GEN-001",
            artifact.location,
            f"{label}: config nested too deeply to analyse",
            offset=offset,
        )
        return
    ctx.count("keras:configs")
    for issue in analyse_config(tree, ctx.check_deadline):
        yield finding(
            issue.rule_id,
            artifact.location,
            f"{label}: {issue.message}",
            evidence=issue.evidence,
            severity=issue.severity,
            offset=offset,
        )


def _parse_json(data: bytes) -> object:
    """Parse JSON bytes; deep nesting gives the ``_TOO_DEEP`` marker instead of raising."""
    try:
        return json.loads(data.decode("utf-8-sig", errors="replace"))
    except RecursionError:
        return _TOO_DEEP


# --- HDF5 through h5py -----------------------------------------------------------------


def _read_h5_configs(
    h5py: ModuleType, artifact: Artifact, ctx: ScanContext
) -> list[tuple[str, int | None, object]] | None:
    """The parsed config attributes, or None when h5py cannot read the file."""
    stream: BinaryIO | None = None
    try:
        if artifact.fs_path is not None:
            texts = _h5_attr_texts(h5py, str(artifact.fs_path), ctx)
        else:
            stream = artifact.open()
            if not stream.seekable():
                return None
            texts = _h5_attr_texts(h5py, stream, ctx)
    except ScanLimitExceeded:
        raise
    except Exception as exc:  # h5py raises many types (OSError, KeyError, RuntimeError...)
        ctx.errors.append(ItemError(str(artifact.location), f"keras-h5: h5py: {exc}"))
        return None
    finally:
        if stream is not None:
            stream.close()
    return [(name, None, _parse_attr(name, text, artifact, ctx)) for name, text in texts]


def _h5_attr_texts(
    h5py: ModuleType, source: str | BinaryIO, ctx: ScanContext
) -> list[tuple[str, bytes]]:
    limit = ctx.limits.max_header_bytes
    texts: list[tuple[str, bytes]] = []
    with h5py.File(source, "r") as h5:
        for name in _CONFIG_ATTRS:
            if name not in h5.attrs:
                continue
            if h5.attrs.get_id(name).get_storage_size() > limit:
                raise ScanLimitExceeded(f"attribute {name} exceeds {limit} bytes")
            text = _attr_bytes(h5.attrs[name])
            if text is not None and len(text) > limit:
                raise ScanLimitExceeded(f"attribute {name} exceeds {limit} bytes")
            if text is not None:
                texts.append((name, text))
    return texts


def _attr_bytes(value: object) -> bytes | None:
    """Attribute values come back as bytes, str, or a one-element numpy array of either."""
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode("utf-8", errors="surrogateescape")
    size = getattr(value, "size", None)
    item = getattr(value, "item", None)
    if size == 1 and callable(item):
        return _attr_bytes(item())
    return None


def _parse_attr(name: str, text: bytes, artifact: Artifact, ctx: ScanContext) -> object:
    try:
        return _parse_json(text)
    except ValueError as exc:
        # Keras cannot load a config that is not JSON, so nothing of it runs: a note only.
        ctx.errors.append(ItemError(str(artifact.location), f"keras-h5: {name}: {exc}"))
        return None


# --- HDF5 without h5py: carve JSON objects out of the bytes ----------------------------


def _carve_configs(artifact: Artifact, ctx: ScanContext) -> list[tuple[str, int | None, object]]:
    with artifact.open() as stream:
        carver = _Carver(stream, ctx)
        return [(f"json@{offset}", offset, tree) for offset, tree in carver.objects()]


class _Carver:
    """Single pass over a stream that extracts balanced JSON objects at candidate starts."""

    def __init__(self, stream: BinaryIO, ctx: ScanContext) -> None:
        self.stream = stream
        self.ctx = ctx
        self.limit = ctx.limits.max_header_bytes
        self.buf = b""
        self.base = 0
        self.eof = False

    def objects(self) -> Iterator[tuple[int, object]]:
        pos, attempts = 0, 0
        while True:
            self.ctx.check_deadline()
            match = _CANDIDATE.search(self.buf, pos)
            if match is None:
                if self.eof:
                    return
                pos = self._advance(pos)
                continue
            attempts += 1
            if attempts > _MAX_CANDIDATES:
                raise ScanLimitExceeded(f"more than {_MAX_CANDIDATES} JSON candidates")
            start = match.start()
            end = self._object_end(start)
            tree = None if end is None else _parse_candidate(self.buf[start:end])
            if end is None or tree is None:
                pos = start + 1
                continue
            yield self.base + start, tree
            pos = end

    def _advance(self, pos: int) -> int:
        """Drop what was searched (keeping an overlap) and read the next chunk."""
        keep = max(pos, len(self.buf) - _OVERLAP)
        self.base += keep
        self.buf = self.buf[keep:]
        self._read(_CHUNK)
        return 0

    def _read(self, size: int) -> None:
        chunk = self.stream.read(size)
        self.buf += chunk
        self.eof = not chunk

    def _object_end(self, start: int) -> int | None:
        """Index just past the object's closing brace, reading more data as needed."""
        pos, depth = start, 0
        while True:
            self.ctx.check_deadline()
            end, pos, depth = _balanced_end(self.buf, pos, depth)
            if end is not None:
                return end
            if self.eof or len(self.buf) - start > self.limit:
                return None
            self._read(max(_CHUNK, len(self.buf) - start))


def _balanced_end(buf: bytes, pos: int, depth: int) -> tuple[int | None, int, int]:
    """Scan braces outside strings from ``pos``: (end or None, where to resume, depth)."""
    for match in _JSON_TOKENS.finditer(buf, pos):
        token = match.group()
        if token == b'"':  # a string not closed within the buffer: resume at its quote
            return None, match.start(), depth
        if token[0] == 0x22:
            continue
        depth += 1 if token == b"{" else -1
        if depth == 0:
            return match.end(), match.end(), depth
    return None, len(buf), depth


def _parse_candidate(data: bytes) -> object:
    try:
        return _parse_json(data)
    except ValueError:
        return None


# --- standalone JSON -------------------------------------------------------------------


def _is_keras_zip_config(artifact: Artifact) -> bool:
    if artifact.container != "zip" or PurePosixPath(artifact.name).name != "config.json":
        return False
    return any(PurePosixPath(s).name in _KERAS_ZIP_MARKERS for s in artifact.siblings)


def _read_json_bytes(artifact: Artifact, ctx: ScanContext, in_keras_zip: bool) -> bytes | None:
    """The file's bytes if it may be a Keras config, within the header-size limit."""
    limit = ctx.limits.max_header_bytes
    with artifact.open() as stream:
        head = stream.read(_HEAD)
        big = artifact.size is not None and artifact.size > _FULL_PARSE_BYTES
        if big and not in_keras_zip and b'"class_name"' not in head:
            return None
        data = head + stream.read(limit + 1 - len(head))
    if not in_keras_zip and b'"class_name"' not in data:
        return None
    if len(data) > limit:
        raise ScanLimitExceeded(f"Keras config larger than {limit} bytes")
    return data


def _looks_like_keras(tree: object) -> bool:
    return isinstance(tree, dict) and isinstance(tree.get("class_name"), str) and "config" in tree
