"""`mlwarden audit` end to end: model files and bundled data in, reports and exit codes out."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import pytest
from click.testing import CliRunner

from mlwarden.cli.main import cli
from tests.attacks import _models as M


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    return result.exit_code, result.output


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    joblib = pytest.importorskip("joblib")
    torch = pytest.importorskip("torch")
    root = tmp_path_factory.mktemp("audit")
    joblib.dump(M.logreg(), root / "logreg.joblib")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # TorchScript is deprecated in 2.9+
        torch.jit.script(M.weak_cnn()).save(str(root / "cnn.pt"))
    d = M.digits()
    flat = d.x_test[:60].reshape(60, -1)
    header = ",".join(f"p{i}" for i in range(64)) + ",digit"
    rows = [
        ",".join(f"{v:.4f}" for v in row) + f",{label}"
        for row, label in zip(flat, d.y_test[:60], strict=True)
    ]
    (root / "data.csv").write_text("\n".join([header, *rows]) + "\n")
    return {
        "lr": root / "logreg.joblib",
        "cnn": root / "cnn.pt",
        "csv": root / "data.csv",
        "root": root,
    }


def test_blackbox_audit_of_a_pickled_model_on_bundled_data(files: dict[str, Path]) -> None:
    base = ("audit", str(files["lr"]), "--data", "digits", "--max-samples", "20")
    small = (*base, "--budget", "100", "--no-progress")
    code, out = run(*small, "--eps", "0.2,0.3", "--format", "json")
    assert code == 1, out
    report = json.loads(out)
    assert report["command"] == "audit"
    assert {f["rule_id"] for f in report["findings"]} == {"AUD-EVA-003", "AUD-EVA-001"}
    assert report["evidence"]["evasion"]["mode"] == "blackbox"
    assert report["evidence"]["evasion"]["eps"] == [0.2, 0.3]
    code, _ = run(*small, "--eps", "0.2", "--fail-on", "critical")
    assert code == 0


def test_whitebox_audit_of_torchscript_with_a_defence(files: dict[str, Path]) -> None:
    sarif = files["root"] / "out.sarif"
    code, out = run(
        "audit",
        str(files["cnn"]),
        "--data",
        "digits",
        "--max-samples",
        "40",
        "--steps",
        "10",
        "--format",
        "sarif",
        "-o",
        str(sarif),
        "--no-progress",
    )
    assert code == 1, out
    assert "AUD-EVA-001" in sarif.read_text()
    code, out = run(
        "audit",
        str(files["cnn"]),
        "--data",
        "digits",
        "--max-samples",
        "40",
        "--steps",
        "10",
        "--defense",
        "squeeze",
        "--no-progress",
    )
    assert code == 1
    assert "defended, adaptive" in out and "feature_squeezing fpr" in out


def test_csv_data_with_a_label_column(files: dict[str, Path]) -> None:
    code, out = run(
        "audit",
        str(files["lr"]),
        "--data",
        str(files["csv"]),
        "--label",
        "digit",
        "--budget",
        "60",
        "--norm",
        "l2",
        "--image-shape",
        "8x8",
        "--no-progress",
    )
    assert code in (0, 1), out
    assert "blackbox (model)" in out and "l2" in out


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--data", "no-such-dataset.csv"], "error"),
        (["--data", "digits", "--eps", "a,b"], "--eps takes numbers"),
        (["--data", "digits", "--probe", "nope"], "unknown probe"),
        (["--data", "digits", "--image-shape", "8y8"], "--image-shape"),
    ],
)
def test_bad_input_exits_2_without_traceback(
    files: dict[str, Path], args: list[str], needle: str
) -> None:
    result = CliRunner().invoke(cli, ["audit", str(files["lr"]), *args, "--no-progress"])
    assert result.exit_code == 2, result.output
    assert needle in result.output and "Traceback" not in result.output


def test_missing_model_file_exits_2(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["audit", str(tmp_path / "none.pkl"), "--data", "digits"])
    assert result.exit_code == 2 and "Traceback" not in result.output


def test_audit_of_a_live_endpoint_with_an_api_key() -> None:
    server = pytest.importorskip("tests.models._server")
    pytest.importorskip("httpx")
    with server.serve(M.logreg(), 64) as (url, state):
        result = CliRunner(env={"DIGITS_KEY": server.API_KEY}).invoke(
            cli,
            [
                "audit",
                f"{url}/v2/models/digits",
                "--data",
                "digits",
                "--api-key-env",
                "DIGITS_KEY",
                "--max-samples",
                "10",
                "--budget",
                "60",
                "--eps",
                "0.3",
                "--format",
                "json",
                "--no-progress",
            ],
        )
        assert state.infer_requests > 0 and all(state.seen_auth)
    assert result.exit_code == 1, result.output
    report = json.loads(result.output)
    assert report["evidence"]["evasion"]["mode"] == "blackbox"
    assert report["findings"][0]["location"]["path"].endswith("/v2/models/digits")
    missing = CliRunner().invoke(
        cli,
        [
            "audit",
            "http://127.0.0.1:9/x",
            "--data",
            "digits",
            "--api-key-env",
            "NO_SUCH_VARIABLE_SET",
        ],
    )
    assert missing.exit_code == 2 and "NO_SUCH_VARIABLE_SET" in missing.output
