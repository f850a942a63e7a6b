"""Tar and 7z scanners: list members without extracting to disk, scan each as a child.

Tar headers are parsed by the standard library's ``tarfile`` (it executes nothing); member
data is read in place through windows. 7z needs the optional ``py7zr``: members are decoded
into bounded spools (memory, then temp files) under the per-file expansion budget.
"""

from __future__ import annotations

import importlib
import io
import tarfile
from collections.abc import Callable, Iterator
from pathlib import PurePosixPath
from types import ModuleType
from typing import Any, BinaryIO, cast

from mlwarden.errors import MalformedInput, ScanLimitExceeded
from mlwarden.findings import Finding, ItemError
from mlwarden.scan._archive_io import (
    EXPANDED_KEY,
    SPOOL_MEMORY,
    DecompressionBomb,
    budget_spent,
    charge_expansion,
    disk_copy,
    seekable_source,
)
from mlwarden.scan._members import (
    bomb_findings,
    link_findings,
    member_artifact,
    scan_member,
    special_finding,
    unsafe_name_finding,
    unsafe_name_reason,
)
from mlwarden.scan.base import Artifact, ScanContext, finding
from mlwarden.scan.window import open_window

_BLOCK = 512
#: Header types whose data tarfile reads into memory whole (pax, GNU long names).
_INLINE_TYPES = frozenset(b"xgLKX")
_MAX_HEADER_CHAIN = 64
_TAR_ERRORS = (tarfile.TarError, EOFError, ValueError, OverflowError, OSError)
_MAX_LINK = 4096
_NEEDS_7Z = "7z support needs: pip install 'mlwarden[archives]'"


class TarScanner:
    """Uncompressed tar archives (compressed ones arrive here through CompressedScanner)."""

    id = "tar"
    formats = frozenset({"tar"})

    def scan(self, artifact: Artifact, ctx: ScanContext) -> Iterator[Finding]:
        """Report links and unsafe names; scan every regular member in place."""
        with seekable_source(artifact, ctx) as (src, size):
            _guard_headers(src, 0, ctx.limits.max_header_bytes)
            with _open_tar(src) as tar:
                members = _read_members(artifact, ctx, src, tar)
                if len(members) > ctx.limits.max_members:
                    members = members[: ctx.limits.max_members]
                    message = f"tar has more than {len(members)} members; the rest were not scanned"
                    yield finding("SCAN-GEN-001", artifact.location, message)
                yield from _scan_members(artifact, ctx, (src, size), tar, members)


def _open_tar(src: BinaryIO) -> tarfile.TarFile:
    src.seek(0)  # tarfile starts reading wherever the stream is
    try:
        return tarfile.open(fileobj=src, mode="r:")
    except _TAR_ERRORS as exc:
        raise MalformedInput(f"unreadable tar: {exc}") from exc


def _read_members(
    artifact: Artifact, ctx: ScanContext, src: BinaryIO, tar: tarfile.TarFile
) -> list[tarfile.TarInfo]:
    """Up to ``max_members + 1`` members; a damaged tail is an item error, not a traceback."""
    members: list[tarfile.TarInfo] = []
    while len(members) <= ctx.limits.max_members:
        ctx.check_deadline()
        _guard_headers(src, tar.offset, ctx.limits.max_header_bytes)
        try:
            member = tar.next()
        except _TAR_ERRORS as exc:
            if not members:
                raise MalformedInput(f"unreadable tar: {exc}") from exc
            damaged = f"tar is damaged after {len(members)} members: {exc}"
            ctx.errors.append(ItemError(str(artifact.location), damaged))
            break
        if member is None:
            break
        members.append(member)
    return members


