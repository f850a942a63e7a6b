"""Where shared state lives: in this process (memory://) or in Redis (redis://) for replicas.

Rate-limit counters go to the storage the ``limits`` package builds from the same URL; this
module gives the extraction monitor its window store and the per-key flags (throttled,
blocked) a home, in memory or in Redis under one key prefix. The audit log has its own
backends (:mod:`mlwarden.gateway.auditlog`).
"""

from __future__ import annotations

import threading
import time
from typing import Any, Protocol

from mlwarden.errors import ConfigError
from mlwarden.gateway.extraction_monitor import MemoryWindowStore


class FlagStore(Protocol):
    """Per-key flags with an expiry (the extraction monitor's throttle/block decisions)."""

    def set(self, key: str, value: str, seconds: int) -> None: ...

    def get(self, key: str) -> str | None: ...


class MemoryFlagStore:
    """Flags inside one process."""

    def __init__(self) -> None:
        self._flags: dict[str, tuple[str, float]] = {}
        self._lock = threading.Lock()

    def set(self, key: str, value: str, seconds: int) -> None:
        with self._lock:
            self._flags[key] = (value, time.monotonic() + seconds)

    def get(self, key: str) -> str | None:
        with self._lock:
            found = self._flags.get(key)
            if found is None:
                return None
            if found[1] < time.monotonic():
                del self._flags[key]
                return None
            return found[0]


class RedisWindowStore:
    """A :class:`WindowStore` in Redis: one capped list and one counter per key, forgotten
    after ``ttl`` seconds of silence."""

    def __init__(self, client: Any, prefix: str = "mlwarden:xm", ttl: int = 86_400) -> None:
        self.client = client
        self.prefix = prefix
        self.ttl = ttl

    def append(self, key: str, entries: list[bytes], keep: int) -> int:
        window, seen = f"{self.prefix}:w:{key}", f"{self.prefix}:n:{key}"
        pipe = self.client.pipeline(transaction=True)
        pipe.rpush(window, *entries)
        pipe.ltrim(window, -keep, -1)
        pipe.incrby(seen, len(entries))
        pipe.expire(window, self.ttl)
        pipe.expire(seen, self.ttl)
        return int(pipe.execute()[2])

    def window(self, key: str) -> list[bytes]:
        return list(self.client.lrange(f"{self.prefix}:w:{key}", 0, -1))


class RedisFlagStore:
    """Flags in Redis (``SET ... EX``), seen by every worker and replica."""

    def __init__(self, client: Any, prefix: str = "mlwarden:flag") -> None:
        self.client = client
        self.prefix = prefix

    def set(self, key: str, value: str, seconds: int) -> None:
        self.client.set(f"{self.prefix}:{key}", value, ex=seconds)

    def get(self, key: str) -> str | None:
        value = self.client.get(f"{self.prefix}:{key}")
        return value.decode() if isinstance(value, bytes) else value


class RedisKeyStateStore:
    """The ``MonitorStore`` of :mod:`mlwarden.defenses.extraction_monitor` in Redis.

    Each key's :class:`~mlwarden.defenses.monitor_store.KeyState` is one value (its ``.npz``
    bytes, never a pickle) that expires after ``ttl`` seconds of silence; :meth:`locked`
    serialises a load-observe-save cycle across workers so that no query is lost.
    """

    def __init__(self, client: Any, prefix: str = "mlwarden:xs", ttl: int = 86_400) -> None:
        self.client = client
        self.prefix = prefix
        self.ttl = ttl

    def load(self, key: str) -> Any:
        from mlwarden.defenses.monitor_store import KeyState

        data = self.client.get(f"{self.prefix}:{key}")
        return None if data is None else KeyState.from_bytes(data)

    def save(self, key: str, state: Any) -> None:
        self.client.set(f"{self.prefix}:{key}", state.to_bytes(), ex=self.ttl)

    def delete(self, key: str) -> None:
        self.client.delete(f"{self.prefix}:{key}")

    def locked(self, key: str) -> Any:
        """A Redis lock held for one observe (released after at most 10 s)."""
        return self.client.lock(f"{self.prefix}:lock:{key}", timeout=10, blocking_timeout=10)


def redis_client(url: str) -> Any:
    """A redis-py client for ``url`` (the ``redis`` extra)."""
    try:
        import redis
    except ImportError:
        raise ConfigError(
            f"{url} needs the redis package", hint="pip install 'mlwarden[redis]'"
        ) from None
    return redis.Redis.from_url(url, socket_timeout=5)


def shared_state(url: str, prefix: str, engine: str = "streaming") -> tuple[Any, FlagStore]:
    """The monitor's store (windows, or key states for ``engine="full"``) and the flags."""
    if url.startswith("memory://"):
        if engine == "full":
            from mlwarden.defenses.monitor_store import InMemoryMonitorStore

            return InMemoryMonitorStore(), MemoryFlagStore()
        return MemoryWindowStore(), MemoryFlagStore()
    if url.startswith(("redis://", "rediss://")):
        client = redis_client(url)
        flags = RedisFlagStore(client, f"{prefix}:flag")
        if engine == "full":
            return RedisKeyStateStore(client, f"{prefix}:xs"), flags
        return RedisWindowStore(client, f"{prefix}:xm"), flags
    raise ConfigError(f"unsupported shared-state storage {url!r}; use memory:// or redis://")
