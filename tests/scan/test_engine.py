"""The scan engine: walking, parallel workers, progress events, skipped and error items."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import pytest

import mlwarden
from mlwarden.scan.engine import ScanEvent, ScanOptions, scan
from mlwarden.scan.sniff import sniff

EVIL = b"\x80\x02cos\nsystem\nX\x02\x00\x00\x00id\x85R."


def _tree(root: Path, n: int) -> None:
    for i in range(n):
        (root / f"m{i}.pkl").write_bytes(pickle.dumps({"i": i}, protocol=4))
    (root / "sub").mkdir()
    (root / "sub" / "evil.dat").write_bytes(EVIL)


def test_parallel_scan_matches_serial(tmp_path: Path) -> None:
    _tree(tmp_path, 12)
    serial = scan([tmp_path], ScanOptions(jobs=1))
    parallel = scan([tmp_path], ScanOptions(jobs=2))
    assert sorted(serial.scanned) == sorted(parallel.scanned)
    assert [f.fingerprint for f in serial.findings] == [f.fingerprint for f in parallel.findings]
    assert len(parallel.findings) == 1 and parallel.findings[0].rule_id == "SCAN-PKL-001"


def test_progress_events(tmp_path: Path) -> None:
    _tree(tmp_path, 3)
    events: list[ScanEvent] = []
    scan([tmp_path], ScanOptions(jobs=1), on_event=events.append)
    assert events[0].kind == "start" and events[0].total == 4
    assert [e.done for e in events[1:]] == [1, 2, 3, 4]


def test_include_exclude_globs(tmp_path: Path) -> None:
    _tree(tmp_path, 2)
    only_dat = scan([tmp_path], ScanOptions(include=("*.dat",)))
    assert [Path(p).name for p in only_dat.scanned] == ["evil.dat"]
    no_sub = scan([tmp_path], ScanOptions(exclude=("*/sub/*",)))
    assert not no_sub.findings and len(no_sub.scanned) == 2


def test_symlinks_are_skipped_unless_followed(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "evil.pkl").write_bytes(EVIL)
    root = tmp_path / "root"
    root.mkdir()
    os.symlink(outside / "evil.pkl", root / "link.pkl")
    report = scan([root])
    assert not report.findings
    assert any("symbolic link" in s.reason for s in report.skipped)
    assert scan([root], ScanOptions(follow_symlinks=True)).findings


def test_missing_paths_and_unknown_files(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("hello world\n")
    report = scan([tmp_path / "missing", tmp_path])
    assert report.errors and "no such file" in report.errors[0].error
    assert report.skipped and report.skipped[0].reason == "no model format recognised"
    assert report.scanned == ()


def test_api_entry_point_is_the_function() -> None:
    assert callable(mlwarden.scan)
    assert mlwarden.scan([]).command == "scan"


@pytest.mark.parametrize(
    ("head", "name", "expected"),
    [
        (b"\x80\x04\x95", "weights.safetensors", ["pickle"]),  # bytes win over the extension
        (b"PK\x03\x04", "model.pkl", ["zip"]),
        (b"\x93NUMPY\x01\x00", "x", ["npy"]),
        (b"GGUF\x03\x00\x00\x00", "x", ["gguf"]),
        (b"\x1f\x8b\x08", "x", ["gzip"]),
        (b"BZh9", "x", ["bz2"]),
        (b"\xfd7zXZ\x00", "x", ["xz"]),
        (b"x\x9c", "x", ["zlib"]),
        (b'{"class_name": "Sequential"}', "config.json", ["json"]),
        (b"hello world", "readme.txt", []),
    ],
)
def test_sniff_by_bytes(head: bytes, name: str, expected: list[str]) -> None:
    assert sniff(head, name, len(head)) == expected


def test_sniff_sees_a_zip_appended_to_a_pickle() -> None:
    assert sniff(EVIL, "x.pkl", 10_000, tail=b"....PK\x05\x06" + b"\x00" * 18) == ["pickle", "zip"]


def test_policy_keyword_trusts_a_global(tmp_path: Path) -> None:
    (tmp_path / "net.pkl").write_bytes(b"\x80\x02cmypkg\nNet\n)\x81.")
    assert mlwarden.scan([tmp_path]).findings
    trusted = mlwarden.PicklePolicy(frozenset({"mypkg.Net"}))
    assert mlwarden.scan([tmp_path], policy=trusted).findings == ()
