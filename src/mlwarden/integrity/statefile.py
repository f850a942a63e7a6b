"""Reads and writes a manifest as JSON with file sizes and mtimes (``mlwarden hash`` output).

This file is a cache and a record, not a signature: nothing in it is trusted for
verification. ``mlwarden sign --state FILE`` reads it to re-hash only the files whose size or
mtime changed, then rewrites it. A state naming a file with ``..`` or an absolute path is
refused like a signed manifest would be.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from mlwarden.errors import InputError
from mlwarden.integrity.errors import HashingError
from mlwarden.integrity.manifest import (
    HASH_SIZES,
    FileState,
    Item,
    Manifest,
    Serialization,
    check_name,
)

FORMAT = "mlwarden-manifest"
VERSION = 1
_MAX_BYTES = 512 * 1024 * 1024


def manifest_to_json(manifest: Manifest) -> str:
    """The manifest as indented JSON (sizes and mtimes included when known)."""
    files: list[dict[str, Any]] = []
    for name, items in manifest.by_file().items():
        record: dict[str, Any] = {"name": name}
        state = manifest.states.get(name)
        if state is not None:
            record.update(size=state.size, mtime_ns=state.mtime_ns)
        if items[0].start is None:
            record["digest"] = items[0].digest.hex()
        else:
            record["shards"] = [[i.start, i.end, i.digest.hex()] for i in items]
        files.append(record)
    for name, state in manifest.states.items():
        if state.size == 0 and name not in manifest.by_file():
            files.append({"name": name, "size": 0, "mtime_ns": state.mtime_ns, "shards": []})
    doc = {
        "format": FORMAT,
        "version": VERSION,
        "model_name": manifest.model_name,
        "digest": "sha256:" + manifest.root_digest().hex(),
        "hashed_at_ns": manifest.hashed_at_ns,
        "serialization": manifest.serialization.to_json(),
        "files": files,
    }
    return json.dumps(doc, indent=1, ensure_ascii=False)


def manifest_from_json(text: str | bytes, source: str = "state file") -> Manifest:
    """Parse :func:`manifest_to_json` output; ``HashingError`` says what is wrong."""
    try:
        doc = json.loads(text)
        if not isinstance(doc, dict) or doc.get("format") != FORMAT:
            raise ValueError(f"not a {FORMAT} document")
        if doc.get("version") != VERSION:
            raise ValueError(f"unsupported version {doc.get('version')!r}")
        serialization = Serialization.from_json(doc.get("serialization"))
        items, states = _files(doc.get("files"), serialization)
        hashed_at = doc.get("hashed_at_ns", 0)
        return Manifest.build(
            str(doc.get("model_name", "")),
            serialization,
            items,
            states,
            hashed_at if isinstance(hashed_at, int) else 0,
        )
    except (ValueError, TypeError, KeyError, RecursionError) as exc:
        raise HashingError(f"{source} is malformed: {exc}") from None


def _files(
    records: object, serialization: Serialization
) -> tuple[list[Item], dict[str, FileState]]:
    if not isinstance(records, list):
        raise ValueError("'files' must be a list")
    size = HASH_SIZES[serialization.hash_type]
    items: list[Item] = []
    states: dict[str, FileState] = {}
    for record in records:
        name = record["name"]
        problem = check_name(name)
        if problem:
            raise ValueError(f"file name {name!r} {problem}")
        if "size" in record:
            states[name] = FileState(int(record["size"]), int(record["mtime_ns"]))
        if "digest" in record:
            items.append(Item(name, _digest(record["digest"], size)))
        else:
            for start, end, digest in record["shards"]:
                items.append(Item(name, _digest(digest, size), int(start), int(end)))
    return items, states


def _digest(text: object, size: int) -> bytes:
    if not isinstance(text, str):
        raise ValueError("digest is not a string")
    value = bytes.fromhex(text)
    if len(value) != size:
        raise ValueError("digest has the wrong length")
    return value


def read_state(path: Path) -> Manifest | None:
    """The manifest stored at ``path``, or None when the file does not exist yet."""
    try:
        if path.stat().st_size > _MAX_BYTES:
            raise HashingError(f"state file {str(path)!r} is too large")
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise HashingError(f"cannot read state file {str(path)!r}: {exc.strerror}") from None
    return manifest_from_json(data, f"state file {str(path)!r}")


def write_atomic(path: Path, text: str, mode: int = 0o644) -> None:
    """Write ``text`` to ``path`` through a temporary file and a rename."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise InputError(
            f"cannot write {str(path)!r}: {exc.strerror}",
            hint="Check that the directory exists and is writable.",
        ) from None
