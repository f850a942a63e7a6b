"""The audit probes: what a probe is, what it returns, and the one list of them.

A probe declares an ``id``, the OWASP risk it measures, the model capabilities it needs and
a ``run(model, data, config, progress)`` that returns a :class:`ProbeResult` (metrics,
findings, JSON-ready evidence for ``Report.evidence``). Built-in probes are listed as
``"module:Class"`` and imported on first use; third parties add theirs through the
``mlwarden.attacks`` entry-point group. Duplicate ids fail.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import import_module
from importlib.metadata import entry_points
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from mlwarden.errors import PluginError, UsageError
from mlwarden.findings import Finding, MetricValue, SkippedItem

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

    from mlwarden.attacks.settings import AuditSettings
    from mlwarden.models.base import Capability, Classifier
    from mlwarden.risks import RiskId

BUILTIN_PROBES: tuple[str, ...] = (
    "mlwarden.attacks.evasion:EvasionProbe",
    "mlwarden.attacks.membership:MembershipProbe",
    "mlwarden.attacks.inversion:InversionProbe",
    "mlwarden.attacks.extraction:ExtractionProbe",
    "mlwarden.attacks.backdoor:BackdoorProbe",
)
ENTRY_POINT_GROUP = "mlwarden.attacks"


@dataclass(frozen=True)
class AuditData:
    """The labelled inputs a probe attacks.

    Attributes:
        x: inputs ``(n, *input_shape)``, ``float32``.
        y: true labels ``(n,)``, ``int64``.
        name: where they came from (a file or dataset name), for reports.
        image_shape: ``(h, w)`` or ``(c, h, w)`` when flat inputs are images.
        model_name: the audited model's path or URL: the location of findings.
        clip: ``(low, high)`` bounds of valid inputs when the data source knows them.
    """

    x: NDArray[np.float32]
    y: NDArray[np.int64]
    name: str = "data"
    image_shape: tuple[int, ...] | None = None
    model_name: str = "model"
    clip: tuple[float, float] | None = None


@dataclass(frozen=True)
class AuditEvent:
    """Progress of a probe, for progress bars: ``done`` of ``total`` steps of ``stage``."""

    probe: str
    stage: str
    done: int
    total: int


Progress = Callable[[AuditEvent], None]


def no_progress(event: AuditEvent) -> None:
    """The progress callback that ignores every event."""


@dataclass(frozen=True)
class ProbeResult:
    """What one probe found: metrics, findings and structured evidence."""

    metrics: Mapping[str, MetricValue] = field(default_factory=dict)
    findings: tuple[Finding, ...] = ()
    evidence: Mapping[str, Any] = field(default_factory=dict)
    skipped: tuple[SkippedItem, ...] = ()


@runtime_checkable
class Probe(Protocol):
    """An audit probe (evasion, membership inference, extraction, ...)."""

    @property
    def id(self) -> str: ...

    @property
    def risk(self) -> RiskId: ...

    @property
    def requires(self) -> frozenset[Capability]: ...

    def run(
        self, model: Classifier, data: AuditData, config: AuditSettings, progress: Progress
    ) -> ProbeResult: ...


def _load(spec: str) -> Probe:
    module_name, _, attr = spec.partition(":")
    try:
        obj = getattr(import_module(module_name), attr)
    except (ImportError, AttributeError) as exc:
        raise PluginError(f"cannot load audit probe {spec}: {exc}") from None
    probe = obj() if isinstance(obj, type) else obj
    if not isinstance(probe, Probe):
        raise PluginError(f"{spec} does not implement the Probe protocol (id, risk, requires, run)")
    return probe


def _check_unique(probes: list[Probe]) -> dict[str, Probe]:
    seen: dict[str, Probe] = {}
    for probe in probes:
        if probe.id in seen:
            raise PluginError(f"duplicate audit probe id {probe.id!r}")
        seen[probe.id] = probe
    return seen


@lru_cache(maxsize=1)
def all_probes() -> dict[str, Probe]:
    """Every probe by id: built-ins, then ``mlwarden.attacks`` entry points."""
    plugins = [_load(f"{ep.module}:{ep.attr}") for ep in entry_points(group=ENTRY_POINT_GROUP)]
    return _check_unique([*(_load(s) for s in BUILTIN_PROBES), *plugins])


def get_probe(probe_id: str) -> Probe:
    """The probe called ``probe_id``; unknown ids raise :class:`UsageError` with the choices."""
    probes = all_probes()
    if probe_id not in probes:
        raise UsageError(
            f"unknown probe {probe_id!r}; available: {', '.join(sorted(probes))}",
            hint="Pass --probe with one of the listed ids.",
        )
    return probes[probe_id]
