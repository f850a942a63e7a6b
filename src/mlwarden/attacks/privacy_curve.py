"""The privacy/utility curve: accuracy, train time and measured leakage per DP epsilon.

Trains the DP-SGD recipe (:mod:`mlwarden.defenses.dp_training`) at each epsilon (and the
non-private baseline), then attacks each model with the same membership attacks, so a team
sees what each epsilon costs in accuracy and buys in leakage on *their* data.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from numpy.typing import NDArray

    Labelled = tuple[NDArray[Any], NDArray[Any]]


@dataclass(frozen=True)
class CurvePoint:
    """One model of the curve."""

    epsilon: float | None
    test_accuracy: float
    train_accuracy: float
    seconds: float
    mia_auc: float
    mia_tpr_at_1pct_fpr: float
    attack: str

    def to_dict(self) -> dict[str, Any]:
        return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in self.__dict__.items()}


def privacy_utility_curve(
    train: Labelled,
    test: Labelled,
    epsilons: tuple[float | None, ...] = (None, 8.0, 1.0),
    *,
    references: int = 0,
    seed: int = 0,
    **training: Any,
) -> list[CurvePoint]:
    """Train at each epsilon (``None`` = no DP) and measure accuracy and membership leakage.

    Args:
        train, test: ``(x, y)`` training and held-out records.
        epsilons: budgets to train at.
        references: reference models for LiRA/RMIA (0 = threshold attacks only).
        seed: seed of training and attacks.
        **training: passed to :func:`~mlwarden.defenses.dp_training.train_dp_mlp`.
    """
    import numpy as np

    from mlwarden.attacks.membership import membership_inference
    from mlwarden.attacks.privacy_settings import MembershipSettings
    from mlwarden.defenses.dp_training import train_dp_mlp

    settings = MembershipSettings(
        references=references, label_only=False, bootstrap=0, exposed=0, jobs=1
    )
    n_classes = int(max(np.max(train[1]), np.max(test[1]))) + 1
    points = []
    for eps in epsilons:
        run = train_dp_mlp(
            train[0], train[1], epsilon=eps, seed=seed, n_classes=n_classes, **training
        )
        mia = membership_inference(run.model, train, test, None, settings, seed=seed)
        best = mia.strongest()
        points.append(
            CurvePoint(
                eps,
                mia.test_accuracy,
                mia.train_accuracy,
                run.seconds,
                best.auc,
                best.tpr_at_1pct,
                best.attack,
            )
        )
    return points
