"""Extraction monitor: catches the synthetic attack streams, stays quiet on natural traffic,
keeps per-key state in a store."""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import pytest

from mlwarden.attacks import extraction_queries as eq
from mlwarden.attacks.extraction import attack_box
from mlwarden.defenses.extraction_monitor import ExtractionMonitor, MonitorConfig, MonitorVerdict
from mlwarden.defenses.monitor_profile import MonitorProfile
from mlwarden.defenses.monitor_store import InMemoryMonitorStore, KeyState, MonitorStore
from mlwarden.defenses.output_policy import OutputPolicy
from mlwarden.errors import MlwardenError, UsageError
from mlwarden.models import SklearnClassifier
from tests.attacks._privacy_models import digits, digits_mlp


@lru_cache(maxsize=1)
def profile() -> MonitorProfile:
    return MonitorProfile.fit(digits()[0][:600], seed=0)


def first_alert(monitor: ExtractionMonitor, key: str, stream: np.ndarray) -> int | None:
    for start in range(0, len(stream), 10):
        verdict = monitor.observe(key, stream[start : start + 10])
        if verdict.alert:
            return verdict.queries_seen
    return None


def attack_streams() -> dict[str, np.ndarray]:
    x, _ = digits()
    model = SklearnClassifier(digits_mlp(), clip=(0.0, 1.0))
    box = attack_box(model, x[600:1100])
    oracle = eq.PolicyOracle(model, OutputPolicy("label"), (64,))
    rng = np.random.default_rng(0)
    return {
        "uniform": eq.uniform_queries(box, 300, rng),
        "jacobian": eq.jacobian_stream(oracle, box, 300, rng, hidden=32)[0],
        "active": eq.active_stream(oracle, box, 500, rng, hidden=32)[0],
        "natural_then_mixup": eq.natural_queries(attack_box(model, x[600:700]), 500, rng),
    }


def test_attack_streams_are_caught_and_natural_traffic_is_not() -> None:
    monitor = ExtractionMonitor(profile())
    x, _ = digits()
    natural = x[1100:]
    assert first_alert(monitor, "user", natural) is None
    delays = {name: first_alert(monitor, name, s) for name, s in attack_streams().items()}
    assert all(d is not None and d <= 500 for d in delays.values()), delays
    assert delays["uniform"] <= 60
    assert monitor.store.load("user").seen == len(natural)


def test_verdict_reasons_and_reset() -> None:
    x, _ = digits()
    monitor = ExtractionMonitor(x[:600], MonitorConfig(window=128))
    rng = np.random.default_rng(1)
    noise = rng.uniform(0, 1, (80, 64))
    verdict = monitor.observe("k", noise)
    assert isinstance(verdict, MonitorVerdict) and verdict.alert and verdict.score >= 1
    assert any(r.startswith("ood_rate") for r in verdict.reasons)
    assert monitor.observe("k", x[1200]).alert  # sticky
    monitor.reset("k")
    assert monitor.observe("k", x[1200]).queries_seen == 1


def test_only_enabled_signals_alert() -> None:
    only_normality = MonitorConfig(signals=frozenset({"normality"}))
    monitor = ExtractionMonitor(profile(), only_normality)
    noise = np.random.default_rng(2).uniform(0, 1, (60, 64))
    assert not monitor.observe("k", noise).alert  # PRADA alone misses uniform noise


def test_state_round_trips_and_store_protocol() -> None:
    monitor = ExtractionMonitor(profile())
    monitor.observe("a", digits()[0][1100:1180])
    state = monitor.store.load("a")
    assert state is not None
    again = KeyState.from_bytes(state.to_bytes())
    assert again.seen == 80 and np.array_equal(again.window, state.window)
    assert isinstance(InMemoryMonitorStore(), MonitorStore)
    assert monitor.store.keys() == ["a"]
    with pytest.raises(MlwardenError, match="corrupt"):
        KeyState.from_bytes(b"not an npz")


def test_exact_repeats_do_not_count_and_bad_input_is_refused() -> None:
    monitor = ExtractionMonitor(profile())
    x = digits()[0]
    for _ in range(3):
        verdict = monitor.observe("retry", x[1100])
    assert verdict.queries_seen == 3 and len(monitor.store.load("retry").window) == 1
    with pytest.raises(UsageError, match="features"):
        monitor.observe("k", np.zeros(10))
    with pytest.raises(UsageError, match="100"):
        MonitorProfile.fit(x[:50])
