"""The JSON renderer: a :class:`~mlwarden.findings.Report` as a versioned, schema-checked dict.

The output is described by the checked-in JSON Schema ``schema/report.schema.json``; bump
:data:`SCHEMA_VERSION` (and the schema) whenever a field changes meaning or disappears.
Rule metadata (OWASP risk, CWE, name) is looked up in the rule catalogue, since a finding
carries only its rule id. Nothing from the environment is added: what is in the report (whose
evidence is already redacted) is all that is written.
"""

from __future__ import annotations

import importlib.resources
import json
import math
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any

from mlwarden.findings import Finding, Location, Report
from mlwarden.rules import Rule, get_rule

SCHEMA_VERSION = "1.0"
TOOL_NAME = "mlwarden"

JsonScalar = str | int | float | bool | None


def lookup_rule(rule_id: str) -> Rule | None:
    """The catalogue entry for ``rule_id``, or ``None`` for an id the catalogue lacks.

    Plugins may report rule ids that were never registered; renderers still show them.
    """
    try:
        return get_rule(rule_id)
    except KeyError:
        return None


def iso_utc(moment: datetime) -> str:
    """Format ``moment`` as ISO 8601 in UTC with a ``Z`` suffix (naive times are taken as UTC)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    text = moment.astimezone(timezone.utc).isoformat(timespec="milliseconds")
    return text.replace("+00:00", "Z")


def finding_sort_key(finding: Finding) -> tuple[Any, ...]:
    """Total order on findings: worst first, then by place (numerically), rule and content."""
    loc = finding.location
    return (
        -finding.severity.rank,
        loc.path,
        loc.member or "",
        -1 if loc.line is None else loc.line,
        -1 if loc.column is None else loc.column,
        -1 if loc.offset is None else loc.offset,
        finding.rule_id,
        finding.fingerprint,
        finding.message,
        finding.confidence.value,
    )


def sorted_findings(report: Report) -> list[Finding]:
    """The report's findings in the deterministic order every renderer uses."""
    return sorted(report.findings, key=finding_sort_key)


def json_safe(value: JsonScalar) -> JsonScalar:
    """Make a scalar strict-JSON safe: NaN and infinities (not valid JSON) become strings."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return value


def clean_text(text: str) -> str:
    """Make ``text`` encodable as UTF-8: undecodable file-name bytes become ``\\xNN``.

    Paths from ``os.fsdecode`` carry lone surrogates for bytes that are not UTF-8; written
    as they are, they make the whole output unencodable.
    """
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        try:
            raw = text.encode("utf-8", "surrogateescape")
        except UnicodeEncodeError:
            raw = text.encode("utf-8", "backslashreplace")
        return raw.decode("utf-8", "backslashreplace")
    return text


def _clean_tree(value: Any) -> Any:
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, dict):
        return {clean_text(k): _clean_tree(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean_tree(v) for v in value]
    if isinstance(value, float):
        return json_safe(value)
    return value


def _scalar_map(values: Mapping[str, Any]) -> dict[str, JsonScalar]:
    return {str(key): json_safe(values[key]) for key in sorted(values, key=str)}


def _location_to_dict(location: Location) -> dict[str, Any]:
    return {
        "path": location.path,
        "member": location.member,
        "line": location.line,
        "column": location.column,
        "offset": location.offset,
    }


def finding_to_dict(finding: Finding) -> dict[str, Any]:
    """One finding with its rule's name, OWASP risk and CWE (``None`` for unknown rules)."""
    rule = lookup_rule(finding.rule_id)
    return {
        "rule_id": finding.rule_id,
        "rule_name": rule.name if rule else None,
        "risk": rule.risk.value if rule else None,
        "cwe": rule.cwe_id if rule else None,
        "severity": finding.severity.value,
        "confidence": finding.confidence.value,
        "location": _location_to_dict(finding.location),
        "message": finding.message,
        "evidence": finding.evidence,
        "fingerprint": finding.fingerprint,
        "details": _scalar_map(finding.details),
    }


def _summary(report: Report) -> dict[str, Any]:
    # NOTE: rank explicitly; Severity's inherited str comparisons make max() order by name.
    worst = max((f.severity for f in report.findings), key=lambda s: s.rank, default=None)
    return {
        "total": len(report.findings),
        "by_severity": report.counts(),
        "max_severity": worst.value if worst else None,
        "files_scanned": len(report.scanned),
        "skipped": len(report.skipped),
        "errors": len(report.errors),
    }


def report_to_dict(report: Report) -> dict[str, Any]:
    """Convert ``report`` to plain JSON-ready data following ``report.schema.json``.

    Args:
        report: the report to convert; it is not modified.

    Returns:
        A dict of str/int/float/bool/None, lists and dicts, in a deterministic order.
    """
    finished = report.finished_at
    data = {
        "schema_version": SCHEMA_VERSION,
        "tool": {"name": TOOL_NAME, "version": report.tool_version},
        "command": report.command,
        "started_at": iso_utc(report.started_at),
        "finished_at": iso_utc(finished) if finished else None,
        "summary": _summary(report),
        "findings": [finding_to_dict(f) for f in sorted_findings(report)],
        "skipped": [
            {"path": s.path, "reason": s.reason}
            for s in sorted(report.skipped, key=lambda s: (s.path, s.reason))
        ],
        "errors": [
            {"path": e.path, "error": e.error}
            for e in sorted(report.errors, key=lambda e: (e.path, e.error))
        ],
        "metrics": _scalar_map(report.metrics),
        "evidence": _clean_tree(dict(report.evidence)),
        "scanned": sorted(report.scanned),
    }
    cleaned: dict[str, Any] = _clean_tree(data)
    return cleaned


def to_json(report: Report, indent: int | None = 2) -> str:
    """Render ``report`` as a JSON document (UTF-8 text, strict JSON, trailing newline).

    Args:
        report: the report to render.
        indent: spaces per nesting level; ``None`` for one compact line.
    """
    data = report_to_dict(report)
    return json.dumps(data, indent=indent, ensure_ascii=False, allow_nan=False) + "\n"


def load_report_schema() -> dict[str, Any]:
    """Load the checked-in JSON Schema (draft 2020-12) that :func:`to_json` output follows."""
    resource = importlib.resources.files("mlwarden.report") / "schema" / "report.schema.json"
    schema: dict[str, Any] = json.loads(resource.read_text(encoding="utf-8"))
    return schema
