"""scikit-learn and callable adapters: label mapping, capability errors, output validation."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import numpy as np
import pytest

from mlwarden.errors import UsageError
from mlwarden.models import (
    CallableClassifier,
    Capability,
    InputShapeError,
    MissingCapability,
    ModelLoadError,
    ModelOutputError,
    SklearnClassifier,
    require,
)


def test_string_classes_become_indices_in_classes_order(digits: Any) -> None:
    from sklearn.linear_model import LogisticRegression

    names = np.array([f"digit-{d}" for d in range(10)])
    model = LogisticRegression(max_iter=1000).fit(digits.X[:600], names[digits.y[:600]])
    adapter = SklearnClassifier(model)
    labels = adapter.predict(digits.X[600:650])
    assert labels.dtype == np.int64
    assert list(adapter.classes[labels]) == list(model.predict(digits.X[600:650]))


def test_labels_only_estimator_names_the_missing_capability(digits: Any) -> None:
    from sklearn.svm import SVC

    adapter = SklearnClassifier(SVC().fit(digits.X[:300], digits.y[:300]))
    assert adapter.capabilities == {Capability.PREDICT}
    with pytest.raises(MissingCapability, match="no predict_proba") as err:
        adapter.predict_proba(digits.X[:2])
    assert "probab" in err.value.hint
    with pytest.raises(MissingCapability, match="predict_proba"):
        require(adapter, Capability.PREDICT_PROBA, purpose="score-based attack")


def test_unfitted_or_shapeless_estimators_are_explained() -> None:
    from sklearn.linear_model import LogisticRegression

    adapter = SklearnClassifier(LogisticRegression(), input_shape=(4,))
    with pytest.raises(ModelLoadError, match="no classes_"):
        _ = adapter.n_classes
    with pytest.raises(ModelLoadError, match="how many features") as err:
        _ = SklearnClassifier(LogisticRegression()).input_shape
    assert "input_shape" in err.value.hint


def test_inputs_of_the_wrong_shape_or_type_are_refused(logreg: Any) -> None:
    adapter = SklearnClassifier(logreg)
    with pytest.raises(InputShapeError, match=r"expects \(n, 64\)"):
        adapter.predict(np.zeros((2, 8, 8)))
    with pytest.raises(InputShapeError, match="not a numeric array"):
        adapter.predict([["a"] * 64])
    assert adapter.queries == 0


def test_callable_needs_a_function() -> None:
    with pytest.raises(UsageError):
        CallableClassifier(None, n_classes=2, input_shape=(3,))


def test_callable_with_probabilities_only_predicts_their_argmax() -> None:
    def proba(x: Any) -> Any:
        return np.stack([x[:, 0], 1 - x[:, 0]], axis=1)

    adapter = CallableClassifier(None, fn_proba=proba, n_classes=2, input_shape=(1,))
    x = np.array([[0.9], [0.2]], dtype=np.float32)
    assert list(adapter.predict(x)) == [0, 1]
    assert adapter.capabilities == {Capability.PREDICT, Capability.PREDICT_PROBA}


@pytest.mark.parametrize(
    ("fn", "match"),
    [
        (lambda x: np.zeros((len(x), 2), dtype=np.int64), "shape"),
        (lambda x: np.full(len(x), 0.5), "integers"),
        (lambda x: np.full(len(x), 7), "outside 0..1"),
    ],
)
def test_callable_outputs_are_validated(fn: Any, match: str) -> None:
    adapter = CallableClassifier(fn, n_classes=2, input_shape=(3,))
    with pytest.raises(ModelOutputError, match=match):
        adapter.predict(np.zeros((4, 3), dtype=np.float32))


def test_callable_probabilities_are_validated() -> None:
    adapter = CallableClassifier(
        None, fn_proba=lambda x: np.ones((len(x), 3)), n_classes=2, input_shape=(3,)
    )
    with pytest.raises(ModelOutputError, match=r"expected \(4, 2\)"):
        adapter.predict_proba(np.zeros((4, 3), dtype=np.float32))


def test_protocols_import_without_numpy() -> None:
    code = (
        "import sys, mlwarden.models, mlwarden.models.base;"
        "print('numpy' in sys.modules, hasattr(mlwarden.models, 'Capability'))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "True"]
