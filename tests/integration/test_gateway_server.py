"""`mlwarden serve` as a real uvicorn server on loopback: the verifying client against a
tampering proxy, the model adapters end to end, and bad input over the wire."""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

pytest.importorskip("fastapi", reason="the gateway extra is not installed")

import httpx

from mlwarden.client import Client, GatewayError, ResponseVerificationError
from mlwarden.gateway.auth import KeyStore
from mlwarden.gateway.service import model_digest
from tests.gateway.helpers import Served, Server, free_port, make_served, policy_toml


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Served:
    return make_served(tmp_path_factory.mktemp("served-int"))


def healthy(url: str, **kw: Any) -> bool:
    return httpx.get(url + "/healthz", timeout=2, **kw).status_code == 200


@pytest.fixture(scope="module")
def gateway(served: Served) -> Iterator[tuple[Server, str]]:
    policy = policy_toml(served.root)
    token, _ = KeyStore.open(served.root / "keys.json").create("int", ("predict", "metrics"))
    server = Server(served, policy)
    server.wait_ready(lambda: healthy(server.url))
    yield server, token
    server.stop()


class TamperProxy:
    """An HTTP proxy on loopback that forwards to the gateway and changes its answers."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.mode = "none"
        self.recorded: tuple[int, list[tuple[bytes, bytes]], bytes] | None = None
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        import uvicorn

        self.server = uvicorn.Server(
            uvicorn.Config(self, host="127.0.0.1", port=self.port, log_level="error")
        )
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = [(k.decode(), v.decode()) for k, v in scope["headers"] if k != b"host"]
        async with httpx.AsyncClient() as client:
            upstream = await client.request(
                scope["method"], self.upstream + scope["path"], content=body, headers=headers
            )
        out = [
            (k.encode(), v.encode())
            for k, v in upstream.headers.multi_items()
            if k != "content-length"
        ]
        status, out, content = self._tamper(upstream.status_code, out, upstream.content)
        out.append((b"content-length", str(len(content)).encode()))
        await send({"type": "http.response.start", "status": status, "headers": out})
        await send({"type": "http.response.body", "body": content})

    def _tamper(
        self, status: int, headers: list[tuple[bytes, bytes]], body: bytes
    ) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
        mode = self.mode
        if mode == "record":
            self.recorded = (status, headers, body)
        if mode == "replay" and self.recorded is not None:
            return self.recorded
        if (
            mode in ("flip_label", "flip_label_fix_digest", "add_probabilities")
            and b"predictions" in body
        ):
            data = json.loads(body)
            if mode == "add_probabilities":
                data["probabilities"] = [[0.1] * 10 for _ in data["predictions"]]
            else:
                data["predictions"][0] = (data["predictions"][0] + 1) % 10
            body = json.dumps(data, separators=(",", ":")).encode()
            if mode == "flip_label_fix_digest":
                import hashlib

                digest = (
                    "sha-256=:" + base64.b64encode(hashlib.sha256(body).digest()).decode() + ":"
                )
                headers = [
                    (k, digest.encode() if k == b"content-digest" else v) for k, v in headers
                ]
        if mode == "swap_model_digest":
            headers = [
                (k, b"sha256:" + b"e" * 64 if k == b"mlwarden-model-digest" else v)
                for k, v in headers
            ]
        if mode == "strip_signature":
            headers = [(k, v) for k, v in headers if k not in (b"signature", b"signature-input")]
        if mode == "forge_status":
            status = 200 if status == 429 else status
        return status, headers, body

    def __enter__(self) -> TamperProxy:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started and time.monotonic() < deadline:
            time.sleep(0.05)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


def _client(url: str, served: Served, token: str, **kw: Any) -> Client:
    options: dict[str, Any] = {
        "api_key": token,
        "public_key": served.root / "gateway.key.pub",
        "approved_digest": model_digest(served.model),
        **kw,
    }
    return Client(url, **options)


def test_client_verifies_answers_and_refuses_tampering(
    gateway: tuple[Server, str], served: Served
) -> None:
    server, token = gateway
    rows = served.x_test[:3]
    with TamperProxy(server.url) as proxy, _client(proxy.url, served, token) as client:
        clean = client.predict(rows)
        assert len(clean.predictions) == 3 and clean.model["digest"].startswith("sha256:")
        for mode in (
            "flip_label",
            "flip_label_fix_digest",
            "add_probabilities",
            "swap_model_digest",
            "strip_signature",
        ):
            proxy.mode = mode
            with pytest.raises(ResponseVerificationError):
                client.predict(rows)
        proxy.mode = "record"
        client.predict(rows)
        proxy.mode = "replay"  # a genuine, validly signed answer to another request
        with pytest.raises(ResponseVerificationError, match="another request"):
            client.predict(rows)
        proxy.mode = "none"
        assert client.predict(rows).predictions == clean.predictions
    wrong_model = _client(server.url, served, token, approved_digest="sha256:" + "0" * 64)
    with wrong_model, pytest.raises(ResponseVerificationError):
        wrong_model.predict(rows)
    wrong_labels = _client(server.url, served, token, labels=[100, 200])
    with wrong_labels, pytest.raises(ResponseVerificationError, match="not one of the model's"):
        wrong_labels.predict(rows)
    impostor_key = served.root / "impostor.pub"
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ed25519

    impostor_key.write_bytes(
        ed25519.Ed25519PrivateKey.generate()
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    pinned_other = _client(server.url, served, token, public_key=impostor_key)
    with pinned_other, pytest.raises(ResponseVerificationError):
        pinned_other.predict(rows)


def test_verified_errors_are_raised_as_gateway_errors(
    gateway: tuple[Server, str], served: Served
) -> None:
    server, token = gateway
    with _client(server.url, served, token) as client:
        with pytest.raises(GatewayError) as bad:
            client.predict([[0.5] * 10])
        assert bad.value.status == 422
    with _client(server.url, served, "mlw_0_0") as nobody:
        with pytest.raises(GatewayError) as refused:
            nobody.predict(served.x_test[:1])
        assert refused.value.status == 401


def test_model_adapters_audit_the_gateway_end_to_end(
    gateway: tuple[Server, str], served: Served
) -> None:
    from mlwarden.models.http_adapter import HttpClassifier

    server, token = gateway
    rows = served.x_test[:20]
    with HttpClassifier(server.url + "/v1/predict", protocol="mlwarden", api_key=token) as v1:
        labels = v1.predict(rows)
        assert v1.input_shape == (64,) and v1.n_classes == 10
    # OIP v2 has no class list in its metadata: a label-only endpoint needs n_classes
    with HttpClassifier(server.url + "/v2/models/model", api_key=token, n_classes=10) as oip:
        assert np.array_equal(oip.predict(rows), labels)
    with _client(server.url, served, token) as client:
        assert client.predict(rows).predictions == labels.tolist()


def test_bad_input_over_the_wire(gateway: tuple[Server, str], served: Served) -> None:
    server, token = gateway
    auth = {"Authorization": f"Bearer {token}", "content-type": "application/json"}
    with httpx.Client(base_url=server.url, timeout=30) as http:
        huge = http.post("/v1/predict", content=b"[" * 2_000_000, headers=auth)
        assert huge.status_code == 413
        chunked = http.post("/v1/predict", content=iter([b"[0.5," * 100_000] * 5), headers=auth)
        assert chunked.status_code == 413
        deep = http.post("/v1/predict", content=b"[" * 50_000 + b"]" * 50_000, headers=auth)
        assert deep.status_code == 400
        ok = http.post("/v1/predict", json={"instances": served.x_test[:1].tolist()}, headers=auth)
        assert ok.status_code == 200
        assert http.get("/metrics", headers=auth).status_code == 200
        assert "server" not in ok.headers
