"""ML01 at serving time: the confidence threshold and the squeezing detector answer null."""

from __future__ import annotations

from typing import Any

import numpy as np


def test_low_confidence_answers_are_null_and_audited(make_gateway: Any, served: Any) -> None:
    live = make_gateway(adversarial={"min_confidence": 0.9})
    rows = served.x_test[:60]
    top = live.gw.model.predict_proba(rows).max(axis=1)
    answer = live.post(json={"instances": rows.tolist()}).json()["predictions"]
    assert [a is None for a in answer] == (top < 0.9).tolist()
    assert 0 < sum(a is None for a in answer) < len(rows)
    assert "uncertain" in list(live.gw.audit.records())[-1].record.decision


def test_no_threshold_answers_every_instance(make_gateway: Any, served: Any) -> None:
    live = make_gateway()
    answer = live.post(json={"instances": served.x_test[:60].tolist()}).json()["predictions"]
    assert None not in answer


def test_squeezing_detector_flags_adversarial_inputs_not_clean_ones(
    make_gateway: Any, served: Any
) -> None:
    live = make_gateway(adversarial={"squeezing_detector": True, "squeeze_bits": 3})
    assert live.gw.adversarial.calibration["false_positive_rate"] <= 0.02
    clean, labels = served.x_test[:200], served.y_test[:200]
    # FGSM on the logistic regression: one signed-gradient step of the cross-entropy
    estimator = live.gw.model.estimator
    grad = (estimator.predict_proba(clean) - np.eye(10)[labels]) @ estimator.coef_
    adversarial = np.clip(clean + 0.1 * np.sign(grad), 0, 1)
    assert (estimator.predict(adversarial) != labels).mean() > 0.25
    answers = {}
    for name, rows in (("clean", clean), ("adversarial", adversarial)):
        body = live.post(json={"instances": rows.tolist()}).json()
        answers[name] = sum(p is None for p in body["predictions"])
    assert answers["clean"] <= 10
    assert answers["adversarial"] >= 5 * max(answers["clean"], 6)


def test_smoothing_changes_what_the_model_sees(make_gateway: Any, served: Any) -> None:
    live = make_gateway(adversarial={"smoothing": "bit_depth", "squeeze_bits": 1})
    rows = served.x_test[:100]
    squeezed = live.gw.adversarial.preprocess(rows)
    # one bit per feature: each feature takes at most two values, the ends of its range
    assert max(len(np.unique(column)) for column in squeezed.T) == 2
    assert not np.array_equal(squeezed, rows)
    assert live.post(json={"instances": rows[:1].tolist()}).status_code == 200
