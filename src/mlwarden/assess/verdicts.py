"""From step results to one verdict per risk: pass, warn, fail or not assessed.

For each risk ML01..ML10 the verdict is the worst of

- the findings of that risk's rules (critical or high: fail, medium: warn), leaving out the
  attack findings whose number is judged here instead, and
- the thresholds of ``[assess]`` on the measured numbers: robust/clean accuracy (ML01),
  attribute-inference advantage (ML03), membership TPR at 1% FPR (ML04) and extracted-copy
  fidelity (ML05), each judged for the output the gateway policy really serves.

A risk no step examined is "not assessed", with the reason and the flags that would
enable it. Extraction measured as a fail is reported as a warn when the served policy
bounds and watches each key (API keys, a rate limit, and an extraction monitor that
throttles or blocks): the copy is possible, but not cheaply or unseen.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from mlwarden.assess.mitigations import MITIGATIONS
from mlwarden.assess.steps import Step
from mlwarden.findings import Finding, Report, Severity
from mlwarden.report.status import RiskStatus, evidence_risk, rule_risk, status_from_findings
from mlwarden.risks import RISKS, RiskId

if TYPE_CHECKING:
    from mlwarden.assess.settings import AssessSettings

#: Attack findings whose number the assessment judges with its own thresholds.
#: AUD-EVA-002 (naive vs adaptive gap) is among them: the verdict uses the adaptive number.
JUDGED_HERE = frozenset(
    {
        "AUD-EVA-001",
        "AUD-EVA-002",
        "AUD-EVA-003",
        "AUD-MIA-001",
        "AUD-MIA-002",
        "AUD-INV-001",
        "AUD-EXT-001",
    }
)
#: Rule prefix of the check whose numbers summarise a risk (its findings are not repeated).
_OWN_PREFIX = {RiskId.ML02: "DATA-", RiskId.ML08: "DRIFT-"}
_ORDER = {RiskStatus.PASS: 0, RiskStatus.WARN: 1, RiskStatus.FAIL: 2}


@dataclass(frozen=True)
class Outcome:
    """What one step did: its report, or why it did not run (``skip``) or failed."""

    step: Step
    report: Report | None = None
    skip: str = ""
    enable: str = ""
    error: str = ""

    def covers(self) -> frozenset[RiskId]:
        """Risks this step examined (attacks: those whose probe ran)."""
        if self.report is None:
            return frozenset()
        if self.step.id != "attacks":
            return frozenset(self.step.risks)
        found = (evidence_risk(v) for v in self.report.evidence.values())
        return frozenset(r for r in found if r is not None)


@dataclass
class Judgement:
    """A number judged against thresholds, for one risk."""

    status: RiskStatus
    summary: str
    facts: dict[str, Any] = field(default_factory=dict)


def worst(*statuses: RiskStatus) -> RiskStatus:
    ranked = [s for s in statuses if s in _ORDER]
    return max(ranked, key=lambda s: _ORDER[s]) if ranked else RiskStatus.NOT_ASSESSED


def level(value: float, warn: float, fail: float, higher_is_worse: bool = True) -> RiskStatus:
    """``value`` against a warn and a fail threshold."""
    if higher_is_worse:
        return (
            RiskStatus.FAIL
            if value >= fail
            else RiskStatus.WARN
            if value >= warn
            else RiskStatus.PASS
        )
    return RiskStatus.FAIL if value < fail else RiskStatus.WARN if value < warn else RiskStatus.PASS


def served_policy(controls: dict[str, Any] | None) -> str:
    """The extraction probe's name of the output the gateway serves (default: everything)."""
    return str((controls or {}).get("served_outputs") or "probabilities")


def _robust_at(curves: list[dict[str, Any]], eps: float | None) -> float | None:
    """The lowest robust accuracy at ``eps`` over the curves (attack modes)."""
    found = [
        float(point["robust_accuracy"])
        for curve in curves
        for point in curve.get("points", [])
        if eps is not None and abs(float(point["eps"]) - float(eps)) < 1e-9
    ]
    return min(found) if found else None


