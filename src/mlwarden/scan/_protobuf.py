"""Bounded, streaming reader of the protobuf wire format with schema-driven partial decoding.

Scanners of protobuf-based formats (ONNX, TensorFlow) walk only the few fields they need:
graph nodes, operator names, external-data paths. A :data:`Schema` names the fields to
descend into; every other field is skipped without being read, by seeking when the stream
can seek and by reading and discarding in chunks when it cannot, so a multi-GB tensor payload
costs one seek. Depth, field count, string sizes and time are bounded; broken wire data raises
:class:`~mlwarden.errors.MalformedInput` naming the offset.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from enum import IntEnum
from typing import BinaryIO

from mlwarden.errors import MalformedInput, ScanLimitExceeded

_MAX_VARINT_BYTES = 10
_MASK64 = (1 << 64) - 1
_MAX_FIELD_NUMBER = (1 << 29) - 1
#: protobuf refuses lengths that do not fit a signed 32-bit int.
_MAX_LENGTH = (1 << 31) - 1
_CHUNK = 64 * 1024
_CHECK_EVERY = 1024

#: Leaf kinds a schema can ask for; any other kind names a message of the schema.
SCALAR_KINDS = frozenset({"varint", "string", "bytes", "prefix", "span"})

#: message name -> {field number -> scalar kind or message name}.
Schema = Mapping[str, Mapping[int, str]]


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


@dataclass
class Message:
    """The fields a schema selected from one message, in wire order per field number."""

    name: str
    offset: int
    values: dict[int, list[Value]] = field(default_factory=dict)

    def messages(self, number: int) -> list[Message]:
        return [v for v in self.values.get(number, ()) if isinstance(v, Message)]

    def strings(self, number: int) -> list[str]:
        return [v for v in self.values.get(number, ()) if isinstance(v, str)]

    def string(self, number: int, default: str = "") -> str:
        """The last value of a string field (protobuf's last-one-wins rule for scalars)."""
        found = self.strings(number)
        return found[-1] if found else default

    def blobs(self, number: int) -> list[bytes]:
        return [v for v in self.values.get(number, ()) if isinstance(v, bytes)]

    def ints(self, number: int) -> list[int]:
        return [v for v in self.values.get(number, ()) if isinstance(v, int)]

    def children(self) -> Iterator[Message]:
        for values in self.values.values():
            yield from (v for v in values if isinstance(v, Message))


#: A decoded field value: a sub-message, a string, bytes, an integer or an unread payload's span.
Value = Message | str | bytes | int | Span


def walk(root: Message) -> Iterator[tuple[tuple[Message, ...], Message]]:
    """Yield ``(ancestors, message)`` for ``root`` and every message below it, pre-order."""
    stack: list[tuple[tuple[Message, ...], Message]] = [((), root)]
    while stack:
        trail, msg = stack.pop()
        yield trail, msg
        below = (*trail, msg)
        stack.extend((below, child) for child in reversed(list(msg.children())))


def validate_schema(schema: Schema) -> None:
    """Raise ``ValueError`` when a field kind is neither a scalar kind nor a schema message."""
    for name, fields in schema.items():
        for number, kind in fields.items():
            if kind not in SCALAR_KINDS and kind not in schema:
                raise ValueError(f"{name} field {number}: unknown kind {kind!r}")
            if not 1 <= number <= _MAX_FIELD_NUMBER:
                raise ValueError(f"{name}: invalid field number {number}")


def _no_check() -> None:
    return None


class _Source:
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

    def _fill(self) -> bool:
        self._buf_start += len(self._buf)
        self._buf = self._stream.read(_CHUNK)
        self._i = 0
        return bool(self._buf)

    def peek(self, n: int) -> bytes:
        """Up to ``n`` bytes from the current position, without consuming them."""
        while len(self._buf) - self._i < n:
            more = self._stream.read(max(_CHUNK, n))
            if not more:
                break
            self._buf_start += self._i
            self._buf, self._i = self._buf[self._i :] + more, 0
        return self._buf[self._i : self._i + n]

    def at_eof(self) -> bool:
        return self._i >= len(self._buf) and not self._fill()

    def varint(self) -> int:
        start, result = self.pos, 0
        for k in range(_MAX_VARINT_BYTES):
            if self._i >= len(self._buf) and not self._fill():
                raise MalformedInput(f"truncated varint at offset {start}")
            byte = self._buf[self._i]
            self._i += 1
            result |= (byte & 0x7F) << (7 * k)
            if byte < 0x80:
                return result & _MASK64
        raise MalformedInput(f"varint at offset {start} is longer than {_MAX_VARINT_BYTES} bytes")

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
                raise MalformedInput(f"{n}-byte value at offset {start} is cut short by the end")
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


class ProtoReader:
    """Reads protobuf fields from a binary stream within limits.

    Args:
        stream: the bytes; seekable streams skip unread payloads by seeking.
        size: the stream's length if known (else measured when seekable, or read to the end).
        check: called regularly in loops; raise from it to stop (``ctx.check_deadline``).
        max_depth: deepest message or group nesting followed (protobuf's own limit is 100).
        max_fields: most fields parsed in total before ``ScanLimitExceeded``.
        max_bytes: longest ``string``/``bytes`` value read; longer ones are malformed input.
        prefix_bytes: how much of a ``prefix`` field is read (the rest is skipped).
    """

    def __init__(
        self,
        stream: BinaryIO,
        *,
        size: int | None = None,
        check: Callable[[], None] | None = None,
        max_depth: int = 100,
        max_fields: int = 5_000_000,
        max_bytes: int = 64 * 1024,
        prefix_bytes: int = 256,
    ) -> None:
        self._check = check or _no_check
        self._src = _Source(stream, self._check)
        self.size = size if size is not None else self._src.measure()
        self.max_depth = max_depth
        self.max_fields = max_fields
        self.max_bytes = max_bytes
        self.prefix_bytes = prefix_bytes
        self.fields_read = 0

    def peek(self, n: int) -> bytes:
        """Up to ``n`` bytes at the current position, left unconsumed (for format checks)."""
        return self._src.peek(n)

    def fields(self, start: int = 0, end: int | None = None) -> Iterator[Field]:
        """Iterate the fields of the message stored in ``[start, end)``.

        ``end=None`` means the end of the stream. After each field is yielded the reader moves
        to the next one, skipping whatever of the payload the caller did not consume.
        """
        end = self.size if end is None else end
        self._src.skip_to(start)
        pos = start
        while not self._finished(pos, end):
            item = self._next_field(end, 0)
            if item.wire_type is WireType.EGROUP:
                raise MalformedInput(
                    f"end-group tag of field {item.number} at offset {item.offset} closes no group"
                )
            yield item
            pos = item.span.end
            self._src.skip_to(pos)

    def read_bytes(self, item: Field, limit: int | None = None) -> bytes:
        """The payload of a LEN field; one longer than ``limit`` is malformed input."""
        limit = self.max_bytes if limit is None else limit
        if item.wire_type is not WireType.LEN:
            raise ValueError(f"field {item.number} is not length-delimited")
        if item.span.length > limit:
            raise MalformedInput(
                f"field {item.number} at offset {item.offset} holds {item.span.length} bytes, "
                f"more than the {limit} allowed for it"
            )
        self._src.skip_to(item.span.start)
        return self._src.read(item.span.length)

    def decode(self, schema: Schema, root: str, start: int = 0, end: int | None = None) -> Message:
        """Decode the fields ``schema`` selects from message ``root`` stored in ``[start, end)``.

        A field whose wire type does not match its kind is skipped, as protobuf parsers keep
        such a field as unknown; packed repeated varints are not decoded.
        """
        return self._decode(schema, root, start, end, 0)

    def _decode(
        self, schema: Schema, name: str, start: int, end: int | None, depth: int
    ) -> Message:
        if depth > self.max_depth:
            raise ScanLimitExceeded(
                f"protobuf messages nest deeper than {self.max_depth} levels (offset {start})"
            )
        spec = schema[name]
        msg = Message(name, start)
        for item in self.fields(start, end):
            kind = spec.get(item.number)
            if kind is None:
                continue
            value = self._value(schema, item, kind, depth)
            if value is not None:
                msg.values.setdefault(item.number, []).append(value)
        return msg

    def _value(self, schema: Schema, item: Field, kind: str, depth: int) -> Value | None:
        if kind == "varint":
            return item.value if item.wire_type is WireType.VARINT else None
        if item.wire_type is not WireType.LEN:
            return None
        if kind == "span":
            return item.span
        if kind == "prefix":
            self._src.skip_to(item.span.start)
            return self._src.read(min(item.span.length, self.prefix_bytes))
        if kind in ("bytes", "string"):
            data = self.read_bytes(item)
            return data if kind == "bytes" else data.decode("utf-8", "surrogateescape")
        return self._decode(schema, kind, item.span.start, item.span.end, depth + 1)

    def _finished(self, pos: int, end: int | None) -> bool:
        if end is None:
            return self._src.at_eof()
        return pos >= end

    def _count(self) -> None:
        self.fields_read += 1
        if self.fields_read > self.max_fields:
            raise ScanLimitExceeded(f"more than {self.max_fields} protobuf fields")
        if self.fields_read % _CHECK_EVERY == 0:
            self._check()

    def _next_field(self, end: int | None, depth: int) -> Field:
        offset = self._src.pos
        tag = self._src.varint()
        number, wire = tag >> 3, tag & 7
        if number == 0 or number > _MAX_FIELD_NUMBER:
            raise MalformedInput(f"invalid field number {number} at offset {offset}")
        if wire > WireType.I32:
            raise MalformedInput(f"invalid wire type {wire} for field {number} at offset {offset}")
        self._count()
        wire_type = WireType(wire)
        if wire_type is WireType.LEN:
            return self._len_field(number, offset, end)
        start, value = self._src.pos, 0
        if wire_type is WireType.VARINT:
            value = self._src.varint()
        elif wire_type is WireType.I64:
            value = int.from_bytes(self._src.read(8), "little")
        elif wire_type is WireType.I32:
            value = int.from_bytes(self._src.read(4), "little")
        elif wire_type is WireType.SGROUP:
            self._skip_group(number, offset, end, depth + 1)
        stop = self._src.pos
        if end is not None and stop > end:
            raise MalformedInput(
                f"field {number} at offset {offset} runs past the end of its message at {end}"
            )
        return Field(number, wire_type, offset, value, Span(start, stop - start))

    def _len_field(self, number: int, offset: int, end: int | None) -> Field:
        length = self._src.varint()
        start = self._src.pos
        if length > _MAX_LENGTH:
            raise MalformedInput(f"field {number} at offset {offset} has length {length} > 2 GiB")
        if end is not None and start + length > end:
            raise MalformedInput(
                f"field {number} at offset {offset} has length {length}, past the end of its "
                f"message at {end}"
            )
        return Field(number, WireType.LEN, offset, length, Span(start, length))

    def _skip_group(self, number: int, offset: int, end: int | None, depth: int) -> None:
        """Skip a (deprecated) group as parsers do: nested fields up to the matching end tag."""
        if depth > self.max_depth:
            raise ScanLimitExceeded(f"protobuf groups nest deeper than {self.max_depth} levels")
        while not self._finished(self._src.pos, end):
            item = self._next_field(end, depth)
            if item.wire_type is WireType.EGROUP:
                if item.number != number:
                    raise MalformedInput(
                        f"group {number} at offset {offset} closed by field {item.number}'s "
                        f"end tag at offset {item.offset}"
                    )
                return
            self._src.skip_to(item.span.end)
        raise MalformedInput(f"group {number} at offset {offset} is never closed")
