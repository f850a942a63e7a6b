"""Gateway glue of the ML05 extraction monitor: observe each key, alert, throttle or block.

An alert is logged, counted in the metrics and recorded in the audit log; by policy it also
throttles the key (the rate limiter switches it to ``rate_limit.throttled``) or blocks it
(403) for ``block_seconds``. Flags live in the shared flag store, so every worker applies
them.
"""

from __future__ import annotations

import contextlib
import logging
from typing import TYPE_CHECKING, Any

from mlwarden.defenses.extraction_monitor import MonitorVerdict
from mlwarden.gateway.errors import GatewayRefusal
from mlwarden.gateway.extraction_monitor import StreamingExtractionMonitor
from mlwarden.gateway.policy import ExtractionPolicy

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

    from mlwarden.gateway.storage import FlagStore

log = logging.getLogger("mlwarden.gateway")


class ExtractionGuard:
    """Applies the extraction monitor's verdicts to keys.

    Args:
        monitor: the per-key monitor (the streaming one, or ``defenses``' full monitor).
        flags: where throttle/block decisions are kept.
        policy: the ``[gateway.extraction]`` section.
    """

    def __init__(self, monitor: Any, flags: FlagStore, policy: ExtractionPolicy) -> None:
        self.monitor = monitor
        self.flags = flags
        self.policy = policy

    def flag(self, key_id: str) -> str | None:
        """``"throttle"``, ``"block"`` or ``None`` for a key.

        Raises:
            GatewayRefusal: 403 when the key is blocked.
        """
        flag = self.flags.get(key_id)
        if flag == "block":
            raise GatewayRefusal(
                403, "blocked", "this API key is blocked (query pattern)", decision="blocked"
            )
        return flag

    def observe(
        self, key_id: str, x: NDArray[np.float32], bins: NDArray[np.uint8] | None = None
    ) -> MonitorVerdict:
        """Record a key's queries; act on an alert."""
        if isinstance(self.monitor, StreamingExtractionMonitor):
            verdict: MonitorVerdict = self.monitor.observe(key_id, x, bins)
        else:
            locked = getattr(self.monitor.store, "locked", None)
            with locked(key_id) if locked is not None else contextlib.nullcontext():
                verdict = self.monitor.observe(key_id, x)
        if verdict.alert:
            log.warning(
                "extraction alert for key %s after %d queries: %s",
                key_id,
                verdict.queries_seen,
                "; ".join(verdict.reasons),
            )
            if self.policy.action != "alert":
                self.flags.set(key_id, self.policy.action, self.policy.block_seconds)
        return verdict