def judge_evasion(block: dict[str, Any], cfg: AssessSettings) -> Judgement | None:
    """Robust/clean accuracy at eps; of the model behind its served defences when there are
    any (the adaptive attack's number: what an attacker of the gateway gets)."""
    eps = cfg.robust_eps or block.get("target_eps")
    bare = _robust_at(block.get("curves", []), eps)
    defended = block.get("defended") or {}
    robust = _robust_at([defended["adaptive"]], eps) if defended.get("adaptive") else None
    clean = float((defended or block).get("clean_accuracy") or 0.0)
    if robust is None:
        robust = bare
    if robust is None or clean <= 0:
        return None
    ratio = robust / clean
    status = level(ratio, cfg.robust_warn, cfg.robust_fail, higher_is_worse=False)
    served = " behind the served defences (adaptive attack)" if defended else ""
    summary = (
        f"Robust accuracy {robust:.1%} at eps {eps:g}{served} (clean {clean:.1%}): the attacks "
        f"keep {ratio:.0%} of the accuracy (warn below {cfg.robust_warn:.0%}, fail below "
        f"{cfg.robust_fail:.0%})."
    )
    if defended and bare is not None:
        summary += f" The model alone keeps {bare:.1%}."
    facts = {"robust_accuracy": robust, "eps": eps, "clean_accuracy": clean, "ratio": ratio}
    if defended:
        facts["undefended_robust_accuracy"] = bare
    return Judgement(status, summary, facts)


def judge_inversion(block: dict[str, Any], cfg: AssessSettings) -> Judgement | None:
    advantages = [
        float(side["advantage"])
        for attr in block.get("attributes", [])
        for side in (attr.get("members"), attr.get("nonmembers"))
        if isinstance(side, dict) and side.get("advantage") is not None
    ]
    if not advantages:
        return None
    best = max(advantages)
    status = level(best, cfg.advantage_warn, cfg.advantage_fail)
    summary = (
        f"Attribute inference beats the baseline by {best:.1%} at best (warn at "
        f"{cfg.advantage_warn:.0%}, fail at {cfg.advantage_fail:.0%})."
    )
    return Judgement(status, summary, {"max_attribute_advantage": best})


def judge_membership(block: dict[str, Any], cfg: AssessSettings, served: str) -> Judgement | None:
    attacks = [a for a in block.get("attacks", []) if a.get("tpr_at_0.01_fpr") is not None]
    if served == "label":
        label_only = [a for a in attacks if a.get("attack") == "label_only"]
        attacks = label_only or attacks
    if not attacks:
        return None
    best = max(attacks, key=lambda a: float(a["tpr_at_0.01_fpr"]))
    tpr, auc = float(best["tpr_at_0.01_fpr"]), float(best.get("auc") or 0.5)
    status = level(tpr, cfg.mia_tpr_warn, cfg.mia_tpr_fail)
    summary = (
        f"Membership inference ({best['attack']}, against {served} outputs): TPR {tpr:.1%} "
        f"at 1% FPR, AUC {auc:.3f} (warn at {cfg.mia_tpr_warn:.0%}, fail at "
        f"{cfg.mia_tpr_fail:.0%}); train/test gap {float(block.get('gap') or 0):.3f}."
    )
    facts = {"attack": best["attack"], "tpr_at_1pct_fpr": tpr, "auc": auc, "outputs": served}
    return Judgement(status, summary, facts)


def judge_extraction(
    block: dict[str, Any], cfg: AssessSettings, served: str, controls: dict[str, Any] | None
) -> Judgement | None:
    points = [
        p
        for p in block.get("curve", [])
        if p.get("policy") == served
        and p.get("fidelity") is not None
        and int(p["budget"]) <= cfg.extraction_budget
    ]
    if not points:
        return None
    best = max(points, key=lambda p: (int(p["budget"]), float(p["fidelity"])))
    top = max(float(p["fidelity"]) for p in points if int(p["budget"]) == int(best["budget"]))
    status = level(top, cfg.fidelity_warn, cfg.fidelity_fail)
    summary = (
        f"A copy trained on {best['budget']} queries of the {served} outputs agrees with the "
        f"model on {top:.1%} of held-out inputs (warn at {cfg.fidelity_warn:.0%}, fail at "
        f"{cfg.fidelity_fail:.0%})."
    )
    if status is RiskStatus.FAIL and _bounded(controls):
        status = RiskStatus.WARN
        summary += (
            " The gateway policy requires keys, rate-limits them and throttles extraction "
            "patterns, so the copy is neither free nor unseen: warn, not fail."
        )
    facts = {"fidelity": top, "budget": int(best["budget"]), "outputs": served}
    return Judgement(status, summary, facts)


