"""The CLI end to end: exit codes, formats, config precedence, bad input without tracebacks."""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from mlwarden.cli.main import cli

EVIL = b"\x80\x02cos\nsystem\nX\x0b\x00\x00\x00touch PWNED\x85R."


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    (tmp_path / "good").mkdir()
    (tmp_path / "good" / "model.pkl").write_bytes(pickle.dumps({"w": [1.0, 2.0]}, protocol=4))
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "model.bin").write_bytes(EVIL)
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "readme.txt").write_text("just text\n")
    return tmp_path


def run(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)
    return result.exit_code, result.output


def test_clean_folder_exits_0(tree: Path) -> None:
    code, out = run("scan", str(tree / "good"))
    assert code == 0, out
    assert "0 finding" in out


def test_findings_exit_1_and_name_the_rule(tree: Path) -> None:
    code, out = run("scan", str(tree))
    assert code == 1
    assert ("SCAN-PKL-001" in out and "posix.system" in out) or "os.system" in out
    assert not (tree / "PWNED").exists() and not Path("PWNED").exists()


def test_fail_on_threshold(tree: Path) -> None:
    unknown = tree / "good" / "custom.pkl"
    unknown.write_bytes(b"\x80\x02cmypkg\nNet\n)\x81.")
    assert run("scan", str(tree / "good"))[0] == 1
    assert run("scan", str(tree / "good"), "--fail-on", "high")[0] == 0
    assert run("scan", str(tree / "good"), "--allow", "mypkg.Net")[0] == 0


def test_nothing_scanned_exits_3(tree: Path) -> None:
    assert run("scan", str(tree / "notes"))[0] == 3
    assert run("scan", str(tree / "notes"), "--allow-empty")[0] == 0


def test_missing_path_is_an_error_not_a_traceback(tree: Path) -> None:
    code, out = run("scan", str(tree / "nope"))
    assert code == 2
    assert "Traceback" not in out


def test_bad_option_value_exits_2(tree: Path) -> None:
    assert run("scan", str(tree), "--fail-on", "severe")[0] == 2
    assert run("scan", str(tree), "--format", "xml")[0] == 2


def test_json_output_file(tree: Path, tmp_path: Path) -> None:
    out_file = tmp_path / "r.json"
    code, _ = run("scan", str(tree), "--format", "json", "-o", str(out_file))
    assert code == 1
    data = json.loads(out_file.read_text())
    assert data["schema_version"] and data["summary"]["by_severity"]["critical"] == 1


def test_sarif_output(tree: Path) -> None:
    code, out = run("scan", str(tree / "bad"), "--format", "sarif")
    assert code == 1
    sarif = json.loads(out)
    assert sarif["version"] == "2.1.0"
    assert sarif["runs"][0]["results"][0]["ruleId"] == "SCAN-PKL-001"


def test_config_file_and_env_precedence(tree: Path, tmp_path: Path) -> None:
    cfg = tmp_path / "mlwarden.toml"
    cfg.write_text('[scan]\nfail_on = "critical"\n[report]\nformat = "json"\n')
    (tree / "good" / "custom.pkl").write_bytes(b"\x80\x02cmypkg\nNet\n)\x81.")
    code, out = run("scan", str(tree / "good"), "--config", str(cfg))
    assert code == 0 and json.loads(out)["summary"]["total"] == 1
    code, _ = run(
        "scan", str(tree / "good"), "--config", str(cfg), env={"MLWARDEN_SCAN__FAIL_ON": "medium"}
    )
    assert code == 1
    code, _ = run(
        "scan",
        str(tree / "good"),
        "--config",
        str(cfg),
        "--fail-on",
        "critical",
        env={"MLWARDEN_SCAN__FAIL_ON": "medium"},
    )
    assert code == 0


def test_invalid_config_is_a_clear_error(tmp_path: Path) -> None:
    cfg = tmp_path / "mlwarden.toml"
    cfg.write_text("[scan]\njobs = 'many'\n")
    code, out = run("config", "show", "--config", str(cfg))
    assert code == 2 and "scan.jobs" in out


def test_config_init_and_show(tmp_path: Path) -> None:
    target = tmp_path / "mlwarden.toml"
    assert run("config", "init", "--path", str(target))[0] == 0
    assert "[scan]" in target.read_text()
    assert run("config", "init", "--path", str(target))[0] == 2
    code, out = run("config", "show", "--config", str(target))
    assert code == 0 and json.loads(out)["scan"]["fail_on"] == "medium"


def test_scanner_demo_catches_every_planted_payload() -> None:
    code, out = run("demo", "--scanner")
    assert code == 0, out
    assert "every planted payload caught" in out


def test_console_script_subprocess(tree: Path) -> None:
    env = {**os.environ, "COLUMNS": "200"}
    proc = subprocess.run(
        [sys.executable, "-m", "mlwarden", "scan", str(tree / "bad"), "--format", "json"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert proc.returncode == 1, proc.stderr
    assert json.loads(proc.stdout)["findings"][0]["rule_id"] == "SCAN-PKL-001"
