"""Audit probes: attacks that measure a model's exposure (ML01 evasion first).

``mlwarden.attacks.audit`` runs the probes listed in :mod:`mlwarden.attacks.registry`;
the attacks themselves live in their own modules (``pgd``, ``apgd``, ``hopskipjump``,
``square``) and import NumPy/torch only when used.
"""

from mlwarden.attacks.api import audit
from mlwarden.attacks.registry import AuditData, AuditEvent, ProbeResult
from mlwarden.attacks.settings import AuditSettings, EvasionSettings
from mlwarden.attacks.threat import ThreatModel

__all__ = [
    "AuditData",
    "AuditEvent",
    "AuditSettings",
    "EvasionSettings",
    "ProbeResult",
    "ThreatModel",
    "audit",
]
