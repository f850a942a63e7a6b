"""A private copy of a model, hashed while it is copied: the bytes that are checked are the
bytes that are loaded.

``safe_load`` must not verify one file and then load another (an attacker who can write to
the model directory could swap it in between). So the model is read exactly once: each
file streams into a fresh directory only this process can reach (mode 0700, files 0600)
and, on the way, into the hashers every requested serialization needs. Verification, the
scan and the loader then all work on the copy.
"""

from __future__ import annotations

import os
import shutil
import stat
import tempfile
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

from mlwarden.integrity.errors import HashingError
from mlwarden.integrity.hashing import _buffer, _open, new_hasher
from mlwarden.integrity.manifest import SHARDS, FileState, Item, Manifest, Serialization
from mlwarden.integrity.walk import FileEntry, IgnoreRules, Listing, list_model


class _Digester:
    """Per-file digests (or shard digests) of one serialization, fed chunk by chunk."""

    def __init__(self, serialization: Serialization, entry: FileEntry) -> None:
        self.ser, self.entry = serialization, entry
        self.step = serialization.shard_size if serialization.method == SHARDS else entry.size
        self.items: list[Item] = []
        self.offset = self.start = 0
        self.hasher = new_hasher(serialization.hash_type)

    def feed(self, data: memoryview) -> None:
        while data:
            if self.ser.method == SHARDS and self.offset - self.start == self.step:
                self._close()
            room = (
                len(data) if self.ser.method != SHARDS else self.step - (self.offset - self.start)
            )
            part, data = data[:room], data[room:]
            self.hasher.update(part)
            self.offset += len(part)

    def _close(self) -> None:
        self.items.append(Item(self.entry.name, self.hasher.digest(), self.start, self.offset))
        self.start = self.offset
        self.hasher = new_hasher(self.ser.hash_type)

    def finish(self) -> list[Item]:
        if self.ser.method != SHARDS:
            return [Item(self.entry.name, self.hasher.digest())]
        if self.offset > self.start:
            self._close()
        return self.items


@dataclass
class Snapshot:
    """The private copy and the manifests computed from the bytes that were copied.

    Attributes:
        root: the private directory (removed by :meth:`close`).
        model: the copied model inside it (a directory, or the one file).
        listing: the files copied.
        manifests: one manifest per requested serialization, in request order.
    """

    root: Path
    model: Path
    listing: Listing
    manifests: list[Manifest] = field(default_factory=list)
    removed: set[str] = field(default_factory=set)

    def names(self) -> set[str]:
        """The names of the files present in the copy."""
        return {e.name for e in self.listing.files} - self.removed

    def remove(self, names: Sequence[str]) -> None:
        """Delete copied files (unverified extras) so that nothing can load them."""
        for name in names:
            (self.model / name).unlink(missing_ok=True)
            self.removed.add(name)

    def close(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> Snapshot:
        return self

    def __exit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def _copy_one(
    entry: FileEntry, dest: Path, specs: Sequence[Serialization], follow: bool
) -> list[list[Item]]:
    digesters = [_Digester(s, entry) for s in specs]
    src = _open(entry.path, follow)
    try:
        st = os.fstat(src)
        if not stat.S_ISREG(st.st_mode) or st.st_size != entry.size:
            raise HashingError(f"{entry.name!r} changed while the model was being read")
        dest.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        out = os.open(
            dest, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o600
        )
        try:
            done = _pump(src, out, digesters)
        finally:
            os.close(out)
    finally:
        os.close(src)
    if done != entry.size:
        raise HashingError(f"{entry.name!r} changed while the model was being read")
    return [d.finish() for d in digesters]


def _pump(src: int, out: int, digesters: list[_Digester]) -> int:
    buf = _buffer()
    done = 0
    while True:
        n = os.readv(src, [buf])
        if not n:
            return done
        chunk = buf[:n]
        written = 0
        while written < n:
            written += os.write(out, chunk[written:])
        for d in digesters:
            d.feed(chunk)
        done += n


def take_snapshot(
    model: str | Path,
    specs: Sequence[Serialization],
    rules: IgnoreRules,
    *,
    allow_symlinks: bool = False,
    max_files: int = 1_000_000,
    max_bytes: int | None = None,
    workers: int = 0,
    tmp_dir: str | Path | None = None,
) -> Snapshot:
    """Copy a model into a private directory, computing each serialization's manifest.

    Raises:
        HashingError: the model cannot be listed or read, changed while being read, or is
            larger than ``max_bytes``.
    """
    listing = list_model(Path(model), rules, allow_symlinks=allow_symlinks, max_files=max_files)
    total = sum(e.size for e in listing.files)
    if max_bytes is not None and total > max_bytes:
        raise HashingError(f"the model is {total} bytes, over the limit of {max_bytes}")
    root = Path(tempfile.mkdtemp(prefix="mlwarden-load-", dir=tmp_dir))
    snap = Snapshot(root, root / (Path(model).name or "model"), listing)
    try:
        _copy_all(snap, specs, allow_symlinks, workers)
    except BaseException:
        snap.close()
        raise
    return snap


def _copy_all(snap: Snapshot, specs: Sequence[Serialization], follow: bool, workers: int) -> None:
    listing = snap.listing
    if not listing.single_file:
        snap.model.mkdir(mode=0o700)

    def dest(e: FileEntry) -> Path:
        return snap.model if listing.single_file else snap.model / e.name

    workers = max(1, min(workers or os.cpu_count() or 1, len(listing.files) or 1))
    with ThreadPoolExecutor(max_workers=workers) as pool:
        results = list(pool.map(lambda e: _copy_one(e, dest(e), specs, follow), listing.files))
    states = {e.name: FileState(e.size, e.mtime_ns) for e in listing.files}
    name = Path(listing.root).name or "model"
    for i, spec in enumerate(specs):
        items = [item for per_file in results for item in per_file[i]]
        snap.manifests.append(Manifest.build(name, spec, items, states))
