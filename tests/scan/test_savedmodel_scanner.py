"""TensorFlow SavedModel / GraphDef scanner, on protos written by hand (no TensorFlow needed)."""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mlwarden.errors import MalformedInput, ScanLimitExceeded
from mlwarden.findings import Finding, Location, Severity
from mlwarden.scan._protobuf import validate_schema
from mlwarden.scan.base import Artifact, ScanContext, ScanLimits
from mlwarden.scan.policy import PicklePolicy
from mlwarden.scan.savedmodel_scanner import SCHEMA, SavedModelScanner

MiB = 1024 * 1024

# --- a tiny protobuf writer for the TensorFlow messages ---------------------------------------


def varint(n: int) -> bytes:
    out = bytearray()
    while True:
        low, n = n & 0x7F, n >> 7
        out.append(low | (0x80 if n else 0))
        if not n:
            return bytes(out)


def f_varint(number: int, value: int) -> bytes:
    return varint(number << 3) + varint(value)


def f_len(number: int, payload: bytes | str) -> bytes:
    data = payload.encode() if isinstance(payload, str) else payload
    return varint(number << 3 | 2) + varint(len(data)) + data


def attr_s(text: str) -> bytes:
    return f_len(2, text)


def attr_func(name: str) -> bytes:
    return f_len(10, f_len(1, name))


def attr_type(dtype: int) -> bytes:
    return f_varint(6, dtype)


def attr_tensor(content: bytes) -> bytes:
    # TensorProto{dtype: 1, tensor_content (field 4): ...}
    return f_len(8, f_varint(1, 1) + f_len(4, content))


def node(name: str, op: str, *inputs: str, **attrs: bytes) -> bytes:
    out = f_len(1, name) + f_len(2, op)
    out += b"".join(f_len(3, i) for i in inputs)
    out += f_len(4, "/job:localhost/replica:0/task:0/device:CPU:0")
    for key, value in attrs.items():
        out += f_len(5, f_len(1, key) + f_len(2, value))
    return out


def function(name: str, nodes: list[bytes]) -> bytes:
    signature = f_len(1, name) + f_len(2, f_len(1, "x") + f_varint(3, 1))
    return f_len(1, signature) + b"".join(f_len(3, n) for n in nodes)


def graph_def(nodes: list[bytes], functions: Sequence[bytes] = ()) -> bytes:
    out = b"".join(f_len(1, n) for n in nodes)
    if functions:
        out += f_len(2, b"".join(f_len(1, f) for f in functions))
    return out + f_len(4, f_varint(1, 1994))  # versions{producer}


def saved_model(graph: bytes, saver: bytes = b"") -> bytes:
    meta_info = f_len(1, f_len(4, "serve") + f_len(5, "2.15.0"))
    meta = meta_info + f_len(2, graph)
    if saver:
        meta += f_len(3, saver)
    meta += f_len(5, f_len(1, "serving_default") + f_len(2, f_len(3, "tensorflow/serving/predict")))
    return f_varint(1, 1) + f_len(2, meta)


def saver_def(scope: str = "save") -> bytes:
    return (
        f_len(1, f"{scope}/Const:0")
        + f_len(2, f"{scope}/control_dependency:0")
        + f_len(3, f"{scope}/restore_all")
    )


# --- realistic benign content -----------------------------------------------------------------

SAVE_FN = "__inference__traced_save_456"
RESTORE_FN = "__inference__traced_restore_789"
SERVE_FN = "__inference_serving_default_100"


def saver_functions() -> list[bytes]:
    save = function(
        SAVE_FN,
        [
            node(
                "StaticRegexFullMatch",
                "StaticRegexFullMatch",
                "file_prefix",
                pattern=attr_s("^s3://.*"),
            ),
            node("Const", "Const", value=attr_tensor(b".part")),
            node("Select", "Select", "StaticRegexFullMatch", "Const", "Const_1"),
            node("StringJoin", "StringJoin", "file_prefix", "Select"),
            node("num_shards", "Const", value=attr_tensor(b"\x01")),
            node("ShardedFilename", "ShardedFilename", "StringJoin", "shard", "num_shards"),
            node("SaveV2/tensor_names", "Const", value=attr_tensor(b"dense/kernel")),
            node("SaveV2", "SaveV2", "ShardedFilename", "SaveV2/tensor_names", "slices", "kernel"),
            node("MergeV2Checkpoints", "MergeV2Checkpoints", "ShardedFilename", "file_prefix"),
            node("Identity", "Identity", "file_prefix", T=attr_type(7)),
            node("NoOp", "NoOp"),
        ],
    )
    restore = function(
        RESTORE_FN,
        [
            node("RestoreV2", "RestoreV2", "file_prefix", "names", "slices"),
            node("Identity", "Identity", "RestoreV2"),
            node("AssignVariableOp", "AssignVariableOp", "kernel", "Identity"),
            node("NoOp", "NoOp"),
        ],
    )
    return [save, restore]


