"""Tests for the GGUF scanner: bounded header parsing and chat-template injection."""

from __future__ import annotations

import io
import struct
from pathlib import Path
from typing import Any, BinaryIO

import gguf
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mlwarden.findings import Confidence, Finding, Location, Severity
from mlwarden.scan import chat_template
from mlwarden.scan.base import Artifact, ScanContext, ScanLimits, Scanner
from mlwarden.scan.gguf_scanner import GgufScanner
from mlwarden.scan.policy import PicklePolicy
from mlwarden.scan.sniff import sniff
from tests.scan.test_chat_template import BENIGN_TEMPLATES, MALICIOUS_TEMPLATES

U32, STRING, ARRAY = 4, 8, 9


def _no_dispatch(child: Artifact, ctx: ScanContext) -> Any:
    raise AssertionError("the GGUF scanner has nothing to dispatch")


def scan_bytes(
    data: bytes, *, known_size: bool = True, limits: ScanLimits | None = None
) -> list[Finding]:
    def opener() -> BinaryIO:
        return io.BytesIO(data)

    artifact = Artifact(
        Location("model.gguf"), "model.gguf", len(data) if known_size else None, 0, opener
    )
    ctx = ScanContext.start(PicklePolicy(), limits or ScanLimits(), _no_dispatch)
    return list(GgufScanner().scan(artifact, ctx))


def scan_path(path: Path) -> list[Finding]:
    size = path.stat().st_size
    artifact = Artifact(Location(str(path)), path.name, size, 0, lambda: path.open("rb"), path)
    ctx = ScanContext.start(PicklePolicy(), ScanLimits(), _no_dispatch)
    return list(GgufScanner().scan(artifact, ctx))


def write_gguf(
    path: Path,
    template: str | None = None,
    *,
    vocab: int = 100,
    extra: dict[str, str] | None = None,
    endian: gguf.GGUFEndian = gguf.GGUFEndian.LITTLE,
) -> Path:
    writer = gguf.GGUFWriter(path, "llama", endianess=endian)
    writer.add_name("tiny-test")
    writer.add_context_length(2048)
    writer.add_tokenizer_model("gpt2")
    writer.add_token_list([f"tok{i}" for i in range(vocab)])
    writer.add_token_types([1] * vocab)
    writer.add_token_merges([f"t{i} k{i}" for i in range(vocab)])
    writer.add_array("test.nested", [[1, 2], [3]])
    if template is not None:
        writer.add_chat_template(template)
    for key, value in (extra or {}).items():
        writer.add_string(key, value)
    writer.add_tensor("token_embd.weight", np.zeros((4, 8), dtype=np.float32))
    writer.add_tensor("output_norm.weight", np.ones(8, dtype=np.float16))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


# --- hand-made files -------------------------------------------------------------------


def gstr(text: str | bytes, wide: bool = True) -> bytes:
    raw = text.encode() if isinstance(text, str) else text
    return struct.pack("<Q" if wide else "<I", len(raw)) + raw


def kv_string(key: str, value: str, wide: bool = True) -> bytes:
    return gstr(key, wide) + struct.pack("<I", STRING) + gstr(value, wide)


def kv_u32(key: str, value: int) -> bytes:
    return gstr(key) + struct.pack("<II", U32, value)


def kv_strings(key: str, values: list[str]) -> bytes:
    body = b"".join(gstr(v) for v in values)
    return gstr(key) + struct.pack("<IIQ", ARRAY, STRING, len(values)) + body


def tensor_info(name: str, dims: list[int], offset: int, wide: bool = True) -> bytes:
    shape = struct.pack(f"<{len(dims)}{'Q' if wide else 'I'}", *dims)
    return gstr(name, wide) + struct.pack("<I", len(dims)) + shape + struct.pack("<IQ", 0, offset)


