"""Prometheus metrics of one gateway (``GET /metrics``, prometheus-client).

Each app owns its registry, so two gateways in one process (tests) do not share counters.
With several workers, ``mlwarden serve`` points prometheus-client's multiprocess mode at a
shared directory and ``/metrics`` aggregates every worker.
"""

from __future__ import annotations

from typing import Any

_LATENCY_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0, 5.0)


class GatewayMetrics:
    """The gateway's counters, histograms and gauges.

    Args:
        multiprocess_dir: prometheus-client's multiprocess directory (several workers), or
            ``None`` for one process.
    """

    def __init__(self, multiprocess_dir: str | None = None) -> None:
        from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

        self.registry = CollectorRegistry()
        self.multiprocess_dir = multiprocess_dir
        reg = None if multiprocess_dir else self.registry
        self.requests = Counter(
            "mlwarden_requests", "Requests answered", ["route", "status"], registry=reg
        )
        self.decisions = Counter(
            "mlwarden_decisions",
            "Per-request decisions of the controls",
            ["decision"],
            registry=reg,
        )
        self.instances = Counter(
            "mlwarden_instances", "Instances answered, by answer", ["answer"], registry=reg
        )
        self.latency = Histogram(
            "mlwarden_request_seconds",
            "Time from request to signed, audited response",
            ["route"],
            buckets=_LATENCY_BUCKETS,
            registry=reg,
        )
        self.alerts = Counter(
            "mlwarden_alerts", "Alerts raised by the monitors", ["kind"], registry=reg
        )
        self.drift_psi = Gauge(
            "mlwarden_drift_psi",
            "Population stability index per feature (last window test)",
            ["feature"],
            registry=reg,
            multiprocess_mode="max",
        )
        self.drift_features = Gauge(
            "mlwarden_drift_features",
            "Features drifted in the last window test",
            registry=reg,
            multiprocess_mode="max",
        )
        self.extraction_score = Gauge(
            "mlwarden_extraction_score",
            "Highest extraction-monitor score seen (-log10 p)",
            registry=reg,
            multiprocess_mode="max",
        )
        self.audit_errors = Counter(
            "mlwarden_audit_errors", "Audit records that could not be written", registry=reg
        )
        self._children: dict[tuple[str, int, str], tuple[Any, Any, Any]] = {}

    def request_done(self, route: str, status: int, decision: str, seconds: float) -> None:
        """Count one answered request (label children cached: ``labels()`` locks and hashes)."""
        key = (route, status, decision)
        children = self._children.get(key)
        if children is None:
            children = self._children[key] = (
                self.requests.labels(route, str(status)),
                self.decisions.labels(decision),
                self.latency.labels(route),
            )
        children[0].inc()
        children[1].inc()
        children[2].observe(seconds)

    def render(self) -> tuple[bytes, str]:
        """The exposition text and its content type."""
        from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

        registry: Any = self.registry
        if self.multiprocess_dir:
            from prometheus_client import CollectorRegistry, multiprocess

            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry, path=self.multiprocess_dir)  # type: ignore[no-untyped-call]
        return generate_latest(registry), CONTENT_TYPE_LATEST
