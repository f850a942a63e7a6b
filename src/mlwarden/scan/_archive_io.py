"""Byte streams for archive members: in-place windows, bomb-guarded decompression, spooling.

A stored member is never copied out of its archive: :func:`open_window` reads its byte range
in place, so the dispatcher's head/tail sniff of a 1 GB tensor file reads a few KiB.
Compressed data is decoded lazily, on read, under the per-file expansion budget
(``ScanLimits.max_expanded_bytes``, shared by every stream of one top-level file) and the
expansion ratio limit (``ScanLimits.max_ratio``).
"""

from __future__ import annotations

import io
import lzma
import tempfile
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, BinaryIO, Protocol, cast

from mlwarden.errors import MalformedInput, ScanLimitExceeded
from mlwarden.scan.base import Artifact, MiB, ScanContext

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer

#: Compressed input is fed in small pieces so that the expansion ratio is measured closely.
CHUNK = 16 * 1024
#: Spools of non-seekable streams stay in memory up to this size, then move to a temp file.
SPOOL_MEMORY = 64 * MiB
#: ``ScanContext.stats`` key of the bytes decompressed so far for the top-level file.
EXPANDED_KEY = "expanded_bytes"
#: liblzma memory limit: far above what xz -9 needs (65 MiB), far below a crafted header's ask.
LZMA_MEMLIMIT = 512 * MiB
#: ``ScanContext.stats`` key of the decompression bombs reported for the top-level file.
BOMBS_KEY = "bombs"
#: After this many bombs in one file (42.zip-style fan-out) the rest of it is not scanned.
MAX_BOMBS = 16
#: ``ScanContext.stats`` key of the archive members scanned for the top-level file.
MEMBERS_KEY = "archive_members"
_DECODE_ERRORS = (zlib.error, lzma.LZMAError, OSError, EOFError, ValueError, RuntimeError)


class DecompressionBomb(ScanLimitExceeded):
    """Compressed data expanded past the size budget or the ratio limit."""


class CorruptStream(MalformedInput):
    """Compressed data that cannot be decoded."""


class Decoder(Protocol):
    """The incremental decompressor interface shared by bz2, lzma and lz4.frame."""

    @property
    def eof(self) -> bool: ...

    @property
    def unused_data(self) -> bytes: ...

    @property
    def needs_input(self) -> bool: ...

    def decompress(self, data: bytes, max_length: int = -1) -> bytes: ...


class ZlibDecoder:
    """zlib's ``decompressobj`` behind the :class:`Decoder` interface (deflate, zlib, gzip)."""

    def __init__(self, wbits: int) -> None:
        self._obj = zlib.decompressobj(wbits)
        self._needs_input = True

    @property
    def eof(self) -> bool:
        return self._obj.eof

    @property
    def unused_data(self) -> bytes:
        return self._obj.unused_data

    @property
    def needs_input(self) -> bool:
        return self._needs_input

    @property
    def held_input(self) -> int:
        """Input bytes fed but not consumed yet (exact, unlike bz2/lzma's internal buffers)."""
        return len(self._obj.unconsumed_tail)

    def decompress(self, data: bytes, max_length: int = -1) -> bytes:
        out = self._obj.decompress(self._obj.unconsumed_tail + data, max(max_length, 0))
        # A full output buffer may leave output pending inside zlib: ask again before feeding.
        full = 0 < max_length <= len(out)
        self._needs_input = not self._obj.unconsumed_tail and not full
        return out


