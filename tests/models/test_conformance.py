"""Every adapter passes the conformance suite, and declares the checks its capabilities imply."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

from mlwarden.models import (
    CallableClassifier,
    Capability,
    HttpClassifier,
    OnnxClassifier,
    SklearnClassifier,
    adapter_checks,
    check_adapter,
)
from tests.models._server import API_KEY, ServerState, serve
from tests.models.conftest import gemm_bytes, skl2onnx_bytes

BASE_CHECKS = [
    "declares_capabilities",
    "capabilities_truthful",
    "metadata",
    "predict_output",
    "rejects_bad_shape",
    "deterministic",
    "batch_invariant",
    "counts_queries",
]
PROBA_CHECKS = ["proba_output", "predict_matches_proba"]
ADAPTERS = {
    "sklearn-logreg": PROBA_CHECKS,
    "sklearn-forest-images": PROBA_CHECKS,
    "sklearn-svc-labels-only": [],
    "callable-predict": [],
    "callable-proba": PROBA_CHECKS,
    "torch-cnn": [*PROBA_CHECKS, "logits_output", "gradient_output", "gradient_numeric"],
    "onnx-zipmap": PROBA_CHECKS,
    "onnx-tensor": PROBA_CHECKS,
    "onnx-logits": [*PROBA_CHECKS, "logits_output"],
    "onnx-softmax": PROBA_CHECKS,
    "http-oip": PROBA_CHECKS,
    "http-oip-labels-only": [],
    "http-gateway": PROBA_CHECKS,
}


@pytest.fixture(scope="module")
def live_server(logreg: Any) -> Iterator[tuple[str, ServerState]]:
    with serve(logreg, 64) as running:
        yield running


def _build(name: str, request: pytest.FixtureRequest) -> Any:
    digits = request.getfixturevalue("digits")
    logreg = request.getfixturevalue("logreg")
    if name == "sklearn-logreg":
        return SklearnClassifier(logreg, clip=(0.0, 1.0))
    if name == "sklearn-forest-images":
        from sklearn.ensemble import RandomForestClassifier

        forest = RandomForestClassifier(n_estimators=10, random_state=0, n_jobs=1)
        return SklearnClassifier(forest.fit(digits.X[:600], digits.y[:600]), input_shape=(1, 8, 8))
    if name == "sklearn-svc-labels-only":
        from sklearn.svm import SVC

        return SklearnClassifier(SVC().fit(digits.X[:600], digits.y[:600]))
    if name.startswith("callable"):
        proba = logreg.predict_proba if name == "callable-proba" else None
        fn = None if proba is not None else (lambda x: logreg.predict(x))
        return CallableClassifier(fn, fn_proba=proba, n_classes=10, input_shape=(64,))
    if name == "torch-cnn":
        from mlwarden.models import TorchClassifier

        return TorchClassifier(request.getfixturevalue("cnn"), input_shape=(1, 8, 8), n_classes=10)
    if name.startswith("onnx"):
        return _onnx(name, logreg)
    url, _state = request.getfixturevalue("live_server")
    if name == "http-gateway":
        return HttpClassifier(url + "/v1/predict", protocol="mlwarden", api_key=API_KEY)
    model = "digits" if name == "http-oip" else "digits-labels"
    return HttpClassifier(url, model_name=model, api_key=API_KEY, n_classes=10, batch_size=5)


def _onnx(name: str, logreg: Any) -> OnnxClassifier:
    if name in ("onnx-zipmap", "onnx-tensor"):
        return OnnxClassifier(skl2onnx_bytes(logreg, 64, zipmap=name == "onnx-zipmap"))
    softmax = name == "onnx-softmax"
    data = gemm_bytes(logreg.coef_, logreg.intercept_, output="out", softmax=softmax)
    return OnnxClassifier(data, input_shape=(1, 8, 8), clip=(0.0, 1.0))


@pytest.fixture(params=sorted(ADAPTERS))
def adapter(request: pytest.FixtureRequest) -> Iterator[tuple[str, Any]]:
    if request.param == "torch-cnn":
        pytest.importorskip("torch")
    built = _build(request.param, request)
    yield request.param, built
    if isinstance(built, HttpClassifier):
        built.close()


def _sample(adapter: Any, x_test: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    return x_test[:6].reshape(6, *adapter.input_shape)


def test_adapter_passes_the_conformance_suite(
    adapter: tuple[str, Any], x_test: np.ndarray[Any, Any]
) -> None:
    _name, model = adapter
    check_adapter(model, _sample(model, x_test))


def test_checks_follow_the_declared_capabilities(
    adapter: tuple[str, Any], x_test: np.ndarray[Any, Any]
) -> None:
    name, model = adapter
    names = [n for n, _check in adapter_checks(model, _sample(model, x_test))]
    assert names == BASE_CHECKS + ADAPTERS[name]
    assert (Capability.PREDICT_PROBA in model.capabilities) == ("proba_output" in names)


@pytest.mark.parametrize(
    "adapter",
    sorted(n for n in ADAPTERS if not n.startswith(("torch", "sklearn-forest", "sklearn-svc"))),
    indirect=True,
)
def test_adapters_agree_with_the_model_they_wrap(
    adapter: tuple[str, Any], x_test: np.ndarray[Any, Any], logreg: Any
) -> None:
    _name, model = adapter
    expected = logreg.predict(x_test)
    assert np.array_equal(model.predict(x_test.reshape(len(x_test), *model.input_shape)), expected)
