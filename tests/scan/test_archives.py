"""Archive and compressed-stream scanners: members found, tampering reported, bombs bounded.

Every archive is built here, in code. The format scanners for members are written by others,
so a tiny stand-in pickle scanner (a finding when the member holds ``MALICIOUS``) replaces
the registry: these tests exercise the containers only.
"""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import os
import pickle
import random
import struct
import sys
import tarfile
import types
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from mlwarden.findings import Location
from mlwarden.scan import engine
from mlwarden.scan._archive_io import StreamState, open_decompressed
from mlwarden.scan.archives import (
    CompressedScanner,
    SevenZipScanner,
    TarScanner,
    ZipScanner,
    inner_name,
    starts_like_pickle,
)
from mlwarden.scan.base import Artifact, MiB, ScanContext, ScanLimits, finding
from mlwarden.scan.engine import FileResult, ScanOptions, scan_file
from mlwarden.scan.policy import PicklePolicy
from mlwarden.scan.window import Window

EVIL = b"\x80\x04MALICIOUS payload."
BENIGN = b"\x80\x04benign payload."
#: sniff only looks for a zip's end record in the tail of files bigger than its 4 KiB head.
PAD = b"{" + b" " * 5000 + b"}"


class FakePickleScanner:
    """Stands in for the real pickle scanner: reads the whole member, flags ``MALICIOUS``."""

    id = "fake-pickle"
    formats = frozenset({"pickle"})

    def __init__(self) -> None:
        self.seen: list[str] = []

    def scan(self, artifact: Artifact, ctx: ScanContext) -> Iterator[object]:
        self.seen.append(artifact.name)
        with artifact.open() as stream:
            data = stream.read()
        if b"MALICIOUS" in data:
            yield finding("SCAN-PKL-001", artifact.location, "test payload")


@pytest.fixture(autouse=True)
def fake(monkeypatch: pytest.MonkeyPatch) -> FakePickleScanner:
    scanner = FakePickleScanner()
    table = (ZipScanner(), TarScanner(), SevenZipScanner(), CompressedScanner(), scanner)

    def by_format(fmt: str) -> tuple[object, ...]:
        return tuple(s for s in table if fmt in s.formats)

    monkeypatch.setattr(engine, "scanners_for", by_format)
    try:
        import mlwarden.scan.pickle_vm  # noqa: F401  (sniff needs it for protocol 0 pickles)
    except ImportError:
        stub = types.SimpleNamespace(looks_like_pickle=lambda head: False)
        monkeypatch.setitem(sys.modules, "mlwarden.scan.pickle_vm", stub)
    return scanner


def _rng(seed: int) -> random.Random:
    return random.Random(seed)  # noqa: S311 - reproducible test data, not secrets


def _scan(path: Path, **limits: float) -> FileResult:
    # These small archives test the ratio rule itself: judge it from the first MiB on.
    limits.setdefault("ratio_grace_bytes", MiB)
    return scan_file(path, ScanOptions(limits=ScanLimits(**limits)))  # type: ignore[arg-type]


def _rules(result: FileResult) -> list[str]:
    return sorted(f.rule_id for f in result.findings)


def _members(result: FileResult, rule: str) -> set[str | None]:
    return {f.location.member for f in result.findings if f.rule_id == rule}


