"""Honest evaluation of a defended model: the naive number next to the adaptive one.

*Naive*: attack the bare model, then send its adversarial inputs through the defence (what
most papers report). *Adaptive*: attack the whole defended pipeline, knowing the defence:
non-differentiable preprocessing is passed with BPDA (identity gradient), randomised
preprocessing is averaged with EOT, and detectors are attacked together with the classifier
(loss = clamped classifier margin - weight * hinge(detector score / threshold - 1/2),
success only when the answer is wrong AND nothing refuses it). A defence whose adaptive
number is far below its naive one is masking gradients, not adding robustness (AUD-EVA-002).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mlwarden.attacks.evasion_runs import Curve, blackbox_curve, whitebox_curve
from mlwarden.attacks.gradients import torch_forward, whitebox_objective
from mlwarden.attacks.objectives import ExpectationOverTransforms, Forward, Objective
from mlwarden.defenses.base import REJECTED
from mlwarden.defenses.squeeze import bpda

if TYPE_CHECKING:
    import numpy as np
    import torch
    from numpy.typing import NDArray

    from mlwarden.attacks.registry import Progress
    from mlwarden.attacks.settings import AuditSettings
    from mlwarden.attacks.threat import ThreatModel
    from mlwarden.defenses.pipeline import DefendedClassifier

    Tensor = torch.Tensor

#: Margin (in logits) beyond which the classifier term stops pulling, so the detector term
#: takes over once the answer is confidently wrong ("evade both").
_KAPPA = 5.0


class DefendedObjective(Objective):
    """The defended pipeline rebuilt in torch for gradient attacks (BPDA + joint detectors)."""

    def __init__(self, defended: DefendedClassifier, forward: Forward, weight: float = 1.0) -> None:
        self.defended, self.forward, self.weight = defended, forward, weight
        self.randomized = defended.randomized

    def evaluate(self, x: Tensor, y: Tensor) -> tuple[Tensor, Tensor]:
        import torch

        for pre in self.defended.preprocessors:
            x = bpda(pre, x)
        logits = self.forward(x)
        true = logits.gather(1, y[:, None])[:, 0]
        margin = logits.scatter(1, y[:, None], float("-inf")).amax(dim=1) - true
        loss, accepted = margin.clamp(max=_KAPPA), torch.ones_like(margin, dtype=torch.bool)
        for det in self.defended.detectors:
            threshold = max(float(getattr(det, "threshold", None) or 0.0), 1e-6)
            score = det.score_tensor(x, self.forward)  # type: ignore[attr-defined]
            # NOTE: a hinge, not the raw score: below half the threshold the detector is no
            # longer in the way, so the gradient goes back to the classifier's margin.
            loss = loss - self.weight * torch.relu(score / threshold - 0.5)
            accepted &= score <= threshold
        return loss, (margin > 0) & accepted


@dataclass
class DefendedEvaluation:
    """Naive and adaptive curves of one defended model (plus the bare model's)."""

    bare: Curve
    naive: Curve
    adaptive: Curve
    detected: list[float]  # per eps: share of the bare model's evasions the defence refused
    techniques: list[str]


def _transfer(
    defended: DefendedClassifier, bare: Curve, y: NDArray[np.int64], clean_ok: NDArray[np.bool_]
) -> tuple[Curve, list[float]]:
    """Send the bare model's adversarial inputs through the defence."""
    import numpy as np

    beaten, detected = [], []
    for i in range(len(bare.eps)):
        labels = np.asarray(defended.predict(bare.x_adv[i]), dtype=np.int64)
        hit = bare.beaten[i] & (labels != y) & (labels != REJECTED)
        beaten.append(hit)
        evasions = bare.beaten[i] & bare.clean_correct
        caught = evasions & (labels == REJECTED)
        detected.append(float(caught.sum() / evasions.sum()) if evasions.any() else 0.0)
    curve = Curve("naive", bare.eps, clean_ok, np.array(beaten), bare.x_adv, bare.summaries)
    return curve, detected


def _union(adaptive: Curve, naive: Curve) -> Curve:
    """The adaptive curve also counts the naive evasions (an input beaten by any attack)."""
    import numpy as np

    beaten = adaptive.beaten | naive.beaten
    advs = [
        np.where(_rows(adaptive.beaten[i], adv), adv, naive.x_adv[i])
        for i, adv in enumerate(adaptive.x_adv)
    ]
    return Curve(
        "adaptive",
        adaptive.eps,
        naive.clean_correct,
        beaten,
        advs,
        adaptive.summaries,
        adaptive.extra,
    )


def _rows(mask: NDArray[np.bool_], like: NDArray[Any]) -> NDArray[np.bool_]:
    return mask.reshape((-1,) + (1,) * (like.ndim - 1))


def evaluate_defended(
    defended: DefendedClassifier,
    x: NDArray[np.float32],
    y: NDArray[np.int64],
    base: ThreatModel,
    config: AuditSettings,
    image_shape: tuple[int, ...] | None,
    progress: Progress,
) -> DefendedEvaluation:
    """Attack the bare model (naive, transferred) and the whole pipeline (adaptive)."""
    import numpy as np

    ev = config.evasion
    inner = defended.model
    objective = whitebox_objective(inner) if ev.attack != "blackbox" else None
    forward = torch_forward(inner)
    clean_ok = np.asarray(defended.predict(x)) == y
    if objective is not None:
        bare = whitebox_curve(
            objective, inner, x, y, base, config, progress, "naive (bare model)", early_stop=False
        )
    else:
        bare = blackbox_curve(
            inner, x, y, base, config, image_shape, progress, "naive (bare model)"
        )
    naive, detected = _transfer(defended, bare, y, clean_ok)
    if forward is not None and ev.attack != "blackbox":
        adaptive_obj: Objective = DefendedObjective(defended, forward, ev.adaptive_weight)
        techniques = _techniques(defended)
        if adaptive_obj.randomized:
            adaptive_obj = ExpectationOverTransforms(adaptive_obj, ev.eot_samples)
        restarts = max(ev.restarts, ev.adaptive_restarts)
        raw = whitebox_curve(
            adaptive_obj, defended, x, y, base, config, progress, "adaptive", restarts
        )
    else:
        techniques = ["black-box queries to the defended pipeline"]
        raw = blackbox_curve(defended, x, y, base, config, image_shape, progress, "adaptive")
    return DefendedEvaluation(bare, naive, _union(raw, naive), detected, techniques)


def _techniques(defended: DefendedClassifier) -> list[str]:
    out = []
    if any(not p.differentiable for p in defended.preprocessors):
        out.append("BPDA through non-differentiable preprocessing")
    if defended.randomized:
        out.append("EOT over randomised preprocessing")
    if defended.detectors:
        out.append("joint attack on classifier and detectors")
        if any(
            not p.differentiable for d in defended.detectors for p in getattr(d, "squeezers", ())
        ):
            out.append("BPDA through the detector's squeezers")
    return out or ["white-box attack on the defended pipeline"]
