"""A :class:`~mlwarden.monitor.drift.DriftResult` as a :class:`~mlwarden.findings.Report`.

Findings: ``DRIFT-COL-001`` per drifted column, ``DRIFT-MIS-001`` per column whose missing share
moved, ``DRIFT-MV-001`` for multivariate drift, ``DRIFT-SCH-001`` for schema skew. The evidence
block ``drift`` (risk ML08) carries the per-column table and charts for the HTML report:
effect per column against its floor, and reference vs current shares of the columns that
moved most.
"""

from __future__ import annotations

from typing import Any

from mlwarden.findings import Confidence, Finding, Location, Report, Severity
from mlwarden.monitor.drift import DriftResult, FeatureDrift

_SHOWN = 4  # columns whose distributions are drawn


def drift_report(
    result: DriftResult,
    where: str = "current",
    command: str = "drift",
    scanned: tuple[str, ...] = (),
) -> Report:
    """Findings and evidence of ``result``; ``where`` names the current data in locations,
    ``scanned`` the files read."""
    findings = [*_feature_findings(result, where), *_schema_findings(result, where)]
    if result.domain is not None and result.domain.drifted:
        findings.append(_domain_finding(result, where))
    metrics: dict[str, int | float | str | bool] = {
        "reference_rows": result.reference_rows,
        "current_rows": result.current_rows,
        "columns_tested": len(result.features),
        "columns_drifted": len(result.drifted_names),
    }
    if result.domain is not None:
        metrics["domain_auc"] = round(result.domain.auc, 4)
    return Report(
        command=command,
        findings=tuple(findings),
        metrics=metrics,
        scanned=scanned,
        evidence={"drift": drift_evidence(result)},
    )


def _finding(rule: str, where: str, column: str, message: str, severity: Severity) -> Finding:
    return Finding(rule, severity, Confidence.HIGH, Location(where, member=column), message)


def _feature_findings(result: DriftResult, where: str) -> list[Finding]:
    out = []
    for f in result.features:
        severity = Severity.HIGH if f.large else Severity.MEDIUM
        if f.drifted:
            effects = ", ".join(r for r in f.reasons if not r.startswith("missing"))
            message = f"column {f.name!r} drifted ({f.test} p={f.pvalue:.2g}; {effects})"
            out.append(_finding("DRIFT-COL-001", where, f.name, message, severity))
        if f.missing_drifted:
            message = (
                f"column {f.name!r}: missing share {f.missing[0]:.3%} in the reference, "
                f"{f.missing[1]:.3%} now (p={f.missing[2]:.2g})"
            )
            out.append(_finding("DRIFT-MIS-001", where, f.name, message, severity))
    return out


def _schema_findings(result: DriftResult, where: str) -> list[Finding]:
    out = [
        _finding("DRIFT-SCH-001", where, name, f"column {name!r} is missing", Severity.HIGH)
        for name in result.missing_columns
    ]
    out += [
        _finding("DRIFT-SCH-001", where, name, f"column {name!r} changed kind", Severity.HIGH)
        for name in result.type_changes
    ]
    return out


def _domain_finding(result: DriftResult, where: str) -> Finding:
    domain = result.domain
    if domain is None:  # pragma: no cover - guarded by the caller
        raise ValueError("no domain check")
    pairs = "; ".join(f"corr({a}, {b}) {r0:.2f} -> {r1:.2f}" for a, b, r0, r1 in domain.pairs)
    severity = Severity.HIGH if domain.auc >= 0.75 else Severity.MEDIUM
    message = (
        f"a classifier tells current rows from reference rows apart: AUC {domain.auc:.3f} on "
        f"{domain.rows} rows per side (p={domain.pvalue:.2g})" + (f"; {pairs}" if pairs else "")
    )
    return Finding("DRIFT-MV-001", severity, Confidence.HIGH, Location(where), message)


def drift_evidence(result: DriftResult) -> dict[str, Any]:
    """The ``drift`` evidence block: summary facts, the per-column table and charts."""
    options = result.options
    block: dict[str, Any] = {
        "risk": "ML08",
        "reference_rows": result.reference_rows,
        "current_rows": result.current_rows,
        "columns_tested": len(result.features),
        "drifted_columns": list(result.drifted_names),
        "alpha": options.alpha,
        "effect_floors": {
            "wasserstein": options.min_wasserstein,
            "ks": options.min_ks,
            "psi": options.min_psi,
            "js": options.min_js,
            "missing": options.min_missing,
        },
    }
    if result.missing_columns or result.type_changes:
        block["schema"] = {
            "missing_columns": list(result.missing_columns),
            "type_changes": list(result.type_changes),
        }
    block["multivariate"] = _domain_block(result)
    block["effects"] = _effect_chart(result)
    block["columns"] = _table(result)
    for f in _most_moved(result):
        block[f"distribution {f.name}"] = _distribution_chart(f)
    return block


def _domain_block(result: DriftResult) -> dict[str, Any]:
    if result.domain is None:
        return {"ran": False, "note": result.domain_note}
    d = result.domain
    return {
        "ran": True,
        "auc": d.auc,
        "p_value": d.pvalue,
        "rows_per_side": d.rows,
        "drifted": d.drifted,
        "correlation_changes": [
            {"columns": f"{a} / {b}", "reference": round(r0, 3), "current": round(r1, 3)}
            for a, b, r0, r1 in d.pairs
        ],
    }


def _relative(f: FeatureDrift, result: DriftResult) -> float:
    """The largest effect of ``f`` as a multiple of its floor (1.0 = at the floor)."""
    floors = result.options.floors(f.kind)
    return max(f.effects[k] / floors[k] if floors[k] > 0 else 0.0 for k in floors)


def _effect_chart(result: DriftResult) -> dict[str, Any]:
    ranked = sorted(result.features, key=lambda f: -_relative(f, result))[:80]
    return {
        "chart": "bar",
        "title": "Drift per column: largest effect size / its floor",
        "labels": [f.name for f in ranked],
        "values": [round(_relative(f, result), 3) for f in ranked],
        "threshold": 1.0,
        "bad": "above",
        "y_label": "effect / floor",
        "note": "Bars past 1 reach an effect floor; a column drifts when its test is "
        "also significant after Holm's correction.",
    }


def _table(result: DriftResult) -> dict[str, Any]:
    rows = [
        [
            f.name,
            f.kind,
            f.test,
            f.pvalue,
            f.effects.get("ks"),
            f.effects.get("wasserstein"),
            f.effects["psi"],
            f.effects["js"],
            f.missing[1],
            f.drifted or f.missing_drifted,
        ]
        for f in result.features
    ]
    columns = ["column", "kind", "test", "p-value", "KS", "Wasserstein/std", "PSI", "JS"]
    return {
        "chart": "table",
        "title": "Tests per column",
        "columns": [*columns, "missing now", "drifted"],
        "rows": rows,
    }


def _most_moved(result: DriftResult) -> list[FeatureDrift]:
    moved = [f for f in result.features if f.drifted or f.missing_drifted]
    return sorted(moved, key=lambda f: -_relative(f, result))[:_SHOWN]


def _distribution_chart(f: FeatureDrift) -> dict[str, Any]:
    reference, current = f.shares
    return {
        "chart": "bar",
        "title": f"{f.name}: share of rows per reference "
        + ("decile" if f.kind == "numeric" else "category"),
        "labels": list(f.bins)[:80],
        "series": {"reference": list(reference)[:80], "current": list(current)[:80]},
        "y_label": "share of rows",
    }