def _write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def _zip(members: dict[str, bytes], compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


@dataclass
class Raw:
    """One hand-built zip member: ``data`` as stored, declared fields overridable."""

    name: bytes
    data: bytes
    method: int = 0
    size: int | None = None
    crc: int | None = None
    flags: int = 0
    external: int = 0
    local_name: bytes | None = None


def raw_zip(members: list[Raw], *, zip64: bool = False, base: int = 0, aliases: int = 0) -> bytes:
    """A zip written byte by byte.

    ``base`` is added to every offset (for data prepended later); ``aliases`` adds directory
    entries that point at member 0's local header (overlapping entries).
    """
    body, central, offsets = bytearray(), bytearray(), []
    for m in members:
        offsets.append(len(body) + base)
        body += _local(m, zip64)
    copies = [(replace(members[0], name=b"alias%d.zip" % i), offsets[0]) for i in range(aliases)]
    for m, offset in [*zip(members, offsets, strict=True), *copies]:
        central += _central(m, offset, zip64)
    n, cd_size, cd_offset = len(members) + aliases, len(central), len(body) + base
    body += central
    if zip64:
        record = (b"PK\x06\x06", 44, 45, 45, 0, 0, n, n, cd_size, cd_offset)
        body += struct.pack("<4sQ2H2L4Q", *record)
        body += struct.pack("<4sLQL", b"PK\x06\x07", 0, len(body) - 56 + base, 1)
        n, cd_size, cd_offset = 0xFFFF, 0xFFFFFFFF, 0xFFFFFFFF
    body += struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, n, n, cd_size, cd_offset, 0)
    return bytes(body)


def _declared(m: Raw) -> tuple[int, int]:
    size = len(m.data) if m.size is None else m.size
    return size, zlib.crc32(m.data) if m.crc is None else m.crc


def _local(m: Raw, zip64: bool) -> bytes:
    size, crc = _declared(m)
    name = m.name if m.local_name is None else m.local_name
    extra = struct.pack("<HHQQ", 1, 16, size, len(m.data)) if zip64 else b""
    cs, us = (0xFFFFFFFF, 0xFFFFFFFF) if zip64 else (len(m.data), size)
    fields = (b"PK\x03\x04", 45, m.flags, m.method, 0, 0x21, crc, cs, us, len(name), len(extra))
    return struct.pack("<4s5H3L2H", *fields) + name + extra + m.data


def _central(m: Raw, offset: int, zip64: bool) -> bytes:
    size, crc = _declared(m)
    extra = struct.pack("<HHQQQ", 1, 24, size, len(m.data), offset) if zip64 else b""
    cs, us, off = (0xFFFFFFFF,) * 3 if zip64 else (len(m.data), size, offset)
    fields = (b"PK\x01\x02", 0x031E, 45, m.flags, m.method, 0, 0x21, crc, cs, us, len(m.name),
              len(extra), 0, 0, 0, m.external, off)  # fmt: skip
    return struct.pack("<4s6H3L5H2L", *fields) + m.name + extra


def _zero_deflate(mib: int, head: bytes = b"") -> bytes:
    """Raw deflate of ``head`` + ``mib`` MiB of zeros, built from one repeated 1 KB block."""
    first = zlib.compressobj(9, zlib.DEFLATED, -15)
    start = first.compress(head) + first.flush(zlib.Z_FULL_FLUSH) if head else b""
    comp = zlib.compressobj(9, zlib.DEFLATED, -15)
    block = comp.compress(bytes(MiB)) + comp.flush(zlib.Z_FULL_FLUSH)
    return start + block * mib + zlib.compressobj(9, zlib.DEFLATED, -15).flush()


# --- zip: members -----------------------------------------------------------------------


def test_zip_member_pickle_found_benign_sibling_quiet(tmp_path: Path) -> None:
    path = _write(tmp_path, "a.zip", _zip({"dir/evil.pkl": EVIL, "dir/ok.pkl": BENIGN}))
    result = _scan(path)
    assert _rules(result) == ["SCAN-PKL-001"]
    assert _members(result, "SCAN-PKL-001") == {"dir/evil.pkl"}
    assert not result.errors


@pytest.mark.parametrize("compression", [zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA])
def test_zip_bzip2_and_lzma_members(tmp_path: Path, compression: int) -> None:
    path = _write(tmp_path, "a.zip", _zip({"evil.pkl": EVIL, "ok.pkl": BENIGN}, compression))
    result = _scan(path)
    assert _rules(result) == ["SCAN-PKL-001"]
    assert _members(result, "SCAN-PKL-001") == {"evil.pkl"}


