"""The linter on its corpus: every case exactly as expected, and per-risk precision/recall."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import pytest

from mlwarden.findings import Report
from mlwarden.linter import lint
from tests.linter.corpus import Case, all_cases, risk_of, write_corpus

CASES = all_cases()


@pytest.fixture(scope="module")
def corpus_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[Path, Case], Report]:
    root = tmp_path_factory.mktemp("lint-corpus")
    files = write_corpus(root)
    return files, lint([root], jobs=1)


def _found(report: Report) -> dict[str, set[tuple[str, int]]]:
    out: dict[str, set[tuple[str, int]]] = defaultdict(set)
    for f in report.findings:
        out[f.location.path].add((f.rule_id, f.location.line or 0))
    return out


def test_corpus_covers_every_risk_both_ways() -> None:
    vulnerable = {risk_of(r) for c in CASES for r, _ in c.expected}
    safe = {c.risk for c in CASES if not c.vulnerable}
    expected = {f"ML{i:02d}" for i in range(1, 11)}
    assert vulnerable == expected
    assert safe == expected
    assert len(CASES) >= 100


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_case(case: Case, corpus_run: tuple[dict[Path, Case], Report]) -> None:
    files, report = corpus_run
    path = next(p for p, c in files.items() if c is case)
    found = _found(report).get(str(path), set())
    missing = sorted(case.expected - found)
    extra = sorted(found - case.expected)
    assert not missing and not extra, f"missing {missing}, unexpected {extra}"


def test_precision_and_recall_per_risk(corpus_run: tuple[dict[Path, Case], Report]) -> None:
    files, report = corpus_run
    found = _found(report)
    tp: dict[str, int] = defaultdict(int)
    fp: dict[str, int] = defaultdict(int)
    fn: dict[str, int] = defaultdict(int)
    for path, case in files.items():
        got = {(risk_of(r), line) for r, line in found.get(str(path), set())}
        want = {(risk_of(r), line) for r, line in case.expected}
        for risk, _ in got & want:
            tp[risk] += 1
        for risk, _ in got - want:
            fp[risk] += 1
        for risk, _ in want - got:
            fn[risk] += 1
    for risk in sorted(set(tp) | set(fn)):
        recall = tp[risk] / (tp[risk] + fn[risk])
        precision = tp[risk] / max(1, tp[risk] + fp[risk])
        assert recall >= 0.9 and precision >= 0.9, (risk, recall, precision)


def test_findings_carry_rule_metadata(corpus_run: tuple[dict[Path, Case], Report]) -> None:
    _, report = corpus_run
    assert report.command == "lint" and report.findings
    for f in report.findings:
        assert f.location.line and f.location.line >= 1 and f.location.column >= 1
        assert f.evidence and f.details["scope"]
    assert not report.errors and not report.skipped
