"""`mlwarden drift` end to end: exit codes (1 drift, 0 none, 2 bad input), output formats,
saved and signed profiles, --no-domain, --columns/--exclude, config and flags."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner, Result
from threadpoolctl import threadpool_limits

from mlwarden.cli.main import cli
from mlwarden.integrity.keys import generate_key

ROWS = 4000


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    # No mlwarden.toml or MLWARDEN_* from the checkout or the environment.
    monkeypatch.chdir(tmp_path)
    for name in [n for n in os.environ if n.startswith("MLWARDEN_")]:
        monkeypatch.delenv(name)
    # The domain classifier's OpenMP pool would oversubscribe the shared cores; threadpoolctl
    # only limits libraries already loaded, so load scikit-learn's first.
    import sklearn.ensemble  # noqa: F401

    with threadpool_limits(1):
        yield


def write_csv(
    path: Path, seed: int, *, shift: float = 0.0, mix: float = 0.0, rho: float = 0.0
) -> Path:
    """age (normal), income (correlated with age by ``rho``), city (shares move with ``mix``)."""
    rng = np.random.default_rng(seed)
    z1, z2 = rng.normal(size=ROWS), rng.normal(size=ROWS)
    age = 40 + 10 * (z1 + shift)
    income = 3000 + 500 * (rho * z1 + np.sqrt(1 - rho**2) * z2)
    city = rng.choice(["paris", "lyon", "nice"], ROWS, p=[0.5 - mix, 0.3, 0.2 + mix])
    lines = ["id,age,income,city"]
    lines += [
        f"{seed * ROWS + i},{a:.4f},{b:.2f},{c}"
        for i, (a, b, c) in enumerate(zip(age, income, city, strict=True))
    ]
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    return {
        "ref": write_csv(tmp_path / "ref.csv", 1),
        "same": write_csv(tmp_path / "same.csv", 2),
        "drifted": write_csv(tmp_path / "drifted.csv", 3, shift=0.5, mix=0.2),
        "flipped": write_csv(tmp_path / "flipped.csv", 4, rho=-0.8),
        "correlated": write_csv(tmp_path / "correlated.csv", 5, rho=0.8),
    }


def drift(*args: Any, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(cli, ["drift", "--no-progress", *map(str, args)], env=env)


def flat(text: str) -> str:
    """``text`` with rich's line wrapping undone."""
    return " ".join(text.split())


def no_traceback(result: Result) -> None:
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output


# --- exit codes ------------------------------------------------------------------------------


def test_drift_exits_1_and_names_the_columns(files: dict[str, Path]) -> None:
    result = drift(files["ref"], files["drifted"], "--exclude", "id")
    assert result.exit_code == 1, result.output
    assert "DRIFT-COL-001" in result.output
    assert "drifted: age, city" in result.output


def test_unchanged_data_exits_0(files: dict[str, Path]) -> None:
    result = drift(files["ref"], files["same"], "--exclude", "id")
    assert result.exit_code == 0, result.output
    assert "drifted: none" in result.output
    assert "domain classifier AUC" in result.output  # the multivariate check did run


def test_an_id_column_drifts_unless_excluded(files: dict[str, Path]) -> None:
    with_id = drift(files["ref"], files["same"], "--format", "json")
    assert with_id.exit_code == 1
    assert json.loads(with_id.stdout)["evidence"]["drift"]["drifted_columns"] == ["id"]
    assert drift(files["ref"], files["same"], "--columns", "age, city").exit_code == 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["{tmp}/nope.csv", "{same}"], "no such data file"),
        (["{ref}", "{tmp}/nope.csv"], "no such data file"),
        (["{ref}", "{same}", "--columns", "age,nope"], "'nope'"),
        (["{ref}", "{same}", "--exclude", "nope"], "'nope'"),
        (["{ref}"], "CURRENT"),
        (["{ref}", "{same}", "--profile-key", "{ref}"], "profile"),
        (["{ref}", "{tmp}/bad.csv"], "cannot read"),
        (["{ref}", "{tmp}/data.xlsx"], "unknown data format"),
        (["{tmp}/bad.json", "{same}"], "drift profile"),
    ],
)
def test_bad_input_exits_2_with_a_message(
    files: dict[str, Path], tmp_path: Path, args: list[str], message: str
) -> None:
    (tmp_path / "bad.csv").write_text("id,age\n1,2\n3\n")
    (tmp_path / "data.xlsx").write_bytes(b"PK\x03\x04")
    (tmp_path / "bad.json").write_text('{"kind": "something"}')
    names = {"tmp": tmp_path, "ref": files["ref"], "same": files["same"]}
    result = drift(*(a.format(**names) for a in args))
    assert result.exit_code == 2, result.output
    assert message in flat(result.stderr)
    no_traceback(result)


