"""ONNX adapter: output layouts, label mapping, and the scan that gates every load."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from mlwarden.models import (
    Capability,
    ModelLoadError,
    ModelOutputError,
    OnnxClassifier,
    UnsafeModel,
)
from tests.models.conftest import gemm_bytes, skl2onnx_bytes

onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")


@pytest.fixture(scope="module")
def iris() -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    from mlwarden.datasets import demo_dataset

    data = demo_dataset("iris")
    return data.X, data.y


def _external(data: bytes, location: str) -> Any:
    """``data``'s weights moved to external data at ``location`` (not written anywhere)."""
    from onnx import TensorProto

    model = onnx.load_from_string(data)
    tensor = model.graph.initializer[0]
    raw = onnx.numpy_helper.to_array(tensor).tobytes()
    tensor.ClearField("float_data")
    tensor.ClearField("raw_data")
    tensor.data_location = TensorProto.EXTERNAL
    for key, value in (("location", location), ("offset", "0"), ("length", str(len(raw)))):
        entry = tensor.external_data.add()
        entry.key, entry.value = key, value
    return model, raw


def test_string_labels_through_zipmap_map_to_sorted_indices(iris: Any) -> None:
    from sklearn.linear_model import LogisticRegression

    X, y = iris
    names = np.array(["setosa", "versicolor", "virginica"])[y]
    model = LogisticRegression(max_iter=500).fit(X, names)
    adapter = OnnxClassifier(skl2onnx_bytes(model, 4, zipmap=True))
    assert adapter.n_classes == 3
    assert np.array_equal(adapter.predict(X), np.searchsorted(model.classes_, model.predict(X)))
    assert np.allclose(adapter.predict_proba(X), model.predict_proba(X), atol=1e-5)
    reordered = OnnxClassifier(
        skl2onnx_bytes(model, 4, zipmap=True), classes=["virginica", "setosa", "versicolor"]
    )
    assert np.allclose(reordered.predict_proba(X)[:, 1], model.predict_proba(X)[:, 0], atol=1e-5)
    wrong = OnnxClassifier(skl2onnx_bytes(model, 4, zipmap=True), classes=["a", "b", "c"])
    with pytest.raises(ModelOutputError, match="no class 'a'"):
        wrong.predict(X)


def test_logits_model_is_detected_and_softmaxed(logreg: Any, x_test: Any) -> None:
    adapter = OnnxClassifier(gemm_bytes(logreg.coef_, logreg.intercept_, output="y"))
    assert Capability.LOGITS in adapter.capabilities
    assert np.allclose(adapter.logits(x_test), logreg.decision_function(x_test), atol=1e-4)
    assert np.allclose(adapter.predict_proba(x_test), logreg.predict_proba(x_test), atol=1e-5)


def test_output_kind_can_be_forced(logreg: Any) -> None:
    data = gemm_bytes(logreg.coef_, logreg.intercept_, softmax=True, output="y")
    assert OnnxClassifier(data).capabilities == {Capability.PREDICT, Capability.PREDICT_PROBA}
    forced = OnnxClassifier(data, output="logits")
    assert Capability.LOGITS in forced.capabilities
    with pytest.raises(ModelLoadError, match="choose one of"):
        OnnxClassifier(data, output="scores")


def test_label_only_model_needs_the_class_count(logreg: Any, x_test: Any) -> None:
    from onnx import TensorProto, helper

    model = onnx.load_from_string(gemm_bytes(logreg.coef_, logreg.intercept_))
    graph = model.graph
    graph.node.append(helper.make_node("ArgMax", ["scores"], ["label"], axis=1, keepdims=0))
    graph.output.pop()
    graph.output.append(helper.make_tensor_value_info("label", TensorProto.INT64, ["n"]))
    data = model.SerializeToString()
    with pytest.raises(ModelLoadError, match="labels only"):
        OnnxClassifier(data)
    adapter = OnnxClassifier(data, n_classes=10)
    assert adapter.capabilities == {Capability.PREDICT}
    assert np.array_equal(adapter.predict(x_test), logreg.predict(x_test))


