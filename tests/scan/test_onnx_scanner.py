"""ONNX scanner: external-data escapes, custom domains and malformed models, built with onnx."""

from __future__ import annotations

import io
import os
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mlwarden.errors import MalformedInput, ScanLimitExceeded
from mlwarden.findings import Finding, Location, Severity
from mlwarden.scan._protobuf import validate_schema
from mlwarden.scan.base import Artifact, ScanContext, ScanLimits
from mlwarden.scan.onnx_scanner import SCHEMA, OnnxScanner, location_problem
from mlwarden.scan.policy import PicklePolicy

onnx = pytest.importorskip("onnx")
np = pytest.importorskip("numpy")
from onnx import ModelProto, NodeProto, TensorProto, ValueInfoProto, helper, numpy_helper  # noqa: E402

MiB = 1024 * 1024
FLOAT = TensorProto.FLOAT


# --- helpers ----------------------------------------------------------------------------------


def _context() -> ScanContext:
    return ScanContext.start(PicklePolicy(), ScanLimits(), lambda _a, _c: iter(()))


def scan_file(path: Path, opener: Callable[[], BinaryIO] | None = None) -> list[Finding]:
    artifact = Artifact(
        location=Location(str(path)),
        name=path.name,
        size=path.stat().st_size,
        depth=0,
        opener=opener or (lambda: path.open("rb")),
        fs_path=path,
    )
    return list(OnnxScanner().scan(artifact, _context()))


def scan_bytes(data: bytes, name: str = "model.onnx") -> list[Finding]:
    artifact = Artifact(
        location=Location("archive.zip", name),
        name=name,
        size=len(data),
        depth=1,
        opener=lambda: io.BytesIO(data),
        container="zip",
    )
    return list(OnnxScanner().scan(artifact, _context()))


def rules(findings: list[Finding]) -> list[str]:
    return sorted(f.rule_id for f in findings)


def value_info(name: str, shape: list[int]) -> ValueInfoProto:
    return helper.make_tensor_value_info(name, FLOAT, shape)


