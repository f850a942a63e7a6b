"""Audit probes: attacks that measure a model's exposure (ML01 evasion first).

``mlwarden.attacks.audit`` runs the probes listed in :mod:`mlwarden.attacks.registry`;
the attacks themselves live in their own modules (``pgd``, ``apgd``, ``hopskipjump``,
``square``) and import NumPy/torch only when used. The names below load on first use, so
that importing a rules module of this package (as the rule catalogue does) stays cheap.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_LAZY = {
    "audit": "mlwarden.attacks.api",
    "AuditData": "mlwarden.attacks.registry",
    "AuditEvent": "mlwarden.attacks.registry",
    "ProbeResult": "mlwarden.attacks.registry",
    "AuditSettings": "mlwarden.attacks.settings",
    "EvasionSettings": "mlwarden.attacks.settings",
    "ThreatModel": "mlwarden.attacks.threat",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'mlwarden.attacks' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


__all__ = [
    "AuditData",
    "AuditEvent",
    "AuditSettings",
    "EvasionSettings",
    "ProbeResult",
    "ThreatModel",
    "audit",
]
