"""Verification outcomes as :class:`~mlwarden.findings.Report` values (JSON/SARIF/text).

Each :class:`~mlwarden.integrity.errors.Problem` becomes a finding with its ``INT-...`` rule,
located at the model file it concerns, so integrity results share the report renderers and
the SARIF upload path with the scanner.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timezone
from pathlib import Path

from mlwarden.findings import Confidence, Finding, Location, MetricValue, Report
from mlwarden.integrity.errors import Problem, VerificationError
from mlwarden.rules import get_rule


def finding_for(model: Path, problem: Problem) -> Finding:
    """The finding that reports ``problem`` on ``model``."""
    rule = get_rule(problem.rule_id)
    path = str(model) if problem.path in ("", ".") else str(model / problem.path)
    evidence = " -> ".join(x for x in (problem.expected, problem.actual) if x)
    return Finding(
        rule_id=problem.rule_id,
        severity=rule.severity,
        confidence=Confidence.HIGH,
        location=Location(path),
        message=problem.message,
        evidence=evidence,
    )


def integrity_report(
    model: str | Path,
    problems: Iterable[Problem],
    *,
    command: str = "verify",
    metrics: dict[str, MetricValue] | None = None,
    started_at: datetime | None = None,
) -> Report:
    """A report of ``problems`` (failures or warnings) found while checking ``model``."""
    root = Path(model)
    return Report(
        command=command,
        findings=tuple(finding_for(root, p) for p in problems),
        scanned=(str(root),),
        metrics=dict(metrics or {}),
        started_at=started_at or datetime.now(timezone.utc),
        finished_at=datetime.now(timezone.utc),
    )


def failure_report(model: str | Path, error: VerificationError, command: str = "verify") -> Report:
    """The report of a failed verification."""
    return integrity_report(model, error.problems, command=command, metrics={"verified": False})
