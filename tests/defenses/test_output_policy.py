"""Output policies: what each reveals, the JSON answers the gateway sends, the wrapper."""

from __future__ import annotations

import numpy as np
import pytest

from mlwarden.defenses.output_policy import OutputPolicy, PolicyClassifier
from mlwarden.errors import UsageError
from mlwarden.models import CallableClassifier, Capability, MissingCapability

P = np.array([[0.123456, 0.654321, 0.222223], [0.5, 0.3, 0.2]])


def test_parse_and_names() -> None:
    assert OutputPolicy.parse("top-k:3") == OutputPolicy("top_k", k=3)
    assert OutputPolicy.parse("rounded:1").name == "rounded:1"
    assert OutputPolicy.parse("label").name == "label"
    with pytest.raises(UsageError):
        OutputPolicy.parse("everything")
    with pytest.raises(UsageError):
        OutputPolicy.parse("rounded:x")


def test_apply_reveals_only_what_the_policy_allows() -> None:
    assert OutputPolicy("label").apply(P).tolist() == [[0, 1, 0], [1, 0, 0]]
    top = OutputPolicy("top_k", k=2).apply(P)
    assert (top[0] > 0).sum() == 2 and top[0, 0] == 0
    assert OutputPolicy("rounded", decimals=2).apply(P)[0].tolist() == pytest.approx(
        [0.12, 0.65, 0.22]
    )
    assert OutputPolicy("probabilities").apply(P) == pytest.approx(P.astype(np.float32))


def test_answers_are_json_ready() -> None:
    assert OutputPolicy("label").answer(P) == [{"label": 1}, {"label": 0}]
    top = OutputPolicy("top_k", k=1).answer(P)
    assert top[0] == {"label": 1, "top": [[1, pytest.approx(0.654321, abs=1e-6)]]}
    rounded = OutputPolicy("rounded", decimals=1).answer(P)
    assert rounded[1]["probabilities"] == pytest.approx([0.5, 0.3, 0.2])


def test_policy_classifier_hides_scores_under_label() -> None:
    base = CallableClassifier(
        None, fn_proba=lambda b: np.tile(P[:1], (len(b), 1)), n_classes=3, input_shape=(2,)
    )
    labels = PolicyClassifier(base, OutputPolicy("label"))
    assert labels.capabilities == {Capability.PREDICT}
    assert labels.predict(np.zeros((2, 2), np.float32)).tolist() == [1, 1]
    with pytest.raises(MissingCapability):
        labels.predict_proba(np.zeros((1, 2), np.float32))
    rounded = PolicyClassifier(base, OutputPolicy("rounded", decimals=1))
    assert rounded.predict_proba(np.zeros((1, 2), np.float32))[0].tolist() == pytest.approx(
        [0.1, 0.7, 0.2]
    )
    assert rounded.queries == base.queries == 3 and rounded.n_classes == 3