def test_custom_operator_domain_is_refused_before_loading(logreg: Any) -> None:
    evil = gemm_bytes(logreg.coef_, logreg.intercept_, domain="evil.ops")
    with pytest.raises(UnsafeModel, match="SCAN-ONNX-002"):
        OnnxClassifier(evil)
    OnnxClassifier(gemm_bytes(logreg.coef_, logreg.intercept_))  # the benign twin loads


def test_bytes_in_unusual_field_order_are_still_scanned(logreg: Any, x_test: Any) -> None:
    def reordered(data: bytes) -> bytes:
        # Protobuf merges concatenated messages: the graph first, ir_version last.
        model = onnx.load_from_string(data)
        tail = onnx.ModelProto(ir_version=model.ir_version)
        model.ClearField("ir_version")
        return model.SerializeToString() + tail.SerializeToString()

    benign = reordered(gemm_bytes(logreg.coef_, logreg.intercept_))
    assert benign[0] != 0x08  # the sniffer's usual ONNX signature is absent
    assert np.array_equal(OnnxClassifier(benign).predict(x_test), logreg.predict(x_test))
    evil = reordered(gemm_bytes(logreg.coef_, logreg.intercept_, domain="evil.ops"))
    with pytest.raises(UnsafeModel, match="SCAN-ONNX-002"):
        OnnxClassifier(evil)


def test_external_data_escaping_the_model_directory_is_refused(logreg: Any, tmp_path: Path) -> None:
    model, _raw = _external(gemm_bytes(logreg.coef_, logreg.intercept_), "../../etc/passwd")
    path = tmp_path / "model.onnx"
    path.write_bytes(model.SerializeToString())
    with pytest.raises(UnsafeModel, match="SCAN-ONNX-001"):
        OnnxClassifier(path)


def test_external_data_beside_the_model_loads(logreg: Any, tmp_path: Path, x_test: Any) -> None:
    model, raw = _external(gemm_bytes(logreg.coef_, logreg.intercept_), "weights.bin")
    (tmp_path / "weights.bin").write_bytes(raw)
    (tmp_path / "model.onnx").write_bytes(model.SerializeToString())
    adapter = OnnxClassifier(tmp_path / "model.onnx")
    assert np.array_equal(adapter.predict(x_test), logreg.predict(x_test))


def test_bytes_never_resolve_external_data_against_the_working_directory(
    logreg: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    model, raw = _external(gemm_bytes(logreg.coef_, logreg.intercept_), "weights.bin")
    (tmp_path / "weights.bin").write_bytes(raw)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ModelLoadError, match="cannot load"):
        OnnxClassifier(model.SerializeToString())


def test_image_inputs_reshape_to_a_flat_graph_input(logreg: Any, x_test: Any) -> None:
    model = onnx.load_from_string(gemm_bytes(logreg.coef_, logreg.intercept_))
    model.graph.input[0].type.tensor_type.shape.dim[1].dim_param = "features"
    with pytest.raises(ModelLoadError, match="symbolic shape"):
        OnnxClassifier(model.SerializeToString())
    assert OnnxClassifier(model.SerializeToString(), input_shape=(64,)).n_classes == 10
    adapter = OnnxClassifier(skl2onnx_bytes(logreg, 64, zipmap=False), input_shape=(1, 8, 8))
    assert np.array_equal(adapter.predict(x_test.reshape(-1, 1, 8, 8)), logreg.predict(x_test))
    with pytest.raises(ModelLoadError, match="does not fit"):
        OnnxClassifier(skl2onnx_bytes(logreg, 64, zipmap=False), input_shape=(1, 9, 9))


def test_missing_file_and_missing_runtime(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, logreg: Any
) -> None:
    with pytest.raises(ModelLoadError, match="cannot read"):
        OnnxClassifier(tmp_path / "absent.onnx")
    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    with pytest.raises(ModelLoadError, match="onnxruntime is not installed") as err:
        OnnxClassifier(skl2onnx_bytes(logreg, 64, zipmap=False))
    assert "mlwarden[onnx]" in err.value.hint
