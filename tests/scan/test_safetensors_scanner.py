"""Tests for the safetensors scanner, checked against the reference library's own verdicts."""

from __future__ import annotations

import io
import json
import struct
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import safetensors
from hypothesis import given, settings
from hypothesis import strategies as st
from safetensors.numpy import save

from mlwarden.findings import Finding, Location, Severity
from mlwarden.scan.base import Artifact, ScanContext, ScanLimits, Scanner
from mlwarden.scan.policy import PicklePolicy
from mlwarden.scan.safetensors_scanner import DTYPE_BITS, SafetensorsScanner
from mlwarden.scan.sniff import sniff


def _no_dispatch(child: Artifact, ctx: ScanContext) -> Any:
    raise AssertionError("the safetensors scanner has nothing to dispatch")


def scan_bytes(data: bytes, *, known_size: bool = True) -> list[Finding]:
    artifact = Artifact(
        location=Location("model.safetensors"),
        name="model.safetensors",
        size=len(data) if known_size else None,
        depth=0,
        opener=lambda: io.BytesIO(data),
    )
    ctx = ScanContext.start(PicklePolicy(), ScanLimits(), _no_dispatch)
    return list(SafetensorsScanner().scan(artifact, ctx))


def build(header: dict[str, Any] | str | bytes, data: bytes = b"") -> bytes:
    if isinstance(header, dict):
        header = json.dumps(header)
    raw = header.encode() if isinstance(header, str) else header
    return struct.pack("<Q", len(raw)) + raw + data


def tensor(dtype: str, shape: list[Any], begin: int, end: int) -> dict[str, Any]:
    return {"dtype": dtype, "shape": shape, "data_offsets": [begin, end]}


def library_accepts(data: bytes) -> bool:
    try:
        safetensors.deserialize(data)  # type: ignore[no-untyped-call]
    except Exception:  # the reference loader's rejection is what we compare with
        return False
    return True


BENIGN_ARRAYS = {
    "float32": {"w": np.arange(12, dtype=np.float32).reshape(3, 4)},
    "mixed": {
        "bias": np.zeros(3, dtype=np.float16),
        "mask": np.array([True, False]),
        "idx": np.arange(5, dtype=np.int8),
        "big": np.arange(4, dtype=np.uint64),
        "cplx": np.ones(2, dtype=np.complex64),
        "f64": np.ones((2, 2)),
    },
    "zero-size": {"empty": np.zeros((0, 4), dtype=np.float32), "x": np.ones(1, np.int32)},
    "scalar": {"s": np.array(1.5, dtype=np.float32)},
    "nothing": {},
}


@pytest.mark.parametrize("name", sorted(BENIGN_ARRAYS))
def test_files_written_by_the_library_are_clean(name: str) -> None:
    data = save(BENIGN_ARRAYS[name], metadata={"format": "np", "note": "{ }"})
    assert library_accepts(data)
    assert scan_bytes(data) == []


def test_many_tensors_scan_fast() -> None:
    arrays = {f"layer.{i}.weight": np.zeros(3, dtype=np.float32) for i in range(5000)}
    data = save(arrays)
    assert scan_bytes(data) == []


def test_sparse_one_gib_file_is_checked_without_reading_data(tmp_path: Path) -> None:
    header = json.dumps({"w": tensor("F32", [2**28], 0, 2**30)}).encode()
    path = tmp_path / "big.safetensors"
    with path.open("wb") as handle:
        handle.write(struct.pack("<Q", len(header)) + header)
        handle.truncate(8 + len(header) + 2**30)
    size = path.stat().st_size
    artifact = Artifact(Location(str(path)), path.name, size, 0, lambda: path.open("rb"), path)
    ctx = ScanContext.start(PicklePolicy(), ScanLimits(), _no_dispatch)
    assert list(SafetensorsScanner().scan(artifact, ctx)) == []


def test_scanner_satisfies_protocol_and_sniffs() -> None:
    assert isinstance(SafetensorsScanner(), Scanner)
    data = save({"w": np.ones(2, dtype=np.float32)})
    assert sniff(data[:4096], "weights.bin", len(data)) == ["safetensors"]


