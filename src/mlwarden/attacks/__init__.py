"""Audit probes: attacks that measure a model's exposure (ML01 evasion first).

``mlwarden.attacks.audit`` runs the probes listed in :mod:`mlwarden.attacks.registry`;
the attacks themselves live in their own modules (``pgd``, ``apgd``, ``hopskipjump``,
``square``) and import NumPy/torch only when used. The names below load on first use, so
that importing a rules module of this package (as the rule catalogue does) stays cheap.
"""

from __future__ import annotations

from mlwarden._lazy import lazy_names

_LAZY = {
    "audit": "mlwarden.attacks.api",
    "AuditData": "mlwarden.attacks.registry",
    "AuditEvent": "mlwarden.attacks.registry",
    "ProbeResult": "mlwarden.attacks.registry",
    "AuditSettings": "mlwarden.attacks.settings",
    "EvasionSettings": "mlwarden.attacks.settings",
    "ThreatModel": "mlwarden.attacks.threat",
}


__getattr__ = lazy_names(__name__, _LAZY)


__all__ = [
    "AuditData",
    "AuditEvent",
    "AuditSettings",
    "EvasionSettings",
    "ProbeResult",
    "ThreatModel",
    "audit",
]
