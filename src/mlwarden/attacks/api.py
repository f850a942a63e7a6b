"""``mlwarden.audit``: run audit probes against a model and collect one :class:`Report`.

Light at import time (no NumPy, no torch): the probes import what they need when they run.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from mlwarden.attacks.registry import AuditData, AuditEvent, get_probe, no_progress
from mlwarden.errors import ConfigError, MlwardenError
from mlwarden.findings import ItemError, Report
from mlwarden.models.base import require

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

    from mlwarden.attacks.settings import AuditSettings
    from mlwarden.models.base import Classifier


def _settings(config: AuditSettings | Mapping[str, Any] | None) -> AuditSettings:
    from pydantic import ValidationError

    from mlwarden.attacks.settings import AuditSettings

    if config is None:
        return AuditSettings()
    if isinstance(config, AuditSettings):
        return config
    try:
        return AuditSettings.model_validate(dict(config))
    except ValidationError as exc:
        raise ConfigError(f"invalid audit configuration: {exc.errors()[0]['msg']}") from None


def audit(
    model: Classifier,
    x: NDArray[np.floating],
    y: NDArray[np.integer],
    probes: Sequence[str] | None = None,
    config: AuditSettings | Mapping[str, Any] | None = None,
    *,
    on_event: Callable[[AuditEvent], None] | None = None,
    model_name: str = "model",
    data_name: str = "data",
    image_shape: tuple[int, ...] | None = None,
    clip: tuple[float, float] | None = None,
) -> Report:
    """Attack ``model`` with each probe and return the findings, metrics and evidence.

    Args:
        model: any adapter of :mod:`mlwarden.models` (or a
            :class:`~mlwarden.defenses.pipeline.DefendedClassifier`).
        x: labelled inputs ``(n, *input_shape)``; y: their labels ``(n,)``.
        probes: probe ids (default: ``config.probes``, i.e. ``("evasion",)``).
        config: :class:`~mlwarden.attacks.settings.AuditSettings` or the same as a mapping
            (``{"evasion": {"eps": [0.1]}}``).
        on_event: progress callback (the CLI draws progress bars from it).
        model_name: the model's path or URL, used as the findings' location.
        data_name: where ``x`` came from, for the report.
        image_shape: ``(h, w)`` or ``(c, h, w)`` of flat image inputs.
        clip: ``(low, high)`` bounds of valid inputs (default: the model adapter's ``clip``,
            else the data's range; ``[audit.evasion] clip_min/clip_max`` win over both).

    Returns:
        A :class:`Report` with command ``"audit"``; ``evidence`` is keyed by probe id. A
        probe that fails is recorded in ``errors`` and the others still run.

    Raises:
        MissingCapability: a probe needs something the model does not offer.
    """
    settings = _settings(config)
    data = AuditData(x, y, data_name, image_shape, model_name, clip)  # type: ignore[arg-type]
    progress = on_event or no_progress
    started = datetime.now(timezone.utc)
    report = Report(command="audit", started_at=started, scanned=(model_name,))
    for probe_id in probes if probes is not None else settings.probes:
        probe = get_probe(probe_id)
        require(model, *probe.requires, purpose=f"the {probe_id} probe")
        try:
            result = probe.run(model, data, settings, progress)
        except MlwardenError:
            raise
        except (ValueError, RuntimeError, MemoryError) as exc:  # a failing plug-in probe
            errors = (
                *report.errors,
                ItemError(f"{model_name}#{probe_id}", f"{type(exc).__name__}: {exc}"),
            )
            report = replace(report, errors=errors)
            continue
        report = replace(
            report,
            findings=(*report.findings, *result.findings),
            skipped=(*report.skipped, *result.skipped),
            metrics={**report.metrics, **result.metrics},
            evidence={**report.evidence, probe_id: {"risk": probe.risk.value, **result.evidence}},
        )
    return replace(report, finished_at=datetime.now(timezone.utc))