F32x2 = tensor("F32", [2], 0, 8)
# name -> (file bytes, whether the file is valid for us)
CASES: dict[str, tuple[bytes, bool]] = {
    "valid": (build({"a": F32x2}, b"\0" * 8), False),
    "sub-byte-f4": (build({"a": tensor("F4", [4], 0, 2)}, b"\0" * 2), False),
    "sub-byte-f6": (build({"a": tensor("F6_E2M3", [4], 0, 3)}, b"\0" * 3), False),
    "fp8-e8m0": (build({"a": tensor("F8_E8M0", [3], 0, 3)}, b"\0" * 3), False),
    "bf16": (build({"a": tensor("BF16", [2, 2], 0, 8)}, b"\0" * 8), False),
    "null-metadata": (build({"__metadata__": None, "a": F32x2}, b"\0" * 8), False),
    "space-padding": (build(json.dumps({"a": F32x2}) + "      ", b"\0" * 8), False),
    "overlap": (
        build({"a": F32x2, "b": tensor("F32", [2], 4, 12)}, b"\0" * 12),
        True,
    ),
    "zero-size-inside-other": (
        build({"a": F32x2, "z": tensor("F32", [0], 4, 4)}, b"\0" * 8),
        True,
    ),
    "hole": (build({"a": tensor("F32", [1], 4, 8)}, b"\0" * 8), True),
    "out-of-bounds": (build({"a": tensor("F32", [4], 0, 16)}, b"\0" * 8), True),
    "wrong-size": (build({"a": tensor("F32", [3], 0, 8)}, b"\0" * 8), True),
    "begin-after-end": (build({"a": tensor("F32", [0], 8, 0)}, b"\0" * 8), True),
    "trailing-data": (build({"a": F32x2}, b"\0" * 8 + b"PK\x05\x06"), True),
    "f4-not-byte-aligned": (build({"a": tensor("F4", [3], 0, 2)}, b"\0" * 2), True),
    "overflow": (build({"a": tensor("F32", [2**40, 2**40], 0, 8)}, b"\0" * 8), True),
    "bad-dtype": (build({"a": tensor("F128", [2], 0, 8)}, b"\0" * 8), True),
    "negative-dim": (build({"a": tensor("F32", [-2], 0, 8)}, b"\0" * 8), True),
    "float-dim": (build({"a": tensor("F32", [2.0], 0, 8)}, b"\0" * 8), True),
    "bool-dim": (build({"a": tensor("U8", [True], 0, 1)}, b"\0"), True),
    "three-offsets": (build({"a": {**F32x2, "data_offsets": [0, 4, 8]}}, b"\0" * 8), True),
    "metadata-int": (build({"__metadata__": {"v": 1}, "a": F32x2}, b"\0" * 8), True),
    "metadata-list": (build({"__metadata__": ["x"], "a": F32x2}, b"\0" * 8), True),
    "entry-not-object": (build({"a": [1, 2]}), True),
    "top-level-array": (build("[]"), True),
    "not-json": (build("{'a': 1}"), True),
    "nan-constant": (
        build('{"a": {"dtype": "F32", "shape": [NaN], "data_offsets": [0, 0]}}'),
        True,
    ),
    "not-utf8": (build(b'{"\xff": 1}'), True),
    "trailing-nul": (build(json.dumps({"a": F32x2}).encode() + b"\0\0", b"\0" * 8), True),
    "deep-nesting": (build('{"a":' + "[" * 100_000 + "]" * 100_000 + "}"), True),
    "header-past-eof": (struct.pack("<Q", 4096) + b'{"a": 1}', True),
    "huge-n": (struct.pack("<Q", 2**40) + b"{}", True),
    "too-short": (b"\x02\x00\x00", True),
    # Stricter than the library: it accepts these, but benign writers never produce them.
    "duplicate-same": (
        build(
            '{"a": {"dtype": "U8", "shape": [1], "data_offsets": [0, 1]}, '
            '"a": {"dtype": "U8", "shape": [1], "data_offsets": [0, 1]}}',
            b"\0",
        ),
        True,
    ),
    "extra-key": (build({"a": {**F32x2, "offset_hint": 3}}, b"\0" * 8), True),
    "leading-space": (build(" " + json.dumps({"a": F32x2}), b"\0" * 8), True),
}
STRICTER = {"duplicate-same", "extra-key", "leading-space", "too-short"}