def test_empty_zip_and_numpy_npz_are_quiet(tmp_path: Path) -> None:
    np = pytest.importorskip("numpy")
    np.savez_compressed(tmp_path / "w.npz", a=np.arange(1000), b=np.ones((20, 20)))
    for path in (_write(tmp_path, "e.zip", _zip({})), tmp_path / "w.npz"):
        result = _scan(path)
        assert result.findings == ()
        assert result.errors == ()


def test_stored_member_window_never_leaves_its_bounds(tmp_path: Path) -> None:
    data = _zip({"ok.pkl": BENIGN, "evil.pkl": EVIL}, zipfile.ZIP_STORED)
    result = _scan(_write(tmp_path, "s.zip", data))
    assert _members(result, "SCAN-PKL-001") == {"evil.pkl"}  # ok.pkl's window excludes evil.pkl
    window = Window(io.BytesIO(b"0123456789"), 2, 5)
    assert window.read() == b"23456"
    assert window.seek(-1, io.SEEK_END) == 4
    assert window.read(100) == b"6"
    window.seek(50)
    assert window.read() == b""


def test_big_stored_member_is_sniffed_not_read(tmp_path: Path) -> None:
    payload = b"GGUF" + bytes(32 * MiB)  # a format no test scanner reads: only sniffed
    path = _write(tmp_path, "big.zip", _zip({"big.gguf": payload, "evil.pkl": EVIL}, 0))
    reads: list[int] = []

    class Counting(io.FileIO):
        def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
            n = super().readinto(buffer) or 0
            reads.append(n)
            return n

    ctx = ScanContext.start(PicklePolicy(), ScanLimits(), engine.dispatch)
    size = path.stat().st_size
    top = Artifact(
        Location(str(path)), path.name, size, 0, lambda: io.BufferedReader(Counting(path))
    )
    found = list(engine.dispatch(top, ctx))
    assert [f.location.member for f in found] == ["evil.pkl"]
    assert sum(reads) < MiB


def test_torch_zip_skips_storages_but_scans_pickles(
    tmp_path: Path, fake: FakePickleScanner
) -> None:
    members = {
        "archive/data.pkl": EVIL,
        "archive/version": b"3\n",
        "archive/byteorder": b"little",
        "archive/data/0": EVIL,  # raw tensor bytes: torch never unpickles them
        "archive/data/extra.pkl": EVIL,
    }
    result = _scan(_write(tmp_path, "m.pt", _zip(members, zipfile.ZIP_STORED)))
    assert _members(result, "SCAN-PKL-001") == {"archive/data.pkl", "archive/data/extra.pkl"}
    assert result.stats["skipped_storage"] == 1
    assert "archive/data/0" not in fake.seen


def test_real_torch_checkpoint_is_clean(tmp_path: Path, fake: FakePickleScanner) -> None:
    torch = pytest.importorskip("torch")
    torch.save({"w": torch.zeros(8), "b": torch.ones(2)}, tmp_path / "m.pt")
    result = _scan(tmp_path / "m.pt")
    assert result.findings == ()
    assert result.errors == ()
    assert result.stats["skipped_storage"] == 2
    assert "m/data.pkl" in fake.seen  # torch names the top folder after the file


# --- zip: tolerated tampering -------------------------------------------------------------


@pytest.mark.parametrize(
    ("member", "expect"),
    [
        (Raw(b"evil.pkl", EVIL, crc=0x1234), "CRC"),
        (Raw(b"evil.pkl", zlib.compress(EVIL)[2:-4], method=8, size=len(EVIL), crc=7), "CRC"),
        (Raw(b"evil.pkl", EVIL, local_name=b"good.pkl"), "local header names it"),
        (Raw(b"evil.pkl", EVIL, flags=0x1), "flag bits 0x0001"),
    ],
    ids=["stored-crc", "deflated-crc", "name-mismatch", "encrypted-flag"],
)
def test_tampering_torch_tolerates_is_scanned_and_reported(
    tmp_path: Path, member: Raw, expect: str
) -> None:
    data = raw_zip([member, Raw(b"ok.pkl", BENIGN)])
    with pytest.raises((zipfile.BadZipFile, RuntimeError)):  # strict readers refuse it
        zipfile.ZipFile(io.BytesIO(data)).read("evil.pkl")
    result = _scan(_write(tmp_path, "t.zip", data))
    assert _members(result, "SCAN-PKL-001") == {"evil.pkl"}
    tampering = [f for f in result.findings if f.rule_id == "SCAN-ARC-001"]
    assert {f.location.member for f in tampering} == {"evil.pkl"}
    assert any(expect in f.message for f in tampering)


