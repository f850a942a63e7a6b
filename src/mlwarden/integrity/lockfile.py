"""The approved-hash lockfile (``mlwarden.lock``, TOML): model name -> approved digest.

Each entry pins a model's root digest (SHA-256 over its per-file digests, the same value as
a model-signing bundle's subject digest) with what is needed to recompute it: the per-file
hash, sharding and ignore rules, plus where the model came from (source, pinned revision).
A model whose digest differs, or that has no entry, is refused (fail closed).
"""

from __future__ import annotations

import hmac
import json
import re
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from mlwarden.integrity.errors import LockfileError, NotApprovedError, Problem
from mlwarden.integrity.hashing import HashOptions, HashResult, hash_model
from mlwarden.integrity.manifest import HASH_SIZES, Manifest

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

LOCK_FILE = "mlwarden.lock"
VERSION = 1
_DIGEST = re.compile(r"sha256:[0-9a-f]{64}")
_KEYS = frozenset(
    {
        "digest",
        "hash",
        "shard_size",
        "ignore",
        "ignore_git",
        "files",
        "source",
        "revision",
        "approved_at",
    }
)
_HEADER = """\
# mlwarden.lock: approved model digests (OWASP ML06 supply chain, ML10 model poisoning).
# Written by `mlwarden lock add`. Review every change like code: `mlwarden verify --lock`
# and `mlwarden lock check` refuse a model whose digest is not the one approved here.
"""


@dataclass(frozen=True)
class LockEntry:
    """One approved model.

    Attributes:
        name: the model's name in the lockfile.
        digest: ``sha256:<hex>``, the root digest of the approved files.
        hash: per-file hash (``sha256``, ``blake2b``, ``blake3``); ``shard_size`` > 0 when
            files were hashed in shards.
        ignore: paths or globs left out when the digest was taken; ``ignore_git`` likewise.
        files: how many files the digest covers (informative).
        source, revision: where the model came from and the pinned revision (informative).
        approved_at: when it was approved (UTC, ISO 8601; informative).
    """

    name: str
    digest: str
    hash: str = "sha256"
    shard_size: int = 0
    ignore: tuple[str, ...] = ()
    ignore_git: bool = True
    files: int | None = None
    source: str | None = None
    revision: str | None = None
    approved_at: str | None = None

    def hash_options(self, base: HashOptions | None = None) -> HashOptions:
        """Options that recompute this entry's digest (threads and limits from ``base``)."""
        return replace(
            base or HashOptions(),
            algorithm=self.hash,
            shard_size=self.shard_size,
            ignore=self.ignore,
            ignore_git=self.ignore_git,
        )


@dataclass(frozen=True)
class Lockfile:
    """All approved models, by name."""

    entries: Mapping[str, LockEntry] = field(default_factory=dict)

    def get(self, name: str) -> LockEntry | None:
        return self.entries.get(name)

    def with_entry(self, entry: LockEntry) -> Lockfile:
        return Lockfile({**self.entries, entry.name: entry})

    def without(self, name: str) -> Lockfile:
        if name not in self.entries:
            raise LockfileError(f"no model named {name!r} in the lockfile")
        return Lockfile({k: v for k, v in self.entries.items() if k != name})

    @classmethod
    def read(cls, path: str | Path, *, missing_ok: bool = False) -> Lockfile:
        """Parse a lockfile; ``missing_ok`` turns a missing file into an empty lockfile."""
        p = Path(path)
        try:
            text = p.read_text(encoding="utf-8")
        except FileNotFoundError:
            if missing_ok:
                return cls()
            raise LockfileError(f"lockfile not found: {str(p)!r}") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise LockfileError(f"cannot read lockfile {str(p)!r}: {exc}") from None
        return cls.loads(text, str(p))

    @classmethod
    def loads(cls, text: str, source: str = LOCK_FILE) -> Lockfile:
        try:
            doc = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise LockfileError(f"{source} is not valid TOML: {exc}") from None
        if doc.get("version") != VERSION:
            raise LockfileError(f"{source}: unsupported or missing version (expected {VERSION})")
        models = doc.get("models", {})
        if not isinstance(models, dict) or set(doc) - {"version", "models"}:
            raise LockfileError(f"{source}: only 'version' and [models.NAME] tables are allowed")
        return cls({name: _entry(name, data, source) for name, data in models.items()})

    def dumps(self) -> str:
        lines = [_HEADER, f"version = {VERSION}"]
        for name in sorted(self.entries):
            lines += ["", f"[models.{_quote(name)}]", *_entry_lines(self.entries[name])]
        return "\n".join(lines) + "\n"

    def write(self, path: str | Path) -> None:
        from mlwarden.integrity.statefile import write_atomic

        write_atomic(Path(path), self.dumps())