def test_infinite_reference_value_exits_2(tmp_path: Path, files: dict[str, Path]) -> None:
    (tmp_path / "inf.csv").write_text("id,age\n1,2\n2,inf\n3,4\n")
    result = drift(tmp_path / "inf.csv", files["same"])
    assert result.exit_code == 2 and "infinite" in flat(result.stderr)
    no_traceback(result)


def test_empty_current_file_exits_2(tmp_path: Path) -> None:
    np.save(tmp_path / "ref.npy", np.random.default_rng(0).normal(size=(500, 2)))
    np.save(tmp_path / "cur.npy", np.zeros((0, 2)))
    result = drift(tmp_path / "ref.npy", tmp_path / "cur.npy")
    assert result.exit_code == 2, result.output


def test_non_utf8_header_exits_2(tmp_path: Path, files: dict[str, Path]) -> None:
    pytest.importorskip("pyarrow.csv")
    (tmp_path / "latin.csv").write_bytes(b"\xe2ge,city\n1,2\n")
    result = drift(files["ref"], tmp_path / "latin.csv")
    assert result.exit_code == 2
    no_traceback(result)


# --- formats ---------------------------------------------------------------------------------


def test_json_report_lists_drifted_columns(files: dict[str, Path]) -> None:
    result = drift(files["ref"], files["drifted"], "--exclude", "id", "--format", "json")
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    evidence = report["evidence"]["drift"]
    assert evidence["risk"] == "ML08"
    assert evidence["drifted_columns"] == ["age", "city"]
    assert evidence["reference_rows"] == evidence["current_rows"] == ROWS
    assert evidence["columns_tested"] == 3
    table = evidence["columns"]
    drifted = {row[0]: row[-1] for row in table["rows"]}
    assert drifted == {"age": True, "income": False, "city": True}
    rules = sorted((f["rule_id"], f["location"]["member"]) for f in report["findings"])
    assert ("DRIFT-COL-001", "age") in rules and ("DRIFT-COL-001", "city") in rules
    assert report["scanned"] == [str(files["ref"]), str(files["drifted"])] or report["summary"]