def test_untampered_raw_zip_has_no_header_findings(tmp_path: Path) -> None:
    result = _scan(_write(tmp_path, "ok.zip", raw_zip([Raw(b"evil.pkl", EVIL)])))
    assert _rules(result) == ["SCAN-PKL-001"]


def test_unknown_method_reported_and_skipped(tmp_path: Path, fake: FakePickleScanner) -> None:
    data = raw_zip([Raw(b"odd.pkl", EVIL, method=99)])
    result = _scan(_write(tmp_path, "m.zip", data))
    assert _rules(result) == ["SCAN-ARC-001"]
    assert "odd.pkl" not in fake.seen


@pytest.mark.parametrize("absolute", [False, True], ids=["relative", "absolute-offsets"])
def test_prefix_data_reported(tmp_path: Path, absolute: bool) -> None:
    prefix = b"\xffJUNK" * 10
    members = [Raw(b"evil.pkl", EVIL), Raw(b"pad.json", PAD)]
    zipped = raw_zip(members, base=len(prefix) if absolute else 0)
    result = _scan(_write(tmp_path, "p.zip", prefix + zipped))
    assert _rules(result) == ["SCAN-ARC-001", "SCAN-PKL-001"]
    assert _members(result, "SCAN-PKL-001") == {"evil.pkl"}


def test_pickle_zip_polyglot(tmp_path: Path) -> None:
    head = pickle.dumps({"weights": [1, 2, 3]}, protocol=2)
    zipped = _zip({"evil.pkl": EVIL, "p.json": PAD}, zipfile.ZIP_STORED)
    result = _scan(_write(tmp_path, "poly.pt", head + zipped))
    assert "SCAN-ARC-004" in _rules(result)
    assert "evil.pkl" in _members(result, "SCAN-PKL-001")
    assert starts_like_pickle(b"cos\nsystem\n(S'x'\ntR.")
    assert not starts_like_pickle(b"PK\x03\x04") and not starts_like_pickle(b"\x80\x09")


def test_random_bytes_with_eocd_signature_are_not_a_zip(tmp_path: Path) -> None:
    rng = _rng(1234)
    for trial in range(30):
        blob = bytearray(b"\xff" * 8 + rng.randbytes(5000))
        for _ in range(1 + trial % 4):
            at = rng.randrange(8, len(blob) - 30)
            blob[at : at + 4] = b"PK\x05\x06"
        if trial % 5 == 0:
            blob += b"PK\x05\x06" + bytes(18)  # parses as an empty directory
        result = _scan(_write(tmp_path, f"r{trial}.bin", bytes(blob)))
        assert result.findings == ()
        assert result.errors == ()


def test_zip64_structures(tmp_path: Path) -> None:
    data = raw_zip([Raw(b"ok.pkl", BENIGN), Raw(b"evil.pkl", EVIL)], zip64=True)
    assert zipfile.ZipFile(io.BytesIO(data)).read("evil.pkl") == EVIL  # the writer is right
    result = _scan(_write(tmp_path, "z64.zip", data))
    assert _rules(result) == ["SCAN-PKL-001"]
    assert _members(result, "SCAN-PKL-001") == {"evil.pkl"}


