"""Tests for the .npy scanner: benign arrays stay clean, broken headers and pickles are caught."""

from __future__ import annotations

import io
import pickle
import struct
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mlwarden.findings import Finding, Location, Severity
from mlwarden.scan.base import Artifact, ScanContext, ScanLimits, Scanner, finding
from mlwarden.scan.numpy_scanner import NumpyScanner
from mlwarden.scan.policy import PicklePolicy
from mlwarden.scan.sniff import read_head_tail, sniff

PICKLE_MARKER = "SCAN-PKL-001"


class RecordingDispatch:
    """Stands in for the engine: records children and flags the ones that start like pickles."""

    def __init__(self) -> None:
        self.children: list[tuple[Artifact, bytes, list[str]]] = []

    def __call__(self, child: Artifact, ctx: ScanContext) -> Iterator[Finding]:
        with child.open() as stream:
            head, _tail = read_head_tail(stream, child.size)
        with child.open() as stream:
            data = stream.read()
        self.children.append((child, data, sniff(head, child.name, child.size)))
        if data[:1] == b"\x80":
            yield finding(PICKLE_MARKER, child.location, "stub: pickle seen")


def scan_bytes(
    data: bytes, *, seekable: bool = True, known_size: bool = True
) -> tuple[list[Finding], RecordingDispatch]:
    def opener() -> BinaryIO:
        stream = io.BytesIO(data)
        return stream if seekable else io.BufferedReader(_NonSeekable(stream))

    artifact = Artifact(
        location=Location("sample.npy"),
        name="sample.npy",
        size=len(data) if known_size else None,
        depth=0,
        opener=opener,
    )
    recorder = RecordingDispatch()
    ctx = ScanContext.start(PicklePolicy(), ScanLimits(), recorder)
    return list(NumpyScanner().scan(artifact, ctx)), recorder


class _NonSeekable(io.RawIOBase):
    def __init__(self, inner: io.BytesIO) -> None:
        super().__init__()
        self._inner = inner

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        data = self._inner.read(len(view))
        view[: len(data)] = data
        return len(data)


def npy_bytes(array: np.ndarray, **kwargs: bool) -> bytes:
    stream = io.BytesIO()
    np.save(stream, array, **kwargs)
    return stream.getvalue()


def raw_npy(header: str, data: bytes = b"", version: tuple[int, int] = (1, 0)) -> bytes:
    encoded = header.encode("utf8" if version == (3, 0) else "latin1")
    length = struct.pack("<H" if version == (1, 0) else "<I", len(encoded))
    return b"\x93NUMPY" + bytes(version) + length + encoded + data


def data_offset(data: bytes) -> int:
    if data[6] == 1:
        return 10 + int.from_bytes(data[8:10], "little")
    return 12 + int.from_bytes(data[8:12], "little")


def rules(findings: list[Finding]) -> list[str]:
    return sorted(f.rule_id for f in findings)


STRUCTURED = np.dtype([("a", "<f4"), ("b", "<i2", (2, 3)), ("c", [("d", "|S3"), ("e", "<U2")])])
PADDED = np.dtype({"names": ["a"], "formats": ["<f4"], "offsets": [4], "itemsize": 12})
BENIGN: dict[str, Callable[[], np.ndarray]] = {
    "float32": lambda: np.arange(10, dtype=np.float32),
    "fortran-int64": lambda: np.asfortranarray(np.arange(12, dtype=np.int64).reshape(3, 4)),
    "bool": lambda: np.array([True, False]),
    "big-endian": lambda: np.arange(5, dtype=">u4"),
    "complex-long": lambda: np.ones(3, dtype=np.clongdouble),
    "unicode": lambda: np.array(["abc", "de"]),
    "bytes": lambda: np.array([b"xy", b"z"]),
    "datetime": lambda: np.array(["2024-01-01"], dtype="M8[ns]"),
    "timedelta": lambda: np.array([5], dtype="m8[25s]"),
    "void": lambda: np.zeros(2, dtype="V8"),
    "structured": lambda: np.zeros(4, dtype=STRUCTURED),
    "padded": lambda: np.zeros(3, dtype=PADDED),
    "empty": lambda: np.zeros((0, 5), dtype=np.float64),
    "scalar": lambda: np.array(3.5),
}


