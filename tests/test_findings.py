"""Findings, severities and reports behave as values with the documented ordering."""

from __future__ import annotations

import pytest

from mlwarden.findings import (
    Confidence,
    Finding,
    Location,
    Report,
    Severity,
    merge_reports,
    redact,
)


def _finding(severity: Severity, path: str = "a.pkl", evidence: str = "os.system") -> Finding:
    return Finding("SCAN-PKL-001", severity, Confidence.HIGH, Location(path), "msg", evidence)


def test_severity_orders_by_rank_not_alphabet() -> None:
    assert Severity.CRITICAL > Severity.HIGH > Severity.MEDIUM > Severity.LOW > Severity.INFO
    assert Severity.CRITICAL >= Severity.HIGH
    assert max(Severity.CRITICAL, Severity.MEDIUM) is Severity.CRITICAL
    assert sorted([Severity.HIGH, Severity.INFO, Severity.CRITICAL])[0] is Severity.INFO


def test_severity_parse_is_case_insensitive_and_names_choices() -> None:
    assert Severity.parse(" High ") is Severity.HIGH
    with pytest.raises(ValueError, match="critical"):
        Severity.parse("severe")


def test_severity_refuses_comparison_with_other_types() -> None:
    with pytest.raises(TypeError):
        _ = Severity.HIGH < "medium"  # type: ignore[operator]


def test_at_or_above_and_max_severity() -> None:
    report = Report("scan", findings=(_finding(Severity.LOW), _finding(Severity.HIGH, "b")))
    assert [f.severity for f in report.at_or_above(Severity.MEDIUM)] == [Severity.HIGH]
    assert report.max_severity() is Severity.HIGH
    assert report.counts()["high"] == 1
    assert next(iter(report.counts())) == "critical"
    assert Report("scan").max_severity() is None


def test_evidence_is_redacted_and_bounded() -> None:
    f = _finding(Severity.HIGH, evidence="\x1b[31mred\x00" + "x" * 1000)
    assert "\x1b" not in f.evidence and "\x00" not in f.evidence
    assert len(f.evidence) <= 240
    assert redact("caf\u00e9") == "caf\\xe9"


def test_fingerprint_is_stable_and_distinguishes_place() -> None:
    a, b = _finding(Severity.HIGH), _finding(Severity.HIGH)
    assert a.fingerprint == b.fingerprint
    assert a.fingerprint != _finding(Severity.HIGH, path="other.pkl").fingerprint
    moved = a.with_location(Location("a.pkl", line=7))
    assert moved.fingerprint == a.fingerprint  # line shifts do not change identity


def test_location_text() -> None:
    assert str(Location("a.zip", "x/data.pkl", offset=12)) == "a.zip!/x/data.pkl@12"
    assert str(Location("m.py", line=3, column=2)) == "m.py:3:2"


def test_merge_reports_concatenates() -> None:
    merged = merge_reports(
        "assess",
        [Report("scan", findings=(_finding(Severity.LOW),), scanned=("a",)), Report("lint")],
    )
    assert merged.command == "assess"
    assert len(merged.findings) == 1 and merged.scanned == ("a",)
    assert merged.finished_at is not None
