"""Fixtures of the gateway tests: one trained model per session, one gateway per test."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.gateway.helpers import Served, in_process_client, make_served

pytest.importorskip("fastapi", reason="the gateway extra is not installed")


@pytest.fixture(scope="session")
def served(tmp_path_factory: pytest.TempPathFactory) -> Served:
    return make_served(tmp_path_factory.mktemp("served"))


@dataclass
class Live:
    """An in-process gateway: the controls, the app, a test client and a valid key."""

    gw: Any
    app: Any
    http: Any
    token: str
    key_id: str

    def headers(self, token: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {token or self.token}"}

    def post(self, path: str = "/v1/predict", token: str | None = None, **kw: Any) -> Any:
        return self.http.post(path, headers={**self.headers(token), **kw.pop("headers", {})}, **kw)


@pytest.fixture
def make_gateway(served: Served, tmp_path: Path) -> Callable[..., Live]:
    """Build a gateway; keyword sections override the policy (``output={"mode": ...}``)."""
    from mlwarden.gateway.app import create_app
    from mlwarden.gateway.auth import KeyStore
    from mlwarden.gateway.policy import GatewayPolicy
    from mlwarden.gateway.service import build_gateway, model_digest
    from mlwarden.models.loading import load_model

    model = load_model(served.model)
    digest = model_digest(served.model)

    def build(**sections: Any) -> Live:
        base: dict[str, Any] = {
            "reference": str(served.reference),
            "auth": {"keys_file": str(tmp_path / "keys.json")},
            "audit": {"url": f"sqlite:///{tmp_path / 'audit.db'}"},
            "signing": {"private_key": str(tmp_path / "gateway.key")},
            "rate_limit": {"per_key": "100000/minute", "per_ip": "100000/minute"},
        }
        for name, value in sections.items():
            base[name] = {**base.get(name, {}), **value} if isinstance(value, dict) else value
        policy = GatewayPolicy.model_validate(base)
        token, record = KeyStore.open(policy.auth.keys_file).create("tester")
        gw = build_gateway(model, policy, digest=digest, name="digits")
        app = create_app(gw)
        return Live(gw, app, in_process_client(app), token, record.id)

    return build
