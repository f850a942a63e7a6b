"""Corpus: how predictions travel (ML09): plaintext, disabled TLS checks, unverified answers."""

# ruff: noqa: E501 - case lines carry their expectation markers; wrapping them would move lines

from __future__ import annotations

from textwrap import dedent

from tests.linter.corpus import Case


def _c(name: str, source: str) -> Case:
    return Case(name, dedent(source).lstrip("\n"))


CASES = [
    _c(
        "ml09/http_prediction",
        """
        import requests

        def remote_predict(features):
            response = requests.post("http://models.example.com/v1/predict", json=features, timeout=5)  # expect: LINT-ML09-001
            return response.json()["label"]
        """,
    ),
    _c(
        "ml09/http_fstring_host",
        """
        import httpx

        SCORING_HOST = "scoring.internal:8080"

        async def score(rows):
            async with httpx.AsyncClient() as client:
                resp = await client.post(f"http://{SCORING_HOST}/score", json=rows)  # expect: LINT-ML09-001
            return resp.json()
        """,
    ),
    _c(
        "ml09/http_module_constant",
        """
        import urllib.request

        ENDPOINT = "http://10.0.4.12:8501/v1/models/fraud:predict"

        def predict(body: bytes):
            req = urllib.request.Request(ENDPOINT, data=body, method="POST")  # expect: LINT-ML09-001
            return urllib.request.urlopen(req, timeout=10).read()
        """,
    ),
    _c(
        "ml09/verify_false",
        """
        import requests

        def remote_predict(url, features):
            resp = requests.post(url, json=features, verify=False, timeout=5)  # expect: LINT-ML09-002
            return resp.json()
        """,
    ),
    _c(
        "ml09/session_verify_off",
        """
        import requests

        session = requests.Session()
        session.verify = False  # expect: LINT-ML09-002
        """,
    ),
    _c(
        "ml09/insecure_grpc",
        """
        import grpc

        from app.protos import prediction_pb2_grpc

        TARGET = "tf-serving.prod.svc:8500"

        channel = grpc.insecure_channel(TARGET)  # expect: LINT-ML09-003
        stub = prediction_pb2_grpc.PredictionServiceStub(channel)
        """,
    ),
    _c(
        "ml09/unverified_https_response",
        """
        import requests

        API = "https://models.example.com/v1/predict"

        def fraud_score(features):
            resp = requests.post(API, json=features, timeout=5)  # expect: LINT-ML09-004
            resp.raise_for_status()
            return resp.json()["score"]
        """,
    ),
    _c(
        "ml09/safe_https_signed_response",
        """
        import hashlib
        import hmac

        import requests

        API = "https://models.example.com/v1/predict"
        KEY = b"shared-secret-from-vault"

        def fraud_score(features):
            resp = requests.post(API, json=features, timeout=5)
            expected = hmac.new(KEY, resp.content, hashlib.sha256).hexdigest()
            if not hmac.compare_digest(expected, resp.headers["X-Signature"]):
                raise ValueError("prediction response was tampered with")
            return resp.json()["score"]
        """,
    ),
    _c(
        "ml09/safe_localhost_and_ca_bundle",
        """
        import grpc
        import requests

        def local_predict(features):
            a = requests.post("http://localhost:8080/health", json=features, timeout=5)
            b = requests.get("https://example.com/status", verify="/etc/ssl/internal-ca.pem")
            channel = grpc.insecure_channel("localhost:8500")
            secure = grpc.secure_channel("models:8500", grpc.ssl_channel_credentials())
            return a, b, channel, secure
        """,
    ),
    _c(
        "ml09/safe_mlwarden_client",
        """
        from mlwarden.client import VerifyingClient

        client = VerifyingClient("https://models.example.com", public_key="gateway.pub")

        def fraud_score(features):
            return client.predict(features)["label"]
        """,
    ),
]
