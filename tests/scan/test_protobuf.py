"""The bounded protobuf wire reader: values, malformed input, skipping by seeking, limits."""

from __future__ import annotations

import io
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mlwarden.errors import MalformedInput, ScanLimitExceeded
from mlwarden.scan._protobuf import (
    Field,
    Message,
    ProtoReader,
    Span,
    WireType,
    validate_schema,
    walk,
)

MiB = 1024 * 1024


# --- a tiny protobuf writer -------------------------------------------------------------------


def varint(n: int) -> bytes:
    out = bytearray()
    while True:
        low, n = n & 0x7F, n >> 7
        out.append(low | (0x80 if n else 0))
        if not n:
            return bytes(out)


def tag(number: int, wire: int) -> bytes:
    return varint(number << 3 | wire)


def f_varint(number: int, value: int) -> bytes:
    return tag(number, 0) + varint(value)


def f_len(number: int, payload: bytes | str) -> bytes:
    data = payload.encode() if isinstance(payload, str) else payload
    return tag(number, 2) + varint(len(data)) + data


if TYPE_CHECKING:
    from _typeshed import WriteableBuffer


class Pipe(io.RawIOBase):
    """A pipe-like raw stream: read only, no seek, no tell; counts the bytes it hands out."""

    def __init__(self, data: bytes) -> None:
        self._inner = io.BytesIO(data)
        self.nread = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    def readinto(self, buffer: WriteableBuffer) -> int:
        data = self._inner.read(len(memoryview(buffer)))
        memoryview(buffer)[: len(data)] = data
        self.nread += len(data)
        return len(data)


def non_seekable(data: bytes) -> tuple[BinaryIO, Pipe]:
    pipe = Pipe(data)
    return io.BufferedReader(pipe), pipe


class CountingReader(io.BufferedReader):
    """A seekable file stream that counts the bytes handed out by read()."""

    nread = 0

    def read(self, size: int | None = -1) -> bytes:
        data = super().read(size)
        self.nread += len(data)
        return data


def fields(data: bytes, **kwargs: Any) -> list[Field]:
    return list(ProtoReader(io.BytesIO(data), **kwargs).fields())


# A message "Node" (name, op, attributes) inside "Graph" (nodes, title, a big blob).
SCHEMA = {
    "Graph": {1: "Node", 2: "string", 3: "span", 4: "varint"},
    "Node": {1: "string", 2: "string", 3: "Graph", 4: "bytes", 5: "prefix"},
}


@pytest.fixture(params=[0, 64 * 1024], ids=["streamed", "in-memory"])
def window(request: pytest.FixtureRequest) -> int:
    """Decode both ways: field by field from the stream, or a whole message read at once."""
    return int(request.param)


def decode(
    data: bytes, window: int, schema: dict[str, dict[int, str]] | None = None, **kwargs: Any
) -> Message:
    reader = ProtoReader(io.BytesIO(data), window=window, **kwargs)
    return reader.decode(schema or SCHEMA, "Graph")


def node(name: str, op: str, *extra: bytes) -> bytes:
    return f_len(1, name) + f_len(2, op) + b"".join(extra)


# --- scalar values ----------------------------------------------------------------------------


@pytest.mark.parametrize("value", [0, 1, 127, 128, 300, 2**32, 2**63, 2**64 - 1])
def test_varint_values_round_trip(value: int) -> None:
    (item,) = fields(f_varint(7, value))
    assert (item.number, item.wire_type, item.value) == (7, WireType.VARINT, value)


def test_negative_int64_reads_as_ten_byte_varint() -> None:
    encoded = b"\x08" + b"\xff" * 9 + b"\x01"  # -1 as int64
    (item,) = fields(encoded)
    assert item.value == 2**64 - 1


def test_fixed_width_values_and_offsets() -> None:
    data = tag(1, 5) + (1234).to_bytes(4, "little") + tag(2, 1) + (2**40).to_bytes(8, "little")
    first, second = fields(data)
    assert (first.wire_type, first.value, first.offset) == (WireType.I32, 1234, 0)
    assert (second.wire_type, second.value, second.offset) == (WireType.I64, 2**40, 5)
    assert second.span == Span(6, 8)


