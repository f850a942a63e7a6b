"""The lint engine: notebooks, skipped and broken files, limits, parallel runs, no execution."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mlwarden.errors import UsageError
from mlwarden.linter import LintOptions, lint
from mlwarden.linter.checks import RULESET

VULN = "import joblib\nmodel = joblib.load('m.joblib')\n"


def _notebook(cells: list[tuple[str, str]]) -> str:
    return json.dumps(
        {
            "nbformat": 4,
            "nbformat_minor": 5,
            "metadata": {},
            "cells": [
                {"cell_type": kind, "metadata": {}, "source": src.splitlines(keepends=True)}
                for kind, src in cells
            ],
        }
    )


def test_notebook_locations_by_cell_and_line(tmp_path: Path) -> None:
    nb = tmp_path / "explore.ipynb"
    nb.write_text(
        _notebook(
            [
                ("markdown", "# Training\n"),
                ("code", "%pip install torch\nimport torch\n!nvidia-smi\n"),
                ("code", "x = 1\n\nstate = torch.load('ckpt.pt')\n"),
                ("code", "%%bash\nls -l\n"),
                ("code", "def broken(:\n"),
                ("code", "files = !ls\nok = torch.load('a.pt', weights_only=True)\n"),
            ]
        )
    )
    report = lint([nb])
    assert [(f.rule_id, f.location.member, f.location.line) for f in report.findings] == [
        ("LINT-ML06-003", "cell 2", 3)
    ]
    reasons = sorted(s.reason for s in report.skipped)
    assert reasons[0].startswith("cell 3: not Python") and reasons[1].startswith("cell 4: syntax")
    assert report.scanned == (str(nb),)


def test_notebook_shares_imports_across_cells(tmp_path: Path) -> None:
    nb = tmp_path / "n.ipynb"
    nb.write_text(_notebook([("code", "import joblib as jl\n"), ("code", "m = jl.load('x')\n")]))
    (finding,) = lint([nb]).findings
    assert finding.rule_id == "LINT-ML06-002" and finding.details["cell"] == 2


def test_not_a_notebook_is_skipped(tmp_path: Path) -> None:
    bad = tmp_path / "bad.ipynb"
    bad.write_text("{not json")
    report = lint([bad])
    assert not report.findings and "not a Jupyter notebook" in report.skipped[0].reason


def test_syntax_error_is_a_skipped_item_not_a_crash(tmp_path: Path) -> None:
    (tmp_path / "broken.py").write_text("def f(:\n    pass\n")
    (tmp_path / "ok.py").write_text(VULN)
    report = lint([tmp_path])
    assert [s.reason for s in report.skipped] == ["syntax error at line 1: invalid syntax"]
    assert [f.rule_id for f in report.findings] == ["LINT-ML06-002"]
    assert not report.errors


def test_size_limit_and_encoding(tmp_path: Path) -> None:
    big = tmp_path / "big.py"
    big.write_text(VULN + "#" * 2000)
    latin = tmp_path / "latin.py"
    latin.write_bytes(b"# -*- coding: latin-1 -*-\nname = '\xe9'\n" + VULN.encode())
    bad = tmp_path / "bad.py"
    bad.write_bytes(b"x = '\xff\xfe'\n")
    report = lint([tmp_path], LintOptions(max_file_bytes=1000))
    skipped = {Path(s.path).name: s.reason for s in report.skipped}
    assert "byte limit" in skipped["big.py"] and "decode" in skipped["bad.py"]
    assert [(Path(f.location.path).name, f.location.line) for f in report.findings] == [
        ("latin.py", 4)
    ]


def test_linted_code_is_never_executed(tmp_path: Path) -> None:
    marker = tmp_path / "PWNED"
    (tmp_path / "evil.py").write_text(
        f"open({str(marker)!r}, 'w').write('x')\nimport pickle\npickle.loads(b'')\n"
    )
    report = lint([tmp_path])
    assert not marker.exists() and report.findings


def test_missing_path_is_an_error(tmp_path: Path) -> None:
    report = lint([tmp_path / "nope"])
    assert report.errors[0].error == "no such file or directory" and not report.scanned


def test_parallel_matches_serial(tmp_path: Path) -> None:
    for i in range(24):
        body = VULN if i % 3 == 0 else f"x{i} = {i}\n"
        (tmp_path / f"m{i:02d}.py").write_text(body)
    serial = lint([tmp_path], jobs=1)
    parallel = lint([tmp_path], jobs=2)
    assert serial.findings == parallel.findings and len(serial.findings) == 8
    assert serial.metrics["lines"] == parallel.metrics["lines"] > 0


def test_a_crashing_rule_is_an_item_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(call: object) -> None:
        raise RuntimeError("rule bug")

    monkeypatch.setitem(RULESET.by_terminal, "boom", [boom])
    (tmp_path / "a.py").write_text("boom()\n")
    (tmp_path / "b.py").write_text(VULN)
    report = lint([tmp_path])
    assert "internal linter error (RuntimeError: rule bug)" in report.errors[0].error
    assert [f.rule_id for f in report.findings] == ["LINT-ML06-002"]


def test_default_excludes_and_globs(tmp_path: Path) -> None:
    for folder in (".venv", "node_modules", "build_out", "src"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "m.py").write_text(VULN)
    report = lint([tmp_path], LintOptions(exclude=("build_*",)))
    assert [Path(f.location.path).parent.name for f in report.findings] == ["src"]


def test_bad_rule_code_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="not a rule code"):
        LintOptions(select=("pickle",))


def test_metrics(tmp_path: Path) -> None:
    (tmp_path / "a.py").write_text(VULN)
    metrics = lint([tmp_path]).metrics
    assert metrics["files_linted"] == 1 and metrics["lines"] == 2
    assert isinstance(metrics["lines_per_second"], int)
