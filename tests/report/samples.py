"""Rich sample reports for the HTML renderer tests: every chart kind, statuses, hostile text."""

from __future__ import annotations

import math
from datetime import datetime, timedelta, timezone
from typing import Any

from mlwarden.findings import (
    Confidence,
    Finding,
    ItemError,
    Location,
    Report,
    Severity,
    SkippedItem,
)

T0 = datetime(2024, 5, 1, 12, 0, 0, tzinfo=timezone.utc)
EPS = [0.0, 0.05, 0.1, 0.15, 0.2, 0.3]
EVIL = "<script>alert('pwned')</script>"


def digit(kind: str, noise: float = 0.0) -> list[list[float]]:
    """An 8x8 grey glyph (a ring or a bar) with a deterministic perturbation pattern."""
    out = []
    for r in range(8):
        row = []
        for c in range(8):
            if kind == "ring":
                on = 2.2 <= math.hypot(r - 3.5, c - 3.5) <= 3.4
            else:
                on = 3 <= c <= 4 and 1 <= r <= 6
            wiggle = noise * math.sin(r * 1.7 + c * 2.3)
            row.append(round(min(max((0.9 if on else 0.05) + wiggle, 0.0), 1.0), 3))
        out.append(row)
    return out


def _f(rule: str, sev: Severity, path: str, msg: str, ev: str = "", **loc: Any) -> Finding:
    return Finding(rule, sev, Confidence.HIGH, Location(path, **loc), msg, evidence=ev)


def _roc(power: float) -> dict[str, list[float]]:
    fpr = [10 ** (-3 + 3 * i / 20) for i in range(21)]
    return {"x": fpr, "y": [round(min(1.0, f**power), 5) for f in fpr]}


def vulnerable_charts() -> dict[str, Any]:
    """Evidence blocks with every chart kind, as probes would write them."""
    robust = [0.97, 0.62, 0.21, 0.05, 0.01, 0.0]
    return {
        "evasion": {
            "risk": "ML01",
            "norm": "linf",
            "clean_accuracy": 0.97,
            "samples": 200,
            "curve": {
                "chart": "line",
                "title": "Robust accuracy vs epsilon",
                "x": EPS,
                "series": {
                    "white-box (PGD)": robust,
                    "black-box (Square)": [0.97, 0.8, 0.5, 0.3, 0.2, float("nan")],
                },
                "x_label": "epsilon (L∞)",
                "y_label": "robust accuracy",
                "threshold": 0.5,
            },
            "per_class": {
                "chart": "bar",
                "title": "Robust accuracy per class at eps 0.1",
                "labels": [str(i) for i in range(10)],
                "values": [0.3, 0.1, 0.25, 0.05, 0.4, 0.2, 0.15, 0.35, 0.1, 0.2],
                "threshold": 0.2,
                "bad": "below",
                "y_range": [0, 1],
                "y_label": "robust accuracy",
            },
            "examples": {
                "chart": "images",
                "title": "Adversarial examples (eps 0.1)",
                "columns": 4,
                "images": [digit("ring"), digit("ring", 0.1), digit("bar"), digit("bar", 0.1)],
                "captions": ["0 (clean)", "0 → 6", "1 (clean)", "1 → 7"],
            },
        },
        "membership": {
            "risk": "ML04",
            "auc": 0.81,
            "tpr_at_1pct_fpr": 0.12,
            "roc": {
                "chart": "line",
                "title": "Membership inference ROC",
                "log_x": True,
                "log_y": True,
                "diagonal": True,
                "x_label": "false positive rate",
                "y_label": "true positive rate",
                "series": {"LiRA": _roc(0.35), "loss threshold": _roc(0.7)},
            },
        },
        "extraction": {
            "risk": "ML05",
            "fidelity": {
                "chart": "line",
                "title": "Extraction fidelity vs queries",
                "log_x": True,
                "x": [100, 300, 1000, 3000, 10000, 30000],
                "series": {"surrogate agreement": [0.41, 0.63, 0.82, 0.91, 0.95, 0.97]},
                "x_label": "queries",
                "y_label": "agreement",
            },
        },
        "drift": {
            "risk": "ML08",
            "features": 20,
            "psi": {
                "chart": "bar",
                "title": "Drift per feature (PSI)",
                "labels": [f"feature_{i:02d}" for i in range(20)],
                "values": [
                    0.02 + (0.31 if i in (3, 11, 17) else 0.01 * (i % 5)) for i in range(20)
                ],
                "threshold": 0.2,
                "y_label": "PSI",
            },
            "tests": {
                "chart": "table",
                "title": "Drifted features",
                "columns": ["feature", "test", "statistic", "p-value", "drift"],
                "rows": [
                    ["feature_03", "KS", 0.31, 1e-12, True],
                    ["feature_11", "KS", 0.29, 3e-10, True],
                ],
            },
        },
    }


