"""The per-risk sections of the HTML report: status, evidence, findings, what to do.

A :class:`Side` is one report prepared for rendering (statuses, findings and evidence grouped
by risk); the report shows one side, or two side by side in compare mode. Every string from
a report is escaped here or in the helpers it calls.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from html import escape
from typing import Any
from urllib.parse import quote

from mlwarden.findings import Finding, Report
from mlwarden.report.charts import text
from mlwarden.report.html_evidence import evidence_html
from mlwarden.report.json_report import sorted_findings
from mlwarden.report.status import (
    RiskStatus,
    evidence_risk,
    risk_entry,
    risk_statuses,
    rule_risk,
)
from mlwarden.risks import RISKS, RiskId
from mlwarden.rules import RULES

MAX_FINDINGS = 200
STATUS_CLASS = {
    RiskStatus.PASS: "st-pass",
    RiskStatus.WARN: "st-warn",
    RiskStatus.FAIL: "st-fail",
    RiskStatus.NOT_ASSESSED: "st-na",
}
_STATUS_RANK = (RiskStatus.NOT_ASSESSED, RiskStatus.PASS, RiskStatus.WARN, RiskStatus.FAIL)


@dataclass(frozen=True)
class Side:
    """One report, grouped by risk for rendering (``None`` groups what has no known risk)."""

    label: str
    report: Report
    statuses: Mapping[RiskId, RiskStatus]
    findings: Mapping[RiskId | None, list[Finding]]
    evidence: Mapping[RiskId | None, list[tuple[str, Any]]]

    @classmethod
    def of(cls, report: Report, label: str) -> Side:
        """Prepare ``report``: statuses per risk, its findings sorted, evidence by risk."""
        grouped: dict[RiskId | None, list[Finding]] = {}
        for item in sorted_findings(report):
            grouped.setdefault(rule_risk(item.rule_id), []).append(item)
        evidence: dict[RiskId | None, list[tuple[str, Any]]] = {}
        for key, value in sorted(report.evidence.items(), key=lambda kv: str(kv[0])):
            if key not in ("risks", "label"):
                evidence.setdefault(evidence_risk(value), []).append((str(key), value))
        return cls(label, report, risk_statuses(report), grouped, evidence)

    def has_content(self, risk: RiskId) -> bool:
        """Whether the section of ``risk`` would say anything beyond "not assessed"."""
        return bool(
            risk_entry(self.report, risk)
            or self.findings.get(risk)
            or self.evidence.get(risk)
            or self.statuses[risk] is not RiskStatus.NOT_ASSESSED
        )


def worst(statuses: Sequence[RiskStatus]) -> RiskStatus:
    """The most severe of ``statuses`` (fail > warn > pass > not assessed)."""
    return max(statuses, key=_STATUS_RANK.index)


def status_badge(status: RiskStatus, who: str = "") -> str:
    """A coloured status pill, optionally prefixed with whose status it is."""
    prefix = f"<span class='who'>{escape(who)}</span>" if who else ""
    return f"<span>{prefix}<span class='status {STATUS_CLASS[status]}'>{status.value}</span></span>"


def severity_badge(severity: str) -> str:
    """A coloured severity pill."""
    return f"<span class='sev sev-{escape(severity)}'>{escape(severity)}</span>"


def findings_table(findings: Sequence[Finding], rule_docs: str, narrow: bool = False) -> str:
    """Findings, worst first: severity, linked rule id, location and message (+ evidence)."""
    if not findings:
        return "<p class='empty'>No findings.</p>"
    rows = []
    for item in findings[:MAX_FINDINGS]:
        rule = RULES.get(item.rule_id)
        rule_cell = escape(text(item.rule_id, 60))
        if rule is not None:  # unknown (plugin) rules have no page to link to
            href = escape(rule_docs.format(id=quote(item.rule_id, safe="")))
            rule_cell = f"<a href='{href}' title='{escape(rule.name)}'>{rule_cell}</a>"
        where = f"<span class='loc'>{escape(text(item.location, 400))}</span>"
        message = escape(item.message)
        if item.evidence:
            message += f"<span class='ev'>{escape(item.evidence)}</span>"
        cells = [severity_badge(item.severity.value), rule_cell]
        cells += [f"{where}<br>{message}"] if narrow else [where, message]
        classes = ["", "rule"] + ([""] if narrow else ["loc", ""])
        rows.append(
            "<tr>"
            + "".join(f"<td class='{c}'>{x}</td>" for c, x in zip(classes, cells, strict=True))
            + "</tr>"
        )
    heads = ["Severity", "Rule"] + (["Finding"] if narrow else ["Location", "Message"])
    more = len(findings) - MAX_FINDINGS
    tail = f"<p class='note'>{more} more findings in the JSON report.</p>" if more > 0 else ""
    head = "".join(f"<th>{h}</th>" for h in heads)
    return (
        f"<div class='table-wrap'><table class='findings'><thead><tr>{head}</tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table></div>{tail}"
    )


def _summary(side: Side, risk: RiskId) -> str:
    entry = risk_entry(side.report, risk)
    status = side.statuses[risk]
    parts = [escape(text(entry["summary"], 2000))] if entry.get("summary") else []
    if entry.get("reason"):
        parts.append(escape(text(entry["reason"], 1000)))
    if entry.get("enable"):
        parts.append(f"Enable with <code>{escape(text(entry['enable'], 200))}</code>.")
    if parts:
        return f"<p class='lead'>{' '.join(parts)}</p>"
    found = side.findings.get(risk, [])
    if found:
        worst_sev = max(found, key=lambda f: f.severity.rank).severity.value
        plural = "s" if len(found) > 1 else ""
        return f"<p class='lead'>{len(found)} finding{plural}, the worst {worst_sev}.</p>"
    if status is RiskStatus.NOT_ASSESSED:
        return "<p class='lead'>Not assessed: nothing in this run examined this risk.</p>"
    command = escape(text(side.report.command, 80))
    return f"<p class='lead'>No findings from <code>{command}</code>.</p>"


def _evidence(side: Side, risk: RiskId) -> str:
    raw = risk_entry(side.report, risk).get("evidence")
    items: list[tuple[str, Any]] = []
    if isinstance(raw, (list, tuple)):
        items += [("", v) for v in raw]
    elif raw is not None:
        items.append(("", raw))
    items += side.evidence.get(risk, [])
    body = evidence_html(items)
    return f"<h3>Evidence</h3>{body}" if body else ""


def side_body(side: Side, risk: RiskId, rule_docs: str, narrow: bool) -> str:
    """Summary, evidence and findings of ``risk`` in one report."""
    found = side.findings.get(risk, [])
    table = f"<h3>Findings ({len(found)})</h3>" + findings_table(found, rule_docs, narrow)
    quiet = not found and side.statuses[risk] is RiskStatus.NOT_ASSESSED
    return _summary(side, risk) + _evidence(side, risk) + ("" if quiet else table)


def advice_lines(side: Side, risk: RiskId) -> list[str]:
    """The entry's mitigation, else the catalogue's mitigations and the fired rules' fixes."""
    advice = risk_entry(side.report, risk).get("mitigation")
    if isinstance(advice, str) and advice:
        return [text(advice, 2000)]
    if isinstance(advice, (list, tuple)) and advice:
        return [text(a, 1000) for a in advice]
    fixes = {RULES[f.rule_id].fix for f in side.findings.get(risk, []) if f.rule_id in RULES}
    return [*RISKS[risk].mitigations, *sorted(fixes)]


