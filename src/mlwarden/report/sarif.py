"""The SARIF 2.1.0 renderer, shaped for GitHub code scanning.

One run; ``tool.driver.rules`` holds the catalogue entries of the rules the report uses
(GitHub caps the number of rules, and unused ones only add noise). Every result carries a
region with a ``startLine`` (GitHub rejects results without one; binary artifacts get line 1),
a ``security-severity`` on its rule and a ``partialFingerprints`` entry so alerts survive
re-runs. Paths are made relative to ``base_dir`` under ``%SRCROOT%``; the absolute base itself
is never written, so a SARIF file leaks no local directory layout. An archive member keeps its
container file as the artifact (that is what exists in the repository) and is named in the
message, a logical location and the result's properties.
"""

from __future__ import annotations

import json
import os
import posixpath
import re
import unicodedata
from collections.abc import Iterable
from pathlib import Path, PurePath
from typing import Any
from urllib.parse import quote

from mlwarden.findings import Confidence, Finding, Report, Severity
from mlwarden.report.json_report import (
    clean_text,
    finding_sort_key,
    iso_utc,
    json_safe,
    lookup_rule,
)
from mlwarden.risks import RISKS
from mlwarden.rules import Rule

SARIF_SCHEMA_URI = "https://json.schemastore.org/sarif-2.1.0.json"
SARIF_VERSION = "2.1.0"
INFORMATION_URI = "https://github.com/mlwarden/mlwarden"
FINGERPRINT_KEY = "mlwarden/v1"
SRCROOT = "%SRCROOT%"

# GitHub maps security-severity > 9.0 to critical, 7.0-8.9 high, 4.0-6.9 medium, < 4 low.
SECURITY_SEVERITY = {
    Severity.CRITICAL: "9.5",
    Severity.HIGH: "8.0",
    Severity.MEDIUM: "5.5",
    Severity.LOW: "3.0",
    Severity.INFO: "1.0",
}
LEVELS = {
    Severity.CRITICAL: "error",
    Severity.HIGH: "error",
    Severity.MEDIUM: "warning",
    Severity.LOW: "note",
    Severity.INFO: "note",
}
_PRECISION = {Confidence.HIGH: "high", Confidence.MEDIUM: "medium", Confidence.LOW: "low"}
_CONFIDENCE_RANK = {Confidence.LOW: 0, Confidence.MEDIUM: 1, Confidence.HIGH: 2}
_SEMVER = re.compile(r"^\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?$")
_NOTIFICATIONS = (
    {"id": "mlwarden/skipped", "shortDescription": {"text": "An item was not examined."}},
    {"id": "mlwarden/item-error", "shortDescription": {"text": "Examining an item failed."}},
)


def _visible(text: str) -> str:
    """Escape control, format and separator characters (bidi overrides, newlines) for messages."""
    return "".join(
        f"\\u{ord(ch):04x}" if unicodedata.category(ch)[0] == "C" or ch in "\u2028\u2029" else ch
        for ch in clean_text(text)
    )


class _Paths:
    """Turns report paths into SARIF artifact locations relative to one base directory."""

    def __init__(self, base_dir: str | os.PathLike[str] | None) -> None:
        self.base = Path(os.path.abspath(os.curdir if base_dir is None else base_dir))
        self.real_base = Path(os.path.realpath(self.base))

    def relative(self, path: str) -> str | None:
        """The POSIX path relative to the base, or ``None`` when ``path`` lies outside it."""
        pure = Path(path)
        if not pure.is_absolute():
            return posixpath.normpath(PurePath(path).as_posix())
        # Symlinked prefixes (/tmp -> /private/tmp) differ lexically: retry on real paths.
        pairs = ((os.path.normpath(pure), self.base), (os.path.realpath(pure), self.real_base))
        for candidate, base in pairs:
            if Path(candidate).is_relative_to(base):
                return Path(candidate).relative_to(base).as_posix()
        return None

    def artifact(self, path: str) -> dict[str, Any]:
        rel = self.relative(path)
        if rel is None:
            return {"uri": Path(os.path.normpath(path)).as_uri()}
        try:
            uri = quote(rel, safe="/", errors="surrogateescape")
        except UnicodeEncodeError:
            uri = quote(clean_text(rel), safe="/")
        return {"uri": uri, "uriBaseId": SRCROOT}

    def display(self, path: str) -> str:
        """How ``path`` is named in message texts: relative if possible, else its file URI."""
        rel = self.relative(path)
        return _visible(rel) if rel is not None else str(self.artifact(path)["uri"])


