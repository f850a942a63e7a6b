"""Suppression comments, baselines and rule selection: what users live with day to day."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mlwarden.errors import InputError
from mlwarden.findings import Confidence
from mlwarden.linter import LintOptions, lint

CODE = """\
import joblib
import torch

a = joblib.load("a")  # mlwarden: ignore[LINT-ML06-002] produced by this CI job
b = joblib.load("b")  # mlwarden: ignore[LINT-ML06-002]
c = torch.load(  # mlwarden: ignore[ML06] -- weights written by us
    "c",
)
d = torch.load("d")
e = 1  # mlwarden: ignore[LINT-ML06-002] stale
f = joblib.load("f")  # mlwarden: ignore[NOPE-1] typo
"""


def _rules(report: object) -> list[tuple[str, int]]:
    return [(f.rule_id, f.location.line or 0) for f in report.findings]  # type: ignore[attr-defined]


def test_suppressions(tmp_path: Path) -> None:
    (tmp_path / "m.py").write_text(CODE)
    report = lint([tmp_path])
    assert sorted(_rules(report)) == [
        ("LINT-GEN-001", 5),  # no reason: suppresses, but is reported
        ("LINT-GEN-001", 11),  # unknown rule
        ("LINT-GEN-002", 10),  # suppresses nothing
        ("LINT-ML06-002", 11),
        ("LINT-ML06-003", 9),
    ]
    assert report.metrics["suppressed"] == 3


def test_file_level_suppression(tmp_path: Path) -> None:
    (tmp_path / "m.py").write_text(
        "# mlwarden: ignore-file[LINT-ML06] fixtures for the loader tests\n"
        "import pickle, torch\npickle.loads(b'')\ntorch.load('x')\n"
    )
    assert lint([tmp_path]).findings == ()


def test_select_ignore_and_per_file_ignores(tmp_path: Path) -> None:
    (tmp_path / "tests").mkdir()
    body = "import joblib, torch\njoblib.load('a')\ntorch.load('b')\n"
    (tmp_path / "app.py").write_text(body)
    (tmp_path / "tests" / "test_x.py").write_text(body)
    only_torch = lint([tmp_path], select=["LINT-ML06-003"])
    assert {f.rule_id for f in only_torch.findings} == {"LINT-ML06-003"}
    no_torch = lint([tmp_path], ignore=["LINT-ML06-003"])
    assert {f.rule_id for f in no_torch.findings} == {"LINT-ML06-002"}
    per_file = lint([tmp_path], LintOptions(per_file_ignores=(("tests/*", ("ML06",)),)))
    assert {Path(f.location.path).name for f in per_file.findings} == {"app.py"}


def test_min_confidence(tmp_path: Path) -> None:
    (tmp_path / "m.py").write_text(
        "import torch\ndef f(p, flag):\n    return torch.load(p, weights_only=flag)\n"
    )
    (low,) = lint([tmp_path]).findings
    assert low.confidence.value == "low"
    medium = LintOptions(min_confidence=Confidence.MEDIUM)
    assert lint([tmp_path], medium).findings == ()


def test_baseline_survives_line_shifts(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    module = src / "m.py"
    module.write_text("import joblib\n\ndef f():\n    return joblib.load('a')\n")
    baseline = tmp_path / "lint-baseline.json"
    first = lint([src], baseline=baseline)
    assert first.findings == () and baseline.is_file() and first.metrics["baselined"] == 1
    module.write_text(
        "import joblib\nimport os\n\n\ndef f():\n    # moved down\n    return  joblib.load('a')\n"
        "\ndef g():\n    return joblib.load('a')\n"
    )
    second = lint([src], baseline=baseline)
    assert [(f.details["scope"], f.location.line) for f in second.findings] == [("g", 10)]
    assert second.metrics["baselined"] == 1


def test_baseline_counts_duplicates(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text("import joblib\njoblib.load('a')\n")
    baseline = tmp_path / "b.json"
    lint([module], baseline=baseline)
    module.write_text("import joblib\njoblib.load('a')\njoblib.load('a')\n")
    assert len(lint([module], baseline=baseline).findings) == 1
    rewritten = lint([module], baseline=baseline, write_baseline=True)
    assert rewritten.metrics["baselined"] == 2
    assert len(json.loads(baseline.read_text())["findings"]) == 2


def test_malformed_baseline_is_an_input_error(tmp_path: Path) -> None:
    baseline = tmp_path / "b.json"
    baseline.write_text('{"format": "something-else"}')
    with pytest.raises(InputError, match="malformed"):
        lint([tmp_path], baseline=baseline)


def test_suppression_text_inside_strings_is_not_a_suppression(tmp_path: Path) -> None:
    (tmp_path / "m.py").write_text(
        'DOC = """write # mlwarden: ignore[LINT-ML06-002] to suppress"""\n'
        "import joblib\n"
        'model = joblib.load("m")  # plain comment, no suppression\n'
    )
    assert [f.rule_id for f in lint([tmp_path]).findings] == ["LINT-ML06-002"]
