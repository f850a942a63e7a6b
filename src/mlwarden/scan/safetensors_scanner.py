"""Scanner for safetensors files: validates the JSON header the way the reference loader does.

Safetensors cannot carry code, so what is left to check is that the header is one that the
Rust ``safetensors`` library would accept *and* that every parser reads the same way: header
size bounds, UTF-8 JSON object, no duplicate keys (parsers keep different copies), known
dtypes, consistent shapes and offsets, tensors that tile the data buffer exactly with no
overlap, hole or trailing bytes. Tensor data is never read. A valid file yields nothing.
"""

from __future__ import annotations

import json
import math
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

from mlwarden.findings import Finding, Severity
from mlwarden.scan.base import Artifact, ScanContext, finding

#: Bits per element, as the reference implementation's ``Dtype::bitsize`` defines them.
DTYPE_BITS: dict[str, int] = {
    "BOOL": 8,
    "F4": 4,
    "F6_E2M3": 6,
    "F6_E3M2": 6,
    "U8": 8,
    "I8": 8,
    "F8_E5M2": 8,
    "F8_E4M3": 8,
    "F8_E8M0": 8,
    "F8_E4M3FNUZ": 8,
    "F8_E5M2FNUZ": 8,
    "I16": 16,
    "U16": 16,
    "F16": 16,
    "BF16": 16,
    "I32": 32,
    "U32": 32,
    "F32": 32,
    "C64": 64,
    "F64": 64,
    "I64": 64,
    "U64": 64,
}
_TENSOR_KEYS = frozenset({"dtype", "shape", "data_offsets"})
_METADATA_KEY = "__metadata__"
_USIZE_MAX = 2**64 - 1
#: Stop listing problems after this many: one is enough to reject the file.
_MAX_PROBLEMS = 20


class _Invalid(Exception):
    """The header is unusable; stop checking."""


@dataclass(frozen=True)
class _Tensor:
    name: str
    begin: int
    end: int


def _read_exact(stream: BinaryIO, n: int) -> bytes:
    chunks: list[bytes] = []
    left = n
    while left > 0:
        chunk = stream.read(min(left, 16 * 1024 * 1024))
        if not chunk:
            break
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def _reject_constant(name: str) -> object:
    raise ValueError(f"non-standard JSON constant {name}")


class _Parser:
    """``json.loads`` with duplicate-key tracking (the standard library keeps the last copy)."""

    def __init__(self) -> None:
        self.duplicates: list[str] = []

    def _pairs(self, pairs: list[tuple[str, object]]) -> dict[str, object]:
        out: dict[str, object] = {}
        for key, value in pairs:
            if key in out:
                self.duplicates.append(key)
            out[key] = value
        return out

    def parse(self, text: str) -> object:
        try:
            return json.loads(text, object_pairs_hook=self._pairs, parse_constant=_reject_constant)
        except (ValueError, RecursionError, MemoryError) as exc:
            raise _Invalid(f"header is not valid JSON: {type(exc).__name__}: {exc}") from None


def _read_header(stream: BinaryIO, size: int | None, limit: int) -> tuple[int, str]:
    prefix = stream.read(8)
    if len(prefix) < 8:
        raise _Invalid("file is shorter than the 8-byte header length")
    (n,) = struct.unpack("<Q", prefix)
    if n > limit:
        raise _Invalid(f"header length {n} exceeds the limit of {limit} bytes")
    if size is not None and 8 + n > size:
        raise _Invalid(f"header length {n} runs past the end of the {size}-byte file")
    raw = _read_exact(stream, n)
    if len(raw) != n:
        raise _Invalid(f"file ends inside the header ({len(raw)} of {n} bytes)")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _Invalid(f"header is not valid UTF-8 (byte {exc.start})") from None
    return n, text


def _is_usize(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= _USIZE_MAX


def _check_name(name: str) -> str | None:
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return f"tensor name {name!r:.80} contains a lone surrogate"
    return None


def _check_metadata(value: object) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, dict):
        return [f"__metadata__ is a {type(value).__name__}, not an object of strings"]
    bad = [k for k, v in value.items() if not isinstance(v, str)]
    return [f"__metadata__ value for {k!r:.80} is not a string" for k in bad[:3]]