def test_unsafe_member_names(tmp_path: Path, fake: FakePickleScanner) -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name in ("../up.pkl", "/abs.pkl", "C:\\win.pkl", "dir/a..b.pkl", "v1/ok.pkl"):
            zf.writestr(name, BENIGN)
        for name, target in (("link.pkl", b"/etc/passwd"), ("v2/latest.pkl", b"../v1/ok.pkl")):
            link = zipfile.ZipInfo(name)
            link.create_system, link.external_attr = 3, 0o120777 << 16
            zf.writestr(link, target)
    result = _scan(_write(tmp_path, "n.zip", buf.getvalue()))
    flagged = _members(result, "SCAN-ARC-005")
    assert flagged == {"../up.pkl", "/abs.pkl", "C:\\win.pkl", "link.pkl"}
    assert "link.pkl" not in fake.seen and "../up.pkl" in fake.seen


# --- zip: bombs, limits, nesting ----------------------------------------------------------


def test_gib_zip_bomb_declared(tmp_path: Path, fake: FakePickleScanner) -> None:
    crc = 0
    for _ in range(1024):
        crc = zlib.crc32(bytes(MiB), crc)
    bomb = Raw(b"zeros.pkl", _zero_deflate(1024), method=8, size=1024 * MiB, crc=crc)
    path = _write(tmp_path, "bomb.zip", raw_zip([bomb]))
    assert path.stat().st_size < 2 * MiB
    result = _scan(path)
    assert _rules(result) == ["SCAN-ARC-003"]
    assert fake.seen == []


def test_bomb_with_lying_header_stops_on_ratio(tmp_path: Path) -> None:
    bomb = Raw(b"evil.pkl", _zero_deflate(256, head=EVIL), method=8, size=1000, crc=0)
    result = _scan(_write(tmp_path, "lie.zip", raw_zip([bomb])))
    assert "SCAN-ARC-003" in _rules(result)
    assert result.stats["expanded_bytes"] < 16 * MiB


def test_expansion_budget_is_per_file(tmp_path: Path) -> None:
    noise = _rng(5).randbytes(3 * MiB // 2)
    data = _zip({"a.pkl": EVIL + noise, "b.pkl": EVIL + noise})
    result = _scan(_write(tmp_path, "two.zip", data), max_expanded_bytes=2 * MiB)
    assert _members(result, "SCAN-PKL-001") == {"a.pkl"}
    assert _members(result, "SCAN-ARC-003") == {"b.pkl"}


def test_many_bombs_stop_the_file(tmp_path: Path) -> None:
    tiny = zlib.compress(b"x")[2:-4]
    bombs = [Raw(b"b%d.pkl" % i, tiny, method=8, size=10 * MiB) for i in range(40)]
    result = _scan(_write(tmp_path, "bombs.zip", raw_zip(bombs)))
    assert _rules(result).count("SCAN-ARC-003") == 16
    assert "SCAN-GEN-001" in _rules(result)


def test_too_many_members(tmp_path: Path, fake: FakePickleScanner) -> None:
    data = _zip({f"m{i}.pkl": BENIGN for i in range(10)})
    result = _scan(_write(tmp_path, "many.zip", data), max_members=5)
    assert _rules(result) == ["SCAN-GEN-001"]
    assert len(fake.seen) == 5


def _nested(levels: int, compression: int) -> bytes:
    data, name = EVIL, "evil.pkl"
    for level in range(levels):
        data, name = _zip({name: data}, compression), f"level{level}.zip"
    return data


@pytest.mark.parametrize("compression", [zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED])
def test_nested_zips(tmp_path: Path, compression: int) -> None:
    shallow = _scan(_write(tmp_path, "3.zip", _nested(3, compression)))
    assert _members(shallow, "SCAN-PKL-001") == {"level1.zip!/level0.zip!/evil.pkl"}
    deep = _scan(_write(tmp_path, "10.zip", _nested(10, compression)))
    assert _rules(deep) == ["SCAN-ARC-002"]


def test_overlapping_fan_out_zip_terminates(tmp_path: Path) -> None:
    data = EVIL
    for level in range(6):  # 16 aliases per level: 16**6 scans if each alias were followed
        data = raw_zip([Raw(b"inner%d.zip" % level, data)], aliases=15)
    result = _scan(_write(tmp_path, "fan.zip", data))
    assert "SCAN-ARC-001" in _rules(result)
    assert len(_members(result, "SCAN-PKL-001")) == 1


def test_member_limit_spans_nested_archives(tmp_path: Path, fake: FakePickleScanner) -> None:
    data = BENIGN
    for level in range(4):  # 4 distinct copies per level: 256 leaves
        data = _zip({f"c{i}-{level}.zip" if level else f"c{i}.pkl": data for i in range(4)}, 0)
    result = _scan(_write(tmp_path, "fan.zip", data), max_members=50)
    assert _rules(result) == ["SCAN-GEN-001"]
    assert len(fake.seen) < 50


def test_zip_without_directory_and_fuzzed_zips_never_raise(tmp_path: Path) -> None:
    good = _zip({"evil.pkl": EVIL, "ok.pkl": BENIGN})
    cut = _scan(_write(tmp_path, "cut.zip", good[:40]))
    assert cut.findings == () and len(cut.errors) == 1
    rng = _rng(99)
    for trial in range(150):
        blob = bytearray(good)
        for _ in range(rng.randrange(1, 6)):
            blob[rng.randrange(len(blob))] = rng.randrange(256)
        _scan(_write(tmp_path, f"f{trial}.zip", bytes(blob)))  # must not raise


# --- tar --------------------------------------------------------------------------------


def _tar_bytes(mode: str = "w") -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode=mode) as tar:
        for name, data in (("evil.pkl", EVIL), ("ok.pkl", BENIGN), ("../up.pkl", BENIGN)):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        for name, kind, target in (
            ("sym", tarfile.SYMTYPE, "/etc/passwd"),
            ("sub/up", tarfile.SYMTYPE, "../../etc"),
            ("sub/in", tarfile.SYMTYPE, "../ok.pkl"),  # stays inside: benign
            ("hard", tarfile.LNKTYPE, "ok.pkl"),  # stays inside: benign
            ("hard-out", tarfile.LNKTYPE, "../x"),
        ):
            info = tarfile.TarInfo(name)
            info.type, info.linkname = kind, target
            tar.addfile(info)
    return buf.getvalue()