@pytest.mark.parametrize("name", sorted(BENIGN))
def test_benign_arrays_have_no_findings(name: str) -> None:
    findings, recorder = scan_bytes(npy_bytes(BENIGN[name]()))
    assert findings == []
    assert recorder.children == []


def test_version_3_header_is_written_and_accepted() -> None:
    with pytest.warns(UserWarning, match="format 3.0"):
        data = npy_bytes(np.zeros(2, dtype=[("\u03b1", "<f8")]))
    assert data[6:8] == b"\x03\x00"
    assert scan_bytes(data)[0] == []


def test_scanner_satisfies_protocol() -> None:
    scanner = NumpyScanner()
    assert isinstance(scanner, Scanner)
    assert scanner.id == "numpy"
    assert scanner.formats == frozenset({"npy"})


def test_one_gib_sparse_array_is_checked_without_reading_data(tmp_path: Path) -> None:
    path = tmp_path / "big.npy"
    with path.open("wb") as handle:
        header = {"descr": "<f4", "fortran_order": False, "shape": (2**28,)}
        np.lib.format.write_array_header_1_0(handle, header)
        handle.truncate(handle.tell() + 2**30)
    size = path.stat().st_size
    artifact = Artifact(Location(str(path)), path.name, size, 0, lambda: path.open("rb"), path)
    ctx = ScanContext.start(PicklePolicy(), ScanLimits(), RecordingDispatch())
    assert list(NumpyScanner().scan(artifact, ctx)) == []


def test_object_array_flags_and_hands_the_pickle_to_dispatch() -> None:
    data = npy_bytes(np.array([{"a": 1}, None], dtype=object), allow_pickle=True)
    findings, recorder = scan_bytes(data)
    assert rules(findings) == ["SCAN-NPY-001", PICKLE_MARKER]
    npy001 = next(f for f in findings if f.rule_id == "SCAN-NPY-001")
    assert npy001.severity is Severity.LOW
    [(child, child_bytes, formats)] = recorder.children
    assert child_bytes == data[data_offset(data) :]
    assert child.name.endswith(".pkl")
    assert child.container == "npy"
    assert child.depth == 1
    assert child.size == len(child_bytes)
    assert formats == ["pickle"]
    assert str(child.location) == "sample.npy!/array-data.pkl"


def test_child_stream_yields_exactly_the_pickle_bytes() -> None:
    payload = pickle.dumps({"weights": [1, 2, 3]}, protocol=4)
    data = raw_npy("{'descr': '|O', 'fortran_order': False, 'shape': (1,), }\n", payload)
    _findings, recorder = scan_bytes(data)
    [(child, child_bytes, _)] = recorder.children
    assert child_bytes == payload
    with child.open() as stream:
        assert stream.read(3) == payload[:3]
        stream.seek(-2, io.SEEK_END)
        assert stream.read() == payload[-2:]
        stream.seek(1)
        assert stream.read(2) == payload[1:3]


@pytest.mark.parametrize(
    "dtype",
    [
        np.dtype([("x", "<f4"), ("obj", "O")]),
        np.dtype([("outer", [("inner", "O", (2,))])]),
    ],
    ids=["field", "nested-subarray"],
)
def test_object_fields_in_structured_dtypes_are_found(dtype: np.dtype) -> None:
    findings, recorder = scan_bytes(npy_bytes(np.zeros(2, dtype=dtype), allow_pickle=True))
    assert "SCAN-NPY-001" in rules(findings)
    assert len(recorder.children) == 1


def test_object_array_on_non_seekable_stream_of_unknown_size() -> None:
    payload = pickle.dumps([1, 2], protocol=3)
    data = raw_npy("{'descr': '|O', 'fortran_order': False, 'shape': (2,), }\n", payload)
    findings, recorder = scan_bytes(data, seekable=False, known_size=False)
    assert rules(findings) == ["SCAN-NPY-001", PICKLE_MARKER]
    assert recorder.children[0][1] == payload


