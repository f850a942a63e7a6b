"""The gateway's drift window shared by workers: two monitors on one store see all traffic.

With several workers each process used to test only its own share of the inputs; with a
shared store (Redis in production) the window holds every worker's inputs, the test runs
once per ``check_every`` inputs in all, and its verdict is the one a single process would
reach on the same traffic.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from mlwarden.gateway.extraction_monitor import MemoryWindowStore
from mlwarden.monitor.online import OnlineDriftMonitor, SharedDriftMonitor
from mlwarden.monitor.profile import ReferenceProfile

OPTIONS = {"window": 400, "check_every": 100, "alpha": 0.01, "min_effect": 0.1}


@pytest.fixture(scope="module")
def profile() -> ReferenceProfile:
    rng = np.random.default_rng(0)
    return ReferenceProfile.build(rng.normal(size=(4000, 3)))


def feed(workers: list[Any], x: np.ndarray, batch: int = 10) -> list[Any]:
    """Round-robin batches over the workers; every verdict any of them returned."""
    verdicts = []
    for i, start in enumerate(range(0, len(x), batch)):
        verdict = workers[i % len(workers)].observe(x[start : start + batch])
        if verdict is not None:
            verdicts.append(verdict)
    return verdicts


def run(store: Any, profile: ReferenceProfile, x: np.ndarray) -> list[Any]:
    workers = [SharedDriftMonitor(profile, store, **OPTIONS) for _ in range(2)]
    return feed(workers, x)


def test_shared_window_sees_all_traffic_and_tests_once_per_check(
    profile: ReferenceProfile,
) -> None:
    rng = np.random.default_rng(1)
    same, shifted = rng.normal(size=(800, 3)), rng.normal(size=(800, 3)) + np.array([1.0, 0, 0])
    verdicts = run(MemoryWindowStore(), profile, np.vstack([same, shifted]))
    # 1600 inputs, the window full at 400, a test every 100 inputs in all: 13 tests, not 26.
    assert len(verdicts) == 13
    assert all(v.n == 400 for v in verdicts)
    assert not any(v.drifted for v in verdicts[:4])  # the window holds unshifted traffic
    assert verdicts[-1].drifted and verdicts[-1].features == (0,)


def test_the_shared_verdict_equals_one_process_on_the_same_traffic(
    profile: ReferenceProfile,
) -> None:
    rng = np.random.default_rng(2)
    x = np.vstack([rng.normal(size=(500, 3)), rng.normal(size=(500, 3)) * np.array([1, 1.8, 1])])
    shared = run(MemoryWindowStore(), profile, x)
    single = feed([OnlineDriftMonitor(profile, **OPTIONS)], x)
    assert len(shared) == len(single)
    for a, b in zip(shared, single, strict=True):
        assert a.features == b.features
        assert np.allclose(a.psi, b.psi) and np.allclose(a.pvalues, b.pvalues)


def test_per_worker_windows_would_miss_what_the_shared_one_catches(
    profile: ReferenceProfile,
) -> None:
    # Worker 1 serves shifted inputs, worker 2 normal ones: each private window of 400 would
    # hold one kind only (so one sees drift); the shared window mixes both, as the traffic is.
    rng = np.random.default_rng(3)
    store = MemoryWindowStore()
    a, b = (SharedDriftMonitor(profile, store, **OPTIONS) for _ in range(2))
    verdicts = []
    for _ in range(40):
        verdicts += [v for v in (a.observe(rng.normal(size=(10, 3)) + np.array([0.8, 0, 0])),) if v]
        verdicts += [v for v in (b.observe(rng.normal(size=(10, 3))),) if v]
    assert verdicts and all(v.n == 400 for v in verdicts)
    assert verdicts[-1].drifted and verdicts[-1].features == (0,)
    assert 0.05 < verdicts[-1].psi[0] < 1.0  # half the traffic shifted: a diluted effect


def test_two_workers_share_one_window_in_redis(profile: ReferenceProfile) -> None:
    from tests.gateway.helpers import service_url

    url = service_url("redis")
    from mlwarden.gateway.storage import shared_state

    prefix = f"mlwarden:test-drift-{np.random.default_rng().integers(1 << 30)}"
    stores = [shared_state(url, prefix)[0] for _ in range(2)]  # two processes' clients
    workers = [SharedDriftMonitor(profile, s, **OPTIONS) for s in stores]
    rng = np.random.default_rng(4)
    x = np.vstack([rng.normal(size=(400, 3)), rng.normal(size=(400, 3)) + np.array([0, 0, 1.2])])
    try:
        verdicts = feed(workers, x)
        assert len(verdicts) == 5  # tests at 400, 500, 600, 700, 800 inputs in all
        assert not verdicts[0].drifted
        assert verdicts[-1].drifted and verdicts[-1].features == (2,)
    finally:
        client = stores[0].client
        client.delete(*client.keys(f"{prefix}*") or ["-"])