def serving_function(*extra: bytes) -> bytes:
    return function(
        SERVE_FN,
        [
            node("dense/MatMul/ReadVariableOp", "ReadVariableOp", "kernel"),
            node("dense/MatMul", "MatMul", "inputs", "dense/MatMul/ReadVariableOp", T=attr_type(1)),
            node("dense/BiasAdd", "BiasAdd", "dense/MatMul", "bias"),
            node("dense/Relu", "Relu", "dense/BiasAdd"),
            node("print", "PrintV2", "fmt", output_stream=attr_s("stderr")),
            node("Identity", "Identity", "dense/Relu"),
            *extra,
        ],
    )


def main_nodes(*extra: bytes) -> list[bytes]:
    return [
        node("serving_default_inputs", "Placeholder", dtype=attr_type(1)),
        node("kernel", "VarHandleOp", shared_name=attr_s("kernel")),
        node("Const", "Const", value=attr_tensor(b"\x00" * 4096)),
        node(
            "StatefulPartitionedCall",
            "StatefulPartitionedCall",
            "serving_default_inputs",
            f=attr_func("__inference_signature_wrapper_200"),
        ),
        node("saver_filename", "Placeholder", dtype=attr_type(7)),
        node(
            "StatefulPartitionedCall_1",
            "StatefulPartitionedCall",
            "saver_filename",
            f=attr_func(SAVE_FN),
        ),
        node(
            "StatefulPartitionedCall_2",
            "StatefulPartitionedCall",
            "saver_filename",
            f=attr_func(RESTORE_FN),
        ),
        *extra,
    ]


def benign_tf2(
    *,
    serve_extra: tuple[bytes, ...] = (),
    main_extra: tuple[bytes, ...] = (),
    extra_functions: tuple[bytes, ...] = (),
) -> bytes:
    wrapper = function(
        "__inference_signature_wrapper_200",
        [
            node(
                "StatefulPartitionedCall",
                "StatefulPartitionedCall",
                "inputs",
                f=attr_func(SERVE_FN),
            )
        ],
    )
    functions = [wrapper, serving_function(*serve_extra), *saver_functions(), *extra_functions]
    saver = (
        f_len(1, "saver_filename:0")
        + f_len(2, "StatefulPartitionedCall_1:0")
        + f_len(3, "StatefulPartitionedCall_2")
    )
    return saved_model(graph_def(main_nodes(*main_extra), functions), saver)


def benign_tf1(scope: str = "save") -> bytes:
    nodes = [
        node("x", "Placeholder"),
        node("w", "VariableV2"),
        node("y", "MatMul", "x", "w"),
        node(f"{scope}/Const", "Const", value=attr_tensor(b"model")),
        node(f"{scope}/SaveV2", "SaveV2", f"{scope}/Const", "names", "slices", "w"),
        node(f"{scope}/control_dependency", "Identity", f"{scope}/Const"),
        node(f"{scope}/RestoreV2", "RestoreV2", f"{scope}/Const", "names", "slices"),
        node(f"{scope}/Assign", "Assign", "w", f"{scope}/RestoreV2"),
        node(f"{scope}/restore_all", "NoOp"),
    ]
    return saved_model(graph_def(nodes), saver_def(scope))


# --- helpers ----------------------------------------------------------------------------------


def scan_bytes(data: bytes, name: str = "saved_model.pb") -> list[Finding]:
    artifact = Artifact(
        location=Location(f"model/{name}"),
        name=name,
        size=len(data),
        depth=0,
        opener=lambda: io.BytesIO(data),
    )
    ctx = ScanContext.start(PicklePolicy(), ScanLimits(), lambda _a, _c: iter(()))
    return list(SavedModelScanner().scan(artifact, ctx))