def test_object_array_without_data_is_malformed() -> None:
    data = raw_npy("{'descr': '|O', 'fortran_order': False, 'shape': (2,), }\n")
    findings, recorder = scan_bytes(data)
    assert rules(findings) == ["SCAN-NPY-001", "SCAN-NPY-002"]
    assert recorder.children == []


def test_truncated_numeric_array_is_malformed() -> None:
    data = npy_bytes(np.arange(100, dtype=np.float64))[:-8]
    findings, _ = scan_bytes(data)
    assert rules(findings) == ["SCAN-NPY-002"]
    assert findings[0].severity is Severity.MEDIUM
    assert "truncated" in findings[0].message


def test_trailing_junk_is_reported_but_not_dispatched() -> None:
    findings, recorder = scan_bytes(npy_bytes(np.arange(4, dtype=np.int32)) + b"junk")
    assert rules(findings) == ["SCAN-NPY-002"]
    assert "4 extra bytes" in findings[0].message
    assert recorder.children == []


def test_appended_pickle_is_scanned_as_embedded_pickle() -> None:
    clean = npy_bytes(np.arange(4, dtype=np.int32))
    payload = pickle.dumps(("os", "system"), protocol=2)
    findings, recorder = scan_bytes(clean + payload)
    assert rules(findings) == ["SCAN-NPY-002", PICKLE_MARKER]
    [(child, child_bytes, _)] = recorder.children
    assert child_bytes == payload
    assert child.name == f"trailing@{len(clean)}.pkl"
    assert child.container == "npy"


def test_numeric_array_of_unknown_size_is_not_size_checked() -> None:
    data = npy_bytes(np.arange(4, dtype=np.int32))[:-1]
    assert scan_bytes(data, known_size=False)[0] == []


HEADER = "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }"
MALFORMED: dict[str, bytes] = {
    "bad-magic": b"\x93NUMPZ\x01\x00" + b"\x00" * 8,
    "bad-version": raw_npy(HEADER, b"\0" * 8, version=(4, 0)),
    "short-header": raw_npy(HEADER)[:20],
    "call-in-header": raw_npy("{'descr': __import__('os').system('echo pwned'), 'shape': ()}"),
    "not-a-dict": raw_npy("['descr', 'shape']"),
    "missing-key": raw_npy("{'descr': '<f4', 'shape': (2,)}"),
    "extra-key": raw_npy("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), 'x': 1}"),
    "negative-dim": raw_npy("{'descr': '<f4', 'fortran_order': False, 'shape': (-1,)}"),
    "float-dim": raw_npy("{'descr': '<f4', 'fortran_order': False, 'shape': (2.0,)}"),
    "bool-dim": raw_npy("{'descr': '<f4', 'fortran_order': False, 'shape': (True,)}"),
    "list-shape": raw_npy("{'descr': '<f4', 'fortran_order': False, 'shape': [2]}"),
    "fortran-int": raw_npy("{'descr': '<f4', 'fortran_order': 0, 'shape': (2,)}"),
    "bad-typestr": raw_npy("{'descr': '<f3', 'fortran_order': False, 'shape': (2,)}"),
    "type-name": raw_npy("{'descr': 'float32', 'fortran_order': False, 'shape': (2,)}"),
    "bad-field": raw_npy("{'descr': [('a',)], 'fortran_order': False, 'shape': (2,)}"),
    "deep-descr": raw_npy(
        "{'descr': " + "[('a', " * 40 + "'<f4'" + ")]" * 40 + ", 'fortran_order': False, "
        "'shape': (2,)}"
    ),
    "nested-parens": raw_npy("{'descr': " + "[" * 5000 + "]" * 5000 + "}"),
    "huge-int": raw_npy("{'descr': '<f4', 'fortran_order': False, 'shape': (" + "9" * 5000 + ",)}"),
    "over-1mib": b"\x93NUMPY\x02\x00" + struct.pack("<I", 2**21) + b" " * 64,
    "not-utf8-v3": raw_npy(HEADER, version=(3, 0))[:12] + b"\xff" * 60,
}


