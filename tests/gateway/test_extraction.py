"""ML05 extraction monitor through the gateway: real attack streams alert (and, by policy,
throttle or block the key) within a bounded number of queries; natural traffic does not."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest


def _alerted(live: Any) -> list[int]:
    """1-based query numbers whose request raised an extraction alert."""
    records = [r.record for r in live.gw.audit.records() if r.record.path == "/v1/predict"]
    return [i + 1 for i, r in enumerate(records) if r.decision == "extraction_alert"]


def _query(live: Any, rows: np.ndarray) -> list[Any]:
    response = live.post(json={"instances": np.asarray(rows).tolist()})
    assert response.status_code == 200, response.text
    return list(response.json()["predictions"])


def _box(live: Any) -> tuple[np.ndarray, np.ndarray]:
    """The input space an attacker can query: inside the schema's bounds and [0, 1]."""
    schema = live.gw.validator.schema
    low = np.clip(np.asarray(schema.minimum), 0.0, 1.0)
    return low, np.clip(np.asarray(schema.maximum), 0.0, 1.0)


def _uniform(live: Any, seed: int, n: int) -> np.ndarray:
    low, high = _box(live)
    return np.random.default_rng(seed).uniform(low, high, (n, len(low)))


def jacobian_stream(live: Any, seeds: np.ndarray, rounds: int, step: float = 0.1) -> int:
    """Papernot et al.'s Jacobian-based augmentation, one query per synthetic point; returns
    the number of queries sent."""
    from sklearn.linear_model import LogisticRegression

    data = np.asarray(seeds, dtype=np.float64)
    labels = np.array([_query(live, row[None])[0] for row in data])
    sent = len(data)
    for _ in range(rounds):
        surrogate = LogisticRegression(max_iter=200).fit(data, labels)
        index = np.searchsorted(surrogate.classes_, labels)
        grads = surrogate.coef_[index]
        new = np.clip(data + step * np.sign(grads), *_box(live))
        new_labels = np.array([_query(live, row[None])[0] for row in new])
        sent += len(new)
        data, labels = np.concatenate([data, new]), np.concatenate([labels, new_labels])
        if sent > 400:
            break
    return sent


def test_natural_traffic_raises_no_alarm(make_gateway: Any, served: Any) -> None:
    live = make_gateway()
    rows = served.x_test[np.random.default_rng(1).permutation(len(served.x_test))]
    for row in rows:
        _query(live, row[None])
    for start in range(0, 300, 10):
        _query(live, served.x_test[start : start + 10])
    assert _alerted(live) == []


def test_uniform_sampling_is_caught_within_50_queries(make_gateway: Any, served: Any) -> None:
    live = make_gateway()
    for row in _uniform(live, 2, 100):
        _query(live, row[None])
    alerts = _alerted(live)
    assert alerts and alerts[0] <= 50


def test_jacobian_augmentation_is_caught_within_100_queries(make_gateway: Any, served: Any) -> None:
    live = make_gateway()
    sent = jacobian_stream(live, served.x_test[:10], rounds=5)
    alerts = _alerted(live)
    assert sent >= 100 and alerts and alerts[0] <= 100


@pytest.mark.parametrize(("action", "status"), [("block", 403), ("throttle", 429)])
def test_policy_blocks_or_throttles_the_key(
    make_gateway: Any, served: Any, action: str, status: int
) -> None:
    live = make_gateway(extraction={"action": action}, rate_limit={"throttled": "1/minute"})
    for row in _uniform(live, 3, 50):
        _query(live, row[None])
    assert _alerted(live) == [50]  # the first check after min_queries (30), every 25
    natural = {"instances": [served.x_test[0].tolist()]}
    codes = [live.post(json=natural).status_code for _ in range(2)]
    assert codes[-1] == status
    assert live.gw.extraction.flags.get(live.key_id) == action


def test_alerts_are_exported_as_metrics(make_gateway: Any) -> None:
    live = make_gateway(auth={"public_metrics": True})
    for row in _uniform(live, 4, 50):
        _query(live, row[None])
    text = live.http.get("/metrics").text
    assert 'mlwarden_alerts_total{kind="extraction"} 1.0' in text
    assert "mlwarden_extraction_score" in text


def test_prada_signal_when_switched_on(served: Any) -> None:
    from mlwarden.gateway.extraction_monitor import StreamingExtractionMonitor
    from mlwarden.gateway.policy import ExtractionPolicy

    config = ExtractionPolicy(prada_delta=0.9, ood_base_rate=0.5)  # isolate the PRADA signal
    natural = StreamingExtractionMonitor(served.x_train, config)
    verdicts = [natural.observe("k", row[None]) for row in served.x_test[:300]]
    assert not any(v.alert for v in verdicts)
    # synthetic queries in tight clusters: tiny steps around a few seeds (a bimodal mix of
    # near-zero distances to the last step and large jumps between seeds)
    rng = np.random.default_rng(5)
    seeds = served.x_test[:6]
    steps = [np.clip(s + rng.normal(0, 0.002, 64), 0, 1) for s in seeds for _ in range(50)]
    probing = StreamingExtractionMonitor(served.x_train, config)
    fired = [v for v in (probing.observe("k", row[None]) for row in np.asarray(steps)) if v.alert]
    assert fired and any("normally distributed" in r for r in fired[0].reasons)


def test_the_full_monitor_of_defenses_runs_behind_the_same_guard(make_gateway: Any) -> None:
    live = make_gateway(extraction={"engine": "full", "action": "block"})
    from mlwarden.defenses.extraction_monitor import ExtractionMonitor

    assert isinstance(live.gw.extraction.monitor, ExtractionMonitor)
    statuses = [
        live.post(json={"instances": [row.tolist()]}).status_code for row in _uniform(live, 6, 80)
    ]
    alerts = _alerted(live)
    assert alerts and alerts[0] <= 60
    assert statuses[: alerts[0]] == [200] * alerts[0] and set(statuses[alerts[0] :]) == {403}


@pytest.mark.redis
def test_redis_stores_share_windows_flags_and_key_states(served: Any) -> None:
    import uuid

    from mlwarden.defenses.monitor_store import KeyState
    from mlwarden.gateway.extraction_monitor import StreamingExtractionMonitor
    from mlwarden.gateway.storage import shared_state
    from tests.gateway.helpers import service_url

    url = service_url("redis")
    prefix = f"mlwarden-test:{uuid.uuid4().hex}"
    windows, flags = shared_state(url, prefix)
    first = StreamingExtractionMonitor(served.x_train, store=windows)
    second = StreamingExtractionMonitor(first.profile, store=windows)  # another worker
    low, high = served.x_train.min(axis=0), served.x_train.max(axis=0)
    rows = np.random.default_rng(8).uniform(low, high, (50, 64))
    verdicts = [(first if i % 2 else second).observe("k", row[None]) for i, row in enumerate(rows)]
    assert verdicts[-1].queries_seen == 50 and verdicts[-1].alert
    flags.set("k", "block", 5)
    assert shared_state(url, prefix)[1].get("k") == "block"
    states, _ = shared_state(url, prefix, "full")
    states.save("k", KeyState(seen=7, reasons=("x",)))
    assert states.load("k").seen == 7
    with states.locked("k"):
        states.delete("k")
    assert states.load("k") is None
