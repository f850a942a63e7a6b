"""Model extraction (ML05): how faithfully can a query budget copy the model?

For each query strategy (:mod:`mlwarden.attacks.extraction_queries`) and each output policy
the model can answer through (probabilities, rounded, top-k, label), a surrogate is trained
on the first B answers for each budget B; fidelity (agreement with the victim) and accuracy
on held-out records make the curve. Equation solving recovers a linear model (logistic
regression) from ``d + 1`` full-precision answers. Works against any adapter, including
:class:`~mlwarden.models.HttpClassifier`, so a live endpoint can be audited end to end.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from mlwarden.attacks import extraction_queries as eq
from mlwarden.attacks.privacy_settings import ExtractionSettings, section
from mlwarden.attacks.registry import AuditEvent, ProbeResult, no_progress
from mlwarden.defenses.output_policy import OutputPolicy
from mlwarden.errors import UsageError
from mlwarden.models.base import Capability
from mlwarden.risks import RiskId

if TYPE_CHECKING:
    from mlwarden.attacks.registry import AuditData, Progress
    from mlwarden.attacks.settings import AuditSettings
    from mlwarden.models.base import Classifier

Floats = NDArray[np.float64]


@dataclass(frozen=True)
class ExtractionResult:
    """The fidelity/accuracy curve per strategy and policy, and equation solving's outcome.

    Attributes:
        rows: one dict per (strategy, policy, budget): fidelity, accuracy, queries.
        equation: per policy, the outcome of equation solving (empty if not tried).
        victim_accuracy: the victim's own accuracy on the held-out records.
        streams: the queries of each ``(strategy, policy)`` stream, in order (not in the
            evidence: they feed the extraction monitor's measurements).
    """

    rows: tuple[dict[str, Any], ...]
    equation: tuple[dict[str, Any], ...]
    victim_accuracy: float
    notes: tuple[str, ...] = ()
    streams: dict[tuple[str, str], Floats] = field(default_factory=dict, repr=False)

    def best(self, policy: str, budget: int) -> dict[str, Any] | None:
        """The highest-fidelity row of ``policy`` at budgets up to ``budget``."""
        rows = [r for r in self.rows if r["policy"] == policy and r["budget"] <= budget]
        return max(rows, key=lambda r: (r["fidelity"], r["budget"]), default=None)

    def fidelity_chart(self) -> dict[str, Any]:
        """Fidelity vs queries, one series per (strategy, policy): a ``line`` chart spec."""
        series: dict[str, dict[str, list[Any]]] = {}
        for row in sorted(self.rows, key=lambda r: r["budget"]):
            line = series.setdefault(f"{row['strategy']}, {row['policy']}", {"x": [], "y": []})
            line["x"].append(row["budget"])
            line["y"].append(row["fidelity"])
        return {
            "chart": "line",
            "title": "Extraction: surrogate fidelity vs queries",
            "series": series,
            "x_label": "queries",
            "y_label": "fidelity (agreement with the model)",
            "log_x": True,
            "y_range": [0, 1],
        }

    def to_evidence(self) -> dict[str, Any]:
        """JSON-ready evidence for ``Report.evidence["extraction"]``."""
        top = max((r["budget"] for r in self.rows), default=0)
        summary = [
            f"{p}: fidelity {r['fidelity']:.1%} after {r['budget']} {r['strategy']} queries"
            for p in dict.fromkeys(r["policy"] for r in self.rows)
            if (r := self.best(p, top)) is not None
        ]
        return {
            "summary": summary,
            "victim_accuracy": round(self.victim_accuracy, 4),
            "curve": list(self.rows),
            "fidelity_chart": self.fidelity_chart(),
            "equation_solving": list(self.equation),
            "notes": list(self.notes),
        }


def attack_box(model: Any, pool: NDArray[Any]) -> eq.Box:
    """The attacker's knowledge: its records, and bounds from the model's clip or the data."""
    flat = np.asarray(pool, dtype=np.float64).reshape(len(pool), -1)
    clip = getattr(model, "clip", None)
    if clip is not None:
        low = np.full(flat.shape[1], float(clip[0]))
        high = np.full(flat.shape[1], float(clip[1]))
    else:
        low, high = flat.min(axis=0), flat.max(axis=0)
    return eq.Box(flat, low, high)


def usable_policies(model: Any, s: ExtractionSettings) -> list[OutputPolicy]:
    """The settings' policies the model can answer through (labels only without scores)."""
    scores = Capability.PREDICT_PROBA in model.capabilities
    built = {
        "probabilities": OutputPolicy("probabilities"),
        "rounded": OutputPolicy("rounded", decimals=s.decimals),
        "top_k": OutputPolicy("top_k", k=s.top_k),
        "label": OutputPolicy("label"),
    }
    return [built[p] for p in s.policies if scores or p == "label"]


def model_extraction(
    model: Classifier,
    attacker_data: NDArray[np.floating],
    evaluation: tuple[NDArray[np.floating], NDArray[np.integer]],
    settings: ExtractionSettings | None = None,
    *,
    seed: int = 0,
    progress: Progress = no_progress,
) -> ExtractionResult:
    """Steal ``model`` with every strategy, policy and budget of ``settings``.

    Args:
        model: the victim (any adapter; probabilities enable the score policies).
        attacker_data: records the attacker owns (population data, no labels needed).
        evaluation: held-out records and labels on which fidelity and accuracy are measured.
        settings: budgets, strategies, policies, surrogate size.
        seed: seed of every stream and surrogate.
        progress: progress callback.
    """
    s = settings or ExtractionSettings()
    shape = tuple(model.input_shape)
    box = attack_box(model, attacker_data)
    x_eval = np.asarray(evaluation[0], dtype=np.float64).reshape(len(evaluation[0]), -1)
    y_eval = np.asarray(evaluation[1]).astype(np.int64)
    victim_eval = np.asarray(
        model.predict(x_eval.reshape((len(x_eval), *shape)).astype(np.float32))
    )
    policies = usable_policies(model, s)
    if not policies:
        raise UsageError("no output policy of [audit.extraction] policies fits this model")
    streams = _streams(model, box, policies, s, shape, seed, progress)
    jobs = [(k, b) for k in streams for b in s.budgets if b <= len(streams[k][0])]
    progress(AuditEvent("extraction", "surrogates", 0, len(jobs)))
    scores = _fit_all(jobs, streams, box, model.n_classes, s, seed, x_eval, victim_eval, y_eval)
    progress(AuditEvent("extraction", "surrogates", len(jobs), len(jobs)))
    rows = tuple(
        {
            "strategy": k[0],
            "policy": k[1],
            "budget": b,
            "fidelity": round(f, 4),
            "accuracy": round(a, 4),
        }
        for (k, b), (f, a) in zip(jobs, scores, strict=True)
    )
    equation = [
        equation_solving(model, box, policy, seed, x_eval, victim_eval)
        for policy in policies
        if s.equation_solving and policy.gives_scores and policy.kind != "top_k"
    ]
    notes = _notes(model, s, box, max(s.budgets))
    return ExtractionResult(
        rows,
        tuple(equation),
        float((victim_eval == y_eval).mean()),
        notes,
        {k: v[0] for k, v in streams.items()},
    )


def _streams(
    model: Any,
    box: eq.Box,
    policies: list[OutputPolicy],
    s: ExtractionSettings,
    shape: tuple[int, ...],
    seed: int,
    progress: Progress,
) -> dict[tuple[str, str], tuple[Floats, Floats]]:
    budget = max(s.budgets)
    out: dict[tuple[str, str], tuple[Floats, Floats]] = {}
    for i, strategy in enumerate(s.strategies):
        progress(AuditEvent("extraction", f"queries ({strategy})", i, len(s.strategies)))
        rng = np.random.default_rng([seed, i])
        if strategy in eq.FIXED:
            x = eq.FIXED[strategy](box, budget, rng)
            raw = eq.PolicyOracle(model, _richest(policies), shape).ask_raw(x)
            for policy in policies:
                out[(strategy, policy.name)] = (x, eq.policy_targets(raw, policy))
            continue
        for j, policy in enumerate(policies):
            oracle = eq.PolicyOracle(model, policy, shape)
            stream_rng = np.random.default_rng([seed, i, j])
            out[(strategy, policy.name)] = eq.ADAPTIVE[strategy](
                oracle, box, budget, stream_rng, hidden=s.hidden
            )
    return out


def _richest(policies: list[OutputPolicy]) -> OutputPolicy:
    scored = [p for p in policies if p.gives_scores]
    return OutputPolicy("probabilities") if scored else OutputPolicy("label")


def _fit_all(
    jobs: list[tuple[tuple[str, str], int]],
    streams: dict[tuple[str, str], tuple[Floats, Floats]],
    box: eq.Box,
    n_classes: int,
    s: ExtractionSettings,
    seed: int,
    x_eval: Floats,
    victim_eval: NDArray[np.int64],
    y_eval: NDArray[np.int64],
) -> list[tuple[float, float]]:
    from joblib import Parallel, delayed

    n_jobs = min(len(jobs), s.jobs or os.cpu_count() or 1) or 1
    return list(
        Parallel(n_jobs=n_jobs)(
            delayed(eq.fit_and_compare)(
                streams[k][0][:b],
                streams[k][1][:b],
                box,
                n_classes,
                s.hidden,
                seed,
                x_eval,
                victim_eval,
                y_eval,
                s.ensemble,
            )
            for k, b in jobs
        )
    )


def equation_solving(
    model: Any,
    box: eq.Box,
    policy: OutputPolicy,
    seed: int,
    x_eval: Floats,
    victim_eval: NDArray[np.int64],
) -> dict[str, Any]:
    """Solve ``log p - mean(log p) = [x, 1] B`` from ``d + 1`` answers (exact for softmax-linear).

    Rows with a zero probability (rounding) carry no log-ratio and are dropped; up to four
    times ``d + 1`` queries are spent to find enough usable rows.
    """
    d = box.low.shape[0]
    rng = np.random.default_rng([seed, 99])
    shape = tuple(model.input_shape)
    rows: list[Floats] = []
    logs: list[Floats] = []
    used = 0
    while sum(len(r) for r in rows) < d + 1 and used < 4 * (d + 1):
        x = rng.uniform(box.low, box.high, (d + 1, d))
        used += d + 1
        p = policy.apply(model.predict_proba(x.reshape((d + 1, *shape)).astype(np.float32)))
        p = np.asarray(p, dtype=np.float64)
        ok = (p > 0).all(axis=1)
        rows.append(x[ok])
        logs.append(np.log(p[ok]))
    a = np.concatenate(rows)
    out: dict[str, Any] = {"policy": policy.name, "queries": used, "usable_answers": len(a)}
    if len(a) < d + 1:
        return {**out, "fidelity": None, "recovered": False, "reason": "too many zero scores"}
    logp = np.concatenate(logs)
    target = logp - logp.mean(axis=1, keepdims=True)
    design = np.hstack([a, np.ones((len(a), 1))])
    coef, *_ = np.linalg.lstsq(design, target, rcond=None)
    pred = np.argmax(np.hstack([x_eval, np.ones((len(x_eval), 1))]) @ coef, axis=1)
    fidelity = float((pred == victim_eval).mean())
    return {**out, "fidelity": round(fidelity, 4), "recovered": fidelity >= 0.999}


def _notes(model: Any, s: ExtractionSettings, box: eq.Box, budget: int) -> tuple[str, ...]:
    notes = []
    if Capability.PREDICT_PROBA not in model.capabilities:
        notes.append("the model answers labels only: score policies not attacked")
    if budget > len(box.pool) and "natural" in s.strategies:
        notes.append(
            f"natural strategy: {len(box.pool)} attacker records, the rest of the "
            f"{budget} queries are mixups of them"
        )
    return tuple(notes)


class ExtractionProbe:
    """Model extraction (ML05): surrogate fidelity vs query budget under each output policy."""

    id = "extraction"
    risk = RiskId.ML05
    requires = frozenset({Capability.PREDICT})
    description = "Model extraction: surrogates at query budgets, equation solving"

    def run(
        self, model: Classifier, data: AuditData, config: AuditSettings, progress: Progress
    ) -> ProbeResult:
        from mlwarden.attacks.privacy_findings import extraction_findings

        s = section(config, "extraction", ExtractionSettings)
        x_pop = getattr(data, "x_population", None)
        x_train = getattr(data, "x_train", None)
        attacker = x_pop if x_pop is not None else x_train if x_train is not None else data.x
        result = model_extraction(
            model,
            attacker,
            (data.x, data.y),
            s,
            seed=int(getattr(config, "seed", 0)),
            progress=progress,
        )
        source = str(getattr(data, "model_name", "model"))
        findings = extraction_findings(result, s, source)
        fids = [r["fidelity"] for r in result.rows if r["budget"] <= s.at_budget]
        metrics = {"extraction.max_fidelity": max(fids, default=0.0)}
        return ProbeResult(metrics=metrics, findings=findings, evidence=result.to_evidence())
