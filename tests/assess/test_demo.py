"""`mlwarden demo` end to end, once per module (quick budgets): the story holds, the report
shows both setups, the planted payload is caught and never run, the secure model's signature
is real, and tampering with it breaks the story.

The full run goes through the CLI; a spy around :func:`run_demo` keeps its result and
events for the other tests, so that the ~30 s run happens once.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from jsonschema import Draft202012Validator

import mlwarden.demo.story as story
from mlwarden.assess.steps import AssessInputs
from mlwarden.cli.main import cli
from mlwarden.demo.story import PLANTED, DemoResult, check_story, statuses
from mlwarden.findings import Report
from mlwarden.report import load_report_schema

RISK_IDS = [f"ML{i:02d}" for i in range(1, 11)]
_RANK = {"pass": 0, "warn": 1, "fail": 2}


@dataclass(frozen=True)
class Run:
    """The one real demo run: CLI result, the DemoResult, events and calls to os.system."""

    out: Path
    cli: Result
    result: DemoResult
    events: list[Any]
    system_calls: list[Any]


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Run:
    out = tmp_path_factory.mktemp("demo") / "out"
    kept: list[DemoResult] = []
    events: list[Any] = []
    calls: list[Any] = []
    original = story.run_demo

    def spy(*args: Any, on_event: Any = None, **kw: Any) -> DemoResult:
        def record(event: Any) -> None:
            events.append(event)
            if on_event is not None:
                on_event(event)

        result = original(*args, on_event=record, **kw)
        kept.append(result)
        return result

    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(out.parent)
        mp.setattr(story, "run_demo", spy)
        watch_system(mp, calls)
        result = CliRunner().invoke(cli, ["demo", "--quick", "--out", str(out)])
    assert len(kept) == 1, (result.output, result.exception, result.exc_info)
    return Run(out, result, kept[0], events, calls)


def watch_system(mp: pytest.MonkeyPatch, calls: list[Any]) -> None:
    """Replace os.system with a recorder that still pickles as ``posix.system``.

    The demo writes its payload by pickling a reference to os.system, so the recorder
    must pass for it: the files written are the same as with the real function.
    A payload loaded while it is in place calls the recorder, not a shell.
    """

    def system(command: Any) -> int:
        calls.append(command)
        return 0

    native = sys.modules[os.system.__module__]  # posix (nt on Windows)
    system.__module__, system.__qualname__ = native.__name__, "system"
    mp.setattr(native, "system", system)
    mp.setattr(os, "system", system)


def load_json(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


# --------------------------------------------------------------------------- the CLI run


def test_cli_demo_exits_0_and_prints_both_setups(run: Run) -> None:
    assert run.cli.exit_code == 0, run.cli.output
    text = run.cli.stdout
    assert "every planted risk was caught" in text
    assert "Vulnerable setup" in text
    assert "Secure setup" in text
    for risk in RISK_IDS:
        assert risk in text
    assert str(run.out / "report.html") in text.replace("\n", "")


def test_the_story_holds(run: Run) -> None:
    result = run.result
    assert result.ok
    assert result.problems == ()
    bad, good = (statuses(r) for r in result.reports)
    for risk in PLANTED:
        assert bad[risk.value] in ("warn", "fail"), risk
        assert _RANK[good[risk.value]] < _RANK[bad[risk.value]], risk
    for report in result.reports:
        assert report.errors == ()
        assert set(statuses(report)) == set(RISK_IDS)
        assert "not assessed" not in statuses(report).values()


def test_progress_events_are_tagged_with_the_setup(run: Run) -> None:
    probes = {e.probe for e in run.events}
    assert "demo" in probes
    assert any(p.startswith("vulnerable ") for p in probes)
    assert any(p.startswith("secure ") for p in probes)
    done = [e for e in run.events if e.probe.endswith("assess") and e.stage == "done"]
    assert [e.probe for e in done] == ["vulnerable assess", "secure assess"]


# --------------------------------------------------------------------------- the files


def test_report_html_shows_both_setups_and_every_risk(run: Run) -> None:
    html = (run.out / "report.html").read_text(encoding="utf-8")
    assert "Vulnerable setup" in html
    assert "Secure setup" in html
    assert "id='top10'" in html
    for risk in RISK_IDS:
        assert risk in html


@pytest.mark.parametrize("name", ["vulnerable", "secure"])
def test_json_reports_follow_the_schema_and_match_the_run(run: Run, name: str) -> None:
    data = load_json(run.out / f"{name}.json")
    Draft202012Validator(load_report_schema()).validate(data)
    report = run.result.reports[0 if name == "vulnerable" else 1]
    written = {k: v["status"] for k, v in data["evidence"]["risks"].items()}
    assert written == statuses(report)


def test_planted_payload_is_flagged_and_never_executed(run: Run) -> None:
    pickle_file = run.out / "vulnerable" / "artifacts" / "preprocess.pkl"
    raw = pickle_file.read_bytes()
    assert b"system" in raw  # the payload is really there ...
    assert b"mlwarden-demo-payload" in raw
    assert run.system_calls == []  # ... and nothing ever called it
    findings = load_json(run.out / "vulnerable.json")["findings"]
    flagged = {f["location"]["path"] for f in findings if f["rule_id"] == "SCAN-PKL-001"}
    assert str(pickle_file) in flagged
    assert not any(str(run.out / "vulnerable" / "artifacts" / "model.joblib") == p for p in flagged)
    secure = load_json(run.out / "secure.json")["findings"]
    assert not [f for f in secure if f["rule_id"].startswith("SCAN-")]


def test_secure_model_verifies_with_its_public_key_only(run: Run) -> None:
    from mlwarden.integrity.errors import VerificationError
    from mlwarden.integrity.keys import generate_key
    from mlwarden.integrity.verify import verify_model

    secure = run.out / "secure"
    model = secure / "artifacts" / "model.joblib"
    result = verify_model(
        model, key=secure / "keys" / "release.pub.pem", signature=secure / "model.sig"
    )
    assert result.checks
    with pytest.raises(VerificationError):
        verify_model(model, key=generate_key("ed25519").public, signature=secure / "model.sig")


# --------------------------------------------------------------------------- tampering


def _ml10_of_copy(run: Run, dest: Path, tamper: bool) -> dict[str, Any]:
    """ML10 of a copy of the secure setup (integrity checks only), maybe one byte changed."""
    from mlwarden.assess.runner import assess
    from mlwarden.config import load_settings

    copy = dest / "secure"
    shutil.copytree(run.out / "secure", copy)
    model = copy / "artifacts" / "model.joblib"
    if tamper:
        data = bytearray(model.read_bytes())
        data[len(data) // 2] ^= 0x01
        model.write_bytes(bytes(data))
    inputs = AssessInputs(
        model=str(model),
        artifacts=str(copy / "artifacts"),
        signature=str(copy / "model.sig"),
        public_key=str(copy / "keys" / "release.pub.pem"),
        lockfile=str(copy / "mlwarden.lock"),
        policy=str(copy / "mlwarden.toml"),
    )
    settings = load_settings(None, {"assess": {"attacks": False}, "scan": {"jobs": 1}})
    entry: dict[str, Any] = assess(inputs, settings).evidence["risks"]["ML10"]
    return entry


def _with_ml10(report: Report, entry: dict[str, Any]) -> Report:
    risks = {**report.evidence["risks"], "ML10": entry}
    return replace(report, evidence={**report.evidence, "risks": risks})


@pytest.mark.parametrize("tamper", [True, False], ids=["one-byte-changed", "untouched"])
def test_one_changed_byte_in_the_secure_model_breaks_the_story(
    run: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, tamper: bool
) -> None:
    monkeypatch.chdir(tmp_path)  # no local mlwarden.toml changes the settings
    vulnerable, secure = run.result.reports
    entry = _ml10_of_copy(run, tmp_path, tamper=tamper)
    assert entry["status"] == ("fail" if tamper else "pass")
    problems = check_story(vulnerable, _with_ml10(secure, entry))
    if tamper:
        assert len(problems) == 1
        assert problems[0].startswith("ML10:")
    else:
        assert problems == []


# --------------------------------------------------------------------------- check_story


def verdicts(**changes: str) -> Report:
    risks = {r: {"status": changes.get(r, "pass")} for r in RISK_IDS}
    return Report(command="assess", evidence={"risks": risks})


VULNERABLE = {r.value: "fail" for r in PLANTED}


@pytest.mark.parametrize(
    ("bad", "good", "culprit"),
    [
        ({**VULNERABLE, "ML06": "pass"}, {}, "ML06"),  # planted risk not caught
        ({**VULNERABLE, "ML02": "not assessed"}, {}, "ML02"),
        (VULNERABLE, {"ML05": "fail"}, "ML05"),  # secure no better
        ({**VULNERABLE, "ML03": "warn"}, {"ML03": "warn"}, "ML03"),
        (VULNERABLE, {"ML09": "not assessed"}, "ML09"),  # secure unmeasured
    ],
)
def test_check_story_names_the_risk_that_breaks_it(
    bad: dict[str, str], good: dict[str, str], culprit: str
) -> None:
    problems = check_story(verdicts(**bad), verdicts(**good))
    assert [p.split(":")[0] for p in problems] == [culprit]


def test_check_story_accepts_warn_against_fail_and_covers_every_risk() -> None:
    bad = {**VULNERABLE, "ML03": "warn"}
    good = {"ML05": "warn"}
    assert check_story(verdicts(**bad), verdicts(**good)) == []
    assert {r.value for r in PLANTED} == set(RISK_IDS)


# --------------------------------------------------------------------------- CLI outcomes


def test_cli_demo_exits_1_when_the_story_does_not_hold(
    run: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[tuple[Any, Any]] = []
    broken = replace(run.result, problems=("ML10: the secure setup is 'fail', no better",))

    def fake(out: Any, *, quick: bool = False, on_event: Any = None, **kw: Any) -> DemoResult:
        seen.append((out, quick))
        return broken

    monkeypatch.setattr(story, "run_demo", fake)
    result = CliRunner().invoke(cli, ["demo", "--out", str(tmp_path / "o"), "--no-progress"])
    assert result.exit_code == 1
    assert "story does not hold: ML10" in result.stdout
    assert seen == [(tmp_path / "o", False)]


def test_cli_scanner_demo_catches_every_payload_without_running_one(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    calls: list[Any] = []
    watch_system(monkeypatch, calls)
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, ["demo", "--scanner"])
    assert result.exit_code == 0, result.output
    assert "every planted payload caught, every benign file clean" in result.stdout
    assert calls == []


def test_the_demo_report_lays_out_in_a_real_browser(run: Run, tmp_path: Path) -> None:
    """Headless Chromium renders the side-by-side report: ten tiles, a section per risk,
    plots in both columns, and no script."""
    import re
    import subprocess

    browser = next(
        (shutil.which(n) for n in ("chromium", "chromium-browser") if shutil.which(n)), None
    )
    if browser is None:
        reason = "headless Chromium is not installed (apt-get install -y chromium)"
        if os.environ.get("MLWARDEN_REQUIRE_SERVICES") == "1":
            pytest.fail(reason)
        pytest.skip(reason)
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--dump-dom"]
    done = subprocess.run(
        [browser, *flags, f"--user-data-dir={tmp_path / 'profile'}", run.result.html.as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    dom = done.stdout
    assert len(re.findall(r'class="tile st-(?:pass|warn|fail|na)"', dom)) == 10
    sections = re.findall(r'<section class="card risk st-[a-z]+" id="(ml\d\d)">', dom)
    assert sections == [r.lower() for r in RISK_IDS]
    plots = re.findall(r'<svg xmlns="http://www.w3.org/2000/svg" viewBox="[^"]+" role="img"', dom)
    assert len(plots) >= 8  # robust accuracy, MIA ROC, extraction, drift... on both sides
    assert "Vulnerable setup" in dom and "Secure setup" in dom
    assert "<script" not in dom.lower()
