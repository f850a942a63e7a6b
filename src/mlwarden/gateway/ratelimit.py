"""Rate limits per API key and per client IP, and per-key quotas, through the ``limits`` package.

The counters live in the storage the policy names: ``memory://`` for one process, or
``redis://`` so that every worker and replica shares them. ``limits`` updates Redis
atomically (a Lua script for the moving window), so N workers admit exactly the limit, not N
times it. A refusal is a 429 with ``Retry-After``; nothing is counted for a request refused
before the model.
"""

from __future__ import annotations

import math
import time
from functools import lru_cache
from typing import Any

from mlwarden.errors import ConfigError
from mlwarden.gateway.errors import GatewayRefusal
from mlwarden.gateway.policy import RateLimitPolicy

_STRATEGIES = {
    "moving-window": "MovingWindowRateLimiter",
    "fixed-window": "FixedWindowRateLimiter",
    "sliding-window-counter": "SlidingWindowCounterRateLimiter",
}


def _storage(url: str) -> Any:
    from limits import storage as storages

    if url.startswith("memory://") and hasattr(
        storages.MemoryStorage, "_MemoryStorage__expire_events"
    ):
        return _memory_storage()
    return storages.storage_from_string(url)


def _memory_storage() -> Any:
    """limits' memory storage, expiring stale counters inline every 1,000 calls.

    NOTE: the stock class starts a ``threading.Timer`` whenever the previous one (10 ms) has
    ended, i.e. about one thread start per 10 ms of traffic; measured here, those thread
    starts and the GIL hand-offs they cause tripled the gateway's time per request. Counts
    are unchanged: an expired counter is also dropped when it is next read.
    """
    from limits.storage import MemoryStorage

    class InlineExpiry(MemoryStorage):
        calls = 0

        def _MemoryStorage__schedule_expiry(self) -> None:  # overrides the private hook
            self.calls += 1
            if self.calls % 1000 == 0:
                getattr(self, "_MemoryStorage__expire_events")()  # noqa: B009 (private)

    storage = InlineExpiry()
    storage.timer.cancel()
    return storage


@lru_cache(maxsize=256)
def _item(rate: str) -> Any:
    from limits import parse

    try:
        return parse(rate)
    except ValueError as exc:
        raise ConfigError(f"invalid rate {rate!r}: {exc}") from None


class RateLimiter:
    """Request limits per key and per IP, and instance quotas per key.

    Args:
        policy: the ``[gateway.rate_limit]`` section.
        storage: a ``limits`` storage (default: built from ``policy.storage``).
        namespace: prefix of every counter (one gateway's counters apart from another's).
    """

    def __init__(
        self, policy: RateLimitPolicy, storage: Any | None = None, namespace: str = "mlwarden"
    ) -> None:
        from limits import strategies

        self.policy = policy
        self.namespace = namespace
        try:
            self.storage = storage or _storage(policy.storage)
        except Exception as exc:  # limits raises ConfigurationError, ImportError, ValueError
            raise ConfigError(f"rate-limit storage {policy.storage!r}: {exc}") from None
        self._limiter = getattr(strategies, _STRATEGIES[policy.strategy])(self.storage)
        # Quotas count instances over long periods: a fixed window is exact and cheap there.
        self._quota = strategies.FixedWindowRateLimiter(self.storage)
        for rate in (policy.per_key, policy.per_ip, policy.throttled):
            _item(rate)

    def healthy(self) -> bool:
        """Whether the storage answers (``/readyz``)."""
        try:
            return bool(self.storage.check())
        except Exception:  # any storage failure means "not ready", never a crash
            return False

    def hit_key(self, key_id: str, rate: str | None, throttled: bool = False) -> None:
        """Count one request of a key against its limit (the throttled one if flagged)."""
        limit = self.policy.throttled if throttled else (rate or self.policy.per_key)
        self._hit(self._limiter, _item(limit), "key", key_id, "rate limit exceeded")

    def hit_quota(self, key_id: str, quota: str | None, instances: int) -> None:
        """Count ``instances`` against a key's quota (nothing when it has none)."""
        if quota is None:
            return
        item = _item(quota)
        if instances > item.amount:
            raise GatewayRefusal(413, "too_large", "the batch is larger than the key's quota")
        self._hit(self._quota, item, "quota", key_id, "quota exhausted", cost=instances)

    def hit_ip(self, address: str) -> None:
        """Count one request without a (valid) key from a client address."""
        self._hit(self._limiter, _item(self.policy.per_ip), "ip", address, "rate limit exceeded")

    def _hit(
        self, limiter: Any, item: Any, kind: str, who: str, message: str, cost: int = 1
    ) -> None:
        if limiter.hit(item, self.namespace, kind, who, cost=cost):
            return
        retry = self._retry_after(limiter, item, kind, who)
        raise GatewayRefusal(
            429,
            "rate_limited",
            message,
            headers={"Retry-After": str(retry)},
            decision=f"rate_limited_{kind}",
        )

    def _retry_after(self, limiter: Any, item: Any, kind: str, who: str) -> int:
        try:
            reset = limiter.get_window_stats(item, self.namespace, kind, who).reset_time
        except Exception:  # a storage hiccup must not turn a 429 into a 500
            return 1
        return max(1, math.ceil(float(reset) - time.time()))