def test_tar_members_links_and_traversal(tmp_path: Path) -> None:
    result = _scan(_write(tmp_path, "a.tar", _tar_bytes()))
    assert _members(result, "SCAN-PKL-001") == {"evil.pkl"}
    assert _members(result, "SCAN-ARC-005") == {"../up.pkl", "sym", "sub/up", "hard-out"}
    assert not result.errors


def test_tar_gz_through_compressed_scanner(tmp_path: Path) -> None:
    result = _scan(_write(tmp_path, "a.tar.gz", _tar_bytes("w:gz")))
    assert _members(result, "SCAN-PKL-001") == {"a.tar!/evil.pkl"}


def test_tar_huge_extended_header_refused(tmp_path: Path) -> None:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        info = tarfile.TarInfo("d/" * 1500 + "x.pkl")
        info.size = len(BENIGN)
        tar.addfile(info, io.BytesIO(BENIGN))
    result = _scan(_write(tmp_path, "pax.tar", buf.getvalue()), max_header_bytes=1000)
    assert _rules(result) == ["SCAN-GEN-001"]


# --- compressed streams --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "packed"),
    [
        ("m.pkl.gz", gzip.compress(BENIGN) + gzip.compress(EVIL)),  # multi-member gzip
        ("m.pkl.bz2", bz2.compress(EVIL)),
        ("m.pkl.xz", lzma.compress(EVIL)),
        ("m.pkl.lzma", lzma.compress(EVIL, format=lzma.FORMAT_ALONE)),
        ("m.pkl.z", zlib.compress(EVIL)),
    ],
)
def test_compressed_streams(tmp_path: Path, name: str, packed: bytes) -> None:
    result = _scan(_write(tmp_path, name, packed))
    assert _rules(result) == ["SCAN-PKL-001"]
    assert _members(result, "SCAN-PKL-001") == {"m.pkl"}


