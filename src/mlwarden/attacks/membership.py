"""Membership inference (ML04): can an attacker tell the training records from the others?

Attacks, from cheapest to strongest: loss, confidence, entropy and modified-entropy
thresholds (probabilities), a label-only attack (robustness of the answer to noise, for
endpoints that answer labels), and reference-model attacks (LiRA online/offline, RMIA; see
:mod:`mlwarden.attacks.membership_reference`). Each is scored by AUC and TPR at 0.1% / 1%
FPR with bootstrap intervals (:mod:`mlwarden.attacks.mia_metrics`). A weak result means
"little measurable leakage with these attacks at this budget", never "private".
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from mlwarden.attacks import membership_reference as ref
from mlwarden.attacks.mia_metrics import MiaScore, evaluate
from mlwarden.attacks.privacy_data import Split, privacy_splits
from mlwarden.attacks.privacy_settings import MembershipSettings, section
from mlwarden.attacks.registry import AuditEvent, ProbeResult, no_progress
from mlwarden.models.base import Capability
from mlwarden.risks import RiskId

if TYPE_CHECKING:
    from mlwarden.attacks.registry import AuditData, Progress
    from mlwarden.attacks.settings import AuditSettings
    from mlwarden.models.base import Classifier

_EPS = 1e-12


def threshold_scores(
    proba: NDArray[np.floating], y: NDArray[np.int64]
) -> dict[str, NDArray[np.float64]]:
    """Scores of the four threshold attacks (higher = more likely a member).

    ``modified_entropy`` is Song & Mittal's: it uses the true label, so a confident wrong
    answer looks like a non-member.
    """
    p = np.clip(np.asarray(proba, dtype=np.float64), _EPS, 1.0)
    rows = np.arange(len(y))
    p_true = p[rows, y]
    entropy = -(p * np.log(p)).sum(axis=1)
    q = np.clip(1.0 - p, _EPS, 1.0)
    terms = -p * np.log(q)
    terms[rows, y] = 0.0
    mentr = -(1.0 - p_true) * np.log(p_true) + terms.sum(axis=1)
    return {
        "loss": np.log(p_true),
        "confidence": p_true,
        "entropy": -entropy,
        "modified_entropy": -mentr,
    }


def label_only_scores(
    model: Classifier,
    x: NDArray[np.float32],
    y: NDArray[np.int64],
    *,
    copies: int,
    scale: NDArray[np.float64],
    seed: int,
    clip: tuple[float, float] | None = None,
) -> NDArray[np.float64]:
    """Share of noisy copies (and the clean input) the model still labels correctly.

    Training records sit farther from the decision boundary, so their answers survive more
    noise (Choquette-Choo et al., "Label-Only Membership Inference Attacks", 2021).
    """
    rng = np.random.default_rng(seed)
    correct = (np.asarray(model.predict(x)) == y).astype(np.float64)
    flat = x.reshape(len(x), -1).astype(np.float64)
    for _ in range(copies):
        noisy = flat + rng.normal(size=flat.shape) * scale
        if clip is not None:
            noisy = np.clip(noisy, *clip)
        correct += np.asarray(model.predict(noisy.reshape(x.shape).astype(np.float32))) == y
    return np.asarray(correct / (copies + 1))


@dataclass(frozen=True)
class MembershipResult:
    """All membership attacks on one split, plus the generalisation numbers."""

    scores: tuple[MiaScore, ...]
    train_accuracy: float
    test_accuracy: float
    references: int = 0
    reference_model: str = ""
    notes: tuple[str, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def gap(self) -> float:
        return self.train_accuracy - self.test_accuracy

    def strongest(self) -> MiaScore:
        """The attack with the highest TPR at 1% FPR (AUC breaks ties)."""
        return max(self.scores, key=lambda s: (s.tpr_at_1pct, s.auc))

    def summary(self, tpr_limit: float = 0.03, auc_limit: float = 0.6) -> str:
        """One honest sentence: the strongest attack, its budget, and what the number means."""
        best = self.strongest()
        lo, hi = best.ci[2]
        budget = f"{best.members} members / {best.nonmembers} non-members"
        if self.references:
            budget += f", {self.references} reference models"
        head = (
            f"{best.attack}: TPR {best.tpr_at_1pct:.1%} at 1% FPR (95% CI {lo:.1%}-{hi:.1%}), "
            f"AUC {best.auc:.3f} ({budget})"
        )
        if best.tpr_at_1pct <= tpr_limit and best.auc <= auc_limit:
            return f"{head}: little measurable leakage with these attacks at this budget"
        return f"{head}: membership leaks"

    def to_evidence(self, tpr_limit: float = 0.03, auc_limit: float = 0.6) -> dict[str, Any]:
        """JSON-ready evidence for ``Report.evidence["membership"]``."""
        best = self.strongest()
        attacks = [s.to_dict() for s in self.scores]
        return {
            "summary": self.summary(tpr_limit, auc_limit),
            "train_accuracy": round(self.train_accuracy, 4),
            "test_accuracy": round(self.test_accuracy, 4),
            "gap": round(self.gap, 4),
            "references": self.references,
            "reference_model": self.reference_model,
            "strongest": best.attack,
            "attacks": attacks,
            "roc_chart": {
                "chart": "line",
                "title": "Membership inference ROC (log-log)",
                "series": {
                    a["attack"]: {
                        "x": [p[0] for p in a["roc_loglog"]],
                        "y": [p[1] for p in a["roc_loglog"]],
                    }
                    for a in attacks
                },
                "x_label": "false positive rate",
                "y_label": "true positive rate",
                "log_x": True,
                "log_y": True,
                "diagonal": True,
            },
            "notes": list(self.notes),
            **self.extra,
        }


def membership_inference(
    model: Classifier,
    train: tuple[NDArray[np.floating], NDArray[np.integer]],
    test: tuple[NDArray[np.floating], NDArray[np.integer]],
    population: tuple[NDArray[np.floating], NDArray[np.integer]] | None = None,
    settings: MembershipSettings | None = None,
    *,
    seed: int = 0,
    trainer: ref.Trainer | None = None,
    progress: Progress = no_progress,
) -> MembershipResult:
    """Run every membership attack the model's outputs allow.

    Args:
        model: the target (labels only -> label-only attack; probabilities -> all).
        train: the model's training records (members) and labels.
        test: records the model never saw (non-members).
        population: other data from the same distribution for the references; without it,
            online references use the candidates and offline ones half of ``test``.
        settings: attack settings.
        seed: seed of sampling, noise, references and bootstrap (same seed, same numbers).
        trainer: ``(x, y, seed) -> fitted model`` for references (default: a clone of a
            scikit-learn target, else an MLP stand-in).
        progress: progress callback.
    """
    s = settings or MembershipSettings()
    split = privacy_splits(train, test, population, s, model, seed)
    has_proba = Capability.PREDICT_PROBA in model.capabilities
    train_acc = float((model.predict(split.x_member) == split.y_member).mean())
    test_acc = float((model.predict(split.x_nonmember) == split.y_nonmember).mean())
    raw: dict[str, tuple[NDArray[np.float64], NDArray[np.float64]]] = {}
    notes: list[str] = []
    extra: dict[str, Any] = {}
    reference_model = ""
    if has_proba:
        raw.update(_threshold_raw(model, split))
        if s.references > 0:
            trainer, reference_model = (
                (trainer, "custom") if trainer else ref.default_trainer(model)
            )
            progress(AuditEvent("membership", "references", 0, s.references))
            raw.update(_reference_raw(model, split, s, trainer, seed))
            progress(AuditEvent("membership", "references", s.references, s.references))
    else:
        notes.append("the model answers labels only: threshold and reference attacks skipped")
    if s.label_only:
        raw["label_only"] = _label_only_raw(model, split, s, seed)
        extra["label_only_queries"] = (len(split.y_member) + len(split.y_nonmember)) * (
            s.label_only_queries + 1
        )
    scores = tuple(
        evaluate(
            name,
            m,
            n,
            member_index=split.member_index,
            bootstrap=s.bootstrap,
            exposed=s.exposed,
            seed=seed,
        )
        for name, (m, n) in raw.items()
    )
    notes.extend(split.notes)
    return MembershipResult(
        scores,
        train_acc,
        test_acc,
        s.references if has_proba else 0,
        reference_model,
        tuple(notes),
        extra,
    )


def _threshold_raw(
    model: Classifier, split: Split
) -> dict[str, tuple[NDArray[np.float64], NDArray[np.float64]]]:
    proba_m = model.predict_proba(split.x_member)  # type: ignore[attr-defined]
    proba_n = model.predict_proba(split.x_nonmember)  # type: ignore[attr-defined]
    sm = threshold_scores(proba_m, split.y_member)
    sn = threshold_scores(proba_n, split.y_nonmember)
    return {name: (sm[name], sn[name]) for name in sm}


def _reference_raw(
    model: Classifier, split: Split, s: MembershipSettings, trainer: ref.Trainer, seed: int
) -> dict[str, tuple[NDArray[np.float64], NDArray[np.float64]]]:
    x_eval = np.concatenate([split.x_member, split.x_nonmember])
    y_eval = np.concatenate([split.y_member, split.y_nonmember])
    online = s.mode == "online"
    stats = ref.train_references(
        trainer,
        split.x_pool,
        split.y_pool,
        x_eval,
        y_eval,
        count=s.references,
        n_classes=model.n_classes,
        train_size=split.reference_size,
        eval_in_pool=split.eval_in_pool if online else None,
        seed=seed,
        jobs=s.jobs,
    )
    p_true, phi, _ = ref.target_stats(model, x_eval, y_eval)
    cut = len(split.y_member)
    out: dict[str, NDArray[np.float64]] = {}
    out["lira_offline"] = ref.lira_offline(phi, stats)
    if online:
        out["lira_online"] = ref.lira_online(phi, stats)
    out["rmia"] = ref.rmia(p_true, stats, offline_a=s.rmia_a)
    return {name: (v[:cut], v[cut:]) for name, v in out.items()}


def _label_only_raw(
    model: Classifier, split: Split, s: MembershipSettings, seed: int
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    flat = split.x_pool.reshape(len(split.x_pool), -1).astype(np.float64)
    scale = s.label_only_sigma * np.maximum(flat.std(axis=0), 1e-6)
    clip = getattr(model, "clip", None)
    kw: dict[str, Any] = {"copies": s.label_only_queries, "scale": scale, "clip": clip}
    m = label_only_scores(model, split.x_member, split.y_member, seed=seed, **kw)
    n = label_only_scores(model, split.x_nonmember, split.y_nonmember, seed=seed + 1, **kw)
    return m, n


class MembershipProbe:
    """Membership inference (ML04); needs ``--train`` (members) beside the held-out data."""

    id = "membership"
    risk = RiskId.ML04
    requires = frozenset({Capability.PREDICT})
    description = "Membership inference: threshold, label-only, LiRA and RMIA attacks"

    def run(
        self, model: Classifier, data: AuditData, config: AuditSettings, progress: Progress
    ) -> ProbeResult:
        from mlwarden.attacks.privacy_data import train_and_population
        from mlwarden.attacks.privacy_findings import membership_findings

        s = section(config, "membership", MembershipSettings)
        train, population = train_and_population(data, "membership")
        seed = int(getattr(config, "seed", 0))
        result = membership_inference(
            model, train, (data.x, data.y), population, s, seed=seed, progress=progress
        )
        source = str(getattr(data, "model_name", "model"))
        best = result.strongest()
        metrics = {
            "membership.auc": round(best.auc, 4),
            "membership.tpr_at_1pct_fpr": round(best.tpr_at_1pct, 4),
            "membership.gap": round(result.gap, 4),
        }
        findings = membership_findings(result, s, source)
        return ProbeResult(
            metrics=metrics,
            findings=findings,
            evidence=result.to_evidence(s.max_tpr_at_1pct_fpr, s.max_auc),
        )