def _rule_markdown(rule: Rule) -> str:
    risk = RISKS[rule.risk]
    refs = [f"- <{url}>" for url in rule.references if url != risk.url]
    refs.append(f"- OWASP ML Top 10: [{risk.id.value} {risk.title}]({risk.url})")
    refs.append(f"- [{rule.cwe_id}](https://cwe.mitre.org/data/definitions/{rule.cwe}.html)")
    return "\n\n".join(
        (
            f"**{rule.name}** ({rule.id})",
            rule.summary,
            f"## Why is this bad?\n\n{rule.why}",
            f"## What to do\n\n{rule.fix}",
            "## References\n\n" + "\n".join(refs),
        )
    )


def _rule_text(rule: Rule) -> str:
    return f"{rule.summary}\n\nWhy: {rule.why}\n\nFix: {rule.fix}"


def _catalogued_descriptor(rule: Rule, precision: str) -> dict[str, Any]:
    return {
        "id": rule.id,
        "name": rule.name,
        "shortDescription": {"text": rule.summary},
        "fullDescription": {"text": f"{rule.summary} {rule.why}"},
        "help": {"text": _rule_text(rule), "markdown": _rule_markdown(rule)},
        "helpUri": rule.help_uri,
        "defaultConfiguration": {"level": LEVELS[rule.severity]},
        "properties": {
            "tags": [
                "security",
                "owasp-ml-top-10",
                rule.risk.value,
                f"external/cwe/cwe-{rule.cwe}",
            ],
            "security-severity": SECURITY_SEVERITY[rule.severity],
            "precision": precision,
        },
    }


def _unknown_descriptor(rule_id: str, findings: list[Finding], precision: str) -> dict[str, Any]:
    """A descriptor for a rule id missing from the catalogue (a plugin's), from its findings."""
    worst = max((f.severity for f in findings), key=lambda s: s.rank)
    text = f"Rule {rule_id} (not in the mlwarden rule catalogue)."
    return {
        "id": rule_id,
        "name": rule_id,
        "shortDescription": {"text": text},
        "fullDescription": {"text": text},
        "help": {"text": text, "markdown": text},
        "defaultConfiguration": {"level": LEVELS[worst]},
        "properties": {
            "tags": ["security"],
            "security-severity": SECURITY_SEVERITY[worst],
            "precision": precision,
        },
    }


def _descriptors(findings: list[Finding]) -> list[dict[str, Any]]:
    """One descriptor per rule used, sorted by id; precision from the least sure finding."""
    by_rule: dict[str, list[Finding]] = {}
    for item in findings:
        by_rule.setdefault(item.rule_id, []).append(item)
    out = []
    for rule_id in sorted(by_rule):
        group = by_rule[rule_id]
        least = min(group, key=lambda f: _CONFIDENCE_RANK[f.confidence]).confidence
        rule = lookup_rule(rule_id)
        precision = _PRECISION[least]
        if rule is None:
            out.append(_unknown_descriptor(rule_id, group, precision))
        else:
            out.append(_catalogued_descriptor(rule, precision))
    return out


def _region(finding: Finding) -> dict[str, Any]:
    loc = finding.location
    region: dict[str, Any] = {"startLine": loc.line if loc.line and loc.line >= 1 else 1}
    if loc.column is not None and loc.column >= 1:
        region["startColumn"] = loc.column
    # An offset inside an archive member is not an offset in the container artifact.
    if loc.offset is not None and loc.offset >= 0 and loc.member is None:
        region["byteOffset"] = loc.offset
    return region


def _result_properties(finding: Finding) -> dict[str, Any]:
    rule = lookup_rule(finding.rule_id)
    props: dict[str, Any] = {
        "severity": finding.severity.value,
        "confidence": finding.confidence.value,
        "risk": rule.risk.value if rule else None,
        "cwe": rule.cwe_id if rule else None,
        "evidence": finding.evidence,
    }
    if finding.location.member is not None:
        props["member"] = clean_text(finding.location.member)
        if finding.location.offset is not None:
            props["memberOffset"] = finding.location.offset
    if finding.details:
        props["details"] = {
            clean_text(k): _plain(finding.details[k]) for k in sorted(finding.details)
        }
    return props


def _plain(value: str | int | float | bool) -> str | int | float | bool | None:
    return clean_text(value) if isinstance(value, str) else json_safe(value)


