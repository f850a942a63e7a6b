"""The manifest: every file (or file shard) of a model paired with its digest.

Names, order and digests follow the OpenSSF model-signing v1.0 predicate, so a manifest
turns into a signed statement that ``model_signing`` verifies, and back. Names are POSIX
paths relative to the model root (``"."`` when the model is a single file); shards are named
``path:start:end``. Items are ordered by path components, then offsets, and the model's root
digest is SHA-256 over the item digests in that order (the statement's subject digest).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from mlwarden.integrity.errors import Problem

#: Digest size in bytes of each supported per-file hash.
HASH_SIZES: Mapping[str, int] = {"sha256": 32, "blake2b": 64, "blake3": 32}
FILES, SHARDS = "files", "shards"
#: Name of the single item when the model is one file (as model_signing names it).
SINGLE_FILE = "."


def check_name(name: object, *, single_file_ok: bool = True) -> str | None:
    """Why ``name`` is not a safe relative model path, or ``None`` when it is."""
    if not isinstance(name, str) or not name:
        return "empty or not a string"
    if name == SINGLE_FILE:
        return None if single_file_ok else "'.' is only valid for a single-file model"
    if "\x00" in name:
        return "contains a NUL character"
    if name.startswith("/"):
        return "is an absolute path"
    parts = name.split("/")
    if any(part in ("", ".", "..") for part in parts):
        return "has an empty, '.' or '..' component"
    return None


def name_order(name: str) -> tuple[str, ...]:
    """Sort key of a path: by components, as model_signing orders its resources."""
    return tuple(name.split("/"))


@dataclass(frozen=True)
class Serialization:
    """How a manifest was computed; recorded in (and read back from) the signature.

    Attributes:
        method: ``"files"`` (one digest per file) or ``"shards"`` (one per ``shard_size``
            bytes of each file, so one large file hashes in parallel).
        hash_type: ``"sha256"`` (default, the only one the model_signing CLI verifies),
            ``"blake2b"`` or ``"blake3"``.
        shard_size: bytes per shard (shards only).
        allow_symlinks: whether symbolic links were followed.
        ignore_paths: relative paths (files or directories) excluded from the manifest.
    """

    method: str = FILES
    hash_type: str = "sha256"
    shard_size: int = 0
    allow_symlinks: bool = False
    ignore_paths: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.method not in (FILES, SHARDS):
            raise ValueError(f"unknown serialization method {self.method!r}")
        if self.hash_type not in HASH_SIZES:
            raise ValueError(f"unsupported hash {self.hash_type!r}")
        if (self.method == SHARDS) != (self.shard_size > 0):
            raise ValueError("a positive shard_size goes with method 'shards' only")

    @property
    def item_algorithm(self) -> str:
        """The algorithm name each resource carries in the statement."""
        if self.method == SHARDS:
            return f"{self.hash_type}-sharded-{self.shard_size}"
        return self.hash_type

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"method": self.method, "hash_type": self.hash_type}
        if self.method == SHARDS:
            out["shard_size"] = self.shard_size
        out["allow_symlinks"] = self.allow_symlinks
        if self.ignore_paths:
            out["ignore_paths"] = list(self.ignore_paths)
        return out

    @classmethod
    def from_json(cls, data: object) -> Serialization:
        """Parse the ``serialization`` object of a statement; ``ValueError`` says what is wrong."""
        if not isinstance(data, dict):
            raise ValueError("'serialization' is not an object")
        method, hash_type = data.get("method"), data.get("hash_type")
        symlinks = data.get("allow_symlinks", False)
        ignore = data.get("ignore_paths", [])
        if not isinstance(method, str) or not isinstance(hash_type, str):
            raise ValueError("'method' and 'hash_type' must be strings")
        if not isinstance(symlinks, bool):
            raise ValueError("'allow_symlinks' must be a boolean")
        if not isinstance(ignore, list) or not all(isinstance(p, str) for p in ignore):
            raise ValueError("'ignore_paths' must be a list of strings")
        size = _shard_size(data.get("shard_size")) if method == SHARDS else 0
        return cls(method, hash_type, size, symlinks, tuple(ignore))


def _shard_size(value: object) -> int:
    # NOTE: model_signing writes the size through a protobuf Struct, i.e. as a float (1e9).
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise ValueError("'shard_size' must be a positive integer")
    return value


@dataclass(frozen=True)
class Item:
    """One file, or one shard ``[start, end)`` of a file, with its digest."""

    name: str
    digest: bytes
    start: int | None = None
    end: int | None = None

    @property
    def key(self) -> str:
        """The resource name in the statement."""
        return self.name if self.start is None else f"{self.name}:{self.start}:{self.end}"

    @property
    def order(self) -> tuple[tuple[str, ...], int, int]:
        return (name_order(self.name), self.start or 0, self.end or 0)


@dataclass(frozen=True)
class FileState:
    """Size and modification time of a file when it was hashed (for incremental hashing)."""

    size: int
    mtime_ns: int


@dataclass(frozen=True)
class Manifest:
    """A model's items and how they were computed.

    Attributes:
        model_name: informative only (the directory name); never part of a comparison.
        serialization: the hashing method, recorded in signatures.
        items: sorted items; :meth:`build` sorts and checks them.
        states: size/mtime per file name when known (not signed; incremental hashing).
        hashed_at_ns: when the files were listed (not signed; incremental hashing).
    """

    model_name: str
    serialization: Serialization
    items: tuple[Item, ...]
    states: Mapping[str, FileState] = field(default_factory=dict, compare=False)
    hashed_at_ns: int = field(default=0, compare=False)

    @classmethod
    def build(
        cls,
        model_name: str,
        serialization: Serialization,
        items: Iterable[Item],
        states: Mapping[str, FileState] | None = None,
        hashed_at_ns: int = 0,
    ) -> Manifest:
        """A manifest with items in canonical order; duplicate keys raise ``ValueError``."""
        ordered = tuple(sorted(items, key=lambda i: i.order))
        keys = [i.key for i in ordered]
        if len(set(keys)) != len(keys):
            raise ValueError("duplicate resource names in the manifest")
        return cls(model_name, serialization, ordered, dict(states or {}), hashed_at_ns)

    def root_digest(self) -> bytes:
        """SHA-256 over the item digests in order: the statement's subject digest."""
        hasher = hashlib.sha256()
        for item in self.items:
            hasher.update(item.digest)
        return hasher.digest()

    def by_file(self) -> dict[str, tuple[Item, ...]]:
        """Items grouped by file name (one item per file, or its shards in order)."""
        out: dict[str, list[Item]] = {}
        for item in self.items:
            out.setdefault(item.name, []).append(item)
        return {name: tuple(group) for name, group in out.items()}


