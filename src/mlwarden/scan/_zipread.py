"""A tolerant zip directory reader: finds members the way lenient loaders (torch) do.

``zipfile`` refuses archives that torch's loader (miniz) still reads: CRC mismatches, local
and central names that differ, odd flag bits. A scanner that gives up there lets a payload
through, so this reader accepts them and records each disagreement as a *note* for the
scanner to report. Data offsets come from each LOCAL header's own name and extra lengths,
as miniz computes them (torch pads local extra fields for alignment).
"""

from __future__ import annotations

import itertools
import struct
from collections import Counter
from dataclasses import dataclass, field
from typing import BinaryIO

from mlwarden.errors import ScanLimitExceeded

LOCAL_SIG = b"PK\x03\x04"
EOCD_SIG = b"PK\x05\x06"
_CENTRAL_SIG = b"PK\x01\x02"
_LOC64_SIG = b"PK\x06\x07"
_EOCD64_SIG = b"PK\x06\x06"

_EOCD = struct.Struct("<4s4H2LH")
_LOC64 = struct.Struct("<4sLQL")
_EOCD64 = struct.Struct("<4sQ2H2L4Q")
_CENTRAL = struct.Struct("<4s6H3L5H2L")
_LOCAL = struct.Struct("<4s5H3L2H")

STORED, DEFLATED, BZIP2, LZMA = 0, 8, 12, 14
FLAG_DATA_DESCRIPTOR = 0x0008
_FLAG_UTF8 = 0x0800
#: Deflate/LZMA option bits, data descriptor and UTF-8 names: what benign writers set.
_BENIGN_FLAGS = 0x0002 | 0x0004 | FLAG_DATA_DESCRIPTOR | _FLAG_UTF8
_MAX_COMMENT = 0xFFFF
_U32_MAX = 0xFFFFFFFF
#: Random bytes can contain the EOCD signature: try a few candidates, not every one.
_MAX_EOCD_CANDIDATES = 16
_UNIX = 3
_S_IFMT, _S_IFLNK = 0o170000, 0o120000


@dataclass(frozen=True)
class ZipEntry:
    """One member as the central directory and its local header describe it."""

    name: str
    method: int
    flags: int
    crc: int
    compressed_size: int
    size: int
    header_offset: int
    data_offset: int
    external_attr: int
    creator_system: int

    @property
    def is_dir(self) -> bool:
        return self.name.endswith(("/", "\\"))

    @property
    def is_symlink(self) -> bool:
        mode = self.external_attr >> 16
        return self.creator_system == _UNIX and mode & _S_IFMT == _S_IFLNK


@dataclass
class ZipDirectory:
    """The members found, where the archive starts, and every header disagreement seen.

    ``notes`` pairs a member name (``None`` for the archive as a whole) with a message.
    """

    entries: list[ZipEntry] = field(default_factory=list)
    notes: list[tuple[str | None, str]] = field(default_factory=list)
    prefix: int = 0
    truncated: bool = False


@dataclass(frozen=True)
class _Central:
    raw_name: bytes
    flags: int
    method: int
    crc: int
    csize: int
    usize: int
    offset: int
    external_attr: int
    creator_system: int


def read_directory(
    f: BinaryIO, size: int, max_entries: int, max_header_bytes: int
) -> ZipDirectory | None:
    """Read the zip directory of ``f``, or return ``None`` when it is not a zip at all.

    Raises:
        ScanLimitExceeded: the central directory is larger than ``max_header_bytes``.
    """
    tail_start = max(0, size - (_EOCD.size + _MAX_COMMENT))
    f.seek(tail_start)
    tail = f.read(size - tail_start)
    end = len(tail)
    for _ in range(_MAX_EOCD_CANDIDATES):
        pos = tail.rfind(EOCD_SIG, 0, end)
        if pos < 0:
            return None
        end = pos
        raw = tail[pos : pos + _EOCD.size]
        if len(raw) < _EOCD.size:
            continue
        found = _from_eocd(f, size, tail_start + pos, raw, max_entries, max_header_bytes)
        if found is not None:
            return found
    return None