def vulnerable_report() -> Report:
    """An assessment of the demo's vulnerable setup: fails, warnings, charts, hostile text."""
    findings = (
        _f(
            "SCAN-PKL-001",
            Severity.CRITICAL,
            f"models/{EVIL}.pkl",
            f"pickle calls posix.system {EVIL}",
            "posix.system('echo mlwarden-demo-payload')",
            offset=42,
        ),
        _f(
            "SCAN-PKL-002",
            Severity.MEDIUM,
            "models/model.joblib",
            "unknown global mylib.Scaler",
            "mylib.Scaler",
        ),
        _f(
            "AUD-EVA-001",
            Severity.HIGH,
            "model.onnx",
            "robust accuracy 0.21 at eps 0.1 (threshold 0.50)",
            "linf eps=0.1 robust_accuracy=0.2100",
        ),
        _f("PLUGIN-X-001", Severity.LOW, "data/train.csv", "a plugin rule the catalogue lacks"),
    )
    risks = {
        "ML02": {
            "status": "not assessed",
            "reason": "No training data was given.",
            "enable": "--train DATA --label COL",
        },
        "ML04": {
            "status": "fail",
            "summary": "Membership inference reaches AUC 0.81.",
            "mitigation": ["Return labels only", "Train with differential privacy"],
            "snippet": "policy:\n  output: label_only\n",
        },
        "ML08": {"status": "warn", "summary": "3 of 20 features drifted (PSI > 0.2)."},
        "ML05": {"status": "warn", "summary": "A surrogate reaches 95% agreement in 10k queries."},
    }
    return Report(
        command="assess",
        findings=findings,
        skipped=(SkippedItem("README.md", "not a model file"),),
        errors=(ItemError(f"broken/{EVIL}.pt", "truncated zip"),),
        metrics={"files": 3, "duration_s": 12.5},
        scanned=("models/a.pkl", "models/model.joblib", "model.onnx"),
        evidence={"label": "Vulnerable setup", "risks": risks, **vulnerable_charts()},
        tool_version="0.9.0",
        started_at=T0,
        finished_at=T0 + timedelta(seconds=12.5),
    )


def secure_report() -> Report:
    """The secure setup of the demo: mostly passing, same probes."""
    charts = vulnerable_charts()
    charts["evasion"]["curve"]["series"] = {"white-box (PGD)": [0.95, 0.9, 0.81, 0.66, 0.5, 0.3]}
    charts["evasion"]["per_class"]["values"] = [
        0.86,
        0.82,
        0.79,
        0.74,
        0.88,
        0.8,
        0.77,
        0.84,
        0.7,
        0.81,
    ]
    charts["membership"]["auc"] = 0.52
    charts["drift"]["psi"]["values"] = [0.01 * (i % 5) + 0.01 for i in range(20)]
    charts["drift"]["tests"]["rows"] = []
    risks = {
        "ML01": {"status": "pass", "summary": "Robust accuracy 0.81 at eps 0.1."},
        "ML04": {"status": "pass", "summary": "Membership inference is at chance (AUC 0.52)."},
        "ML05": {"status": "pass", "summary": "Rate limits stop extraction at 1k queries."},
        "ML08": {"status": "pass", "summary": "No feature drifted."},
    }
    return Report(
        command="assess",
        findings=(),
        scanned=("models/model.safetensors",),
        evidence={"label": "Secure setup", "risks": risks, **charts},
        tool_version="0.9.0",
        started_at=T0 + timedelta(minutes=1),
        finished_at=T0 + timedelta(minutes=1, seconds=9),
    )
