"""How well a membership score separates members from non-members: ROC, AUC, TPR at low FPR.

Privacy is about the few records an attacker can name with confidence, so besides the AUC
every attack reports its true-positive rate at 0.1% and 1% false-positive rate with
bootstrap confidence intervals, the ROC curve on log-log axes, and the members it exposes
most. Scores are "higher = more likely a member".
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

FPR_TARGETS = (0.001, 0.01)
_LOG_FPRS = np.logspace(-4, 0, 25)


def roc(
    member: NDArray[np.floating], nonmember: NDArray[np.floating]
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """False- and true-positive rates over every threshold (ties handled), from (0,0) to (1,1)."""
    scores = np.concatenate([member, nonmember]).astype(np.float64)
    labels = np.concatenate([np.ones(len(member)), np.zeros(len(nonmember))])
    order = np.argsort(-scores, kind="mergesort")
    scores, labels = scores[order], labels[order]
    last_of_tie = np.r_[np.flatnonzero(np.diff(scores) != 0), len(scores) - 1]
    tp = np.cumsum(labels)[last_of_tie]
    fp = (last_of_tie + 1) - tp
    tpr = np.r_[0.0, tp / max(len(member), 1)]
    fpr = np.r_[0.0, fp / max(len(nonmember), 1)]
    return fpr, tpr


def auc(fpr: NDArray[np.float64], tpr: NDArray[np.float64]) -> float:
    """Area under the ROC curve (trapezoids)."""
    return float(np.sum(np.diff(fpr) * (tpr[1:] + tpr[:-1]) / 2.0))


def tpr_at(fpr: NDArray[np.float64], tpr: NDArray[np.float64], target: float) -> float:
    """Highest TPR among thresholds whose FPR is at most ``target``."""
    ok = fpr <= target + 1e-12
    return float(tpr[ok].max()) if ok.any() else 0.0


def _stats(member: NDArray[np.floating], nonmember: NDArray[np.floating]) -> NDArray[np.float64]:
    fpr, tpr = roc(member, nonmember)
    return np.array([auc(fpr, tpr), *(tpr_at(fpr, tpr, t) for t in FPR_TARGETS)])


@dataclass(frozen=True)
class MiaScore:
    """One attack's result on one member / non-member split.

    Attributes:
        attack: attack id (``loss``, ``lira_online``, ``rmia``, ...).
        auc: area under the ROC curve.
        tpr: TPR at each FPR of :data:`FPR_TARGETS`.
        ci: 95% basic-bootstrap interval ``(low, high)`` of ``(auc, *tpr)``.
        roc_points: ``[fpr, tpr]`` pairs at log-spaced FPRs (log-log ROC plot).
        exposed: ``(member index, score)`` of the most exposed members, most exposed first.
        members, nonmembers: how many records were scored.
    """

    attack: str
    auc: float
    tpr: tuple[float, ...]
    ci: tuple[tuple[float, float], ...]
    roc_points: tuple[tuple[float, float], ...]
    exposed: tuple[tuple[int, float], ...]
    members: int
    nonmembers: int

    @property
    def tpr_at_1pct(self) -> float:
        return self.tpr[1]

    @property
    def tpr_at_01pct(self) -> float:
        return self.tpr[0]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary for ``Report.evidence``."""
        names = ("auc", *(f"tpr_at_{t:g}_fpr" for t in FPR_TARGETS))
        return {
            "attack": self.attack,
            "auc": round(self.auc, 4),
            **{
                f"tpr_at_{t:g}_fpr": round(v, 4) for t, v in zip(FPR_TARGETS, self.tpr, strict=True)
            },
            "ci95": {
                n: [round(lo, 4), round(hi, 4)] for n, (lo, hi) in zip(names, self.ci, strict=True)
            },
            "roc_loglog": [[round(f, 6), round(t, 6)] for f, t in self.roc_points],
            "most_exposed": [{"index": i, "score": round(s, 4)} for i, s in self.exposed],
            "members": self.members,
            "nonmembers": self.nonmembers,
            "lowest_measurable_fpr": round(1.0 / max(self.nonmembers, 1), 6),
        }


def evaluate(
    attack: str,
    member: NDArray[np.floating],
    nonmember: NDArray[np.floating],
    *,
    member_index: NDArray[np.integer] | None = None,
    bootstrap: int = 200,
    exposed: int = 10,
    seed: int = 0,
) -> MiaScore:
    """Score one attack: AUC, TPR at low FPR with bootstrap CIs, log-log ROC, top members.

    Args:
        attack: the attack's id.
        member, nonmember: scores of members and non-members (higher = member).
        member_index: index of each member in the caller's training set (for ``exposed``).
        bootstrap: resamples for the confidence intervals (0 = none: the point estimate).
        exposed: how many of the highest-scoring members to list.
        seed: seed of the bootstrap.
    """
    m64: NDArray[np.float64] = np.nan_to_num(np.asarray(member, dtype=np.float64), nan=-np.inf)
    n64: NDArray[np.float64] = np.nan_to_num(np.asarray(nonmember, dtype=np.float64), nan=-np.inf)
    fpr, tpr = roc(m64, n64)
    point = np.array([auc(fpr, tpr), *(tpr_at(fpr, tpr, t) for t in FPR_TARGETS)])
    ci = _bootstrap(m64, n64, bootstrap, seed, point)
    loglog = tuple((float(f), tpr_at(fpr, tpr, float(f))) for f in _LOG_FPRS)
    index = np.arange(len(m64)) if member_index is None else np.asarray(member_index)
    top = np.argsort(-m64, kind="stable")[:exposed]
    return MiaScore(
        attack=attack,
        auc=float(point[0]),
        tpr=tuple(float(v) for v in point[1:]),
        ci=tuple((float(lo), float(hi)) for lo, hi in ci),
        roc_points=loglog,
        exposed=tuple((int(index[i]), float(m64[i])) for i in top),
        members=len(m64),
        nonmembers=len(n64),
    )


def _bootstrap(
    member: NDArray[np.float64],
    nonmember: NDArray[np.float64],
    rounds: int,
    seed: int,
    point: NDArray[np.float64],
) -> NDArray[np.float64]:
    if rounds <= 0 or len(member) < 2 or len(nonmember) < 2:
        return np.stack([point, point], axis=1)
    rng = np.random.default_rng(seed)
    draws = np.empty((rounds, len(point)))
    for r in range(rounds):
        m = member[rng.integers(0, len(member), len(member))]
        n = nonmember[rng.integers(0, len(nonmember), len(nonmember))]
        draws[r] = _stats(m, n)
    # NOTE: "basic" bootstrap (2*point - quantiles): TPR at a fixed FPR is an extreme-order
    # statistic whose percentile interval is biased low and can miss the point estimate.
    q_low, q_high = np.quantile(draws, [0.025, 0.975], axis=0)
    low = np.clip(2 * point - q_high, 0.0, 1.0)
    high = np.clip(2 * point - q_low, 0.0, 1.0)
    return np.stack([np.minimum(low, point), np.maximum(high, point)], axis=1)