def test_length_delimited_field_gives_span_without_reading() -> None:
    data = f_len(3, b"x" * 1000) + f_varint(4, 9)
    blob, after = fields(data)
    assert (blob.wire_type, blob.value, blob.span) == (WireType.LEN, 1000, Span(3, 1000))
    assert after.value == 9


# --- malformed input --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"\x08" + b"\xff" * 10 + b"\x01", "longer than 10 bytes"),
        (b"\x08\xff", "truncated varint at offset 1"),
        (b"\x00\x01", "invalid field number 0"),
        (tag(2**29, 0) + b"\x01", "invalid field number"),
        (b"\x0e\x00", "invalid wire type 6"),
        (b"\x0f\x00", "invalid wire type 7"),
        (b"\x12\x05ab", "past the end of its message"),
        (b"\x0d\x01\x02", "cut short"),
        (b"\x15\x01", "cut short"),
        (b"\x0c", "closes no group"),
        (b"\x0b\x08\x01", "never closed"),
        (b"\x0b\x14", "closed by field 2"),
        (tag(1, 2) + varint(2**31), "2 GiB"),
    ],
)
def test_malformed_wire_data_raises_with_a_precise_message(
    data: bytes, message: str, window: int
) -> None:
    with pytest.raises(MalformedInput, match=message):
        fields(data)
    with pytest.raises(MalformedInput, match=message):
        decode(data, window, FUZZ_SCHEMA)


def test_inner_length_past_the_enclosing_message_is_malformed(window: int) -> None:
    inner = tag(1, 2) + varint(50) + b"abc"  # claims 50 bytes, its message holds 3
    data = f_len(1, inner) + f_len(2, "after")
    with pytest.raises(MalformedInput, match="past the end of its message at 7"):
        decode(data, window)


def test_truncated_payload_of_a_non_seekable_stream_is_malformed() -> None:
    data = tag(3, 2) + varint(10_000) + b"short"
    with pytest.raises(MalformedInput, match="data ends at offset"):
        list(ProtoReader(non_seekable(data)[0]).fields())


def test_groups_are_skipped_like_unknown_fields(window: int) -> None:
    group = tag(9, 3) + f_varint(1, 5) + tag(2, 3) + f_len(3, "x") + tag(2, 4) + tag(9, 4)
    data = group + f_len(2, "kept")
    msg = decode(data, window)
    assert msg.strings(2) == ["kept"]


# --- schema decoding --------------------------------------------------------------------------


def test_decode_follows_the_schema_only(window: int) -> None:
    sub = f_len(1, node("inner", "Relu"))
    data = (
        f_len(1, node("a", "MatMul", f_len(3, sub), f_len(4, b"\x00\x01"), f_varint(9, 1)))
        + f_len(7, "unknown field")
        + f_len(2, "title")
        + f_len(1, node("b", "Add"))
    )
    graph = decode(data, window)
    first, second = graph.messages(1)
    assert (first.string(1), first.string(2), second.string(2)) == ("a", "MatMul", "Add")
    assert first.blobs(4) == [b"\x00\x01"]
    assert first.messages(3)[0].messages(1)[0].string(2) == "Relu"
    assert graph.string(2) == "title"
    assert 7 not in graph.values


def test_wire_type_mismatch_is_skipped_not_decoded(window: int) -> None:
    data = f_varint(1, 5) + tag(2, 5) + b"\x00" * 4 + f_len(4, "packed") + f_len(2, "ok")
    graph = decode(data, window)
    assert graph.messages(1) == []
    assert graph.strings(2) == ["ok"]
    assert graph.ints(4) == []


def test_repeated_and_duplicate_fields_keep_every_value_in_order(window: int) -> None:
    data = f_len(2, "first") + f_len(2, "second") + f_len(2, "last")
    graph = decode(data, window)
    assert graph.strings(2) == ["first", "second", "last"]
    assert graph.string(2) == "last"


