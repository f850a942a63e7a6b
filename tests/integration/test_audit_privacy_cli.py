"""`mlwarden audit --train ... --probe membership,extraction` end to end, JSON and HTML out."""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner

from mlwarden.cli.main import cli

SMALL_BUDGETS = """
[audit.membership]
references = 2
label_only_queries = 4
max_members = 150
max_nonmembers = 150
bootstrap = 20
jobs = 1

[audit.extraction]
budgets = [50, 200]
strategies = ["uniform", "natural"]
policies = ["probabilities", "label"]
hidden = 16
ensemble = 1
equation_solving = false
jobs = 1
at_budget = 200
"""


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    return result.exit_code, result.output


def _csv(path: Path, x: np.ndarray[Any, Any], y: np.ndarray[Any, Any]) -> Path:
    header = ",".join(f"f{i}" for i in range(x.shape[1])) + ",label"
    rows = [",".join(f"{v:.5f}" for v in row) + f",{int(t)}" for row, t in zip(x, y, strict=True)]
    path.write_text("\n".join([header, *rows]) + "\n")
    return path


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    joblib = pytest.importorskip("joblib")
    datasets = pytest.importorskip("sklearn.datasets")
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier

    x, y = datasets.make_classification(
        n_samples=300, n_features=12, n_informative=6, n_classes=3, flip_y=0.1, random_state=0
    )
    x = x.astype(np.float32)
    mlp = MLPClassifier(hidden_layer_sizes=(64,), alpha=0.0, max_iter=400, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        mlp.fit(x[:150], y[:150])  # overfit on purpose: it memorises its noisy labels
    root = tmp_path_factory.mktemp("privacy")
    joblib.dump(mlp, root / "mlp.joblib")
    (root / "small.toml").write_text(SMALL_BUDGETS)
    return {
        "model": root / "mlp.joblib",
        "train": _csv(root / "train.csv", x[:150], y[:150]),
        "test": _csv(root / "test.csv", x[150:], y[150:]),
        "config": root / "small.toml",
    }


def _audit(files: dict[str, Path], *extra: str) -> tuple[int, str]:
    return run(
        "audit",
        str(files["model"]),
        "--train",
        str(files["train"]),
        "--test",
        str(files["test"]),
        "--probe",
        "membership,extraction",
        "--config",
        str(files["config"]),
        "--no-progress",
        *extra,
    )


def test_privacy_probes_report_their_evidence_under_their_risks(files: dict[str, Path]) -> None:
    code, out = _audit(files, "--format", "json")
    report = json.loads(out)
    evidence = report["evidence"]
    assert evidence["membership"]["risk"] == "ML04"
    assert evidence["extraction"]["risk"] == "ML05"
    assert "evasion" not in evidence
    roc = evidence["membership"]["roc_chart"]
    assert roc["chart"] == "line"
    assert roc["log_x"]
    assert roc["log_y"]
    assert evidence["extraction"]["fidelity_chart"]["log_x"]
    budgets = {r["budget"] for r in evidence["extraction"]["curve"]}
    assert budgets == {50, 200}
    # The overfit MLP leaks: the probes report it, and findings decide the exit code.
    rules = {f["rule_id"] for f in report["findings"]}
    assert any(r.startswith("AUD-MIA") for r in rules)
    assert code == (1 if report["findings"] else 0)
    assert report["scanned"] == [str(files["model"])]


def test_fail_on_critical_lets_the_audit_pass(files: dict[str, Path]) -> None:
    code, out = _audit(files, "--format", "json", "--fail-on", "critical")
    severities = {f["severity"] for f in json.loads(out)["findings"]}
    assert code == (1 if "critical" in severities else 0)


def _section(html: str, risk: str) -> str:
    start = html.index(f"id='{risk.lower()}'")
    return html[start : html.index("</section>", start)]


def test_html_report_has_privacy_and_theft_sections_with_charts(files: dict[str, Path]) -> None:
    _, out = _audit(files, "--format", "html")
    membership, theft = _section(out, "ML04"), _section(out, "ML05")
    assert "<svg" in membership
    assert "Membership inference ROC" in membership
    assert "<svg" in theft
    assert "surrogate fidelity vs queries" in theft
    assert "Membership inference ROC" not in _section(out, "ML01")
    assert "could not be drawn" not in out


def test_privacy_probe_without_training_data_exits_2(files: dict[str, Path]) -> None:
    result = CliRunner().invoke(
        cli,
        ["audit", str(files["model"]), "--test", str(files["test"]), "--probe", "membership"],
    )
    assert result.exit_code == 2
    assert "--train" in result.output
    assert "Traceback" not in result.output
    assert not isinstance(result.exception, Exception) or isinstance(result.exception, SystemExit)


def test_model_and_endpoint_together_exit_2(files: dict[str, Path]) -> None:
    code, out = run(
        "audit", str(files["model"]), "--endpoint", "http://127.0.0.1:9/v1/predict", "--data", "x"
    )
    assert code == 2
    assert "--endpoint" in out


def test_evasion_and_membership_merge_into_one_report(files: dict[str, Path]) -> None:
    code, out = run(
        "audit",
        str(files["model"]),
        "--train",
        str(files["train"]),
        "--test",
        str(files["test"]),
        "--probe",
        "evasion",
        "--probe",
        "membership",
        "--max-samples",
        "20",
        "--budget",
        "50",
        "--eps",
        "0.5,1",
        "--config",
        str(files["config"]),
        "--format",
        "json",
        "--no-progress",
    )
    report = json.loads(out)
    evidence = report["evidence"]
    assert (evidence["evasion"]["risk"], evidence["membership"]["risk"]) == ("ML01", "ML04")
    curve = evidence["evasion"]["robust_accuracy_chart"]
    assert curve["chart"] == "line"
    assert curve["y_range"] == [0, 1]
    assert next(iter(curve["series"].values()))["x"] == [0.0, 0.5, 1.0]
    bars = evidence["evasion"]["per_class_chart"]
    assert (bars["chart"], bars["labels"]) == ("bar", ["0", "1", "2"])
    assert "examples_chart" not in evidence["evasion"]  # tabular inputs: no images
    assert report["scanned"] == [str(files["model"])]
    assert code == (1 if report["findings"] else 0)


def test_evasion_examples_on_images_become_an_images_chart(tmp_path: Path) -> None:
    joblib = pytest.importorskip("joblib")
    from tests.attacks import _models as M

    joblib.dump(M.logreg(), tmp_path / "lr.joblib")
    _, out = run(
        "audit",
        str(tmp_path / "lr.joblib"),
        "--data",
        "digits",
        "--max-samples",
        "10",
        "--budget",
        "50",
        "--eps",
        "0.3",
        "--format",
        "json",
        "--no-progress",
    )
    evasion = json.loads(out)["evidence"]["evasion"]
    chart = evasion["examples_chart"]
    assert chart["chart"] == "images"
    assert len(chart["images"]) == 2 * len(evasion["examples"]) > 0
    pixels = np.asarray(chart["images"][0], dtype=float)
    assert pixels.min() >= 0.0
    assert pixels.max() <= 1.0