def _check_tensor(name: str, info: object) -> tuple[_Tensor | None, list[str]]:
    """Validate one entry; return its byte range when usable, and the problems found."""
    where = f"tensor {name!r:.80}"
    if not isinstance(info, dict):
        return None, [f"{where} is a {type(info).__name__}, not an object"]
    problems = []
    if set(info) != _TENSOR_KEYS:
        keys = ", ".join(sorted(info))
        problems.append(f"{where} has keys [{keys:.120}], expected dtype, shape, data_offsets")
    dtype, shape, offsets = info.get("dtype"), info.get("shape"), info.get("data_offsets")
    if not isinstance(dtype, str) or dtype not in DTYPE_BITS:
        problems.append(f"{where} has unknown dtype {dtype!r:.40}")
    if not isinstance(shape, list) or not all(_is_usize(d) for d in shape):
        problems.append(f"{where} shape {shape!r:.80} is not a list of non-negative integers")
    if not (isinstance(offsets, list) and len(offsets) == 2 and all(map(_is_usize, offsets))):
        problems.append(f"{where} data_offsets {offsets!r:.80} is not [begin, end]")
        return None, problems
    begin, end = offsets
    if begin > end:
        problems.append(f"{where} data_offsets [{begin}, {end}] end before they begin")
        return None, problems
    if not problems:
        problems.extend(_check_size(where, str(dtype), list(shape or ()), end - begin))
    return _Tensor(name, begin, end), problems


def _check_size(where: str, dtype: str, shape: list[int], nbytes: int) -> list[str]:
    bits = math.prod(shape) * DTYPE_BITS[dtype]
    if bits > _USIZE_MAX:
        return [f"{where} shape {shape} overflows the size computation"]
    if bits % 8:
        return [f"{where}: {math.prod(shape)} x {dtype} does not end on a byte boundary"]
    if bits // 8 != nbytes:
        return [f"{where}: shape {shape} x {dtype} needs {bits // 8} bytes, offsets give {nbytes}"]
    return []


def _check_layout(tensors: list[_Tensor], buffer_len: int | None) -> list[str]:
    """Tensors must tile ``[0, buffer_len)`` exactly: no hole, overlap or trailing bytes."""
    problems = []
    cursor, previous = 0, None
    for tensor in sorted(tensors, key=lambda t: (t.begin, t.end)):
        where = f"tensor {tensor.name!r:.80} at [{tensor.begin}, {tensor.end}]"
        if tensor.begin < cursor:
            problems.append(f"{where} overlaps tensor {previous!r:.80}")
        elif tensor.begin > cursor:
            problems.append(f"{where} leaves a hole of {tensor.begin - cursor} bytes before it")
        if buffer_len is not None and tensor.end > buffer_len:
            problems.append(f"{where} ends past the {buffer_len}-byte data buffer")
        if tensor.end >= cursor:
            cursor, previous = tensor.end, tensor.name
    if buffer_len is not None and cursor < buffer_len:
        problems.append(f"{buffer_len - cursor} bytes of trailing data follow the last tensor")
    return problems


def _check_document(document: object, buffer_len: int | None) -> list[str]:
    if not isinstance(document, dict):
        return [f"header is a JSON {type(document).__name__}, not an object"]
    problems = _check_metadata(document.get(_METADATA_KEY))
    tensors = []
    for name, info in document.items():
        if name == _METADATA_KEY:
            continue
        tensor, found = _check_tensor(name, info)
        problems.extend(found)
        if (name_problem := _check_name(name)) is not None:
            problems.append(name_problem)
        if tensor is not None:
            tensors.append(tensor)
    return problems + _check_layout(tensors, buffer_len)


class SafetensorsScanner:
    """Validates safetensors headers against the reference loader's rules, and stricter."""

    id = "safetensors"
    formats = frozenset({"safetensors"})

    def scan(self, artifact: Artifact, ctx: ScanContext) -> Iterator[Finding]:
        """Yield one ``SCAN-ST-001`` finding per problem; a valid file yields nothing."""
        try:
            problems = self._problems(artifact, ctx)
        except _Invalid as exc:
            problems = [str(exc)]
        for problem in problems[:_MAX_PROBLEMS]:
            yield finding("SCAN-ST-001", artifact.location, problem, evidence=problem[:120])
        if len(problems) > _MAX_PROBLEMS:
            more = len(problems) - _MAX_PROBLEMS
            yield finding(
                "SCAN-ST-001",
                artifact.location,
                f"{more} more header problems not listed",
                severity=Severity.MEDIUM,
            )

    def _problems(self, artifact: Artifact, ctx: ScanContext) -> list[str]:
        with artifact.open() as stream:
            n, text = _read_header(stream, artifact.size, ctx.limits.max_header_bytes)
        ctx.check_deadline()
        problems = []
        if not text.startswith("{"):
            problems.append(f"header starts with {text[:1]!r}, not '{{'")
        parser = _Parser()
        document = parser.parse(text)
        problems.extend(
            f"duplicate key {key!r:.80}: parsers disagree on which copy is used"
            for key in dict.fromkeys(parser.duplicates)
        )
        ctx.check_deadline()
        buffer_len = None if artifact.size is None else artifact.size - 8 - n
        return problems + _check_document(document, buffer_len)
