"""``mlwarden.assess``: run every check whose inputs are present, one verdict per risk.

The steps run in a fixed order (scan before anything loads the model; the attacks before
the live checks, which reuse an input of the held-out data). A step that cannot run is
recorded with the reason and the flag that would enable it; a step that fails is an error
in the report and the others still run. The result is one :class:`Report` with command
``"assess"``: every step's findings and evidence, and ``evidence["risks"]`` with the verdict,
numbers, mitigation and snippet of each of ML01..ML10.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from mlwarden.assess.attack_step import run_attacks
from mlwarden.assess.steps import (
    STEPS,
    AssessInputs,
    Skip,
    failed,
    run_base_model,
    run_data,
    run_drift,
    run_endpoint,
    run_integrity,
    run_lint,
    run_policy,
    run_scan,
)
from mlwarden.assess.verdicts import Outcome, risk_entries
from mlwarden.errors import MlwardenError
from mlwarden.findings import ItemError, Report, SkippedItem, merge_reports
from mlwarden.report.status import RiskStatus

if TYPE_CHECKING:
    from mlwarden.attacks.registry import AuditEvent
    from mlwarden.config import Settings

Runner = Callable[[AssessInputs, "Settings", dict[str, Any]], Report]

RUNNERS: dict[str, Runner] = {
    "scan": run_scan,
    "integrity": run_integrity,
    "lint": run_lint,
    "data": run_data,
    "drift": run_drift,
    "attacks": run_attacks,
    "base_model": run_base_model,
    "policy": run_policy,
    "endpoint": run_endpoint,
}


def assess(
    inputs: AssessInputs,
    settings: Settings | None = None,
    *,
    on_event: Callable[[AuditEvent], None] | None = None,
) -> Report:
    """Assess a model, its data, files, code and serving policy against the ML Top 10.

    Args:
        inputs: what to assess (every field optional; see :class:`AssessInputs`).
        settings: the configuration (default: :func:`mlwarden.config.load_settings`).
        on_event: progress callback (one ``assess`` stage per step, and the attacks' stages).

    Returns:
        A report with command ``"assess"``; ``evidence["risks"]`` holds the verdicts.

    Raises:
        InputError: a given path does not exist (nothing runs).
    """
    from mlwarden.attacks.registry import AuditEvent
    from mlwarden.config import load_settings

    inputs.check()
    settings = settings or load_settings()
    started = datetime.now(timezone.utc)
    ctx: dict[str, Any] = {"on_event": on_event}
    outcomes: list[Outcome] = []
    for index, step in enumerate(STEPS):
        if on_event is not None:
            on_event(AuditEvent("assess", step.title, index, len(STEPS)))
        outcomes.append(_run(step, inputs, settings, ctx))
    if on_event is not None:
        on_event(AuditEvent("assess", "done", len(STEPS), len(STEPS)))
    return _report(inputs, settings, outcomes, ctx, started)


def _run(step: Any, inputs: AssessInputs, settings: Settings, ctx: dict[str, Any]) -> Outcome:
    try:
        return Outcome(step, RUNNERS[step.id](inputs, settings, ctx))
    except Skip as skip:
        return Outcome(step, skip=skip.reason, enable=skip.enable)
    except (MlwardenError, ValueError, RuntimeError, OSError, MemoryError) as exc:
        return Outcome(step, error=failed(step, exc))


def _report(
    inputs: AssessInputs,
    settings: Settings,
    outcomes: list[Outcome],
    ctx: dict[str, Any],
    started: datetime,
) -> Report:
    merged = merge_reports("assess", [o.report for o in outcomes if o.report is not None])
    risks = risk_entries(outcomes, settings.assess, ctx.get("policy"))
    steps = [_step_row(o) for o in outcomes]
    evidence = {
        **merged.evidence,
        "label": inputs.name or inputs.model or inputs.endpoint or "assessment",
        "risks": risks,
        "assessment": {
            "steps": {
                "chart": "table",
                "title": "What was checked",
                "columns": ["check", "result", "note"],
                "rows": steps,
            },
            "statuses": {k: v["status"] for k, v in risks.items()},
        },
    }
    skipped = tuple(SkippedItem(o.step.title, f"{o.skip} ({o.enable})") for o in outcomes if o.skip)
    errors = tuple(ItemError(o.step.title, o.error) for o in outcomes if o.error)
    return replace(
        merged,
        skipped=(*merged.skipped, *skipped),
        errors=(*merged.errors, *errors),
        evidence=evidence,
        scanned=tuple(dict.fromkeys(merged.scanned)),
        started_at=started,
        finished_at=datetime.now(timezone.utc),
    )


def _step_row(outcome: Outcome) -> list[str]:
    if outcome.report is not None:
        note = outcome.report.command
        return [outcome.step.title, "ran", f"{len(outcome.report.findings)} finding(s) ({note})"]
    if outcome.error:
        return [outcome.step.title, "failed", outcome.error]
    return [outcome.step.title, "not run", f"{outcome.skip}; enable with {outcome.enable}"]


def failing_risks(report: Report, at: str = "fail") -> list[str]:
    """Risks whose verdict is ``at`` or worse (``"warn"`` or ``"fail"``)."""
    wanted = {RiskStatus.FAIL.value} | ({RiskStatus.WARN.value} if at == "warn" else set())
    risks = report.evidence.get("risks") or {}
    return sorted(k for k, v in risks.items() if v.get("status") in wanted)
