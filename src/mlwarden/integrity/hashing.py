"""Hashes a model's files in parallel into a :class:`~mlwarden.integrity.manifest.Manifest`.

Work is split into tasks (a whole file, or one shard of a file) run on a thread pool,
largest first: ``hashlib`` and ``blake3`` release the GIL on large buffers, so threads use
every core without processes. Files are read with large buffers through a descriptor opened
without following links, and a file whose size changes while it is hashed is an error.
Incremental hashing reuses a previous manifest's digests for files whose size and mtime
did not change (never for files modified within :data:`RACY_NS` of that manifest).
"""

from __future__ import annotations

import hashlib
import os
import stat
import threading
import time
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from mlwarden.integrity.errors import HashingError
from mlwarden.integrity.manifest import (
    FILES,
    HASH_SIZES,
    SHARDS,
    FileState,
    Item,
    Manifest,
    Serialization,
)
from mlwarden.integrity.walk import GIT_PATHS, FileEntry, IgnoreRules, Listing, list_model

_MiB = 1024 * 1024
_BUFFER = 4 * _MiB
#: Files modified this close to (or after) a previous manifest's time are always re-hashed:
#: a same-size rewrite within one timestamp tick would otherwise look unchanged.
RACY_NS = 2_000_000_000
_local = threading.local()


class _Hasher(Protocol):
    def update(self, data: Any, /) -> object: ...
    def digest(self) -> bytes: ...


@dataclass(frozen=True)
class HashOptions:
    """How to hash a model.

    Attributes:
        algorithm: ``"sha256"`` (default), ``"blake2b"`` or ``"blake3"`` (extra ``blake3``).
        shard_size: 0 for one digest per file (what the model_signing CLI verifies), or the
            shard size in bytes to hash large files in parallel pieces.
        ignore: relative paths or glob patterns left out of the manifest.
        ignore_git: leave out ``.git``, ``.github``, ``.gitignore``, ``.gitattributes``.
        allow_symlinks: follow links to files (refused by default).
        workers: threads; 0 = one per core.
        max_files: refuse models with more files than this.
    """

    algorithm: str = "sha256"
    shard_size: int = 0
    ignore: tuple[str, ...] = ()
    ignore_git: bool = True
    allow_symlinks: bool = False
    workers: int = 0
    max_files: int = 1_000_000

    def rules(self, extra: Iterable[str] = ()) -> IgnoreRules:
        git = GIT_PATHS if self.ignore_git else ()
        return IgnoreRules.of([*git, *self.ignore, *extra])

    def serialization(self, ignored: Iterable[str] = ()) -> Serialization:
        """The serialization these options produce, recording ``ignored`` paths."""
        if self.algorithm not in HASH_SIZES:
            raise HashingError(f"unsupported hash algorithm {self.algorithm!r}")
        if self.shard_size < 0:
            raise HashingError("shard_size must be 0 (per file) or positive")
        method = SHARDS if self.shard_size else FILES
        return Serialization(
            method, self.algorithm, self.shard_size, self.allow_symlinks, tuple(ignored)
        )


@dataclass(frozen=True)
class HashStats:
    """What one hashing run did: files listed, re-hashed, reused, taken as given, bytes read."""

    files: int
    hashed: int
    reused: int
    precomputed: int
    bytes_hashed: int
    seconds: float


@dataclass(frozen=True)
class HashResult:
    manifest: Manifest
    stats: HashStats

    @property
    def digest(self) -> str:
        """The model digest, ``sha256:<hex>`` (the signature's subject digest)."""
        return "sha256:" + self.manifest.root_digest().hex()


def new_hasher(algorithm: str) -> _Hasher:
    """A fresh hash object.

    NOTE: blake3 stays single-threaded: the task pool already keeps every core busy, and
    its own threads on 4 MiB updates measured 2x slower than one thread per file here.
    """
    if algorithm == "sha256":
        return hashlib.sha256()
    if algorithm == "blake2b":
        return hashlib.blake2b()
    if algorithm == "blake3":
        try:
            from blake3 import blake3
        except ImportError:
            raise HashingError(
                "BLAKE3 needs the blake3 package", hint="pip install 'mlwarden[blake3]'"
            ) from None
        return blake3()
    raise HashingError(f"unsupported hash algorithm {algorithm!r}")


