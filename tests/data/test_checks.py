"""Schema, range, duplicate and label checks: caught when present, silent on clean data."""

from __future__ import annotations

import numpy as np

from mlwarden.data.checks import run_checks
from mlwarden.data.provenance import build_manifest
from mlwarden.datasets import Table


def _table(n: int = 200, seed: int = 0) -> Table:
    rng = np.random.default_rng(seed)
    x = rng.random((n, 5)).astype(np.float32)
    y = (x[:, 0] + x[:, 1] > 1).astype(np.int64)
    return Table(x, y, tuple(f"f{i}" for i in range(5)), (0, 1))


def _rules(result: object) -> list[str]:
    return sorted(f.rule_id for f in result.findings)  # type: ignore[attr-defined]


def test_clean_data_against_its_own_baseline_has_no_findings() -> None:
    table = _table()
    baseline = build_manifest(_table(n=400, seed=1))
    assert _rules(run_checks(table, "t.csv", baseline)) == []
    assert _rules(run_checks(table, "t.csv")) == []


def test_schema_change_is_reported_and_ranges_are_skipped() -> None:
    table = _table()
    renamed = Table(table.X, table.y, ("f0", "f1", "f2", "f3", "zz"), (0, 1))
    result = run_checks(renamed, "t.csv", build_manifest(table))
    assert _rules(result) == ["DATA-SCH-001"]
    assert "zz" in result.findings[0].message


def test_out_of_range_values_are_reported_per_column() -> None:
    base = build_manifest(_table())
    x = _table(seed=2).X.copy()
    x[[3, 7, 9], 2] = 1.5
    result = run_checks(Table(x, _table(seed=2).y, _table().feature_names, (0, 1)), "t.csv", base)
    found = [f for f in result.findings if f.rule_id == "DATA-RNG-001"]
    assert len(found) == 1
    assert "'f2': 3 value(s)" in found[0].message
    assert "3, 7, 9" in found[0].evidence


def test_duplicates_and_conflicting_labels() -> None:
    table = _table()
    x = np.concatenate([table.X, table.X[:4]])
    y = np.concatenate([table.y, table.y[:4]])
    y[-1] = 1 - y[-1]  # a copy of row 3 with the other label
    near = x[10] + 1e-6
    x = np.concatenate([x, near[None]])
    y = np.concatenate([y, [1 - y[10]]])
    result = run_checks(Table(x, y, table.feature_names, (0, 1)), "t.csv")
    assert _rules(result) == ["DATA-DUP-001", "DATA-DUP-002"]
    conflict = next(f for f in result.findings if f.rule_id == "DATA-DUP-002")
    assert "1 group(s) of identical rows and 1 pair(s) of near-identical rows" in conflict.message
    assert result.evidence["duplicates"]["exact_extra_rows"] == 4


def test_label_shift_from_the_baseline_and_rare_classes() -> None:
    table = _table()
    y = table.y.copy()
    y[np.flatnonzero(y == 1)[:60]] = 0
    result = run_checks(
        Table(table.X, y, table.feature_names, (0, 1)), "t.csv", build_manifest(table)
    )
    assert _rules(result) == ["DATA-LBL-001"]
    assert "shifted by 0.300" in result.findings[0].message
    rare = np.zeros(200, dtype=np.int64)
    rare[0] = 1
    result = run_checks(Table(table.X, rare, table.feature_names, (0, 1)), "t.csv")
    assert "less than 1%" in result.findings[0].message
