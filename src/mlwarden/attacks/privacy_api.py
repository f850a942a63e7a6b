"""``audit_privacy``: membership, inversion and extraction probes on members and non-members.

The privacy probes need the training records beside the held-out ones (and optionally
population data); this entry point carries them to the probes of the registry and collects
one :class:`~mlwarden.findings.Report`, like :func:`mlwarden.attacks.audit` does for a single
labelled set.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from mlwarden.attacks.privacy_data import with_training
from mlwarden.attacks.privacy_settings import (
    ExtractionSettings,
    InversionSettings,
    MembershipSettings,
)
from mlwarden.attacks.registry import AuditData, AuditEvent, get_probe, no_progress
from mlwarden.findings import Report
from mlwarden.models.base import require

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

    from mlwarden.attacks.settings import AuditSettings
    from mlwarden.models.base import Classifier

PRIVACY_PROBES = ("membership", "inversion", "extraction")
Labelled = tuple["NDArray[np.floating]", "NDArray[np.integer]"]


@dataclass(frozen=True)
class PrivacyConfig:
    """The audit settings plus the privacy sections; unknown attributes come from ``base``."""

    base: Any = None
    seed: int = 0
    membership: MembershipSettings = field(default_factory=MembershipSettings)
    inversion: InversionSettings = field(default_factory=InversionSettings)
    extraction: ExtractionSettings = field(default_factory=ExtractionSettings)

    def __getattr__(self, name: str) -> Any:
        if name == "base":  # pragma: no cover - dataclass field, guards recursion
            raise AttributeError(name)
        return getattr(self.base, name)


def privacy_config(
    config: AuditSettings | None = None,
    *,
    membership: MembershipSettings | None = None,
    inversion: InversionSettings | None = None,
    extraction: ExtractionSettings | None = None,
    seed: int | None = None,
) -> PrivacyConfig:
    """Settings for the privacy probes; sections held by ``config`` are used when not given."""
    from mlwarden.attacks.privacy_settings import section
    from mlwarden.attacks.settings import AuditSettings

    return PrivacyConfig(
        base=config if config is not None else AuditSettings(),
        seed=int(seed if seed is not None else getattr(config, "seed", 0)),
        membership=membership or section(config, "membership", MembershipSettings),
        inversion=inversion or section(config, "inversion", InversionSettings),
        extraction=extraction or section(config, "extraction", ExtractionSettings),
    )


def audit_privacy(
    model: Classifier,
    train: Labelled,
    test: Labelled,
    population: Labelled | None = None,
    probes: Sequence[str] = PRIVACY_PROBES,
    config: PrivacyConfig | AuditSettings | None = None,
    *,
    on_event: Callable[[AuditEvent], None] | None = None,
    model_name: str = "model",
    data_name: str = "data",
    image_shape: tuple[int, ...] | None = None,
    clip: tuple[float, float] | None = None,
) -> Report:
    """Run the privacy probes against ``model``.

    Args:
        model: any adapter (a file, or an ``HttpClassifier`` for a live endpoint).
        train: the model's training records and labels (members).
        test: held-out records and labels (non-members; extraction's evaluation set).
        population: other records of the same distribution (reference models, the
            extraction attacker's data), or ``None``.
        probes: probe ids (any registered probe works; evasion uses ``test``).
        config: a :class:`PrivacyConfig` (or audit settings, whose sections are used).
        on_event: progress callback.
        model_name: the model's path or URL, used as the findings' location.
        data_name: where ``test`` came from.
        image_shape: ``(h, w)`` or ``(c, h, w)`` of flat image inputs.
        clip: ``(low, high)`` bounds of valid inputs, when the data source knows them.

    Returns:
        A :class:`Report` with command ``"audit"``; ``evidence`` keyed by probe id.
    """
    cfg = config if isinstance(config, PrivacyConfig) else privacy_config(config)
    base = AuditData(test[0], test[1], data_name, image_shape, model_name, clip)  # type: ignore[arg-type]
    data = with_training(base, train, population)
    progress = on_event or no_progress
    report = Report(command="audit", scanned=(model_name,))
    for probe_id in probes:
        probe = get_probe(probe_id)
        require(model, *probe.requires, purpose=f"the {probe_id} probe")
        result = probe.run(model, data, cfg, progress)  # type: ignore[arg-type]
        report = replace(
            report,
            findings=(*report.findings, *result.findings),
            skipped=(*report.skipped, *result.skipped),
            metrics={**report.metrics, **result.metrics},
            evidence={**report.evidence, probe_id: {"risk": probe.risk.value, **result.evidence}},
        )
    return replace(report, finished_at=datetime.now(timezone.utc))