def _bounded(controls: dict[str, Any] | None) -> bool:
    if not controls:
        return False
    monitor = controls.get("extraction_monitor") in ("throttle", "block")
    return bool(controls.get("authentication")) and controls.get("rate_limit") != "off" and monitor


def judgements(
    report: Report, cfg: AssessSettings, controls: dict[str, Any] | None
) -> dict[RiskId, Judgement]:
    """The threshold verdicts the attack evidence of ``report`` supports."""
    served = served_policy(controls)
    evidence = report.evidence
    out: dict[RiskId, Judgement | None] = {
        RiskId.ML01: judge_evasion(evidence.get("evasion") or {}, cfg),
        RiskId.ML03: judge_inversion(evidence.get("inversion") or {}, cfg),
        RiskId.ML04: judge_membership(evidence.get("membership") or {}, cfg, served),
        RiskId.ML05: judge_extraction(evidence.get("extraction") or {}, cfg, served, controls),
    }
    return {k: v for k, v in out.items() if v is not None}


def risk_entries(
    outcomes: list[Outcome], cfg: AssessSettings, controls: dict[str, Any] | None
) -> dict[str, dict[str, Any]]:
    """``evidence["risks"]``: one entry per risk (see docs/report-charts.md)."""
    findings: dict[RiskId, list[Finding]] = {r: [] for r in RISKS}
    for outcome in outcomes:
        for f in outcome.report.findings if outcome.report else ():
            risk = rule_risk(f.rule_id)
            if risk is not None:
                findings[risk].append(f)
            # A check of one risk speaks to it whatever its rules' risks (a signature that
            # does not verify is an ML06 rule, and ML10's integrity is not established).
            if outcome.step.owns_findings and outcome.step.risks[0] != risk:
                findings[outcome.step.risks[0]].append(f)
    attack = next((o.report for o in outcomes if o.step.id == "attacks" and o.report), None)
    judged = judgements(attack, cfg, controls) if attack is not None else {}
    served = served_policy(controls)
    return {
        r.value: _entry(r, outcomes, findings[r], judged.get(r), _judged_rules(served))
        for r in RISKS
    }


def _judged_rules(served: str) -> frozenset[str]:
    """Attack findings that do not vote: those judged here, and equation solving (from every
    probability) when the gateway serves less."""
    needs_scores = served.startswith(("probabilities", "rounded"))
    return JUDGED_HERE if needs_scores else JUDGED_HERE | {"AUD-EXT-002"}


def _entry(
    risk: RiskId,
    outcomes: list[Outcome],
    findings: list[Finding],
    judged: Judgement | None,
    silent: frozenset[str] = JUDGED_HERE,
) -> dict[str, Any]:
    checks = [o.step.title for o in outcomes if risk in o.covers() or _reported(o, risk)]
    advice = MITIGATIONS[risk]
    entry: dict[str, Any] = {"mitigation": list(advice.steps), "snippet": advice.snippet}
    if not checks:
        reason, enable = _why_not(risk, outcomes)
        return {
            **entry,
            "status": RiskStatus.NOT_ASSESSED.value,
            "reason": reason,
            "enable": enable,
            "summary": f"Not assessed: {reason}.",
        }
    counted = [f for f in findings if f.rule_id not in silent or judged is None]
    status = worst(
        status_from_findings(counted, covered=True), judged.status if judged else RiskStatus.PASS
    )
    measured = judged.summary if judged else _measured(risk, outcomes)
    own = _OWN_PREFIX.get(risk, "AUD-")
    others = [
        f
        for f in counted
        if f.severity.rank >= Severity.MEDIUM.rank and not f.rule_id.startswith(own)
    ]
    summary = measured or _finding_summary(findings) or f"No finding ({', '.join(checks)})."
    if measured and others:
        summary += f" Also: {_finding_summary(others)}"
    failed = [o.error for o in outcomes if risk in o.step.risks and o.error]
    if failed:  # what was judged is partial: say what could not be measured
        summary += f" Not measured: {failed[0]}."
    facts: dict[str, Any] = {"checks": ", ".join(checks), "findings": len(findings)}
    facts.update(judged.facts if judged else {})
    return {**entry, "status": status.value, "summary": summary, "evidence": facts}


