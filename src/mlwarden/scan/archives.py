"""Container scanners: zip (a tolerant reader of our own), tar, 7z and compressed streams.

Nothing is extracted to disk and nothing is executed: each member becomes a child
:class:`~mlwarden.scan.base.Artifact` that goes back through the normal dispatch, so the
pickle, numpy, ... scanners see it. Stored zip members are read in place; compressed data is
decoded on read under the per-file expansion budget and ratio limit.
"""

from __future__ import annotations

import bz2
import importlib
import lzma
import re
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import BinaryIO, cast

from mlwarden.errors import MalformedInput
from mlwarden.findings import Finding, ItemError
from mlwarden.scan._archive_io import (
    EXPANDED_KEY,
    LZMA_MEMLIMIT,
    CorruptStream,
    Decoder,
    DecompressionBomb,
    StreamState,
    ZipLzmaDecoder,
    ZlibDecoder,
    budget_spent,
    open_decompressed,
    seekable_source,
)
from mlwarden.scan._members import (
    bomb_findings,
    link_findings,
    member_artifact,
    notes_findings,
    scan_member,
    unsafe_name_finding,
)
from mlwarden.scan._tar7z import SevenZipScanner, TarScanner
from mlwarden.scan._zipread import (
    BZIP2,
    DEFLATED,
    LOCAL_SIG,
    LZMA,
    STORED,
    ZipDirectory,
    ZipEntry,
    read_directory,
)
from mlwarden.scan.base import Artifact, MiB, ScanContext, finding
from mlwarden.scan.window import open_window

__all__ = ["CompressedScanner", "SevenZipScanner", "TarScanner", "ZipScanner"]

_ZIP_DECODERS: dict[int, Callable[[], Decoder]] = {
    DEFLATED: lambda: ZlibDecoder(-15),
    BZIP2: bz2.BZ2Decompressor,
    LZMA: ZipLzmaDecoder,
}
#: Stored members up to this size get their CRC checked; bigger ones are never read whole.
_CRC_READ_LIMIT = 8 * MiB
_MAX_LINK = 4096
_PICKLE_START = re.compile(rb"\(?c[A-Za-z_][\w.]*\n[A-Za-z_][\w.]*\n|\((dp|lp)\d+\n")


class ZipScanner:
    """Zip archives (torch checkpoints, .keras, .npz, nested zips), read as leniently as torch."""

    id = "zip"
    formats = frozenset({"zip"})

    def scan(self, artifact: Artifact, ctx: ScanContext) -> Iterator[Finding]:
        """Report header tampering, polyglots and unsafe names; scan every member."""
        limits = ctx.limits
        with seekable_source(artifact, ctx) as (src, size):
            directory = read_directory(src, size, limits.max_members, limits.max_header_bytes)
            if directory is None:
                if _read_at(src, 0, 4) == LOCAL_SIG:
                    raise MalformedInput("zip without a readable central directory")
                return  # the end-of-directory signature was a coincidence: not a zip
            if not directory.entries:
                return
            ctx.count("zip_members", len(directory.entries))
            yield from _archive_findings(artifact, ctx, src, directory)
            names = frozenset(e.name for e in directory.entries)
            yield from _ZipMembers(artifact, ctx, src, size, names).scan(directory.entries)


def _archive_findings(
    artifact: Artifact, ctx: ScanContext, src: BinaryIO, directory: ZipDirectory
) -> Iterator[Finding]:
    if directory.truncated:
        yield finding(
            "SCAN-GEN-001",
            artifact.location,
            f"zip has more than {ctx.limits.max_members} members; the rest were not scanned",
        )
    head = _read_at(src, 0, 64)
    if starts_like_pickle(head):
        yield finding(
            "SCAN-ARC-004",
            artifact.location,
            f"pickle/zip polyglot: the file starts with a pickle and holds a zip after "
            f"{directory.prefix} bytes; pickle.load and zip readers see different content",
            evidence=head[:16].hex(),
        )
    elif directory.prefix:
        yield finding(
            "SCAN-ARC-001",
            artifact.location,
            f"{directory.prefix} bytes of data before the first zip member",
            evidence=head[:16].hex(),
        )
    yield from notes_findings(artifact, directory.notes)


def starts_like_pickle(head: bytes) -> bool:
    """Whether ``head`` starts like a pickle: a PROTO opcode, or protocol 0 GLOBAL/dict/list."""
    if len(head) >= 2 and head[0] == 0x80:
        return head[1] <= 5
    return _PICKLE_START.match(head) is not None