def build(
    kvs: list[bytes],
    tensors: list[bytes] = (),  # type: ignore[assignment]
    *,
    version: int = 3,
    n_kv: int | None = None,
    n_tensors: int | None = None,
    data: bytes = b"",
) -> bytes:
    wide = version >= 2
    counts = struct.pack("<QQ" if wide else "<II", n_tensors or len(tensors), n_kv or len(kvs))
    head = b"GGUF" + struct.pack("<I", version) + counts + b"".join(kvs) + b"".join(tensors)
    padding = b"\0" * (-len(head) % 32) if tensors else b""
    return head + padding + data


def rules(findings: list[Finding]) -> list[tuple[str, Severity]]:
    return sorted((f.rule_id, f.severity) for f in findings)


# --- benign ----------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(BENIGN_TEMPLATES))
def test_benign_templates_in_gguf_files_are_clean(tmp_path: Path, name: str) -> None:
    path = write_gguf(tmp_path / "model.gguf", BENIGN_TEMPLATES[name])
    assert scan_path(path) == []


def test_benign_file_without_template_is_clean(tmp_path: Path) -> None:
    assert scan_path(write_gguf(tmp_path / "plain.gguf")) == []


def test_big_endian_file_is_parsed(tmp_path: Path) -> None:
    path = write_gguf(tmp_path / "be.gguf", BENIGN_TEMPLATES["chatml"], endian=gguf.GGUFEndian.BIG)
    assert scan_path(path) == []
    bad = write_gguf(tmp_path / "be-bad.gguf", "{{ x.__class__ }}", endian=gguf.GGUFEndian.BIG)
    assert [f.rule_id for f in scan_path(bad)] == ["SCAN-GGUF-001"]


def test_150k_vocabulary_is_skipped_quickly(tmp_path: Path) -> None:
    path = write_gguf(tmp_path / "vocab.gguf", BENIGN_TEMPLATES["llama3.1"], vocab=150_000)
    assert scan_path(path) == []


def test_version_1_file_with_u32_lengths() -> None:
    kvs = [kv_string("tokenizer.chat_template", BENIGN_TEMPLATES["gemma"], wide=False)]
    data = build(kvs, [tensor_info("w", [4], 0, wide=False)], version=1, data=b"\0" * 16)
    assert scan_bytes(data) == []
    bad = build(
        [kv_string("tokenizer.chat_template", "{{ lipsum.__globals__ }}", False)], version=1
    )
    assert [f.rule_id for f in scan_bytes(bad)] == ["SCAN-GGUF-001"]


def test_stream_of_unknown_size_is_parsed() -> None:
    data = build([kv_string("tokenizer.chat_template", MALICIOUS_TEMPLATES["cycler"])])
    assert {f.rule_id for f in scan_bytes(data, known_size=False)} == {"SCAN-GGUF-001"}


def test_scanner_protocol_and_sniffing(tmp_path: Path) -> None:
    assert isinstance(GgufScanner(), Scanner)
    head = write_gguf(tmp_path / "s.gguf").read_bytes()[:4096]
    assert sniff(head, "model.bin") == ["gguf"]


def test_benign_jinja_looking_description_is_not_flagged() -> None:
    kvs = [kv_string("general.description", "Fill {{ user }} and {% raw %} placeholders")]
    assert scan_bytes(build(kvs)) == []


# --- malicious templates ---------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(MALICIOUS_TEMPLATES))
def test_malicious_chat_templates_are_critical(name: str) -> None:
    findings = scan_bytes(build([kv_string("tokenizer.chat_template", MALICIOUS_TEMPLATES[name])]))
    assert findings
    assert {(f.rule_id, f.severity) for f in findings} == {("SCAN-GGUF-001", Severity.CRITICAL)}
    assert all(f.evidence.startswith("tokenizer.chat_template: line") for f in findings)


def test_named_chat_templates_and_other_strings_are_checked(tmp_path: Path) -> None:
    extra = {
        "tokenizer.chat_template.tool_use": MALICIOUS_TEMPLATES["attr-format-c"],
        "general.description": "Hi {{ joiner.__init__.__globals__ }}",
    }
    path = write_gguf(tmp_path / "m.gguf", BENIGN_TEMPLATES["qwen2.5"], extra=extra)
    findings = scan_path(path)
    keys = {f.message.split(":")[0] for f in findings}
    assert keys == {"tokenizer.chat_template.tool_use", "general.description"}
    assert {f.rule_id for f in findings} == {"SCAN-GGUF-001"}