def test_invalid_utf8_is_kept_byte_for_byte(window: int) -> None:
    graph = decode(f_len(2, b"a\xffb"), window)
    assert graph.string(2).encode("utf-8", "surrogateescape") == b"a\xffb"


def test_string_over_the_bound_is_malformed(window: int) -> None:
    data = f_len(2, "x" * 5000)
    with pytest.raises(MalformedInput, match="holds 5000 bytes, more than the 4096"):
        decode(data, window, max_bytes=4096)


def test_span_and_prefix_kinds_do_not_read_the_whole_payload(window: int) -> None:
    data = f_len(3, b"z" * 100_000) + f_len(1, node("n", "Op", f_len(5, b"file://" + b"p" * 999)))
    graph = decode(data, window, prefix_bytes=16)
    (span,) = graph.values[3]
    assert span == Span(4, 100_000)
    assert graph.messages(1)[0].blobs(5) == [b"file://ppppppppp"]


def test_walk_is_pre_order_in_wire_order(window: int) -> None:
    sub = f_len(1, node("inner", "Relu"))
    data = f_len(1, node("a", "If", f_len(3, sub))) + f_len(1, node("b", "Add"))
    graph = decode(data, window)
    names = [(len(trail), m.string(1)) for trail, m in walk(graph) if m.name == "Node"]
    assert names == [(1, "a"), (3, "inner"), (1, "b")]


def test_decode_agrees_with_the_protobuf_library() -> None:
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper

    body = helper.make_graph(
        [helper.make_node("Neg", ["a"], ["b"], name="neg")],
        "then",
        [],
        [helper.make_tensor_value_info("b", TensorProto.FLOAT, [1])],
    )
    nodes = [
        helper.make_node("Relu", ["x"], ["y"], name="relu"),
        helper.make_node("If", ["c"], ["z"], name="if", then_branch=body, else_branch=body),
    ]
    graph = helper.make_graph(nodes, "main", [], [])
    data = helper.make_model(graph).SerializeToString()
    schema = {
        "Model": {1: "varint", 7: "Graph"},
        "Graph": {1: "Node", 2: "string"},
        "Node": {3: "string", 4: "string", 5: "Attr"},
        "Attr": {1: "string", 6: "Graph"},
    }
    model = ProtoReader(io.BytesIO(data)).decode(schema, "Model")
    expected = onnx.load_from_string(data)
    assert model.ints(1) == [expected.ir_version]
    ops = [m.string(4) for _, m in walk(model) if m.name == "Node"]
    assert ops == ["Relu", "If", "Neg", "Neg"]


def test_validate_schema_rejects_unknown_kinds() -> None:
    validate_schema(SCHEMA)
    with pytest.raises(ValueError, match="unknown kind 'Missing'"):
        validate_schema({"A": {1: "Missing"}})
    with pytest.raises(ValueError, match="invalid field number 0"):
        validate_schema({"A": {0: "string"}})


def test_peek_does_not_consume() -> None:
    data = f_len(2, "title")
    reader = ProtoReader(io.BytesIO(data))
    assert reader.peek(3) == data[:3]
    assert reader.decode(SCHEMA, "Graph").string(2) == "title"


# --- skipping big payloads --------------------------------------------------------------------


def test_huge_payload_is_skipped_by_seeking(tmp_path: Path) -> None:
    size = 200 * MiB
    head = f_len(2, "before") + tag(3, 2) + varint(size)
    tail = f_len(1, node("after", "Relu")) + f_varint(4, 42)
    path = tmp_path / "sparse.pb"
    with path.open("wb") as out:
        out.write(head)
        out.seek(len(head) + size)  # a hole: the payload takes no disk space
        out.write(tail)
    with CountingReader(io.FileIO(path)) as stream:
        graph = ProtoReader(stream).decode(SCHEMA, "Graph")
        read = stream.nread
    assert graph.messages(1)[0].string(1) == "after"
    assert graph.ints(4) == [42]
    assert graph.values[3] == [Span(len(head), size)]
    assert read < MiB