@pytest.mark.parametrize("method", ["zlib", "gzip", "bz2", "xz", "lzma"])
def test_joblib_compressed_files(tmp_path: Path, method: str) -> None:
    joblib = pytest.importorskip("joblib")
    joblib.dump({"blob": b"MALICIOUS"}, tmp_path / "evil.joblib", compress=(method, 3))
    joblib.dump({"blob": b"harmless"}, tmp_path / "ok.joblib", compress=(method, 3))
    assert _rules(_scan(tmp_path / "evil.joblib")) == ["SCAN-PKL-001"]
    assert _scan(tmp_path / "ok.joblib").findings == ()


def test_compressed_bomb_and_truncation(tmp_path: Path) -> None:
    gz = gzip.compress(EVIL + bytes(64 * MiB), compresslevel=9)
    bomb = _scan(_write(tmp_path, "b.pkl.gz", gz))
    assert "SCAN-ARC-003" in _rules(bomb)
    cut = _scan(_write(tmp_path, "c.pkl.gz", gzip.compress(BENIGN + bytes(5000))[:-12]))
    assert cut.findings == ()
    assert any("ends early" in e.error for e in cut.errors)


def test_decompressing_reader_reports_crc_and_size() -> None:
    ctx = ScanContext.start(PicklePolicy(), ScanLimits(), engine.dispatch)
    state = StreamState()
    reader = open_decompressed(io.BytesIO(bz2.compress(EVIL)), bz2.BZ2Decompressor, ctx, state)
    with reader:
        assert reader.read() == EVIL
        assert not reader.seekable()
    assert state.finished and not state.truncated
    assert (state.crc, state.size) == (zlib.crc32(EVIL), len(EVIL))


def test_lz4_without_package_is_an_item_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mlwarden.scan import archives as archives_module

    monkeypatch.setattr(archives_module, "_lz4_decoder", lambda: None)  # as if not installed
    result = _scan(_write(tmp_path, "m.pkl.lz4", b"\x04\x22\x4d\x18" + bytes(20)))
    assert result.findings == ()
    assert "pip install lz4" in result.errors[0].error


def test_lz4_frames_when_installed(tmp_path: Path) -> None:
    frame = pytest.importorskip("lz4.frame")
    result = _scan(_write(tmp_path, "m.pkl.lz4", frame.compress(EVIL)))
    assert _members(result, "SCAN-PKL-001") == {"m.pkl"}


def test_inner_names() -> None:
    assert inner_name("model.pkl.gz") == "model.pkl"
    assert inner_name("dir/x.TGZ") == "x.tar"
    assert inner_name("model.joblib") == "model.joblib.decompressed"


# --- 7z ---------------------------------------------------------------------------------


def test_7z_members(tmp_path: Path) -> None:
    py7zr = pytest.importorskip("py7zr")
    os.symlink("/etc/passwd", tmp_path / "link")
    (tmp_path / "ok.pkl").write_bytes(BENIGN)
    os.symlink("ok.pkl", tmp_path / "inside")
    with py7zr.SevenZipFile(tmp_path / "a.7z", "w") as archive:
        archive.write(tmp_path / "link", "link")  # links first: py7zr looks their targets up
        archive.write(tmp_path / "inside", "inside")
        archive.writestr(EVIL, "dir/evil.pkl")
        archive.writestr(BENIGN, "ok.pkl")
    result = _scan(tmp_path / "a.7z")
    assert _members(result, "SCAN-PKL-001") == {"dir/evil.pkl"}
    assert _members(result, "SCAN-ARC-005") == {"link"}
    assert not result.errors


def test_7z_bomb(tmp_path: Path, fake: FakePickleScanner) -> None:
    py7zr = pytest.importorskip("py7zr")
    with py7zr.SevenZipFile(tmp_path / "b.7z", "w") as archive:
        archive.writestr(EVIL + bytes(4 * MiB), "zeros.pkl")
    result = _scan(tmp_path / "b.7z", max_ratio=100)
    assert _rules(result) == ["SCAN-ARC-003"]
    assert fake.seen == []


