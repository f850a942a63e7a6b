"""The whole scanner over the generated corpus (``tests/corpus``).

Every malicious sample must be caught by one of its expected rules at medium or above, no
benign sample may get a finding at medium or above or a per-item error, and scanning must
never run a payload (no marker file appears). A self-check proves the corpus itself: every
malicious sample that has a loader really runs its payload when loaded the victim's way, and
every benign sample loads.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import pytest

import mlwarden
from mlwarden import Finding, Report, Severity
from tests.conftest import REPO, Corpus
from tests.corpus import Sample, corpus_table, marker_for

TABLE = corpus_table()
MALICIOUS = [s for s in TABLE if s.malicious]
BENIGN = [s for s in TABLE if not s.malicious]
_SUFFIX = re.compile(r"(@\d+|:\d+(:\d+)?)$")


@dataclass(frozen=True)
class Outcome:
    """One scan of the corpus, indexed by sample relpath."""

    report: Report
    findings: dict[str, list[Finding]]
    errors: dict[str, list[str]]
    scanned: frozenset[str]
    markers_after_scan: list[Path]


def _relpath(text: str, root: Path) -> str:
    """Top-level file of a location or item-error path, relative to the corpus root."""
    outer = _SUFFIX.sub("", text.split("!/", 1)[0])
    return Path(os.path.relpath(outer, root)).as_posix()


@pytest.fixture(scope="session")
def outcome(corpus: Corpus) -> Outcome:
    assert corpus.markers() == [], "marker files exist before the scan"
    report = mlwarden.scan([corpus.root])
    markers = corpus.markers()
    findings: dict[str, list[Finding]] = defaultdict(list)
    for f in report.findings:
        findings[_relpath(f.location.path, corpus.root)].append(f)
    errors: dict[str, list[str]] = defaultdict(list)
    for e in report.errors:
        errors[_relpath(e.path, corpus.root)].append(e.error)
    scanned = frozenset(_relpath(p, corpus.root) for p in report.scanned)
    return Outcome(report, dict(findings), dict(errors), scanned, markers)


def _show(findings: list[Finding]) -> str:
    return "; ".join(f"{f.rule_id}/{f.severity.value}: {f.message[:80]}" for f in findings)


def _caught(sample: Sample, out: Outcome) -> bool:
    return any(
        f.rule_id in sample.expected_rules and f.severity >= Severity.MEDIUM
        for f in out.findings.get(sample.relpath, [])
    )


def _flagged(sample: Sample, out: Outcome) -> list[Finding]:
    return [f for f in out.findings.get(sample.relpath, []) if f.severity >= Severity.MEDIUM]


def test_table_matches_the_files_written(corpus: Corpus) -> None:
    on_disk = {p.relative_to(corpus.root).as_posix() for p in corpus.root.rglob("*") if p.is_file()}
    assert on_disk == {s.relpath for s in corpus.samples}
    assert all(s.expected_rules for s in MALICIOUS)
    assert not any(s.expected_rules for s in BENIGN)


def test_scanning_runs_nothing(outcome: Outcome) -> None:
    assert outcome.markers_after_scan == [], "a payload ran during the scan"


def test_detection_summary(outcome: Outcome) -> None:
    """All misses and false positives at once (the per-sample tests below show each one)."""
    missed = [
        f"{s.relpath} [{s.family}] wants {sorted(s.expected_rules)}; got: "
        f"{_show(outcome.findings.get(s.relpath, [])) or 'nothing'}"
        for s in MALICIOUS
        if not _caught(s, outcome)
    ]
    false_pos = [
        f"{s.relpath}: {_show(_flagged(s, outcome))}" for s in BENIGN if _flagged(s, outcome)
    ]
    benign_errors = [
        f"{s.relpath}: {outcome.errors[s.relpath]}" for s in BENIGN if s.relpath in outcome.errors
    ]
    problems = (
        ([f"MISSED {len(missed)}/{len(MALICIOUS)} malicious:", *missed] if missed else [])
        + ([f"FALSE POSITIVES {len(false_pos)}/{len(BENIGN)}:", *false_pos] if false_pos else [])
        + ([f"ERRORS on {len(benign_errors)} benign:", *benign_errors] if benign_errors else [])
    )
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("sample", MALICIOUS, ids=lambda s: s.relpath)
def test_malicious_sample_is_caught(sample: Sample, outcome: Outcome) -> None:
    got = outcome.findings.get(sample.relpath, [])
    assert _caught(sample, outcome), (
        f"{sample.note}\nwanted one of {sorted(sample.expected_rules)} at >= medium; "
        f"got: {_show(got) or 'nothing'}; errors: {outcome.errors.get(sample.relpath, [])}"
    )


@pytest.mark.parametrize("sample", BENIGN, ids=lambda s: s.relpath)
def test_benign_sample_is_clean(sample: Sample, outcome: Outcome) -> None:
    assert _flagged(sample, outcome) == [], f"{sample.note}: false positive"
    assert outcome.errors.get(sample.relpath, []) == [], f"{sample.note}: scan error"
    if sample.loader:  # a real model file: a clean result is only meaningful if it was read
        assert sample.relpath in outcome.scanned, f"{sample.note}: format not recognised"


@pytest.mark.slow
@pytest.mark.skipif(sys.platform == "win32", reason="payloads are POSIX shell commands")
def test_corpus_self_check(corpus: Corpus) -> None:
    """The corpus means what it says: payloads run under the real loaders, benign files load.

    Runs in a child process (payloads only create marker files), then removes the markers.
    """
    items = [[s.relpath, s.loader] for s in corpus.samples if s.loader]
    expected = {
        s.relpath: Path(marker_for(corpus.root, s.relpath).path)
        for s in corpus.samples
        if s.loader and s.malicious
    }
    try:
        done = subprocess.run(
            [sys.executable, "-m", "tests.corpus.loaders", str(corpus.root)],
            input=json.dumps(items),
            capture_output=True,
            text=True,
            cwd=REPO,
            timeout=300,
            check=False,
        )
        assert done.returncode == 0, done.stderr[-3000:]
        results = json.loads(done.stdout)
        deadline = time.monotonic() + 10  # Popen-style payloads finish asynchronously
        while time.monotonic() < deadline and not all(p.exists() for p in expected.values()):
            time.sleep(0.1)
        not_fired = [f"{rel}: {results[rel]}" for rel, p in expected.items() if not p.exists()]
        benign_failed = [
            f"{s.relpath}: {results[s.relpath]}"
            for s in corpus.samples
            if s.loader and not s.malicious and results[s.relpath] != "ok"
        ]
        assert not_fired == [], "payloads that did not run:\n" + "\n".join(not_fired)
        assert benign_failed == [], "benign files that did not load:\n" + "\n".join(benign_failed)
    finally:
        for marker in corpus.markers():
            if marker.is_dir():
                shutil.rmtree(marker)
            else:
                marker.unlink()