def test_writer_named_templates_are_checked(tmp_path: Path) -> None:
    path = tmp_path / "named.gguf"
    writer = gguf.GGUFWriter(path, "llama")
    writer.add_chat_template(
        [
            {"name": "default", "template": BENIGN_TEMPLATES["chatml"]},
            {"name": "rag", "template": MALICIOUS_TEMPLATES["lipsum"]},
        ]
    )
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.close()
    findings = scan_path(path)
    assert findings
    assert all(f.message.startswith("tokenizer.chat_template.rag:") for f in findings)


def test_unparsable_chat_template_is_low(tmp_path: Path) -> None:
    findings = scan_bytes(build([kv_string("tokenizer.chat_template", "{% for m in x %}")]))
    assert rules(findings) == [("SCAN-GGUF-002", Severity.LOW)]
    assert "does not parse" in findings[0].message


def test_lexical_fallback_without_jinja2(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(chat_template, "_jinja_env", lambda: None)
    data = build([kv_string("tokenizer.chat_template", MALICIOUS_TEMPLATES["attr-join"])])
    findings = scan_bytes(data)
    assert {f.rule_id for f in findings} == {"SCAN-GGUF-001"}
    assert all(f.confidence is Confidence.MEDIUM for f in findings)
    benign = build([kv_string("tokenizer.chat_template", BENIGN_TEMPLATES["mistral"])])
    assert scan_bytes(benign) == []


def test_template_before_damage_is_still_analysed() -> None:
    kvs = [kv_string("tokenizer.chat_template", MALICIOUS_TEMPLATES["subclasses"])]
    data = build(kvs, n_kv=2) + gstr("next.key")[:5]
    found = {f.rule_id for f in scan_bytes(data)}
    assert found == {"SCAN-GGUF-001", "SCAN-GGUF-002"}


# --- malformed -------------------------------------------------------------------------

GOOD_KV = kv_u32("general.quantization_version", 2)


def meta(*kvs: bytes) -> bytes:
    return build(list(kvs))


MALFORMED: dict[str, tuple[bytes, str]] = {
    "bad-magic": (b"GGUX" + b"\0" * 20, "magic"),
    "version-0": (b"GGUF" + struct.pack("<IQQ", 0, 0, 0), "version 0"),
    "version-4": (b"GGUF" + struct.pack("<IQQ", 4, 0, 0), "version 4"),
    "short-header": (b"GGUF\x03\x00\x00\x00\x00", "ends"),
    "too-many-kvs": (build([GOOD_KV], n_kv=2**40), "more than fit"),
    "truncated-kv": (build([GOOD_KV], n_kv=2), "ends"),
    "huge-string": (meta(gstr("k") + struct.pack("<IQ", STRING, 2**40)), "16777216-byte limit"),
    "huge-key": (
        meta(struct.pack("<Q", 70_000) + b"k" * 70_000 + struct.pack("<II", U32, 1)),
        "65535-byte limit",
    ),
    "non-utf8-key": (meta(gstr(b"\xff\xfe") + struct.pack("<II", U32, 1)), "UTF-8"),
    "duplicate-key": (meta(GOOD_KV, GOOD_KV), "duplicate key"),
    "unknown-type": (meta(gstr("k") + struct.pack("<I", 13)), "unknown value type 13"),
    "unknown-array-type": (meta(gstr("k") + struct.pack("<IIQ", ARRAY, 99, 1)), "element type 99"),
    "deep-array": (
        meta(gstr("k") + struct.pack("<IIQIQIQ", ARRAY, ARRAY, 1, ARRAY, 1, U32, 0)),
        "deeper",
    ),
    "array-past-eof": (meta(gstr("k") + struct.pack("<IIQ", ARRAY, STRING, 2**30)), "needs"),
    "string-array-truncated": (meta(kv_strings("tokenizer.ggml.tokens", ["a", "bc"])[:-1]), "ends"),
    "bad-alignment": (meta(kv_u32("general.alignment", 48)), "power of two"),
    "alignment-wrong-type": (
        meta(gstr("general.alignment") + struct.pack("<IQ", 10, 32)),
        "power of two",
    ),
}


@pytest.mark.parametrize("name", sorted(MALFORMED))
def test_malformed_metadata(name: str) -> None:
    data, needle = MALFORMED[name]
    findings = scan_bytes(data)
    assert rules(findings) == [("SCAN-GGUF-002", Severity.MEDIUM)]
    assert needle in findings[0].message


def test_nested_array_within_the_depth_bound_is_accepted() -> None:
    inner = struct.pack("<IQ", U32, 2) + struct.pack("<II", 1, 2)
    data = meta(gstr("k") + struct.pack("<IIQ", ARRAY, ARRAY, 1) + inner)
    assert scan_bytes(data) == []


TENSORS: dict[str, tuple[list[bytes], bytes, str]] = {
    "five-dims": ([tensor_info("w", [1, 1, 1, 1, 1], 0)], b"\0" * 32, "5 dimensions"),
    "int64-overflow": ([tensor_info("w", [2**40, 2**40], 0)], b"\0" * 32, "int64"),
    "misaligned": ([tensor_info("w", [4], 0), tensor_info("v", [4], 17)], b"\0" * 64, "misal"),
    "out-of-order": ([tensor_info("w", [4], 32), tensor_info("v", [4], 0)], b"\0" * 64, "order"),
    "duplicate": ([tensor_info("w", [4], 0), tensor_info("w", [4], 32)], b"\0" * 64, "duplicate"),
    "past-eof": ([tensor_info("w", [4], 4096)], b"\0" * 32, "past the end"),
    "too-many": ([tensor_info("w", [4], 0)], b"", "more than fit"),
}


@pytest.mark.parametrize("name", sorted(TENSORS))
def test_malformed_tensor_infos(name: str) -> None:
    infos, data, needle = TENSORS[name]
    n_tensors = 2**40 if name == "too-many" else None
    findings = scan_bytes(build([GOOD_KV], infos, n_tensors=n_tensors, data=data))
    assert rules(findings) == [("SCAN-GGUF-002", Severity.MEDIUM)]
    assert needle in findings[0].message


def test_valid_hand_made_tensor_infos_are_clean() -> None:
    infos = [tensor_info("w", [4, 2], 0), tensor_info("v", [3], 32), tensor_info("e", [0], 64)]
    assert scan_bytes(build([GOOD_KV], infos, data=b"\0" * 64)) == []


def test_metadata_over_the_byte_budget(tmp_path: Path) -> None:
    path = write_gguf(tmp_path / "v.gguf", vocab=5000)
    findings = scan_bytes(path.read_bytes(), limits=ScanLimits(max_header_bytes=20_000))
    assert rules(findings) == [("SCAN-GGUF-002", Severity.MEDIUM)]
    assert "20000-byte limit" in findings[0].message


def test_engine_dispatches_gguf_by_sniffing(tmp_path: Path) -> None:
    from mlwarden.scan.engine import ScanOptions, scan_file

    good = write_gguf(tmp_path / "good.bin", BENIGN_TEMPLATES["phi3"])
    bad = write_gguf(tmp_path / "bad.bin", MALICIOUS_TEMPLATES["lipsum"])
    assert scan_file(good, ScanOptions()).findings == ()
    assert {f.rule_id for f in scan_file(bad, ScanOptions()).findings} == {"SCAN-GGUF-001"}


_SEED = build(
    [kv_string("tokenizer.chat_template", BENIGN_TEMPLATES["chatml"]), kv_strings("t", ["a", "b"])],
    [tensor_info("w", [4], 0)],
    data=b"\0" * 16,
)


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_mutated_files_never_raise(data: st.DataObject) -> None:
    blob = bytearray(_SEED)
    for _ in range(data.draw(st.integers(1, 8))):
        blob[data.draw(st.integers(0, len(blob) - 1))] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(0, len(blob)))
    findings = scan_bytes(bytes(blob[:cut]))
    assert all(f.rule_id.startswith("SCAN-GGUF") for f in findings)