def compare(expected: Manifest, actual: Manifest, *, allow_extra: bool = False) -> list[Problem]:
    """What differs between a signed manifest and the model's, file by file.

    Shards of one file are judged together, so a resized file is one "changed" problem.
    Digests are compared in constant time.
    """
    want, have = expected.by_file(), actual.by_file()
    problems: list[Problem] = []
    for name in sorted(want.keys() | have.keys(), key=name_order):
        if name not in have:
            problems.append(Problem("INT-VER-002", f"missing file: {name!r}", name))
        elif name not in want:
            if not allow_extra:
                problems.append(
                    Problem("INT-VER-003", f"file not in the signature: {name!r}", name)
                )
        elif not _same(want[name], have[name]):
            problems.append(_changed(name, want[name], have[name]))
    return problems


def _same(a: Sequence[Item], b: Sequence[Item]) -> bool:
    if [(i.start, i.end) for i in a] != [(i.start, i.end) for i in b]:
        return False
    return all(hmac.compare_digest(x.digest, y.digest) for x, y in zip(a, b, strict=True))


def _changed(name: str, want: Sequence[Item], have: Sequence[Item]) -> Problem:
    expected, actual = _describe(want), _describe(have)
    return Problem(
        "INT-VER-001", f"changed file: {name!r} ({expected} -> {actual})", name, expected, actual
    )


def _describe(items: Sequence[Item]) -> str:
    if len(items) == 1 and items[0].start is None:
        return items[0].digest.hex()[:16]
    size = items[-1].end if items else 0
    return (
        f"{len(items)} shard(s), {size} bytes, first {items[0].digest.hex()[:12] if items else '-'}"
    )


def with_ignored(serialization: Serialization, extra: Iterable[str]) -> Serialization:
    """The same serialization with more ignored paths (deduplicated, order kept)."""
    merged = list(dict.fromkeys([*serialization.ignore_paths, *extra]))
    return Serialization(
        serialization.method,
        serialization.hash_type,
        serialization.shard_size,
        serialization.allow_symlinks,
        tuple(merged),
    )