def _result(finding: Finding, rule_index: int, paths: _Paths) -> dict[str, Any]:
    loc = finding.location
    location: dict[str, Any] = {
        "physicalLocation": {
            "artifactLocation": paths.artifact(loc.path),
            "region": _region(finding),
        }
    }
    text = finding.message
    if loc.member is not None:
        member = _visible(loc.member)
        text += f" (archive member: {member})"
        location["logicalLocations"] = [
            {"name": member, "fullyQualifiedName": f"{paths.display(loc.path)}!/{member}"}
        ]
    return {
        "ruleId": finding.rule_id,
        "ruleIndex": rule_index,
        "level": LEVELS[finding.severity],
        "message": {"text": text},
        "locations": [location],
        "partialFingerprints": {FINGERPRINT_KEY: finding.fingerprint},
        "properties": _result_properties(finding),
    }


def _notification(path: str, text: str, kind: int, paths: _Paths) -> dict[str, Any]:
    """A tool notification about one skipped (kind 0) or failed (kind 1) item."""
    container, _, member = path.partition("!/")
    where = paths.display(container) + (f"!/{_visible(member)}" if member else "")
    descriptor = _NOTIFICATIONS[kind]
    return {
        "level": "note" if kind == 0 else "warning",
        "message": {"text": f"{where}: {_visible(text)}"},
        "descriptor": {"id": descriptor["id"], "index": kind},
        "locations": [{"physicalLocation": {"artifactLocation": paths.artifact(container)}}],
    }


def _invocation(report: Report, paths: _Paths) -> dict[str, Any]:
    skipped = sorted(report.skipped, key=lambda s: (s.path, s.reason))
    errors = sorted(report.errors, key=lambda e: (e.path, e.error))
    notes = [_notification(s.path, s.reason, 0, paths) for s in skipped]
    notes += [_notification(e.path, e.error, 1, paths) for e in errors]
    invocation: dict[str, Any] = {
        # Per-item errors do not fail the run: the rest of the items were examined.
        "executionSuccessful": True,
        "startTimeUtc": iso_utc(report.started_at),
        "toolExecutionNotifications": notes,
    }
    if report.finished_at is not None:
        invocation["endTimeUtc"] = iso_utc(report.finished_at)
    return invocation


def _driver(report: Report, rules: list[dict[str, Any]]) -> dict[str, Any]:
    driver: dict[str, Any] = {
        "name": "mlwarden",
        "version": report.tool_version,
        "informationUri": INFORMATION_URI,
        "rules": rules,
        "notifications": list(_NOTIFICATIONS),
    }
    if _SEMVER.match(report.tool_version):
        driver["semanticVersion"] = report.tool_version
    return driver


def _sorted(findings: Iterable[Finding]) -> list[Finding]:
    return sorted(findings, key=finding_sort_key)


def to_sarif_dict(
    report: Report, *, base_dir: str | os.PathLike[str] | None = None
) -> dict[str, Any]:
    """Convert ``report`` to a SARIF 2.1.0 log (a dict) with one run.

    Args:
        report: the report to convert.
        base_dir: directory that relative URIs (``%SRCROOT%``) are taken against, normally
            the repository root. Relative paths in the report are taken as relative to it
            already; absolute paths under it are made relative, others become ``file://``
            URIs. Defaults to the current working directory.
    """
    paths = _Paths(base_dir)
    findings = _sorted(report.findings)
    rules = _descriptors(findings)
    index = {rule["id"]: i for i, rule in enumerate(rules)}
    run = {
        "tool": {"driver": _driver(report, rules)},
        "invocations": [_invocation(report, paths)],
        "originalUriBaseIds": {
            SRCROOT: {"description": {"text": "The directory the scanned paths are relative to."}}
        },
        "results": [_result(f, index[f.rule_id], paths) for f in findings],
        "properties": {"command": clean_text(report.command), "filesScanned": len(report.scanned)},
    }
    return {"$schema": SARIF_SCHEMA_URI, "version": SARIF_VERSION, "runs": [run]}


def to_sarif(report: Report, *, base_dir: str | os.PathLike[str] | None = None) -> str:
    """Render ``report`` as SARIF 2.1.0 JSON text; see :func:`to_sarif_dict` for ``base_dir``."""
    data = to_sarif_dict(report, base_dir=base_dir)
    return json.dumps(data, indent=2, ensure_ascii=False, allow_nan=False) + "\n"