def _measured(risk: RiskId, outcomes: list[Outcome]) -> str:
    """A one-line summary of the numbers behind ML02 and ML08 (their checks' evidence)."""
    reports = [o.report for o in outcomes if o.report is not None]
    data = next((r.evidence["data"] for r in reports if "data" in r.evidence), None)
    drift = next((r.evidence["drift"] for r in reports if "drift" in r.evidence), None)
    if risk is RiskId.ML02 and data is not None:
        poison = data["poison"]
        classes = ", ".join(str(c) for c in poison["suspected_classes"]) or "none"
        gate = data.get("gate") or {}
        text = (
            f"Poison detection: suspected class(es) {classes}, {poison['flagged']} row(s) flagged"
        )
        if gate:
            text += f"; retrain gate {'passed' if gate['passed'] else 'failed'}"
        return text + "."
    if risk is RiskId.ML08 and drift is not None:
        moved = ", ".join(drift["drifted_columns"][:6]) or "none"
        more = len(drift["drifted_columns"]) - 6
        multi = drift["multivariate"]
        auc = f"; domain classifier AUC {multi['auc']:.3f}" if multi.get("ran") else ""
        return (
            f"{len(drift['drifted_columns'])} of {drift['columns_tested']} columns drifted "
            f"({moved}{f' and {more} more' if more > 0 else ''}){auc}."
        )
    return ""


def _reported(outcome: Outcome, risk: RiskId) -> bool:
    """The step reported a finding of ``risk`` (the linter speaks to every risk this way)."""
    found = outcome.report.findings if outcome.report else ()
    # A low or informational finding is a hint, not an examination of the risk.
    return any(
        rule_risk(f.rule_id) == risk and f.severity.rank >= Severity.MEDIUM.rank for f in found
    )


def _finding_summary(findings: list[Finding]) -> str:
    if not findings:
        return ""
    worst_first = sorted(findings, key=lambda f: -f.severity.rank)
    more = f" (and {len(findings) - 1} more)" if len(findings) > 1 else ""
    return f"{worst_first[0].message}{more}."


def _attack_gap(risk: RiskId) -> tuple[str, str]:
    """Why the attacks ran but did not measure ``risk``, and what would make them."""
    if risk is RiskId.ML07:
        return (
            "the backdoor search needs a model with logits (PyTorch) and image inputs",
            "--model M.pt with image data (e.g. --test digits)",
        )
    return (
        "the attacks ran without training records (membership, inversion and extraction need them)",
        "--train D beside --test D",
    )


def _why_not(risk: RiskId, outcomes: list[Outcome]) -> tuple[str, str]:
    """Why no check examined ``risk`` (every reason, errors first) and what would enable it."""
    for outcome in outcomes:
        if risk in outcome.step.risks and outcome.error:
            return outcome.error, "fix the error above and run again"
    reasons: list[tuple[str, str]] = []
    for outcome in outcomes:
        if risk not in outcome.step.risks:
            continue
        if outcome.skip:
            reasons.append((outcome.skip, outcome.enable))
        elif outcome.step.id == "attacks" and outcome.report is not None:
            reasons.insert(0, _attack_gap(risk))
    if not reasons:
        return "no check of this risk had its inputs", "see mlwarden assess --help"
    return "; ".join(r for r, _ in reasons), "; or ".join(e for _, e in reasons)