class ZipLzmaDecoder:
    """Zip method 14: version (2 bytes), properties size (2), LZMA1 properties, raw LZMA1."""

    _MAX_DICT = 256 * MiB

    def __init__(self) -> None:
        self._header = b""
        self._inner: lzma.LZMADecompressor | None = None

    @property
    def eof(self) -> bool:
        return self._inner is not None and self._inner.eof

    @property
    def unused_data(self) -> bytes:
        return b"" if self._inner is None else self._inner.unused_data

    @property
    def needs_input(self) -> bool:
        return self._inner is None or self._inner.needs_input

    def decompress(self, data: bytes, max_length: int = -1) -> bytes:
        if self._inner is None:
            self._header += data
            if len(self._header) < 4:
                return b""
            end = 4 + int.from_bytes(self._header[2:4], "little")
            if len(self._header) < end:
                return b""
            self._inner = lzma.LZMADecompressor(
                lzma.FORMAT_RAW, filters=[self._filter(self._header[4:end])]
            )
            data = self._header[end:]
        return self._inner.decompress(data, max_length)

    def _filter(self, props: bytes) -> dict[str, int]:
        if len(props) != 5 or props[0] >= 9 * 5 * 5:
            raise CorruptStream("zip LZMA member has invalid properties")
        lc, rest = props[0] % 9, props[0] // 9
        # NOTE: liblzma allocates the whole dictionary up front; a crafted 4 GiB one is a
        # memory bomb, and nothing a real writer produces needs more than the cap.
        dict_size = min(int.from_bytes(props[1:5], "little"), self._MAX_DICT)
        lp, pb = rest % 5, rest // 5
        return {"id": lzma.FILTER_LZMA1, "dict_size": dict_size, "lc": lc, "lp": lp, "pb": pb}


@dataclass
class StreamState:
    """What readers of one member learned; shared by every reader opened on it."""

    finished: bool = False
    truncated: bool = False
    crc: int = 0
    size: int = 0
    bomb: str | None = None


def charge_expansion(ctx: ScanContext, produced: int) -> None:
    """Count ``produced`` decompressed bytes against the per-file budget; raise when spent."""
    ctx.count(EXPANDED_KEY, produced)
    if ctx.stats[EXPANDED_KEY] > ctx.limits.max_expanded_bytes:
        raise DecompressionBomb(
            f"decompressed data exceeds the limit of {ctx.limits.max_expanded_bytes} bytes per file"
        )


def budget_spent(ctx: ScanContext) -> bool:
    """Whether archive scanning must stop for this file (every limit here is per top-level file).

    Stops once the decompression budget is used up, once bombs are many enough to call the file
    hostile, or once more members were scanned than ``max_members`` (nested archives count).
    """
    limits = ctx.limits
    return (
        ctx.stats.get(EXPANDED_KEY, 0) > limits.max_expanded_bytes
        or ctx.stats.get(BOMBS_KEY, 0) >= MAX_BOMBS
        or ctx.stats.get(MEMBERS_KEY, 0) > limits.max_members
    )


