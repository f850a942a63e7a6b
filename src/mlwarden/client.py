"""A client of the mlwarden gateway that trusts nothing it cannot verify (httpx).

Every response, errors included, must carry a valid RFC 9421 signature (checked with the
``http-message-signatures`` package) by the pinned key, covering the status, the body digest,
the model digest and the request id this client sent; the model digest must be the approved
one, and every label one of the model's labels. Any mismatch raises
:class:`ResponseVerificationError`: a tampering proxy, a swapped model, a replayed answer or
an impostor server is an error, never a silently wrong prediction.
"""

from __future__ import annotations

import datetime
import math
import secrets
import ssl
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlwarden.errors import MlwardenError

_TAG = "mlwarden-response"
_COVERED = (
    "@status",
    "content-type",
    "content-digest",
    "mlwarden-model-digest",
    "mlwarden-request-id",
)
_ALGORITHMS = {
    "ed25519": "ED25519",
    "ecdsa-p256-sha256": "ECDSA_P256_SHA256",
    "hmac-sha256": "HMAC_SHA256",
}


class ResponseVerificationError(MlwardenError):
    """A response failed verification: its signature, model digest, request id or labels."""

    hint = (
        "Something between you and the gateway changed the answer, or the server is not the "
        "one you pinned (key) or serves another model (digest). Do not use the answer."
    )


class GatewayError(MlwardenError):
    """The gateway refused the request (a verified 4xx/5xx answer)."""

    hint = "Read the message; 429 means wait Retry-After seconds, 401/403 means check the key."

    def __init__(
        self, status: int, code: str, message: str, retry_after: str | None = None
    ) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.retry_after = retry_after


@dataclass(frozen=True)
class Prediction:
    """A verified answer: one label per instance (``None`` = uncertain) and what was allowed."""

    predictions: list[Any]
    probabilities: list[list[float]] | None
    top_k: list[list[list[Any]]] | None
    model: dict[str, str]
    request_id: str


class _PinnedKey:
    """Key resolver that knows exactly one key id."""

    def __init__(self, key_id: str, key: Any) -> None:
        self.key_id = key_id
        self.key = key

    def resolve_public_key(self, key_id: str) -> Any:
        return self.key if key_id == self.key_id else None

    def resolve_private_key(self, key_id: str) -> Any:
        raise ResponseVerificationError("the client holds no private key")


@dataclass(frozen=True)
class _Signed:
    status_code: int
    headers: Any


def _public_key(key: Any, algorithm: str) -> Any:
    if algorithm == "hmac-sha256":
        if not isinstance(key, bytes) or len(key) < 32:
            raise ResponseVerificationError("hmac-sha256 needs the shared secret (>= 32 bytes)")
        return key
    if isinstance(key, (str, Path)):
        key = Path(key).read_bytes()
    if isinstance(key, bytes):
        from cryptography.hazmat.primitives.serialization import load_pem_public_key

        return load_pem_public_key(key)
    return key


