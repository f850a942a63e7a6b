"""Scanner for GGUF files (llama.cpp models): bounded header parsing and chat-template SSTI.

The header (magic, version, counts), every metadata key/value and every tensor description is
parsed with bounds on string and array lengths, nesting and total bytes; tensor data is never
read. Big arrays (a 150k-token vocabulary) are skipped element by element without keeping
them. Scalar strings are kept only long enough to see whether they are chat templates or
contain Jinja syntax; those are checked for server-side template injection that reaches
Python internals (CVE-2024-34359: llama-cpp-python rendered them without a sandbox).
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import BinaryIO

from mlwarden.findings import Finding, Severity
from mlwarden.scan.base import Artifact, ScanContext, finding
from mlwarden.scan.chat_template import analyse_template

MAGIC = b"GGUF"
MAX_STRING = 16 * 1024 * 1024
MAX_KEY = 65535  # the GGUF spec's bound on key length
MAX_ARRAY_DEPTH = 2
MAX_DIMS = 4  # GGML_MAX_DIMS
TEMPLATE_KEY = "tokenizer.chat_template"
DEFAULT_ALIGNMENT = 32
_STRING, _ARRAY = 8, 9
#: Scalar value types: GGUF type id -> struct code.
_SCALARS = {
    0: "B",
    1: "b",
    2: "H",
    3: "h",
    4: "I",
    5: "i",
    6: "f",
    7: "?",
    10: "Q",
    11: "q",
    12: "d",
}
_CHUNK = 1024 * 1024
_DEADLINE_EVERY = 65536
_INT64_MAX = 2**63 - 1


class _Malformed(Exception):
    """The file breaks the GGUF format or a limit; the message says where."""


class _Reader:
    """Buffered little/big-endian reads that never go past the file or the byte budget."""

    def __init__(self, stream: BinaryIO, size: int | None, budget: int) -> None:
        self._stream = stream
        self._size = size
        self._budget = budget
        self._buf = b""
        self._pos = 0
        self.offset = 0
        self.endian = "<"
        self._layouts: dict[str, struct.Struct] = {}

    def reserve(self, n: int, what: str) -> None:
        """Fail unless ``n`` more bytes fit in both the file and the byte budget."""
        end = self.offset + n
        if self._size is not None and end > self._size:
            raise _Malformed(f"file ends at {self._size} inside {what} (needs {end} bytes)")
        if end > self._budget:
            raise _Malformed(f"header exceeds the {self._budget}-byte limit while reading {what}")

    def take(self, n: int, what: str) -> bytes:
        self.reserve(n, what)
        if len(self._buf) - self._pos < n:
            parts = [self._buf[self._pos :]]
            have = len(parts[0])
            while have < n:
                more = self._stream.read(max(n - have, _CHUNK))
                if not more:
                    raise _Malformed(f"file ends inside {what}")
                parts.append(more)
                have += len(more)
            self._buf, self._pos = b"".join(parts), 0
        data = self._buf[self._pos : self._pos + n]
        self._pos += n
        self.offset += n
        return data

    def skip(self, n: int, what: str) -> None:
        self.reserve(n, what)
        available = len(self._buf) - self._pos
        if n <= available:
            self._pos += n
            self.offset += n
            return
        self._buf, self._pos = b"", 0
        self.offset += available
        left = n - available
        while left > 0:  # read rather than seek: works on any stream and notices EOF
            chunk = self._stream.read(min(left, _CHUNK))
            if not chunk:
                raise _Malformed(f"file ends inside {what}")
            left -= len(chunk)
            self.offset += len(chunk)

    def _layout(self, code: str) -> struct.Struct:
        layout = self._layouts.get(code)
        if layout is None:
            layout = self._layouts[code] = struct.Struct(self.endian + code)
        return layout

    def unpack(self, code: str, what: str) -> int | float | bool:
        layout = self._layout(code)
        value: int | float | bool = layout.unpack(self.take(layout.size, what))[0]
        return value

    def skip_strings(self, count: int, wide: bool, what: str, tick: Callable[[], None]) -> None:
        """Skip ``count`` length-prefixed strings; the hot loop of a vocabulary array."""
        layout = self._layout("Q" if wide else "I")
        width = layout.size
        end = min(self._budget, self._size if self._size is not None else self._budget)
        for index in range(count):
            if len(self._buf) - self._pos < width:
                self._refill(width, what)
            (n,) = layout.unpack_from(self._buf, self._pos)
            if n > MAX_STRING:
                raise _Malformed(f"element {index} of {what} is {n} bytes, over {MAX_STRING}")
            step = width + n
            if self._pos + step <= len(self._buf) and self.offset + step <= end:
                self._pos += step
                self.offset += step
            else:
                self.skip(width, what)
                self.skip(n, what)
            if index % _DEADLINE_EVERY == _DEADLINE_EVERY - 1:
                tick()

    def _refill(self, need: int, what: str) -> None:
        self._buf, self._pos = self._buf[self._pos :] + self._stream.read(_CHUNK), 0
        if len(self._buf) < need:
            raise _Malformed(f"file ends inside {what}")

    def set_big_endian(self) -> None:
        self.endian = ">"
        self._layouts.clear()

    def count(self, wide: bool, what: str) -> int:
        return int(self.unpack("Q" if wide else "I", what))


@dataclass
class _Header:
    """What the scan keeps: strings to analyse and the layout facts it checks."""

    version: int = 0
    wide: bool = True
    alignment: int = DEFAULT_ALIGNMENT
    templates: list[tuple[str, str]] = field(default_factory=list)


def _keep(key: str, text: str) -> bool:
    return key.startswith(TEMPLATE_KEY) or "{{" in text or "{%" in text


class _Parser:
    def __init__(self, reader: _Reader, ctx: ScanContext) -> None:
        self.r = reader
        self.ctx = ctx
        self.header = _Header()

    def string(self, what: str, keep: bool, limit: int = MAX_STRING) -> bytes | None:
        n = self.r.count(self.header.wide, what)
        if n > limit:
            raise _Malformed(f"{what} is {n} bytes long, over the {limit}-byte limit")
        if keep:
            return self.r.take(n, what)
        self.r.skip(n, what)
        return None

    def preamble(self) -> tuple[int, int]:
        if self.r.take(4, "magic") != MAGIC:
            raise _Malformed("missing GGUF magic")
        version = int(self.r.unpack("I", "version"))
        if version & 0xFFFF == 0:  # a big-endian file read as little-endian
            self.r.set_big_endian()
            version = int.from_bytes(version.to_bytes(4, "little"), "big")
        if version not in (1, 2, 3):
            raise _Malformed(f"unsupported GGUF version {version}")
        self.header.version, self.header.wide = version, version >= 2
        tensors = self.r.count(self.header.wide, "tensor count")
        kvs = self.r.count(self.header.wide, "metadata count")
        return tensors, kvs

    def metadata(self, count: int) -> None:
        seen: set[str] = set()
        for index in range(count):
            raw = self.string(f"key #{index}", keep=True, limit=MAX_KEY) or b""
            try:
                key = raw.decode("utf-8")
            except UnicodeDecodeError:
                raise _Malformed(f"key #{index} is not valid UTF-8") from None
            if key in seen:
                raise _Malformed(f"duplicate key {key!r}: loaders disagree on which value wins")
            seen.add(key)
            vtype = int(self.r.unpack("I", f"type of {key!r}"))
            self.value(key, vtype, 0)
            self.ctx.check_deadline()

    def value(self, key: str, vtype: int, depth: int) -> None:
        if vtype in _SCALARS:
            value = self.r.unpack(_SCALARS[vtype], f"value of {key!r}")
            if key == "general.alignment" and depth == 0:
                self.alignment(vtype, int(value))
        elif vtype == _STRING:
            data = self.string(f"value of {key!r}", keep=True) or b""
            text = data.decode("utf-8", "replace")
            if depth == 0 and _keep(key, text):
                self.header.templates.append((key, text))
        elif vtype == _ARRAY:
            self.array(key, depth)
        else:
            raise _Malformed(f"key {key!r} has unknown value type {vtype}")

    def alignment(self, vtype: int, value: int) -> None:
        if vtype != 4 or value <= 0 or value & (value - 1):
            raise _Malformed(f"general.alignment must be a u32 power of two, got {value}")
        self.header.alignment = value

    def array(self, key: str, depth: int) -> None:
        if depth >= MAX_ARRAY_DEPTH:
            raise _Malformed(f"key {key!r} nests arrays deeper than {MAX_ARRAY_DEPTH}")
        etype = int(self.r.unpack("I", f"array type of {key!r}"))
        count = self.r.count(self.header.wide, f"array length of {key!r}")
        if etype in _SCALARS:
            self.r.skip(count * struct.calcsize(_SCALARS[etype]), f"array {key!r}")
            return
        if etype not in (_STRING, _ARRAY):
            raise _Malformed(f"array {key!r} has unknown element type {etype}")
        length_size = 8 if self.header.wide else 4
        smallest = length_size if etype == _STRING else 4 + length_size
        self.r.reserve(count * smallest, f"array {key!r} of {count} elements")
        if etype == _STRING:
            self.r.skip_strings(count, self.header.wide, f"array {key!r}", self.ctx.check_deadline)
            return
        for _ in range(count):
            self.array(key, depth + 1)
            self.ctx.check_deadline()

    def tensors(self, count: int) -> int:
        """Read the tensor descriptions; return the highest data offset they use."""
        names: set[bytes] = set()
        highest = previous = 0
        for index in range(count):
            name = self.string(f"name of tensor #{index}", keep=True) or b""
            where = f"tensor {name.decode('utf-8', 'replace')!r}"
            if name in names:
                raise _Malformed(f"duplicate {where}")
            names.add(name)
            self.shape(where)
            self.r.unpack("I", f"type of {where}")
            offset = int(self.r.unpack("Q", f"offset of {where}"))
            if offset % self.header.alignment or offset < previous:
                raise _Malformed(f"{where} has misaligned or out-of-order data offset {offset}")
            previous = highest = offset
            if index % 1024 == 1023:
                self.ctx.check_deadline()
        return highest

    def shape(self, where: str) -> None:
        n_dims = int(self.r.unpack("I", f"dimensions of {where}"))
        if n_dims > MAX_DIMS:
            raise _Malformed(f"{where} has {n_dims} dimensions, more than {MAX_DIMS}")
        elements = 1
        for _ in range(n_dims):
            dim = self.r.count(self.header.wide, f"shape of {where}")
            elements *= dim
            if dim > _INT64_MAX or elements > _INT64_MAX:
                raise _Malformed(f"{where} has more elements than fit in int64")


class GgufScanner:
    """Parses GGUF metadata within limits and checks chat templates for template injection."""

    id = "gguf"
    formats = frozenset({"gguf"})

    def scan(self, artifact: Artifact, ctx: ScanContext) -> Iterator[Finding]:
        """Yield malformed-header and template-injection findings for one GGUF artifact."""
        problem = None
        with artifact.open() as stream:
            reader = _Reader(stream, artifact.size, ctx.limits.max_header_bytes)
            parser = _Parser(reader, ctx)
            try:
                self._parse(parser, artifact.size)
            except _Malformed as exc:
                problem = str(exc)
        if problem is not None:
            yield finding("SCAN-GGUF-002", artifact.location, f"malformed GGUF: {problem}")
        # Templates read before any damage still reach runtimes that parse leniently.
        for key, text in parser.header.templates:
            yield from self._template(artifact, key, text)

    def _parse(self, parser: _Parser, size: int | None) -> None:
        tensors, kvs = parser.preamble()
        key_bytes = 13 if parser.header.wide else 9
        if size is not None and (kvs * key_bytes > size or tensors * 24 > size):
            raise _Malformed(f"declares {kvs} keys and {tensors} tensors, more than fit the file")
        parser.metadata(kvs)
        highest = parser.tensors(tensors)
        alignment = parser.header.alignment
        data_start = -(-parser.r.offset // alignment) * alignment
        if size is not None and tensors and data_start + highest > size:
            raise _Malformed(f"tensor data offset {highest} lies past the end of the file")

    def _template(self, artifact: Artifact, key: str, text: str) -> Iterator[Finding]:
        is_template = key.startswith(TEMPLATE_KEY)
        for issue in analyse_template(text):
            if issue.kind == "injection":
                yield finding(
                    "SCAN-GGUF-001",
                    artifact.location,
                    f"{key}: {issue.message}",
                    evidence=f"{key}: {issue.evidence}",
                    confidence=issue.confidence,
                )
            elif is_template:
                yield finding(
                    "SCAN-GGUF-002",
                    artifact.location,
                    f"{key}: {issue.message}",
                    evidence=f"{key}: {issue.evidence}",
                    severity=Severity.LOW,
                )
