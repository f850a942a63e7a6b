"""Plain data checks: schema and ranges against a baseline, duplicate rows, label anomalies.

Each check returns findings (``DATA-...`` rules) and a JSON-ready summary. Range and schema
checks need a baseline manifest (the profile of data that was trusted before); duplicates and
the label distribution are checked on their own too.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from mlwarden.findings import Confidence, Finding, Location, Severity

if TYPE_CHECKING:
    from mlwarden.data.provenance import DataManifest
    from mlwarden.datasets import Table

#: Near-duplicate search is skipped above this many rows (it is quadratic in the worst case).
NEAR_DUPLICATE_LIMIT = 50_000


@dataclass(frozen=True)
class CheckOptions:
    """Thresholds of the plain checks."""

    range_tolerance: float = 0.05
    near_duplicate: float = 0.05
    label_shift: float = 0.1
    min_class_share: float = 0.01


@dataclass
class CheckResult:
    """Findings and a summary per check."""

    findings: list[Finding] = field(default_factory=list)
    evidence: dict[str, Any] = field(default_factory=dict)


def _finding(
    rule: str, where: str, message: str, severity: Severity, evidence: str = ""
) -> Finding:
    return Finding(rule, severity, Confidence.HIGH, Location(where), message, evidence)


def _rows(indices: np.ndarray[Any, Any], limit: int = 12) -> str:
    shown = ", ".join(str(int(i)) for i in indices[:limit])
    return f"rows {shown}{', ...' if len(indices) > limit else ''}"


def check_schema(table: Table, baseline: DataManifest, where: str, out: CheckResult) -> bool:
    """Same columns, in the same order, as the baseline; returns whether they match."""
    have = [str(n) for n in table.feature_names] or [f"x{i}" for i in range(table.X.shape[1])]
    want = [c.name for c in baseline.columns]
    out.evidence["schema"] = {"columns": len(have), "baseline_columns": len(want)}
    if have == want:
        return True
    missing = [c for c in want if c not in have]
    extra = [c for c in have if c not in want]
    detail = f"missing {missing[:8]}, new {extra[:8]}" if missing or extra else "reordered"
    out.findings.append(
        _finding(
            "DATA-SCH-001",
            where,
            f"columns differ from the baseline ({detail})",
            Severity.HIGH,
            ", ".join(have[:20]),
        )
    )
    return False


def check_ranges(
    table: Table, baseline: DataManifest, where: str, out: CheckResult, o: CheckOptions
) -> None:
    """Values outside the baseline's per-column ``[min, max]`` (widened by the tolerance)."""
    x = table.X.reshape(len(table.X), -1)
    lo = np.array([c.min for c in baseline.columns])
    hi = np.array([c.max for c in baseline.columns])
    slack = o.range_tolerance * np.maximum(hi - lo, 1e-12)
    bad = (x < lo - slack) | (x > hi + slack)
    per_column = bad.sum(axis=0)
    out.evidence["ranges"] = {"rows_out_of_range": int(bad.any(axis=1).sum())}
    for j in np.flatnonzero(per_column):
        name = baseline.columns[j].name
        rows = np.flatnonzero(bad[:, j])
        seen = (float(x[:, j].min()), float(x[:, j].max()))
        out.findings.append(
            _finding(
                "DATA-RNG-001",
                where,
                f"column {name!r}: {len(rows)} value(s) outside the baseline range "
                f"[{lo[j]:.4g}, {hi[j]:.4g}] (seen [{seen[0]:.4g}, {seen[1]:.4g}])",
                Severity.MEDIUM,
                _rows(rows),
            )
        )


