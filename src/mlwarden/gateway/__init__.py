"""The hardened inference gateway (``mlwarden serve``): one module per control.

The policy model (:mod:`mlwarden.gateway.policy`) imports pydantic only; everything else needs
the ``gateway`` extra (FastAPI, uvicorn, prometheus-client, limits, numpy) and is imported
on first access.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from mlwarden.gateway.policy import GatewayPolicy

if TYPE_CHECKING:
    from mlwarden.gateway.app import create_app
    from mlwarden.gateway.auditlog import verify_chain
    from mlwarden.gateway.auth import KeyStore
    from mlwarden.gateway.service import Gateway, build_gateway

_LAZY = {
    "Gateway": "mlwarden.gateway.service",
    "build_gateway": "mlwarden.gateway.service",
    "create_app": "mlwarden.gateway.app",
    "KeyStore": "mlwarden.gateway.auth",
    "verify_chain": "mlwarden.gateway.auditlog",
}

__all__ = ["Gateway", "GatewayPolicy", "KeyStore", "build_gateway", "create_app", "verify_chain"]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'mlwarden.gateway' has no attribute {name!r}")
    return getattr(import_module(module), name)