@dataclass(frozen=True)
class _ZipMembers:
    """Scans the members of one zip whose directory has been read."""

    artifact: Artifact
    ctx: ScanContext
    src: BinaryIO
    size: int
    names: frozenset[str]

    def scan(self, entries: list[ZipEntry]) -> Iterator[Finding]:
        storage_roots = _torch_roots(self.names)
        widest = _widest_views(entries)
        for entry in entries:
            self.ctx.check_deadline()
            if budget_spent(self.ctx):
                return  # reported where it ran out
            yield from unsafe_name_finding(self.artifact, entry.name)
            data = (entry.data_offset, entry.method)
            if entry.is_symlink:
                target = self._link_target(entry)
                yield from link_findings(self.artifact, entry.name, "symbolic link", target)
            elif entry.is_dir:
                continue
            elif _is_storage(entry.name, storage_roots):
                self.ctx.count("skipped_storage")  # raw tensor bytes: torch never unpickles them
            elif widest.get(data) is not entry:
                # Entries reading the same data (overlapping-entry bombs) are scanned once,
                # through the widest of them: fan-out nesting would multiply the work.
                self.ctx.count("shared_member_data")
            else:
                yield from self._scan_entry(entry)

    def _scan_entry(self, entry: ZipEntry) -> Iterator[Finding]:
        location = self.artifact.child_location(entry.name)
        stored = entry.method == STORED
        if not stored and entry.method not in _ZIP_DECODERS:
            message = f"unknown compression method {entry.method}: member not scanned"
            yield finding("SCAN-ARC-001", location, message)
            return
        declared = None if stored else _declared_bomb(entry, self.ctx)
        if declared is not None:
            yield from bomb_findings(self.ctx, location, declared)
            return
        if stored:
            yield from self._check_stored_crc(entry)
        state = StreamState()
        size = self._length(entry) if stored else entry.size
        child = member_artifact(
            self.artifact, entry.name, size, lambda: self._open(entry, state), "zip", self.names
        )
        yield from scan_member(self.ctx, child, state)
        if not stored:
            yield from self._check_decoded(entry, state)

    def _length(self, entry: ZipEntry) -> int:
        return max(0, min(entry.compressed_size, self.size - entry.data_offset))

    def _open(self, entry: ZipEntry, state: StreamState) -> BinaryIO:
        """The member's bytes: its window in the archive, decoded unless stored."""
        window = open_window(self.src, entry.data_offset, self._length(entry))
        if entry.method == STORED:
            return window
        decoder = _ZIP_DECODERS[entry.method]
        return open_decompressed(window, decoder, self.ctx, state, expect_size=entry.size)

    def _link_target(self, entry: ZipEntry) -> str:
        if entry.method != STORED and entry.method not in _ZIP_DECODERS:
            return ""
        try:
            with self._open(entry, StreamState()) as stream:
                return stream.read(_MAX_LINK).decode("utf-8", "replace")
        except (CorruptStream, DecompressionBomb):
            return ""  # an unreadable target is reported as escaping

    def _check_stored_crc(self, entry: ZipEntry) -> Iterator[Finding]:
        length = self._length(entry)
        if length > _CRC_READ_LIMIT:
            return
        crc = 0
        with open_window(self.src, entry.data_offset, length) as window:
            while chunk := window.read(MiB):
                crc = zlib.crc32(chunk, crc)
        if crc != entry.crc:
            yield self._crc_finding(entry, crc)

    def _check_decoded(self, entry: ZipEntry, state: StreamState) -> Iterator[Finding]:
        if not state.finished or state.truncated:
            return
        if state.crc != entry.crc:
            yield self._crc_finding(entry, state.crc)
        if state.size != entry.size:
            location = self.artifact.child_location(entry.name)
            message = f"archive headers disagree: declared size {entry.size}, data {state.size}"
            yield finding("SCAN-ARC-001", location, message)

    def _crc_finding(self, entry: ZipEntry, actual: int) -> Finding:
        return finding(
            "SCAN-ARC-001",
            self.artifact.child_location(entry.name),
            f"archive headers disagree: CRC {actual:08x} != declared {entry.crc:08x} "
            "(strict readers refuse this member; tolerant ones load it anyway)",
        )


def _widest_views(entries: list[ZipEntry]) -> dict[tuple[int, int], ZipEntry]:
    """Per data start and method, the entry that reads the most bytes (the first of equals)."""
    widest: dict[tuple[int, int], ZipEntry] = {}
    for entry in entries:
        key = (entry.data_offset, entry.method)
        if key not in widest or entry.compressed_size > widest[key].compressed_size:
            widest[key] = entry
    return widest


