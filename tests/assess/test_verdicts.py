"""From step results to verdicts: thresholds, the served output, and per-risk entries.

The evidence dicts here have the shapes the real probes write (checked against a quick
audit of a logistic regression on digits): ``evasion.curves[].points[]``,
``membership.attacks[]`` with ``tpr_at_0.01_fpr``, ``extraction.curve[]`` rows of
``policy``/``budget``/``fidelity``, ``inversion.attributes[].members|nonmembers``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from mlwarden.assess.mitigations import MITIGATIONS
from mlwarden.assess.policy_review import controls_of
from mlwarden.assess.settings import AssessSettings
from mlwarden.assess.steps import STEPS, Step
from mlwarden.assess.verdicts import (
    Outcome,
    judge_evasion,
    judge_extraction,
    judge_inversion,
    judge_membership,
    level,
    risk_entries,
    served_policy,
    worst,
)
from mlwarden.config import load_settings
from mlwarden.errors import ConfigError
from mlwarden.findings import Confidence, Finding, Location, Report
from mlwarden.gateway.policy import GatewayPolicy
from mlwarden.report.status import RiskStatus
from mlwarden.risks import RISKS

P, W, F, NA = RiskStatus.PASS, RiskStatus.WARN, RiskStatus.FAIL, RiskStatus.NOT_ASSESSED
CFG = AssessSettings()
RISKS_BY_ID = {r.value: r for r in RISKS}


def step(step_id: str) -> Step:
    return next(s for s in STEPS if s.id == step_id)


def finding(rule_id: str, message: str = "something", **details: Any) -> Finding:
    from mlwarden.rules import RULES

    rule = RULES[rule_id]
    return Finding(
        rule_id, rule.severity, Confidence.HIGH, Location("model.joblib"), message, details=details
    )


def controls(**sections: Any) -> dict[str, Any]:
    """Controls of a real gateway policy (defaults, with ``sections`` merged in)."""
    return controls_of(GatewayPolicy.model_validate(sections))


# --------------------------------------------------------------------------- level / worst


@pytest.mark.parametrize(
    ("value", "expected"),
    [(0.0, P), (0.049, P), (0.05, W), (0.1, W), (0.149, W), (0.15, F), (0.9, F)],
)
def test_level_higher_is_worse(value: float, expected: RiskStatus) -> None:
    assert level(value, 0.05, 0.15) is expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [(1.0, P), (0.8, P), (0.79, W), (0.5, W), (0.49, F), (0.0, F)],
)
def test_level_lower_is_worse(value: float, expected: RiskStatus) -> None:
    assert level(value, 0.8, 0.5, higher_is_worse=False) is expected


@pytest.mark.parametrize(
    ("statuses", "expected"),
    [
        ((), NA),
        ((NA,), NA),
        ((NA, P), P),
        ((P, W), W),
        ((W, P, NA), W),
        ((F, W, P), F),
        ((NA, F), F),
    ],
)
def test_worst_ignores_not_assessed(statuses: tuple[RiskStatus, ...], expected: RiskStatus) -> None:
    assert worst(*statuses) is expected


# --------------------------------------------------------------------------- served_policy


@pytest.mark.parametrize(
    ("output", "served"),
    [
        ({"mode": "label"}, "label"),
        ({"mode": "top_k", "top_k": 1, "decimals": 2}, "top_k:1"),
        ({"mode": "top_k", "top_k": 3, "decimals": 6}, "top_k:3"),
        ({"mode": "top_k", "top_k": 12, "decimals": 0}, "top_k:12"),
        ({"mode": "probabilities", "decimals": 0}, "rounded:0"),
        ({"mode": "probabilities", "decimals": 2}, "rounded:2"),
        ({"mode": "probabilities", "decimals": 4}, "rounded:4"),
        ({"mode": "probabilities", "decimals": 5}, "probabilities"),
        ({"mode": "probabilities", "decimals": 8}, "probabilities"),
    ],
)
def test_served_policy_of_real_policies(output: dict[str, Any], served: str) -> None:
    assert served_policy(controls(output=output)) == served


def test_served_policy_without_a_policy_is_everything() -> None:
    assert served_policy(None) == "probabilities"
    assert served_policy({}) == "probabilities"


# --------------------------------------------------------------------------- evasion


def evasion(
    clean: float, curves: list[list[tuple[float, float]]], target: float = 0.1
) -> dict[str, Any]:
    return {
        "risk": "ML01",
        "target_eps": target,
        "clean_accuracy": clean,
        "curves": [
            {
                "mode": f"mode{i}",
                "points": [
                    {"eps": e, "robust_accuracy": a, "attack_success_rate": 1 - a} for e, a in pts
                ],
            }
            for i, pts in enumerate(curves)
        ],
    }


@pytest.mark.parametrize(
    ("robust", "expected"),
    [(0.9, P), (0.8, P), (0.7, W), (0.5, W), (0.45, F), (0.0, F)],
)
def test_evasion_ratio_of_robust_to_clean(robust: float, expected: RiskStatus) -> None:
    block = evasion(1.0, [[(0.05, 1.0), (0.1, robust), (0.2, 0.0)]])
    judged = judge_evasion(block, CFG)
    assert judged is not None
    assert judged.status is expected
    assert judged.facts["robust_accuracy"] == pytest.approx(robust)
    assert judged.facts["eps"] == pytest.approx(0.1)


def test_evasion_takes_the_worst_curve_at_the_target_eps_only() -> None:
    block = evasion(0.9, [[(0.1, 0.85), (0.2, 0.0)], [(0.1, 0.36), (0.3, 0.0)]])
    judged = judge_evasion(block, CFG)
    assert judged is not None
    assert judged.facts["robust_accuracy"] == pytest.approx(0.36)
    assert judged.facts["ratio"] == pytest.approx(0.4)
    assert judged.status is F
    assert "36.0%" in judged.summary


def test_evasion_robust_eps_setting_overrides_the_probe_target() -> None:
    block = evasion(1.0, [[(0.1, 0.95), (0.2, 0.3)]])
    at_target = judge_evasion(block, CFG)
    at_setting = judge_evasion(block, AssessSettings(robust_eps=0.2))
    assert at_target is not None
    assert at_setting is not None
    assert (at_target.status, at_setting.status) == (P, F)


@pytest.mark.parametrize(
    "block",
    [
        {},
        evasion(1.0, [[(0.05, 0.9), (0.2, 0.1)]]),  # no point at the target eps
        evasion(0.0, [[(0.1, 0.0)]]),  # no clean accuracy to compare with
    ],
    ids=["empty", "no-point-at-eps", "zero-clean"],
)
def test_evasion_without_a_usable_number_gives_no_verdict(block: dict[str, Any]) -> None:
    assert judge_evasion(block, CFG) is None


# --------------------------------------------------------------------------- membership


def membership(*attacks: tuple[str, float | None]) -> dict[str, Any]:
    return {
        "risk": "ML04",
        "gap": 0.03,
        "attacks": [
            {"attack": name, "auc": 0.6, "tpr_at_0.01_fpr": tpr, "tpr_at_0.001_fpr": 0.0}
            for name, tpr in attacks
        ],
    }


def test_membership_takes_the_strongest_attack_on_full_outputs() -> None:
    block = membership(("loss", 0.01), ("rmia", 0.08), ("label_only", 0.03))
    judged = judge_membership(block, CFG, "probabilities")
    assert judged is not None
    assert (judged.facts["attack"], judged.status) == ("rmia", F)


def test_membership_against_labels_uses_the_label_only_attack() -> None:
    block = membership(("loss", 0.01), ("rmia", 0.08), ("label_only", 0.03))
    judged = judge_membership(block, CFG, "label")
    assert judged is not None
    assert judged.facts["attack"] == "label_only"
    assert judged.facts["outputs"] == "label"
    assert judged.status is W
    assert "label_only" in judged.summary


def test_membership_against_labels_falls_back_when_no_label_only_attack_ran() -> None:
    judged = judge_membership(membership(("loss", 0.01), ("rmia", 0.08)), CFG, "label")
    assert judged is not None
    assert (judged.facts["attack"], judged.status) == ("rmia", F)


@pytest.mark.parametrize(("tpr", "expected"), [(0.0, P), (0.019, P), (0.02, W), (0.05, F)])
def test_membership_thresholds(tpr: float, expected: RiskStatus) -> None:
    judged = judge_membership(membership(("rmia", tpr)), CFG, "probabilities")
    assert judged is not None
    assert judged.status is expected


def test_membership_without_tpr_gives_no_verdict() -> None:
    assert judge_membership(membership(("loss", None)), CFG, "probabilities") is None
    assert judge_membership({}, CFG, "label") is None


# --------------------------------------------------------------------------- extraction


def extraction(rows: list[tuple[str, int, float]]) -> dict[str, Any]:
    return {
        "risk": "ML05",
        "curve": [
            {"strategy": s, "policy": p, "budget": b, "fidelity": f, "accuracy": f}
            for p, b, f in rows
            for s in ("natural",)
        ],
    }


CURVE = extraction(
    [
        ("probabilities", 100, 0.97),
        ("probabilities", 1000, 0.99),
        ("probabilities", 10000, 1.0),
        ("label", 100, 0.6),
        ("label", 1000, 0.85),
        ("label", 10000, 0.99),
        ("top_k:1", 1000, 0.7),
    ]
)


@pytest.mark.parametrize(
    ("served", "fidelity", "expected"),
    [("probabilities", 0.99, F), ("label", 0.85, W), ("top_k:1", 0.7, P)],
)
def test_extraction_is_judged_for_the_served_output_at_the_budget(
    served: str, fidelity: float, expected: RiskStatus
) -> None:
    judged = judge_extraction(CURVE, CFG, served, None)
    assert judged is not None
    assert judged.facts == {"fidelity": fidelity, "budget": 1000, "outputs": served}
    assert judged.status is expected


def test_extraction_points_above_the_budget_do_not_count() -> None:
    small = judge_extraction(CURVE, AssessSettings(extraction_budget=100), "label", None)
    large = judge_extraction(CURVE, AssessSettings(extraction_budget=10000), "label", None)
    assert small is not None
    assert large is not None
    assert (small.facts["budget"], small.status) == (100, P)
    assert (large.facts["budget"], large.status) == (10000, F)


def test_extraction_takes_the_best_strategy_at_the_largest_budget() -> None:
    block = extraction([("label", 1000, 0.5), ("label", 1000, 0.96), ("label", 100, 0.99)])
    judged = judge_extraction(block, CFG, "label", None)
    assert judged is not None
    assert (judged.facts["fidelity"], judged.facts["budget"]) == (0.96, 1000)


def test_extraction_of_an_unmeasured_output_gives_no_verdict() -> None:
    assert judge_extraction(CURVE, CFG, "rounded:3", None) is None
    assert judge_extraction({}, CFG, "label", None) is None


BOUNDED = {
    "auth": {"enabled": True},
    "rate_limit": {"enabled": True, "per_key": "120/minute"},
    "extraction": {"enabled": True, "action": "throttle"},
}


@pytest.mark.parametrize("action", ["throttle", "block"])
def test_extraction_fail_becomes_warn_when_keys_are_bounded_and_watched(action: str) -> None:
    policy = controls(**{**BOUNDED, "extraction": {"enabled": True, "action": action}})
    judged = judge_extraction(CURVE, CFG, "probabilities", policy)
    assert judged is not None
    assert judged.status is W
    assert "warn, not fail" in judged.summary


@pytest.mark.parametrize(
    "missing",
    [
        {"auth": {"enabled": False}},
        {"rate_limit": {"enabled": False}},
        {"extraction": {"enabled": True, "action": "alert"}},
        {"extraction": {"enabled": False}},
    ],
    ids=["no-auth", "no-rate-limit", "monitor-alerts-only", "no-monitor"],
)
def test_extraction_fail_stays_fail_when_any_bound_is_missing(missing: dict[str, Any]) -> None:
    judged = judge_extraction(CURVE, CFG, "probabilities", controls(**{**BOUNDED, **missing}))
    assert judged is not None
    assert judged.status is F
    assert "warn, not fail" not in judged.summary


def test_extraction_warn_and_pass_are_not_changed_by_the_policy() -> None:
    policy = controls(**BOUNDED)
    judged = judge_extraction(CURVE, CFG, "label", policy)
    assert judged is not None
    assert judged.status is W
    assert "warn, not fail" not in judged.summary
    passed = judge_extraction(CURVE, CFG, "top_k:1", policy)
    assert passed is not None
    assert passed.status is P


# --------------------------------------------------------------------------- inversion


def inversion(*pairs: tuple[float | None, float | None]) -> dict[str, Any]:
    return {
        "risk": "ML03",
        "attributes": [
            {
                "column": i,
                "members": {"column": i, "advantage": m} if m is not None else None,
                "nonmembers": {"column": i, "advantage": n},
            }
            for i, (m, n) in enumerate(pairs)
        ],
    }


@pytest.mark.parametrize(
    ("pairs", "best", "expected"),
    [
        (((0.0, 0.0),), 0.0, P),
        (((0.01, 0.06),), 0.06, W),
        (((0.2, 0.0), (0.01, 0.02)), 0.2, F),
        (((None, 0.05),), 0.05, W),
    ],
)
def test_inversion_takes_the_best_advantage(
    pairs: tuple[tuple[float | None, float | None], ...], best: float, expected: RiskStatus
) -> None:
    judged = judge_inversion(inversion(*pairs), CFG)
    assert judged is not None
    assert judged.facts["max_attribute_advantage"] == pytest.approx(best)
    assert judged.status is expected


def test_inversion_without_advantages_gives_no_verdict() -> None:
    assert judge_inversion({}, CFG) is None
    assert judge_inversion(inversion((None, None)), CFG) is None


# --------------------------------------------------------------------------- risk_entries


def attack_report(evidence: dict[str, Any], *findings: Finding) -> Report:
    return Report(command="assess attacks", findings=findings, evidence=evidence)


def entries(outcomes: list[Outcome], policy: dict[str, Any] | None = None) -> dict[str, Any]:
    return risk_entries(outcomes, CFG, policy)


def test_nothing_ran_every_risk_not_assessed_with_reason_and_enable() -> None:
    outcomes = [Outcome(s, skip=f"no input for {s.id}", enable=f"--{s.id}") for s in STEPS]
    result = entries(outcomes)
    assert set(result) == {r.value for r in RISKS}
    for risk, entry in result.items():
        assert entry["status"] == "not assessed"
        assert entry["reason"].startswith("no input for ")
        assert entry["enable"].startswith("--")
        assert entry["reason"] in entry["summary"]
        assert entry["mitigation"] == list(MITIGATIONS[RISKS_BY_ID[risk]].steps)
        assert entry["snippet"] == MITIGATIONS[RISKS_BY_ID[risk]].snippet


def test_a_step_error_makes_its_risks_not_assessed_with_the_error() -> None:
    error = "the attacks failed: refusing to load model.pkl: the scanner reported"
    outcomes = [
        Outcome(step("scan"), report=Report(command="scan")),
        Outcome(step("attacks"), error=error),
    ]
    result = entries(outcomes)
    for risk in ("ML01", "ML03", "ML04", "ML05"):
        assert result[risk]["status"] == "not assessed"
        assert result[risk]["reason"] == error
        assert "fix the error" in result[risk]["enable"]
    assert result["ML06"]["status"] == "pass"


def test_a_step_that_ran_clears_its_risks_and_the_others_stay_unassessed() -> None:
    result = entries([Outcome(step("scan"), report=Report(command="scan"))])
    assert result["ML06"]["status"] == "pass"
    assert result["ML10"]["status"] == "pass"
    assert "artifact scan" in result["ML06"]["summary"]
    assert result["ML01"]["status"] == "not assessed"


@pytest.mark.parametrize(
    ("rule", "risk", "status"),
    [("LINT-ML03-001", "ML03", "warn"), ("LINT-ML09-002", "ML09", "fail")],
)
def test_lint_findings_make_their_risk_warn_or_fail(rule: str, risk: str, status: str) -> None:
    lint = Report(command="lint", findings=(finding(rule, "the route returns scores"),))
    result = entries([Outcome(step("lint"), report=lint)])
    assert result[risk]["status"] == status
    assert "the route returns scores" in result[risk]["summary"]
    assert result["ML06"]["status"] == "pass"


def test_clean_lint_does_not_clear_the_risks_it_did_not_find() -> None:
    result = entries([Outcome(step("lint"), report=Report(command="lint"))])
    assert result["ML06"]["status"] == "pass"
    for risk in ("ML01", "ML03", "ML04", "ML05", "ML09"):
        assert result[risk]["status"] == "not assessed"


def test_judged_attack_findings_are_not_counted_twice() -> None:
    low_tpr = membership(("rmia", 0.001))
    report = attack_report({"membership": low_tpr}, finding("AUD-MIA-001"))
    assert entries([Outcome(step("attacks"), report=report)])["ML04"]["status"] == "pass"


def test_attack_findings_count_when_no_number_could_be_judged() -> None:
    report = attack_report({"membership": membership(("rmia", None))}, finding("AUD-MIA-001"))
    assert entries([Outcome(step("attacks"), report=report)])["ML04"]["status"] == "fail"


def test_attacks_only_cover_the_risks_whose_probe_ran() -> None:
    evidence = {"evasion": evasion(1.0, [[(0.1, 0.9)]])}
    outcomes = [Outcome(step("attacks"), report=attack_report(evidence))]
    result = entries(outcomes)
    assert result["ML01"]["status"] == "pass"
    for risk in ("ML03", "ML04", "ML05"):
        assert result[risk]["status"] == "not assessed"
        assert result[risk]["enable"] == "--train D beside --test D"


def test_membership_is_judged_against_the_served_policy() -> None:
    block = membership(("rmia", 0.08), ("label_only", 0.0))
    outcomes = [Outcome(step("attacks"), report=attack_report({"membership": block}))]
    assert entries(outcomes)["ML04"]["status"] == "fail"
    label = controls(output={"mode": "label"})
    assert entries(outcomes, label)["ML04"]["status"] == "pass"


def test_entry_carries_the_numbers_behind_the_verdict() -> None:
    outcomes = [Outcome(step("attacks"), report=attack_report({"extraction": CURVE}))]
    entry = entries(outcomes)["ML05"]
    assert entry["status"] == "fail"
    assert entry["evidence"]["fidelity"] == 0.99
    assert entry["evidence"]["budget"] == 1000
    assert entry["evidence"]["checks"] == "attacks"


def test_equation_solving_on_probabilities_does_not_fail_a_label_only_gateway() -> None:
    eq = finding("AUD-EXT-002", "recovered", policy="probabilities", queries=65)
    report = attack_report({"extraction": CURVE}, eq)
    policy = controls(**BOUNDED, output={"mode": "label"})
    entry = entries([Outcome(step("attacks"), report=report)], policy)
    assert entry["ML05"]["status"] == "warn"


# --------------------------------------------------------------------------- AssessSettings


@pytest.mark.parametrize(
    ("values", "valid"),
    [
        ({"robust_warn": 0.4, "robust_fail": 0.5}, False),
        ({"advantage_warn": 0.2, "advantage_fail": 0.1}, False),
        ({"mia_tpr_warn": 0.1, "mia_tpr_fail": 0.05}, False),
        ({"fidelity_warn": 0.99, "fidelity_fail": 0.95}, False),
        ({"robust_warn": 0.5, "robust_fail": 0.5}, True),
        ({"advantage_warn": 0.1, "advantage_fail": 0.1}, True),
        ({"mia_tpr_warn": 0.0, "mia_tpr_fail": 0.0}, True),
        ({"fidelity_warn": 0.9, "fidelity_fail": 0.9}, True),
    ],
)
def test_settings_reject_warn_beyond_fail_and_accept_equal(
    values: dict[str, float], valid: bool
) -> None:
    if valid:
        assert AssessSettings(**values).model_dump(include=set(values)) == values
    else:
        with pytest.raises(ValidationError, match="must not exceed"):
            AssessSettings(**values)


def test_settings_check_order_on_assignment_too() -> None:
    cfg = AssessSettings()
    with pytest.raises(ValidationError, match="must not exceed"):
        cfg.fidelity_warn = 0.99
    cfg.fidelity_warn = 0.9  # the look-alike below fidelity_fail is accepted
    assert cfg.fidelity_warn == 0.9


def test_a_refused_assignment_leaves_the_settings_unchanged() -> None:
    cfg = AssessSettings()
    with pytest.raises(ValidationError):
        cfg.fidelity_warn = 0.99
    assert cfg.fidelity_warn == 0.8


def test_bad_thresholds_in_a_config_file_are_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "mlwarden.toml"
    path.write_text("[assess]\nmia_tpr_warn = 0.3\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="mia_tpr_warn"):
        load_settings(path)
    path.write_text("[assess]\nmia_tpr_warn = 0.01\nextraction_budget = 500\n", encoding="utf-8")
    loaded = load_settings(path).assess
    assert (loaded.mia_tpr_warn, loaded.extraction_budget) == (0.01, 500)


# --------------------------------------------------------------------------- served defences


def _curve(*points: tuple[float, float]) -> dict[str, Any]:
    return {"points": [{"eps": e, "robust_accuracy": a} for e, a in points]}


def test_evasion_behind_served_defences_is_judged_by_the_adaptive_attack() -> None:
    block = {
        "target_eps": 0.1,
        "clean_accuracy": 0.98,
        "curves": [_curve((0.1, 0.30))],  # the model alone: fail
        "defended": {
            "clean_accuracy": 0.95,
            "naive": _curve((0.1, 0.95)),
            "adaptive": _curve((0.1, 0.90)),
        },
    }
    judged = judge_evasion(block, AssessSettings())
    assert judged is not None
    assert judged.status is RiskStatus.PASS  # 0.90 / 0.95 keeps 95%
    assert "behind the served defences" in judged.summary and "30.0%" in judged.summary
    broken = {**block, "defended": {**block["defended"], "adaptive": _curve((0.1, 0.2))}}
    assert judge_evasion(broken, AssessSettings()).status is RiskStatus.FAIL  # type: ignore[union-attr]
    bare = {k: v for k, v in block.items() if k != "defended"}
    assert judge_evasion(bare, AssessSettings()).status is RiskStatus.FAIL  # type: ignore[union-attr]


def test_the_naive_vs_adaptive_gap_does_not_vote_once_the_adaptive_number_is_judged() -> None:
    block = {
        "target_eps": 0.1,
        "clean_accuracy": 0.98,
        "curves": [_curve((0.1, 0.97))],
        "defended": {"clean_accuracy": 0.97, "adaptive": _curve((0.1, 0.96))},
    }
    report = Report(
        command="assess attacks",
        findings=(finding("AUD-EVA-002", "naive 0.9 but adaptive 0.2 at eps 0.2"),),
        evidence={"evasion": {"risk": "ML01", **block}},
    )
    entry = entries([Outcome(step("attacks"), report=report)])["ML01"]
    assert entry["status"] == "pass"
    lint = Report(command="lint", findings=(finding("LINT-ML01-001", "no validation"),))
    both = entries([Outcome(step("attacks"), report=report), Outcome(step("lint"), report=lint)])
    assert both["ML01"]["status"] == "warn"  # other evidence still votes


@pytest.mark.parametrize(
    ("adversarial", "expected"),
    [
        ({}, []),
        ({"squeezing_detector": True}, ["squeeze"]),
        ({"min_confidence": 0.6}, ["threshold"]),
        ({"squeezing_detector": True, "min_confidence": 0.6}, ["squeeze", "threshold"]),
    ],
)
def test_the_policy_names_the_defences_the_attacks_go_through(
    adversarial: dict[str, Any], expected: list[str]
) -> None:
    from mlwarden.assess.steps import served_defenses

    policy = GatewayPolicy.model_validate({"adversarial": adversarial})
    assert served_defenses(policy) == expected
