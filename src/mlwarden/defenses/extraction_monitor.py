"""Extraction monitor (ML05): flag API keys whose query stream looks like a model-stealing attack.

PRADA (Juuti et al., 2019) tests whether the distances between a key's successive queries
are normally distributed; alone it misses most modern streams. This monitor keeps, per key,
a sliding window of standardised queries and tests six signals against a
:class:`~mlwarden.defenses.monitor_profile.MonitorProfile` of the training data:

- ``ood_rate``: share of queries farther from the training data than natural ones (binomial);
- ``near_duplicates``: share of queries closer to an earlier one than natural records ever
  are to each other (perturbation chains);
- ``step_pattern``: share of queries that differ from their nearest earlier one by a
  gradient-sign step (most changed coordinates move by the same amount: Jacobian/FGSM);
- ``marginal_shift``: per-feature CDF distance to training (uniform or grid sampling);
- ``coverage_shift``: chi-square of coarse input-space cells vs training frequencies;
- ``normality``: PRADA's Shapiro-Wilk statistic of the min-distances.

A stream of natural records from the training distribution is, by construction, what
natural traffic is: no input-side monitor can tell it apart (rate limits and watermarks
answer that case). Per-key state lives in a :class:`~mlwarden.defenses.monitor_store.MonitorStore`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from mlwarden.defenses.monitor_profile import MonitorProfile
from mlwarden.defenses.monitor_store import InMemoryMonitorStore, KeyState, MonitorStore

MIN_QUERIES = 50
MIN_NORMALITY = 100
CHECK_EVERY = 10
RATE_SIGNALS = {"ood": "ood_rate", "dup": "near_duplicates", "step": "step_pattern"}
_STEP_TOLERANCE = 0.05
_STEP_SHARE = 0.6
_STEP_MIN_COORDS = 3


@dataclass(frozen=True)
class MonitorConfig:
    """Settings of the monitor.

    Args:
        window: queries kept per key (profile fitting uses it too).
        alpha: significance of the rate tests (tiny: thousands of tests run per key).
        signals: the signals that may raise an alert.
        seed: seed of profile fitting.
    """

    window: int = 256
    alpha: float = 1e-6
    signals: frozenset[str] = frozenset(
        {*RATE_SIGNALS.values(), "marginal_shift", "coverage_shift", "normality"}
    )
    seed: int = 0


@dataclass(frozen=True)
class MonitorVerdict:
    """The monitor's view of one key after a query.

    Attributes:
        alert: whether the key's stream looks like extraction (sticky).
        score: strongest signal relative to its threshold (>= 1 means alert).
        reasons: the signals past their thresholds, with values.
        queries_seen: queries observed from this key.
    """

    alert: bool
    score: float
    reasons: tuple[str, ...]
    queries_seen: int


def _step_like(diff: NDArray[np.float64]) -> bool:
    mag = np.abs(diff)
    changed = mag[mag > 1e-6]
    if len(changed) < _STEP_MIN_COORDS:
        return False
    mid = float(np.median(changed))
    return bool(np.mean(np.abs(changed - mid) <= _STEP_TOLERANCE * mid) >= _STEP_SHARE)


def push(
    p: MonitorProfile, state: KeyState, z: NDArray[np.float64], ood: NDArray[np.bool_]
) -> None:
    """Add standardised queries ``z`` (with their OOD flags) to ``state``'s window."""
    cells = p.cells(z)
    window = state.window if state.window.size else np.zeros((0, p.features), np.float32)
    rows = [window]
    md, dup, step = [state.min_dist], [state.dup], [state.step]
    z = z.astype(np.float32).astype(np.float64)  # compare as stored: repeats are exact
    for i in range(len(z)):
        state.seen += 1
        current = np.concatenate(rows) if len(rows) > 1 else rows[0]
        if len(current):
            dist = np.sqrt(((current - z[i]) ** 2).sum(axis=1))
            j = int(np.argmin(dist))
            if dist[j] == 0.0:
                continue  # an exact repeat (a retry) teaches an attacker nothing new
            md.append(np.array([dist[j]]))
            dup.append(np.array([dist[j] < p.dup_radius]))
            diff = z[i] - current[j]  # a step may be uniform in raw or in standardised units
            step.append(np.array([_step_like(diff * p.scale) or _step_like(diff)]))
        else:
            md.append(np.array([np.inf]))
            dup.append(np.array([False]))
            step.append(np.array([False]))
        rows.append(z[i : i + 1].astype(np.float32))
        state.ood = np.append(state.ood, ood[i])
        state.cell = np.append(state.cell, cells[i])
    keep = p.window
    state.window = np.concatenate(rows)[-keep:]
    state.min_dist = np.concatenate(md)[-keep:]
    state.dup = np.concatenate(dup).astype(bool)[-keep:]
    state.step = np.concatenate(step).astype(bool)[-keep:]
    state.ood = state.ood[-keep:]
    state.cell = state.cell[-keep:]


