"""Per-key and per-IP rate limits and per-key quotas (memory storage here; Redis in
tests/integration)."""

from __future__ import annotations

import time
from typing import Any

from mlwarden.gateway.auth import KeyStore


def test_per_key_limit_is_exact_and_says_when_to_retry(make_gateway: Any, served: Any) -> None:
    live = make_gateway(rate_limit={"per_key": "5/minute"})
    rows = {"instances": [served.x_test[0].tolist()]}
    statuses = [live.post(json=rows).status_code for _ in range(8)]
    assert statuses == [200] * 5 + [429] * 3
    refused = live.post(json=rows)
    assert refused.json()["error"]["code"] == "rate_limited"
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    # another key has its own budget
    token, _ = KeyStore.open(live.gw.policy.auth.keys_file).create("other")
    time.sleep(1.1)
    assert live.post(json=rows, token=token).status_code == 200


def test_a_key_may_have_its_own_rate_and_quota(make_gateway: Any, served: Any) -> None:
    live = make_gateway()
    token, _ = KeyStore.open(live.gw.policy.auth.keys_file).create("small", rate_limit="2/minute")
    quota_token, _ = KeyStore.open(live.gw.policy.auth.keys_file).create("quota", quota="10/day")
    time.sleep(1.1)
    one = {"instances": [served.x_test[0].tolist()]}
    assert [live.post(json=one, token=token).status_code for _ in range(3)] == [200, 200, 429]
    four = {"instances": served.x_test[:4].tolist()}
    assert [live.post(json=four, token=quota_token).status_code for _ in range(3)] == [
        200,
        200,
        429,
    ]
    assert (
        live.post(json={"instances": served.x_test[:11].tolist()}, token=quota_token).status_code
        == 413
    )


def test_unauthenticated_requests_are_limited_per_ip(make_gateway: Any) -> None:
    live = make_gateway(rate_limit={"per_ip": "3/minute"})
    statuses = [
        live.http.post("/v1/predict", json={}, headers={"Authorization": "Bearer x"}).status_code
        for _ in range(5)
    ]
    assert statuses == [401, 401, 401, 429, 429]
    assert live.http.get("/healthz").status_code == 429


def test_readiness_reports_backends(make_gateway: Any) -> None:
    live = make_gateway()
    ready = live.http.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["checks"] == {"model": True, "rate_limit_storage": True, "audit_log": True}
    live.gw.audit.close()
    assert live.http.get("/readyz").status_code in (503,)


def test_memory_storage_counts_exactly_without_timer_threads() -> None:
    import threading

    from mlwarden.gateway.errors import GatewayRefusal
    from mlwarden.gateway.policy import RateLimitPolicy
    from mlwarden.gateway.ratelimit import RateLimiter

    limiter = RateLimiter(RateLimitPolicy(per_key="3000/minute"), namespace="t")
    before = threading.active_count()
    refused = 0
    for _ in range(3500):
        try:
            limiter.hit_key("k", None)
        except GatewayRefusal:  # noqa: PERF203 (the 429s are the point)
            refused += 1
    assert refused == 500
    assert threading.active_count() <= before  # the stock storage starts a timer per 10 ms
