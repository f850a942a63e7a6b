"""The protobuf wire format at the byte level: wire types, field headers, a buffered source.

``parse_header`` decodes one field's tag and value (or payload length) from bytes; ``Source``
reads a stream forward through a buffer and skips payloads by seeking when it can, by reading
and discarding in chunks when it cannot. Every inconsistency raises
:class:`~mlwarden.errors.MalformedInput` naming the stream offset.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass
from enum import IntEnum
from typing import BinaryIO

from mlwarden.errors import MalformedInput

_MAX_VARINT_BYTES = 10
_MASK64 = (1 << 64) - 1
MAX_FIELD_NUMBER = (1 << 29) - 1
#: protobuf refuses lengths that do not fit a signed 32-bit int.
_MAX_LENGTH = (1 << 31) - 1
#: A tag and the value or length after it never take more bytes than this.
MAX_HEADER = 2 * _MAX_VARINT_BYTES
_CHUNK = 64 * 1024


class WireType(IntEnum):
    """The six wire types of the protobuf encoding."""

    VARINT = 0
    I64 = 1
    LEN = 2
    SGROUP = 3
    EGROUP = 4
    I32 = 5


@dataclass(frozen=True)
class Span:
    """Where a payload lies in the stream (offsets from the reader's start), without its bytes."""

    start: int
    length: int

    @property
    def end(self) -> int:
        return self.start + self.length


@dataclass(frozen=True)
class Field:
    """One field as read from the wire.

    Attributes:
        number: the field number.
        wire_type: how the value is encoded.
        offset: where the field's tag starts.
        value: the integer value (VARINT, I64, I32) or the payload length (LEN); 0 for groups.
        span: the payload (LEN) or the encoded value; ``span.end`` is where the next field starts.
    """

    number: int
    wire_type: WireType
    offset: int
    value: int
    span: Span


VARINT, I64, LEN, SGROUP, EGROUP, I32 = (int(w) for w in WireType)


def _varint_at(buf: bytes, i: int, base: int) -> tuple[int, int]:
    start, result = i, 0
    for shift in range(0, 7 * _MAX_VARINT_BYTES, 7):
        if i >= len(buf):
            raise MalformedInput(f"truncated varint at offset {base + start}")
        byte = buf[i]
        i += 1
        result |= (byte & 0x7F) << shift
        if byte < 0x80:
            return result & _MASK64, i
    raise MalformedInput(
        f"varint at offset {base + start} is longer than {_MAX_VARINT_BYTES} bytes"
    )


def parse_header(buf: bytes, i: int, base: int = 0) -> tuple[int, int, int, int]:
    """Parse the field starting at ``buf[i]`` (stream offset ``base + i``).

    Returns:
        ``(number, wire type, value, index after the header)``; the value is the integer of
        VARINT, I32 and I64 fields, the payload length of LEN fields (the payload follows the
        header) and 0 for group tags.
    """
    # One-byte tags and values are the common case: decode them inline (hot loop).
    if i < len(buf) and buf[i] < 0x80:
        tag, j = buf[i], i + 1
    else:
        tag, j = _varint_at(buf, i, base)
    number, wire = tag >> 3, tag & 7
    if number == 0 or number > MAX_FIELD_NUMBER:
        raise MalformedInput(f"invalid field number {number} at offset {base + i}")
    if wire in (VARINT, LEN):
        if j < len(buf) and buf[j] < 0x80:
            value, j = buf[j], j + 1
        else:
            value, j = _varint_at(buf, j, base)
        if wire == LEN and value > _MAX_LENGTH:
            raise MalformedInput(f"field {number} at offset {base + i} has length {value} > 2 GiB")
        return number, wire, value, j
    if wire > I32:
        raise MalformedInput(f"invalid wire type {wire} for field {number} at offset {base + i}")
    width = 8 if wire == I64 else 4 if wire == I32 else 0
    if j + width > len(buf):
        raise MalformedInput(f"{width}-byte field {number} at offset {base + i} is cut short")
    return number, wire, int.from_bytes(buf[j : j + width], "little"), j + width


def past_end(number: int, offset: int, end: int) -> MalformedInput:
    return MalformedInput(
        f"field {number} at offset {offset} runs past the end of its message at {end}"
    )


class Source:
    """Forward reader with a buffer; seeks over skipped bytes when the stream allows it.

    Offsets are relative to the stream position at construction. Invariant: the stream's
    position is ``_base + _buf_start + len(_buf)``.
    """

    def __init__(self, stream: BinaryIO, check: Callable[[], None]) -> None:
        self._stream = stream
        self._check = check
        try:
            self.seekable = stream.seekable()
            self._base = stream.tell() if self.seekable else 0
        except (OSError, io.UnsupportedOperation):
            self.seekable, self._base = False, 0
        self._buf = b""
        self._buf_start = 0
        self._i = 0

    @property
    def pos(self) -> int:
        return self._buf_start + self._i

    def measure(self) -> int | None:
        """The stream's length from the start offset, or ``None`` when it cannot seek."""
        if not self.seekable:
            return None
        end = self._stream.seek(0, io.SEEK_END)
        self._stream.seek(self._base + self._buf_start + len(self._buf))
        return end - self._base

    def peek(self, n: int) -> bytes:
        """Up to ``n`` bytes from the current position (fewer only at the end), unconsumed."""
        while len(self._buf) - self._i < n:
            more = self._stream.read(max(_CHUNK, n))
            if not more:
                break
            self._buf_start += self._i
            self._buf, self._i = self._buf[self._i :] + more, 0
        return self._buf[self._i : self._i + n]

    def at_eof(self) -> bool:
        return not self.peek(1)

    def read(self, n: int) -> bytes:
        taken = self._buf[self._i : self._i + n]
        if len(taken) == n:
            self._i += n
            return taken
        start = self.pos
        parts, need = [taken], n - len(taken)
        self._buf_start, self._buf, self._i = self.pos + len(taken), b"", 0
        while need:
            chunk = self._stream.read(min(need, 16 * _CHUNK))
            if not chunk:
                raise MalformedInput(f"{n}-byte payload at offset {start} is cut short")
            parts.append(chunk)
            need -= len(chunk)
            self._buf_start += len(chunk)
            self._check()
        return b"".join(parts)

    def skip_to(self, target: int) -> None:
        """Move to ``target`` without reading what lies between when the stream can seek."""
        if self._buf_start <= target <= self._buf_start + len(self._buf):
            self._i = target - self._buf_start
        elif self.seekable:
            self._stream.seek(self._base + target)
            self._buf_start, self._buf, self._i = target, b"", 0
        elif target < self.pos:
            raise MalformedInput(f"cannot go back to offset {target} in a non-seekable stream")
        else:
            self._discard_to(target)

    def _discard_to(self, target: int) -> None:
        self._buf_start, self._buf, self._i = self._buf_start + len(self._buf), b"", 0
        while self._buf_start < target:
            chunk = self._stream.read(min(target - self._buf_start, 16 * _CHUNK))
            if not chunk:
                raise MalformedInput(f"data ends at offset {self._buf_start}, before {target}")
            self._buf_start += len(chunk)
            self._check()


def bad_group_end(number: int, closing: int, offset: int) -> MalformedInput:
    return MalformedInput(f"group {number} closed by field {closing}'s end tag at offset {offset}")