@pytest.mark.parametrize("name", sorted(CASES))
def test_header_cases(name: str) -> None:
    data, flagged = CASES[name]
    findings = scan_bytes(data)
    assert bool(findings) is flagged
    assert all(f.rule_id == "SCAN-ST-001" and f.severity is Severity.HIGH for f in findings)
    if name not in STRICTER:
        assert library_accepts(data) is not flagged


@pytest.mark.parametrize(
    ("name", "needle"),
    [
        ("overlap", "overlaps tensor 'a'"),
        ("hole", "hole of 4 bytes"),
        ("out-of-bounds", "ends past the 8-byte data buffer"),
        ("wrong-size", "needs 12 bytes, offsets give 8"),
        ("trailing-data", "4 bytes of trailing data"),
        ("f4-not-byte-aligned", "byte boundary"),
        ("bad-dtype", "unknown dtype 'F128'"),
        ("duplicate-same", "duplicate key 'a'"),
        ("extra-key", "offset_hint"),
        ("leading-space", "not '{'"),
        ("huge-n", "exceeds the limit"),
        ("not-json", "not valid JSON"),
        ("not-utf8", "not valid UTF-8"),
        ("deep-nesting", "RecursionError"),
    ],
)
def test_messages_are_precise(name: str, needle: str) -> None:
    messages = " | ".join(f.message for f in scan_bytes(CASES[name][0]))
    assert needle in messages


def test_duplicate_key_that_changes_meaning_is_flagged() -> None:
    header = (
        '{"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}, '
        '"a": {"dtype": "U8", "shape": [8], "data_offsets": [0, 8]}}'
    )
    findings = scan_bytes(build(header, b"\0" * 8))
    assert [f.message for f in findings] == [
        "duplicate key 'a': parsers disagree on which copy is used"
    ]


def test_duplicate_key_inside_a_tensor_entry_is_flagged() -> None:
    header = '{"a": {"dtype": "F32", "dtype": "U8", "shape": [8], "data_offsets": [0, 8]}}'
    assert "duplicate key 'dtype'" in scan_bytes(build(header, b"\0" * 8))[0].message


def test_unknown_size_skips_only_the_coverage_check() -> None:
    assert scan_bytes(CASES["trailing-data"][0], known_size=False) == []
    assert len(scan_bytes(CASES["overlap"][0], known_size=False)) == 1


def test_truncated_header_of_unknown_size() -> None:
    findings = scan_bytes(struct.pack("<Q", 100) + b"{}", known_size=False)
    assert "ends inside the header" in findings[0].message


def test_problem_list_is_capped() -> None:
    header = {f"t{i}": tensor("F32", [1], 0, 8) for i in range(50)}
    findings = scan_bytes(build(header, b"\0" * 8))
    assert len(findings) == 21
    assert findings[-1].message.endswith("more header problems not listed")


def test_dtype_table_matches_reference_sizes() -> None:
    assert DTYPE_BITS["F4"] == 4
    assert DTYPE_BITS["C64"] == 64
    for dtype, bits in DTYPE_BITS.items():
        if bits % 8:
            continue
        data = build({"a": tensor(dtype, [3], 0, 3 * bits // 8)}, b"\0" * (3 * bits // 8))
        assert library_accepts(data), dtype
        assert scan_bytes(data) == []


def test_engine_dispatches_safetensors_by_sniffing(tmp_path: Path) -> None:
    from mlwarden.scan.engine import ScanOptions, scan_file

    good = tmp_path / "weights.bin"
    good.write_bytes(save({"w": np.ones(4, dtype=np.float32)}))
    bad = tmp_path / "overlap.bin"
    bad.write_bytes(CASES["overlap"][0])
    assert scan_file(good, ScanOptions()).findings == ()
    assert [f.rule_id for f in scan_file(bad, ScanOptions()).findings] == ["SCAN-ST-001"]


_SEED = save({"a": np.ones((2, 3), dtype=np.float32), "b": np.arange(4, dtype=np.int64)})


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_mutated_files_never_raise(data: st.DataObject) -> None:
    blob = bytearray(_SEED)
    for _ in range(data.draw(st.integers(1, 8))):
        blob[data.draw(st.integers(0, len(blob) - 1))] = data.draw(st.integers(0, 255))
    blob = blob[: data.draw(st.integers(0, len(blob)))]
    findings = scan_bytes(bytes(blob))
    assert all(f.rule_id == "SCAN-ST-001" for f in findings)
    if findings == [] and len(blob) >= 8:
        assert library_accepts(bytes(blob))