def _from_eocd(
    f: BinaryIO, size: int, eocd_pos: int, raw: bytes, max_entries: int, max_header_bytes: int
) -> ZipDirectory | None:
    _sig, _disk, _cd_disk, _n_disk, total, cd_size, cd_offset, _comment = _EOCD.unpack(raw)
    anchor = eocd_pos
    zip64 = _zip64_end(f, eocd_pos)
    if zip64 is not None:
        total, cd_size, cd_offset, anchor = zip64
    if total == 0 and cd_size == 0:
        return ZipDirectory()
    # Bytes prepended to a zip shift every offset by the same amount (zipfile does the same).
    shift = anchor - cd_offset - cd_size
    for base in dict.fromkeys((shift, 0)):
        start = cd_offset + base
        if base < 0 or start + _CENTRAL.size > anchor:
            continue
        f.seek(start)
        if f.read(4) != _CENTRAL_SIG:
            continue
        length = min(cd_size, anchor - start)
        if length > max_header_bytes:
            raise ScanLimitExceeded(f"zip central directory of {length} bytes exceeds the limit")
        f.seek(start)
        centrals, truncated = _parse_centrals(f.read(length), max_entries)
        return _resolve(f, size, centrals, base, total, truncated)
    return None


def _zip64_end(f: BinaryIO, eocd_pos: int) -> tuple[int, int, int, int] | None:
    if eocd_pos < _LOC64.size:
        return None
    f.seek(eocd_pos - _LOC64.size)
    loc = f.read(_LOC64.size)
    if not loc.startswith(_LOC64_SIG):
        return None
    _sig, _disk, record_offset, _disks = _LOC64.unpack(loc)
    for pos in dict.fromkeys((eocd_pos - _LOC64.size - _EOCD64.size, record_offset)):
        if pos < 0:
            continue
        f.seek(pos)
        raw = f.read(_EOCD64.size)
        if len(raw) == _EOCD64.size and raw.startswith(_EOCD64_SIG):
            fields = _EOCD64.unpack(raw)
            return fields[7], fields[8], fields[9], pos
    return None


def _parse_centrals(cd: bytes, max_entries: int) -> tuple[list[_Central], bool]:
    centrals: list[_Central] = []
    pos = 0
    while pos + _CENTRAL.size <= len(cd) and cd[pos : pos + 4] == _CENTRAL_SIG:
        if len(centrals) >= max_entries:
            return centrals, True
        parsed = _parse_central(cd, pos)
        if parsed is None:
            break
        central, pos = parsed
        centrals.append(central)
    return centrals, False


def _parse_central(cd: bytes, pos: int) -> tuple[_Central, int] | None:
    fields = _CENTRAL.unpack_from(cd, pos)
    creator, flags, method, crc, csize, usize = fields[1] >> 8, *fields[3:5], *fields[7:10]
    name_len, extra_len, comment_len, _disk, _internal, external, offset = fields[10:]
    name_end = pos + _CENTRAL.size + name_len
    extra_end = name_end + extra_len
    end = extra_end + comment_len
    if end > len(cd):
        return None
    usize, csize, offset = _apply_zip64(cd[name_end:extra_end], usize, csize, offset)
    raw_name = cd[pos + _CENTRAL.size : name_end]
    central = _Central(raw_name, flags, method, crc, csize, usize, offset, external, creator)
    return central, end


def _apply_zip64(extra: bytes, usize: int, csize: int, offset: int) -> tuple[int, int, int]:
    values = [usize, csize, offset]
    pos = 0
    while pos + 4 <= len(extra):
        tag, length = struct.unpack_from("<HH", extra, pos)
        body = extra[pos + 4 : pos + 4 + length]
        pos += 4 + length
        if tag != 0x0001:
            continue
        cursor = 0
        for index, value in enumerate(values):
            if value == _U32_MAX and cursor + 8 <= len(body):
                values[index] = int.from_bytes(body[cursor : cursor + 8], "little")
                cursor += 8
        break
    return values[0], values[1], values[2]


