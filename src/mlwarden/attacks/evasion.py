"""The evasion probe (ML01): robust accuracy vs epsilon, honestly measured.

White-box (PGD + APGD-CE) when the model gives gradients, black-box (HopSkipJump + Square)
otherwise or on request; defended models (``DefendedClassifier`` or ``[audit.evasion]
defenses``) get the naive and the adaptive number side by side. The attacked inputs are a
class-stratified sample of the data; the remaining inputs calibrate the defences.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from mlwarden.attacks.evasion_report import (
    curve_table,
    defense_findings,
    evasion_charts,
    examples,
    robustness_findings,
)
from mlwarden.attacks.evasion_runs import Curve, blackbox_curve, whitebox_curve
from mlwarden.attacks.gradients import whitebox_objective
from mlwarden.attacks.registry import AuditData, ProbeResult, Progress
from mlwarden.attacks.threat import ThreatModel
from mlwarden.errors import UsageError
from mlwarden.models.base import Capability, MissingCapability
from mlwarden.risks import RiskId

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

    from mlwarden.attacks.settings import AuditSettings, EvasionSettings
    from mlwarden.defenses.pipeline import DefendedClassifier
    from mlwarden.findings import Finding
    from mlwarden.models.base import Classifier

_MIN_CALIBRATION = 20


@dataclass
class _Job:
    """One evasion run: the attacked inputs, the threat model, and where results go."""

    x: NDArray[np.float32]
    y: NDArray[np.int64]
    base: ThreatModel
    config: AuditSettings
    image_shape: tuple[int, ...] | None
    progress: Progress
    source: str
    evidence: dict[str, Any] = field(default_factory=dict)


class EvasionProbe:
    """Adversarial-input robustness (ML01); needs ``predict``, uses gradients if offered."""

    id = "evasion"
    risk = RiskId.ML01
    requires = frozenset({Capability.PREDICT})
    description = "Robust accuracy under white-box and black-box evasion attacks"

    def run(
        self, model: Classifier, data: AuditData, config: AuditSettings, progress: Progress
    ) -> ProbeResult:
        from mlwarden.defenses.pipeline import DefendedClassifier

        ev = config.evasion
        x_all, y_all = _conform(model, data)
        image_shape = _image_shape(ev, data, tuple(x_all.shape[1:]))
        attacked, rest = stratified_split(y_all, config.max_samples, config.seed)
        base = ThreatModel(ev.norm, ev.target(), *_bounds(ev, model, data, x_all))
        job = _Job(
            x_all[attacked], y_all[attacked], base, config, image_shape, progress, data.model_name
        )
        job.evidence.update(
            norm=ev.norm,
            eps=ev.eps_values(),
            target_eps=ev.target(),
            samples=len(attacked),
            clip=[base.clip_min, base.clip_max],
        )
        if ev.defenses and not isinstance(model, DefendedClassifier):
            model = build_defended(model, ev, base, image_shape, config.seed)
        if isinstance(model, DefendedClassifier):
            if not model.calibrations:
                # NOTE: defences are calibrated on inputs that are not attacked when there are
                # enough of them, so their false-positive rate is measured out of sample.
                cal = rest if len(rest) >= _MIN_CALIBRATION else attacked
                model.calibrate(x_all[cal], y_all[cal])
                job.evidence["calibration_samples"] = len(cal)
            findings, curve = self._defended(model, job)
        else:
            findings, curve = self._plain(model, job)
        i = curve.index(ev.target())
        labels = _labels(model, curve.x_adv[i])
        job.evidence["examples"] = examples(
            curve, job.x, job.y, labels, i, ev.examples, image_shape
        )
        job.evidence.update(evasion_charts(job.evidence, ev))
        metrics = _metrics(curve, job.evidence)
        return ProbeResult(metrics=metrics, findings=tuple(findings), evidence=job.evidence)

    def _plain(self, model: Classifier, job: _Job) -> tuple[list[Finding], Curve]:
        ev = job.config.evasion
        objective = whitebox_objective(model) if ev.attack != "blackbox" else None
        if ev.attack == "whitebox" and objective is None:
            raise MissingCapability(
                f"white-box evasion needs {Capability.LOSS_GRADIENT.value} (or a torch model); "
                f"{type(model).__name__} does not offer it"
            )
        curves = []
        if objective is not None:
            curves.append(
                whitebox_curve(objective, model, job.x, job.y, job.base, job.config, job.progress)
            )
        if objective is None or ev.attack == "both":
            curves.append(
                blackbox_curve(
                    model, job.x, job.y, job.base, job.config, job.image_shape, job.progress
                )
            )
        job.evidence["clean_accuracy"] = round(float(curves[0].clean_correct.mean()), 4)
        job.evidence["curves"] = [curve_table(c, job.y) for c in curves]
        job.evidence["mode"] = curves[0].mode
        findings = [f for c in curves for f in robustness_findings(c, ev, job.source)]
        return findings, curves[0]

    def _defended(self, model: DefendedClassifier, job: _Job) -> tuple[list[Finding], Curve]:
        from mlwarden.attacks.adaptive import evaluate_defended

        ev, y = job.config.evasion, job.y
        result = evaluate_defended(
            model, job.x, y, job.base, job.config, job.image_shape, job.progress
        )
        job.evidence["mode"] = result.bare.mode
        job.evidence["clean_accuracy"] = round(float(result.bare.clean_correct.mean()), 4)
        job.evidence["curves"] = [curve_table(result.bare, y)]
        job.evidence["defended"] = {
            "defenses": [c.to_dict() for c in model.calibrations],
            "clean_accuracy": round(float(result.naive.clean_correct.mean()), 4),
            "naive": curve_table(result.naive, y),
            "adaptive": curve_table(result.adaptive, y),
            "detected_fraction": [round(v, 4) for v in result.detected],
            "techniques": result.techniques,
        }
        findings = robustness_findings(result.bare, ev, job.source, "the undefended model")
        findings += robustness_findings(result.adaptive, ev, job.source, "the defended model")
        findings += defense_findings(result, model.calibrations, ev, job.source)
        return findings, result.adaptive


def build_defended(
    model: Classifier,
    ev: EvasionSettings,
    base: ThreatModel,
    image_shape: tuple[int, ...] | None,
    seed: int,
) -> DefendedClassifier:
    """Wrap ``model`` in the defences named in ``ev.defenses`` (not calibrated yet)."""
    from mlwarden.defenses.base import Detector, Preprocessor
    from mlwarden.defenses.pipeline import DefendedClassifier
    from mlwarden.defenses.smoothing import BitDepth, MedianSmoothing, RandomNoise
    from mlwarden.defenses.squeeze import FeatureSqueezingDetector
    from mlwarden.defenses.threshold import ConfidenceThreshold

    pre: list[Preprocessor] = []
    det: list[Detector] = []
    median = MedianSmoothing(ev.median_size, image_shape) if image_shape else None
    for name in ev.defenses:
        if name == "smooth":
            if median is None:
                raise UsageError("spatial smoothing needs image inputs (set image_shape)")
            pre.append(median)
        elif name == "noise":
            pre.append(RandomNoise(ev.noise_sigma, base.clip_min, base.clip_max, seed))
        elif name == "squeeze":
            squeezers: list[Preprocessor] = [
                BitDepth(ev.squeeze_bits, base.clip_min, base.clip_max)
            ]
            if ev.squeeze_median and image_shape:
                squeezers.append(MedianSmoothing(ev.squeeze_median, image_shape))
            det.append(FeatureSqueezingDetector(model, squeezers, ev.detector_fpr))  # type: ignore[arg-type]
        else:
            det.append(ConfidenceThreshold(model, target_fpr=ev.detector_fpr))  # type: ignore[arg-type]
    return DefendedClassifier(model, pre, det)


def stratified_split(
    y: NDArray[np.int64], count: int, seed: int
) -> tuple[NDArray[np.intp], NDArray[np.intp]]:
    """(``count`` indices spread over the classes in proportion, the other indices)."""
    import numpy as np

    perm = np.random.default_rng(seed).permutation(len(y))
    ranks = np.zeros(len(y))
    for c in np.unique(y):
        members = perm[y[perm] == c]
        ranks[members] = (np.arange(len(members)) + 0.5) / len(members)
    order = perm[np.argsort(ranks[perm], kind="stable")]
    return np.sort(order[:count]), np.sort(order[count:])


def _conform(model: Classifier, data: AuditData) -> tuple[NDArray[np.float32], NDArray[np.int64]]:
    import numpy as np

    x = np.asarray(data.x, dtype=np.float32)
    y = np.asarray(data.y).astype(np.int64)
    if x.ndim < 2 or len(x) == 0 or len(x) != len(y):
        raise UsageError(f"need inputs (n, features) and n labels; got {x.shape} and {y.shape}")
    shape = tuple(model.input_shape)
    if shape and tuple(x.shape[1:]) != shape:
        if math.prod(x.shape[1:]) != math.prod(shape):
            raise UsageError(
                f"the data's input shape {x.shape[1:]} does not fit the model's {shape}"
            )
        x = x.reshape((len(x), *shape))
    if not np.isfinite(x).all():
        raise UsageError("the data holds NaN or infinite values")
    return x, y


def _image_shape(
    ev: EvasionSettings, data: AuditData, shape: tuple[int, ...]
) -> tuple[int, ...] | None:
    if ev.image_shape:
        return tuple(ev.image_shape)
    if data.image_shape:
        return tuple(data.image_shape)
    return shape if len(shape) >= 2 else None


def _bounds(
    ev: EvasionSettings, model: Classifier, data: AuditData, x: NDArray[np.float32]
) -> tuple[float, float]:
    """Settings first, then the adapter's ``clip``, the data source's, the data's range."""
    clip = getattr(model, "clip", None) or data.clip or (float(x.min()), float(x.max()))
    lo = ev.clip_min if ev.clip_min is not None else float(clip[0])
    hi = ev.clip_max if ev.clip_max is not None else float(clip[1])
    if hi <= lo:
        raise UsageError("input bounds are empty: set [audit.evasion] clip_min and clip_max")
    return lo, hi


def _labels(model: Classifier, x: NDArray[np.float32]) -> NDArray[np.int64]:
    import numpy as np

    return np.asarray(model.predict(x), dtype=np.int64)


def _metrics(curve: Curve, evidence: dict[str, Any]) -> dict[str, float | int | str]:
    out: dict[str, float | int | str] = {
        "evasion.mode": str(evidence["mode"]),
        "evasion.samples": int(evidence["samples"]),
        "evasion.clean_accuracy": float(evidence["clean_accuracy"]),
    }
    for eps, acc in zip(curve.eps, curve.robust_accuracy(), strict=True):
        out[f"evasion.robust_accuracy@{eps:g}"] = round(acc, 4)
    return out
