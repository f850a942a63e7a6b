"""The assessment's steps: each runs one existing check when its inputs are present.

A step returns a :class:`~mlwarden.findings.Report` (findings of the risks it covers and
its evidence) or raises :class:`Skip` with the reason it cannot run and the flag that
would enable it. Steps never print; heavy imports happen inside them.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlwarden.errors import MlwardenError
from mlwarden.findings import Confidence, Finding, Location, Report
from mlwarden.risks import RiskId

if TYPE_CHECKING:
    from mlwarden.config import Settings

R = RiskId


@dataclass(frozen=True)
class AssessInputs:
    """What the user gave the assessment; every field is optional.

    Attributes:
        model: a model file (or directory) to scan, verify and attack.
        endpoint: a live ``http(s)://`` endpoint to attack and check instead of ``model``.
        api_key: the endpoint's API key (never written to a report).
        train, test: labelled data files (training records, held-out records).
        serving: data seen in production, tested for drift against ``train``.
        label: the label column of the data files.
        artifacts: a folder of model artifacts to scan.
        code: a folder or file of training/serving code to lint.
        policy: a policy file with a ``[gateway]`` section to review.
        signature, public_key: the model's signature bundle and the signer's key.
        lockfile: ``mlwarden.lock`` with the approved digest (and base models).
        base_model: a base model to check against the lockfile's trusted sources.
        name: the label of this setup in the report.
    """

    model: str | None = None
    endpoint: str | None = None
    api_key: str | None = None
    train: str | None = None
    test: str | None = None
    serving: str | None = None
    label: str | None = None
    artifacts: str | None = None
    code: str | None = None
    policy: str | None = None
    signature: str | None = None
    public_key: str | None = None
    lockfile: str | None = None
    base_model: str | None = None
    name: str | None = None

    def check(self) -> None:
        """Raise :class:`~mlwarden.errors.InputError` naming every given path that is missing.

        Data may also name a bundled dataset (``digits``, ``breast_cancer``, ...).
        """
        from mlwarden.datasets import DEMO_DATASETS
        from mlwarden.errors import InputError

        paths = {k: getattr(self, k) for k in _PATH_FIELDS if getattr(self, k)}
        missing = [
            f"{_FLAGS.get(k, '--' + k.replace('_', '-'))} {v}"
            for k, v in paths.items()
            if not Path(v).exists() and not (k in _DATA_FIELDS and v in DEMO_DATASETS)
        ]
        if missing:
            raise InputError(f"not found: {', '.join(missing)}")
        if self.endpoint and not self.endpoint.startswith(("http://", "https://")):
            raise InputError(f"--endpoint takes an http(s):// URL, not {self.endpoint!r}")

    def __repr__(self) -> str:  # the API key stays out of logs and tracebacks
        shown = replace(self, api_key="***" if self.api_key else None)
        return "AssessInputs(" + ", ".join(f"{k}={v!r}" for k, v in vars(shown).items()) + ")"


_PATH_FIELDS = (
    "model", "train", "test", "serving", "artifacts", "code", "policy", "signature",
    "public_key", "lockfile", "base_model",
)  # fmt: skip
_DATA_FIELDS = ("train", "test", "serving")
_FLAGS = {"lockfile": "--lock"}  # fields whose CLI flag is not the field's name


class Skip(Exception):
    """A step cannot run: ``reason`` says why, ``enable`` which flags would enable it."""

    def __init__(self, reason: str, enable: str) -> None:
        super().__init__(reason)
        self.reason = reason
        self.enable = enable


@dataclass(frozen=True)
class Step:
    """One check of the assessment and the risks it speaks to."""

    id: str
    title: str
    risks: tuple[RiskId, ...]
    #: Every finding of this step also counts for its (single) risk, whatever the rule's own.
    owns_findings: bool = False


STEPS: tuple[Step, ...] = (
    Step("scan", "artifact scan", (R.ML06, R.ML10)),
    Step("integrity", "signature and approved digest", (R.ML10,), owns_findings=True),
    # The linter's findings speak to every risk, but clean code only clears ML06 (loading).
    Step("lint", "code lint", (R.ML06,)),
    Step("data", "training-data checks", (R.ML02,)),
    Step("drift", "training-serving drift", (R.ML08,)),
    # The policy review comes before the attacks: they attack the defences it serves.
    Step("policy", "gateway policy review", (R.ML01, R.ML03, R.ML05, R.ML08, R.ML09, R.ML10)),
    Step("attacks", "attacks", (R.ML01, R.ML03, R.ML04, R.ML05, R.ML07)),
    Step("base_model", "base-model source", (R.ML07,), owns_findings=True),
    Step("endpoint", "live endpoint checks", (R.ML05, R.ML09)),
)


def run_scan(inputs: AssessInputs, settings: Settings, ctx: dict[str, Any]) -> Report:
    paths = [p for p in (inputs.model, inputs.artifacts) if p]
    if not paths:
        raise Skip("no model file or artifact folder was given", "--model M or --artifacts DIR")
    from mlwarden.scan.engine import scan

    return scan([Path(p) for p in paths], settings.scan.to_options())


def run_integrity(inputs: AssessInputs, settings: Settings, ctx: dict[str, Any]) -> Report:
    if not inputs.model:
        raise Skip("no model file was given", "--model M")
    from mlwarden.integrity.errors import VerificationError
    from mlwarden.integrity.report import failure_report, integrity_report
    from mlwarden.integrity.verify import verify_model

    key = inputs.public_key if inputs.signature else None
    if key is None and inputs.lockfile is None:
        where = inputs.model
        message = "the model has no signature (with --public-key) and no lockfile entry"
        finding = Finding(
            "ASSESS-INT-001", _severity("ASSESS-INT-001"), Confidence.HIGH, Location(where), message
        )
        return Report(command="assess integrity", findings=(finding,), scanned=(where,))
    try:
        result = verify_model(
            inputs.model,
            key=key,
            signature=inputs.signature or "model.sig",
            lockfile=inputs.lockfile,
        )
    except VerificationError as exc:
        return failure_report(inputs.model, exc, command="assess integrity")
    checks = {"verified": True, "checks": ", ".join(result.checks)}
    report = integrity_report(inputs.model, result.warnings, command="assess integrity")
    return replace(report, evidence={"integrity": {"risk": "ML10", **checks}})


def _severity(rule_id: str) -> Any:
    from mlwarden.rules import RULES

    return RULES[rule_id].severity


def run_lint(inputs: AssessInputs, settings: Settings, ctx: dict[str, Any]) -> Report:
    if not inputs.code:
        raise Skip("no code was given", "--code DIR")
    from mlwarden.linter.api import lint

    return lint([Path(inputs.code)], settings.lint.to_options())


def run_data(inputs: AssessInputs, settings: Settings, ctx: dict[str, Any]) -> Report:
    if not inputs.train:
        raise Skip("no training data was given", "--train D --label COL")
    from mlwarden.data.guard import check_data

    cfg = settings.data
    if settings.assess.quick:
        cfg = cfg.model_copy(update={"gate_folds": 3})
    return check_data(inputs.train, label=_label(inputs.label), settings=cfg).report


def run_drift(inputs: AssessInputs, settings: Settings, ctx: dict[str, Any]) -> Report:
    current = inputs.serving or inputs.test
    if not inputs.train or not current:
        raise Skip(
            "drift needs training data and serving (or held-out) data",
            "--train D with --serving D (or --test D)",
        )
    from mlwarden.monitor.drift import detect_drift
    from mlwarden.monitor.drift_report import drift_report

    reference, cur = _frame(inputs.train), _frame(current)
    labels = {inputs.label, "label", "target", "y", "class"}
    drop = [c for c in reference.names if c in labels]
    result = detect_drift(
        reference,
        cur,
        exclude=drop,
        options=settings.drift.options(),
    )
    report = drift_report(result, current, command="assess drift", scanned=(inputs.train, current))
    note = "serving data" if inputs.serving else "held-out data (no --serving given)"
    evidence = {"drift": {**report.evidence["drift"], "current_data": note}}
    return replace(report, evidence=evidence)


def _frame(spec: str) -> Any:
    """A data file's columns, or a bundled dataset's features (named like its columns)."""
    from mlwarden.datasets import DEMO_DATASETS, demo_dataset
    from mlwarden.monitor.frame import as_frame, load_frame

    if spec in DEMO_DATASETS and not Path(spec).exists():
        data = demo_dataset(spec)
        return as_frame(data.X.reshape(len(data.X), -1), list(data.feature_names) or None)
    return load_frame(spec)


def run_base_model(inputs: AssessInputs, settings: Settings, ctx: dict[str, Any]) -> Report:
    if not inputs.base_model or not inputs.lockfile:
        raise Skip(
            "no base model and lockfile were given",
            "--base-model DIR --lock mlwarden.lock (or a PyTorch model for Neural Cleanse)",
        )
    from mlwarden.attacks.base_model import check_base_model
    from mlwarden.integrity.errors import VerificationError
    from mlwarden.integrity.report import finding_for

    try:
        findings = check_base_model(inputs.base_model, inputs.lockfile)
    except VerificationError as exc:
        findings = [finding_for(Path(inputs.base_model), p) for p in exc.problems]
    evidence = {
        "base_model": {"risk": "ML07", "model": inputs.base_model, "problems": len(findings)}
    }
    return Report(
        command="assess base-model",
        findings=tuple(findings),
        scanned=(inputs.base_model,),
        evidence=evidence,
    )


def run_policy(inputs: AssessInputs, settings: Settings, ctx: dict[str, Any]) -> Report:
    if not inputs.policy:
        raise Skip("no gateway policy was given", "--policy mlwarden.toml")
    from mlwarden.assess.policy_review import review
    from mlwarden.config import load_settings

    policy = load_settings(inputs.policy).gateway  # read once: reviewed, and attacked through
    report = review(policy, inputs.policy)
    ctx["policy"] = report.evidence["gateway_policy"]["controls"]
    ctx["defenses"] = served_defenses(policy)
    return report


def served_defenses(policy: Any) -> list[str]:
    """The evasion probe's names of the input defences a gateway policy serves."""
    adversarial = policy.adversarial
    names = ["squeeze"] if adversarial.squeezing_detector else []
    return names + (["threshold"] if adversarial.min_confidence > 0 else [])


def run_endpoint(inputs: AssessInputs, settings: Settings, ctx: dict[str, Any]) -> Report:
    if not inputs.endpoint:
        raise Skip("no live endpoint was given", "--endpoint URL --api-key-env VAR")
    from mlwarden.assess.policy_review import check_endpoint

    example = ctx.get("example")
    if example is None:
        raise Skip("the live checks need one input to send", "--test D")
    return check_endpoint(inputs.endpoint, inputs.api_key, example)


def _label(text: str | None) -> str | int | None:
    if text is not None and text.lstrip("-").isdigit():
        return int(text)
    return text


def failed(step: Step, exc: MlwardenError | Exception) -> str:
    """One line for a step that raised."""
    text = exc.diagnostics() if isinstance(exc, MlwardenError) else f"{type(exc).__name__}: {exc}"
    return f"the {step.title} failed: {text.splitlines()[0] if text else type(exc).__name__}"
