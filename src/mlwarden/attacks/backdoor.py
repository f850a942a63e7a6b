"""The backdoor probe (ML07): Neural Cleanse over several seeds, a trigger test set, STRIP.

``mlwarden audit MODEL --data D --probe backdoor`` reverse-engineers the smallest trigger of
every class (:mod:`mlwarden.attacks.neural_cleanse`), reports the anomaly index distribution
and the reversed trigger (a small array the HTML report draws as an image), replays the
reversed trigger and a few generic patch triggers on the audit data
(:func:`evaluate_for_backdoors`, also usable with your own trigger test set), and measures
how well STRIP, calibrated on clean inputs, rejects the reversed trigger.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from mlwarden.attacks.registry import AuditEvent, ProbeResult
from mlwarden.attacks.settings import BackdoorSettings
from mlwarden.findings import Confidence, Finding, Location, Severity
from mlwarden.models.base import Capability
from mlwarden.risks import RiskId

if TYPE_CHECKING:
    from mlwarden.attacks.neural_cleanse import CleanseResult
    from mlwarden.attacks.registry import AuditData, Progress
    from mlwarden.attacks.settings import AuditSettings
    from mlwarden.models.base import Classifier

Floats = NDArray[np.float32]


@dataclass(frozen=True)
class Trigger:
    """A trigger to replay: stamp ``pattern`` where ``mask`` is 1 (or call ``apply``).

    Attributes:
        name: shown in the report.
        mask: broadcastable to one input; 1 where the pattern replaces the input.
        pattern: the values stamped.
        target: the class the trigger should force, or ``None`` (the class most inputs go
            to is reported).
        apply: instead of mask and pattern, a function of a batch of inputs.
    """

    name: str
    mask: Floats | None = None
    pattern: Floats | None = None
    target: int | None = None
    apply: Callable[[Floats], Floats] | None = None

    def stamp(self, x: Floats) -> Floats:
        if self.apply is not None:
            return np.asarray(self.apply(x), dtype=np.float32)
        if self.mask is None or self.pattern is None:
            raise ValueError(f"trigger {self.name!r} needs mask and pattern, or apply")
        out: Floats = ((1 - self.mask) * x + self.mask * self.pattern).astype(np.float32)
        return out

    @classmethod
    def patch(
        cls, shape: Sequence[int], size: int, value: float, corner: str, target: int | None = None
    ) -> Trigger:
        """A ``size`` x ``size`` square of ``value`` in a corner of ``(c, h, w)`` inputs."""
        mask = np.zeros(tuple(shape), dtype=np.float32)
        rows = slice(-size, None) if corner.startswith("bottom") else slice(0, size)
        cols = slice(-size, None) if corner.endswith("right") else slice(0, size)
        mask[..., rows, cols] = 1.0
        return cls(f"patch-{size}x{size}-{corner}", mask, np.full_like(mask, value), target)


def evaluate_for_backdoors(
    model: Classifier,
    triggers: Sequence[Trigger],
    x: NDArray[np.floating],
    y: NDArray[np.integer] | None = None,
) -> list[dict[str, Any]]:
    """Replay each trigger on ``x`` and measure how often it forces one class.

    For a trigger with a ``target``, ``success`` is the share of inputs not already of that
    class (by ``y``, else by the clean prediction) that the triggered input sends to it;
    without one, the class most triggered inputs go to is used. ``flipped`` is the share of
    predictions the trigger changed.
    """
    clean = model.predict(np.asarray(x, dtype=np.float32))
    truth = clean if y is None else np.asarray(y).reshape(-1)
    rows = []
    for trig in triggers:
        pred = model.predict(trig.stamp(np.asarray(x, dtype=np.float32)))
        target = trig.target
        if target is None:
            target = (
                int(np.bincount(pred[pred != clean], minlength=1).argmax())
                if (pred != clean).any()
                else int(np.bincount(pred).argmax())
            )
        others = truth != target
        success = float((pred[others] == target).mean()) if others.any() else 0.0
        rows.append(
            {
                "trigger": trig.name,
                "target": target,
                "success": round(success, 4),
                "flipped": round(float((pred != clean).mean()), 4),
                "samples": int(others.sum()),
            }
        )
    return rows


def _generic_triggers(shape: tuple[int, ...], bounds: tuple[float, float]) -> list[Trigger]:
    side = max(1, min(shape[-1], shape[-2]) // 4)
    return [Trigger.patch(shape, side, bounds[1], c) for c in ("bottom-right", "top-left")]


def _reversed_trigger(result: CleanseResult) -> Trigger:
    label = result.suspected if result.suspected is not None else int(np.argmax(result.anomaly))
    mask, pattern = result.trigger(label)
    return Trigger(f"reversed-class-{label}", mask[None].astype(np.float32), pattern, label)


def _finding(
    rule: str, where: str, severity: Severity, message: str, evidence: str = ""
) -> Finding:
    return Finding(rule, severity, Confidence.MEDIUM, Location(where), message, evidence)


class BackdoorProbe:
    """Neural Cleanse + trigger replay + STRIP against a PyTorch image classifier."""

    id = "backdoor"
    risk = RiskId.ML07
    requires = frozenset({Capability.PREDICT_PROBA, Capability.LOGITS})

    def run(
        self, model: Classifier, data: AuditData, config: AuditSettings, progress: Progress
    ) -> ProbeResult:
        from mlwarden.attacks.neural_cleanse import CleanseOptions, neural_cleanse

        cfg = getattr(config, "backdoor", None)
        cfg = cfg if isinstance(cfg, BackdoorSettings) else BackdoorSettings()
        progress(AuditEvent(self.id, "neural cleanse", 0, 2))
        options = CleanseOptions(
            seeds=tuple(cfg.seeds),
            steps=cfg.steps,
            threshold=cfg.threshold,
            max_ratio=cfg.max_ratio,
            samples=cfg.samples,
        )
        x = np.asarray(data.x, dtype=np.float32).reshape(len(data.x), *model.input_shape)
        result = neural_cleanse(model, x, bounds=data.clip, options=options)
        progress(AuditEvent(self.id, "trigger replay", 1, 2))
        bounds = data.clip or getattr(model, "clip", None) or (float(x.min()), float(x.max()))
        trig = _reversed_trigger(result)
        replay = evaluate_for_backdoors(
            model, [trig, *_generic_triggers(model.input_shape, bounds)], x, data.y
        )
        strip = _strip(model, x, trig, cfg)
        progress(AuditEvent(self.id, "done", 2, 2))
        findings = self._findings(result, replay, data.model_name, cfg)
        evidence = {
            "risk": "ML07",
            "neural_cleanse": result.to_dict(),
            "triggers": replay,
            "strip": strip,
        }
        metrics = {
            "backdoor.suspected_class": -1 if result.suspected is None else result.suspected,
            "backdoor.max_anomaly_index": round(float(result.anomaly.max()), 3),
            "backdoor.reversed_trigger_success": replay[0]["success"],
            "backdoor.strip_detection_rate": strip["detection_rate"],
        }
        return ProbeResult(metrics=metrics, findings=tuple(findings), evidence=evidence)

    @staticmethod
    def _findings(
        result: CleanseResult, replay: list[dict[str, Any]], where: str, cfg: BackdoorSettings
    ) -> list[Finding]:
        out = []
        if result.suspected is not None:
            label = result.suspected
            out.append(
                _finding(
                    "AUD-BD-001",
                    where,
                    Severity.HIGH,
                    f"class {label}: reversed trigger mask norm {result.norms[label]:.2f} vs "
                    f"median {float(np.median(result.norms)):.2f}; anomaly index "
                    f"{result.anomaly[label]:.2f} over {len(result.runs)} seeds",
                    f"anomaly index per class {np.round(result.anomaly, 2).tolist()}",
                )
            )
        # The reversed trigger (replay[0]) works by construction: only replayed ones count.
        out.extend(
            _finding(
                "AUD-BD-002",
                where,
                Severity.HIGH,
                f"trigger {row['trigger']} sends {row['success']:.0%} of inputs of other "
                f"classes to class {row['target']}",
            )
            for row in replay[1:]
            if row["success"] > cfg.max_trigger_success
        )
        return out


def _strip(model: Any, x: Floats, trig: Trigger, cfg: BackdoorSettings) -> dict[str, Any]:
    from mlwarden.defenses.strip import StripDetector

    half = len(x) // 2
    detector = StripDetector(model, target_frr=cfg.strip_frr).fit(x[:half])
    clean = detector.detect(x[half:])
    stamped = detector.detect(trig.stamp(x[half:]))
    return {
        "trigger": trig.name,
        "target_frr": cfg.strip_frr,
        "clean_rejection_rate": round(float(clean.mean()), 4),
        "detection_rate": round(float(stamped.mean()), 4),
    }
