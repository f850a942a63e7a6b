"""mlwarden.audit with the evasion probe: findings, evidence, modes, thresholds, errors."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest

from mlwarden.attacks import audit
from mlwarden.attacks.evasion import stratified_split
from mlwarden.errors import ConfigError, UsageError
from mlwarden.findings import Severity
from mlwarden.models.base import MissingCapability
from mlwarden.report.json_report import load_report_schema, to_json
from mlwarden.report.sarif import to_sarif
from tests.attacks import _models as M

FAST = {"max_samples": 80, "evasion": {"steps": 20}}


def _rules(report: Any) -> list[str]:
    return sorted(f.rule_id for f in report.findings)


def test_whitebox_audit_flags_a_weak_model() -> None:
    jsonschema = pytest.importorskip("jsonschema")
    d = M.digits()
    events: list[Any] = []
    report = audit(
        M.torch_classifier(M.weak_cnn()),
        d.x_test,
        d.y_test,
        config=FAST,
        on_event=events.append,
        model_name="weak.pt",
        data_name="digits",
    )
    assert _rules(report) == ["AUD-EVA-001"]
    assert report.findings[0].location.path == "weak.pt"
    assert report.findings[0].severity is Severity.HIGH
    ev = report.evidence["evasion"]
    assert ev["mode"] == "whitebox" and ev["samples"] == 80 and ev["clip"] == [0.0, 1.0]
    points = ev["curves"][0]["points"]
    accs = [p["robust_accuracy"] for p in points]
    assert accs == sorted(accs, reverse=True) and accs[0] > accs[-1] + 0.5
    assert set(ev["curves"][0]["per_class"]) == {str(c) for c in range(10)}
    example = ev["examples"][0]
    assert example["label"] != example["adversarial_label"] and example["linf"] <= 0.1 + 1e-6
    assert np.asarray(example["adversarial"]).shape == (1, 8, 8)
    assert report.metrics["evasion.robust_accuracy@0.1"] == points[1]["robust_accuracy"]
    assert events and events[-1].done == events[-1].total
    jsonschema.validate(json.loads(to_json(report)), load_report_schema())
    assert "AUD-EVA-001" in to_sarif(report)


def test_hardened_model_passes_the_same_audit() -> None:
    d = M.digits()
    config = {**FAST, "evasion": {"steps": 20, "min_robust_accuracy": 0.6}}
    weak = audit(M.torch_classifier(M.weak_cnn()), d.x_test, d.y_test, config=config)
    hard = audit(M.torch_classifier(M.hardened_cnn()), d.x_test, d.y_test, config=config)
    assert _rules(weak) == ["AUD-EVA-001"]
    assert _rules(hard) == []
    key = "evasion.robust_accuracy@0.1"
    assert hard.metrics[key] > weak.metrics[key] + 0.1  # type: ignore[operator]


def test_blackbox_audit_of_a_label_and_score_model() -> None:
    d = M.digits()
    model = M.sklearn_classifier(M.logreg())
    config = {"max_samples": 30, "evasion": {"budget": 200, "norm": "l2", "eps": [0.5, 1.0, 2.0]}}
    report = audit(model, d.x_test, d.y_test, config=config)
    ev = report.evidence["evasion"]
    assert ev["mode"] == "blackbox"
    assert "AUD-EVA-003" in _rules(report)
    curve = ev["curves"][0]
    assert curve["budget"] == 200 and curve["hopskipjump"]["max_queries"] <= 200
    assert {a["attack"] for a in curve["attacks"]} == {"hopskipjump", "square"}
    assert curve["points"][-1]["attack_success_rate"] > 0.8
    with pytest.raises(MissingCapability, match="loss_gradient"):
        audit(model, d.x_test, d.y_test, config={"evasion": {"attack": "whitebox"}})


def test_both_modes_and_a_trivially_robust_model() -> None:
    xs, ys = M.easy_pairs()
    config = {"evasion": {"attack": "both", "budget": 100, "steps": 10}}
    report = audit(M.trivially_robust(), xs, ys, config=config)
    assert _rules(report) == []
    modes = [c["mode"] for c in report.evidence["evasion"]["curves"]]
    assert modes == ["whitebox", "blackbox"]
    assert all(
        p["robust_accuracy"] == 1.0
        for c in report.evidence["evasion"]["curves"]
        for p in c["points"]
    )


def test_bad_inputs_are_clear_errors() -> None:
    d = M.digits()
    model = M.torch_classifier(M.weak_cnn())
    with pytest.raises(ConfigError):
        audit(model, d.x_test, d.y_test, config={"evasion": {"eps": [-1]}})
    with pytest.raises(UsageError, match="shape"):
        audit(model, d.x_test.reshape(len(d.x_test), -1)[:, :10], d.y_test)
    with pytest.raises(UsageError, match="unknown probe"):
        audit(model, d.x_test, d.y_test, probes=["nope"])
    bad = d.x_test[:20].copy()
    bad[0, 0, 0, 0] = np.nan
    with pytest.raises(UsageError, match="NaN"):
        audit(model, bad, d.y_test[:20])


def test_flat_inputs_are_reshaped_to_the_model() -> None:
    d = M.digits()
    flat = d.x_test.reshape(len(d.x_test), -1)
    report = audit(
        M.torch_classifier(M.weak_cnn()),
        flat,
        d.y_test,
        config={"max_samples": 20, "evasion": {"steps": 5, "apgd": False}},
    )
    assert report.evidence["evasion"]["samples"] == 20


def test_stratified_split_spreads_classes() -> None:
    y = np.repeat(np.arange(4), [40, 30, 20, 10])
    picked, rest = stratified_split(y, 20, seed=0)
    assert len(picked) == 20 and len(rest) == 80 and not set(picked) & set(rest)
    assert np.bincount(y[picked]).tolist() == [8, 6, 4, 2]


def test_audit_settings_from_toml_and_environment(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mlwarden.config import load_settings

    path = tmp_path / "mlwarden.toml"
    path.write_text('[audit]\nfail_on = "high"\n\n[audit.evasion]\neps = [0.2, 0.1]\nbudget = 50\n')
    monkeypatch.setenv("MLWARDEN_AUDIT__EVASION__NORM", "l2")
    settings = load_settings(path, {"audit": {"evasion": {"budget": 70}}})
    ev = settings.audit.evasion
    assert settings.audit.fail_on is Severity.HIGH
    assert ev.eps_values() == [0.1, 0.2] and ev.target() == 0.2
    assert ev.norm == "l2" and ev.budget == 70  # flag > env > file
    with pytest.raises(ConfigError):
        load_settings(path, {"audit": {"evasion": {"defenses": ["magic"]}}})