@pytest.mark.parametrize("name", sorted(MALFORMED))
def test_malformed_headers_are_reported(name: str) -> None:
    findings, recorder = scan_bytes(MALFORMED[name])
    assert rules(findings) == ["SCAN-NPY-002"]
    assert findings[0].severity is Severity.MEDIUM
    assert findings[0].message.startswith("malformed .npy header")
    assert recorder.children == []


def test_python2_long_suffix_is_accepted_like_numpy_does() -> None:
    data = raw_npy("{'descr': '<f4', 'fortran_order': False, 'shape': (2L, 3L), }\n", b"\0" * 24)
    assert scan_bytes(data)[0] == []


def test_large_structured_header_is_low_only() -> None:
    fields = [(f"field_number_{i:05d}", "<f4") for i in range(600)]
    data = npy_bytes(np.zeros(1, dtype=fields))
    findings, _ = scan_bytes(data)
    assert [(f.rule_id, f.severity) for f in findings] == [("SCAN-NPY-002", Severity.LOW)]
    assert "max_header_size" in findings[0].message


def test_version_2_header_is_accepted() -> None:
    fields = [(f"a_rather_long_field_name_{i:05d}", "<f4") for i in range(2500)]
    with pytest.warns(UserWarning, match="format 2.0"):
        data = npy_bytes(np.zeros(1, dtype=fields))
    assert data[6:8] == b"\x02\x00"
    findings, _ = scan_bytes(data)
    assert [f.severity for f in findings] == [Severity.LOW]


def test_npy_member_of_a_zip_sniffs_as_npy(tmp_path: Path) -> None:
    archive = tmp_path / "arrays.npz"
    np.savez(archive, x=np.arange(3))
    with zipfile.ZipFile(archive) as zf, zf.open("x.npy") as member:
        head = member.read(4096)
    assert sniff(head, "x.npy") == ["npy"]


class _Shell:
    """Pickles to a call of os.system; only ever pickled here, never loaded."""

    def __reduce__(self) -> tuple[object, tuple[str]]:
        import os

        return os.system, ("echo should-never-run",)


@pytest.mark.parametrize("suffix", [".npy", ".npz"])
def test_engine_scans_object_array_pickles(tmp_path: Path, suffix: str) -> None:
    from mlwarden.scan.engine import ScanOptions, scan_file

    path = tmp_path / f"evil{suffix}"
    evil = np.array([_Shell()], dtype=object)
    if suffix == ".npy":
        np.save(path, evil, allow_pickle=True)
    else:
        np.savez(path, ok=np.arange(3), evil=evil)
    result = scan_file(path, ScanOptions())
    critical = [f for f in result.findings if f.severity is Severity.CRITICAL]
    assert critical
    assert all(str(f.location.member).endswith("array-data.pkl") for f in critical)
    assert "SCAN-NPY-001" in {f.rule_id for f in result.findings}


def test_engine_finds_nothing_in_benign_npz(tmp_path: Path) -> None:
    from mlwarden.scan.engine import ScanOptions, scan_file

    path = tmp_path / "ok.npz"
    np.savez_compressed(path, a=np.arange(10), b=np.zeros((2, 2), dtype=STRUCTURED))
    result = scan_file(path, ScanOptions())
    assert result.findings == ()
    assert result.errors == ()


_SEED = npy_bytes(np.zeros(3, dtype=STRUCTURED))


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_mutated_files_never_raise(data: st.DataObject) -> None:
    blob = bytearray(_SEED)
    for _ in range(data.draw(st.integers(1, 8))):
        blob[data.draw(st.integers(0, len(blob) - 1))] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(8, len(blob)))
    findings, _ = scan_bytes(bytes(blob[:cut]))
    assert all(f.rule_id.startswith(("SCAN-NPY", PICKLE_MARKER)) for f in findings)