def mlp() -> ModelProto:
    rng = np.random.default_rng(0)
    inits = [
        numpy_helper.from_array(rng.standard_normal((4, 8)).astype(np.float32), "w1"),
        numpy_helper.from_array(np.zeros(8, np.float32), "b1"),
        numpy_helper.from_array(rng.standard_normal((8, 2)).astype(np.float32), "w2"),
    ]
    nodes = [
        helper.make_node("MatMul", ["x", "w1"], ["h"], name="fc1"),
        helper.make_node("Add", ["h", "b1"], ["hb"], name="bias1"),
        helper.make_node("Relu", ["hb"], ["r"], name="relu"),
        helper.make_node("MatMul", ["r", "w2"], ["y"], name="fc2"),
    ]
    graph = helper.make_graph(
        nodes, "mlp", [value_info("x", [1, 4])], [value_info("y", [1, 2])], inits
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def external(tensor: TensorProto, location: str) -> TensorProto:
    """Mark ``tensor`` as stored in ``location`` (its payload is dropped)."""
    tensor.ClearField("raw_data")
    del tensor.float_data[:]
    tensor.data_location = TensorProto.EXTERNAL
    del tensor.external_data[:]
    entry = tensor.external_data.add()
    entry.key, entry.value = "location", location
    return tensor


def const_node(name: str, location: str) -> NodeProto:
    value = external(numpy_helper.from_array(np.ones(3, np.float32), name), location)
    return helper.make_node("Constant", [], [name], name=name, value=value)


def loop_model(inner: list[NodeProto]) -> ModelProto:
    """A Loop whose body holds an If whose then-branch runs ``inner`` nodes."""
    then_out = inner[-1].output[0] if inner else "t"
    then_nodes = inner or [helper.make_node("Identity", ["v"], ["t"])]
    then = helper.make_graph(then_nodes, "then", [], [value_info(then_out, [3])])
    other = helper.make_graph(
        [helper.make_node("Identity", ["v"], ["e"])], "else", [], [value_info("e", [3])]
    )
    body = helper.make_graph(
        [
            helper.make_node("Identity", ["cond_in"], ["cond_out"]),
            helper.make_node(
                "If", ["cond_in"], ["b"], name="branch", then_branch=then, else_branch=other
            ),
        ],
        "body",
        [
            helper.make_tensor_value_info("i", TensorProto.INT64, []),
            helper.make_tensor_value_info("cond_in", TensorProto.BOOL, []),
            value_info("v", [3]),
        ],
        [helper.make_tensor_value_info("cond_out", TensorProto.BOOL, []), value_info("b", [3])],
    )
    loop = helper.make_node("Loop", ["n", "c", "v0"], ["vout"], name="loop", body=body)
    graph = helper.make_graph(
        [loop],
        "main",
        [
            helper.make_tensor_value_info("n", TensorProto.INT64, []),
            helper.make_tensor_value_info("c", TensorProto.BOOL, []),
            value_info("v0", [3]),
        ],
        [value_info("vout", [3])],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def save(model: ModelProto, path: Path) -> Path:
    path.write_bytes(model.SerializeToString())
    return path


# --- benign models ----------------------------------------------------------------------------


def test_small_mlp_is_clean(tmp_path: Path) -> None:
    model = mlp()
    onnx.checker.check_model(model)
    assert scan_file(save(model, tmp_path / "mlp.onnx")) == []


@pytest.mark.parametrize("estimator", ["logistic", "forest"])
def test_skl2onnx_exports_are_clean(tmp_path: Path, estimator: str) -> None:
    pytest.importorskip("skl2onnx")
    from skl2onnx import to_onnx  # type: ignore[import-untyped]
    from sklearn.datasets import load_iris
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.linear_model import LogisticRegression

    x, y = load_iris(return_X_y=True)
    if estimator == "logistic":
        fitted = LogisticRegression(max_iter=500).fit(x, y)
    else:
        fitted = RandomForestClassifier(n_estimators=5, max_depth=3, random_state=0).fit(x, y)
    model = to_onnx(fitted, x[:1].astype(np.float32))
    domains = {o.domain for o in model.opset_import}
    assert "ai.onnx.ml" in domains
    assert scan_file(save(model, tmp_path / f"{estimator}.onnx")) == []


@pytest.mark.parametrize("location", ["model.onnx.data", "weights/w0.bin"])
def test_benign_external_data_is_clean(tmp_path: Path, location: str) -> None:
    (tmp_path / "weights").mkdir()
    path = tmp_path / "model.onnx"
    onnx.save_model(mlp(), path, save_as_external_data=True, location=location, size_threshold=0)
    assert (tmp_path / location).is_file()
    loaded = onnx.load(path, load_external_data=False)
    assert loaded.graph.initializer[0].data_location == TensorProto.EXTERNAL
    assert scan_file(path) == []


def test_control_flow_subgraphs_are_clean(tmp_path: Path) -> None:
    model = loop_model([])
    onnx.checker.check_model(model)
    assert scan_file(save(model, tmp_path / "loop.onnx")) == []


def test_model_local_functions_and_runtime_domains_are_clean(tmp_path: Path) -> None:
    fn = helper.make_function(
        "local.fns",
        "Gelu2",
        ["a"],
        ["b"],
        [helper.make_node("Relu", ["a"], ["b"])],
        [helper.make_opsetid("", 17)],
    )
    nodes = [
        helper.make_node("Gelu2", ["x"], ["h"], domain="local.fns"),
        helper.make_node("FusedMatMul", ["h", "h"], ["y"], domain="com.microsoft"),
    ]
    graph = helper.make_graph(nodes, "g", [value_info("x", [2, 2])], [value_info("y", [2, 2])])
    opsets = [helper.make_opsetid(d, 1) for d in ("local.fns", "com.microsoft")]
    opsets.append(helper.make_opsetid("", 17))
    model = helper.make_model(graph, opset_imports=opsets, functions=[fn])
    assert scan_file(save(model, tmp_path / "fn.onnx")) == []


def test_hugging_face_cache_links_into_blobs_are_clean(tmp_path: Path) -> None:
    repo = tmp_path / "hub" / "models--org--name"
    snapshot = repo / "snapshots" / "0123abc"
    (repo / "blobs").mkdir(parents=True)
    snapshot.mkdir(parents=True)
    (repo / "blobs" / "f00d").write_bytes(b"\x00" * 64)
    (snapshot / "model.onnx_data").symlink_to("../../blobs/f00d")
    model = mlp()
    external(model.graph.initializer[0], "model.onnx_data")
    assert scan_file(save(model, snapshot / "model.onnx")) == []


# --- SCAN-ONNX-001: external data paths ------------------------------------------------------


@pytest.mark.parametrize(
    ("location", "reason"),
    [
        ("/etc/passwd", "absolute"),
        ("../../secret", "'..'"),
        ("weights/../../../etc/shadow", "'..'"),
        ("weights\\..\\..\\boot.ini", "'..'"),
        ("C:\\Windows\\win.ini", "Windows drive"),
        ("c:relative", "Windows drive"),
        ("\\\\server\\share\\w.bin", "absolute"),
        ("w.bin\x00.txt", "NUL"),
        ("*/_ORT_MEM_ADDR_/*", "memory address"),
    ],
)
def test_unsafe_external_data_location_is_flagged(location: str, reason: str) -> None:
    model = mlp()
    external(model.graph.initializer[1], location)
    (found,) = scan_bytes(model.SerializeToString())
    assert (found.rule_id, found.severity) == ("SCAN-ONNX-001", Severity.HIGH)
    assert reason in found.message
    assert "tensor 'b1'" in found.message
    assert found.location.offset is not None


@pytest.mark.parametrize("location", ["w.bin", "sub/dir/w.bin", "~/w.bin", "w..bin", ""])
def test_plain_relative_locations_are_not_flagged_lexically(location: str) -> None:
    assert location_problem(location, None) is None


def test_symlink_to_outside_the_model_directory_is_flagged(tmp_path: Path) -> None:
    secret = tmp_path / "outside" / "id_rsa"
    secret.parent.mkdir()
    secret.write_text("key")
    model_dir = tmp_path / "model"
    model_dir.mkdir()
    (model_dir / "weights.bin").symlink_to(secret)
    model = mlp()
    external(model.graph.initializer[0], "weights.bin")
    (found,) = scan_file(save(model, model_dir / "model.onnx"))
    assert found.rule_id == "SCAN-ONNX-001"
    assert "symbolic link" in found.message
    assert str(secret) in found.message


def test_symlinked_directory_escape_is_flagged(tmp_path: Path) -> None:
    (tmp_path / "elsewhere").mkdir()
    model_dir = tmp_path / "model"
    model_dir.mkdir()
    (model_dir / "sub").symlink_to(tmp_path / "elsewhere", target_is_directory=True)
    model = mlp()
    external(model.graph.initializer[0], "sub/w.bin")
    (found,) = scan_file(save(model, model_dir / "model.onnx"))
    assert "resolves outside the model directory" in found.message


def test_symlink_is_not_checked_for_archive_members(tmp_path: Path) -> None:
    model = mlp()
    external(model.graph.initializer[0], "weights.bin")
    assert scan_bytes(model.SerializeToString()) == []


def test_traversal_in_a_nested_subgraph_attribute_is_found() -> None:
    model = loop_model([const_node("hidden", "../../../../etc/hosts")])
    (found,) = scan_bytes(model.SerializeToString())
    assert found.rule_id == "SCAN-ONNX-001"
    assert "attribute:body/graph:body/node:branch/attribute:then_branch" in found.message
    assert found.evidence == "../../../../etc/hosts"


def _ext(name: str, location: str) -> TensorProto:
    return external(numpy_helper.from_array(np.ones(2, np.float32), name), location)


def test_sparse_and_attribute_list_tensors_are_checked() -> None:
    model = mlp()
    indices = numpy_helper.from_array(np.array([0, 3], np.int64), "si")
    sparse = helper.make_sparse_tensor(_ext("sv", "/abs/values"), indices, [8])
    model.graph.sparse_initializer.append(sparse)
    listed = helper.make_attribute("tensors", [_ext("lt", "/abs/list")])
    model.graph.node[0].attribute.append(listed)
    attr_sparse = helper.make_sparse_tensor(_ext("av", "/abs/attr"), indices, [8])
    model.graph.node.append(helper.make_node("Constant", [], ["k"], sparse_value=attr_sparse))
    found = scan_bytes(model.SerializeToString())
    assert sorted(f.evidence for f in found) == ["/abs/attr", "/abs/list", "/abs/values"]


def test_every_location_value_is_checked_not_only_the_first() -> None:
    model = mlp()
    tensor = external(model.graph.initializer[0], "model.onnx.data")
    extra = tensor.external_data.add()
    extra.key, extra.value = "location", "/etc/passwd"
    assert [f.evidence for f in scan_bytes(model.SerializeToString())] == ["/etc/passwd"]


# --- SCAN-ONNX-002: custom domains ----------------------------------------------------------


def test_custom_domain_op_is_flagged(tmp_path: Path) -> None:
    model = mlp()
    model.graph.node.append(helper.make_node("Steal", ["y"], ["z"], name="evil", domain="evil.ops"))
    model.opset_import.append(helper.make_opsetid("evil.ops", 1))
    (found,) = scan_file(save(model, tmp_path / "custom.onnx"))
    assert (found.rule_id, found.severity, found.evidence) == (
        "SCAN-ONNX-002",
        Severity.MEDIUM,
        "evil.ops",
    )
    assert "Steal" in found.message
    assert "native custom-op library" in found.message


def test_custom_domain_hidden_in_a_loop_body_is_flagged() -> None:
    hidden = helper.make_node("Exfil", ["v"], ["t"], name="deep", domain="com.attacker")
    model = loop_model([hidden])
    (found,) = scan_bytes(model.SerializeToString())
    assert found.rule_id == "SCAN-ONNX-002"
    assert "then_branch/graph:then/node:deep" in found.message


def test_onnxruntime_extensions_domain_mentions_python() -> None:
    model = mlp()
    model.graph.node.append(helper.make_node("PyRun", ["y"], ["z"], domain="ai.onnx.contrib"))
    (found,) = scan_bytes(model.SerializeToString())
    assert found.evidence == "ai.onnx.contrib"
    assert "PyOp" in found.message
    assert "Python" in found.message


def test_undefined_op_in_a_local_function_domain_is_flagged() -> None:
    fn = helper.make_function(
        "local.fns",
        "Ok",
        ["a"],
        ["b"],
        [helper.make_node("Relu", ["a"], ["b"])],
        [helper.make_opsetid("", 17)],
    )
    model = mlp()
    model.functions.append(fn)
    model.opset_import.append(helper.make_opsetid("local.fns", 1))
    model.graph.node.append(helper.make_node("Ok", ["y"], ["y2"], domain="local.fns"))
    model.graph.node.append(helper.make_node("Native", ["y2"], ["z"], domain="local.fns"))
    (found,) = scan_bytes(model.SerializeToString())
    assert "(Native)" in found.message


def test_custom_op_inside_a_local_function_is_flagged() -> None:
    inner = helper.make_node("Backdoor", ["a"], ["b"], domain="vendor.native")
    fn = helper.make_function(
        "local.fns", "Wrap", ["a"], ["b"], [inner], [helper.make_opsetid("vendor.native", 1)]
    )
    model = mlp()
    model.functions.append(fn)
    model.graph.node.append(helper.make_node("Wrap", ["y"], ["z"], domain="local.fns"))
    (found,) = scan_bytes(model.SerializeToString())
    assert found.evidence == "vendor.native"
    assert "function:local.fns:Wrap" in found.message


def test_unused_custom_opset_import_is_low() -> None:
    model = mlp()
    model.opset_import.append(helper.make_opsetid("vendor.native", 1))
    (found,) = scan_bytes(model.SerializeToString())
    assert (found.rule_id, found.severity) == ("SCAN-ONNX-002", Severity.LOW)


def test_one_finding_per_custom_domain() -> None:
    model = mlp()
    for i in range(7):
        model.graph.node.append(helper.make_node(f"Op{i}", ["y"], [f"z{i}"], domain="many.ops"))
    (found,) = scan_bytes(model.SerializeToString())
    assert found.details["nodes"] == 7
    assert "(Op0, Op1, Op2, Op3, Op4, ...)" in found.message


# --- malformed and large files ---------------------------------------------------------------


def test_truncated_model_is_a_malformed_finding() -> None:
    data = mlp().SerializeToString()
    (found,) = scan_bytes(data[: len(data) // 2])
    assert (found.rule_id, found.severity) == ("SCAN-ONNX-003", Severity.MEDIUM)
    assert "past the end" in found.message or "cut short" in found.message


def test_garbage_named_onnx_is_an_error_not_a_finding() -> None:
    with pytest.raises(MalformedInput, match="invalid wire type 7"):
        scan_bytes(b"\x0f" + os.urandom(64), name="weights.onnx")


def test_ort_flatbuffer_format_is_left_alone() -> None:
    assert scan_bytes(b"\x14\x00\x00\x00ORTM" + b"\x00" * 64, name="model.ort") == []


@pytest.mark.parametrize("name", ["model.onnx", "model.ort"])
def test_ortm_marker_in_a_protobuf_model_does_not_skip_the_scan(name: str) -> None:
    model = mlp()
    model.producer_name = "ORTM"
    model.graph.node.append(helper.make_node("Steal", ["y"], ["z"], domain="evil.ops"))
    data = model.SerializeToString()
    assert data[4:8] == b"ORTM"
    assert rules(scan_bytes(data, name=name)) == ["SCAN-ONNX-002"]


def test_huge_raw_data_is_skipped_without_reading(tmp_path: Path) -> None:
    size = 200 * MiB
    # ModelProto{1: ir_version, 7: graph{5: initializer{8: name, 9: raw_data}, 1: node}}
    custom = helper.make_node("Odd", ["big"], ["y"], domain="x.custom").SerializeToString()
    tensor_head = b"\x42\x03big" + b"\x4a" + _varint(size)
    tensor_len = len(tensor_head) + size
    graph_tail = b"\x0a" + _varint(len(custom)) + custom
    graph_body_len = 1 + len(_varint(tensor_len)) + tensor_len + len(graph_tail)
    head = b"\x08\x09\x3a" + _varint(graph_body_len) + b"\x2a" + _varint(tensor_len) + tensor_head
    path = tmp_path / "big.onnx"
    with path.open("wb") as out:
        out.write(head)
        out.seek(len(head) + size)
        out.write(graph_tail)
    streams: list[_Counting] = []

    def opener() -> BinaryIO:
        streams.append(_Counting(io.FileIO(path)))
        return streams[-1]

    (found,) = scan_file(path, opener)
    assert found.rule_id == "SCAN-ONNX-002"
    assert sum(s.nread for s in streams) < MiB


class _Counting(io.BufferedReader):
    nread = 0

    def read(self, size: int | None = -1) -> bytes:
        data = super().read(size)
        self.nread += len(data)
        return data


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        low, n = n & 0x7F, n >> 7
        out.append(low | (0x80 if n else 0))
        if not n:
            return bytes(out)


def test_schema_is_closed() -> None:
    validate_schema(SCHEMA)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=120))
def test_random_bytes_never_raise_anything_else(tail: bytes) -> None:
    try:
        found = scan_bytes(b"\x08\x07\x3a" + tail)
    except (MalformedInput, ScanLimitExceeded):
        return
    assert all(f.rule_id.startswith("SCAN-ONNX-") for f in found)
