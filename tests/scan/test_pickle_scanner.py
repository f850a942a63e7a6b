"""The symbolic pickle machine: every opcode route to a callable, bounded memory, no FPs."""

from __future__ import annotations

import io
import os
import pickle
import struct
from pathlib import Path

import pytest

from mlwarden.scan.base import ScanContext, ScanLimits
from mlwarden.scan.engine import ScanOptions, dispatch, scan_file
from mlwarden.scan.pickle_reader import Reader
from mlwarden.scan.pickle_values import GlobalRef
from mlwarden.scan.pickle_vm import PickleMachine
from mlwarden.scan.policy import PicklePolicy


def su(text: str) -> bytes:
    raw = text.encode()
    return b"\x8c" + bytes([len(raw)]) + raw


def bu(text: str) -> bytes:
    raw = text.encode()
    return b"X" + struct.pack("<I", len(raw)) + raw


def rules_of(tmp_path: Path, data: bytes, name: str = "x.pkl") -> set[str]:
    path = tmp_path / name
    path.write_bytes(data)
    result = scan_file(path, ScanOptions())
    return {f.rule_id for f in result.findings if f.severity.rank >= 2}


CMD = "touch PWNED"
ATTACKS = {
    "global_reduce_p0": b"cos\nsystem\n(S'" + CMD.encode() + b"'\ntR.",
    "inst": b"(S'x'\nios\nsystem\n.",
    "obj": b"\x80\x02(cos\nsystem\n" + bu(CMD) + b"o.",
    "memo_stack_global": b"\x80\x04"
    + su("os")
    + b"\x94"
    + su("system")
    + b"\x94h\x00h\x01\x93"
    + su(CMD)
    + b"\x85R.",
    "swapped_memo": b"\x80\x04"
    + su("system")
    + b"\x94"
    + su("os")
    + b"\x94h\x01h\x00\x93"
    + su(CMD)
    + b"\x85R.",
    "long_binput": b"\x80\x04"
    + su("posix")
    + b"r\x07\x00\x00\x00"
    + su("system")
    + b"r\x09\x00\x00\x00j\x07\x00\x00\x00j\x09\x00\x00\x00\x93"
    + su(CMD)
    + b"\x85R.",
    "computed_name": b"\x80\x04"
    + su("builtins")
    + su("str")
    + b"\x93"
    + su("x")
    + b"\x85R"
    + su("system")
    + b"\x93"
    + su(CMD)
    + b"\x85R.",
    "dotted_walk": b"\x80\x04"
    + su("numpy")
    + su("testing._private.utils.os.system")
    + b"\x93"
    + su(CMD)
    + b"\x85R.",
    "py2_rename": b"c__builtin__\neval\n(S'1'\ntR.",
    "ext_code": b"\x80\x02\x82\x01)R.",
    "frame_straddle": b"\x80\x04\x95\x03\x00\x00\x00\x00\x00\x00\x00"
    + su("os")
    + su("system")
    + b"\x93"
    + su(CMD)
    + b"\x85R.",
    "payload_then_garbage": b"\x80\x02cos\nsystem\n" + bu(CMD) + b"\x85R\xff\xfe",
    "payload_then_truncated": b"\x80\x02cos\nsystem\n" + bu(CMD) + b"\x85RX\xff\xff\xff\x00ab",
    "build_patches_global": b"\x80\x02ccollections\nOrderedDict\nN}" + bu("x") + b"K\x01s\x86b.",
    "stacked_second": pickle.dumps([1, 2]) + b"\x80\x02cos\nsystem\n" + bu(CMD) + b"\x85R.",
    "nested_loads": b"\x80\x03cpickle\nloads\nC\x14\x80\x02cos\nsystem\nX\x01\x00\x00\x00x"
    b"\x85R.\x85R.",
    "bytes_constant_pickle": b"\x80\x03C\x14\x80\x02cos\nsystem\nX\x01\x00\x00\x00x\x85R.\x85.",
    "partial_wraps": b"\x80\x02cfunctools\npartial\ncos\nsystem\n" + bu(CMD) + b"\x86R.",
    "call_of_call": b"\x80\x02cbuiltins\nlist\n)R)R.",
}


@pytest.mark.parametrize("name", sorted(ATTACKS))
def test_attack_routes_are_caught(tmp_path: Path, name: str) -> None:
    found = rules_of(tmp_path, ATTACKS[name])
    assert found & {"SCAN-PKL-001", "SCAN-PKL-003", "SCAN-PKL-004", "SCAN-PKL-005"}, found
    assert not (tmp_path / "PWNED").exists()


