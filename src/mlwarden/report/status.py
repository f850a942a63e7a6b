"""Status of each OWASP ML Top 10 risk in a report: pass, warn, fail or not assessed.

An assessment states the status of a risk explicitly in ``report.evidence["risks"]``; any
other report (a scan, a verification, an audit) gets a status derived from its findings and
from what the command that produced it covers. The HTML report draws these statuses, and
the assessment can reuse the derivation for risks it has no explicit verdict on.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import Enum
from typing import Any

from mlwarden.findings import Finding, Report, Severity
from mlwarden.risks import RISKS, RiskId
from mlwarden.rules import RULES

#: Rule-id prefixes each command reports; the risks of those rules are what it covers.
COMMAND_RULE_PREFIXES: Mapping[str, tuple[str, ...]] = {
    "scan": ("SCAN-",),
    "verify": ("INT-",),
    "sign": ("INT-",),
    "hash": ("INT-",),
    "lock": ("INT-LCK-",),
    "lint": ("LINT-",),
    "audit": ("AUD-",),
    "drift": ("DRIFT-",),
    "data": ("DATA-",),
    "serve": ("GW-",),
}


class RiskStatus(str, Enum):
    """Verdict on one risk; ``NOT_ASSESSED`` when nothing that covers it ran."""

    PASS = "pass"  # noqa: S105 - a verdict, not a password
    WARN = "warn"
    FAIL = "fail"
    NOT_ASSESSED = "not assessed"

    @classmethod
    def parse(cls, value: object) -> RiskStatus | None:
        """Read a status written by a probe (``"fail"``, ``"not_assessed"``...), or ``None``."""
        if isinstance(value, RiskStatus):
            return value
        if not isinstance(value, str):
            return None
        text = value.strip().lower().replace("_", " ").replace("-", " ")
        aliases = {"ok": "pass", "passed": "pass", "warning": "warn", "failed": "fail"}
        try:
            return cls(aliases.get(text, text))
        except ValueError:
            return None


def rule_risk(rule_id: str) -> RiskId | None:
    """The risk of ``rule_id`` from the catalogue, or ``None`` for an unknown (plugin) rule."""
    rule = RULES.get(rule_id)
    return rule.risk if rule is not None else None


def risk_entry(report: Report, risk: RiskId) -> Mapping[str, Any]:
    """The explicit entry ``report.evidence["risks"][risk]`` (empty when there is none)."""
    risks = report.evidence.get("risks")
    if not isinstance(risks, Mapping):
        return {}
    entry = risks.get(risk.value)
    return entry if isinstance(entry, Mapping) else {}


def findings_by_risk(report: Report) -> dict[RiskId | None, list[Finding]]:
    """The report's findings grouped by their rule's risk (``None``: unknown rules)."""
    out: dict[RiskId | None, list[Finding]] = {}
    for item in report.findings:
        out.setdefault(rule_risk(item.rule_id), []).append(item)
    return out


def evidence_risk(value: object) -> RiskId | None:
    """The risk a probe's evidence names in its ``"risk"`` key, if any."""
    if isinstance(value, Mapping):
        try:
            return RiskId(str(value.get("risk")))
        except ValueError:
            return None
    return None


def covered_risks(report: Report) -> frozenset[RiskId]:
    """Risks that something in the run examined.

    A risk is covered when the command reports rules of that risk (``scan`` covers the
    risks of every ``SCAN-`` rule), when a probe's evidence names it in ``"risk"``, or when
    a finding of that risk was reported.
    """
    words = report.command.split()
    prefixes = COMMAND_RULE_PREFIXES.get(words[0], ()) if words else ()
    covered = {r.risk for r in RULES.values() if prefixes and r.id.startswith(prefixes)}
    covered.update(r for r in map(evidence_risk, report.evidence.values()) if r is not None)
    covered.update(r for r in findings_by_risk(report) if r is not None)
    return frozenset(covered)


def status_from_findings(findings: list[Finding], covered: bool) -> RiskStatus:
    """Worst severity decides: critical/high fail, medium warns, else pass if covered."""
    worst = max((f.severity.rank for f in findings), default=-1)
    if worst >= Severity.HIGH.rank:
        return RiskStatus.FAIL
    if worst >= Severity.MEDIUM.rank:
        return RiskStatus.WARN
    return RiskStatus.PASS if covered or findings else RiskStatus.NOT_ASSESSED


def risk_statuses(report: Report) -> dict[RiskId, RiskStatus]:
    """Status of every risk ML01..ML10, explicit where the report states one."""
    grouped = findings_by_risk(report)
    covered = covered_risks(report)
    out = {}
    for risk in RISKS:
        explicit = RiskStatus.parse(risk_entry(report, risk).get("status"))
        out[risk] = explicit or status_from_findings(grouped.get(risk, []), risk in covered)
    return out