def _guard_headers(src: BinaryIO, offset: int, limit: int) -> None:
    """Refuse pax/long-name headers that tarfile would read into memory beyond ``limit``."""
    for _ in range(_MAX_HEADER_CHAIN):
        src.seek(offset)
        block = src.read(_BLOCK)
        if len(block) < _BLOCK or block[156] not in _INLINE_TYPES:
            return
        size = _header_size(block[124:136])
        if size > limit:
            raise ScanLimitExceeded(f"tar extended header of {size} bytes exceeds the limit")
        offset += _BLOCK + -(-size // _BLOCK) * _BLOCK


def _header_size(field: bytes) -> int:
    if field[0] & 0x80:  # GNU base-256: any negative or huge value is refused by the caller
        return int.from_bytes(field[1:], "big") if not field[0] & 0x40 else 1 << 64
    try:
        return int(field.strip(b"\x00 ") or b"0", 8)
    except ValueError:
        return 0


def _scan_members(
    artifact: Artifact,
    ctx: ScanContext,
    source: tuple[BinaryIO, int],
    tar: tarfile.TarFile,
    members: list[tarfile.TarInfo],
) -> Iterator[Finding]:
    src, size = source
    names = frozenset(m.name for m in members)
    for member in members:
        ctx.check_deadline()
        if budget_spent(ctx):
            return
        yield from unsafe_name_finding(artifact, member.name)
        if member.issym():
            yield from link_findings(artifact, member.name, "symbolic link", member.linkname)
        elif member.islnk():
            yield from link_findings(artifact, member.name, "hard link", member.linkname, hard=True)
        elif member.ischr() or member.isblk() or member.isfifo():
            yield special_finding(artifact, member.name)
        elif member.isfile():
            child = member_artifact(
                artifact, member.name, member.size, _tar_opener(src, tar, member), "tar", names
            )
            if member.offset_data + member.size > size:
                ctx.errors.append(ItemError(str(child.location), "member data is truncated"))
            yield from scan_member(ctx, child)


def _tar_opener(
    src: BinaryIO, tar: tarfile.TarFile, member: tarfile.TarInfo
) -> Callable[[], BinaryIO]:
    if getattr(member, "sparse", None) is None:
        return lambda: open_window(src, member.offset_data, member.size)
    # Sparse members interleave holes: let tarfile map them (it re-seeks on every read).
    return lambda: cast(BinaryIO, tar.extractfile(member))


class SevenZipScanner:
    """7z archives, through the optional py7zr (``pip install 'mlwarden[archives]'``)."""

    id = "7z"
    formats = frozenset({"7z"})

    def scan(self, artifact: Artifact, ctx: ScanContext) -> Iterator[Finding]:
        """Decode members into bounded spools and scan each; report links and bombs."""
        py7zr = _import_py7zr()
        if py7zr is None:
            ctx.errors.append(ItemError(str(artifact.location), _NEEDS_7Z))
            return
        with seekable_source(artifact, ctx) as (src, size):
            _guard_7z_header(src, ctx.limits.max_header_bytes)
            try:
                archive = py7zr.SevenZipFile(src, mode="r")
            except Exception as exc:  # a third-party parser on hostile input raises anything
                raise MalformedInput(f"unreadable 7z: {_describe(exc)}") from exc
            try:
                yield from _scan_7z(artifact, ctx, archive, size)
            finally:
                archive.close()


def _import_py7zr() -> ModuleType | None:
    try:
        module = importlib.import_module("py7zr")
    except ImportError:
        return None
    # WriterFactory-based extraction (no disk writes) arrived in py7zr 1.0.
    return module if hasattr(importlib.import_module("py7zr.io"), "WriterFactory") else None


def _describe(exc: Exception) -> str:
    if type(exc).__name__ == "PasswordRequired":
        return "encrypted; its members cannot be scanned without the password"
    return f"{type(exc).__name__}: {str(exc)[:200]}"


def _guard_7z_header(src: BinaryIO, limit: int) -> None:
    src.seek(0)
    start = src.read(32)
    src.seek(0)
    if len(start) == 32 and int.from_bytes(start[20:28], "little") > limit:
        raise ScanLimitExceeded("7z header exceeds the header size limit")


def _scan_7z(artifact: Artifact, ctx: ScanContext, archive: Any, size: int) -> Iterator[Finding]:
    try:
        infos = archive.list()
    except Exception as exc:  # hostile headers: py7zr raises all sorts
        raise MalformedInput(f"unreadable 7z: {_describe(exc)}") from exc
    if len(infos) > ctx.limits.max_members:
        message = f"7z has more than {ctx.limits.max_members} members; none were scanned"
        yield finding("SCAN-GEN-001", artifact.location, message)
        return
    targets: list[str] = []
    links: set[str] = set()
    for info in infos:
        yield from unsafe_name_finding(artifact, info.filename)
        if info.is_directory or unsafe_name_reason(info.filename) is not None:
            continue  # py7zr refuses to decode unsafe names; they are reported above
        targets.append(info.filename)
        if info.is_symlink:
            links.add(_normal_name(info.filename))
    declared = sum(info.uncompressed or 0 for info in infos)
    bomb = _declared_bomb(ctx, declared, size)
    if bomb is not None:
        yield from bomb_findings(ctx, artifact.location, bomb)
        return
    factory = _SpoolFactory(ctx, size)
    try:
        yield from _extract_and_scan(artifact, ctx, archive, (targets, links), factory)
    finally:
        factory.close()


def _normal_name(name: str) -> str:
    """A member name as py7zr hands it to the writer factory."""
    parts = [p for p in PurePosixPath(name.replace("\\", "/")).parts if p not in ("/", ".")]
    return "/".join(parts)


def _declared_bomb(ctx: ScanContext, declared: int, size: int) -> str | None:
    limits = ctx.limits
    if declared > limits.max_expanded_bytes - ctx.stats.get(EXPANDED_KEY, 0):
        return f"members declare {declared} bytes, over the limit of {limits.max_expanded_bytes}"
    if declared >= limits.ratio_grace_bytes and declared > limits.max_ratio * max(size, 1):
        return f"members declare {declared} bytes from a {size}-byte archive"
    return None


def _extract_and_scan(
    artifact: Artifact,
    ctx: ScanContext,
    archive: Any,
    wanted: tuple[list[str], set[str]],
    factory: _SpoolFactory,
) -> Iterator[Finding]:
    targets, links = wanted
    if not targets:
        return
    try:
        archive.extract(targets=targets, factory=factory)
    except DecompressionBomb as exc:
        yield from bomb_findings(ctx, artifact.location, str(exc))
        return
    except ScanLimitExceeded:
        raise
    except Exception as exc:  # corrupt or encrypted data: py7zr raises all sorts
        raise MalformedInput(f"7z members cannot be decoded: {_describe(exc)}") from exc
    names = frozenset(factory.products)
    for name, product in factory.products.items():
        ctx.check_deadline()
        if budget_spent(ctx):
            return
        if name in links:  # a symlink's data is its target
            target = product.head(_MAX_LINK).decode("utf-8", "replace")
            yield from link_findings(artifact, name, "symbolic link", target)
            continue
        opener = _spool_opener(product.buffer, product.length)
        yield from scan_member(
            ctx, member_artifact(artifact, name, product.length, opener, "7z", names)
        )


def _spool_opener(buffer: BinaryIO, length: int) -> Callable[[], BinaryIO]:
    return lambda: open_window(buffer, 0, length)


class _SpoolProduct:
    """One decoded 7z member (py7zr's ``Py7zIO`` interface), in memory or in a temp file."""

    def __init__(self, factory: _SpoolFactory) -> None:
        self._factory = factory
        self.buffer: BinaryIO = io.BytesIO()
        self.length = 0

    def write(self, data: bytes | bytearray) -> int:
        self._factory.charge(len(data))
        if isinstance(self.buffer, io.BytesIO) and self._factory.to_disk(len(data)):
            self.buffer = disk_copy(self.buffer.getbuffer())
        self.buffer.seek(self.length)
        self.length += self.buffer.write(data)
        return len(data)

    def read(self, size: int | None = None) -> bytes:
        return self.buffer.read(-1 if size is None else size)

    def head(self, n: int) -> bytes:
        """The first ``n`` bytes written."""
        self.buffer.seek(0)
        return self.buffer.read(min(n, self.length))

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        return self.buffer.seek(offset, whence)

    def flush(self) -> None:
        self.buffer.flush()

    def size(self) -> int:
        return self.length

    def close(self) -> None:
        """py7zr calls this when the member is complete; the data stays for scanning."""


class _SpoolFactory:
    """py7zr's ``WriterFactory`` interface: one spool per member, all under one budget."""

    def __init__(self, ctx: ScanContext, archive_size: int) -> None:
        self.products: dict[str, _SpoolProduct] = {}
        self._ctx, self._archive_size = ctx, archive_size
        self._written = self._in_memory = 0

    def create(self, filename: str) -> _SpoolProduct:
        product = _SpoolProduct(self)
        self.products[filename] = product
        return product

    def charge(self, n: int) -> None:
        self._ctx.check_deadline()
        self._written += n
        charge_expansion(self._ctx, n)
        limit = self._ctx.limits.max_ratio
        grace = self._ctx.limits.ratio_grace_bytes
        if self._written >= grace and self._written > limit * max(self._archive_size, 1):
            raise DecompressionBomb(f"expands more than {limit:g}:1")

    def to_disk(self, n: int) -> bool:
        """Whether a member growing by ``n`` bytes must move out of memory."""
        self._in_memory += n
        return self._in_memory > SPOOL_MEMORY

    def close(self) -> None:
        for product in self.products.values():
            product.buffer.close()