def test_encrypted_7z_is_an_item_error(tmp_path: Path) -> None:
    py7zr = pytest.importorskip("py7zr")
    for hidden in (False, True):
        path = tmp_path / f"enc{hidden}.7z"
        secret = {"password": "pw", "header_encryption": hidden}  # a throwaway test password
        with py7zr.SevenZipFile(path, "w", **secret) as archive:
            archive.writestr(EVIL, "evil.pkl")
        result = _scan(path)
        assert result.findings == ()
        assert "encrypted" in result.errors[0].error


def test_7z_and_tar_nested_in_zip(tmp_path: Path) -> None:
    py7zr = pytest.importorskip("py7zr")
    with py7zr.SevenZipFile(tmp_path / "in.7z", "w") as archive:
        archive.writestr(EVIL, "evil.pkl")
    for compression in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
        members = {"in.7z": (tmp_path / "in.7z").read_bytes(), "in.tar": _tar_bytes()}
        result = _scan(_write(tmp_path, "outer.zip", _zip(members, compression)))
        assert _members(result, "SCAN-PKL-001") == {"in.7z!/evil.pkl", "in.tar!/evil.pkl"}


def test_spools_move_to_disk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    py7zr = pytest.importorskip("py7zr")
    from mlwarden.scan import _archive_io, _tar7z

    monkeypatch.setattr(_archive_io, "SPOOL_MEMORY", 1024)
    monkeypatch.setattr(_tar7z, "SPOOL_MEMORY", 1024)
    noise = _rng(3).randbytes(300_000)
    with py7zr.SevenZipFile(tmp_path / "big.7z", "w") as archive:
        archive.writestr(BENIGN + noise, "a.pkl")
        archive.writestr(EVIL + noise, "b.pkl")
    inner = _zip({"ok.pkl": BENIGN + noise, "evil.pkl": EVIL + noise})
    for path in (tmp_path / "big.7z", _write(tmp_path, "n.zip", _zip({"inner.zip": inner}))):
        result = _scan(path)
        assert len(_members(result, "SCAN-PKL-001")) == 1
        assert not result.errors


def test_tar_member_limit(tmp_path: Path, fake: FakePickleScanner) -> None:
    result = _scan(_write(tmp_path, "a.tar", _tar_bytes()), max_members=2)
    assert "SCAN-GEN-001" in _rules(result)
    assert len(fake.seen) <= 2


def test_7z_without_py7zr(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from mlwarden.scan import _tar7z

    monkeypatch.setattr(_tar7z, "_import_py7zr", lambda: None)
    result = _scan(_write(tmp_path, "a.7z", b"7z\xbc\xaf\x27\x1c" + bytes(40)))
    assert result.findings == ()
    assert result.errors[0].error.endswith("7z support needs: pip install 'mlwarden[archives]'")


# --- truncated containers of every kind ---------------------------------------------------


def _containers(tmp_path: Path) -> dict[str, bytes]:
    py7zr = pytest.importorskip("py7zr")
    with py7zr.SevenZipFile(tmp_path / "t.7z", "w") as archive:
        archive.writestr(EVIL * 50, "evil.pkl")
    return {
        "t.zip": _zip({"evil.pkl": EVIL * 50}),
        "t.tar": _tar_bytes(),
        "t.tar.gz": _tar_bytes("w:gz"),
        "t.pkl.bz2": bz2.compress(EVIL * 50),
        "t.pkl.xz": lzma.compress(EVIL * 50),
        "t.7z": (tmp_path / "t.7z").read_bytes(),
    }


def test_truncated_containers_never_raise(tmp_path: Path) -> None:
    damaged = set()
    for name, data in _containers(tmp_path).items():
        for cut in (7, 64, 300, len(data) // 2, len(data) - 9):
            result = _scan(_write(tmp_path, f"cut-{cut}-{name}", data[:cut]))  # must not raise
            if result.errors:
                damaged.add(name)
    assert damaged == {"t.zip", "t.tar", "t.tar.gz", "t.pkl.bz2", "t.pkl.xz", "t.7z"}
