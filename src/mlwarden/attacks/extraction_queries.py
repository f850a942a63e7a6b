"""How an extraction attacker chooses queries: natural, uniform, Jacobian and active streams.

Every strategy asks the victim through a :class:`PolicyOracle` (the victim's answers as an
output policy shows them) and returns its queries *in the order sent*, so that the same
stream measures the surrogate at every budget (its prefixes) and the extraction monitor's
detection delay.

- natural: records of the attacker's own data (population), then mixup of pairs when they
  run out (the natural-then-synthetic stream);
- uniform: uniform noise in the input box;
- jacobian: Papernot et al.'s augmentation, x + lambda * sign(d log p_surrogate(y|x) / dx);
- active: uncertainty sampling over population records and their mixups (ActiveThief-like).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from mlwarden.attacks.surrogate import MlpSurrogate
from mlwarden.models.base import Capability

if TYPE_CHECKING:
    from mlwarden.defenses.output_policy import OutputPolicy

Floats = NDArray[np.float64]
_ROUND_STEPS = 600
_SEED_SIZE = 50


class PolicyOracle:
    """The victim as the attacker sees it through ``policy``; counts queries.

    Args:
        model: the victim (labels only, or probabilities).
        policy: what the answers reveal (``label`` for a label-only model).
        input_shape: the model's input shape (queries are flat here).
    """

    def __init__(self, model: Any, policy: OutputPolicy, input_shape: tuple[int, ...]) -> None:
        self.model = model
        self.policy = policy
        self.input_shape = input_shape
        self.n_classes = int(model.n_classes)
        self.used = 0

    def ask(self, x: Floats) -> Floats:
        """Training targets ``(n, k)`` the attacker learns from the answers to ``x``."""
        return policy_targets(self.ask_raw(x), self.policy)

    def ask_raw(self, x: Floats) -> Floats:
        """The richest answer available: probabilities, or one-hot labels (refusals uniform)."""
        self.used += len(x)
        batch = np.asarray(x, dtype=np.float32).reshape((len(x), *self.input_shape))
        if self.policy.gives_scores and Capability.PREDICT_PROBA in self.model.capabilities:
            return np.asarray(self.model.predict_proba(batch), dtype=np.float64)
        labels = np.asarray(self.model.predict(batch), dtype=np.int64)
        out = np.zeros((len(x), self.n_classes))
        ok = labels >= 0  # refused answers teach nothing: uniform target
        out[np.flatnonzero(ok), labels[ok]] = 1.0
        out[~ok] = 1.0 / self.n_classes
        return out


def policy_targets(raw: Floats, policy: OutputPolicy) -> Floats:
    """What ``policy`` shows of the raw answers, as soft training targets."""
    targets = to_targets(policy.apply(raw), policy.kind)
    refused = np.ptp(raw, axis=1) == 0  # uniform rows are refusals: no policy adds a label
    targets[refused] = 1.0 / raw.shape[1]
    return targets


def to_targets(shown: NDArray[np.floating], kind: str) -> Floats:
    """Soft targets from what a policy showed (top-k: the hidden mass spread evenly)."""
    t = np.clip(np.asarray(shown, dtype=np.float64), 0.0, None)
    if kind == "top_k":
        hidden = t == 0
        left = np.clip(1.0 - t.sum(axis=1, keepdims=True), 0.0, None)
        t = t + hidden * left / np.maximum(hidden.sum(axis=1, keepdims=True), 1)
    sums = t.sum(axis=1, keepdims=True)
    return np.asarray(np.where(sums > 0, t / np.where(sums > 0, sums, 1.0), 1.0 / t.shape[1]))


@dataclass(frozen=True)
class Box:
    """What the attacker knows of the input domain: its pool of records and the bounds."""

    pool: Floats
    low: Floats
    high: Floats

    def clip(self, x: Floats) -> Floats:
        return np.asarray(np.clip(x, self.low, self.high))

    def mixup(self, n: int, rng: np.random.Generator) -> Floats:
        a = self.pool[rng.integers(0, len(self.pool), n)]
        b = self.pool[rng.integers(0, len(self.pool), n)]
        lam = rng.uniform(0.2, 0.8, (n, 1))
        return np.asarray(lam * a + (1 - lam) * b)


def _surrogate(box: Box, n_classes: int, hidden: int, seed: int, steps: int | None) -> MlpSurrogate:
    # Centre on the attacker's records and divide by ONE global scale: per-feature scaling
    # would make noise features as loud as informative ones (it cost 3-4 points of fidelity).
    center = box.pool.mean(axis=0)
    scale = np.full(box.pool.shape[1], max(float(box.pool.std()), 1e-6))
    return MlpSurrogate(
        n_classes, hidden=hidden, seed=seed, center=center, scale=scale, steps=steps
    )


def natural_queries(box: Box, budget: int, rng: np.random.Generator) -> Floats:
    """Pool records in random order; mixup of pool pairs once the pool is used up."""
    x = box.pool[rng.permutation(len(box.pool))[:budget]]
    if budget > len(x):
        x = np.concatenate([x, box.mixup(budget - len(x), rng)])
    return x


def uniform_queries(box: Box, budget: int, rng: np.random.Generator) -> Floats:
    """Uniform noise in the box ``[low, high]``."""
    return np.asarray(rng.uniform(box.low, box.high, (budget, len(box.low))))


def jacobian_stream(
    oracle: PolicyOracle,
    box: Box,
    budget: int,
    rng: np.random.Generator,
    *,
    hidden: int = 128,
    step: float = 0.1,
    flip_every: int = 3,
) -> tuple[Floats, Floats]:
    """Papernot's Jacobian-based augmentation, reservoir-sampled to fit the budget."""
    xs = [box.pool[rng.permutation(len(box.pool))[: min(_SEED_SIZE, budget)]]]
    ts = [oracle.ask(xs[0])]
    lam = step * (box.high - box.low)
    rounds = 0
    while sum(len(x) for x in xs) < budget:
        x_all, t_all = np.concatenate(xs), np.concatenate(ts)
        sur = _surrogate(box, oracle.n_classes, hidden, int(rng.integers(1 << 30)), _ROUND_STEPS)
        sur.fit(x_all, t_all)
        take = min(len(x_all), budget - len(x_all))
        pick = rng.choice(len(x_all), take, replace=False)
        grad = sur.log_proba_gradient(x_all[pick], np.argmax(t_all[pick], axis=1))
        sign = -1.0 if (rounds // flip_every) % 2 else 1.0
        new = box.clip(x_all[pick] + sign * lam * np.sign(grad))
        xs.append(new)
        ts.append(oracle.ask(new))
        rounds += 1
    return np.concatenate(xs)[:budget], np.concatenate(ts)[:budget]


def active_stream(
    oracle: PolicyOracle, box: Box, budget: int, rng: np.random.Generator, *, hidden: int = 128
) -> tuple[Floats, Floats]:
    """Uncertainty sampling: query the candidates the surrogate is least sure of."""
    first = min(_SEED_SIZE, budget)
    xs = [box.pool[rng.permutation(len(box.pool))[:first]]]
    ts = [oracle.ask(xs[0])]
    while (done := sum(len(x) for x in xs)) < budget:
        take = min(done, budget - done)
        candidates = np.concatenate([box.pool, box.mixup(max(len(box.pool), 4 * take), rng)])
        sur = _surrogate(box, oracle.n_classes, hidden, int(rng.integers(1 << 30)), _ROUND_STEPS)
        sur.fit(np.concatenate(xs), np.concatenate(ts))
        p = np.sort(sur.predict_proba(candidates), axis=1)
        margin = p[:, -1] - p[:, -2]
        shortlist = np.argsort(margin, kind="stable")[: 2 * take]
        chosen = candidates[rng.choice(shortlist, take, replace=False)]
        xs.append(chosen)
        ts.append(oracle.ask(chosen))
    return np.concatenate(xs)[:budget], np.concatenate(ts)[:budget]


#: Strategies whose queries do not depend on the answers (one stream serves every policy).
FIXED = {"natural": natural_queries, "uniform": uniform_queries}
#: Strategies that adapt to the answers (one stream per policy).
ADAPTIVE = {"jacobian": jacobian_stream, "active": active_stream}


def fit_and_compare(
    x: Floats,
    t: Floats,
    box: Box,
    n_classes: int,
    hidden: int,
    seed: int,
    x_eval: Floats,
    victim_eval: NDArray[np.int64],
    y_eval: NDArray[np.int64],
    ensemble: int = 1,
) -> tuple[float, float]:
    """Train ``ensemble`` surrogates on ``(x, t)`` and average them (the attacker's copy);
    (fidelity to the victim, accuracy) on the eval set."""
    from mlwarden.models.threads import single_thread

    single_thread()
    proba = sum(
        _surrogate(box, n_classes, hidden, seed + i, None).fit(x, t).predict_proba(x_eval)
        for i in range(ensemble)
    )
    pred = np.argmax(proba, axis=1)
    return float((pred == victim_eval).mean()), float((pred == y_eval).mean())
