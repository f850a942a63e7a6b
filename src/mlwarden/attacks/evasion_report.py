"""Turn evasion curves into findings (AUD-EVA-00x), metrics and JSON-ready evidence.

Evidence holds what the HTML report draws later: the robust-accuracy curve per mode, the
per-class table, naive vs adaptive numbers of defended models, each defence's clean cost,
black-box success at budget with its distance quantiles, and a few adversarial examples as
small nested lists when the inputs are images.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from mlwarden.findings import Confidence, Finding, Location
from mlwarden.rules import get_rule

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

    from mlwarden.attacks.adaptive import DefendedEvaluation
    from mlwarden.attacks.evasion_runs import Curve
    from mlwarden.attacks.settings import EvasionSettings
    from mlwarden.defenses.base import Calibration

_MAX_IMAGE_VALUES = 64 * 64 * 3


def finding(rule_id: str, source: str, message: str, evidence: str, **details: Any) -> Finding:
    """A finding of ``rule_id`` at the audited model, with the rule's default severity."""
    return Finding(
        rule_id=rule_id,
        severity=get_rule(rule_id).severity,
        confidence=Confidence.HIGH,
        location=Location(source),
        message=message,
        evidence=evidence,
        details={k: v for k, v in details.items() if v is not None},
    )


def curve_table(curve: Curve, y: NDArray[np.int64]) -> dict[str, Any]:
    """Robust accuracy per eps, overall and per class."""
    import numpy as np

    robust = curve.robust()
    per_class = {
        str(int(c)): [round(float(v), 4) for v in robust[:, y == c].mean(axis=1)]
        for c in np.unique(y)
    }
    correct = curve.clean_correct
    return {
        "mode": curve.mode,
        "points": [
            {
                "eps": eps,
                "robust_accuracy": round(acc, 4),
                "attack_success_rate": round(
                    float((curve.beaten[i] & correct).sum() / max(int(correct.sum()), 1)), 4
                ),
            }
            for i, (eps, acc) in enumerate(zip(curve.eps, curve.robust_accuracy(), strict=True))
        ],
        "per_class": per_class,
        "attacks": curve.summaries,
        **curve.extra,
    }


def examples(
    curve: Curve,
    x: NDArray[np.float32],
    y: NDArray[np.int64],
    labels: NDArray[np.int64],
    eps_index: int,
    count: int,
    image_shape: tuple[int, ...] | None,
) -> list[dict[str, Any]]:
    """Up to ``count`` beaten inputs at ``eps_index``: labels, distance, and the images."""
    import numpy as np

    picked = np.flatnonzero(curve.beaten[eps_index] & curve.clean_correct)[:count]
    adv = curve.x_adv[eps_index]
    out = []
    for i in picked:
        item: dict[str, Any] = {
            "index": int(i),
            "label": int(y[i]),
            "adversarial_label": int(labels[i]),
            "eps": curve.eps[eps_index],
            "linf": round(float(np.abs(adv[i] - x[i]).max()), 5),
            "l2": round(float(np.linalg.norm((adv[i] - x[i]).ravel())), 5),
        }
        if image_shape is not None and math.prod(image_shape) <= _MAX_IMAGE_VALUES:
            item["shape"] = list(image_shape)
            item["original"] = np.round(x[i].reshape(image_shape), 3).tolist()
            item["adversarial"] = np.round(adv[i].reshape(image_shape), 3).tolist()
        out.append(item)
    return out


def robustness_findings(
    curve: Curve, ev: EvasionSettings, source: str, what: str = "the model"
) -> list[Finding]:
    """AUD-EVA-001 at the target eps, and AUD-EVA-003 for black-box success within budget."""
    i = curve.index(ev.target())
    acc, eps = curve.robust_accuracy()[i], curve.eps[i]
    out = []
    if acc < ev.min_robust_accuracy:
        out.append(
            finding(
                "AUD-EVA-001",
                source,
                f"robust accuracy of {what} is {acc:.2f} under {curve.mode} {ev.norm} attacks "
                f"at eps {eps:g} (threshold {ev.min_robust_accuracy:.2f})",
                f"{ev.norm} eps={eps:g} robust_accuracy={acc:.4f} mode={curve.mode} {what}",
                eps=eps,
                robust_accuracy=round(acc, 4),
                threshold=ev.min_robust_accuracy,
            )
        )
    if curve.mode == "blackbox":
        correct = curve.clean_correct
        rate = float((curve.beaten[i] & correct).sum() / max(int(correct.sum()), 1))
        if rate > ev.max_blackbox_success:
            out.append(
                finding(
                    "AUD-EVA-003",
                    source,
                    f"black-box attacks evade {what} on {rate:.0%} of correctly classified "
                    f"inputs within {ev.budget} queries each at {ev.norm} eps {eps:g}",
                    f"{ev.norm} eps={eps:g} success={rate:.4f} budget={ev.budget} {what}",
                    eps=eps,
                    success_rate=round(rate, 4),
                    budget=ev.budget,
                )
            )
    return out


