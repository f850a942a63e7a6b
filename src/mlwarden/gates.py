"""Training-time gates for CI (ML04): fail the build when a model generalises badly or leaks.

:func:`check_generalization` watches the train/test gap *and* utility: a heavily
regularised model passes a gap check while losing much of its accuracy, so a gate without
a utility bound is refused. :func:`check_membership` runs membership attacks under a fixed
seed (same model, same data, same verdict) and fails above the configured leakage. Both
raise :class:`GateFailed` (or return the result with ``raise_on_failure=False``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mlwarden.errors import MlwardenError, UsageError

if TYPE_CHECKING:
    from numpy.typing import NDArray

    Labelled = tuple[NDArray[Any], NDArray[Any]]


class GateFailed(MlwardenError):
    """A training-time gate failed: the model must not ship as it is."""

    hint = (
        "Regularise or stop training earlier, train with differential privacy, or get more "
        "data; then re-run the gate. Loosen a threshold only with a written reason."
    )


@dataclass(frozen=True)
class GateResult:
    """The outcome of a gate: pass/fail, the measured numbers and why it failed."""

    gate: str
    passed: bool
    metrics: dict[str, float]
    reasons: tuple[str, ...] = ()

    def summary(self) -> str:
        status = "passed" if self.passed else "FAILED"
        numbers = ", ".join(f"{k}={v:.4g}" for k, v in self.metrics.items())
        why = f": {'; '.join(self.reasons)}" if self.reasons else ""
        return f"{self.gate} gate {status} ({numbers}){why}"


def _adapter(model: Any) -> Any:
    if hasattr(model, "capabilities"):
        return model
    if hasattr(model, "predict") and hasattr(model, "classes_"):
        from mlwarden.models.sklearn_adapter import SklearnClassifier

        return SklearnClassifier(model)
    raise UsageError(
        f"{type(model).__name__} is neither an mlwarden adapter nor a fitted classifier"
    )


def _accuracy(model: Any, data: Labelled) -> float:
    import numpy as np

    from mlwarden.attacks.privacy_data import conform

    x, y = conform(model, data[0], data[1], "gate data")
    return float((np.asarray(model.predict(x)) == y).mean())


def _finish(result: GateResult, raise_on_failure: bool) -> GateResult:
    if raise_on_failure and not result.passed:
        raise GateFailed(result.summary())
    return result


def check_generalization(
    model: Any,
    train: Labelled,
    test: Labelled,
    max_gap: float = 0.1,
    *,
    min_accuracy: float | None = None,
    baseline_accuracy: float | None = None,
    max_drop: float = 0.02,
    raise_on_failure: bool = True,
) -> GateResult:
    """Fail when train - test accuracy exceeds ``max_gap`` or utility is too low.

    Args:
        model: an mlwarden adapter or a fitted scikit-learn classifier.
        train, test: ``(x, y)`` training and held-out records.
        max_gap: the largest allowed train - test accuracy gap.
        min_accuracy: the lowest allowed test accuracy.
        baseline_accuracy: test accuracy of the model this one replaces (or of the
            unregularised model); test accuracy may fall at most ``max_drop`` below it.
        max_drop: see ``baseline_accuracy``.
        raise_on_failure: raise :class:`GateFailed` instead of returning a failed result.

    Raises:
        UsageError: neither ``min_accuracy`` nor ``baseline_accuracy`` is given (a gap gate
            alone passes models that lost their utility).
        GateFailed: the model failed (with ``raise_on_failure``).
    """
    if min_accuracy is None and baseline_accuracy is None:
        raise UsageError(
            "check_generalization needs a utility bound as well as max_gap",
            hint="Pass min_accuracy=... or baseline_accuracy=... (with max_drop).",
        )
    clf = _adapter(model)
    train_acc, test_acc = _accuracy(clf, train), _accuracy(clf, test)
    gap = train_acc - test_acc
    reasons = []
    if gap > max_gap:
        reasons.append(f"gap {gap:.3f} > {max_gap}")
    if min_accuracy is not None and test_acc < min_accuracy:
        reasons.append(f"test accuracy {test_acc:.3f} < {min_accuracy}")
    if baseline_accuracy is not None and test_acc < baseline_accuracy - max_drop:
        reasons.append(
            f"test accuracy {test_acc:.3f} fell more than {max_drop} below {baseline_accuracy:.3f}"
        )
    metrics = {"train_accuracy": train_acc, "test_accuracy": test_acc, "gap": gap}
    return _finish(
        GateResult("generalization", not reasons, metrics, tuple(reasons)), raise_on_failure
    )


def check_membership(
    model: Any,
    train: Labelled,
    test: Labelled,
    *,
    max_auc: float = 0.6,
    max_tpr_at_1pct_fpr: float = 0.03,
    references: int = 0,
    population: Labelled | None = None,
    max_samples: int = 2000,
    seed: int = 0,
    trainer: Any = None,
    raise_on_failure: bool = True,
) -> GateResult:
    """Fail when any membership attack beats ``max_auc`` or ``max_tpr_at_1pct_fpr``.

    Threshold attacks always run (and the label-only one for label-only models); with
    ``references > 0`` LiRA and RMIA join. Deterministic under ``seed``.

    Raises:
        GateFailed: an attack exceeded a threshold (with ``raise_on_failure``).
    """
    from mlwarden.attacks.membership import membership_inference
    from mlwarden.attacks.privacy_settings import MembershipSettings
    from mlwarden.models.base import Capability

    clf = _adapter(model)
    label_only = Capability.PREDICT_PROBA not in clf.capabilities
    settings = MembershipSettings(
        references=references, label_only=label_only, bootstrap=0, exposed=0,
        max_members=max_samples, max_nonmembers=max_samples, jobs=1 if references <= 1 else 0,
    )  # fmt: skip
    result = membership_inference(
        clf, train, test, population, settings, seed=seed, trainer=trainer
    )
    metrics = {"gap": result.gap}
    reasons = []
    for score in result.scores:
        metrics[f"{score.attack}.auc"] = score.auc
        metrics[f"{score.attack}.tpr_at_1pct_fpr"] = score.tpr_at_1pct
        if score.auc > max_auc:
            reasons.append(f"{score.attack} AUC {score.auc:.3f} > {max_auc}")
        if score.tpr_at_1pct > max_tpr_at_1pct_fpr:
            reasons.append(
                f"{score.attack} TPR@1%FPR {score.tpr_at_1pct:.3f} > {max_tpr_at_1pct_fpr}"
            )
    return _finish(GateResult("membership", not reasons, metrics, tuple(reasons)), raise_on_failure)
