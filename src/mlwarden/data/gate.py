"""The training gate: does training on this data still reach the baseline score?

The OWASP guide's "possible data poisoning" check, made reproducible: a reference learner is
trained with and without the samples the detectors flagged, in stratified k-fold
cross-validation, and scored on held-out rows that were *not* flagged (flagged labels cannot
be trusted as ground truth). The gate fails when the score of training on all the data is
more than ``margin`` below the baseline: the score recorded in a trusted earlier manifest,
or else the score without the flagged samples. It also reports how often a model that never
saw a flagged sample agrees with its label: poison gets a low agreement.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from mlwarden.errors import UsageError

Learner = Callable[[], Any]


@dataclass(frozen=True)
class GateResult:
    """The numbers behind the gate's verdict (accuracies in ``[0, 1]``)."""

    score_with: float
    score_without: float
    baseline: float
    baseline_source: str
    margin: float
    folds: int
    flagged: int
    flagged_agreement: float | None

    @property
    def drop(self) -> float:
        """How far training on all the data falls below the baseline."""
        return self.baseline - self.score_with

    @property
    def passed(self) -> bool:
        return self.drop <= self.margin

    def to_dict(self) -> dict[str, Any]:
        agreement = self.flagged_agreement
        return {
            "metric": "accuracy",
            "score_with_flagged": round(self.score_with, 4),
            "score_without_flagged": round(self.score_without, 4),
            "baseline": round(self.baseline, 4),
            "baseline_source": self.baseline_source,
            "drop": round(self.drop, 4),
            "margin": self.margin,
            "folds": self.folds,
            "flagged": self.flagged,
            "flagged_label_agreement": None if agreement is None else round(agreement, 4),
            "passed": self.passed,
        }


def default_learner() -> Any:
    """Standardised features into a logistic regression: fast, deterministic, no tuning."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))


def _fit_score(
    learner: Learner, x: NDArray[Any], y: NDArray[Any], test: NDArray[Any], xt: NDArray[Any]
) -> tuple[float, NDArray[Any]]:
    from sklearn.exceptions import ConvergenceWarning

    model = learner()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(x, y)
    pred = np.asarray(model.predict(xt))
    return float((pred[: len(test)] == test).mean()) if len(test) else 1.0, pred[len(test) :]


def retrain_gate(
    x: NDArray[Any],
    y: NDArray[Any],
    flagged: NDArray[np.int64],
    *,
    baseline: float | None = None,
    margin: float = 0.02,
    folds: int = 5,
    learner: Learner | None = None,
    seed: int = 0,
) -> GateResult:
    """Cross-validated accuracy with and without the ``flagged`` rows, against a baseline.

    Args:
        x, y: the training data.
        flagged: indices the detectors flagged.
        baseline: a trusted earlier score (e.g. from the baseline manifest); ``None`` uses
            the score without the flagged rows.
        margin: the largest drop below the baseline that still passes.
        folds: cross-validation folds (stratified, shuffled with ``seed``).
        learner: a factory of scikit-learn-style estimators (default: logistic regression).
    """
    from sklearn.model_selection import StratifiedKFold

    flat = np.asarray(x, dtype=np.float64).reshape(len(x), -1)
    labels = np.asarray(y).reshape(-1)
    smallest = int(np.bincount(np.unique(labels, return_inverse=True)[1]).min())
    k = min(folds, smallest)
    if k < 2:
        raise UsageError("the retrain gate needs at least two rows of every class")
    make = learner or default_learner
    bad = np.zeros(len(labels), dtype=bool)
    bad[np.asarray(flagged, dtype=np.int64)] = True
    with_scores, without_scores, agree = [], [], []
    splitter = StratifiedKFold(n_splits=k, shuffle=True, random_state=seed)
    for train, test in splitter.split(flat, labels):
        clean_test = test[~bad[test]]
        probe = np.concatenate([clean_test, test[bad[test]]])
        score, _ = _fit_score(make, flat[train], labels[train], labels[clean_test], flat[probe])
        with_scores.append(score)
        kept = train[~bad[train]]
        score, on_flagged = _fit_score(
            make, flat[kept], labels[kept], labels[clean_test], flat[probe]
        )
        without_scores.append(score)
        agree.extend((on_flagged == labels[test[bad[test]]]).tolist())
    without = float(np.mean(without_scores))
    return GateResult(
        score_with=float(np.mean(with_scores)),
        score_without=without,
        baseline=without if baseline is None else float(baseline),
        baseline_source="without-flagged" if baseline is None else "baseline",
        margin=margin,
        folds=k,
        flagged=int(bad.sum()),
        flagged_agreement=float(np.mean(agree)) if agree else None,
    )