def test_html_report_has_the_charts(files: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "report.html"
    result = drift(files["ref"], files["drifted"], "--exclude", "id", "--format", "html", "-o", out)
    assert result.exit_code == 1
    html = out.read_text()
    assert "Drift per column: largest effect size / its floor" in html
    assert "Tests per column" in html
    assert "age: share of rows per reference decile" in html
    assert "city: share of rows per reference category" in html
    assert "income: share of rows" not in html  # only columns that moved are drawn


def test_sarif_report(files: dict[str, Path]) -> None:
    result = drift(files["ref"], files["drifted"], "--exclude", "id", "--format", "sarif")
    assert result.exit_code == 1
    results = json.loads(result.stdout)["runs"][0]["results"]
    assert {r["ruleId"] for r in results} >= {"DRIFT-COL-001"}


# --- profiles --------------------------------------------------------------------------------


@pytest.fixture
def signed(files: dict[str, Path], tmp_path: Path) -> dict[str, Path]:
    key = generate_key("ed25519")
    (tmp_path / "key.pem").write_bytes(key.private_pem())
    (tmp_path / "key.pub").write_bytes(key.public.pem)
    (tmp_path / "other.pub").write_bytes(generate_key("ed25519").public.pem)
    result = drift(
        files["ref"], "--save-profile", tmp_path / "p.json", "--sign-key", tmp_path / "key.pem"
    )
    assert result.exit_code == 0, result.output
    assert "wrote" in result.stderr
    return {
        "profile": tmp_path / "p.json",
        "pub": tmp_path / "key.pub",
        "other": tmp_path / "other.pub",
    }


def test_signed_profile_is_verified_then_tests(
    files: dict[str, Path], signed: dict[str, Path]
) -> None:
    profile, pub = signed["profile"], signed["pub"]
    assert json.loads(profile.read_text())["signature"]["key_kind"] == "ed25519"
    same = drift(profile, files["same"], "--profile-key", pub, "--exclude", "id")
    assert same.exit_code == 0, same.output
    assert "not run" in same.stdout and "profile" in same.stdout  # no rows: no classifier
    moved = drift(profile, files["drifted"], "--profile-key", pub, "--exclude", "id")
    assert moved.exit_code == 1 and "drifted: age, city" in moved.stdout


def test_profile_and_raw_reference_give_the_same_table(
    files: dict[str, Path], signed: dict[str, Path]
) -> None:
    args = ["--exclude", "id", "--format", "json", "--no-domain"]
    raw = json.loads(drift(files["ref"], files["drifted"], *args).stdout)
    saved = json.loads(drift(signed["profile"], files["drifted"], *args).stdout)
    assert raw["evidence"]["drift"]["columns"] == saved["evidence"]["drift"]["columns"]


def test_tampered_profile_exits_1(files: dict[str, Path], signed: dict[str, Path]) -> None:
    data = json.loads(signed["profile"].read_text())
    age = next(f for f in data["features"] if f["name"] == "age")
    age["mean"] += 5.0
    signed["profile"].write_text(json.dumps(data))
    result = drift(signed["profile"], files["same"], "--profile-key", signed["pub"])
    assert result.exit_code == 1
    assert "DRIFT-PRF-001" in result.stderr and "does not verify" in flat(result.stderr)
    no_traceback(result)


def test_wrong_key_and_unsigned_profile_exit_1(
    files: dict[str, Path], signed: dict[str, Path], tmp_path: Path
) -> None:
    wrong = drift(signed["profile"], files["same"], "--profile-key", signed["other"])
    assert wrong.exit_code == 1 and "DRIFT-PRF-001" in wrong.stderr
    assert drift(files["ref"], "--save-profile", tmp_path / "u.json").exit_code == 0
    unsigned = drift(tmp_path / "u.json", files["same"], "--profile-key", signed["pub"])
    assert unsigned.exit_code == 1 and "not signed" in flat(unsigned.stderr)
    # Without --profile-key an unsigned profile is taken as it is.
    assert drift(tmp_path / "u.json", files["same"], "--exclude", "id").exit_code == 0


def test_save_profile_while_testing(files: dict[str, Path], tmp_path: Path) -> None:
    result = drift(files["ref"], files["drifted"], "--save-profile", tmp_path / "p.json")
    assert result.exit_code == 1
    assert json.loads((tmp_path / "p.json").read_text())["rows"] == ROWS


def test_encrypted_signing_key_and_passphrase_env(files: dict[str, Path], tmp_path: Path) -> None:
    key = generate_key("ecdsa-p256")
    (tmp_path / "k.pem").write_bytes(key.private_pem("s3cret"))
    (tmp_path / "k.pub").write_bytes(key.public.pem)
    base = [files["ref"], "--save-profile", tmp_path / "p.json", "--sign-key", tmp_path / "k.pem"]
    unset = drift(*base, "--passphrase-env", "DRIFT_TEST_PASS")
    assert unset.exit_code == 2 and "DRIFT_TEST_PASS" in unset.stderr
    ok = drift(*base, "--passphrase-env", "DRIFT_TEST_PASS", env={"DRIFT_TEST_PASS": "s3cret"})
    assert ok.exit_code == 0, ok.output
    verified = drift(
        tmp_path / "p.json", files["same"], "--profile-key", tmp_path / "k.pub", "--exclude", "id"
    )
    assert verified.exit_code == 0, verified.output


# --- multivariate, config, flags -------------------------------------------------------------


def test_correlation_flip_needs_the_domain_classifier(files: dict[str, Path]) -> None:
    both = drift(files["correlated"], files["flipped"], "--exclude", "id")
    assert both.exit_code == 1, both.output
    assert "DRIFT-MV-001" in both.stdout and "DRIFT-COL-001" not in both.stdout
    report = json.loads(
        drift(files["correlated"], files["flipped"], "--format", "json", "--exclude", "id").stdout
    )
    assert [f["rule_id"] for f in report["findings"]] == ["DRIFT-MV-001"]
    assert (
        "corr(age, income) 0.7" in report["findings"][0]["message"]
        or "corr(age, income) 0.8" in report["findings"][0]["message"]
    )
    assert (
        report["evidence"]["drift"]["multivariate"]["correlation_changes"][0]["columns"]
        == "age / income"
    )
    skipped = drift(files["correlated"], files["flipped"], "--exclude", "id", "--no-domain")
    assert skipped.exit_code == 0, skipped.output
    assert "switched off" in skipped.stdout


def test_config_thresholds_and_flags(files: dict[str, Path], tmp_path: Path) -> None:
    args = [files["ref"], files["drifted"], "--exclude", "id", "--no-domain"]
    (tmp_path / "lenient.toml").write_text(
        "[drift]\nmin_wasserstein = 5.0\nmin_ks = 1.0\nmin_psi = 50.0\nmin_js = 1.0\n"
    )
    assert drift(*args, "--config", tmp_path / "lenient.toml").exit_code == 0
    # Only medium findings here (no effect reaches 3x its floor for city): --fail-on high.
    report = json.loads(drift(*args, "--format", "json").stdout)
    severities = {f["location"]["member"]: f["severity"] for f in report["findings"]}
    assert severities["city"] == "medium"
    env = {"MLWARDEN_DRIFT__FAIL_ON": "critical"}
    assert drift(*args, env=env).exit_code == 0
    assert drift(*args, "--fail-on", "medium", env=env).exit_code == 1  # the flag wins
    (tmp_path / "typo.toml").write_text("[drift]\nmin_wasserstien = 1.0\n")
    typo = drift(*args, "--config", tmp_path / "typo.toml")
    assert typo.exit_code == 2
    no_traceback(typo)


def test_alpha_flag_is_range_checked(files: dict[str, Path]) -> None:
    result = drift(files["ref"], files["same"], "--alpha", "1.5")
    assert result.exit_code == 2
