"""Scanner for NumPy ``.npy`` files: header checks, object arrays and appended pickles.

The header is a Python dict literal. It is parsed with :func:`ast.literal_eval` under a
length bound and validated without numpy: keys, shape, ``fortran_order`` and the dtype
description (nested structured dtypes included). Array data is never read: the expected
data size comes from the header and is compared with the file size. Object arrays store a
pickle after the header, and a pickle appended after numeric data is still a pickle; both are
handed back to the dispatcher as a ``.pkl`` child, read through a bounded window.
"""

from __future__ import annotations

import ast
import io
import math
import re
import struct
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import BinaryIO

from mlwarden.findings import Finding, Severity
from mlwarden.scan.base import Artifact, ScanContext, finding
from mlwarden.scan.window import Window

MAGIC = b"\x93NUMPY"
#: numpy.load refuses longer headers unless ``max_header_size`` is raised.
NUMPY_HEADER_LIMIT = 10_000
#: Past this we do not parse at all; np.save never gets near it for real dtypes.
MAX_HEADER_BYTES = 1024 * 1024
_MAX_DESCR_DEPTH = 32
_MAX_DIMS = 64  # NPY_MAXDIMS in numpy 2
_MAX_DIM = 2**63 - 1
_HEADER_INFO = {(1, 0): ("<H", "latin1"), (2, 0): ("<I", "latin1"), (3, 0): ("<I", "utf8")}
_KEYS = frozenset({"descr", "fortran_order", "shape"})
# Array-protocol type strings as dtype.str writes them: byte order, kind, size.
_TYPESTR = re.compile(
    r"[<>|=]?(?:(?P<fixed>b1|[iu][1248]|f(?:2|4|8|12|16)|c(?:8|16|24|32)|[mM]8(?:\[\d*\w+\])?)"
    r"|(?P<flex>[SaUV])(?P<n>\d{1,18})|(?P<obj>O[48]?))"
)
_PY2_LONG = re.compile(r"(?<![\w'\"])(\d+)[lL](?=\s*[,)\]])")
_PICKLE_PROTOCOLS = range(6)
_UNBOUNDED = 2**62  # window length when the artifact's size is unknown: read to EOF


class _Malformed(Exception):
    """The header breaks the format; the message says how."""


@dataclass(frozen=True)
class _Header:
    version: tuple[int, int]
    descr: object
    shape: tuple[int, ...]
    data_offset: int
    header_len: int


@dataclass(frozen=True)
class _Dtype:
    itemsize: int
    has_object: bool


def _read_exact(stream: BinaryIO, n: int, what: str) -> bytes:
    data = stream.read(n)
    if len(data) != n:
        raise _Malformed(f"file ends inside the {what} ({len(data)} of {n} bytes)")
    return data


def _parse_literal(text: str, version: tuple[int, int]) -> object:
    try:
        return ast.literal_eval(text)
    except SyntaxError:
        if version > (2, 0):
            raise
    # Python 2 writers emitted longs such as ``(3L, 4L)``; numpy still reads those files.
    return ast.literal_eval(_PY2_LONG.sub(r"\1", text))


def _read_header(stream: BinaryIO) -> _Header:
    """Read and validate everything before the array data; raise ``_Malformed``."""
    prefix = _read_exact(stream, 8, "magic")
    if not prefix.startswith(MAGIC):
        raise _Malformed("missing \\x93NUMPY magic")
    version = (prefix[6], prefix[7])
    info = _HEADER_INFO.get(version)
    if info is None:
        raise _Malformed(f"unsupported format version {version[0]}.{version[1]}")
    length_format, encoding = info
    length_size = struct.calcsize(length_format)
    (header_len,) = struct.unpack(length_format, _read_exact(stream, length_size, "header"))
    if header_len > MAX_HEADER_BYTES:
        raise _Malformed(f"header length {header_len} exceeds {MAX_HEADER_BYTES} bytes")
    raw = _read_exact(stream, header_len, "header")
    try:
        value = _parse_literal(raw.decode(encoding), version)
    except Exception as exc:  # any failure on an untrusted literal means malformed
        raise _Malformed(f"header is not a Python literal ({type(exc).__name__})") from None
    descr, shape = _check_dict(value)
    return _Header(version, descr, shape, 8 + length_size + header_len, header_len)


def _check_dict(value: object) -> tuple[object, tuple[int, ...]]:
    if not isinstance(value, dict):
        raise _Malformed(f"header is a {type(value).__name__}, not a dict")
    if set(value) != _KEYS:
        keys = ", ".join(sorted(repr(k) for k in value))
        raise _Malformed(f"header keys are {{{keys}}}, expected descr, fortran_order, shape")
    if not isinstance(value["fortran_order"], bool):
        raise _Malformed(f"fortran_order is {value['fortran_order']!r:.40}, not a bool")
    return value["descr"], _check_shape(value["shape"], "shape")


def _check_shape(shape: object, what: str) -> tuple[int, ...]:
    if isinstance(shape, int) and not isinstance(shape, bool):
        shape = (shape,)
    if not isinstance(shape, tuple) or len(shape) > _MAX_DIMS:
        raise _Malformed(f"{what} must be a tuple of at most {_MAX_DIMS} ints")
    for dim in shape:
        if isinstance(dim, bool) or not isinstance(dim, int) or not 0 <= dim <= _MAX_DIM:
            raise _Malformed(f"{what} has invalid dimension {dim!r:.40}")
    return shape