def _declared_bomb(entry: ZipEntry, ctx: ScanContext) -> str | None:
    limits = ctx.limits
    left = limits.max_expanded_bytes - ctx.stats.get(EXPANDED_KEY, 0)
    if entry.size > left:
        return (
            f"declares {entry.size} bytes, over the per-file limit of {limits.max_expanded_bytes}"
        )
    ratio = entry.size / max(entry.compressed_size, 1)
    if entry.size >= limits.ratio_grace_bytes and ratio > limits.max_ratio:
        return f"declares {entry.size} bytes from {entry.compressed_size} ({ratio:.0f}:1)"
    return None


def _torch_roots(names: frozenset[str]) -> frozenset[str]:
    """Top folders of torch zip checkpoints: the ones holding ``data.pkl``/``constants.pkl``."""
    return frozenset(
        name.split("/", 1)[0]
        for name in names
        if name.count("/") == 1 and name.endswith(("/data.pkl", "/constants.pkl"))
    )


def _is_storage(name: str, roots: frozenset[str]) -> bool:
    parts = name.split("/")
    return (
        len(parts) >= 3 and parts[0] in roots and parts[1] == "data" and not name.endswith(".pkl")
    )


def _read_at(src: BinaryIO, offset: int, n: int) -> bytes:
    src.seek(offset)
    return src.read(n)


_LZ4_MAGIC = b"\x04\x22\x4d\x18"
_STREAM_MAGIC: tuple[tuple[str, bytes], ...] = (
    ("gzip", b"\x1f\x8b"),
    ("bz2", b"BZh"),
    ("xz", b"\xfd7zXZ\x00"),
    ("lz4", _LZ4_MAGIC),
)
_STREAM_DECODERS: dict[str, Callable[[], Decoder]] = {
    "gzip": lambda: ZlibDecoder(31),
    "bz2": bz2.BZ2Decompressor,
    "xz": lambda: lzma.LZMADecompressor(lzma.FORMAT_XZ, memlimit=LZMA_MEMLIMIT),
    "lzma": lambda: lzma.LZMADecompressor(lzma.FORMAT_ALONE, memlimit=LZMA_MEMLIMIT),
    "zlib": lambda: ZlibDecoder(15),
}
#: Suffix of a compressed file -> suffix of what it holds (``model.pkl.gz`` -> ``model.pkl``).
_SUFFIXES = {
    ".gz": "", ".gzip": "", ".z": "", ".zlib": "", ".bz2": "", ".xz": "", ".lzma": "",
    ".lz4": "", ".tgz": ".tar", ".tbz": ".tar", ".tbz2": ".tar", ".txz": ".tar",
}  # fmt: skip


class CompressedScanner:
    """gzip (multi-member), bz2, xz, lzma-alone, zlib (joblib's compressors) and lz4 frames."""

    id = "compressed"
    formats = frozenset({"gzip", "bz2", "xz", "lzma", "zlib", "lz4"})

    def scan(self, artifact: Artifact, ctx: ScanContext) -> Iterator[Finding]:
        """Scan the decompressed stream as one child artifact."""
        with artifact.open() as stream:
            fmt = _stream_format(stream.read(16))
        new_decoder = _lz4_decoder() if fmt == "lz4" else _STREAM_DECODERS[fmt]
        if new_decoder is None:
            ctx.errors.append(
                ItemError(str(artifact.location), "lz4 support needs: pip install lz4")
            )
            return
        magic = dict(_STREAM_MAGIC).get(fmt, b"")
        state = StreamState()

        def opener() -> BinaryIO:
            return open_decompressed(artifact.open(), new_decoder, ctx, state, restart_magic=magic)

        name = inner_name(artifact.name)
        child = member_artifact(artifact, name, None, opener, fmt, frozenset({name}))
        yield from scan_member(ctx, child, state)


def _stream_format(head: bytes) -> str:
    for fmt, magic in _STREAM_MAGIC:
        if head.startswith(magic):
            return fmt
    if head[:1] == b"\x5d":
        return "lzma"
    if head and head[0] & 0x0F == 8:
        return "zlib"
    raise MalformedInput("not a recognised compressed stream")


def _lz4_decoder() -> Callable[[], Decoder] | None:
    try:
        frame = importlib.import_module("lz4.frame")
    except ImportError:
        return None
    return cast(Callable[[], Decoder], frame.LZ4FrameDecompressor)


def inner_name(name: str) -> str:
    """The name of what a compressed file holds: its name without the compression suffix."""
    base = re.split(r"[/\\]", name)[-1] or "stream"
    stem, dot, suffix = base.rpartition(".")
    replacement = _SUFFIXES.get(f".{suffix.lower()}")
    if dot and stem and replacement is not None:
        return stem + replacement
    return f"{base}.decompressed"