def _resolve(
    f: BinaryIO, size: int, centrals: list[_Central], base: int, total: int, truncated: bool
) -> ZipDirectory | None:
    directory = ZipDirectory(truncated=truncated)
    for central in centrals:
        entry, notes = _resolve_local(f, size, central, base)
        name = _decode_name(central.raw_name, central.flags)
        directory.notes.extend((name, note) for note in notes)
        if entry is not None:
            directory.entries.append(entry)
    if not directory.entries:
        return None
    if not truncated and total != len(centrals):
        directory.notes.append((None, f"directory end says {total} entries, found {len(centrals)}"))
    directory.notes.extend(_layout_notes(directory.entries))
    directory.prefix = min(e.header_offset for e in directory.entries)
    return directory


def _resolve_local(
    f: BinaryIO, size: int, central: _Central, base: int
) -> tuple[ZipEntry | None, list[str]]:
    offset = central.offset + base
    f.seek(offset)
    raw = f.read(_LOCAL.size)
    if len(raw) < _LOCAL.size or not raw.startswith(LOCAL_SIG):
        return None, [f"no local header at offset {offset}: member unreadable"]
    fields = _LOCAL.unpack(raw)
    local_flags, local_method, local_crc, local_csize = fields[2], fields[3], *fields[6:8]
    name_len, extra_len = fields[9], fields[10]
    local_name = f.read(name_len)
    data_offset = offset + _LOCAL.size + name_len + extra_len
    notes: list[str] = []
    if local_name != central.raw_name:
        local_text = _decode_name(local_name, local_flags)
        notes.append(f"local header names it {local_text!r}, the central directory does not")
    if local_method != central.method:
        notes.append(f"local method {local_method} differs from central method {central.method}")
    if not (central.flags | local_flags) & FLAG_DATA_DESCRIPTOR:
        if local_csize not in (central.csize, _U32_MAX):
            notes.append(f"local compressed size {local_csize} != central {central.csize}")
        if local_crc != central.crc:
            notes.append("local CRC differs from central CRC")
    notes.extend(_entry_notes(central, local_flags, data_offset, size))
    entry = ZipEntry(
        name=_decode_name(central.raw_name, central.flags),
        method=central.method,
        flags=central.flags,
        crc=central.crc,
        compressed_size=central.csize,
        size=central.usize,
        header_offset=offset,
        data_offset=data_offset,
        external_attr=central.external_attr,
        creator_system=central.creator_system,
    )
    return entry, notes


def _entry_notes(central: _Central, local_flags: int, data_offset: int, size: int) -> list[str]:
    notes: list[str] = []
    odd = (central.flags | local_flags) & ~_BENIGN_FLAGS
    if odd:
        notes.append(f"flag bits {odd:#06x} set (encryption or unusual features)")
    if data_offset + central.csize > size:
        notes.append("member data runs past the end of the file")
    if central.method == STORED and central.csize != central.usize:
        notes.append(f"stored member: compressed {central.csize} != size {central.usize}")
    return notes


def _layout_notes(entries: list[ZipEntry]) -> list[tuple[str | None, str]]:
    notes: list[tuple[str | None, str]] = []
    names = Counter(e.name for e in entries)
    notes.extend((name, f"{n} entries share this name") for name, n in names.items() if n > 1)
    reused = len(entries) - len({e.header_offset for e in entries})
    if reused:
        notes.append((None, f"{reused} entries reuse another entry's local header"))
    ordered = sorted(entries, key=lambda e: e.header_offset)
    overlaps = sum(
        1
        for a, b in itertools.pairwise(ordered)
        if a.header_offset != b.header_offset
        and a.data_offset + a.compressed_size > b.header_offset
    )
    if overlaps:
        notes.append((None, f"{overlaps} members' data overlaps the next member's header"))
    return notes


def _decode_name(raw: bytes, flags: int) -> str:
    return raw.decode("utf-8" if flags & _FLAG_UTF8 else "cp437", errors="replace")