class _Payload:
    def __reduce__(self) -> tuple[object, ...]:
        return (os.system, (CMD,))


@pytest.mark.parametrize("protocol", range(6))
def test_reduce_payload_every_protocol(tmp_path: Path, protocol: int) -> None:
    data = pickle.dumps({"weights": [1.0, 2.0], "hook": _Payload()}, protocol=protocol)
    assert "SCAN-PKL-001" in rules_of(tmp_path, data)


BENIGN = {
    "dict": {"a": [1, 2.5, None, True], "b": ("x", b"y"), "c": {1, 2}, "d": frozenset({3})},
    "nested": [[{"k": bytearray(b"\x80\x04")}] * 3],
    "big_int": 2**200,
    "text": 'caf\u00e9\n"quoted"',
}


@pytest.mark.parametrize("protocol", range(6))
@pytest.mark.parametrize("name", sorted(BENIGN))
def test_plain_values_are_clean(tmp_path: Path, name: str, protocol: int) -> None:
    data = pickle.dumps(BENIGN[name], protocol=protocol)
    assert rules_of(tmp_path, data) == set()


def test_random_bytes_that_start_like_a_pickle_are_not_reported(tmp_path: Path) -> None:
    blob = b"\x80\x04" + bytes(range(256)) * 8  # looks like PROTO 4, then junk
    data = pickle.dumps({"raw": blob, "n": 3}, protocol=4)
    assert rules_of(tmp_path, data) == set()


def test_unknown_global_is_medium_and_allowable(tmp_path: Path) -> None:
    data = b"\x80\x02cmypkg.models\nNet\n)\x81}b."
    assert rules_of(tmp_path, data) == {"SCAN-PKL-002"}
    path = tmp_path / "n.pkl"
    path.write_bytes(data)
    options = ScanOptions(policy=PicklePolicy(frozenset({"mypkg.models.Net"})))
    assert scan_file(path, options).findings == ()


def test_malformed_pickle_reported_with_offset(tmp_path: Path) -> None:
    path = tmp_path / "broken.pkl"
    path.write_bytes(pickle.dumps(list(range(50)), protocol=2)[:-20])
    result = scan_file(path, ScanOptions())
    malformed = [f for f in result.findings if f.rule_id == "SCAN-PKL-006"]
    assert malformed and malformed[0].location.offset is not None


class _CountingStream(io.BytesIO):
    def __init__(self, data: bytes) -> None:
        super().__init__(data)
        self.bytes_read = 0

    def read(self, n: int | None = -1) -> bytes:
        out = super().read(n)
        self.bytes_read += len(out)
        return out


def _resolve(module: str, name: str, offset: int) -> GlobalRef:
    return GlobalRef(module, name, offset, PicklePolicy().judge(module, name))


def test_large_byte_strings_are_skipped_not_read() -> None:
    payload = b"\x00" * (64 << 20)
    data = pickle.dumps({"blob": payload}, protocol=4)
    stream = _CountingStream(data)
    obs = PickleMachine(Reader(stream, len(data)), _resolve, lambda: None).run()
    assert obs.stopped and obs.error is None
    assert stream.bytes_read < 2 << 20


def test_memo_is_bounded() -> None:
    data = pickle.dumps([str(i) for i in range(5000)], protocol=2)
    machine = PickleMachine(Reader(io.BytesIO(data)), _resolve, lambda: None, max_memo=100)
    obs = machine.run()
    assert obs.stopped and len(machine.memo) <= 100 + 5000  # strings kept, others dropped
    machine2 = PickleMachine(
        Reader(io.BytesIO(pickle.dumps([[i] for i in range(5000)], protocol=2))),
        _resolve,
        lambda: None,
        max_memo=100,
    )
    assert machine2.run().stopped and len(machine2.memo) <= 101


def test_deadline_stops_a_long_pickle(tmp_path: Path) -> None:
    path = tmp_path / "long.pkl"
    path.write_bytes(pickle.dumps(list(range(300_000)), protocol=0))
    ctx = ScanContext.start(PicklePolicy(), ScanLimits(max_file_seconds=1e-9), dispatch)
    from mlwarden.findings import Location
    from mlwarden.scan.base import Artifact

    artifact = Artifact(
        Location(str(path)), path.name, path.stat().st_size, 0, lambda: path.open("rb")
    )
    found = list(dispatch(artifact, ctx))
    assert any(f.rule_id == "SCAN-GEN-001" for f in found)
