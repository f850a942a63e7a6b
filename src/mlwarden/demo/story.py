"""The demo's story: build both setups, assess both, write one side-by-side report.

:func:`run_demo` is what `mlwarden demo` runs. It checks the story it tells: every risk
the vulnerable setup plants must come out warn or fail, and the secure setup must come out
better on each of them (the secure setup's verdicts are measured, not assumed: where its
numbers are only "warn", the report says so).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from mlwarden.findings import Report
from mlwarden.report.status import RiskStatus
from mlwarden.risks import RiskId

if TYPE_CHECKING:
    from mlwarden.attacks.registry import AuditEvent
    from mlwarden.config import Settings
    from mlwarden.demo.setups import Setup

#: Risks the vulnerable setup plants, which the secure one mitigates (all ten).
PLANTED = (
    RiskId.ML01,
    RiskId.ML02,
    RiskId.ML03,
    RiskId.ML04,
    RiskId.ML05,
    RiskId.ML06,
    RiskId.ML07,
    RiskId.ML08,
    RiskId.ML09,
    RiskId.ML10,
)
_RANK = {"pass": 0, "warn": 1, "fail": 2}


@dataclass(frozen=True)
class DemoResult:
    """Both setups, their assessments and where the report was written."""

    setups: tuple[Setup, Setup]
    reports: tuple[Report, Report]
    html: Path
    problems: tuple[str, ...]

    @property
    def ok(self) -> bool:
        """The story holds: every planted risk is caught and mitigated."""
        return not self.problems


def run_demo(
    out: str | Path,
    *,
    quick: bool = False,
    settings: Settings | None = None,
    on_event: Callable[[AuditEvent], None] | None = None,
) -> DemoResult:
    """Build, assess and report both setups under ``out`` (``report.html`` and JSON)."""
    from mlwarden.assess.runner import assess
    from mlwarden.attacks.registry import AuditEvent
    from mlwarden.config import load_settings
    from mlwarden.demo.setups import build_setups
    from mlwarden.report.html import to_html
    from mlwarden.report.json_report import to_json

    root = Path(out)
    if on_event is not None:
        on_event(AuditEvent("demo", "training both setups", 0, 1))
    setups = build_setups(root)
    if on_event is not None:
        on_event(AuditEvent("demo", "training both setups", 1, 1))
    base = settings or load_settings()
    assess_cfg = base.assess.model_validate(
        {**base.assess.model_dump(), "quick": quick or base.assess.quick}
    )
    cfg = base.model_copy(update={"assess": assess_cfg})
    reports = tuple(assess(s.inputs, cfg, on_event=_tagged(on_event, s.name)) for s in setups)
    vulnerable, secure = reports
    html = root / "report.html"
    labels = (setups[0].title, setups[1].title)
    html.write_text(
        to_html(vulnerable, compare=secure, labels=labels, title="mlwarden demo"),
        encoding="utf-8",
    )
    for setup, report in zip(setups, reports, strict=True):
        (root / f"{setup.name}.json").write_text(to_json(report), encoding="utf-8")
    return DemoResult(setups, (vulnerable, secure), html, tuple(check_story(vulnerable, secure)))


def _tagged(
    on_event: Callable[[AuditEvent], None] | None, name: str
) -> Callable[[AuditEvent], None] | None:
    if on_event is None:
        return None
    from dataclasses import replace

    def forward(event: AuditEvent) -> None:
        on_event(replace(event, probe=f"{name} {event.probe}"))

    return forward


def statuses(report: Report) -> dict[str, str]:
    risks = report.evidence.get("risks") or {}
    return {k: str(v.get("status")) for k, v in risks.items()}


def check_story(vulnerable: Report, secure: Report) -> list[str]:
    """What does not hold: a planted risk not caught, or not better in the secure setup."""
    bad, good = statuses(vulnerable), statuses(secure)
    problems = []
    for risk in PLANTED:
        v, s = bad.get(risk.value, ""), good.get(risk.value, "")
        if v not in (RiskStatus.WARN.value, RiskStatus.FAIL.value):
            problems.append(f"{risk.value}: the vulnerable setup is {v!r}, not warn or fail")
        elif s not in _RANK or _RANK[s] >= _RANK[v]:
            problems.append(f"{risk.value}: the secure setup is {s!r}, no better than {v!r}")
    return problems
