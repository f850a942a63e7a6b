"""Model extraction: surrogates copy a model through every output policy, equation solving
recovers a linear model exactly (not through rounding), and a live endpoint is audited."""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import pytest

from mlwarden.attacks import extraction_queries as eq
from mlwarden.attacks.extraction import (
    ExtractionResult,
    attack_box,
    equation_solving,
    model_extraction,
)
from mlwarden.attacks.privacy_api import audit_privacy, privacy_config
from mlwarden.attacks.privacy_settings import ExtractionSettings
from mlwarden.defenses.output_policy import OutputPolicy, PolicyClassifier
from mlwarden.models import CallableClassifier, HttpClassifier, SklearnClassifier
from tests.attacks._privacy_models import digits, digits_logreg, digits_mlp

SMALL = ExtractionSettings(budgets=[50, 400], hidden=64, jobs=1, equation_solving=False)


def victim() -> SklearnClassifier:
    return SklearnClassifier(digits_mlp(), clip=(0.0, 1.0))


@lru_cache(maxsize=1)
def stolen() -> ExtractionResult:
    x, y = digits()
    return model_extraction(victim(), x[600:1100], (x[1300:], y[1300:]), SMALL, seed=0)


def row(result: ExtractionResult, strategy: str, policy: str, budget: int) -> dict[str, float]:
    return next(
        r
        for r in result.rows
        if (r["strategy"], r["policy"], r["budget"]) == (strategy, policy, budget)
    )


def test_surrogates_copy_the_model_through_every_policy() -> None:
    result = stolen()
    assert len(result.rows) == 4 * 4 * 2
    for policy in ("probabilities", "rounded:2", "top_k:1", "label"):
        assert row(result, "natural", policy, 400)["fidelity"] > 0.85
        assert (
            row(result, "natural", policy, 400)["fidelity"]
            > row(result, "natural", policy, 50)["fidelity"] - 0.02
        )
    # natural queries beat noise; output minimisation alone does not stop extraction
    assert (
        row(result, "natural", "label", 400)["fidelity"]
        > row(result, "uniform", "label", 400)["fidelity"]
    )
    assert row(result, "active", "label", 400)["fidelity"] > 0.85
    assert row(result, "jacobian", "probabilities", 400)["fidelity"] > 0.6
    assert result.streams[("jacobian", "label")].shape == (400, 64)


def test_label_only_model_is_attacked_through_labels_only() -> None:
    x, y = digits()
    labels = PolicyClassifier(victim(), OutputPolicy("label"))
    s = SMALL.model_copy(update={"strategies": ["natural"], "budgets": [100]})
    result = model_extraction(labels, x[600:1100], (x[1300:], y[1300:]), s, seed=0)
    assert {r["policy"] for r in result.rows} == {"label"}
    assert any("labels only" in n for n in result.notes)


def test_equation_solving_recovers_logistic_regression_not_through_rounding() -> None:
    x, _ = digits()
    lr = SklearnClassifier(digits_logreg(), clip=(0.0, 1.0))
    box = attack_box(lr, x[600:1100])
    x_eval = x[1300:].astype(np.float64)
    truth = lr.predict(x[1300:])
    exact = equation_solving(lr, box, OutputPolicy("probabilities"), 0, x_eval, truth)
    assert exact["recovered"] and exact["queries"] == 65 and exact["fidelity"] == 1.0
    rounded = equation_solving(lr, box, OutputPolicy("rounded", decimals=2), 0, x_eval, truth)
    assert not rounded["recovered"]
    mlp = equation_solving(
        victim(), box, OutputPolicy("probabilities"), 0, x_eval, victim().predict(x[1300:])
    )
    assert not mlp["recovered"]


def test_oracle_targets_follow_the_policy() -> None:
    proba = np.array([[0.7, 0.2, 0.1]])
    top1 = eq.to_targets(OutputPolicy("top_k", k=1).apply(proba), "top_k")
    assert top1[0].tolist() == pytest.approx([0.7, 0.15, 0.15])
    refusing = CallableClassifier(lambda b: np.full(len(b), -1), n_classes=3, input_shape=(2,))
    targets = eq.PolicyOracle(refusing, OutputPolicy("label"), (2,)).ask(np.zeros((2, 2)))
    assert targets == pytest.approx(np.full((2, 3), 1 / 3))


def test_probe_findings_and_a_live_endpoint() -> None:
    from tests.models._server import API_KEY, serve

    x, y = digits()
    cfg = privacy_config(
        extraction=ExtractionSettings(
            budgets=[200],
            strategies=["natural"],
            policies=["probabilities", "label"],
            hidden=64,
            jobs=1,
            at_budget=200,
            max_fidelity=0.8,
        )
    )
    with (
        serve(digits_logreg(), 64) as (url, _),
        HttpClassifier(url, model_name="digits", api_key=API_KEY) as remote,
    ):
        report = audit_privacy(
            remote,
            (x[:600], y[:600]),
            (x[1300:1500], y[1300:1500]),
            (x[600:1100], y[600:1100]),
            ["extraction"],
            cfg,
            model_name=url,
        )
        assert remote.queries > 200
    ids = {f.rule_id for f in report.findings}
    assert ids == {"AUD-EXT-001", "AUD-EXT-002"}
    label = next(f for f in report.findings if f.rule_id == "AUD-EXT-001")
    assert label.details["policy"] == "label"  # the strictest policy still copied
    assert report.evidence["extraction"]["curve"]
