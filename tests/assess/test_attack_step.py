"""The attack step's choices: what it attacks behind which defences, and how it treats a
live endpoint (its own defences, a bounded wait when the gateway throttles)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from mlwarden.assess import attack_step as step
from mlwarden.assess.steps import STEPS, AssessInputs
from mlwarden.assess.verdicts import Outcome, risk_entries
from mlwarden.config import load_settings
from mlwarden.findings import Report
from mlwarden.models.callable_adapter import CallableClassifier


@pytest.fixture
def data(tmp_path: Path) -> Path:
    rng = np.random.default_rng(0)
    x = rng.random((60, 4)).astype(np.float32)
    np.savez(tmp_path / "test.npz", X=x, y=(x[:, 0] > 0.5).astype(np.int64))
    return tmp_path / "test.npz"


def classifier(with_proba: bool) -> CallableClassifier:
    def predict(x: Any) -> Any:
        return (np.asarray(x)[:, 0] > 0.5).astype(np.int64)

    def proba(x: Any) -> Any:
        p = np.clip(np.asarray(x)[:, 0], 0, 1)
        return np.column_stack([1 - p, p])

    fn_proba = proba if with_proba else None
    return CallableClassifier(predict, fn_proba=fn_proba, n_classes=2, input_shape=(4,))


def run(
    monkeypatch: pytest.MonkeyPatch, data: Path, inputs: AssessInputs, model: Any
) -> list[dict[str, Any]]:
    """Run the step with ``model`` in place of the loaded one; the audit configs it used."""
    used: list[dict[str, Any]] = []
    monkeypatch.setattr(step, "_model", lambda *a, **k: model)

    def audit(model: Any, x: Any, y: Any, probes: Any, cfg: Any, **kw: Any) -> Report:
        used.append({"probes": list(probes), "defenses": list(cfg.evasion.defenses)})
        return Report(command="audit")

    import mlwarden.attacks.api as api

    monkeypatch.setattr(api, "audit", audit)
    settings = load_settings(None, {"assess": {"quick": True}})
    step.run_attacks(inputs, settings, {"defenses": ["squeeze", "threshold"]})
    return used


def test_a_model_file_is_attacked_behind_the_defences_the_policy_serves(
    monkeypatch: pytest.MonkeyPatch, data: Path
) -> None:
    used = run(monkeypatch, data, AssessInputs(model="m.joblib", test=str(data)), classifier(True))
    assert used == [{"probes": ["evasion"], "defenses": ["squeeze", "threshold"]}]


def test_a_label_only_model_is_attacked_as_it_is(
    monkeypatch: pytest.MonkeyPatch, data: Path
) -> None:
    used = run(monkeypatch, data, AssessInputs(model="m.joblib", test=str(data)), classifier(False))
    assert used[0]["defenses"] == []  # the detectors need probabilities


def test_a_live_endpoint_is_not_defended_twice(monkeypatch: pytest.MonkeyPatch, data: Path) -> None:
    inputs = AssessInputs(endpoint="http://127.0.0.1:9/v1/predict", test=str(data))
    used = run(monkeypatch, data, inputs, classifier(True))
    assert used[0]["defenses"] == []  # the gateway applies its own


def test_a_live_endpoint_gets_the_assessment_wait_and_query_limits(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seen: dict[str, Any] = {}

    def load_model(spec: str, **kw: Any) -> str:
        seen.update(kw, spec=spec)
        return "model"

    import mlwarden.models.loading as loading

    monkeypatch.setattr(loading, "load_model", load_model)
    inputs = AssessInputs(endpoint="http://127.0.0.1:9/v1/predict", api_key="k")
    settings = load_settings(None, {"assess": {"max_retry_wait": 3.0, "max_queries": 500}})
    step._model(inputs.endpoint or "", inputs, {}, settings)
    assert (seen["max_retry_wait"], seen["max_queries"], seen["api_key"]) == (3.0, 500, "k")
    seen.clear()
    step._model(inputs.endpoint or "", inputs, {}, load_settings(None, {}))
    assert seen["max_retry_wait"] == 10.0 and "max_queries" not in seen


def test_a_failed_attack_step_is_said_in_the_summaries_it_leaves_partial() -> None:
    policy = next(s for s in STEPS if s.id == "policy")
    attacks = next(s for s in STEPS if s.id == "attacks")
    error = "the attacks failed: the endpoint asks to retry after 60s; status 429"
    outcomes = [
        Outcome(policy, report=Report(command="assess policy")),
        Outcome(attacks, error=error),
    ]
    risks = risk_entries(outcomes, load_settings(None, {}).assess, None)
    assert risks["ML01"]["status"] == "pass"  # the policy review is clean
    assert f"Not measured: {error}." in risks["ML01"]["summary"]
    assert risks["ML04"]["status"] == "not assessed" and risks["ML04"]["reason"] == error
    assert "Not measured" not in risks["ML09"]["summary"]  # the attacks do not speak to ML09


def test_risks_the_attacks_did_not_reach_say_what_would_reach_them() -> None:
    attacks = next(s for s in STEPS if s.id == "attacks")
    evasion_only = Report(command="assess attacks", evidence={"evasion": {"risk": "ML01"}})
    risks = risk_entries(
        [Outcome(attacks, report=evasion_only)], load_settings(None, {}).assess, None
    )
    assert "logits" in risks["ML07"]["reason"] and ".pt" in risks["ML07"]["enable"]
    for risk in ("ML03", "ML04", "ML05"):
        assert "training records" in risks[risk]["reason"]
        assert risks[risk]["enable"].startswith("--train D")
