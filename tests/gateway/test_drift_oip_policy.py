"""Drift metrics from the gateway, the OIP v2 routes, and the [gateway] policy section."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from pydantic import ValidationError

from mlwarden.config import load_settings
from mlwarden.errors import ConfigError
from mlwarden.gateway.policy import GatewayPolicy


def test_drift_is_exported_as_metrics(make_gateway: Any, served: Any) -> None:
    live = make_gateway(drift={"window": 100, "check_every": 50}, auth={"public_metrics": True})
    for start in range(0, 200, 50):
        live.post(json={"instances": served.x_test[start : start + 50].tolist()})
    assert "mlwarden_drift_features 0.0" in live.http.get("/metrics").text
    dark = np.clip(served.x_test[:200] * 0.3, 0, 1)  # faded images: every pixel darker
    for start in range(0, 200, 50):
        live.post(json={"instances": dark[start : start + 50].tolist()})
    text = live.http.get("/metrics").text
    drifted = [line for line in text.splitlines() if line.startswith("mlwarden_drift_features ")]
    assert float(drifted[0].split()[1]) > 5
    assert 'mlwarden_alerts_total{kind="drift"} 1.0' in text


def _tensor(rows: np.ndarray, **over: Any) -> dict[str, Any]:
    tensor = {
        "name": "input-0",
        "shape": list(rows.shape),
        "datatype": "FP32",
        "data": rows.ravel().tolist(),
    }
    return {"inputs": [{**tensor, **over}]}


def test_oip_metadata_and_inference(make_gateway: Any, served: Any) -> None:
    live = make_gateway()
    assert live.http.get("/v2").json()["name"] == "mlwarden"
    assert live.http.get("/v2/health/ready").json() == {"ready": True}
    meta = live.http.get("/v2/models/digits/versions/1", headers=live.headers()).json()
    assert meta["inputs"] == [{"name": "input-0", "datatype": "FP32", "shape": [-1, 64]}]
    rows = served.x_test[:3]
    nested = live.post("/v2/models/digits/infer", json=_tensor(rows, data=rows.tolist())).json()
    flat = live.post(
        "/v2/models/digits/versions/1/infer", json={**_tensor(rows), "id": "abc"}
    ).json()
    assert nested["outputs"] == flat["outputs"] and flat["id"] == "abc"
    assert live.http.get("/v2/models/digits", headers={}).status_code == 401
    assert live.http.get("/v2/models/other", headers=live.headers()).status_code == 404


@pytest.mark.parametrize(
    ("over", "status"),
    [
        ({"name": "x"}, 422),
        ({"datatype": "BYTES"}, 422),
        ({"shape": [1, 63]}, 422),
        ({"shape": [3, 64]}, 422),
        ({"data": ["a"] * 64}, 422),
        ({"data": [1e308] * 64}, 422),
        ({"shape": [300, 64], "data": [0.0] * (300 * 64)}, 413),
        ({"extra": 1}, 422),
    ],
)
def test_oip_bad_tensors(make_gateway: Any, served: Any, over: dict[str, Any], status: int) -> None:
    live = make_gateway()
    response = live.post("/v2/models/digits/infer", json=_tensor(served.x_test[:1], **over))
    assert response.status_code == status and response.json()["error"]["message"]


def test_policy_defaults_are_safe() -> None:
    policy = GatewayPolicy()
    assert policy.auth.enabled and policy.rate_limit.enabled and policy.validation.enabled
    assert policy.output.mode == "label" and policy.audit.enabled and policy.signing.enabled
    assert policy.extraction.enabled and policy.drift.enabled and policy.host == "127.0.0.1"


@pytest.mark.parametrize(
    "bad",
    [
        {"rate_limit": {"per_key": "lots"}},
        {"tls_cert": "c.pem"},
        {"tls_client_ca": "ca.pem"},
        {"validation": {"ranges": "policy"}},
        {"validation": {"minimum": [0.0], "maximum": []}},
        {"output": {"mode": "everything"}},
        {"unknown": 1},
    ],
)
def test_invalid_policies_are_refused(bad: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        GatewayPolicy.model_validate(bad)


def test_policy_is_the_gateway_section_of_the_config(tmp_path: Path) -> None:
    path = tmp_path / "mlwarden.toml"
    path.write_text('[gateway]\nport = 9000\n[gateway.output]\nmode = "top_k"\ntop_k = 3\n')
    settings = load_settings(path, {"gateway": {"workers": 2}})
    assert settings.gateway.port == 9000 and settings.gateway.workers == 2
    assert settings.gateway.output.top_k == 3
    path.write_text('[gateway.rate_limit]\nper_key = "x"\n')
    with pytest.raises(ConfigError):
        load_settings(path)


def test_an_unapproved_model_is_refused(served: Any) -> None:
    from mlwarden.gateway.service import build_gateway
    from mlwarden.models.loading import load_model

    policy = GatewayPolicy(
        approved_digest="sha256:" + "0" * 64,
        auth={"enabled": False},
        audit={"enabled": False},
        signing={"enabled": False},
    )
    with pytest.raises(ConfigError, match="not the approved"):
        build_gateway(load_model(served.model), policy, digest="sha256:" + "1" * 64)


def test_openapi_documents_every_route(make_gateway: Any) -> None:
    live = make_gateway()
    spec = live.http.get("/openapi.json").json()
    assert {"/v1/predict", "/v1/model", "/healthz", "/v2/models/{name}/infer"} <= set(spec["paths"])
    body = spec["paths"]["/v1/predict"]["post"]["requestBody"]["content"]["application/json"]
    assert "instances" in body["schema"]["properties"]
    assert live.http.get("/docs").status_code == 200
    hidden = make_gateway(docs=False)
    assert hidden.http.get("/openapi.json").status_code == 404