class Client:
    """Calls a gateway and verifies every answer.

    Args:
        base_url: the gateway (``https://host:8000``).
        api_key: the API key (sent as ``Authorization: Bearer``).
        public_key: the gateway's signing public key (PEM path or bytes, or a key object);
            the HMAC secret for ``hmac-sha256``.
        approved_digest: the model digest (``sha256:...``) this client accepts answers from.
        labels: the model's labels; default: read once from ``GET /v1/model`` (verified).
        key_id: the pinned ``keyid``.
        algorithm: ``ed25519``, ``ecdsa-p256-sha256`` or ``hmac-sha256``.
        max_age: oldest acceptable signature (seconds).
        verify: TLS verification: ``True``, a CA bundle path or an ``ssl.SSLContext``.
        cert: client certificate for mTLS (``"cert.pem"`` or ``("cert.pem", "key.pem")``).
        timeout: seconds per request.
        transport: an httpx transport (tests).
    """

    def __init__(
        self,
        base_url: str,
        *,
        api_key: str,
        public_key: Any,
        approved_digest: str,
        labels: Iterable[Any] | None = None,
        key_id: str = "mlwarden-gateway",
        algorithm: str = "ed25519",
        max_age: float = 300.0,
        verify: bool | str | ssl.SSLContext = True,
        cert: str | tuple[str, str] | None = None,
        timeout: float = 10.0,
        transport: Any = None,
    ) -> None:
        import httpx
        from http_message_signatures import HTTPMessageVerifier, algorithms

        if algorithm not in _ALGORITHMS:
            raise ResponseVerificationError(f"unsupported algorithm {algorithm!r}")
        self.approved_digest = approved_digest
        self.labels = list(labels) if labels is not None else None
        self.max_age = datetime.timedelta(seconds=max_age)
        self._api_key = api_key
        resolver: Any = _PinnedKey(key_id, _public_key(public_key, algorithm))
        self._verifier = HTTPMessageVerifier(
            signature_algorithm=getattr(algorithms, _ALGORITHMS[algorithm]), key_resolver=resolver
        )
        self._alg = algorithm
        self._http = httpx.Client(
            base_url=base_url.rstrip("/"),
            verify=_tls(verify, cert),
            timeout=timeout,
            transport=transport,
        )

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def model_info(self) -> dict[str, Any]:
        """``GET /v1/model``, verified; also learns the label set when none was pinned."""
        info = self._call("GET", "/v1/model", None)
        if not isinstance(info, dict) or info.get("digest") != self.approved_digest:
            raise ResponseVerificationError("the model document names another model digest")
        if self.labels is None and isinstance(info.get("classes"), list):
            self.labels = list(info["classes"])
        return info

    def predict(self, instances: Sequence[Any]) -> Prediction:
        """Classify a batch; every label and the model are checked before returning."""
        rows = [r.tolist() if hasattr(r, "tolist") else r for r in instances]
        if self.labels is None:
            self.model_info()
        request_id = secrets.token_hex(16)
        body = self._call("POST", "/v1/predict", {"instances": rows}, request_id)
        return self._prediction(body, len(rows), request_id)

    def _prediction(self, body: Any, n: int, request_id: str) -> Prediction:
        if not isinstance(body, dict) or not isinstance(body.get("predictions"), list):
            raise ResponseVerificationError("the answer has no predictions list")
        model = body.get("model")
        if not isinstance(model, dict) or model.get("digest") != self.approved_digest:
            raise ResponseVerificationError("the answer names another model digest")
        predictions = body["predictions"]
        if len(predictions) != n:
            raise ResponseVerificationError(f"{len(predictions)} predictions for {n} instances")
        known = self.labels or []
        for label in predictions:
            if label is not None and label not in known:
                raise ResponseVerificationError(f"label {label!r} is not one of the model's labels")
        probabilities = body.get("probabilities")
        if probabilities is not None:
            _check_probabilities(probabilities, n, len(known))
        return Prediction(predictions, probabilities, body.get("top_k"), model, request_id)

    def _call(self, method: str, path: str, payload: Any, request_id: str | None = None) -> Any:
        import httpx

        request_id = request_id or secrets.token_hex(16)
        headers = {"Authorization": f"Bearer {self._api_key}", "mlwarden-request-id": request_id}
        try:
            response = self._http.request(method, path, json=payload, headers=headers)
        except httpx.HTTPError as exc:
            raise MlwardenError(f"{method} {path} failed: {type(exc).__name__}") from None
        self._verify(response, request_id)
        try:
            data = response.json()
        except ValueError:
            raise ResponseVerificationError("the signed answer is not JSON") from None
        if response.status_code >= 400:
            error = data.get("error", {}) if isinstance(data, dict) else {}
            raise GatewayError(
                response.status_code,
                str(error.get("code", "error")),
                str(error.get("message", "")),
                response.headers.get("retry-after"),
            )
        return data

    def _verify(self, response: Any, request_id: str) -> None:
        from http_message_signatures import HTTPMessageSignaturesException

        message = _Signed(response.status_code, response.headers)
        try:
            results = self._verifier.verify(
                message,
                max_age=self.max_age,
                expect_tag=_TAG,
                require_components=_COVERED,
                body=response.content,
            )
        except HTTPMessageSignaturesException as exc:
            raise ResponseVerificationError(f"bad response signature: {exc}") from None
        if results[0].parameters.get("alg") != self._alg:
            raise ResponseVerificationError("the signature does not name the pinned algorithm")
        covered = results[0].covered_components
        if covered.get('"mlwarden-model-digest"') != self.approved_digest:
            raise ResponseVerificationError("the answer comes from an unapproved model digest")
        if covered.get('"mlwarden-request-id"') != request_id:
            raise ResponseVerificationError("the answer was signed for another request (replay)")


def _tls(verify: bool | str | ssl.SSLContext, cert: str | tuple[str, str] | None) -> Any:
    """httpx's ``verify``: an SSL context for a CA bundle path and/or a client certificate."""
    if isinstance(verify, ssl.SSLContext) or (cert is None and isinstance(verify, bool)):
        return verify
    if verify is False:
        raise ResponseVerificationError("a client certificate needs TLS verification on")
    context = ssl.create_default_context(cafile=verify if isinstance(verify, str) else None)
    if cert is not None:
        certfile, keyfile = (cert, None) if isinstance(cert, str) else cert
        context.load_cert_chain(certfile, keyfile)
    return context


def _check_probabilities(rows: Any, n: int, k: int) -> None:
    ok = isinstance(rows, list) and len(rows) == n
    for row in rows if ok else ():
        ok = ok and isinstance(row, list) and (not k or len(row) == k)
        ok = ok and all(
            isinstance(p, (int, float)) and math.isfinite(p) and 0 <= p <= 1 for p in row
        )
    if not ok:
        raise ResponseVerificationError("the probabilities do not fit the model's classes")