def mitigation_html(sides: Sequence[Side], risk: RiskId) -> str:
    """What to do, merged over ``sides``: advice as a list, code snippets as blocks."""
    lines = dict.fromkeys(line for s in sides for line in advice_lines(s, risk))
    snippets = dict.fromkeys(
        text(snippet, 20000)
        for s in sides
        if isinstance(snippet := risk_entry(s.report, risk).get("snippet"), str) and snippet
    )
    items = "".join(f"<li>{escape(line)}</li>" for line in lines)
    code = "".join(f"<pre><code>{escape(snippet)}</code></pre>" for snippet in snippets)
    return f"<div class='mitigation'><ul>{items}</ul>{code}</div>"


def risk_section(sides: Sequence[Side], risk: RiskId, rule_docs: str) -> str:
    """The card of one risk: its header, then the body (one column per report to compare)."""
    info = RISKS[risk]
    statuses = [s.statuses[risk] for s in sides]
    compare = len(sides) > 1
    badges = "" if compare else status_badge(statuses[0])
    head = (
        f"<div class='risk-head'><span class='rid'>{risk.value}</span>"
        f"<h2>{escape(info.title)}</h2>{badges}"
        f"<a class='ext' href='{escape(info.url)}'>OWASP&nbsp;↗</a></div>"
        f"<p class='desc'>{escape(info.description)}</p>"
    )
    if compare:
        columns = "".join(
            f"<div class='column'><div class='column-head'><b>{escape(s.label)}</b>"
            f"{status_badge(st)}</div>{side_body(s, risk, rule_docs, narrow=True)}</div>"
            for s, st in zip(sides, statuses, strict=True)
        )
        body = f"<div class='columns'>{columns}</div>"
    else:
        body = side_body(sides[0], risk, rule_docs, narrow=False)
    cls = STATUS_CLASS[worst(statuses)]
    return (
        f"<section class='card risk {cls}' id='{risk.value.lower()}'>{head}{body}"
        f"<h3>What to do</h3>{mitigation_html(sides, risk)}</section>"
    )
