"""Gateway glue of the ML08 online drift monitor: every accepted input feeds the window.

After each window test the per-feature PSI and the count of drifted features are exported as
gauges; a change from "no drift" to "drift" is an alert (logged and counted), and so is the
return to normal, so a dashboard or alert rule can follow the state.
"""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING

from mlwarden.gateway.policy import DriftPolicy
from mlwarden.monitor.online import (
    DriftVerdict,
    OnlineDriftMonitor,
    RowStore,
    SharedDriftMonitor,
)

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

    from mlwarden.gateway.metrics import GatewayMetrics
    from mlwarden.monitor.profile import ReferenceProfile

log = logging.getLogger("mlwarden.gateway")


class DriftGuard:
    """Feeds inputs to the drift monitor and reports its verdicts.

    Args:
        profile: the reference profile.
        policy: the ``[gateway.drift]`` section.
        metrics: where gauges and alert counters go.
        store: the window shared by all workers (Redis); ``None`` keeps it in this process.
    """

    def __init__(
        self,
        profile: ReferenceProfile,
        policy: DriftPolicy,
        metrics: GatewayMetrics,
        store: RowStore | None = None,
    ) -> None:
        window, every = policy.window, policy.check_every
        alpha, effect = policy.alpha, policy.min_effect
        self.monitor: OnlineDriftMonitor | SharedDriftMonitor = (
            OnlineDriftMonitor(
                profile, window=window, check_every=every, alpha=alpha, min_effect=effect
            )
            if store is None
            else SharedDriftMonitor(
                profile, store, window=window, check_every=every, alpha=alpha, min_effect=effect
            )
        )
        self.metrics = metrics
        self.drifting = False
        self._lock = threading.Lock()

    def observe(
        self, x: NDArray[np.float32], bins: NDArray[np.uint8] | None = None
    ) -> DriftVerdict | None:
        """Add accepted inputs; export and alert when a window test ran."""
        with self._lock:
            verdict = self.monitor.observe(x, bins)
        if verdict is None:
            return None
        for feature, value in enumerate(verdict.psi.tolist()):
            self.metrics.drift_psi.labels(str(feature)).set(value)
        self.metrics.drift_features.set(len(verdict.features))
        if verdict.drifted != self.drifting:
            self.drifting = verdict.drifted
            self.metrics.alerts.labels("drift" if verdict.drifted else "drift_cleared").inc()
            log.warning(
                "input drift %s: %d feature(s) drifted over the last %d inputs (max PSI %.3f)",
                "detected" if verdict.drifted else "cleared",
                len(verdict.features),
                verdict.n,
                verdict.max_psi,
            )
        return verdict