def defense_findings(
    evaluation: DefendedEvaluation,
    calibrations: tuple[Calibration, ...],
    ev: EvasionSettings,
    source: str,
) -> list[Finding]:
    """AUD-EVA-002 where naive and adaptive differ; AUD-EVA-004 for costly defences."""
    out = []
    naive, adaptive = evaluation.naive.robust_accuracy(), evaluation.adaptive.robust_accuracy()
    gaps = [
        (n - a, eps, n, a) for eps, n, a in zip(evaluation.naive.eps, naive, adaptive, strict=True)
    ]
    gap, eps, n_acc, a_acc = max(gaps)
    if gap > ev.max_gap:
        out.append(
            finding(
                "AUD-EVA-002",
                source,
                f"the defence looks robust to a naive attack (robust accuracy {n_acc:.2f}) but "
                f"not to an adaptive one ({a_acc:.2f}) at {ev.norm} eps {eps:g}: gradient masking",
                f"{ev.norm} eps={eps:g} naive={n_acc:.4f} adaptive={a_acc:.4f}",
                eps=eps,
                naive=round(n_acc, 4),
                adaptive=round(a_acc, 4),
            )
        )
    costly = [
        c
        for c in calibrations
        if c.defense != "pipeline" and c.false_positive_rate > ev.max_defense_fpr
    ]
    out.extend(
        finding(
            "AUD-EVA-004",
            source,
            f"defence {cal.defense} refuses or changes {cal.false_positive_rate:.0%} of "
            f"clean inputs (limit {ev.max_defense_fpr:.0%})",
            f"{cal.defense} fpr={cal.false_positive_rate:.4f}",
            defense=cal.defense,
            false_positive_rate=round(cal.false_positive_rate, 4),
        )
        for cal in costly
    )
    return out


def _accuracy_series(table: dict[str, Any], clean: float) -> dict[str, list[float]]:
    points = table["points"]
    return {
        "x": [0.0, *(p["eps"] for p in points)],
        "y": [clean, *(p["robust_accuracy"] for p in points)],
    }


def evasion_charts(evidence: dict[str, Any], ev: EvasionSettings) -> dict[str, Any]:
    """Chart specs (``docs/report-charts.md``) drawn from the evasion evidence."""
    names = {"whitebox": "white-box", "blackbox": "black-box"}
    clean = evidence["clean_accuracy"]
    series = {
        f"{names.get(c['mode'], c['mode'])} (model)": _accuracy_series(c, clean)
        for c in evidence["curves"]
    }
    defended = evidence.get("defended")
    if defended:
        for kind in ("naive", "adaptive"):
            series[f"defended, {kind}"] = _accuracy_series(
                defended[kind], defended["clean_accuracy"]
            )
    charts: dict[str, Any] = {
        "robust_accuracy_chart": {
            "chart": "line",
            "title": f"Robust accuracy vs epsilon ({ev.norm})",
            "series": series,
            "x_label": f"epsilon ({ev.norm})",
            "y_label": "robust accuracy",
            "threshold": ev.min_robust_accuracy,
            "y_range": [0, 1],
        },
        "per_class_chart": _per_class_chart(evidence["curves"], ev, names),
    }
    images = _example_images(evidence.get("examples", []), evidence.get("clip"))
    if images:
        charts["examples_chart"] = images
    return charts


def _per_class_chart(
    curves: list[dict[str, Any]], ev: EvasionSettings, names: dict[str, str]
) -> dict[str, Any]:
    eps = [p["eps"] for p in curves[0]["points"]]
    i = min(range(len(eps)), key=lambda k: abs(eps[k] - ev.target()))
    labels = list(curves[0]["per_class"])
    values = {
        names.get(c["mode"], c["mode"]): [c["per_class"][k][i] for k in labels] for c in curves
    }
    spec: dict[str, Any] = {
        "chart": "bar",
        "title": f"Robust accuracy per class at epsilon {eps[i]:g}",
        "labels": labels,
        "threshold": ev.min_robust_accuracy,
        "bad": "below",
        "y_label": "robust accuracy",
        "y_range": [0, 1],
    }
    if len(values) == 1:
        spec["values"] = next(iter(values.values()))
    else:
        spec["series"] = values
    return spec


def _example_images(items: list[dict[str, Any]], clip: list[float | None] | None) -> dict[str, Any]:
    """Clean/adversarial pairs scaled to [0, 1] by the input bounds (empty without images)."""
    import numpy as np

    pairs = [item for item in items if "original" in item]
    if not pairs:
        return {}
    bounds = [float(v) for v in clip or () if v is not None]
    low, high = bounds if len(bounds) == 2 else (0.0, 1.0)
    span = (high - low) or 1.0
    images, captions = [], []
    for item in pairs:
        for key in ("original", "adversarial"):
            scaled = (np.asarray(item[key], dtype=np.float64) - low) / span
            images.append(np.round(scaled, 3).tolist())
        captions += [
            f"{item['label']} (clean)",
            f"{item['label']} → {item['adversarial_label']}",
        ]
    return {
        "chart": "images",
        "title": f"Adversarial examples (epsilon {pairs[0]['eps']:g})",
        "images": images,
        "captions": captions,
        "columns": 2,
    }
