"""The lint corpus: vulnerable and safe ML code, one small file per case, with expectations.

Each case is Python source in which every line that must be reported ends with a marker
comment ``# expect: RULE[, RULE...]``; a case without markers is a safe look-alike that must
produce no finding at all. The table is the single source of truth for the tests
(``tests/linter/test_corpus.py``) and the benchmark (``benchmarks/lint_bench.py``), which
writes it to disk with :func:`write_corpus`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

_MARKER = re.compile(r"#\s*expect:\s*(?P<rules>[A-Z0-9, -]+)$")


@dataclass(frozen=True)
class Case:
    """One corpus file: a name (``ml06/torch_load_default``) and its source."""

    name: str
    source: str

    @property
    def expected(self) -> frozenset[tuple[str, int]]:
        """(rule id, line) pairs the linter must report, from the markers."""
        out: set[tuple[str, int]] = set()
        for number, line in enumerate(self.source.splitlines(), start=1):
            match = _MARKER.search(line)
            if match:
                for rule in match.group("rules").split(","):
                    out.add((rule.strip(), number))
        return frozenset(out)

    @property
    def risk(self) -> str:
        return self.name.partition("/")[0].upper()

    @property
    def vulnerable(self) -> bool:
        return bool(self.expected)


def risk_of(rule_id: str) -> str:
    """``LINT-ML06-003`` -> ``ML06``."""
    return rule_id.split("-")[1]


def all_cases() -> list[Case]:
    """Every case of the corpus, in a stable order; names are unique."""
    from tests.linter.corpus import hubs, loading, serving, training, transport

    cases = [
        *loading.CASES,
        *hubs.CASES,
        *serving.CASES,
        *training.CASES,
        *transport.CASES,
    ]
    names = [c.name for c in cases]
    duplicates = {n for n in names if names.count(n) > 1}
    if duplicates:
        raise ValueError(f"duplicate corpus case names: {sorted(duplicates)}")
    return cases


def write_corpus(root: Path) -> dict[Path, Case]:
    """Write every case as ``root/<name>.py``; returns the file of each case."""
    out: dict[Path, Case] = {}
    for case in all_cases():
        path = root / f"{case.name}.py"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(case.source, encoding="utf-8")
        out[path] = case
    return out