def _entry(name: str, data: object, source: str) -> LockEntry:
    where = f"{source}: [models.{_quote(name)}]"
    if not isinstance(data, dict):
        raise LockfileError(f"{where} is not a table")
    unknown = set(data) - _KEYS
    if unknown:
        raise LockfileError(f"{where}: unknown key(s) {', '.join(sorted(unknown))}")
    digest = data.get("digest")
    if not isinstance(digest, str) or not _DIGEST.fullmatch(digest):
        raise LockfileError(f"{where}: digest must be 'sha256:' and 64 lowercase hex digits")
    try:
        entry = LockEntry(
            name=name,
            digest=digest,
            hash=_typed(data, "hash", str, "sha256"),
            shard_size=_typed(data, "shard_size", int, 0),
            ignore=tuple(_strings(data.get("ignore", []))),
            ignore_git=_typed(data, "ignore_git", bool, True),
            files=_typed(data, "files", int, None),
            source=_typed(data, "source", str, None),
            revision=_typed(data, "revision", str, None),
            approved_at=_typed(data, "approved_at", str, None),
        )
    except TypeError as exc:
        raise LockfileError(f"{where}: {exc}") from None
    if entry.hash not in HASH_SIZES or entry.shard_size < 0:
        raise LockfileError(f"{where}: unsupported hash {entry.hash!r} or negative shard_size")
    return entry


def _typed(data: Mapping[str, Any], key: str, kind: type, default: Any) -> Any:
    value = data.get(key, default)
    if value is not default and (
        not isinstance(value, kind) or (kind is int and isinstance(value, bool))
    ):
        raise TypeError(f"{key!r} must be a {kind.__name__}")
    return value


def _strings(value: object) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise LockfileError("'ignore' must be a list of strings")
    return value


def _quote(text: str) -> str:
    """A TOML basic string: JSON escapes, plus DEL, which TOML also requires escaped."""
    return json.dumps(text, ensure_ascii=False).replace("\x7f", "\\u007f")


def _entry_lines(e: LockEntry) -> list[str]:
    lines = [f"digest = {_quote(e.digest)}", f"hash = {_quote(e.hash)}"]
    if e.shard_size:
        lines.append(f"shard_size = {e.shard_size}")
    if e.ignore:
        lines.append("ignore = [" + ", ".join(_quote(p) for p in e.ignore) + "]")
    if not e.ignore_git:
        lines.append("ignore_git = false")
    if e.files is not None:
        lines.append(f"files = {e.files}")
    lines += [
        f"{k} = {_quote(v)}"
        for k, v in (("source", e.source), ("revision", e.revision), ("approved_at", e.approved_at))
        if v
    ]
    return lines


def entry_for(
    name: str,
    result: HashResult,
    options: HashOptions,
    *,
    source: str | None = None,
    revision: str | None = None,
) -> LockEntry:
    """A lock entry approving the hashed model ``result`` under ``name``."""
    now = datetime.now(timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z")
    ser = result.manifest.serialization
    return LockEntry(
        name=name,
        digest=result.digest,
        hash=ser.hash_type,
        shard_size=ser.shard_size,
        ignore=options.ignore,
        ignore_git=options.ignore_git,
        files=len(result.manifest.states) or len(result.manifest.by_file()),
        source=source,
        revision=revision,
        approved_at=now,
    )


def check_digest(entry: LockEntry, digest: str) -> None:
    """Raise :class:`NotApprovedError` unless ``digest`` is the approved one."""
    if not hmac.compare_digest(entry.digest.encode(), digest.encode()):
        raise NotApprovedError(
            [
                Problem(
                    "INT-LCK-001",
                    f"model {entry.name!r}: digest {digest[:23]}... is not the approved "
                    f"{entry.digest[:23]}...",
                    expected=entry.digest,
                    actual=digest,
                )
            ]
        )


def lookup(lock: Lockfile, name: str) -> LockEntry:
    """The entry for ``name``, or :class:`NotApprovedError` (INT-LCK-002)."""
    entry = lock.get(name)
    if entry is None:
        raise NotApprovedError(
            [Problem("INT-LCK-002", f"no approved digest for model {name!r} in the lockfile")]
        )
    return entry


def check_model(
    model: str | Path,
    lock: Lockfile,
    name: str | None = None,
    *,
    options: HashOptions | None = None,
    exclude: Iterable[str] = (),
    previous: Manifest | None = None,
) -> tuple[LockEntry, HashResult]:
    """Hash ``model`` as its lock entry says and compare with the approved digest.

    Args:
        model: the model directory or file.
        lock: the lockfile.
        name: the entry to check against (default: the model directory's name).
        options: threads and limits (the hash settings come from the entry).
        exclude: more paths to leave out (a signature file inside the model).
        previous: a manifest just computed, whose digests are reused where files match.

    Raises:
        NotApprovedError: no entry, or the digest differs.
        HashingError: the model cannot be hashed.
    """
    root = Path(model)
    entry = lookup(lock, name or root.resolve().name)
    result = hash_model(root, entry.hash_options(options), exclude=exclude, previous=previous)
    check_digest(entry, result.digest)
    return entry, result
