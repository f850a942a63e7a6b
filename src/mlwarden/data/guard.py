"""``check_data``: every training-data check in one call, one :class:`Report` out.

Load the table, compare it with a baseline manifest (schema, ranges, rows relabelled or
changed, label shift), look for duplicates, detect poison from a model's representations or
the raw features, run the retrain gate on what was flagged, and write the new manifest.
This is the API twin of ``mlwarden data check``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from mlwarden.data.checks import run_checks
from mlwarden.data.gate import GateResult, retrain_gate
from mlwarden.data.poison import PoisonResult, detect_poison
from mlwarden.data.provenance import (
    DataManifest,
    ManifestDiff,
    build_manifest,
    class_name,
    diff,
    read_manifest,
    sign_manifest,
    verify_manifest,
)
from mlwarden.data.representations import model_representations
from mlwarden.data.settings import DataSettings
from mlwarden.datasets import Table, load_table
from mlwarden.findings import Confidence, Finding, Location, MetricValue, Report, Severity

if TYPE_CHECKING:
    from mlwarden.integrity.keys import SigningKey, VerifyingKey


@dataclass(frozen=True)
class DataCheck:
    """Everything ``check_data`` found: the report, the new manifest and the details."""

    report: Report
    manifest: DataManifest
    poison: PoisonResult
    gate: GateResult | None
    diff: ManifestDiff | None


def _finding(
    rule: str, where: str, message: str, severity: Severity, evidence: str = ""
) -> Finding:
    return Finding(rule, severity, Confidence.HIGH, Location(where), message, evidence)


def _diff_findings(change: ManifestDiff, where: str) -> list[Finding]:
    out = []
    if change.relabelled:
        out.append(
            _finding(
                "DATA-PRV-001",
                where,
                f"{change.relabelled} row(s) kept their features but changed label since the "
                "baseline",
                Severity.HIGH,
            )
        )
    if change.added or change.removed or change.changed:
        out.append(
            _finding(
                "DATA-PRV-003",
                where,
                f"since the baseline: {change.added} row(s) added, {change.removed} removed, "
                f"{change.changed} changed in place",
                Severity.LOW,
            )
        )
    return out


def _poison_findings(result: PoisonResult, table: Table, where: str) -> list[Finding]:
    out = []
    for stats in result.classes:
        if not stats.suspected:
            continue
        rows = result.flagged[np.isin(result.flagged, np.flatnonzero(table.y == stats.label))]
        masked = (
            f" once {len(stats.masked_features)} feature(s) are masked"
            if stats.masked_features
            else ""
        )
        shown = ", ".join(str(int(i)) for i in rows[:12]) + (", ..." if len(rows) > 12 else "")
        out.append(
            _finding(
                "DATA-POI-001",
                where,
                f"class {class_name(table, stats.label)!r}: {stats.flagged} of {stats.count} "
                f"samples look like other classes{masked} (p = {stats.p_value:.1e})",
                Severity.HIGH,
                f"rows {shown}",
            )
        )
    if len(result.isolation_forest):
        out.append(
            _finding(
                "DATA-POI-002",
                where,
                f"IsolationForest (baseline) calls {len(result.isolation_forest)} of "
                f"{len(table.y)} samples outliers",
                Severity.INFO,
            )
        )
    return out


def _model_input(model: Any, x: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    shape = tuple(getattr(model, "input_shape", ()) or ())
    if shape and int(np.prod(shape)) == int(np.prod(x.shape[1:])):
        return x.reshape(len(x), *shape)
    return x


def _load(data: str | Path | Table, label: str | int | None) -> tuple[Table, str, Path | None]:
    if isinstance(data, Table):
        return data, "memory", None
    return load_table(data, label), str(data), Path(data)


def _baseline(
    baseline: DataManifest | str | Path | None, key: VerifyingKey | None
) -> DataManifest | None:
    if baseline is None:
        return None
    manifest = baseline if isinstance(baseline, DataManifest) else read_manifest(baseline)
    if key is not None:
        verify_manifest(manifest, key)
    return manifest


def check_data(
    data: str | Path | Table,
    *,
    label: str | int | None = None,
    baseline: DataManifest | str | Path | None = None,
    model: object | None = None,
    settings: DataSettings | None = None,
    sign_key: SigningKey | None = None,
    verify_key: VerifyingKey | None = None,
    source: str | None = None,
) -> DataCheck:
    """Check a training set and record its manifest.

    Args:
        data: a CSV/Parquet/NPZ file, or a loaded :class:`~mlwarden.datasets.Table`.
        label: the label column (see :func:`~mlwarden.datasets.load_table`).
        baseline: the manifest (or its path) of data trusted before: schema, ranges, labels
            and rows are compared with it, and its recorded score is the gate's baseline.
        model: an adapter whose representations feed poison detection (a PyTorch model's
            penultimate layer, or an adapter with ``embed``); ``None`` uses raw features.
        settings: ``[data]`` settings (thresholds, gate margin).
        sign_key: sign the new manifest with this key.
        verify_key: the baseline must carry a valid signature by this key.
        source: where the data came from (default: its path).

    Raises:
        DatasetError: the data cannot be read (ragged CSV, missing labels, ...).
        ManifestError: the baseline cannot be read.
        SignatureError: ``verify_key`` is given and the baseline's signature is invalid.
    """
    cfg = settings or DataSettings()
    started = datetime.now(timezone.utc)
    table, where, path = _load(data, label)
    base = _baseline(baseline, verify_key)
    checks = run_checks(table, where, base, cfg.check_options())
    record = build_manifest(table, path=path, source=source or where, label=_name(label))
    change = diff(base, record) if base is not None else None
    reps = model_representations(model, _model_input(model, table.X)) if model is not None else None
    poison = detect_poison(
        table.X,
        table.y,
        representations=None if reps is None else reps.vectors,
        source="raw" if reps is None else reps.source,
        options=cfg.poison_options(),
    )
    gate = _gate(table, poison, base, cfg)
    findings = [*checks.findings, *(_diff_findings(change, where) if change else [])]
    findings += _poison_findings(poison, table, where)
    if gate is not None and not gate.passed:
        findings.append(_gate_finding(gate, where))
    score = None if gate is None else {"metric": "accuracy", "value": round(gate.score_with, 6)}
    manifest = replace(record, score=score)
    if sign_key is not None:
        manifest = sign_manifest(manifest, sign_key)
    evidence = {
        "risk": "ML02",
        "flagged_per_class": _class_chart(poison, table),
        "checks": checks.evidence,
        "diff": change.to_dict() if change else None,
        "poison": poison.to_dict(),
        "gate": gate.to_dict() if gate else None,
        "manifest": {
            "digest": manifest.digest,
            "rows": manifest.rows,
            "signed": sign_key is not None,
        },
    }
    report = Report(
        command="data check",
        findings=tuple(findings),
        metrics=_metrics(table, poison, gate),
        scanned=(where,),
        evidence={"data": evidence},
        started_at=started,
        finished_at=datetime.now(timezone.utc),
    )
    return DataCheck(report, manifest, poison, gate, change)


def _class_chart(poison: PoisonResult, table: Table) -> dict[str, Any]:
    return {
        "chart": "bar",
        "title": "Samples flagged as foreign to their label, per class",
        "labels": [class_name(table, c.label) for c in poison.classes],
        "values": [round(c.rate, 4) for c in poison.classes],
        "y_label": "share of the class flagged",
        "y_range": [0, 1],
    }


def _name(label: str | int | None) -> str | None:
    return None if label is None else str(label)


def _gate(
    table: Table, poison: PoisonResult, base: DataManifest | None, cfg: DataSettings
) -> GateResult | None:
    if not cfg.gate:
        return None
    recorded = (base.score or {}).get("value") if base is not None else None
    return retrain_gate(
        table.X,
        table.y,
        poison.flagged,
        baseline=float(recorded) if isinstance(recorded, (int, float)) else None,
        margin=cfg.gate_margin,
        folds=cfg.gate_folds,
        seed=cfg.seed,
    )


def _gate_finding(gate: GateResult, where: str) -> Finding:
    return _finding(
        "DATA-GATE-001",
        where,
        f"cross-validated accuracy {gate.score_with:.3f} with this data is {gate.drop:.3f} "
        f"below the baseline {gate.baseline:.3f} ({gate.baseline_source}; margin "
        f"{gate.margin:.3f}); without the {gate.flagged} flagged rows: {gate.score_without:.3f}",
        Severity.HIGH,
    )


def _metrics(table: Table, poison: PoisonResult, gate: GateResult | None) -> dict[str, MetricValue]:
    out: dict[str, MetricValue] = {
        "data.rows": len(table.y),
        "data.classes": len(table.classes),
        "data.flagged": len(poison.flagged),
        "data.suspected_classes": ",".join(class_name(table, c) for c in poison.suspected),
        "data.isolation_forest_outliers": len(poison.isolation_forest),
        "data.representation": poison.source,
    }
    if gate is not None:
        out.update(
            {
                "data.gate.score_with": round(gate.score_with, 4),
                "data.gate.score_without": round(gate.score_without, 4),
                "data.gate.baseline": round(gate.baseline, 4),
                "data.gate.passed": gate.passed,
            }
        )
    return out