def test_non_seekable_stream_skips_by_reading_in_chunks(window: int) -> None:
    data = f_len(3, b"\x00" * (3 * MiB)) + f_len(1, node("n", "Relu")) + f_len(2, "t")
    checks: list[int] = []
    stream, pipe = non_seekable(data)
    reader = ProtoReader(stream, check=lambda: checks.append(1), window=window)
    graph = reader.decode(SCHEMA, "Graph")
    assert graph == decode(data, window)
    assert pipe.nread == len(data)
    assert len(checks) >= 3  # the deadline is checked while discarding


# --- limits -----------------------------------------------------------------------------------


def _nested(depth: int) -> bytes:
    data = f_len(1, "leaf")
    for _ in range(depth):
        data = f_len(3, f_len(1, data))
    return f_len(1, data)


def test_depth_limit_stops_deep_nesting(window: int) -> None:
    decode(_nested(5), window, max_depth=20)
    with pytest.raises(ScanLimitExceeded, match="deeper than 20"):
        decode(_nested(30), window, max_depth=20)


def test_group_depth_is_limited_too() -> None:
    data = tag(1, 3) * 200
    with pytest.raises(ScanLimitExceeded, match="groups nest deeper"):
        fields(data, max_depth=50)


def test_field_count_limit(window: int) -> None:
    data = f_varint(4, 1) * 100
    assert len(fields(data, max_fields=100)) == 100
    with pytest.raises(ScanLimitExceeded, match="more than 50 protobuf fields"):
        fields(data, max_fields=50)
    with pytest.raises(ScanLimitExceeded, match="more than 50 protobuf fields"):
        decode(data, window, max_fields=50)


def test_check_is_called_while_iterating_and_can_stop_the_read() -> None:
    class Deadline(Exception):
        pass

    def check() -> None:
        raise Deadline

    data = f_varint(4, 1) * 5000
    with pytest.raises(Deadline):
        list(ProtoReader(io.BytesIO(data), check=check).fields())
    for window in (0, len(data)):
        with pytest.raises(Deadline):
            ProtoReader(io.BytesIO(data), check=check, window=window).decode(SCHEMA, "Graph")
    assert len(list(ProtoReader(io.BytesIO(data[:1000])).fields())) == 500


# --- robustness -------------------------------------------------------------------------------

FUZZ_SCHEMA = {
    "Graph": {1: "Node", 2: "string", 3: "span", 4: "varint"},
    "Node": {1: "string", 2: "bytes", 3: "Graph", 5: "prefix"},
}


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=200), st.booleans())
def test_arbitrary_bytes_never_escape_as_other_errors(data: bytes, seekable: bool) -> None:
    stream = io.BytesIO(data) if seekable else non_seekable(data)[0]
    try:
        result = ProtoReader(stream, max_depth=10).decode(FUZZ_SCHEMA, "Graph")
    except (MalformedInput, ScanLimitExceeded):
        return
    assert isinstance(result, Message)


def _outcome(data: bytes, window: int) -> object:
    try:
        return ProtoReader(io.BytesIO(data), max_depth=10, window=window).decode(
            FUZZ_SCHEMA, "Graph"
        )
    except MalformedInput:
        return "malformed"
    except ScanLimitExceeded:
        return "limit"


_FIELD = st.one_of(
    st.builds(f_varint, st.integers(1, 6), st.integers(0, 2**64 - 1)),
    st.builds(f_len, st.integers(1, 6), st.binary(max_size=12)),
    st.sampled_from([tag(1, 3), tag(1, 4), tag(2, 5) + b"abcd", b"\xff", b"\x0f"]),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.recursive(
        _FIELD, lambda inner: st.builds(f_len, st.integers(1, 3), inner), max_leaves=8
    ).map(bytes)
    | st.lists(_FIELD, max_size=8).map(b"".join)
)
def test_streamed_and_in_memory_decoding_agree(data: bytes) -> None:
    assert _outcome(data, 0) == _outcome(data, 1 << 20)
