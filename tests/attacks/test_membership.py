"""Membership inference: metrics, attacks that succeed on a leaky model and fail on a
regularised one, label-only access, determinism, the probe's findings."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import numpy as np
import pytest

from mlwarden.attacks.membership import MembershipResult, membership_inference, threshold_scores
from mlwarden.attacks.mia_metrics import auc, evaluate, roc, tpr_at
from mlwarden.attacks.privacy_api import audit_privacy, privacy_config
from mlwarden.attacks.privacy_settings import MembershipSettings
from mlwarden.defenses.output_policy import OutputPolicy, PolicyClassifier
from mlwarden.errors import UsageError
from mlwarden.models import SklearnClassifier
from tests.attacks._privacy_models import noisy_data, overfit_mlp, regularised_model

FAST = MembershipSettings(references=4, jobs=1, bootstrap=50, label_only_queries=8)


@lru_cache(maxsize=4)
def attacked(which: str, mode: str = "online") -> MembershipResult:
    train, test, population = noisy_data()
    model = overfit_mlp() if which == "overfit" else regularised_model()
    settings = FAST.model_copy(update={"mode": mode})
    return membership_inference(SklearnClassifier(model), train, test, population, settings, seed=0)


def by_attack(result: MembershipResult) -> dict[str, Any]:
    return {s.attack: s for s in result.scores}


def test_roc_metrics_on_known_scores() -> None:
    fpr, tpr = roc(np.array([3.0, 2.0]), np.array([1.0, 0.0]))
    assert auc(fpr, tpr) == pytest.approx(1.0)
    assert tpr_at(fpr, tpr, 0.0) == pytest.approx(1.0)
    tied_fpr, tied_tpr = roc(np.zeros(50), np.zeros(50))
    assert auc(tied_fpr, tied_tpr) == pytest.approx(0.5)
    assert tpr_at(tied_fpr, tied_tpr, 0.01) == 0.0  # a tie cannot be split at low FPR


def test_evaluate_reports_intervals_roc_and_exposed_records() -> None:
    rng = np.random.default_rng(0)
    score = evaluate(
        "demo", rng.normal(1, 1, 400), rng.normal(0, 1, 400), member_index=np.arange(400) + 1000
    )
    assert 0.7 < score.auc < 0.85
    for (low, high), point in zip(score.ci, (score.auc, *score.tpr), strict=True):
        assert low <= point <= high
    assert score.exposed[0][0] >= 1000 and len(score.exposed) == 10
    fprs = [f for f, _ in score.roc_points]
    assert fprs == sorted(fprs) and fprs[0] == pytest.approx(1e-4)
    assert score.to_dict()["lowest_measurable_fpr"] == pytest.approx(1 / 400)


def test_threshold_scores_rank_confident_correct_answers_as_members() -> None:
    proba = np.array([[0.98, 0.01, 0.01], [0.4, 0.3, 0.3], [0.01, 0.98, 0.01]])
    scores = threshold_scores(proba, np.array([0, 0, 0]))
    for name in ("loss", "confidence", "modified_entropy"):
        assert scores[name][0] > scores[name][1] > scores[name][2]
    # entropy ignores the label: a confident wrong answer looks like a member
    assert scores["entropy"][2] > scores["entropy"][1]


def test_attacks_see_the_leaky_model_and_not_the_regularised_one() -> None:
    leaky, tight = attacked("overfit"), attacked("regularised")
    assert leaky.gap > 0.15 > tight.gap
    assert leaky.strongest().auc > 0.6
    assert leaky.strongest().auc > tight.strongest().auc + 0.05
    lb, tb = by_attack(leaky), by_attack(tight)
    for attack in ("loss", "lira_online", "rmia"):
        assert lb[attack].auc > tb[attack].auc
    assert lb["lira_online"].tpr_at_1pct >= lb["loss"].tpr_at_1pct


def test_offline_references_and_population() -> None:
    result = attacked("overfit", "offline")
    names = set(by_attack(result))
    assert {"lira_offline", "rmia"} <= names and "lira_online" not in names
    assert by_attack(result)["lira_offline"].auc > 0.55


def test_label_only_endpoint_gets_the_label_only_attack() -> None:
    train, test, population = noisy_data()
    s = MembershipSettings(references=4, jobs=1, bootstrap=0, label_only_queries=16)
    aucs = []
    for model in (overfit_mlp(), regularised_model()):
        labels_only = PolicyClassifier(SklearnClassifier(model), OutputPolicy("label"))
        result = membership_inference(labels_only, train, test, population, s, seed=0)
        assert [x.attack for x in result.scores] == ["label_only"]
        assert any("labels only" in n for n in result.notes)
        aucs.append(result.scores[0].auc)
    assert aucs[0] > 0.55 and aucs[0] > aucs[1]


def test_same_seed_same_numbers() -> None:
    train, test, _ = noisy_data()
    s = MembershipSettings(references=2, jobs=1, bootstrap=20, label_only=False)
    a = membership_inference(SklearnClassifier(overfit_mlp()), train, test, None, s, seed=3)
    b = membership_inference(SklearnClassifier(overfit_mlp()), train, test, None, s, seed=3)
    assert [x.to_dict() for x in a.scores] == [x.to_dict() for x in b.scores]


def test_probe_reports_findings_and_evidence() -> None:
    train, test, population = noisy_data()
    cfg = privacy_config(membership=FAST.model_copy(update={"references": 2, "bootstrap": 0}))
    reports = [
        audit_privacy(
            SklearnClassifier(m), train, test, population, ["membership"], cfg, model_name=name
        )
        for name, m in (("leaky.pkl", overfit_mlp()), ("tight.pkl", regularised_model()))
    ]
    leaky_ids = {f.rule_id for f in reports[0].findings}
    assert {"AUD-MIA-001", "AUD-MIA-002"} <= leaky_ids
    assert "AUD-MIA-002" not in {f.rule_id for f in reports[1].findings}
    evidence = reports[0].evidence["membership"]
    assert evidence["gap"] > 0.15 and evidence["attacks"][0]["roc_loglog"]
    assert reports[0].metrics["membership.auc"] > reports[1].metrics["membership.auc"]
    assert all(str(f.location) == "leaky.pkl" for f in reports[0].findings)


def test_probe_without_training_records_is_a_usage_error() -> None:
    from mlwarden.attacks.registry import AuditData, get_probe

    _, test, _ = noisy_data()
    with pytest.raises(UsageError, match="training records"):
        get_probe("membership").run(
            SklearnClassifier(overfit_mlp()), AuditData(*test), privacy_config(), lambda e: None
        )