def replay(p: MonitorProfile, z: NDArray[np.float64]) -> KeyState:
    """The state after a stream of standardised queries (no alerting; for calibration)."""
    from dataclasses import replace

    state = KeyState()
    push(replace(p, window=max(p.window, len(z))), state, z, p.nn_distance(z) > p.ood_radius)
    return state


def window_stats(p: MonitorProfile, state: KeyState, upto: int | None = None) -> dict[str, float]:
    """Marginal shift, coverage shift and Shapiro-Wilk W over the last ``window`` queries."""
    end = len(state.window) if upto is None else upto
    sl = slice(max(0, end - p.window), end)
    out = {
        "marginal": p.marginal_shift(state.window[sl].astype(np.float64)),
        "coverage": p.coverage_shift(state.cell[sl]),
    }
    md = state.min_dist[sl]
    md = md[np.isfinite(md)]
    if len(md) >= MIN_NORMALITY and np.ptp(md) > 0:
        from scipy.stats import shapiro

        out["normality"] = float(shapiro(md).statistic)
    return out


class ExtractionMonitor:
    """Scores each API key's query stream for model-extraction patterns.

    Args:
        profile_or_training_data: a fitted :class:`MonitorProfile`, or training records to
            fit one from (at least 100).
        config: monitor settings.
        store: where per-key state lives (default: in memory).
    """

    def __init__(
        self,
        profile_or_training_data: MonitorProfile | NDArray[Any],
        config: MonitorConfig | None = None,
        store: MonitorStore | None = None,
    ) -> None:
        self.config = config or MonitorConfig()
        self.store: MonitorStore = store if store is not None else InMemoryMonitorStore()
        if isinstance(profile_or_training_data, MonitorProfile):
            self.profile = profile_or_training_data
        else:
            self.profile = MonitorProfile.fit(
                profile_or_training_data, window=self.config.window, seed=self.config.seed
            )

    def observe(self, key: str, x: NDArray[Any]) -> MonitorVerdict:
        """Record the query (or batch of queries) ``x`` of ``key`` and judge its stream."""
        rows = np.asarray(x, dtype=np.float64)
        rows = rows.reshape(1, -1) if rows.ndim == 1 else rows.reshape(len(rows), -1)
        state = self.store.load(key) or KeyState()
        p = self.profile
        verdict: MonitorVerdict | None = None
        for start in range(0, len(rows), CHECK_EVERY):
            z = p.standardise(rows[start : start + CHECK_EVERY])
            push(p, state, z, p.nn_distance(z) > p.ood_radius)
            verdict = self._judge(state)
        self.store.save(key, state)
        return verdict or self._judge(state)

    def reset(self, key: str) -> None:
        """Forget ``key`` (after review of an alert)."""
        self.store.delete(key)

    def _judge(self, state: KeyState) -> MonitorVerdict:
        if not state.alerted and len(state.window) >= MIN_QUERIES:
            scores = self._scores(state)
            hits = tuple(reason for s, reason in scores if s >= 1.0)
            state.score = max([state.score, *(s for s, _ in scores)])
            if hits:
                state.alerted, state.reasons = True, hits
        return MonitorVerdict(state.alerted, round(state.score, 4), state.reasons, state.seen)

    def _scores(self, state: KeyState) -> list[tuple[float, str]]:
        from scipy.stats import binom

        p, cfg = self.profile, self.config
        out: list[tuple[float, str]] = []
        n = len(state.window)
        log_alpha = math.log(cfg.alpha)
        for attr, name in RATE_SIGNALS.items():
            if name not in cfg.signals:
                continue
            hits = int(getattr(state, attr).sum())
            pval = float(binom.sf(hits - 1, n, p.rates[attr])) if hits else 1.0
            out.append(
                (math.log(max(pval, 1e-300)) / log_alpha, f"{name} {hits}/{n} (p={pval:.1e})")
            )
        for name, value in window_stats(p, state).items():
            if name == "normality":
                if "normality" in cfg.signals:
                    limit = p.limits[name]
                    out.append(
                        ((1 - value) / (1 - limit), f"normality W={value:.3f} < {limit:.3f}")
                    )
            elif name == "marginal" and "marginal_shift" in cfg.signals:
                limit = p.limits["marginal"]
                out.append((value / limit, f"marginal_shift {value:.2f} > {limit:.2f}"))
            elif name == "coverage" and "coverage_shift" in cfg.signals:
                score = math.log(max(value, 1e-300)) / log_alpha
                out.append((score, f"coverage_shift (p={value:.1e})"))
        return out