def ops(findings: list[Finding]) -> list[str]:
    return sorted(str(f.details.get("op", "call")) for f in findings)


# --- benign -----------------------------------------------------------------------------------


def test_schema_is_closed() -> None:
    validate_schema(SCHEMA)


def test_tf2_saved_model_with_saver_functions_is_clean() -> None:
    assert scan_bytes(benign_tf2()) == []


@pytest.mark.parametrize("scope", ["save", "save_1", "custom_saver"])
def test_tf1_saved_model_with_saver_scope_is_clean(scope: str) -> None:
    assert scan_bytes(benign_tf1(scope)) == []


def test_frozen_graph_def_is_clean() -> None:
    data = graph_def(
        [
            node("x", "Placeholder"),
            node("w", "Const", value=attr_tensor(b"\x01" * 64)),
            node("y", "MatMul", "x", "w"),
        ]
    )
    assert scan_bytes(data, name="frozen_graph.pb") == []


def test_other_saved_model_protos_are_ignored_quietly() -> None:
    # fingerprint.pb (FingerprintDef) sits beside saved_model.pb: varints and a VersionDef.
    fingerprint = f_varint(1, 2**63 + 5) + f_varint(2, 77) + f_varint(3, 9) + f_varint(4, 1)
    fingerprint += f_len(5, f_varint(1, 1))
    assert scan_bytes(fingerprint, name="fingerprint.pb") == []


# --- malicious --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("op", "severity"),
    [
        ("ReadFile", Severity.HIGH),
        ("WriteFile", Severity.HIGH),
        ("MatchingFiles", Severity.HIGH),
        ("ImmutableConst", Severity.HIGH),
        ("TFRecordDatasetV2", Severity.HIGH),
        ("ExperimentalSqlDataset", Severity.HIGH),
        ("DebugIdentityV3", Severity.HIGH),
        ("PyFunc", Severity.CRITICAL),
        ("EagerPyFunc", Severity.CRITICAL),
    ],
)
def test_dangerous_op_in_main_graph_is_flagged(op: str, severity: Severity) -> None:
    (found,) = scan_bytes(benign_tf2(main_extra=(node("evil", op, "path"),)))
    assert (found.rule_id, found.severity) == ("SCAN-TF-001", severity)
    assert found.details["op"] == op
    assert found.evidence == f"{op} evil"
    assert found.location.offset is not None


def test_python_op_hidden_in_a_library_function_is_critical() -> None:
    hidden = node("py", "PyFunc", "x", token=attr_s("pyfunc_0"))
    (found,) = scan_bytes(benign_tf2(serve_extra=(hidden,)))
    assert found.severity == Severity.CRITICAL
    assert f"function:{SERVE_FN}" in found.message


def test_file_ops_hidden_in_functions_are_flagged_even_in_saver_named_ones() -> None:
    evil_fn = function("__inference__traced_save_999", [node("w", "WriteFile", "path", "data")])
    found = scan_bytes(
        benign_tf2(serve_extra=(node("r", "ReadFile", "p"),), extra_functions=(evil_fn,))
    )
    assert ops(found) == ["ReadFile", "WriteFile"]


def test_checkpoint_ops_outside_the_saver_are_flagged() -> None:
    writer = node("dump", "SaveV2", "/tmp/exfil", "names", "slices", "secret")
    reader = node("load", "RestoreV2", "/etc/model", "names", "slices")
    found = scan_bytes(benign_tf2(serve_extra=(writer,), main_extra=(reader,)))
    assert ops(found) == ["RestoreV2", "SaveV2"]
    assert all("outside the model's saver" in f.message for f in found)


def test_serving_function_calling_the_saver_is_flagged() -> None:
    call = node("sneaky", "StatefulPartitionedCall", "p", f=attr_func(SAVE_FN))
    (found,) = scan_bytes(benign_tf2(serve_extra=(call,)))
    assert SAVE_FN in found.message
    assert found.severity == Severity.HIGH


def test_print_to_a_file_is_flagged_but_print_to_stderr_is_not() -> None:
    to_file = node("leak", "PrintV2", "secret", output_stream=attr_s("file:///tmp/leak.txt"))
    (found,) = scan_bytes(benign_tf2(serve_extra=(to_file,)))
    assert "file:///tmp/leak.txt" in found.message


