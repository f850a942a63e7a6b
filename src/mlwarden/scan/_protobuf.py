"""Bounded, streaming reader of the protobuf wire format with schema-driven partial decoding.

Scanners of protobuf-based formats (ONNX, TensorFlow) walk only the few fields they need:
graph nodes, operator names, external-data paths. A :data:`Schema` names the fields to
descend into; every other field is skipped without being read, by seeking when the stream
can seek and by reading and discarding in chunks when it cannot, so a multi-GB tensor payload
costs one seek. Depth, field count, string sizes and time are bounded; broken wire data raises
:class:`~mlwarden.errors.MalformedInput` naming the offset. Byte-level parsing lives in
``_protowire``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import BinaryIO

from mlwarden.errors import MalformedInput, ScanLimitExceeded
from mlwarden.scan._protowire import (
    EGROUP,
    LEN,
    MAX_FIELD_NUMBER,
    MAX_HEADER,
    SGROUP,
    Field,
    Source,
    Span,
    WireType,
    bad_group_end,
    parse_header,
    past_end,
)

__all__ = [
    "SCALAR_KINDS",
    "Field",
    "Message",
    "ProtoReader",
    "Schema",
    "Span",
    "Value",
    "WireType",
    "parse_header",
    "validate_schema",
    "walk",
]

_CHECK_EVERY = 1024

#: Leaf kinds a schema can ask for; any other kind names a message of the schema.
SCALAR_KINDS = frozenset({"varint", "string", "bytes", "prefix", "span"})

#: message name -> {field number -> scalar kind or message name}.
Schema = Mapping[str, Mapping[int, str]]


@dataclass(slots=True)
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

    def children(self) -> list[Message]:
        return [v for values in self.values.values() for v in values if isinstance(v, Message)]


#: A decoded field value: a sub-message, a string, bytes, an integer or an unread payload's span.
Value = Message | str | bytes | int | Span


def walk(root: Message) -> Iterator[tuple[tuple[Message, ...], Message]]:
    """Yield ``(ancestors, message)`` for ``root`` and every message below it, pre-order."""
    stack: list[tuple[tuple[Message, ...], Message]] = [((), root)]
    while stack:
        trail, msg = stack.pop()
        yield trail, msg
        below = (*trail, msg)
        stack.extend([(below, child) for child in msg.children()][::-1])


def validate_schema(schema: Schema) -> None:
    """Raise ``ValueError`` when a field kind is neither a scalar kind nor a schema message."""
    for name, fields in schema.items():
        for number, kind in fields.items():
            if kind not in SCALAR_KINDS and kind not in schema:
                raise ValueError(f"{name} field {number}: unknown kind {kind!r}")
            if not 1 <= number <= MAX_FIELD_NUMBER:
                raise ValueError(f"{name}: invalid field number {number}")


def _no_check() -> None:
    return None


class ProtoReader:
    """Reads protobuf fields from a binary stream within limits.

    Messages up to ``window`` bytes are read at once and decoded in memory; bigger ones are
    streamed, and the payloads of fields the schema does not ask for are skipped unread.

    Args:
        stream: the bytes; seekable streams skip unread payloads by seeking.
        size: the stream's length if known (else measured when seekable, or read to the end).
        check: called regularly in loops; raise from it to stop (``ctx.check_deadline``).
        max_depth: deepest message or group nesting followed (protobuf's own limit is 100).
        max_fields: most fields parsed in total before ``ScanLimitExceeded``.
        max_bytes: longest ``string``/``bytes`` value read; longer ones are malformed input.
        prefix_bytes: how much of a ``prefix`` field is read (the rest is skipped).
        window: largest message read whole into memory (0 streams everything).
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
        window: int = 64 * 1024,
    ) -> None:
        self._check = check or _no_check
        self._src = Source(stream, self._check)
        self.size = size if size is not None else self._src.measure()
        self.max_depth = max_depth
        self.max_fields = max_fields
        self.max_bytes = max_bytes
        self.prefix_bytes = prefix_bytes
        self.window = window
        self.fields_read = 0

    def peek(self, n: int) -> bytes:
        """Up to ``n`` bytes at the current position, left unconsumed (for format checks)."""
        return self._src.peek(n)

    def fields(self, start: int = 0, end: int | None = None) -> Iterator[Field]:
        """Iterate the fields of the message stored in ``[start, end)``, streaming.

        ``end=None`` means the end of the stream. After each field is yielded the reader moves
        to the next one, skipping whatever of the payload the caller did not consume.
        """
        end = self.size if end is None else end
        self._src.skip_to(start)
        pos = start
        while not (self._src.at_eof() if end is None else pos >= end):
            item = self._next_field(end, 0)
            if item.wire_type is WireType.EGROUP:
                raise MalformedInput(
                    f"end-group tag of field {item.number} at offset {item.offset} closes no group"
                )
            yield item
            pos = item.span.end
            self._src.skip_to(pos)

    def decode(self, schema: Schema, root: str, start: int = 0, end: int | None = None) -> Message:
        """Decode the fields ``schema`` selects from message ``root`` stored in ``[start, end)``.

        A field whose wire type does not match its kind is skipped, as protobuf parsers keep
        such a field as unknown; packed repeated varints are not decoded.
        """
        end = self.size if end is None else end
        if end is not None and end - start <= self.window:
            self._src.skip_to(start)
            data = self._src.read(end - start)
            return self._decode_memory(schema, root, data, 0, len(data), start, 0)
        return self._decode_stream(schema, root, start, end, 0)

    # --- shared helpers -----------------------------------------------------------------------

    def _enter(self, depth: int, offset: int) -> None:
        if depth > self.max_depth:
            raise ScanLimitExceeded(
                f"protobuf messages nest deeper than {self.max_depth} levels (offset {offset})"
            )

    def _count(self, n: int = 1) -> None:
        before = self.fields_read
        self.fields_read += n
        if self.fields_read > self.max_fields:
            raise ScanLimitExceeded(f"more than {self.max_fields} protobuf fields")
        if before // _CHECK_EVERY != self.fields_read // _CHECK_EVERY:
            self._check()

    def _check_size(self, offset: int, length: int) -> None:
        if length > self.max_bytes:
            raise MalformedInput(
                f"value at offset {offset} holds {length} bytes, "
                f"more than the {self.max_bytes} allowed for it"
            )

    # --- in-memory decoding (messages up to the window) ---------------------------------------

    def _decode_memory(
        self, schema: Schema, name: str, buf: bytes, i: int, end: int, base: int, depth: int
    ) -> Message:
        """Decode ``buf[i:end]``; ``buf[0]`` lies at stream offset ``base``."""
        self._enter(depth, base + i)
        spec, msg, count = schema[name], Message(name, base + i), 0
        while i < end:
            offset = i
            number, wire, value, i = parse_header(buf, i, base)
            count += 1
            if wire == LEN:
                stop = i + value
            elif wire == SGROUP:
                stop = self._skip_group_memory(buf, i, end, base, number, depth + 1)
            elif wire == EGROUP:
                raise MalformedInput(
                    f"end-group tag of field {number} at offset {base + offset} closes no group"
                )
            else:
                stop = i
            if stop > end:
                raise past_end(number, base + offset, base + end)
            kind = spec.get(number)
            if kind is not None:
                found = self._value(schema, kind, wire, value, buf, i, stop, base, depth)
                if found is not None:
                    msg.values.setdefault(number, []).append(found)
            i = stop
        # A window holds few enough fields to count them once per message.
        self._count(count)
        return msg

    def _value(
        self,
        schema: Schema,
        kind: str,
        wire: int,
        value: int,
        buf: bytes,
        i: int,
        stop: int,
        base: int,
        depth: int,
    ) -> Value | None:
        if kind == "varint":
            return value if wire == WireType.VARINT else None
        if wire != WireType.LEN:
            return None
        if kind == "span":
            return Span(base + i, stop - i)
        if kind == "prefix":
            return buf[i : min(stop, i + self.prefix_bytes)]
        if kind in ("bytes", "string"):
            self._check_size(base + i, stop - i)
            return (
                buf[i:stop] if kind == "bytes" else buf[i:stop].decode("utf-8", "surrogateescape")
            )
        return self._decode_memory(schema, kind, buf, i, stop, base, depth + 1)

    def _skip_group_memory(
        self, buf: bytes, i: int, end: int, base: int, number: int, depth: int
    ) -> int:
        start = i
        if depth > self.max_depth:
            raise ScanLimitExceeded(f"protobuf groups nest deeper than {self.max_depth} levels")
        while i < end:
            at = i
            inner, wire, value, i = parse_header(buf, i, base)
            self._count()
            if wire == WireType.EGROUP:
                if inner != number:
                    raise bad_group_end(number, inner, base + at)
                return i
            if wire == WireType.LEN:
                i += value
            elif wire == WireType.SGROUP:
                i = self._skip_group_memory(buf, i, end, base, inner, depth + 1)
        raise MalformedInput(
            f"group {number} starting before offset {base + start} is never closed"
        )

    # --- streaming (messages bigger than the window) ------------------------------------------

    def _decode_stream(
        self, schema: Schema, name: str, start: int, end: int | None, depth: int
    ) -> Message:
        self._enter(depth, start)
        spec, msg = schema[name], Message(name, start)
        for item in self.fields(start, end):
            kind = spec.get(item.number)
            if kind is not None:
                found = self._stream_value(schema, item, kind, depth)
                if found is not None:
                    msg.values.setdefault(item.number, []).append(found)
        return msg

    def _stream_value(self, schema: Schema, item: Field, kind: str, depth: int) -> Value | None:
        wire, length = item.wire_type, item.span.length
        if wire is not WireType.LEN or kind in ("varint", "span"):
            return self._value(
                schema, kind, wire, item.value, b"", 0, length, item.span.start, depth
            )
        if kind == "prefix":
            return self._src.read(min(length, self.prefix_bytes))
        if kind in ("bytes", "string"):
            self._check_size(item.span.start, length)
        elif length > self.window:
            return self._decode_stream(schema, kind, item.span.start, item.span.end, depth + 1)
        data = self._src.read(length)
        return self._value(schema, kind, wire, length, data, 0, length, item.span.start, depth)

    def _next_field(self, end: int | None, depth: int) -> Field:
        offset = self._src.pos
        window = self._src.peek(MAX_HEADER)
        number, wire, value, used = parse_header(window, 0, offset)
        self._src.skip_to(offset + used)
        self._count()
        # LEN: the payload after the header; otherwise the value after the tag.
        tag_length = next(k for k, byte in enumerate(window) if byte < 0x80) + 1
        start = offset + (used if wire == WireType.LEN else tag_length)
        if wire == WireType.SGROUP:
            self._skip_group_stream(number, end, depth + 1)
        stop = start + value if wire == WireType.LEN else self._src.pos
        if end is not None and stop > end:
            raise past_end(number, offset, end)
        return Field(number, WireType(wire), offset, value, Span(start, stop - start))

    def _skip_group_stream(self, number: int, end: int | None, depth: int) -> None:
        """Skip a (deprecated) group as parsers do: nested fields up to the matching end tag."""
        start = self._src.pos
        if depth > self.max_depth:
            raise ScanLimitExceeded(f"protobuf groups nest deeper than {self.max_depth} levels")
        while not (self._src.at_eof() if end is None else self._src.pos >= end):
            item = self._next_field(end, depth)
            if item.wire_type is WireType.EGROUP:
                if item.number != number:
                    raise bad_group_end(number, item.number, item.offset)
                return
            self._src.skip_to(item.span.end)
        raise MalformedInput(f"group {number} starting before offset {start} is never closed")
