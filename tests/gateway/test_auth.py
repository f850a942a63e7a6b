"""API keys: shown once, stored hashed, checked with scopes, revocable while serving."""

from __future__ import annotations

import json
import stat
import time
from pathlib import Path
from typing import Any

import pytest

from mlwarden.errors import InputError
from mlwarden.gateway.auth import KeyStore, token_from_headers
from mlwarden.gateway.errors import GatewayRefusal


def test_keys_are_stored_hashed_never_plain(tmp_path: Path) -> None:
    store = KeyStore.open(tmp_path / "keys.json")
    token, record = store.create(
        "ci", ("predict", "metrics"), rate_limit="5/minute", quota="100/day"
    )
    text = (tmp_path / "keys.json").read_text()
    secret = token.split("_", 2)[2]
    assert secret not in text and token not in text
    assert record.hash in text and len(record.hash) == 64
    assert stat.S_IMODE((tmp_path / "keys.json").stat().st_mode) == 0o600
    assert json.loads(text)["keys"][0]["scopes"] == ["predict", "metrics"]
    assert store.authenticate(token, "metrics").id == record.id


@pytest.mark.parametrize(
    "token",
    [
        None,
        "",
        "mlw_",
        "mlw_abc",
        "nope",
        "mlw_000000000000_wrongsecret",
        "mlw_{id}_wrong",
        "mlw_{id}_",
    ],
)
def test_wrong_keys_are_refused_with_401(tmp_path: Path, token: str | None) -> None:
    store = KeyStore.open(tmp_path / "keys.json")
    _, record = store.create("ci")
    with pytest.raises(GatewayRefusal) as refused:
        store.authenticate(token.format(id=record.id) if token else token, "predict")
    assert refused.value.status == 401


def test_scope_and_revocation(tmp_path: Path) -> None:
    store = KeyStore.open(tmp_path / "keys.json")
    token, record = store.create("reader", ("metrics",))
    with pytest.raises(GatewayRefusal) as refused:
        store.authenticate(token, "predict")
    assert refused.value.status == 403
    store.revoke(record.id)
    with pytest.raises(GatewayRefusal) as revoked:
        store.authenticate(token, "metrics")
    assert revoked.value.status == 401
    assert store.keys()[0].revoked is not None
    with pytest.raises(InputError):
        store.revoke("no-such-id")
    with pytest.raises(InputError):
        store.create("bad", ("root",))


def test_a_running_gateway_sees_revocation_within_a_second(make_gateway: Any, served: Any) -> None:
    live = make_gateway()
    rows = {"instances": [served.x_test[0].tolist()]}
    assert live.post(json=rows).status_code == 200
    KeyStore.open(live.gw.policy.auth.keys_file).revoke(live.key_id)
    time.sleep(1.1)
    assert live.post(json=rows).status_code == 401


def test_metrics_need_the_metrics_scope(make_gateway: Any) -> None:
    live = make_gateway()
    assert live.http.get("/metrics", headers=live.headers()).status_code == 403
    token, _ = KeyStore.open(live.gw.policy.auth.keys_file).create("prom", ("metrics",))
    time.sleep(1.1)
    metrics = live.http.get("/metrics", headers=live.headers(token))
    assert metrics.status_code == 200 and "mlwarden_requests_total" in metrics.text


def test_token_from_headers() -> None:
    assert token_from_headers({"authorization": "Bearer abc"}, "Authorization") == "abc"
    assert token_from_headers({"authorization": "Basic abc"}, "authorization") is None
    assert token_from_headers({"x-api-key": " k "}, "X-API-Key") == "k"
    assert token_from_headers({}, "authorization") is None


def test_auth_can_be_switched_off(make_gateway: Any, served: Any) -> None:
    live = make_gateway(auth={"enabled": False})
    response = live.http.post("/v1/predict", json={"instances": [served.x_test[0].tolist()]})
    assert response.status_code == 200
    assert list(live.gw.audit.records())[-1].record.key_id == "anonymous"