def _buffer() -> memoryview:
    buf: memoryview | None = getattr(_local, "buf", None)
    if buf is None:
        buf = memoryview(bytearray(_BUFFER))
        _local.buf = buf
    return buf


def _open(path: Path, follow: bool) -> int:
    flags = os.O_RDONLY | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NONBLOCK", 0)
    if not follow:
        flags |= getattr(os, "O_NOFOLLOW", 0)
    try:
        return os.open(path, flags)
    except OSError as exc:
        raise HashingError(f"cannot open {str(path)!r}: {exc.strerror}") from None


@dataclass(frozen=True)
class _Task:
    entry: FileEntry
    start: int
    end: int | None  # None: the whole file, to EOF


def digest_task(task: _Task, algorithm: str, follow: bool) -> Item:
    """Hash one file or shard; refuses special files and files that change meanwhile."""
    entry = task.entry
    fd = _open(entry.path, follow)
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or st.st_size != entry.size:
            raise HashingError(f"{entry.name!r} changed while the model was being hashed")
        length = (task.end if task.end is not None else st.st_size) - task.start
        hasher = new_hasher(algorithm)
        done = _feed(fd, hasher, task.start, length, task.end is None)
    finally:
        os.close(fd)
    if done != length:
        raise HashingError(f"{entry.name!r} changed while the model was being hashed")
    if task.end is None:
        return Item(entry.name, hasher.digest())
    return Item(entry.name, hasher.digest(), task.start, task.end)


def _feed(fd: int, hasher: _Hasher, start: int, length: int, to_eof: bool) -> int:
    """Feed ``length`` bytes from ``start``; -1 when a whole file turns out longer."""
    buf = _buffer()
    done = 0
    if start:
        os.lseek(fd, start, os.SEEK_SET)
    with os.fdopen(fd, "rb", buffering=0, closefd=False) as f:
        while done < length:
            n = f.readinto(buf[: min(len(buf), length - done)])
            if not n:
                break
            hasher.update(buf[:n])
            done += n
        if to_eof and done == length and f.read(1):
            return -1
    return done


def _tasks(entries: Iterable[FileEntry], serialization: Serialization) -> list[_Task]:
    tasks: list[_Task] = []
    size = serialization.shard_size
    for entry in entries:
        if serialization.method == FILES:
            tasks.append(_Task(entry, 0, None))
            continue
        # NOTE: like model_signing, an empty file has no shard (and so no resource).
        tasks.extend(_Task(entry, s, min(s + size, entry.size)) for s in range(0, entry.size, size))
    tasks.sort(key=lambda t: (t.end if t.end is not None else t.entry.size) - t.start, reverse=True)
    return tasks


def hash_entries(
    entries: Iterable[FileEntry], serialization: Serialization, workers: int = 0
) -> list[Item]:
    """Hash files (or their shards) on a thread pool, largest task first."""
    tasks = _tasks(entries, serialization)
    follow = serialization.allow_symlinks
    algo = serialization.hash_type
    workers = workers or os.cpu_count() or 1
    if workers == 1 or len(tasks) < 2:
        return [digest_task(t, algo, follow) for t in tasks]
    with ThreadPoolExecutor(max_workers=min(workers, len(tasks))) as pool:
        futures = [pool.submit(digest_task, t, algo, follow) for t in tasks]
        try:
            return [f.result() for f in futures]
        except BaseException:
            for f in futures:
                f.cancel()
            raise


def _reusable(
    entry: FileEntry, previous: Manifest | None, old: dict[str, tuple[Item, ...]]
) -> tuple[Item, ...] | None:
    """The previous items of ``entry`` when its size and mtime say it has not changed."""
    if previous is None:
        return None
    state = previous.states.get(entry.name)
    if state != FileState(entry.size, entry.mtime_ns):
        return None
    if previous.hashed_at_ns and entry.mtime_ns + RACY_NS > previous.hashed_at_ns:
        return None
    return old.get(entry.name) or (() if entry.size == 0 else None)


