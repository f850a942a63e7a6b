"""Robust accuracy vs epsilon: run the attacks of one mode over the eps values, per sample.

A :class:`Curve` records, per eps and per sample, whether some attack found an adversarial
example within eps (``beaten``), and one adversarial input per beaten sample. White-box
curves run PGD (+ APGD-CE) at every eps; black-box curves run HopSkipJump once (its
minimal distances answer every eps) and the Square attack at every eps when the model gives
scores. Successes are re-checked with the model's own ``predict``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from mlwarden.attacks.hopskipjump import HopSkipJumpParams, hopskipjump
from mlwarden.attacks.registry import AuditEvent, Progress
from mlwarden.attacks.square import SquareParams, square_attack
from mlwarden.attacks.threat import ThreatModel, distances
from mlwarden.models.base import Capability

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

    from mlwarden.attacks.objectives import Objective
    from mlwarden.attacks.results import AttackResult
    from mlwarden.attacks.settings import AuditSettings
    from mlwarden.models.base import Classifier


@dataclass
class Curve:
    """Per-eps, per-sample attack outcomes of one mode against one model."""

    mode: str
    eps: list[float]
    clean_correct: NDArray[np.bool_]
    beaten: NDArray[np.bool_]  # (len(eps), n)
    x_adv: list[NDArray[np.float32]]  # per eps; the input itself where not beaten
    summaries: list[dict[str, Any]] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)

    def robust(self) -> NDArray[np.bool_]:
        """``(len(eps), n)``: correct on the clean input and not beaten within eps."""
        import numpy as np

        return np.asarray(self.clean_correct[None, :] & ~self.beaten)

    def robust_accuracy(self) -> list[float]:
        return [float(v) for v in self.robust().mean(axis=1)]

    def index(self, eps: float) -> int:
        """Position of the eps value nearest to ``eps``."""
        return min(range(len(self.eps)), key=lambda i: abs(self.eps[i] - eps))


def _labels_ok(
    model: Classifier, x_adv: NDArray[np.float32], y: NDArray[np.int64]
) -> NDArray[np.bool_]:
    """Whether the model's real answer on ``x_adv`` is an evasion (wrong and not refused)."""
    import numpy as np

    pred = np.asarray(model.predict(x_adv), dtype=np.int64)
    return np.asarray((pred != y) & (pred >= 0))


def _merge(
    x: NDArray[np.float32], results: list[AttackResult], verified: list[NDArray[np.bool_]]
) -> tuple[NDArray[np.bool_], NDArray[np.float32]]:
    import numpy as np

    beaten = np.zeros(len(x), dtype=bool)
    x_adv = x.copy()
    for res, ok in zip(results, verified, strict=True):
        new = ok & ~beaten
        x_adv[new] = res.x_adv[new]
        beaten |= ok
    return beaten, x_adv


def whitebox_curve(
    objective: Objective,
    judge: Classifier,
    x: NDArray[np.float32],
    y: NDArray[np.int64],
    base: ThreatModel,
    config: AuditSettings,
    progress: Progress,
    stage: str = "white-box",
    restarts: int | None = None,
    early_stop: bool = True,
) -> Curve:
    """PGD (and APGD-CE) against ``objective`` at every eps; ``judge`` re-checks successes.

    ``early_stop=False`` runs textbook PGD (final iterates): what a defence-unaware attacker
    produces, used for the naive numbers of defended models.
    """
    import numpy as np

    from mlwarden.attacks.apgd import apgd
    from mlwarden.attacks.pgd import pgd

    ev = config.evasion
    eps_values = ev.eps_values()
    clean_correct = np.asarray(judge.predict(x)) == y
    beaten, advs = [], []
    summaries: list[dict[str, Any]] = []
    runs = restarts or ev.restarts
    for i, eps in enumerate(eps_values):
        progress(AuditEvent("evasion", stage, i, len(eps_values)))
        threat = base.with_eps(eps)
        results = [
            pgd(
                objective,
                x,
                y,
                threat,
                steps=ev.steps,
                restarts=runs,
                seed=config.seed,
                batch_size=config.batch_size,
                early_stop=early_stop,
            )
        ]
        if ev.apgd and ev.steps >= 2:
            results.append(
                apgd(
                    objective,
                    x,
                    y,
                    threat,
                    steps=ev.steps,
                    restarts=runs,
                    seed=config.seed,
                    batch_size=config.batch_size,
                )
            )
        verified = [r.success & _labels_ok(judge, r.x_adv, y) for r in results]
        hit, x_adv = _merge(x, results, verified)
        beaten.append(hit)
        advs.append(x_adv)
        summaries.extend(r.summary() for r in results)
    progress(AuditEvent("evasion", stage, len(eps_values), len(eps_values)))
    return Curve("whitebox", eps_values, clean_correct, np.array(beaten), advs, summaries)


def blackbox_curve(
    model: Classifier,
    x: NDArray[np.float32],
    y: NDArray[np.int64],
    base: ThreatModel,
    config: AuditSettings,
    image_shape: tuple[int, ...] | None,
    progress: Progress,
    stage: str = "black-box",
) -> Curve:
    """HopSkipJump (once) and Square (per eps, when scores exist) within the query budget."""
    import numpy as np

    ev = config.evasion
    eps_values = ev.eps_values()
    scores = bool({Capability.PREDICT_PROBA, Capability.LOGITS} & set(model.capabilities))
    total = 1 + (len(eps_values) if scores else 0)
    progress(AuditEvent("evasion", stage, 0, total))
    clean_correct = np.asarray(model.predict(x)) == y
    # NOTE: under L2 an input beaten within the smallest eps needs no further refinement
    # (every point of the curve is already decided for it): its queries are saved.
    stop_at = min(eps_values) if base.norm == "l2" else None
    params = HopSkipJumpParams(budget=ev.budget, seed=config.seed, stop_at=stop_at)
    hsj = hopskipjump(model, x, y, base, params)
    hsj_dist = np.where(hsj.success, distances(x, hsj.x_adv, base.norm), np.inf)
    summaries = [hsj.summary()]
    beaten, advs = [], []
    square = SquareParams(budget=ev.budget, image_shape=image_shape, seed=config.seed)
    for i, eps in enumerate(eps_values):
        progress(AuditEvent("evasion", stage, 1 + i, total))
        within = hsj.success & (hsj_dist <= eps + 1e-6)
        results, verified = [hsj], [within]
        if scores:
            sq = square_attack(model, x, y, base.with_eps(eps), square)
            results.append(sq)
            verified.append(sq.success)
            summaries.append(sq.summary())
        hit, x_adv = _merge(x, results, verified)
        beaten.append(hit)
        advs.append(x_adv)
    progress(AuditEvent("evasion", stage, total, total))
    extra = {"hopskipjump": hsj.summary(), "budget": ev.budget}
    return Curve("blackbox", eps_values, clean_correct, np.array(beaten), advs, summaries, extra)