class DecompressingReader(io.RawIOBase):
    """Decodes ``source`` on read, charging the budget and checking the expansion ratio.

    Args:
        source: the compressed bytes (closed with the reader).
        new_decoder: makes a decoder; called again for each member of a multi-member stream.
        ctx: the scan context (budget, limits, deadline).
        state: where the outcome is recorded (CRC, size, truncation, bomb).
        expect_size: the declared uncompressed size, when the container gives one.
        restart_magic: the magic that starts another member after one ends (gzip, bz2, xz).
    """

    def __init__(
        self,
        source: BinaryIO,
        new_decoder: Callable[[], Decoder],
        ctx: ScanContext,
        state: StreamState,
        *,
        expect_size: int | None = None,
        restart_magic: bytes = b"",
    ) -> None:
        super().__init__()
        self._source, self._new_decoder, self._ctx, self._state = source, new_decoder, ctx, state
        self._expect_size, self._magic = expect_size, restart_magic
        self._decoder = new_decoder()
        self._pending = b""
        self._out = self._fed = self._crc = 0
        self._done = False

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    def tell(self) -> int:
        return self._out

    def close(self) -> None:
        if not self.closed:
            self._source.close()
        super().close()

    def readinto(self, buffer: WriteableBuffer) -> int:
        view = memoryview(buffer).cast("B")
        if self._done or not len(view):
            return 0
        data = self._produce(len(view))
        view[: len(data)] = data
        return len(data)

    def _produce(self, limit: int) -> bytes:
        stalls = 0
        while True:
            self._ctx.check_deadline()
            if self._decoder.eof and not self._restart():
                return self._finish(truncated=False)
            data = self._take_input() if self._decoder.needs_input else b""
            if self._decoder.needs_input and not data:
                complete = self._expect_size is not None and self._out == self._expect_size
                return self._finish(truncated=not complete)
            out = self._decode(data, limit)
            if out:
                self._account(out)
                return out
            stalls = 0 if data else stalls + 1
            if stalls > 2:
                raise CorruptStream("compressed data makes no progress")

    def _take_input(self) -> bytes:
        data, self._pending = self._pending or self._source.read(CHUNK), b""
        return data

    def _restart(self) -> bool:
        if not self._magic:
            return False
        rest = (self._decoder.unused_data or b"") + self._take_input()  # lz4 may give None
        if not rest.startswith(self._magic):
            return False  # trailing padding or garbage: every reader stops here too
        self._decoder, self._pending = self._new_decoder(), rest
        return True

    def _decode(self, data: bytes, limit: int) -> bytes:
        self._fed += len(data)
        try:
            return self._decoder.decompress(data, limit)
        except _DECODE_ERRORS as exc:
            raise CorruptStream(f"compressed data is corrupt: {exc}") from exc

    def _account(self, out: bytes) -> None:
        self._out += len(out)
        self._crc = zlib.crc32(out, self._crc)
        held = self._decoder.held_input if isinstance(self._decoder, ZlibDecoder) else 0
        consumed = max(self._fed - held, 1)
        ratio = self._out / consumed
        try:
            charge_expansion(self._ctx, len(out))
            if (
                self._out >= self._ctx.limits.ratio_grace_bytes
                and ratio > self._ctx.limits.max_ratio
            ):
                raise DecompressionBomb(
                    f"expands more than {self._ctx.limits.max_ratio:g}:1 "
                    f"({self._out} bytes from {consumed})"
                )
        except DecompressionBomb as exc:
            self._state.bomb = str(exc)
            raise

    def _finish(self, *, truncated: bool) -> bytes:
        self._done = True
        state = self._state
        state.finished, state.truncated, state.crc, state.size = (
            True,
            truncated,
            self._crc,
            self._out,
        )
        return b""


def open_decompressed(
    source: BinaryIO,
    new_decoder: Callable[[], Decoder],
    ctx: ScanContext,
    state: StreamState,
    *,
    expect_size: int | None = None,
    restart_magic: bytes = b"",
) -> BinaryIO:
    """A buffered decompressing stream; refuses to start once ``state`` recorded a bomb."""
    if state.bomb is not None:
        source.close()
        raise DecompressionBomb(state.bomb)
    raw = DecompressingReader(
        source, new_decoder, ctx, state, expect_size=expect_size, restart_magic=restart_magic
    )
    return io.BufferedReader(raw)


def disk_copy(data: bytes | memoryview) -> BinaryIO:
    """A temp file (deleted on close) holding ``data``, positioned at its end."""
    disk = cast(BinaryIO, tempfile.TemporaryFile())  # noqa: SIM115 - the caller owns it
    disk.write(data)
    return disk


def spool(stream: BinaryIO, ctx: ScanContext) -> BinaryIO:
    """Copy a non-seekable stream into memory, or a temp file past ``SPOOL_MEMORY``."""
    buffer: BinaryIO = io.BytesIO()
    total = 0
    while chunk := stream.read(MiB):
        ctx.check_deadline()
        total += len(chunk)
        if total > ctx.limits.max_expanded_bytes:
            buffer.close()
            raise ScanLimitExceeded(f"stream exceeds {ctx.limits.max_expanded_bytes} bytes")
        if total > SPOOL_MEMORY and isinstance(buffer, io.BytesIO):
            disk = disk_copy(buffer.getbuffer())
            buffer.close()
            buffer = disk
        buffer.write(chunk)
    buffer.seek(0)
    return buffer


@contextmanager
def seekable_source(artifact: Artifact, ctx: ScanContext) -> Iterator[tuple[BinaryIO, int]]:
    """Open ``artifact`` for random access (spooling it if needed); yield it with its size."""
    with artifact.open() as raw:
        if raw.seekable():
            size = raw.seek(0, io.SEEK_END)
            raw.seek(0)
            yield raw, size
            return
        spooled = spool(raw, ctx)
    with spooled:
        size = spooled.seek(0, io.SEEK_END)
        spooled.seek(0)
        yield spooled, size