def _given(name: str, value: str | bytes, algorithm: str) -> Item:
    digest = value if isinstance(value, bytes) else _hex(value, name)
    if len(digest) != HASH_SIZES[algorithm]:
        raise HashingError(f"precomputed digest for {name!r} is not a {algorithm} digest")
    return Item(name, digest)


def _hex(text: str, name: str) -> bytes:
    try:
        return bytes.fromhex(text.split(":", 1)[-1])
    except ValueError:
        raise HashingError(f"precomputed digest for {name!r} is not hexadecimal") from None


def hash_listing(
    listing: Listing,
    serialization: Serialization,
    *,
    workers: int = 0,
    previous: Manifest | None = None,
    precomputed: Mapping[str, str | bytes] | None = None,
    model_name: str | None = None,
) -> HashResult:
    """Hash a listed model, reusing what ``previous`` and ``precomputed`` already give."""
    started = time.perf_counter()
    hashed_at = time.time_ns()
    given = dict(precomputed or {})
    if given and serialization.method != FILES:
        raise HashingError("precomputed digests need per-file hashing (no shards)")
    if previous is not None and not _same_method(previous.serialization, serialization):
        previous = None
    old = previous.by_file() if previous is not None else {}
    items: list[Item] = []
    todo: list[FileEntry] = []
    reused = taken = 0
    for entry in listing.files:
        if entry.name in given:
            items.append(_given(entry.name, given[entry.name], serialization.hash_type))
            taken += 1
        elif (kept := _reusable(entry, previous, old)) is not None:
            items.extend(kept)
            reused += 1
        else:
            todo.append(entry)
    items.extend(hash_entries(todo, serialization, workers))
    states = {e.name: FileState(e.size, e.mtime_ns) for e in listing.files}
    name = model_name or _model_name(listing.root)
    try:
        manifest = Manifest.build(name, serialization, items, states, hashed_at)
    except ValueError as exc:
        raise HashingError(str(exc)) from None
    seconds = time.perf_counter() - started
    stats = HashStats(
        len(listing.files), len(todo), reused, taken, sum(e.size for e in todo), seconds
    )
    return HashResult(manifest, stats)


def _same_method(a: Serialization, b: Serialization) -> bool:
    return (a.method, a.hash_type, a.shard_size) == (b.method, b.hash_type, b.shard_size)


def _model_name(root: Path) -> str:
    return root.name or root.resolve().name or "model"


def hash_model(
    model: str | Path,
    options: HashOptions | None = None,
    *,
    previous: Manifest | None = None,
    precomputed: Mapping[str, str | bytes] | None = None,
    exclude: Iterable[str] = (),
    model_name: str | None = None,
) -> HashResult:
    """Hash every file of a model directory (or a single model file).

    Args:
        model: a directory or one file.
        options: algorithm, sharding, ignore rules, links, threads.
        previous: a manifest from an earlier run (``mlwarden hash --state``): files whose
            size and mtime did not change keep their digests instead of being re-hashed.
        precomputed: digests the caller vouches for, by manifest name (hex or bytes).
        exclude: more relative paths to leave out (the signature file, a state file).
        model_name: the name recorded in the manifest (default: the directory name).

    Returns:
        The manifest and what was (re-)hashed.

    Raises:
        HashingError: the model cannot be listed or read (see :func:`list_model`).
    """
    options = options or HashOptions()
    root = Path(model)
    extra = tuple(exclude)
    listing = list_model(
        root,
        options.rules(extra),
        allow_symlinks=options.allow_symlinks,
        max_files=options.max_files,
    )
    recorded = _recorded_ignores(options, extra, listing)
    return hash_listing(
        listing,
        options.serialization(recorded),
        workers=options.workers,
        previous=previous,
        precomputed=precomputed,
        model_name=model_name,
    )


def _recorded_ignores(options: HashOptions, extra: tuple[str, ...], listing: Listing) -> list[str]:
    """Ignored paths as recorded in a signature: literal ones, and what globs matched."""
    if listing.single_file:
        return []
    rules = options.rules(extra)
    globbed = [n for n in listing.ignored if not IgnoreRules(rules.paths).matches(n)]
    return list(dict.fromkeys([*rules.paths, *globbed]))