def _check_descr(descr: object, depth: int = 0) -> _Dtype:
    """Validate a dtype description as numpy writes it; return its size and object-ness."""
    if depth > _MAX_DESCR_DEPTH:
        raise _Malformed(f"dtype description nested deeper than {_MAX_DESCR_DEPTH}")
    if isinstance(descr, str):
        return _check_typestr(descr)
    if isinstance(descr, tuple) and len(descr) == 2:
        base = _check_descr(descr[0], depth + 1)
        count = math.prod(_check_shape(descr[1], "subarray shape"))
        return _Dtype(base.itemsize * count, base.has_object)
    if not isinstance(descr, list):
        raise _Malformed(f"descr is a {type(descr).__name__}, not a type string or field list")
    fields = [_check_field(field, depth) for field in descr]
    return _Dtype(sum(f.itemsize for f in fields), any(f.has_object for f in fields))


def _check_field(field: object, depth: int) -> _Dtype:
    if not isinstance(field, tuple) or len(field) not in (2, 3):
        raise _Malformed(f"structured field {field!r:.80} is not (name, descr[, shape])")
    name = field[0]
    titled = isinstance(name, tuple) and len(name) == 2 and isinstance(name[1], str)
    if not (isinstance(name, str) or titled):
        raise _Malformed(f"structured field name {name!r:.80} is not a string")
    dtype = _check_descr(field[1], depth + 1)
    if len(field) == 3:
        count = math.prod(_check_shape(field[2], "field shape"))
        dtype = _Dtype(dtype.itemsize * count, dtype.has_object)
    return dtype


def _check_typestr(text: str) -> _Dtype:
    match = _TYPESTR.fullmatch(text)
    if match is None:
        raise _Malformed(f"descr {text!r:.80} is not an array-protocol type string")
    if match["obj"]:
        return _Dtype(8, True)
    if match["flex"]:
        width = 4 if match["flex"] == "U" else 1
        return _Dtype(int(match["n"]) * width, False)
    fixed = match["fixed"]
    return _Dtype(8 if fixed[0] in "mM" else int(fixed[1:]), False)


def _window_opener(artifact: Artifact, offset: int, length: int | None) -> Callable[[], BinaryIO]:
    def opener() -> BinaryIO:
        bound = _UNBOUNDED if length is None else length
        return io.BufferedReader(Window(artifact.open(), offset, bound))

    return opener


def _embedded_pickle(
    artifact: Artifact, ctx: ScanContext, offset: int, member: str
) -> Iterator[Finding]:
    length = None if artifact.size is None else artifact.size - offset
    child = Artifact(
        location=artifact.child_location(member),
        name=member,
        size=length,
        depth=artifact.depth + 1,
        opener=_window_opener(artifact, offset, length),
        container="npy",
    )
    yield from ctx.scan_child(child)


def _peek(artifact: Artifact, offset: int, n: int) -> bytes:
    with Window(artifact.open(), offset, n) as window:
        return window.read(n)


class NumpyScanner:
    """Checks ``.npy`` headers, flags object arrays and scans the pickles they carry."""

    id = "numpy"
    formats = frozenset({"npy"})

    def scan(self, artifact: Artifact, ctx: ScanContext) -> Iterator[Finding]:
        """Yield findings for one ``.npy`` artifact; array data is never read."""
        try:
            with artifact.open() as stream:
                header = _read_header(stream)
            dtype = _check_descr(header.descr)
        except _Malformed as exc:
            yield finding("SCAN-NPY-002", artifact.location, f"malformed .npy header: {exc}")
            return
        if header.header_len > NUMPY_HEADER_LIMIT:
            yield finding(
                "SCAN-NPY-002",
                artifact.location,
                f"header of {header.header_len} bytes is over numpy's default limit of "
                f"{NUMPY_HEADER_LIMIT}: numpy.load refuses it unless max_header_size is raised",
                severity=Severity.LOW,
            )
        ctx.check_deadline()
        if dtype.has_object:
            yield from self._object_array(artifact, ctx, header)
        else:
            yield from self._numeric_array(artifact, ctx, header, dtype)

    def _object_array(
        self, artifact: Artifact, ctx: ScanContext, header: _Header
    ) -> Iterator[Finding]:
        yield finding(
            "SCAN-NPY-001",
            artifact.location,
            "array has object dtype: its data is a pickle and loading needs allow_pickle=True",
            evidence=f"descr={header.descr!r}",
        )
        if artifact.size is not None and artifact.size <= header.data_offset:
            yield finding(
                "SCAN-NPY-002", artifact.location, "object array has no pickle data after header"
            )
            return
        yield from _embedded_pickle(artifact, ctx, header.data_offset, "array-data.pkl")

    def _numeric_array(
        self, artifact: Artifact, ctx: ScanContext, header: _Header, dtype: _Dtype
    ) -> Iterator[Finding]:
        if artifact.size is None:
            return  # no cheap way to check the data size of a stream of unknown length
        expected = math.prod(header.shape) * dtype.itemsize
        actual = artifact.size - header.data_offset
        if actual == expected:
            return
        detail = f"header declares {expected} data bytes (shape {header.shape}) but "
        if actual < expected:
            yield finding(
                "SCAN-NPY-002",
                artifact.location,
                detail + f"only {actual} follow: the array is truncated",
                offset=header.data_offset,
            )
            return
        end = header.data_offset + expected
        yield finding(
            "SCAN-NPY-002",
            artifact.location,
            detail + f"{actual - expected} extra bytes follow the array data",
            offset=end,
        )
        head = _peek(artifact, end, 2)
        if len(head) == 2 and head[0] == 0x80 and head[1] in _PICKLE_PROTOCOLS:
            yield from _embedded_pickle(artifact, ctx, end, f"trailing@{end}.pkl")