def check_duplicates(table: Table, where: str, out: CheckResult, o: CheckOptions) -> None:
    """Exact duplicate rows, and (near-)duplicates that carry different labels."""
    x = np.ascontiguousarray(table.X.reshape(len(table.X), -1))
    keys = [row.tobytes() for row in x]
    groups: dict[bytes, list[int]] = {}
    for i, key in enumerate(keys):
        groups.setdefault(key, []).append(i)
    dupes = [g for g in groups.values() if len(g) > 1]
    conflicts = [g for g in dupes if len({int(table.y[i]) for i in g}) > 1]
    extra = sum(len(g) - 1 for g in dupes)
    near = _near_conflicts(x, table.y, o) if len(x) <= NEAR_DUPLICATE_LIMIT else None
    out.evidence["duplicates"] = {
        "exact_extra_rows": extra,
        "exact_conflicting_groups": len(conflicts),
        "near_conflicting_pairs": None if near is None else len(near),
    }
    if extra:
        first = np.array([g[1] for g in dupes])
        out.findings.append(
            _finding(
                "DATA-DUP-001",
                where,
                f"{extra} row(s) duplicate earlier rows exactly",
                Severity.LOW,
                _rows(first),
            )
        )
    rows = [i for g in conflicts for i in g] + [i for pair in near or [] for i in pair]
    if rows:
        out.findings.append(
            _finding(
                "DATA-DUP-002",
                where,
                f"{len(conflicts)} group(s) of identical rows and {len(near or [])} pair(s) of "
                "near-identical rows carry different labels",
                Severity.MEDIUM,
                _rows(np.unique(rows)),
            )
        )


def _near_conflicts(
    x: np.ndarray[Any, Any], y: np.ndarray[Any, Any], o: CheckOptions
) -> list[tuple[int, int]]:
    """Pairs closer than ``near_duplicate`` x the median nearest-neighbour distance, with
    different labels (exact copies are counted separately)."""
    from sklearn.neighbors import NearestNeighbors

    from mlwarden.data.representations import standardize

    if len(x) < 3:
        return []
    space = standardize(x)
    dist, idx = NearestNeighbors(n_neighbors=2).fit(space).kneighbors(space)
    positive = dist[:, 1][dist[:, 1] > 0]
    scale = float(np.median(positive)) if len(positive) else 0.0
    pairs = set()
    for i in np.flatnonzero((dist[:, 1] > 0) & (dist[:, 1] < o.near_duplicate * scale)):
        j = int(idx[i, 1])
        if y[i] != y[j]:
            pairs.add((min(int(i), j), max(int(i), j)))
    return sorted(pairs)


def check_labels(
    table: Table, baseline: DataManifest | None, where: str, out: CheckResult, o: CheckOptions
) -> None:
    """Classes that are nearly absent, new classes, and a shift from the baseline's shares."""
    from mlwarden.data.provenance import class_positions

    counts = Counter(class_positions(table).tolist())
    total = len(table.y)
    shares = {str(table.classes[i]): counts.get(i, 0) / total for i in range(len(table.classes))}
    summary: dict[str, Any] = {"shares": {k: round(v, 4) for k, v in shares.items()}}
    rare = [c for c, s in shares.items() if s < o.min_class_share]
    if rare:
        out.findings.append(
            _finding(
                "DATA-LBL-001",
                where,
                f"class(es) {', '.join(rare[:8])} hold less than {o.min_class_share:.0%} of rows",
                Severity.LOW,
            )
        )
    if baseline is not None:
        before = baseline.label_share()
        new = [c for c in shares if c not in before]
        tvd = 0.5 * sum(abs(shares.get(c, 0.0) - before.get(c, 0.0)) for c in {*shares, *before})
        summary["baseline_shift"] = round(tvd, 4)
        if tvd > o.label_shift or new:
            moved = max(shares, key=lambda c: abs(shares[c] - before.get(c, 0.0)))
            out.findings.append(
                _finding(
                    "DATA-LBL-001",
                    where,
                    f"label distribution shifted by {tvd:.3f} (total variation) from the "
                    f"baseline; class {moved!r}: {before.get(moved, 0.0):.3f} -> "
                    f"{shares[moved]:.3f}" + (f"; new classes {new[:8]}" if new else ""),
                    Severity.MEDIUM,
                )
            )
    out.evidence["labels"] = summary


def run_checks(
    table: Table,
    where: str,
    baseline: DataManifest | None = None,
    options: CheckOptions | None = None,
) -> CheckResult:
    """Every plain check; range checks only when the schema matches the baseline's."""
    o = options or CheckOptions()
    out = CheckResult()
    if baseline is not None and check_schema(table, baseline, where, out):
        check_ranges(table, baseline, where, out, o)
    check_duplicates(table, where, out, o)
    check_labels(table, baseline, where, out, o)
    return out