def test_tf1_graph_file_op_is_flagged_next_to_a_benign_saver() -> None:
    base = benign_tf1()
    evil = saved_model(graph_def([node("save/ReadFile", "ReadFile", "/etc/passwd")]))
    assert scan_bytes(base) == []
    (found,) = scan_bytes(evil)
    assert found.details["op"] == "ReadFile"


def test_frozen_graph_def_with_file_op_is_flagged() -> None:
    data = graph_def([node("x", "Placeholder"), node("steal", "ReadFile", "x")])
    (found,) = scan_bytes(data, name="frozen.pb")
    assert (found.details["op"], found.details["where"]) == ("ReadFile", "graph")


def test_graph_def_led_by_its_library_is_still_scanned() -> None:
    library = f_len(2, f_len(1, function("__inference_f_1", [node("w", "WriteFile", "a", "b")])))
    (found,) = scan_bytes(library, name="graph.pb")
    assert found.details["op"] == "WriteFile"


def test_duplicate_function_names_do_not_hide_one_another() -> None:
    evil = function(SERVE_FN, [node("w", "WriteFile", "a", "b")])
    found = scan_bytes(benign_tf2(extra_functions=(evil,)))
    assert ops(found) == ["WriteFile"]


def test_every_meta_graph_is_scanned() -> None:
    first = benign_tf2()
    second = saved_model(graph_def([node("r", "ReadFile", "p")]))
    data = first + second[len(f_varint(1, 1)) :]  # a second meta_graphs entry
    (found,) = scan_bytes(data)
    assert "meta_graph[1]" in found.message


# --- malformed and large ----------------------------------------------------------------------


@pytest.mark.parametrize("cut", [7, 40, -3])
def test_truncated_saved_model_is_an_error(cut: int) -> None:
    data = benign_tf2()
    with pytest.raises(MalformedInput, match="not a valid TensorFlow SavedModel"):
        scan_bytes(data[:cut])


def test_garbage_is_an_error_never_a_traceback() -> None:
    with pytest.raises(MalformedInput):
        scan_bytes(b"\x12\xff\xff\xff\xff\x0f garbage", name="model.pb")


def test_big_constant_is_skipped_by_seeking(tmp_path: Path) -> None:
    size = 200 * MiB
    # GraphDef{node{name, op: Const, attr{key: value, value{tensor{tensor_content: <size>}}}}}
    content_head = f_varint(1, 1) + varint(4 << 3 | 2) + varint(size)
    tensor_len = len(content_head) + size
    value_head = varint(8 << 3 | 2) + varint(tensor_len)
    entry_head = f_len(1, "value") + varint(2 << 3 | 2) + varint(len(value_head) + tensor_len)
    entry_len = len(entry_head) + len(value_head) + tensor_len
    node_head = f_len(1, "big") + f_len(2, "Const") + varint(5 << 3 | 2) + varint(entry_len)
    node_len = len(node_head) + entry_len
    head = (
        varint(1 << 3 | 2) + varint(node_len) + node_head + entry_head + value_head + content_head
    )
    tail = f_len(1, node("steal", "ReadFile", "big"))
    path = tmp_path / "frozen.pb"
    with path.open("wb") as out:
        out.write(head)
        out.seek(len(head) + size)
        out.write(tail)
    counted: list[_Counting] = []

    def opener() -> _Counting:
        counted.append(_Counting(io.FileIO(path)))
        return counted[-1]

    artifact = Artifact(
        Location(str(path)), path.name, path.stat().st_size, 0, opener, fs_path=path
    )
    ctx = ScanContext.start(PicklePolicy(), ScanLimits(), lambda _a, _c: iter(()))
    (found,) = SavedModelScanner().scan(artifact, ctx)
    assert found.details["op"] == "ReadFile"
    assert sum(c.nread for c in counted) < MiB


class _Counting(io.BufferedReader):
    nread = 0

    def read(self, size: int | None = -1) -> bytes:
        data = super().read(size)
        self.nread += len(data)
        return data


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=120), st.sampled_from([b"", b"\x08\x01", b"\x0a", b"\x12"]))
def test_random_bytes_never_raise_anything_else(tail: bytes, lead: bytes) -> None:
    try:
        found = scan_bytes(lead + tail)
    except (MalformedInput, ScanLimitExceeded):
        return
    assert all(f.rule_id == "SCAN-TF-001" for f in found)
